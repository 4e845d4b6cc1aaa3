//! The source model: what every image store offers, whatever its format.
//!
//! A [`Source`] is a [`Catalog`] (the files, and where their bytes are) read by one format
//! adapter, which owns how that format names things: its named roots (the entries of an
//! `index.json`, of a docker `manifest.json`, a `dir:` layout's `manifest.json`), and the
//! member a descriptor's blob is stored as. The graph walk ([`crate::walk()`]) and the
//! verification ([`crate::verify`]) work on any `Source`; a new store (ocisize's own, a
//! runtime's) plugs in by implementing this trait.

use ocisize_digest::Digest;
use ocisize_reference::Reference;
use ocisize_spec::Descriptor;

use crate::{Catalog, Format, Limits, Problem, Selection};

/// One named entry point of a source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Root {
    /// What the root points at.
    pub target: RootTarget,
    /// Full names (normalized, with a tag) the source gives it.
    pub names: Vec<Reference>,
    /// Bare tags (`latest`) from `org.opencontainers.image.ref.name`, which name no
    /// repository.
    pub tags: Vec<String>,
    /// Where the root came from, for messages: `index.json manifests[0]`,
    /// `manifest.json entry 1`.
    pub origin: String,
    /// Runtimes that refuse to load this root from this source, and why.
    pub refused_by: Vec<Refusal>,
}

/// A container runtime whose import rules ocisize models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Runtime {
    /// dockerd (`docker load`).
    Docker,
    /// podman and everything on containers/image (`podman load`, `podman pull`, skopeo).
    Podman,
    /// containerd (`ctr images import`).
    Containerd,
}

/// A runtime refuses to load an image from this source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Which runtime.
    pub runtime: Runtime,
    /// What it says, roughly, and why.
    pub reason: String,
    /// Whether an error already says so (no warning is added).
    pub announced: bool,
}

/// What a root points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RootTarget {
    /// A descriptor of an index or manifest, whose document the walk reads.
    Descriptor(Descriptor),
    /// A document whose digest is that of its own bytes (a `dir:` layout's
    /// `manifest.json`).
    Document {
        /// The member holding it.
        member: String,
    },
    /// An image without a manifest (a legacy docker-archive entry): its config and layers.
    Legacy {
        /// The config.
        config: BlobRef,
        /// The layers, base first.
        layers: Vec<BlobRef>,
    },
}

/// Where a blob is expected, and what its referrer says about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobRef {
    /// The member that should hold it.
    pub member: String,
    /// The descriptor that references it (none in a legacy docker-archive).
    pub descriptor: Option<Descriptor>,
    /// The digest the member's name promises (docker-archive `<hex>.json`, `sha256:<hex>`,
    /// `blobs/sha256/<hex>`).
    pub named_digest: Option<Digest>,
}

impl BlobRef {
    /// The digest the blob should have: the descriptor's, else the name's.
    pub fn expected_digest(&self) -> Option<Digest> {
        self.descriptor.as_ref().map(|d| d.digest).or(self.named_digest)
    }
}

/// A blob's role, which decides how some formats name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// An index or manifest listed by an index at `depth` (0: by a root).
    Manifest {
        /// How deep in the tree.
        depth: u32,
    },
    /// A config blob.
    Config,
    /// A layer blob.
    Layer,
    /// The subject an artifact refers to.
    Subject,
}

/// The roots of a source, and what reading them found.
#[derive(Clone, Debug, Default)]
pub struct Roots {
    /// The roots, in the source's order.
    pub roots: Vec<Root>,
    /// Names to attach to every image whose config has this digest (a docker ≥ 25 or
    /// `ctr export` archive keeps its names in `manifest.json`, by config).
    pub names_by_config: Vec<(Digest, Vec<Reference>)>,
    /// Problems found reading the root documents.
    pub problems: Vec<Problem>,
}

/// An image store of any kind, read-only: the files and what they mean.
pub trait Source: Send + Sync {
    /// The files, and their bytes.
    fn catalog(&self) -> &Catalog;

    /// The format.
    fn format(&self) -> Format;

    /// The named roots, read with `limits`.
    fn roots(&self, limits: &Limits) -> Roots;

    /// The member that holds the blob `descriptor` names, in the role it has.
    fn member_for(&self, descriptor: &Descriptor, role: Role) -> String;

    /// Whether an index may list another index (a `dir:` layout's list may not).
    fn nested_indexes(&self) -> bool {
        true
    }

    /// Which images of the source were asked for (`oci:DIR:REF`, `docker-archive:F:@1`).
    fn selection(&self) -> Option<&Selection> {
        None
    }
}

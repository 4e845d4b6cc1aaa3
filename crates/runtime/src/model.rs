//! What reading a runtime store gives: the store, its images, and each runtime's figures.

use std::fmt;
use std::path::PathBuf;

use ocisize_digest::Digest;
use ocisize_reference::Reference;

/// Which runtime wrote a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Kind {
    /// A docker data-root with a graphdriver image store (`/var/lib/docker`).
    Docker,
    /// A containerd root (`/var/lib/containerd`), one store per namespace.
    Containerd,
    /// A containers/storage root written by podman, buildah, CRI-O
    /// (`/var/lib/containers/storage`).
    ContainersStorage,
}

impl Kind {
    /// The prefix a store argument uses: `docker-root`, `containerd-root`,
    /// `containers-storage`.
    pub fn prefix(self) -> &'static str {
        match self {
            Kind::Docker => "docker-root",
            Kind::Containerd => "containerd-root",
            Kind::ContainersStorage => "containers-storage",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// One image store: a docker graphdriver store, one containerd namespace, or one
/// containers/storage driver's store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RuntimeStore {
    /// The runtime whose rules the figures follow.
    pub kind: Kind,
    /// The root that was read (for docker's containerd image store, `DIR/containerd/daemon`).
    pub path: PathBuf,
    /// The storage driver or snapshotter: `overlay2`, `vfs`, `overlay`, `overlayfs`.
    pub driver: String,
    /// The containerd namespace (`default`, `k8s.io`, `moby`); `None` for the others.
    pub namespace: Option<String>,
    /// The store's total as its runtime prints it: docker's `docker system df` Images SIZE,
    /// podman's `podman system df` Images SIZE, for containerd the distinct blobs and
    /// snapshots the namespace's images reference.
    pub size: u64,
    /// Bytes on disk of the store's image data (`st_blocks × 512`, each inode once,
    /// directories included, as `du -B1`); `None` when not measured.
    pub disk_usage: Option<u64>,
    /// The files and trees `disk_usage` measured, so that several stores can be measured
    /// together with each inode once ([`crate::du::DiskUsage`]); empty when not measured.
    #[serde(skip)]
    pub disk_usage_paths: Vec<PathBuf>,
    /// What one refcount covers: the [`RuntimeImage::units`] of the images of every store
    /// with this domain are one set, freed when no image of any of them holds a unit. A
    /// docker graphdriver store's `DIR/image/<driver>` (its layer store); a containerd root
    /// (one content store and one snapshotter for every namespace); a containers/storage
    /// driver's `DIR/<driver>-layers`. [`RuntimeStore::new`] makes it the path.
    #[serde(skip)]
    pub domain: PathBuf,
    /// The images, as the runtime lists them.
    pub images: Vec<RuntimeImage>,
    /// For containers-storage: the podman rule the figures follow, and why it was chosen.
    pub podman_rule: Option<RuleChoice>,
    /// What was found wrong or incomplete; a figure a problem touches says so here.
    pub problems: Vec<Problem>,
}

impl RuntimeStore {
    /// An empty store of `kind` at `path` (for building one by hand: fill the fields).
    pub fn new(kind: Kind, path: PathBuf, driver: &str, namespace: Option<&str>) -> RuntimeStore {
        RuntimeStore {
            kind,
            domain: path.clone(),
            path,
            driver: driver.to_owned(),
            namespace: namespace.map(str::to_owned),
            size: 0,
            disk_usage: None,
            disk_usage_paths: Vec::new(),
            images: Vec::new(),
            podman_rule: None,
            problems: Vec::new(),
        }
    }
}

impl RuntimeImage {
    /// An image with ID `image_id` and every figure 0 (for building one by hand).
    pub fn new(image_id: Digest) -> RuntimeImage {
        RuntimeImage {
            names: Vec::new(),
            image_id,
            size: 0,
            unpacked_size: None,
            shared_size: 0,
            unique_size: 0,
            frees: 0,
            chain_ids: Vec::new(),
            units: Vec::new(),
        }
    }
}

/// One image of a store, with its runtime's figures (all in bytes).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RuntimeImage {
    /// Its names, normalized (`docker.io/library/x:latest`); empty for an untagged image.
    pub names: Vec<Reference>,
    /// The image ID: the config's digest.
    pub image_id: Digest,
    /// The runtime's SIZE: docker's Size, podman's Size, containerd's `images.Size`.
    pub size: u64,
    /// containerd: the committed snapshots of the image's layers (`ctr snapshots usage`);
    /// `None` for the other runtimes and for an image that is not (fully) unpacked.
    pub unpacked_size: Option<u64>,
    /// The runtime's SHARED SIZE.
    pub shared_size: u64,
    /// The runtime's UNIQUE SIZE.
    pub unique_size: u64,
    /// What removing this image alone would free, in the runtime's own units.
    pub frees: u64,
    /// The chain IDs of its layers, base first (the same in every store that holds the
    /// image, whatever the layers' compression).
    pub chain_ids: Vec<Digest>,
    /// What the image holds in its store's [`RuntimeStore::domain`], each unit once, with
    /// its size: the runtime removes a unit when no image that holds it is left. `frees`
    /// is the sum of those no other image of the domain holds.
    #[serde(skip)]
    pub units: Vec<(Unit, u64)>,
}

/// A piece of a store that images hold and their runtime removes with the last of them
/// (see [`RuntimeImage::units`]).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Unit {
    /// A docker layer, by chain ID (`layerdb/sha256/<chainID>`; its `size`).
    Layer(Digest),
    /// A containers/storage layer, by layer ID (`layers.json`; its `diff-size`).
    StorageLayer(String),
    /// A content blob, by digest: containerd's content store, an OCI layout's `blobs/`.
    Blob(Digest),
    /// A containerd snapshot, by the snapshotter's id (its usage recorded at commit).
    Snapshot(u64),
    /// What an image keeps of its own, by image ID: containers/storage's big data
    /// (manifest, config, signatures).
    ImageData(Digest),
}

/// Which rule podman used for SHARED and UNIQUE SIZE.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodmanRule {
    /// podman 4 (containers/common < 0.58, `libimage/disk_usage.go`): by parent and child
    /// images; the store total sums the per-tag rows.
    V4,
    /// podman ≥ 5 (containers/common ≥ 0.58): by layers more than one image uses; the store
    /// total counts every layer once, and each image's big data.
    V5,
}

/// The podman rule a containers-storage store is read with, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct RuleChoice {
    /// The rule.
    pub rule: PodmanRule,
    /// Why.
    pub evidence: RuleEvidence,
}

/// What chose the podman rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum RuleEvidence {
    /// The caller's override.
    Override,
    /// A libpod SQLite database (`db.sql`), the default of podman 5 (4.8 and 4.9 had it as
    /// an option): podman ≥ 5.
    SqliteDb,
    /// A libpod BoltDB database (`libpod/bolt_state.db`) and no SQLite one: podman < 5
    /// (podman 5 keeps using an existing BoltDB; override for such a store).
    BoltDb,
    /// No libpod database (a buildah or CRI-O store): the current podman's rule.
    NoDatabase,
}

/// Something wrong or incomplete in a store, and the figures it touches.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Problem {
    /// An image the runtime would not list either (docker skips an image whose config does
    /// not verify or whose layers are gone): it is left out.
    ImageSkipped {
        /// The image ID.
        image_id: Digest,
        /// Why.
        reason: String,
    },
    /// A blob the size walk needs is missing or unreadable: a manifest or index, and the
    /// image's size is the sum up to it, as `ctr images ls` prints it; or the config, and
    /// the image's chain IDs and unpacked size are unknown.
    BlobUnreadable {
        /// The image ID (the target's digest when the config was not reached).
        image_id: Digest,
        /// The blob.
        digest: Digest,
        /// Why.
        reason: String,
    },
    /// Some but not all of an image's layers have a committed snapshot: `unpacked_size` is
    /// `None`.
    PartlyUnpacked {
        /// The image ID.
        image_id: Digest,
        /// How many of its chain IDs have no committed snapshot.
        missing: usize,
    },
    /// A layer an image's chain names is not in the layer store (podman warns "storage is
    /// corrupt"): the image's figures leave it out.
    LayerMissing {
        /// The image ID.
        image_id: Digest,
        /// The layer ID.
        layer: String,
    },
    /// A layer whose size the store does not record (podman computes it from the layer's
    /// files): it is counted as 0 in the figures named.
    LayerSizeUnknown {
        /// The layer ID.
        layer: String,
    },
}

//! `ocisize du`: the image stores of a node together — runtime roots (docker, containerd
//! per namespace, containers-storage) and image files (archives, OCI layouts, ocisize
//! stores) — the images held more than once, and what removing the extra copies frees.
//!
//! An image is the same image in two stores when its image ID (the config's digest) is the
//! same: that holds whatever the layers' compression, unlike manifest digests. Each copy
//! carries what removing it frees where it is ([`ocisize_runtime::RuntimeImage::frees`],
//! for a file source the archive's bytes or the layout blobs no other image of it uses);
//! the copy kept is the one [`Keep`] names, otherwise the one whose removal frees the most.
//! [`DuDuplicate::reclaimable`] is Σ frees of the others (the issue's figure: each copy
//! removed alone), and [`DuReport::reclaimable`] Σ of those. What removing them *together*
//! frees can be more — two removed copies that share a layer each leave it to the other —
//! and is [`DuDuplicate::reclaimable_together`] and [`DuReport::reclaimable_together`]: each
//! image's [`ocisize_runtime::RuntimeImage::units`] (layers, blobs, snapshots) counted once,
//! when every image of the store's refcount domain that holds one is among those removed. The
//! total disk usage counts every inode once over all the stores (blobs two containerd
//! namespaces share count once).
//!
//! ```
//! use ocisize::du::{from_stores, DuStore};
//! use ocisize_runtime::{Kind, RuntimeImage, RuntimeStore};
//!
//! let id: ocisize::Digest = format!("sha256:{}", "a".repeat(64)).parse()?;
//! let mut stores = Vec::new();
//! for (ns, frees) in [("default", 100), ("k8s.io", 300)] {
//!     let mut s = RuntimeStore::new(Kind::Containerd, "/c".into(), "overlayfs", Some(ns));
//!     let mut i = RuntimeImage::new(id.clone());
//!     i.frees = frees;
//!     s.images.push(i);
//!     stores.push(DuStore::from(s));
//! }
//! let report = from_stores(stores, None)?;
//! assert_eq!(report.duplicates.len(), 1);
//! assert_eq!(report.reclaimable, 100); // k8s.io's copy frees the most: it is kept
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod files;
mod freed;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ocisize_digest::Digest;
use ocisize_runtime::du::DiskUsage;
pub use ocisize_runtime::{Kind, PodmanRule, RuntimeImage, RuntimeStore, Unit};

use crate::{InspectError, Options, SourceArg};

/// One source of `ocisize du`.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum DuSource {
    /// A runtime root: `docker-root:DIR`, `containerd-root:DIR`, `containers-storage:DIR`.
    Runtime(Kind, PathBuf),
    /// Anything [`crate::inspect`] reads.
    Image(SourceArg),
}

impl std::str::FromStr for DuSource {
    type Err = ocisize_source::ArgError;

    fn from_str(s: &str) -> Result<DuSource, Self::Err> {
        for kind in [Kind::Docker, Kind::Containerd, Kind::ContainersStorage] {
            if let Some(dir) = s.strip_prefix(kind.prefix()).and_then(|r| r.strip_prefix(':')) {
                return Ok(DuSource::Runtime(kind, PathBuf::from(dir)));
            }
        }
        s.parse().map(DuSource::Image)
    }
}

/// Which copy of a duplicated image to keep.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Keep {
    /// The copy in a docker store.
    Docker,
    /// The copy in a containerd namespace.
    Containerd,
    /// The copy in a containers-storage store.
    Podman,
    /// The copy in the store at this path.
    Path(PathBuf),
}

impl std::str::FromStr for Keep {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Keep, Self::Err> {
        Ok(match s {
            "docker" => Keep::Docker,
            "containerd" => Keep::Containerd,
            "podman" => Keep::Podman,
            p => Keep::Path(PathBuf::from(p)),
        })
    }
}

/// Options for [`du()`].
#[derive(Clone, Debug, Default)]
#[non_exhaustive]
pub struct DuOptions {
    /// The copy to keep; `None`: the one whose removal frees the most.
    pub keep: Option<Keep>,
    /// The podman rule for containers-storage figures (`None`: from the store).
    pub podman_rule: Option<PodmanRule>,
    /// How file sources are inspected.
    pub inspect: Options,
}

/// What a store is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StoreKind {
    /// A docker data-root's graphdriver store.
    Docker,
    /// One containerd namespace.
    Containerd,
    /// A containers-storage driver's store.
    ContainersStorage,
    /// An ocisize store (an OCI layout with an `ingest/` directory).
    OcisizeStore,
    /// An image archive (a file).
    Archive,
    /// An OCI layout (or another image directory).
    OciLayout,
}

/// One store, with its images.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DuStore {
    /// Where it is.
    pub path: PathBuf,
    /// What it is.
    pub kind: StoreKind,
    /// The storage driver or snapshotter; for a file source the format's name.
    pub driver: String,
    /// The containerd namespace.
    pub namespace: Option<String>,
    /// The store's total as its runtime prints it; file bytes of an archive; the distinct
    /// blobs of a layout.
    pub size: u64,
    /// Bytes on disk (`st_blocks × 512`, each inode once).
    pub disk_usage: Option<u64>,
    /// The images.
    pub images: Vec<DuImage>,
    /// The trees and files `disk_usage` covers.
    #[serde(skip)]
    pub disk_usage_paths: Vec<PathBuf>,
    /// What one refcount covers ([`RuntimeStore::domain`]; a layout's or archive's path):
    /// the units of the images of every store with this domain are one set.
    #[serde(skip)]
    pub domain: PathBuf,
}

/// One image of a store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DuImage {
    /// Its names, normalized.
    pub names: Vec<String>,
    /// The image ID.
    pub image_id: Digest,
    /// The runtime's SIZE (containerd's figure for a file source).
    pub size: u64,
    /// containerd's unpacked snapshots.
    pub unpacked_size: Option<u64>,
    /// SHARED SIZE.
    pub shared_size: u64,
    /// UNIQUE SIZE.
    pub unique_size: u64,
    /// What removing it from this store frees.
    pub frees: u64,
    /// Its layers' chain IDs.
    pub chain_ids: Vec<Digest>,
    /// What it holds in its store's domain, each unit once, with sizes
    /// ([`RuntimeImage::units`]; a layout's blobs; none for an archive, whose copy is the
    /// file). An image with none (a store built by hand) is taken to hold `frees` bytes
    /// that no other image holds.
    #[serde(skip)]
    pub units: Vec<(Unit, u64)>,
}

impl From<RuntimeStore> for DuStore {
    fn from(s: RuntimeStore) -> DuStore {
        DuStore {
            kind: match s.kind {
                Kind::Docker => StoreKind::Docker,
                Kind::Containerd => StoreKind::Containerd,
                _ => StoreKind::ContainersStorage,
            },
            path: s.path,
            driver: s.driver,
            namespace: s.namespace,
            size: s.size,
            disk_usage: s.disk_usage,
            disk_usage_paths: s.disk_usage_paths,
            domain: s.domain,
            images: s
                .images
                .into_iter()
                .map(|i| DuImage {
                    names: i.names.iter().map(ToString::to_string).collect(),
                    image_id: i.image_id,
                    size: i.size,
                    unpacked_size: i.unpacked_size,
                    shared_size: i.shared_size,
                    unique_size: i.unique_size,
                    frees: i.frees,
                    chain_ids: i.chain_ids,
                    units: i.units,
                })
                .collect(),
        }
    }
}

/// A store named by path and namespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct StoreRef {
    /// The store's path.
    pub path: PathBuf,
    /// Its namespace.
    pub namespace: Option<String>,
}

/// One copy of a duplicated image.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DuCopy {
    /// The store's path.
    pub path: PathBuf,
    /// The store's namespace.
    pub namespace: Option<String>,
    /// The store's kind.
    pub kind: StoreKind,
    /// What removing this copy frees.
    pub frees: u64,
    /// Whether this is the copy kept.
    pub kept: bool,
}

/// An image held in more than one store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DuDuplicate {
    /// The image ID.
    pub image_id: Digest,
    /// Every name any copy has, normalized, sorted.
    pub names: Vec<String>,
    /// The copies, in the order of the stores.
    pub copies: Vec<DuCopy>,
    /// Σ frees of the copies not kept: each removed alone.
    pub reclaimable: u64,
    /// What removing every copy but the kept one frees, together: each unit once, and one
    /// two of them share (two namespaces of one containerd root) too. At least
    /// `reclaimable`.
    pub reclaimable_together: u64,
}

/// A layer (by chain ID) stored in more than one store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct SharedLayer {
    /// The chain ID.
    pub chain_id: Digest,
    /// The stores holding it.
    pub stores: Vec<StoreRef>,
}

/// What [`du()`] reports.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DuReport {
    /// The stores, in the order of the sources.
    pub stores: Vec<DuStore>,
    /// The images held more than once, by image ID.
    pub duplicates: Vec<DuDuplicate>,
    /// Layers stored more than once.
    pub shared_layers: Vec<SharedLayer>,
    /// Bytes on disk of all the stores together, each inode once.
    pub disk_usage: u64,
    /// Σ reclaimable of the duplicates, an archive's file counted once.
    pub reclaimable: u64,
    /// What removing every copy not kept of every duplicate frees, together: at least
    /// each duplicate's `reclaimable_together`, and a layer two duplicates' removed copies
    /// share counts (once); an archive's file counts once.
    pub reclaimable_together: u64,
}

impl DuReport {
    /// What removing the copies `copies` (each a store and an image ID in it) together
    /// frees, by the rule of [`DuReport::reclaimable_together`]. A copy that is not in the report
    /// frees nothing.
    pub fn freed<'a>(&self, copies: impl IntoIterator<Item = (&'a StoreRef, &'a Digest)>) -> u64 {
        let holders = freed::Holders::new(&self.stores);
        let at = copies.into_iter().filter_map(|(r, id)| {
            let s =
                self.stores.iter().position(|s| s.path == r.path && s.namespace == r.namespace)?;
            Some((s, self.stores[s].images.iter().position(|i| i.image_id == *id)?))
        });
        holders.freed(at)
    }
}

/// A source `du` could not read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DuError {
    /// A runtime root could not be read.
    #[error("{source}")]
    Runtime {
        /// The root.
        path: PathBuf,
        /// Why.
        #[source]
        source: ocisize_runtime::Error,
    },
    /// A file source could not be inspected.
    #[error("{source}")]
    Inspect {
        /// The source as given.
        path: String,
        /// Why.
        #[source]
        source: InspectError,
    },
    /// Measuring bytes on disk failed.
    #[error("measuring {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Read every source and aggregate them. No source: every well-known root on this host
/// (one that exists but holds no store, as an empty `/var/lib/docker` a package created,
/// is left out; a source given is never left out).
pub fn du(sources: &[DuSource], options: &DuOptions) -> Result<DuReport, DuError> {
    let defaults: Vec<DuSource>;
    let (sources, skip_empty) = if sources.is_empty() {
        defaults = ocisize_runtime::well_known_roots()
            .into_iter()
            .map(|(k, p)| DuSource::Runtime(k, p))
            .collect();
        (&defaults[..], true)
    } else {
        (sources, false)
    };
    let mut ro = ocisize_runtime::Options::default();
    ro.podman_rule = options.podman_rule;
    let mut stores = Vec::new();
    for s in sources {
        match s {
            DuSource::Runtime(kind, path) => match ocisize_runtime::open(*kind, path, &ro) {
                Ok(found) => stores.extend(found.into_iter().map(DuStore::from)),
                Err(ocisize_runtime::Error::NotAStore { .. }) if skip_empty => {}
                Err(source) => return Err(DuError::Runtime { path: path.clone(), source }),
            },
            DuSource::Image(arg) => stores.push(files::store(arg, &options.inspect)?),
        }
    }
    from_stores(stores, options.keep.as_ref())
}

/// Aggregate stores read already: duplicates, shared layers, the totals. The total disk
/// usage measures every store's `disk_usage_paths` together.
pub fn from_stores(stores: Vec<DuStore>, keep: Option<&Keep>) -> Result<DuReport, DuError> {
    let mut usage = DiskUsage::new();
    for p in stores.iter().flat_map(|s| &s.disk_usage_paths) {
        usage.add(p).map_err(|source| DuError::Io { path: p.clone(), source })?;
    }
    let holders = freed::Holders::new(&stores);
    let (duplicates, removed) = duplicates(&stores, keep, &holders);
    let reclaimable_together = holders.freed(removed);
    // An archive's file is removed once however many of its images are duplicates.
    let mut files = BTreeSet::new();
    let reclaimable = duplicates
        .iter()
        .flat_map(|d| &d.copies)
        .filter(|c| !c.kept && (c.kind != StoreKind::Archive || files.insert(c.path.clone())))
        .map(|c| c.frees)
        .fold(0u64, u64::saturating_add);
    Ok(DuReport {
        shared_layers: shared_layers(&stores),
        duplicates,
        disk_usage: usage.bytes(),
        reclaimable,
        reclaimable_together,
        stores,
    })
}

fn keeps(keep: &Keep, kind: StoreKind, path: &Path) -> bool {
    match keep {
        Keep::Docker => kind == StoreKind::Docker,
        Keep::Containerd => kind == StoreKind::Containerd,
        Keep::Podman => kind == StoreKind::ContainersStorage,
        Keep::Path(p) => p == path,
    }
}

/// The duplicates, and every copy not kept (store and image index) over all of them.
fn duplicates(
    stores: &[DuStore],
    keep: Option<&Keep>,
    holders: &freed::Holders<'_>,
) -> (Vec<DuDuplicate>, Vec<freed::At>) {
    type Copies = (BTreeSet<String>, Vec<(DuCopy, freed::At)>);
    let mut by_id: BTreeMap<&Digest, Copies> = BTreeMap::new();
    for (n, s) in stores.iter().enumerate() {
        for (m, i) in s.images.iter().enumerate() {
            let e = by_id.entry(&i.image_id).or_default();
            e.0.extend(i.names.iter().cloned());
            // One copy per store: a layout may list one config under two manifests, and a
            // store read twice is one store.
            let here = |(c, _): &(DuCopy, _)| c.path == s.path && c.namespace == s.namespace;
            if e.1.iter().any(here) {
                continue;
            }
            let copy = DuCopy {
                path: s.path.clone(),
                namespace: s.namespace.clone(),
                kind: s.kind,
                frees: i.frees,
                kept: false,
            };
            e.1.push((copy, (n, m)));
        }
    }
    let mut out = Vec::new();
    let mut removed = Vec::new();
    for (id, (names, found)) in by_id {
        if found.len() < 2 {
            continue;
        }
        let (mut copies, at): (Vec<DuCopy>, Vec<freed::At>) = found.into_iter().unzip();
        // The copy --keep names (the first that matches); otherwise, or when none matches,
        // the one whose removal frees the most (the first of equals).
        let named = keep.and_then(|k| copies.iter().position(|c| keeps(k, c.kind, &c.path)));
        let kept = named.unwrap_or_else(|| {
            let mut best = 0;
            for (n, c) in copies.iter().enumerate() {
                if c.frees > copies[best].frees {
                    best = n;
                }
            }
            best
        });
        copies[kept].kept = true;
        let others: Vec<freed::At> =
            at.iter().enumerate().filter(|(n, _)| *n != kept).map(|(_, a)| *a).collect();
        let reclaimable_together = holders.freed(others.iter().copied());
        let reclaimable =
            copies.iter().filter(|c| !c.kept).map(|c| c.frees).fold(0u64, u64::saturating_add);
        removed.extend(others);
        out.push(DuDuplicate {
            image_id: *id,
            names: names.into_iter().collect(),
            copies,
            reclaimable,
            reclaimable_together,
        });
    }
    (out, removed)
}

fn shared_layers(stores: &[DuStore]) -> Vec<SharedLayer> {
    let mut by_chain: BTreeMap<&Digest, BTreeSet<StoreRef>> = BTreeMap::new();
    for s in stores {
        let r = StoreRef { path: s.path.clone(), namespace: s.namespace.clone() };
        for c in s.images.iter().flat_map(|i| &i.chain_ids) {
            by_chain.entry(c).or_default().insert(r.clone());
        }
    }
    by_chain
        .into_iter()
        .filter(|(_, s)| s.len() > 1)
        .map(|(c, s)| SharedLayer { chain_id: *c, stores: s.into_iter().collect() })
        .collect()
}

#[cfg(test)]
mod tests;

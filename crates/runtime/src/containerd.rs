//! A containerd root: one store per namespace, with `ctr`'s figures.
//!
//! Read from `io.containerd.metadata.v1.bolt/meta.db` (names, targets, snapshot keys; one
//! consistent read), the snapshotter's `io.containerd.snapshotter.v1.<s>/metadata.db`
//! (snapshot ids and the usage recorded at commit) and the content store
//! `io.containerd.content.v1.content/blobs/<alg>/<hex>` (the manifests and configs the size
//! walk reads). The two databases are separate: a snapshot one names and the other does not
//! yet (or no longer) know is "not unpacked", never a wrong figure.
//!
//! - `size` is containerd 1.6's `images.Size` (`images/image.go`): the declared sizes of the
//!   target, of the one manifest of an index the default platform picks
//!   (`LimitManifests(FilterPlatforms(ChildrenHandler, platform), platform, 1)`), and of the
//!   config and layers, counted as walked — `ctr images ls` and the CRI's figure;
//! - `unpacked_size` sums the usage of the committed snapshots of the image's chain IDs
//!   (`ctr snapshots usage -b`: continuity's `DiskUsage` when committed);
//! - shared and unique count blobs and snapshots: one used by more than one image of the
//!   namespace is shared, so shared + unique = size + unpacked size;
//! - an image is every record that points at one image ID (the config's digest); the CRI's
//!   `sha256:<id>` records are not names. When its records have different targets (an index
//!   and one of its manifests), its figures are the first record's, as the CRI keeps the
//!   first record's size, and the blobs of all count for the namespace total, `frees` and
//!   the bytes on disk;
//! - `frees`: the image's blobs no image of any namespace of the root uses (the content
//!   store's files serve every namespace) and its snapshots no other image of the namespace
//!   uses; the image's units are those blobs and snapshots (by the snapshotter's id, unique
//!   in the root), its domain the root.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use ocisize_containerd::{Kind as SnapshotKind, MetaDb, Namespace, Snapshot, SnapshotDb};
use ocisize_digest::{chain_ids, Digest};
use ocisize_reference::Reference;
use ocisize_spec::{Descriptor, ImageConfig};
use serde::Deserialize;

use crate::du::DiskUsage;
use crate::json::read_bounded;
use crate::platform::{self, Norm};
use crate::{Error, Kind, Options, Problem, RuntimeImage, RuntimeStore, Unit};

/// The metadata database, relative to the root.
pub(crate) const META_DB: &str = "io.containerd.metadata.v1.bolt/meta.db";
const CONTENT: &str = "io.containerd.content.v1.content/blobs";

const MANIFEST_TYPES: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
];
const INDEX_TYPES: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.index.v1+json",
];

#[derive(Deserialize)]
struct Index {
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
}

#[derive(Deserialize)]
struct Manifest {
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Option<Vec<Descriptor>>,
}

/// Where the size walk reads, and how.
struct Ctx<'a> {
    content: &'a Path,
    host: &'a [Norm],
    options: &'a Options,
}

/// Deepest nesting of indexes the walk follows (as the source model's `max_depth`).
const MAX_DEPTH: u32 = 8;

/// What the size walk of one target found.
#[derive(Clone, Debug, Default)]
struct Walk {
    /// `images.Size`: every descriptor visited, as declared.
    size: u64,
    /// The blobs visited, each once, with their declared sizes.
    blobs: Vec<(Digest, u64)>,
    config: Option<Digest>,
    chain: Vec<Digest>,
    /// The blob the walk stopped at, and why.
    stopped: Option<(Digest, String)>,
    /// The config, when it could not be read (the chain IDs are then unknown), and why.
    unreadable_config: Option<(Digest, String)>,
}

/// One image of a namespace: every record that points at one image ID. Its figures are
/// the first record's (as the CRI keeps the first record's size); every record's blobs
/// count as the image's for what it shares, frees and holds on disk.
struct Grouped {
    names: Vec<Reference>,
    image_id: Digest,
    /// The first record's walk.
    walk: Walk,
    /// The blobs of every record's walk, each once.
    all_blobs: Vec<(Digest, u64)>,
    /// Committed snapshots found: (chain ID, usage, snapshot id).
    snapshots: Vec<(Digest, u64, u64)>,
    unpacked: Option<u64>,
}

/// Every namespace of the root, or only `only`.
pub(crate) fn open_namespaces(
    root: &Path,
    only: Option<&str>,
    options: &Options,
) -> Result<Vec<RuntimeStore>, Error> {
    let first = read(root, only, options)?;
    // A blob the metadata named but the content store no longer had: an image removed (and
    // collected) between the two reads, most likely. A second read sees it gone, or the
    // problem stands.
    let unreadable =
        |s: &RuntimeStore| s.problems.iter().any(|p| matches!(p, Problem::BlobUnreadable { .. }));
    if first.iter().any(unreadable) {
        return read(root, only, options);
    }
    Ok(first)
}

/// The metadata database of a containerd root, or why the root is not one.
pub(crate) fn meta_db_path(root: &Path) -> Result<std::path::PathBuf, Error> {
    let meta_path = root.join(META_DB);
    if !meta_path.is_file() {
        return Err(Error::NotAStore {
            path: root.to_path_buf(),
            kind: Kind::Containerd,
            reason: format!("no {META_DB}"),
        });
    }
    Ok(meta_path)
}

fn read(root: &Path, only: Option<&str>, options: &Options) -> Result<Vec<RuntimeStore>, Error> {
    let meta_path = meta_db_path(root)?;
    let meta = MetaDb::open(&meta_path)?.read()?;
    let snap_root = root.join(format!("io.containerd.snapshotter.v1.{}", options.snapshotter));
    let snap_db = snap_root.join("metadata.db");
    let snaps: BTreeMap<String, Snapshot> =
        if snap_db.is_file() { SnapshotDb::open(&snap_db)?.by_key()? } else { BTreeMap::new() };
    let host = platform::host_vector();
    let content = root.join(CONTENT);
    let mut walks: HashMap<Digest, Walk> = HashMap::new();
    let mut namespaces: Vec<(String, Vec<Grouped>, Vec<Problem>)> = Vec::new();
    for ns in meta.namespaces.iter().filter(|n| only.is_none_or(|o| n.name == o)) {
        let mut problems = Vec::new();
        let images = group(ns, &content, &host, options, &mut walks, &snaps, &mut problems);
        namespaces.push((ns.name.clone(), images, problems));
    }
    // A blob file serves every namespace: it is freed when no image of any namespace uses it.
    let mut global: HashMap<Digest, u32> = HashMap::new();
    for (_, images, _) in &namespaces {
        for i in images {
            for (d, _) in &i.all_blobs {
                *global.entry(*d).or_default() += 1;
            }
        }
    }
    let mut stores = Vec::new();
    for (name, images, problems) in namespaces {
        let du = if options.disk_usage {
            Some(disk_usage(&content, &snap_root, &images)?)
        } else {
            None
        };
        let du_paths = if options.disk_usage {
            usage_paths(&content, &snap_root, &images)
        } else {
            Vec::new()
        };
        let mut store = figures(root, &name, images, &global, options);
        store.problems = problems;
        store.disk_usage = du;
        store.disk_usage_paths = du_paths;
        stores.push(store);
    }
    Ok(stores)
}

fn group(
    ns: &Namespace,
    content: &Path,
    host: &[Norm],
    options: &Options,
    walks: &mut HashMap<Digest, Walk>,
    snaps: &BTreeMap<String, Snapshot>,
    problems: &mut Vec<Problem>,
) -> Vec<Grouped> {
    let mut out: Vec<Grouped> = Vec::new();
    let mut by_id: HashMap<Digest, usize> = HashMap::new();
    // The namespace's keys (a chain ID for an unpacked layer) to the snapshotter's keys.
    let keys: HashMap<&str, &str> = ns
        .snapshots
        .iter()
        .filter(|s| s.snapshotter == options.snapshotter)
        .map(|s| (s.key.as_str(), s.backend_key.as_str()))
        .collect();
    for record in &ns.images {
        let target = &record.target;
        let walk = match walks.get(&target.digest) {
            Some(w) => w.clone(),
            None => {
                let mut w = Walk::default();
                let ctx = Ctx { content, host, options };
                visit(&ctx, &target.media_type, target.digest, target.size, 0, &mut w);
                walks.insert(target.digest, w.clone());
                w
            }
        };
        let image_id = walk.config.unwrap_or(target.digest);
        // The CRI names every image `sha256:<id>` too: a record, not a name.
        let name = (record.name.parse::<Digest>().is_err())
            .then(|| Reference::parse_normalized(&record.name).ok())
            .flatten()
            .map(Reference::with_default_tag);
        if let Some(g) = by_id.get(&image_id).map(|&i| &mut out[i]) {
            g.names.extend(name);
            for b in &walk.blobs {
                if !g.all_blobs.iter().any(|(d, _)| *d == b.0) {
                    g.all_blobs.push(*b);
                }
            }
            continue;
        }
        for (digest, reason) in walk.stopped.iter().chain(&walk.unreadable_config) {
            problems.push(Problem::BlobUnreadable {
                image_id,
                digest: *digest,
                reason: reason.clone(),
            });
        }
        let layers_unknown = walk.stopped.is_some() || walk.unreadable_config.is_some();
        let (snapshots, unpacked) = if layers_unknown {
            // The layers are not known: neither is the unpacked size.
            (Vec::new(), None)
        } else {
            unpacked(&keys, &walk.chain, snaps)
        };
        if unpacked.is_none() && !snapshots.is_empty() {
            let missing = walk.chain.len() - snapshots.len();
            problems.push(Problem::PartlyUnpacked { image_id, missing });
        }
        let all_blobs = walk.blobs.clone();
        by_id.insert(image_id, out.len());
        out.push(Grouped {
            names: name.into_iter().collect(),
            image_id,
            walk,
            all_blobs,
            snapshots,
            unpacked,
        });
    }
    for g in &mut out {
        g.names.sort();
        g.names.dedup();
    }
    out
}

/// The committed snapshots of `chain` (by the namespace's `keys`), and their usage summed
/// when every layer has one.
#[allow(clippy::type_complexity)]
fn unpacked(
    keys: &HashMap<&str, &str>,
    chain: &[Digest],
    snaps: &BTreeMap<String, Snapshot>,
) -> (Vec<(Digest, u64, u64)>, Option<u64>) {
    let mut found = Vec::new();
    for c in chain {
        let key = c.to_string();
        let snap = keys.get(key.as_str()).and_then(|b| snaps.get(*b));
        if let Some(s) = snap.filter(|s| s.kind == SnapshotKind::Committed) {
            if let Some(u) = s.usage {
                found.push((*c, u.size, s.id));
            }
        }
    }
    let total = (found.len() == chain.len())
        .then(|| found.iter().map(|f| f.1).fold(0u64, u64::saturating_add));
    (found, total)
}

/// `images.Walk` with the size handler first, then `LimitManifests(FilterPlatforms(
/// ChildrenHandler))`: add the descriptor's size, then walk its children; a child that cannot
/// be read stops the walk (the sum so far is what `ctr images ls` prints).
fn visit(ctx: &Ctx<'_>, media_type: &str, digest: Digest, size: u64, depth: u32, w: &mut Walk) {
    if w.stopped.is_some() {
        return;
    }
    w.size = w.size.saturating_add(size);
    if !w.blobs.iter().any(|(d, _)| *d == digest) {
        w.blobs.push((digest, size));
    }
    let is_manifest = MANIFEST_TYPES.contains(&media_type);
    let is_index = INDEX_TYPES.contains(&media_type);
    if !is_manifest && !is_index {
        return;
    }
    if depth > MAX_DEPTH {
        return stop(w, digest, format!("indexes nested deeper than {MAX_DEPTH}"));
    }
    let path = ctx.content.join(digest.algorithm().name()).join(digest.hex());
    let bytes = match read_bounded(&path, ctx.options.limits.manifest) {
        Ok(Some(b)) => b,
        Ok(None) => return stop(w, digest, "not in the content store".into()),
        Err(e) => return stop(w, digest, e.to_string()),
    };
    let mut children: Vec<Descriptor> = if is_index {
        match serde_json::from_slice::<Index>(&bytes) {
            Ok(i) => i.manifests.unwrap_or_default(),
            Err(e) => return stop(w, digest, format!("invalid index: {e}")),
        }
    } else {
        match serde_json::from_slice::<Manifest>(&bytes) {
            Ok(m) => {
                if let Some(c) = &m.config {
                    w.config = Some(c.digest);
                }
                m.config.into_iter().chain(m.layers.unwrap_or_default()).collect()
            }
            Err(e) => return stop(w, digest, format!("invalid manifest: {e}")),
        }
    };
    if is_index {
        // FilterPlatforms keeps entries without a platform; LimitManifests sorts them last
        // (a stable sort) and keeps the first.
        children
            .retain(|d| d.platform.as_ref().is_none_or(|p| platform::rank(ctx.host, p).is_some()));
        children.sort_by_key(|d| {
            d.platform
                .as_ref()
                .map_or(usize::MAX, |p| platform::rank(ctx.host, p).unwrap_or(usize::MAX))
        });
        if children.is_empty() {
            return stop(w, digest, "no manifest for the default platform".into());
        }
        children.truncate(1);
    }
    for c in &children {
        let mt = c.media_type.as_ref().map_or("", |m| m.as_str());
        visit(ctx, mt, c.digest, c.size, depth + 1, w);
    }
    if is_manifest {
        if let Some(config) = w.config.filter(|_| w.chain.is_empty() && w.stopped.is_none()) {
            match read_chain(ctx.content, config, ctx.options) {
                Ok(chain) => w.chain = chain,
                // images.Size does not read the config: the size stands, the layers are
                // unknown.
                Err(reason) => w.unreadable_config = Some((config, reason)),
            }
        }
    }
}

fn stop(w: &mut Walk, digest: Digest, reason: String) {
    w.stopped = Some((digest, reason));
}

/// The chain IDs from the config blob's diffIDs.
fn read_chain(content: &Path, config: Digest, options: &Options) -> Result<Vec<Digest>, String> {
    let path = content.join(config.algorithm().name()).join(config.hex());
    match read_bounded(&path, options.limits.config) {
        Ok(Some(b)) => match serde_json::from_slice::<ImageConfig>(&b) {
            Ok(c) => Ok(chain_ids(&c.rootfs.diff_ids)),
            Err(e) => Err(format!("invalid config: {e}")),
        },
        Ok(None) => Err("the config is not in the content store".into()),
        Err(e) => Err(e.to_string()),
    }
}

fn figures(
    root: &Path,
    namespace: &str,
    images: Vec<Grouped>,
    global: &HashMap<Digest, u32>,
    options: &Options,
) -> RuntimeStore {
    let (mut blob_refs, mut snap_refs): (HashMap<Digest, u32>, HashMap<Digest, u32>) =
        Default::default();
    let (mut blob_size, mut snap_size): (HashMap<Digest, u64>, HashMap<Digest, u64>) =
        Default::default();
    for i in &images {
        for (d, n) in &i.all_blobs {
            *blob_refs.entry(*d).or_default() += 1;
            blob_size.entry(*d).or_insert(*n);
        }
        for (c, n, _) in &i.snapshots {
            *snap_refs.entry(*c).or_default() += 1;
            snap_size.entry(*c).or_insert(*n);
        }
    }
    let sum = |m: &HashMap<Digest, u64>| m.values().fold(0u64, |a, b| a.saturating_add(*b));
    let total = sum(&blob_size).saturating_add(sum(&snap_size));
    let out = images
        .into_iter()
        .map(|i| {
            let mut shared = 0u64;
            let mut frees = 0u64;
            for (d, n) in &i.walk.blobs {
                if blob_refs.get(d).copied().unwrap_or(0) > 1 {
                    shared = shared.saturating_add(*n);
                }
            }
            for (d, n) in &i.all_blobs {
                if global.get(d).copied().unwrap_or(0) <= 1 {
                    frees = frees.saturating_add(*n);
                }
            }
            let mut unpacked_found = 0u64;
            for (c, n, _) in &i.snapshots {
                unpacked_found = unpacked_found.saturating_add(*n);
                if snap_refs.get(c).copied().unwrap_or(0) > 1 {
                    shared = shared.saturating_add(*n);
                } else {
                    frees = frees.saturating_add(*n);
                }
            }
            let unique = i.walk.size.saturating_add(unpacked_found).saturating_sub(shared);
            let blobs = i.all_blobs.iter().map(|(d, n)| (Unit::Blob(*d), *n));
            let snaps = i.snapshots.iter().map(|(_, n, id)| (Unit::Snapshot(*id), *n));
            let units = blobs.chain(snaps).collect();
            RuntimeImage {
                names: i.names,
                image_id: i.image_id,
                size: i.walk.size,
                unpacked_size: i.unpacked,
                shared_size: shared,
                unique_size: unique,
                frees,
                chain_ids: i.walk.chain,
                units,
            }
        })
        .collect();
    RuntimeStore {
        kind: Kind::Containerd,
        path: root.to_path_buf(),
        driver: options.snapshotter.clone(),
        namespace: Some(namespace.to_owned()),
        size: total,
        disk_usage: None,
        disk_usage_paths: Vec::new(),
        domain: root.to_path_buf(),
        images: out,
        podman_rule: None,
        problems: Vec::new(),
    }
}

/// The blob files the namespace's images use and the directories of their snapshots.
fn usage_paths(content: &Path, snap_root: &Path, images: &[Grouped]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for i in images {
        let blobs =
            i.all_blobs.iter().map(|(d, _)| content.join(d.algorithm().name()).join(d.hex()));
        let dirs =
            i.snapshots.iter().map(|(_, _, id)| snap_root.join("snapshots").join(id.to_string()));
        out.extend(blobs.chain(dirs));
    }
    out
}

/// The bytes on disk of [`usage_paths`], each inode once.
fn disk_usage(content: &Path, snap_root: &Path, images: &[Grouped]) -> Result<u64, Error> {
    let mut du = DiskUsage::new();
    for p in usage_paths(content, snap_root, images) {
        du.add(&p).map_err(|e| Error::io(&p, e))?;
    }
    Ok(du.bytes())
}

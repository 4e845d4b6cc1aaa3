//! A docker data-root's graphdriver image store, with `docker system df -v`'s figures.
//!
//! Layout (moby 20.10 `image/fs.go`, `layer/filestore.go`, `reference/store.go`):
//!
//! ```text
//! image/<driver>/repositories.json                     {"Repositories": {repo: {ref: id}}}
//! image/<driver>/imagedb/content/sha256/<hex>          image config; its digest is the ID
//! image/<driver>/imagedb/metadata/sha256/<hex>/parent  the parent image (classic builder)
//! image/<driver>/layerdb/sha256/<chainID>/size         the layer's DiffSize, decimal
//! image/<driver>/layerdb/sha256/<chainID>/{diff,parent,cache-id}
//! <driver>/                                            the layers' files (overlay2/<cache-id>)
//! ```
//!
//! Figures, as moby 20.10 `daemon/images/images.go` (`Images` with `withExtraAttrs`) and
//! `daemon/images/service.go` (`LayerDiskUsage`, `getLayerRefs`) compute them for
//! `/system/df`:
//! - an image without references (no tag, no digest) that has children is an intermediate
//!   build image: not listed, and its layers are not counted;
//! - `Size` is the sum of the layerdb `size` of every layer of the image's chain;
//! - `SharedSize` sums the layers whose chain ID more than one listed image uses;
//! - the store's total (`LayersSize`, `docker system df` Images SIZE) sums every layer a
//!   listed image uses, once.
//!
//! moby ≥ 23 (`Images` with `opts.SharedSize`) counts the references of intermediate images
//! too; this module follows 20.10, the engine it is tested against.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ocisize_digest::{chain_ids, Algorithm, Digest};
use ocisize_reference::Reference;
use ocisize_spec::ImageConfig;
use serde::Deserialize;

use crate::json::{parse, read_bounded, read_json, read_text, twice};
use crate::{du, Error, Kind, Options, Problem, RuntimeImage, RuntimeStore, Unit};

/// The small metadata files (`size`, `parent`): far below this.
const SMALL: u64 = 4096;

#[derive(Deserialize)]
struct Repositories {
    #[serde(rename = "Repositories", default)]
    repositories: HashMap<String, HashMap<String, String>>,
}

/// An image as loaded from the image store.
struct Loaded {
    id: Digest,
    names: Vec<Reference>,
    /// Whether `repositories.json` names it at all (a name this crate cannot parse still
    /// counts for docker).
    referenced: bool,
    parent: Option<Digest>,
    chain: Vec<Digest>,
}

/// Every graphdriver store of the data-root `root` (one per `image/<driver>/`), then docker's
/// containerd image store (`containerd/daemon`, namespace `moby`) when it holds images.
pub(crate) fn open(root: &Path, options: &Options) -> Result<Vec<RuntimeStore>, Error> {
    let image_dir = root.join("image");
    let drivers = match fs::read_dir(&image_dir) {
        Ok(entries) => {
            let mut d = Vec::new();
            for e in entries {
                let e = e.map_err(|e| Error::io(&image_dir, e))?;
                if e.path().join("imagedb").is_dir() {
                    d.push(e.file_name().to_string_lossy().into_owned());
                }
            }
            d.sort();
            d
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io(&image_dir, e)),
    };
    let daemon = root.join("containerd/daemon");
    let has_daemon = daemon.join(crate::containerd::META_DB).is_file();
    if drivers.is_empty() && !has_daemon {
        return Err(Error::NotAStore {
            path: root.to_path_buf(),
            kind: Kind::Docker,
            reason: "no image/<driver>/imagedb and no containerd/daemon".into(),
        });
    }
    let mut stores = Vec::new();
    for driver in &drivers {
        let mut store = twice(|| read_driver(root, driver, options))?;
        if options.disk_usage {
            let meta = if drivers.len() == 1 { image_dir.clone() } else { image_dir.join(driver) };
            let paths = [meta, root.join(driver)];
            let bytes = du::disk_usage(paths.iter().map(PathBuf::as_path))
                .map_err(|e| Error::io(root, e))?;
            store.disk_usage = Some(bytes);
            store.disk_usage_paths = paths.to_vec();
        }
        stores.push(store);
    }
    if has_daemon {
        let moby = crate::containerd::open_namespaces(&daemon, Some("moby"), options)?;
        stores.extend(moby.into_iter().filter(|s| !s.images.is_empty()));
    }
    Ok(stores)
}

fn read_driver(root: &Path, driver: &str, options: &Options) -> Result<RuntimeStore, Error> {
    let base = root.join("image").join(driver);
    let mut problems = Vec::new();
    let (names, referenced) = read_names(&base.join("repositories.json"), options.index_limit)?;
    let content = base.join("imagedb/content/sha256");
    let mut ids = list_hex(&content)?;
    ids.sort();
    let mut sizes: HashMap<Digest, u64> = HashMap::new();
    let mut images: Vec<Loaded> = Vec::new();
    for id in ids {
        let path = content.join(id.hex());
        // Removed since the listing: the image is gone.
        let Some(bytes) = read_bounded(&path, options.limits.config)? else { continue };
        // moby image/fs.go Get: the content must hash to its name, else it is not loaded.
        if Digest::of(Algorithm::Sha256, &bytes) != id {
            let reason = "the config does not hash to its name".to_owned();
            problems.push(Problem::ImageSkipped { image_id: id, reason });
            continue;
        }
        let config: ImageConfig = match parse(&path, &bytes) {
            Ok(c) => c,
            Err(e) => {
                problems.push(Problem::ImageSkipped { image_id: id, reason: e.to_string() });
                continue;
            }
        };
        let chain = chain_ids(&config.rootfs.diff_ids);
        // moby image/store.go restore: an image whose top layer does not load is skipped;
        // a layer loads only with its parents.
        if let Some(missing) = load_sizes(&base, &chain, &mut sizes)? {
            let reason = format!("layer {missing} is not in the layer store");
            problems.push(Problem::ImageSkipped { image_id: id, reason });
            continue;
        }
        let parent_file = base.join("imagedb/metadata/sha256").join(id.hex()).join("parent");
        let parent = match read_text(&parent_file, SMALL)? {
            Some(p) if !p.is_empty() => Some(
                p.parse::<Digest>()
                    .map_err(|_| Error::invalid(&parent_file, "parent", "an image ID", p))?,
            ),
            _ => None,
        };
        let names = names.get(&id).cloned().unwrap_or_default();
        let referenced = referenced.contains(&id);
        images.push(Loaded { id, names, referenced, parent, chain });
    }
    Ok(figures(root, driver, images, &sizes, problems))
}

/// The `size` of every layer of `chain` into `sizes`; the first chain ID without one.
fn load_sizes(
    base: &Path,
    chain: &[Digest],
    sizes: &mut HashMap<Digest, u64>,
) -> Result<Option<Digest>, Error> {
    for c in chain {
        if sizes.contains_key(c) {
            continue;
        }
        let path = base.join("layerdb/sha256").join(c.hex()).join("size");
        match read_text(&path, SMALL)? {
            Some(s) => {
                let n = s.parse::<u64>().map_err(|_| {
                    Error::invalid(&path, "size", "a non-negative decimal integer", s.clone())
                })?;
                sizes.insert(*c, n);
            }
            None => return Ok(Some(*c)),
        }
    }
    Ok(None)
}

fn figures(
    root: &Path,
    driver: &str,
    images: Vec<Loaded>,
    sizes: &HashMap<Digest, u64>,
    problems: Vec<Problem>,
) -> RuntimeStore {
    let loaded: HashSet<Digest> = images.iter().map(|i| i.id).collect();
    let with_children: HashSet<Digest> =
        images.iter().filter_map(|i| i.parent).filter(|p| loaded.contains(p)).collect();
    // An untagged image with children is an intermediate image: `docker images` and
    // `/system/df` skip it (images.go: `!opts.All && len(Children(id)) > 0`).
    let listed: Vec<Loaded> =
        images.into_iter().filter(|i| i.referenced || !with_children.contains(&i.id)).collect();
    let mut refs: HashMap<Digest, u32> = HashMap::new();
    for i in &listed {
        for c in &i.chain {
            *refs.entry(*c).or_default() += 1;
        }
    }
    let size_of = |c: &Digest| sizes.get(c).copied().unwrap_or(0);
    let total = refs.keys().map(size_of).fold(0u64, u64::saturating_add);
    let images = listed
        .into_iter()
        .map(|i| {
            let size = i.chain.iter().map(size_of).fold(0u64, u64::saturating_add);
            let shared = i
                .chain
                .iter()
                .filter(|c| refs.get(*c).copied().unwrap_or(0) > 1)
                .map(size_of)
                .fold(0u64, u64::saturating_add);
            let unique = size.saturating_sub(shared);
            // moby layer/layer_store.go: a layer is released with the last reference to it
            // (an image's to its top layer, a layer's to its parent).
            let units = i.chain.iter().map(|c| (Unit::Layer(*c), size_of(c))).collect();
            RuntimeImage {
                names: i.names,
                image_id: i.id,
                size,
                unpacked_size: None,
                shared_size: shared,
                unique_size: unique,
                frees: unique,
                chain_ids: i.chain,
                units,
            }
        })
        .collect();
    RuntimeStore {
        kind: Kind::Docker,
        path: root.to_path_buf(),
        driver: driver.to_owned(),
        namespace: None,
        size: total,
        disk_usage: None,
        disk_usage_paths: Vec::new(),
        domain: root.join("image").join(driver),
        images,
        podman_rule: None,
        problems,
    }
}

type Names = (HashMap<Digest, Vec<Reference>>, HashSet<Digest>);

/// The names `repositories.json` gives each image ID, and every ID it names (none when the
/// file is absent: no image was ever tagged).
fn read_names(path: &Path, limit: u64) -> Result<Names, Error> {
    let mut out: HashMap<Digest, Vec<Reference>> = HashMap::new();
    let mut referenced = HashSet::new();
    let Some(repos) = read_json::<Repositories>(path, limit)? else {
        return Ok((out, referenced));
    };
    for refs in repos.repositories.into_values() {
        for (name, id) in refs {
            let id: Digest =
                id.parse().map_err(|_| Error::invalid(path, &name, "an image ID", id.clone()))?;
            referenced.insert(id);
            // moby reference/store.go only stores names it parsed; one that does not parse
            // here names nothing docker lists either.
            if let Ok(r) = Reference::parse_normalized(&name) {
                out.entry(id).or_default().push(r.with_default_tag());
            }
        }
    }
    for names in out.values_mut() {
        names.sort();
        names.dedup();
    }
    Ok((out, referenced))
}

/// The sha256 digests a `…/sha256/` directory holds entries for (other names are skipped,
/// as moby's fs store skips them).
pub(crate) fn list_hex(dir: &Path) -> Result<Vec<Digest>, Error> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(dir, e))?;
        if let Ok(d) = Digest::from_hex(Algorithm::Sha256, &e.file_name().to_string_lossy()) {
            out.push(d);
        }
    }
    Ok(out)
}

//! A containers/storage root (podman, buildah, CRI-O): its image and layer stores, read
//! from their JSON files; the figures are [`crate::podman`]'s.
//!
//! Layout (containers/storage `images.go`, `layers.go`, `store.go`):
//!
//! ```text
//! <drv>-images/images.json       [{id, names, layer, mapped-top-layers, big-data-names,
//!                                  big-data-sizes, …}]
//! <drv>-images/<id>/<key>        an image's big data (manifest, config, signatures); a key
//!                                 with characters outside [.0-9a-z] is stored as
//!                                 "=" + base64(key) (images.go makeBigDataBaseName)
//! <drv>-layers/layers.json       [{id, parent, diff-digest, diff-size, …}]
//! <drv>/                         the layers' files
//! ```

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use ocisize_digest::{chain_ids, Algorithm, Digest};
use ocisize_reference::Reference;
use ocisize_spec::ImageConfig;
use serde::Deserialize;

use crate::json::{read_bounded, read_json};
use crate::podman;
use crate::{du, Error, Kind, Options, Problem, RuntimeStore};

/// One entry of `images.json` (the fields the figures need).
#[derive(Deserialize)]
pub(crate) struct ImageRecord {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) names: Vec<String>,
    #[serde(default)]
    pub(crate) layer: String,
    #[serde(default, rename = "mapped-top-layers")]
    pub(crate) mapped_top_layers: Vec<String>,
    #[serde(default, rename = "big-data-names")]
    pub(crate) big_data_names: Vec<String>,
    #[serde(default, rename = "big-data-sizes")]
    pub(crate) big_data_sizes: HashMap<String, i64>,
}

/// One entry of `layers.json`.
#[derive(Deserialize)]
pub(crate) struct LayerRecord {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) parent: String,
    #[serde(default, rename = "diff-digest")]
    pub(crate) diff_digest: Option<String>,
    /// `UncompressedSize`: omitted when 0, -1 when unknown.
    #[serde(default, rename = "diff-size")]
    pub(crate) diff_size: i64,
}

#[derive(Deserialize)]
struct ManifestConfig {
    config: ocisize_spec::Descriptor,
}

/// An image, read: its record, its config (if readable) and what its names parse to.
pub(crate) struct Image {
    pub(crate) record: ImageRecord,
    pub(crate) image_id: Digest,
    pub(crate) names: Vec<Reference>,
    /// Its config: the diffIDs and history podman 4's parent/child rule compares.
    pub(crate) config: Option<ImageConfig>,
    /// The image's big data sizes summed (`BigDataSizes`, or the file's size when missing).
    pub(crate) big_data: u64,
}

/// Every driver's store under `root` (`overlay-images/`, `vfs-images/`, …).
pub(crate) fn open(root: &Path, options: &Options) -> Result<Vec<RuntimeStore>, Error> {
    let entries = fs::read_dir(root).map_err(|e| Error::io(root, e))?;
    let mut drivers = Vec::new();
    for e in entries {
        let e = e.map_err(|e| Error::io(root, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(drv) = name.strip_suffix("-images") {
            if e.path().join("images.json").is_file() {
                drivers.push(drv.to_owned());
            }
        }
    }
    drivers.sort();
    if drivers.is_empty() {
        return Err(Error::NotAStore {
            path: root.to_path_buf(),
            kind: Kind::ContainersStorage,
            reason: "no <driver>-images/images.json".into(),
        });
    }
    let rule = podman::choose_rule(root, options.podman_rule);
    let mut stores = Vec::new();
    for drv in drivers {
        // The first read treats an image whose layer is missing as a store changing under
        // us; the second reports it as podman does (it warns and goes on).
        let (images, layers, mut problems) = match read_driver(root, &drv, options, true) {
            Ok(r) => r,
            Err(_) => read_driver(root, &drv, options, false)?,
        };
        let mut store = podman::figures(root, &drv, rule, &images, &layers, &mut problems);
        store.problems = problems;
        if options.disk_usage {
            let paths: Vec<PathBuf> = ["", "-images", "-layers"]
                .iter()
                .map(|suffix| root.join(format!("{drv}{suffix}")))
                .collect();
            let bytes = du::disk_usage(paths.iter().map(PathBuf::as_path))
                .map_err(|e| Error::io(root, e))?;
            store.disk_usage = Some(bytes);
            store.disk_usage_paths = paths;
        }
        stores.push(store);
    }
    Ok(stores)
}

type DriverRead = (Vec<Image>, HashMap<String, LayerRecord>, Vec<Problem>);

fn read_driver(
    root: &Path,
    drv: &str,
    options: &Options,
    strict: bool,
) -> Result<DriverRead, Error> {
    let images_dir = root.join(format!("{drv}-images"));
    let layers_file = root.join(format!("{drv}-layers/layers.json"));
    // images.json first: containers/storage writes an image's layers before the image, and
    // removes an image before its layers, so layers.json read after it has them all.
    let records: Vec<ImageRecord> =
        read_json(&images_dir.join("images.json"), options.index_limit)?.unwrap_or_default();
    let layer_list: Vec<LayerRecord> =
        read_json(&layers_file, options.index_limit)?.unwrap_or_default();
    let layers: HashMap<String, LayerRecord> =
        layer_list.into_iter().map(|l| (l.id.clone(), l)).collect();
    let mut problems = Vec::new();
    let mut images = Vec::with_capacity(records.len());
    for record in records {
        let image_id = Digest::from_hex(Algorithm::Sha256, &record.id).map_err(|_| {
            Error::invalid(images_dir.join("images.json"), "id", "64 hex digits", &record.id)
        })?;
        for top in std::iter::once(&record.layer).chain(&record.mapped_top_layers) {
            if let Some(missing) = first_missing(top, &layers) {
                if strict {
                    return Err(Error::Inconsistent {
                        path: root.to_path_buf(),
                        reason: format!(
                            "image {} names layer {missing}, not in {}",
                            record.id,
                            layers_file.display()
                        ),
                    });
                }
                problems.push(Problem::LayerMissing { image_id, layer: missing });
            }
        }
        let dir = images_dir.join(&record.id);
        let config = read_config(&dir, &record, options)?;
        let mut names: Vec<Reference> = record
            .names
            .iter()
            .filter_map(|n| Reference::parse_normalized(n).ok())
            .map(Reference::with_default_tag)
            .collect();
        names.sort();
        names.dedup();
        let mut big_data = 0u64;
        for key in &record.big_data_names {
            let n = match record.big_data_sizes.get(key) {
                Some(&n) => u64::try_from(n).unwrap_or(0),
                // images.go BigDataSize: the data's length when the size was not recorded.
                None => match fs::metadata(dir.join(big_data_file_name(key))) {
                    Ok(m) => m.len(),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
                    Err(e) => return Err(Error::io(dir.join(big_data_file_name(key)), e)),
                },
            };
            big_data = big_data.saturating_add(n);
        }
        images.push(Image { record, image_id, names, config, big_data });
    }
    Ok((images, layers, problems))
}

/// The first layer of the chain from `top` that `layers` lacks.
fn first_missing(top: &str, layers: &HashMap<String, LayerRecord>) -> Option<String> {
    let mut id = top;
    let mut seen = HashSet::new();
    while !id.is_empty() && seen.insert(id) {
        match layers.get(id) {
            Some(l) => id = &l.parent,
            None => return Some(id.to_owned()),
        }
    }
    None
}

/// The image's config: the big data item named by its ID (`sha256:<id>`), else the one its
/// manifest names; `None` for an image without one (a manifest list).
fn read_config(
    dir: &Path,
    record: &ImageRecord,
    options: &Options,
) -> Result<Option<ImageConfig>, Error> {
    let by_id = format!("sha256:{}", record.id);
    let key = if record.big_data_names.contains(&by_id) {
        by_id
    } else {
        let path = dir.join("manifest");
        let Some(bytes) = read_bounded(&path, options.limits.manifest)? else { return Ok(None) };
        match serde_json::from_slice::<ManifestConfig>(&bytes) {
            Ok(m) => m.config.digest.to_string(),
            Err(_) => return Ok(None),
        }
    };
    let path = dir.join(big_data_file_name(&key));
    let Some(bytes) = read_bounded(&path, options.limits.config)? else { return Ok(None) };
    // libimage's toOCI fails on a config that does not parse; the parent/child rule then
    // finds no relation for it.
    Ok(serde_json::from_slice::<ImageConfig>(&bytes).ok())
}

impl Image {
    /// The chain IDs: from the config's diffIDs, else (no config, or one that lists none)
    /// from the layers' own diff digests.
    pub(crate) fn chain_ids(&self, layers: &HashMap<String, LayerRecord>) -> Vec<Digest> {
        if let Some(config) = self.config.as_ref().filter(|c| !c.rootfs.diff_ids.is_empty()) {
            return chain_ids(&config.rootfs.diff_ids);
        }
        let mut diff_ids = Vec::new();
        let mut id = self.record.layer.as_str();
        let mut seen = HashSet::new();
        while let Some(l) = layers.get(id).filter(|_| seen.insert(id)) {
            match l.diff_digest.as_deref().map(str::parse::<Digest>) {
                Some(Ok(d)) => diff_ids.push(d),
                _ => return Vec::new(),
            }
            id = &l.parent;
        }
        diff_ids.reverse();
        chain_ids(&diff_ids)
    }
}

/// The file name containers/storage stores the big data item `key` under
/// (`images.go` `makeBigDataBaseName`): the key itself when it holds only `.`, digits and
/// lowercase letters, else `=` and its standard base64 encoding.
pub(crate) fn big_data_file_name(key: &str) -> String {
    if !key.is_empty()
        && key.bytes().all(|b| b == b'.' || b.is_ascii_digit() || b.is_ascii_lowercase())
    {
        return key.to_owned();
    }
    format!("={}", base64(key.as_bytes()))
}

/// Standard base64 with padding (RFC 4648 §4). Written here: encoding a key is all that is
/// needed, not worth a dependency.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_data_names_as_podman_4_wrote_them() {
        // From a store podman 4.3.1 wrote (overlay-images/60df9f5c…/).
        assert_eq!(big_data_file_name("manifest"), "manifest");
        assert_eq!(
            big_data_file_name(
                "sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c"
            ),
            "=c2hhMjU2OjYwZGY5ZjVjNTkxYjI5M2E5OTM4OWM4NmIxYmJmMTI5NWYxODYzNDg0Nzk2N2IyMGRkNTRiMzJlYWI0M2M2MWM="
        );
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foob"), "Zm9vYg==");
        assert_eq!(big_data_file_name("Manifest"), "=TWFuaWZlc3Q=");
    }
}

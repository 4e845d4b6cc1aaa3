//! A generated docker data-root (overlay2 driver), JSON and metadata files only, laid out as
//! dockerd 20.10 writes it: `image/overlay2/imagedb/content/sha256/<id>` (the configs),
//! `layerdb/sha256/<chainID>/{size,diff,cache-id,parent}` and `repositories.json`.
//!
//! `groups` groups of images share a base of `base` layers; every image adds `own` or
//! `own + 1` layers of its own (alternately), so the root has
//! `groups × base + Σ own layers` distinct layers. Layer `n` (in creation order) has size
//! `1000 + n`.

use std::fs;
use std::path::Path;

use ocisize_digest::{chain_id, Algorithm, Digest};

/// The shape of a generated root.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Images.
    pub images: usize,
    /// Groups sharing a base.
    pub groups: usize,
    /// Layers of each group's base.
    pub base: usize,
    /// Own layers of an even-numbered image (odd-numbered ones have one more).
    pub own: usize,
}

/// What was generated, with docker's figures worked out independently of the reader.
#[derive(Debug)]
pub struct Generated {
    /// Distinct layers written.
    pub layers: usize,
    /// Per image, in generation order: (image ID, tag, Size, SharedSize).
    pub images: Vec<(Digest, String, u64, u64)>,
    /// `LayersSize`: every layer once.
    pub total: u64,
}

/// Write a root of `shape` under `root`.
///
/// # Panics
/// On any I/O error: it is a test helper.
pub fn docker_root(root: &Path, shape: Shape) -> Generated {
    let base_dir = root.join("image/overlay2");
    let content = base_dir.join("imagedb/content/sha256");
    fs::create_dir_all(&content).expect("imagedb");
    let mut n = 0u64;
    let mut total = 0u64;
    let mut layers = 0usize;
    // Write one layer on top of `parent` (a chain ID); its chain ID and size.
    let mut layer = |parent: Option<&Digest>, diff: Digest| -> (Digest, u64) {
        let chain = chain_id(parent, &diff);
        let size = 1000 + n;
        n += 1;
        let dir = base_dir.join("layerdb/sha256").join(chain.hex());
        fs::create_dir_all(&dir).expect("layerdb");
        fs::write(dir.join("size"), size.to_string()).expect("size");
        fs::write(dir.join("diff"), diff.to_string()).expect("diff");
        fs::write(dir.join("cache-id"), chain.hex()).expect("cache-id");
        if let Some(p) = parent {
            fs::write(dir.join("parent"), p.to_string()).expect("parent");
        }
        (chain, size)
    };
    let diff = |label: String| Digest::of(Algorithm::Sha256, label.as_bytes());
    // The bases: (diffIDs, last chain ID, sizes).
    let mut bases = Vec::new();
    for g in 0..shape.groups {
        let (mut diffs, mut top, mut sizes) = (Vec::new(), None, Vec::new());
        for l in 0..shape.base {
            let d = diff(format!("base {g} layer {l}"));
            let (c, s) = layer(top.as_ref(), d);
            diffs.push(d);
            sizes.push(s);
            top = Some(c);
        }
        bases.push((diffs, top, sizes));
    }
    layers += shape.groups * shape.base;
    let mut images = Vec::new();
    let mut repos = String::from("{\"Repositories\":{");
    for i in 0..shape.images {
        let (base_diffs, base_top, base_sizes) = &bases[i % shape.groups];
        let (mut diffs, mut top) = (base_diffs.clone(), *base_top);
        let base_size: u64 = base_sizes.iter().sum();
        let mut size = base_size;
        for l in 0..shape.own + i % 2 {
            let d = diff(format!("image {i} layer {l}"));
            let (c, s) = layer(top.as_ref(), d);
            diffs.push(d);
            size += s;
            top = Some(c);
            layers += 1;
            total += s;
        }
        let ids: Vec<String> = diffs.iter().map(|d| format!("\"{d}\"")).collect();
        let config = format!(
            "{{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{{}},\
             \"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}",
            ids.join(",")
        );
        let id = Digest::of(Algorithm::Sha256, config.as_bytes());
        fs::write(content.join(id.hex()), &config).expect("config");
        let tag = format!("lab/gen{i}:v1");
        if i > 0 {
            repos.push(',');
        }
        repos.push_str(&format!("\"lab/gen{i}\":{{\"{tag}\":\"{id}\"}}"));
        // The group's other images share its base.
        let g = i % shape.groups;
        let in_group = shape.images / shape.groups + usize::from(g < shape.images % shape.groups);
        let shared = if in_group > 1 { base_size } else { 0 };
        images.push((id, tag, size, shared));
    }
    repos.push_str("}}");
    fs::write(base_dir.join("repositories.json"), repos).expect("repositories.json");
    total += bases.iter().flat_map(|b| b.2.iter()).sum::<u64>();
    Generated { layers, images, total }
}

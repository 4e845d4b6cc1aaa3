//! `podman system df -v`'s figures for a containers/storage store, by the podman that wrote
//! it.
//!
//! podman 4 (containers/common < 0.58, `libimage/disk_usage.go` with `layer_tree.go`): an
//! image's SIZE is containers/storage's `ImageSize` (its layers' `diff-size`, each once, and
//! its big data); an image with a child image shares all of it, an image with a parent shares
//! the parent's SIZE, any other shares nothing. The report has one row per tag; podman 4's
//! `system df` Images SIZE sums the rows (`cmd/podman/system/df.go`).
//!
//! podman ≥ 5 (containers/common ≥ 0.58, `libimage/disk_usage.go`): a layer more than one
//! image uses is shared, the others and the big data are unique; the Images SIZE counts every
//! layer of the store once and every image's big data.
//!
//! A child, in podman 4, is an image whose top layer is the parent's top layer or a child of
//! it, whose config lists the parent's diffIDs first, and whose history is the parent's plus
//! one entry (`areParentAndChild`, `historiesMatch`).

use std::collections::HashMap;
use std::path::Path;

use ocisize_spec::{History, ImageConfig};

use crate::storage::{Image, LayerRecord};
use crate::{
    Kind, PodmanRule, Problem, RuleChoice, RuleEvidence, RuntimeImage, RuntimeStore, Unit,
};

/// The rule for the store at `root`: the override, else what its libpod database says.
pub(crate) fn choose_rule(root: &Path, force: Option<PodmanRule>) -> RuleChoice {
    let (rule, evidence) = if let Some(rule) = force {
        (rule, RuleEvidence::Override)
    } else if root.join("db.sql").is_file() || root.join("libpod/db.sql").is_file() {
        // libpod/sqlite_state.go: `db.sql` in the graph root (podman 4.8 to 5.x) or the
        // static dir (`libpod/`, later 5.x).
        (PodmanRule::V5, RuleEvidence::SqliteDb)
    } else if root.join("libpod/bolt_state.db").is_file() {
        (PodmanRule::V4, RuleEvidence::BoltDb)
    } else {
        (PodmanRule::V5, RuleEvidence::NoDatabase)
    };
    RuleChoice { rule, evidence }
}

/// A layer's size as the rule reads it; `None` when podman would compute it from the files.
fn layer_size(rule: PodmanRule, l: &LayerRecord) -> Option<u64> {
    match rule {
        // containers/storage ImageSize (v1.44): "The UncompressedSize is only valid if
        // there's a digest to go with it."
        PodmanRule::V4 if l.diff_digest.as_deref().unwrap_or("").is_empty() => None,
        _ => u64::try_from(l.diff_size).ok(),
    }
}

/// The layers of an image: its top layer's chain and its mapped top layers' chains, each
/// layer once (`walkImageLayers`, `ImageSize`).
fn layers_of<'a>(image: &'a Image, layers: &'a HashMap<String, LayerRecord>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    let tops = std::iter::once(&image.record.layer).chain(&image.record.mapped_top_layers);
    for top in tops {
        let mut id = top.as_str();
        while !id.is_empty() && !out.contains(&id) {
            let Some(l) = layers.get(id) else { break };
            out.push(l.id.as_str());
            id = &l.parent;
        }
    }
    out
}

pub(crate) fn figures(
    root: &Path,
    driver: &str,
    rule: RuleChoice,
    images: &[Image],
    layers: &HashMap<String, LayerRecord>,
    problems: &mut Vec<Problem>,
) -> RuntimeStore {
    let mut unknown: Vec<String> = Vec::new();
    let mut size_of = |id: &str| -> u64 {
        match layers.get(id).and_then(|l| layer_size(rule.rule, l)) {
            Some(n) => n,
            None => {
                if !unknown.iter().any(|u| u == id) {
                    unknown.push(id.to_owned());
                }
                0
            }
        }
    };
    let chains: Vec<Vec<&str>> = images.iter().map(|i| layers_of(i, layers)).collect();
    let mut count: HashMap<&str, u32> = HashMap::new();
    for chain in &chains {
        for l in chain {
            *count.entry(l).or_default() += 1;
        }
    }
    let mut sizes = Vec::with_capacity(images.len());
    let mut shared_unique = Vec::with_capacity(images.len());
    let mut frees = Vec::with_capacity(images.len());
    let mut units = Vec::with_capacity(images.len());
    for (image, chain) in images.iter().zip(&chains) {
        let (mut shared, mut unique) = (0u64, image.big_data);
        let mut own = image.big_data;
        // containers/storage DeleteImage (docs/containers-storage-delete-image.md): the
        // image's own data goes with it, then its top layer and each parent in turn while
        // no other image uses it.
        let mut held = vec![(Unit::ImageData(image.image_id), image.big_data)];
        for l in chain {
            let n = size_of(l);
            held.push((Unit::StorageLayer((*l).to_owned()), n));
            if count.get(l).copied().unwrap_or(0) > 1 {
                shared = shared.saturating_add(n);
            } else {
                unique = unique.saturating_add(n);
                own = own.saturating_add(n);
            }
        }
        sizes.push(shared.saturating_add(unique));
        shared_unique.push((shared, unique));
        frees.push(own);
        units.push(held);
    }
    let total = match rule.rule {
        PodmanRule::V5 => {
            let mut ids: Vec<&str> = layers.keys().map(String::as_str).collect();
            ids.sort_unstable();
            let layers_total = ids.into_iter().map(&mut size_of).fold(0u64, u64::saturating_add);
            images.iter().map(|i| i.big_data).fold(layers_total, u64::saturating_add)
        }
        PodmanRule::V4 => {
            let tree = Tree::new(images, layers);
            for (i, su) in shared_unique.iter_mut().enumerate() {
                *su = if tree.has_child(i) {
                    (sizes[i], 0)
                } else if let Some(p) = tree.parent(i) {
                    (sizes[p], sizes[i].saturating_sub(sizes[p]))
                } else {
                    (0, sizes[i])
                };
            }
            images
                .iter()
                .zip(&sizes)
                .map(|(img, &s)| {
                    let tags = img.names.iter().filter(|n| n.tag().is_some()).count();
                    s.saturating_mul(tags.max(1) as u64)
                })
                .fold(0u64, u64::saturating_add)
        }
    };
    problems.extend(unknown.into_iter().map(|layer| Problem::LayerSizeUnknown { layer }));
    let out = images
        .iter()
        .zip(units)
        .enumerate()
        .map(|(i, (img, units))| RuntimeImage {
            names: img.names.clone(),
            image_id: img.image_id,
            size: sizes[i],
            unpacked_size: None,
            shared_size: shared_unique[i].0,
            unique_size: shared_unique[i].1,
            frees: frees[i],
            chain_ids: img.chain_ids(layers),
            units,
        })
        .collect();
    RuntimeStore {
        kind: Kind::ContainersStorage,
        path: root.to_path_buf(),
        driver: driver.to_owned(),
        namespace: None,
        size: total,
        disk_usage: None,
        disk_usage_paths: Vec::new(),
        domain: root.join(format!("{driver}-layers")),
        images: out,
        podman_rule: Some(rule),
        problems: Vec::new(),
    }
}

/// podman 4's layer tree: images by top layer, layers' parents and children.
struct Tree<'a> {
    images: &'a [Image],
    /// Layer ID → (parent layer ID, child layer IDs, images with it as top layer).
    nodes: HashMap<&'a str, (&'a str, Vec<&'a str>, Vec<usize>)>,
}

impl<'a> Tree<'a> {
    fn new(images: &'a [Image], layers: &'a HashMap<String, LayerRecord>) -> Tree<'a> {
        let mut nodes: HashMap<&str, (&str, Vec<&str>, Vec<usize>)> = HashMap::new();
        let mut ids: Vec<&String> = layers.keys().collect();
        ids.sort_unstable();
        for id in ids {
            let parent = layers[id].parent.as_str();
            nodes.entry(id.as_str()).or_default().0 = parent;
            if !parent.is_empty() {
                nodes.entry(parent).or_default().1.push(id.as_str());
            }
        }
        for (i, img) in images.iter().enumerate() {
            if let Some(n) = nodes.get_mut(img.record.layer.as_str()) {
                n.2.push(i);
            }
        }
        Tree { images, nodes }
    }

    fn at(&self, layer: &str) -> &[usize] {
        self.nodes.get(layer).map_or(&[], |n| n.2.as_slice())
    }

    /// `layerTree.children(…) > 0`: a child on a child layer, or on the same top layer.
    fn has_child(&self, i: usize) -> bool {
        let top = self.images[i].record.layer.as_str();
        let Some((_, children, _)) = self.nodes.get(top).filter(|_| !top.is_empty()) else {
            return false;
        };
        let parent = self.images[i].config.as_ref();
        children
            .iter()
            .flat_map(|c| self.at(c).iter())
            .chain(self.at(top))
            .any(|&j| j != i && related(parent, self.images[j].config.as_ref()))
    }

    /// `layerTree.parent`: the first image on the same top layer, then on its parent layer,
    /// that is this one's parent.
    fn parent(&self, i: usize) -> Option<usize> {
        let top = self.images[i].record.layer.as_str();
        let (parent_layer, _, here) = self.nodes.get(top).filter(|_| !top.is_empty())?;
        let child = self.images[i].config.as_ref();
        here.iter()
            .chain(self.at(parent_layer))
            .copied()
            .find(|&j| j != i && related(self.images[j].config.as_ref(), child))
    }
}

/// `areParentAndChild`: the child uses the parent's diffIDs first and has its history plus
/// one entry.
fn related(parent: Option<&ImageConfig>, child: Option<&ImageConfig>) -> bool {
    let (Some(p), Some(c)) = (parent, child) else { return false };
    let (pd, cd) = (&p.rootfs.diff_ids, &c.rootfs.diff_ids);
    if pd.len() > cd.len() || pd.iter().zip(cd).any(|(a, b)| a != b) {
        return false;
    }
    p.history.len() + 1 == c.history.len()
        && p.history.iter().zip(&c.history).all(|(a, b)| same_entry(a, b))
}

/// One step of `historiesMatch`: the same time (as instants), command, author, comment and
/// empty-layer flag; a missing string is Go's empty one.
fn same_entry(a: &History, b: &History) -> bool {
    let s = |x: &Option<String>| x.as_deref().unwrap_or("").to_owned();
    let created = match (&a.created, &b.created) {
        (None, None) => true,
        (Some(x), Some(y)) => match (instant(x), instant(y)) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        _ => false,
    };
    created
        && s(&a.created_by) == s(&b.created_by)
        && s(&a.author) == s(&b.author)
        && s(&a.comment) == s(&b.comment)
        && a.empty_layer == b.empty_layer
}

/// An RFC 3339 time as (seconds since the epoch, nanoseconds), so that two spellings of one
/// instant compare equal as Go's `Time.Equal` does.
pub(crate) fn instant(s: &str) -> Option<(i64, u32)> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes().all(|c| c.is_ascii_digit()).then(|| t.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0u32;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let digits = s.get(start..i)?;
        if digits.is_empty() || digits.len() > 9 {
            return None;
        }
        nanos = u32::try_from(num(start..i)?).ok()? * 10u32.pow(9 - digits.len() as u32);
    }
    let offset = match b.get(i..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let m = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's days_from_civil).
    let (y, mo) = if mo <= 2 { (y - 1, mo + 9) } else { (y, mo - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * mo + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec - offset * 60, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_compare_as_go_does() {
        assert_eq!(instant("1970-01-01T00:00:00Z"), Some((0, 0)));
        assert_eq!(instant("2026-11-22T07:35:23.499551907Z"), Some((1_795_332_923, 499_551_907)));
        assert_eq!(instant("2026-11-22T08:35:23.4995519070+01:00"), None, "10 digits");
        assert_eq!(
            instant("2026-11-22T09:35:23.4995519+02:00"),
            instant("2026-11-22T07:35:23.499551900Z")
        );
        assert_eq!(instant("2000-03-01T00:00:00Z"), Some((951_868_800, 0)));
        assert_eq!(instant("1969-12-31T23:59:59Z"), Some((-1, 0)));
        for bad in [
            "",
            "2026-11-22",
            "2026-13-01T00:00:00Z",
            "2026-11-22T07:35:23",
            "x026-11-22T07:35:23Z",
        ] {
            assert_eq!(instant(bad), None, "{bad}");
        }
    }

    fn h(created: Option<&str>, by: &str) -> History {
        History {
            created: created.map(str::to_owned),
            created_by: Some(by.to_owned()),
            ..History::default()
        }
    }

    #[test]
    fn parent_and_child_by_diff_ids_and_history() {
        let d = |b: u8| ocisize_digest::Digest::Sha256([b; 32]);
        let config = |ids: Vec<ocisize_digest::Digest>, hist: Vec<History>| ImageConfig {
            rootfs: ocisize_spec::RootFs { diff_ids: ids, ..Default::default() },
            history: hist,
            ..ImageConfig::default()
        };
        let parent = config(vec![d(1)], vec![h(Some("2020-01-01T00:00:00Z"), "ADD")]);
        let child = config(
            vec![d(1), d(2)],
            vec![h(Some("2020-01-01T01:00:00+01:00"), "ADD"), h(None, "RUN x")],
        );
        assert!(related(Some(&parent), Some(&child)));
        assert!(!related(Some(&child), Some(&parent)));
        assert!(!related(None, Some(&child)));
        let other = config(vec![d(3), d(2)], child.history.clone());
        assert!(!related(Some(&parent), Some(&other)), "diffIDs differ");
        let two_more = config(
            vec![d(1), d(2)],
            vec![h(Some("2020-01-01T00:00:00Z"), "ADD"), h(None, "a"), h(None, "b")],
        );
        assert!(!related(Some(&parent), Some(&two_more)), "two more history entries");
        let nil_time = config(vec![d(1), d(2)], vec![h(None, "ADD"), h(None, "RUN x")]);
        assert!(!related(Some(&parent), Some(&nil_time)), "created set on one side only");
    }
}

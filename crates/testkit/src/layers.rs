//! Second, independent models of stacked layers, for tests of `ocisize_layer::files`: a port
//! of dive's tree algorithm (trees of maps, built entry by entry as dive builds them) and an
//! unpack into a map, layer after layer, as a runtime unpacks an image.
//!
//! Both take each layer's tar entries as the tar names them (`.wh.` names included).

use std::collections::BTreeMap;

/// What a tar entry is, as far as these models care.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RawKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link.
    Hardlink,
    /// A device or FIFO.
    Other,
}

/// One tar entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawEntry {
    /// The name in the tar (`a/b`, `a/.wh.c`, `d/.wh..wh..opq`, `dir/`).
    pub name: String,
    /// Its type.
    pub kind: RawKind,
    /// Its header size.
    pub size: u64,
    /// Its link target.
    pub link: String,
}

fn components(name: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_owned()),
        }
    }
    out
}

/// dive's figures: efficiency, wasted space, Σ smallest and Σ cumulative sizes.
#[derive(Clone, Debug, PartialEq)]
pub struct DiveModel {
    /// Σ min / Σ cumulative (1 when 0).
    pub efficiency: f64,
    /// Σ cumulative over paths seen more than once.
    pub wasted: u64,
    /// Σ smallest.
    pub min: u64,
    /// Σ cumulative.
    pub cumulative: u64,
}

#[derive(Clone, Debug, Default)]
struct Node {
    size: u64,
    is_dir: bool,
    children: BTreeMap<String, Node>,
}

impl Node {
    /// dive `AddPath`: intermediate nodes get an empty payload; the last one gets `info`
    /// (an existing node keeps its children); `.wh..wh..` components end the walk.
    fn add(&mut self, parts: &[String], size: u64, is_dir: bool) {
        let mut node = self;
        for (i, name) in parts.iter().enumerate() {
            if !node.children.contains_key(name) && name.starts_with(".wh..wh..") {
                return;
            }
            node = node.children.entry(name.clone()).or_default();
            if i + 1 == parts.len() {
                node.size = size;
                node.is_dir = is_dir;
            }
        }
    }

    fn get(&self, parts: &[String]) -> Option<&Node> {
        let mut node = self;
        for p in parts {
            node = node.children.get(p)?;
        }
        Some(node)
    }

    fn remove(&mut self, parts: &[String]) {
        let Some((last, dirs)) = parts.split_last() else { return };
        let mut node = self;
        for p in dirs {
            match node.children.get_mut(p) {
                Some(n) => node = n,
                None => return,
            }
        }
        node.children.remove(last);
    }

    fn subtree_size(&self) -> u64 {
        self.size + self.children.values().map(Node::subtree_size).sum::<u64>()
    }

    /// Every node with its path (names as stored), children first.
    fn walk(&self, path: &mut Vec<String>, out: &mut Vec<(Vec<String>, Node)>) {
        for (name, child) in &self.children {
            path.push(name.clone());
            child.walk(path, out);
            out.push((path.clone(), Node { children: BTreeMap::new(), ..child.clone() }));
            path.pop();
        }
    }
}

fn tree(layer: &[RawEntry]) -> Node {
    let mut t = Node::default();
    for e in layer {
        let parts = components(&e.name);
        if parts.is_empty() {
            continue;
        }
        t.add(&parts, e.size, e.kind == RawKind::Dir);
    }
    t
}

/// dive `Stack`: every node of `upper`, children first; a `.wh.` node removes its target,
/// any other node is added with its payload.
fn stack_onto(lower: &mut Node, upper: &Node) {
    let mut nodes = Vec::new();
    upper.walk(&mut Vec::new(), &mut nodes);
    for (path, node) in nodes {
        let Some((last, dirs)) = path.split_last() else { continue };
        if let Some(target) = last.strip_prefix(".wh.") {
            let mut p = dirs.to_vec();
            p.push(target.to_owned());
            lower.remove(&p);
        } else {
            lower.add(&path, node.size, node.is_dir);
        }
    }
}

/// dive's `Efficiency` over the layers' trees (`dive/filetree/efficiency.go`), except that a
/// whiteout of a path no lower layer has counts 0 where dive stops visiting that layer.
pub fn dive(layers: &[Vec<RawEntry>]) -> DiveModel {
    let trees: Vec<Node> = layers.iter().map(|l| tree(l)).collect();
    let mut per_path: BTreeMap<Vec<String>, (u64, u64, u64)> = BTreeMap::new();
    for (idx, t) in trees.iter().enumerate() {
        // StackTreeRange(trees, 0, idx-1): a copy of the base, then layers 0..=idx-1 on it.
        let mut stacked = trees.first().cloned().unwrap_or_default();
        for lower in trees.iter().take(idx) {
            stack_onto(&mut stacked, lower);
        }
        let mut nodes = Vec::new();
        t.walk(&mut Vec::new(), &mut nodes);
        for (path, node) in nodes {
            let leaf = t.get(&path).is_some_and(|n| n.children.is_empty());
            if !leaf {
                continue;
            }
            let Some((last, dirs)) = path.split_last() else { continue };
            let (key, size) = match last.strip_prefix(".wh.") {
                Some(target) => {
                    let mut p = dirs.to_vec();
                    p.push(target.to_owned());
                    let size = match stacked.get(&p) {
                        Some(n) if n.is_dir => n.subtree_size(),
                        _ => 0,
                    };
                    (p, size)
                }
                None => (path.clone(), node.size),
            };
            let e = per_path.entry(key).or_insert((0, u64::MAX, 0));
            e.0 += size;
            e.1 = e.1.min(size);
            e.2 += 1;
        }
    }
    let (mut min, mut cumulative, mut wasted) = (0, 0, 0);
    for (cum, m, n) in per_path.values() {
        min += m;
        cumulative += cum;
        if *n >= 2 {
            wasted += cum;
        }
    }
    let efficiency = if cumulative == 0 { 1.0 } else { min as f64 / cumulative as f64 };
    DiveModel { efficiency, wasted, min, cumulative }
}

/// What unpacking the layers one after the other leaves and costs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnpackModel {
    /// Bytes of every entry removed or replaced on the way.
    pub wasted: u64,
    /// Entries removed or replaced (a directory over a directory merges: not one).
    pub hidden: u64,
    /// Per path, bytes of its removed or replaced copies.
    pub per_path: BTreeMap<String, u64>,
    /// What is left: path → (kind, size, link).
    pub survivors: BTreeMap<String, (RawKind, u64, String)>,
}

/// Unpack the layers into a map, base first: in each layer first its whiteouts and opaque
/// markers remove what the lower layers left (a whited-out directory with its subtree),
/// then its entries are written in tar order; a non-directory replaces a lower directory's
/// whole subtree; a directory over a directory merges.
pub fn unpack(layers: &[Vec<RawEntry>]) -> UnpackModel {
    let mut m = UnpackModel::default();
    // path → (kind, size, link, layer)
    let mut fs: BTreeMap<String, (RawKind, u64, String, usize)> = BTreeMap::new();
    let under = |p: &str, dir: &str| {
        if dir.is_empty() {
            !p.is_empty()
        } else {
            p.starts_with(&format!("{dir}/"))
        }
    };
    for (layer, entries) in layers.iter().enumerate() {
        let mut gone: Vec<String> = Vec::new();
        for e in entries {
            let parts = components(&e.name);
            let base = parts.last().cloned().unwrap_or_default();
            let parent = parts[..parts.len().saturating_sub(1)].join("/");
            if base == ".wh..wh..opq" {
                gone.extend(fs.keys().filter(|p| under(p, &parent)).cloned());
            } else if let Some(t) = base.strip_prefix(".wh.") {
                if base.starts_with(".wh..wh.") {
                    continue;
                }
                let target = if parent.is_empty() { t.to_owned() } else { format!("{parent}/{t}") };
                gone.extend(fs.keys().filter(|p| **p == target || under(p, &target)).cloned());
            }
        }
        for p in gone {
            if let Some((_, size, _, _)) = fs.remove(&p) {
                m.wasted += size;
                m.hidden += 1;
                *m.per_path.entry(p).or_default() += size;
            }
        }
        for e in entries {
            let parts = components(&e.name);
            let Some(base) = parts.last() else { continue };
            if base.starts_with(".wh.") {
                continue;
            }
            let path = parts.join("/");
            let size = if e.kind == RawKind::File { e.size } else { 0 };
            let link = match e.kind {
                RawKind::Hardlink => components(&e.link).join("/"),
                RawKind::Symlink => e.link.clone(),
                _ => String::new(),
            };
            if let Some((old, old_size, _, _)) = fs.get(&path).cloned() {
                if !(old == RawKind::Dir && e.kind == RawKind::Dir) {
                    m.wasted += old_size;
                    m.hidden += 1;
                    *m.per_path.entry(path.clone()).or_default() += old_size;
                }
            }
            if e.kind != RawKind::Dir {
                let below: Vec<String> = fs
                    .iter()
                    .filter(|(p, v)| under(p, &path) && v.3 < layer)
                    .map(|(p, _)| p.clone())
                    .collect();
                for p in below {
                    if let Some((_, s, _, _)) = fs.remove(&p) {
                        m.wasted += s;
                        m.hidden += 1;
                        *m.per_path.entry(p).or_default() += s;
                    }
                }
            }
            fs.insert(path, (e.kind, size, link, layer));
        }
    }
    m.per_path.retain(|_, v| *v > 0);
    m.survivors = fs.into_iter().map(|(p, (k, s, l, _))| (p, (k, s, l))).collect();
    m
}

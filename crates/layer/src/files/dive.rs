//! dive's efficiency, computed in the same merge as the waste.
//!
//! dive (`wagoodman/dive`, `dive/filetree/efficiency.go`, `Efficiency`) builds one tree per
//! layer from its tar headers (`dive/image/docker/image_archive.go`, `processLayerTar`) and
//! visits every leaf of every layer's tree. Each leaf adds its header size to its path's
//! `CumulativeSize` and may lower the path's smallest size; a whiteout leaf (`.wh.<name>`,
//! its path is `<name>`) adds 0, unless the layers below it, stacked as dive stacks them
//! (`StackTreeRange(trees, 0, i-1)`), hold a directory at that path: then it adds the
//! sizes of that directory's whole subtree. The score is Σ smallest / Σ cumulative (1 when
//! that is 0), and dive's "wasted space" (`dive/image/analysis.go`) is Σ cumulative over
//! the paths seen more than once. dive's stacking knows no opaque directories (its
//! `AddPath` skips `.wh..wh..` names), and neither does this.
//!
//! Where dive fails rather than counts, this counts 0: a whiteout of a path that no lower
//! layer has makes dive stop visiting the rest of that layer (an error it logs).

use super::overlay::Frame;
use super::{is_under, Entry, Kind};

/// One path's figures, in progress until its subtree has been seen.
#[derive(Debug, Default)]
pub(super) struct Node {
    cumulative: u64,
    min: Option<u64>,
    nodes: u64,
    /// Layers that whiteout this path: dive removes it (and its subtree) from the stack
    /// there.
    whiteouts: Vec<usize>,
    /// Whiteouts of a directory: their size is the lower subtree's, summed as the subtree
    /// passes.
    pending: Vec<Pending>,
}

#[derive(Debug)]
struct Pending {
    layer: usize,
    sum: u64,
}

impl Node {
    fn add(&mut self, size: u64) {
        self.cumulative = self.cumulative.saturating_add(size);
        self.min = Some(self.min.map_or(size, |m| m.min(size)));
        self.nodes += 1;
    }

    /// The path's nodes in each layer's tree, from the events at `path` (in layer order)
    /// and the next entry of every layer (`heads`: a layer whose next entry is under
    /// `path` has children there, so `path` is no leaf of it).
    pub(super) fn at(
        path: &[u8],
        events: &[(usize, Entry)],
        heads: &[Option<Entry>],
        stack: &[Frame],
    ) -> Node {
        let mut node = Node::default();
        let mut i = 0;
        while i < events.len() {
            let layer = events[i].0;
            let mut last: Option<&Entry> = None;
            let mut opaque = false;
            while let Some((l, e)) = events.get(i).filter(|(l, _)| *l == layer) {
                match e.kind {
                    Kind::Whiteout => {
                        if node.whiteouts.last() != Some(l) {
                            node.whiteouts.push(*l);
                        }
                    }
                    Kind::Opaque => opaque = true,
                    _ => last = Some(e),
                }
                i += 1;
            }
            if !has_children(heads, layer, path) {
                match last {
                    Some(e) => node.add(e.size),
                    // `d/.wh..wh..opq` alone still makes `d` a (childless) node of the tree.
                    None if opaque => node.add(0),
                    None => {}
                }
            }
        }
        for w in node.whiteouts.clone() {
            match dir_below(path, w, events, heads, stack, &node.whiteouts) {
                Some(own) => node.pending.push(Pending { layer: w, sum: own }),
                None => node.add(0),
            }
        }
        node
    }
}

fn has_children(heads: &[Option<Entry>], layer: usize, path: &[u8]) -> bool {
    heads.get(layer).and_then(Option::as_ref).is_some_and(|h| is_under(&h.path, path))
}

/// The layers a whiteout in `layer` looks at: those below it; dive stacks the range
/// `0..=layer-1`, which for the base layer is the base layer's own tree.
fn below(layer: usize) -> usize {
    layer.max(1)
}

/// The last layer below `layer` where dive removed the path: a whiteout of it or of a
/// directory above it.
fn removed_below(layer: usize, own: &[usize], stack: &[Frame]) -> Option<usize> {
    if layer == 0 {
        return None; // the base layer's own tree, nothing removed
    }
    let above = stack.iter().flat_map(|f| f.dive.whiteouts.iter());
    own.iter().chain(above).copied().filter(|&w| w < layer).max()
}

/// The node dive's stacked tree has at `path` from the layers below `upto`: the layer, whether
/// it is a directory, its size. A layer's node carries that layer's entry, or (no entry,
/// children only) an empty payload, not a directory: dive's `AddPath` gives intermediate
/// nodes an empty `FileInfo`, and stacking copies it over the lower node's.
fn node_below(
    path: &[u8],
    upto: usize,
    events: &[(usize, Entry)],
    heads: &[Option<Entry>],
) -> Option<(usize, bool, u64)> {
    (0..upto).rev().find_map(|j| {
        let explicit = events.iter().rev().find(|(l, e)| *l == j && e.kind.is_node());
        if let Some((_, e)) = explicit {
            return Some((j, e.kind == Kind::Dir, e.size));
        }
        let opaque = events.iter().any(|(l, e)| *l == j && e.kind == Kind::Opaque);
        (opaque || has_children(heads, j, path)).then_some((j, false, 0))
    })
}

/// For a whiteout of `path` in `layer`: when the stacked layers below hold a directory
/// there, its own header size (the subtree's sizes are added as they pass); else `None`
/// (the whiteout counts 0).
fn dir_below(
    path: &[u8],
    layer: usize,
    events: &[(usize, Entry)],
    heads: &[Option<Entry>],
    stack: &[Frame],
    own: &[usize],
) -> Option<u64> {
    let (at, dir, size) = node_below(path, below(layer), events, heads)?;
    if removed_below(layer, own, stack).is_some_and(|r| at < r) {
        return None;
    }
    dir.then_some(size)
}

/// Add the current path's size in the stacked layers to every pending whiteout of a
/// directory above it.
pub(super) fn contribute(
    stack: &mut [Frame],
    path: &[u8],
    events: &[(usize, Entry)],
    heads: &[Option<Entry>],
) {
    if stack.iter().all(|f| f.dive.pending.is_empty()) {
        return;
    }
    let own: Vec<usize> =
        events.iter().filter(|(_, e)| e.kind == Kind::Whiteout).map(|(l, _)| *l).collect();
    for fi in 0..stack.len() {
        for pi in 0..stack[fi].dive.pending.len() {
            let layer = stack[fi].dive.pending[pi].layer;
            let Some((j, _, size)) = node_below(path, below(layer), events, heads) else {
                continue;
            };
            if size == 0 || removed_below(layer, &own, stack).is_some_and(|r| j < r) {
                continue;
            }
            let p = &mut stack[fi].dive.pending[pi];
            p.sum = p.sum.saturating_add(size);
        }
    }
}

/// The sums over every path.
#[derive(Debug, Default)]
pub(super) struct Totals {
    min: u64,
    cumulative: u64,
    wasted: u64,
}

impl Totals {
    /// A path's subtree has passed: its figures are final.
    pub(super) fn close(&mut self, mut node: Node) {
        for p in std::mem::take(&mut node.pending) {
            node.add(p.sum);
        }
        if node.nodes == 0 {
            return;
        }
        self.min = self.min.saturating_add(node.min.unwrap_or(0));
        self.cumulative = self.cumulative.saturating_add(node.cumulative);
        if node.nodes >= 2 {
            self.wasted = self.wasted.saturating_add(node.cumulative);
        }
    }

    pub(super) fn figures(&self) -> super::DiveFigures {
        super::DiveFigures {
            efficiency: if self.cumulative == 0 {
                1.0
            } else {
                self.min as f64 / self.cumulative as f64
            },
            wasted_bytes: self.wasted,
            min_bytes: self.min,
            cumulative_bytes: self.cumulative,
        }
    }
}

//! The layers of an image stacked, base first, in one merge of their sorted file lists: what
//! each path's copies cost, which copy survives, and dive's figures on the way.
//!
//! The rules are the OCI image-spec's (layer.md, "Whiteouts", and "Changesets"): a
//! `.wh.<name>` deletes `<name>` and, for a directory, its whole subtree from the lower
//! layers; `.wh..wh..opq` hides every lower entry under its directory; whiteouts apply only
//! to lower layers, never to entries of their own layer; an entry replaces the lower entry
//! at its path, and a non-directory also hides a lower directory's subtree (overlayfs shows
//! the upper non-directory only). A directory over a directory merges and hides nothing.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use super::dive;
use super::record::Entries;
use super::{is_under, path_cmp, Entry, FileList, FilesError, Kind};

/// One path of the final filesystem: the entry that survives, and the layer it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Survivor {
    /// The entry.
    pub entry: Entry,
    /// Its layer, 0 for the base.
    pub layer: usize,
}

/// One of the paths that waste the most.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct WastedPath {
    /// The path.
    pub path: String,
    /// Bytes of its hidden copies.
    pub wasted_bytes: u64,
    /// How many times the layers wrote it (hidden copies and the surviving one).
    pub copies: u64,
}

/// dive's figures, computed as `dive/filetree/efficiency.go` computes them: per path, the
/// size of every copy the layers hold (a leaf of a layer's tree; a whiteout of a directory
/// counts the lower subtree's sizes, of a file 0), summed (`cumulative`) and the smallest
/// one (`min`).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct DiveFigures {
    /// Σ min / Σ cumulative over every path (1 when nothing has a size).
    pub efficiency: f64,
    /// dive's "wasted space": Σ cumulative over the paths that appear more than once; it
    /// includes the surviving copy.
    pub wasted_bytes: u64,
    /// Σ of each path's smallest copy.
    pub min_bytes: u64,
    /// Σ of every copy of every path.
    pub cumulative_bytes: u64,
}

/// What stacking the layers costs.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Waste {
    /// Bytes of every copy that a later layer overwrote, whited out or hid under an opaque
    /// directory: what squashing the image would free. The surviving copy never counts.
    pub wasted_bytes: u64,
    /// Entries that do not survive (a directory merged into a directory above is not one).
    pub hidden_copies: u64,
    /// Bytes of every regular file the layers write, hidden or not.
    pub written_bytes: u64,
    /// dive's efficiency and wasted space.
    pub dive: DiveFigures,
    /// The paths that waste the most, most first (ties by path).
    pub top: Vec<WastedPath>,
}

/// A layer's next path, for the merge: ordered by path, then layer (base first).
#[derive(PartialEq, Eq)]
struct Head {
    path: Vec<u8>,
    layer: usize,
}

impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        path_cmp(&self.path, &other.path).then(self.layer.cmp(&other.layer))
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A candidate for the top list: most wasted first, then the smaller path.
#[derive(PartialEq, Eq)]
struct Top {
    wasted: u64,
    path: Vec<u8>,
    copies: u64,
}

impl Ord for Top {
    fn cmp(&self, other: &Self) -> Ordering {
        self.wasted.cmp(&other.wasted).then_with(|| path_cmp(&other.path, &self.path))
    }
}

impl PartialOrd for Top {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A path on the way down to the current one.
pub(super) struct Frame {
    pub(super) path: Vec<u8>,
    /// Layers that hide what lower layers put under this path (a whiteout or opaque marker
    /// here or above, a non-directory here or above), sorted; usually none.
    hides: Vec<usize>,
    pub(super) dive: dive::Node,
}

/// The layers of one image, stacked: iterate the surviving entries in path order
/// ([`Overlay::next_survivor`]), then [`Overlay::finish`] for the figures.
pub struct Overlay {
    layers: Vec<Entries>,
    heads: Vec<Option<Entry>>,
    heap: BinaryHeap<Reverse<Head>>,
    stack: Vec<Frame>,
    events: Vec<(usize, Entry)>,
    top_n: usize,
    top: BinaryHeap<Reverse<Top>>,
    waste: Waste,
    dive: dive::Totals,
}

impl std::fmt::Debug for Overlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Overlay").field("layers", &self.layers.len()).finish()
    }
}

impl Overlay {
    /// Stack `lists`, base first, keeping the `top` paths that waste the most.
    pub fn new(lists: &[FileList], top: usize) -> Result<Overlay, FilesError> {
        let mut o = Overlay {
            layers: Vec::with_capacity(lists.len()),
            heads: Vec::with_capacity(lists.len()),
            heap: BinaryHeap::with_capacity(lists.len()),
            stack: Vec::new(),
            events: Vec::new(),
            top_n: top,
            top: BinaryHeap::with_capacity(top + 1),
            waste: Waste::default(),
            dive: dive::Totals::default(),
        };
        for (layer, l) in lists.iter().enumerate() {
            let mut entries = l.iter()?;
            let head = entries.next()?;
            if let Some(h) = &head {
                o.heap.push(Reverse(Head { path: h.path.clone(), layer }));
            }
            o.heads.push(head);
            o.layers.push(entries);
        }
        Ok(o)
    }

    /// The next path of the final filesystem, in path order ([`path_cmp`]).
    pub fn next_survivor(&mut self) -> Result<Option<Survivor>, FilesError> {
        loop {
            match self.step()? {
                None => return Ok(None),
                Some(Some(s)) => return Ok(Some(s)),
                Some(None) => {}
            }
        }
    }

    /// Read the rest of the layers and give the figures.
    pub fn finish(mut self) -> Result<Waste, FilesError> {
        while self.step()?.is_some() {}
        let mut top: Vec<Top> = self.top.into_iter().map(|Reverse(t)| t).collect();
        top.sort_by(|a, b| b.cmp(a));
        self.waste.top = top
            .into_iter()
            .map(|t| WastedPath {
                path: String::from_utf8_lossy(&t.path).into_owned(),
                wasted_bytes: t.wasted,
                copies: t.copies,
            })
            .collect();
        self.waste.dive = self.dive.figures();
        Ok(self.waste)
    }

    /// Move every entry of `layer` at `path` into `events`, and queue its next path.
    fn take(
        &mut self,
        layer: usize,
        path: &[u8],
        events: &mut Vec<(usize, Entry)>,
    ) -> Result<(), FilesError> {
        if let Some(e) = self.heads[layer].take() {
            events.push((layer, e));
        }
        while let Some(e) = self.layers[layer].next()? {
            if e.path == path {
                events.push((layer, e));
                continue;
            }
            self.heap.push(Reverse(Head { path: e.path.clone(), layer }));
            self.heads[layer] = Some(e);
            break;
        }
        Ok(())
    }

    /// One path: `None` at the end, else its survivor if it has one.
    fn step(&mut self) -> Result<Option<Option<Survivor>>, FilesError> {
        let Some(Reverse(first)) = self.heap.pop() else {
            while let Some(f) = self.stack.pop() {
                self.dive.close(f.dive);
            }
            return Ok(None);
        };
        let path = first.path;
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        self.take(first.layer, &path, &mut events)?;
        while let Some(Reverse(h)) = self.heap.peek() {
            if h.path != path {
                break;
            }
            let layer = h.layer;
            self.heap.pop();
            self.take(layer, &path, &mut events)?;
        }
        while let Some(f) = self.stack.last() {
            if is_under(&path, &f.path) {
                break;
            }
            if let Some(f) = self.stack.pop() {
                self.dive.close(f.dive);
            }
        }
        let survivor = self.account(&path, &events);
        let node = if path.is_empty() {
            dive::Node::default()
        } else {
            dive::contribute(&mut self.stack, &path, &events, &self.heads);
            dive::Node::at(&path, &events, &self.heads, &self.stack)
        };
        let hides = survivor.1;
        let survivor = survivor.0.map(|i| {
            let (layer, e) = &mut events[i];
            Survivor { entry: std::mem::replace(e, Entry::placeholder()), layer: *layer }
        });
        self.stack.push(Frame { path, hides, dive: node });
        self.events = events;
        Ok(Some(survivor))
    }

    /// The waste rules for one path: which event survives, and the layers that hide what
    /// lower layers put under it.
    fn account(&mut self, path: &[u8], events: &[(usize, Entry)]) -> (Option<usize>, Vec<usize>) {
        let above: &[usize] = self.stack.last().map_or(&[], |f| &f.hides);
        let mut hides = above.to_vec();
        let mut current: Option<usize> = None;
        let (mut wasted, mut copies, mut hidden) = (0u64, 0u64, 0u64);
        // A copy is hidden from above once a directory above this path hides its layer
        // (whited out, made opaque or replaced by a non-directory in a higher layer).
        let hidden_from_above = |c: usize, upto: usize| {
            let l = events[c].0;
            above.iter().any(|&h| l < h && h <= upto)
        };
        let mut start = 0;
        while start < events.len() {
            let layer = events[start].0;
            let end = start + events[start..].iter().take_while(|(l, _)| *l == layer).count();
            if let Some(c) = current.filter(|&c| hidden_from_above(c, layer)) {
                wasted += events[c].1.size;
                hidden += 1;
                current = None;
            }
            // A layer's whiteouts and opaque markers first: they apply to the lower layers
            // only, whatever their place in the tar.
            for (_, e) in &events[start..end] {
                match e.kind {
                    Kind::Opaque => hides.push(layer),
                    Kind::Whiteout => {
                        if let Some(c) = current.take() {
                            wasted += events[c].1.size;
                            hidden += 1;
                        }
                        hides.push(layer);
                    }
                    _ => {}
                }
            }
            for (i, (_, e)) in events.iter().enumerate().take(end).skip(start) {
                if !e.kind.is_node() {
                    continue;
                }
                copies += 1;
                self.waste.written_bytes += e.size;
                if let Some(c) = current {
                    let merged = events[c].1.kind == Kind::Dir && e.kind == Kind::Dir;
                    if !merged {
                        wasted += events[c].1.size;
                        hidden += 1;
                    }
                }
                current = Some(i);
                if e.kind != Kind::Dir {
                    hides.push(layer);
                }
            }
            start = end;
        }
        if let Some(c) = current.filter(|&c| hidden_from_above(c, usize::MAX)) {
            wasted += events[c].1.size;
            hidden += 1;
            current = None;
        }
        hides.sort_unstable();
        hides.dedup();
        self.waste.hidden_copies += hidden;
        self.waste.wasted_bytes += wasted;
        if wasted > 0 && self.top_n > 0 {
            self.offer(path, wasted, copies);
        }
        (current, hides)
    }

    fn offer(&mut self, path: &[u8], wasted: u64, copies: u64) {
        if self.top.len() >= self.top_n {
            let Some(Reverse(least)) = self.top.peek() else { return };
            let beats = wasted > least.wasted
                || (wasted == least.wasted && path_cmp(path, &least.path).is_lt());
            if !beats {
                return;
            }
            self.top.pop();
        }
        self.top.push(Reverse(Top { wasted, path: path.to_vec(), copies }));
    }
}

impl Entry {
    fn placeholder() -> Entry {
        Entry { path: Vec::new(), kind: Kind::Other, size: 0, link: Vec::new(), content: None }
    }
}

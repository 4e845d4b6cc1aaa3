//! The changes between two images' final filesystems, from their stacked file lists.

use super::{path_cmp, Entry, FilesError, Overlay};

/// One path that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Only the second image has it.
    Added(Entry),
    /// Only the first image has it.
    Removed(Entry),
    /// Both have it, with another kind, size or link target.
    Modified {
        /// The first image's entry.
        a: Entry,
        /// The second image's entry.
        b: Entry,
    },
}

/// How many paths differ, and by how many bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiffCounts {
    /// Paths only the second image has.
    pub added: u64,
    /// Paths only the first image has.
    pub removed: u64,
    /// Paths both have, with another kind, size or link target.
    pub modified: u64,
    /// Paths both have alike (same kind, size and link target: contents are not compared).
    pub unchanged: u64,
    /// Bytes of the added files.
    pub added_bytes: u64,
    /// Bytes of the removed files.
    pub removed_bytes: u64,
    /// Σ over modified paths of the second image's size minus the first's.
    pub modified_delta_bytes: i64,
}

/// Compare the surviving entries of `a` and `b` path by path, in path order, calling `each`
/// for every path that differs. Both overlays are read to their end; their figures
/// ([`Overlay::finish`]) are still available afterwards.
pub fn diff(
    a: &mut Overlay,
    b: &mut Overlay,
    mut each: impl FnMut(Change),
) -> Result<DiffCounts, FilesError> {
    let mut counts = DiffCounts::default();
    let mut x = a.next_survivor()?;
    let mut y = b.next_survivor()?;
    loop {
        let order = match (&x, &y) {
            (None, None) => return Ok(counts),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(p), Some(q)) => path_cmp(&p.entry.path, &q.entry.path),
        };
        match order {
            std::cmp::Ordering::Less => {
                if let Some(p) = x.take() {
                    counts.removed += 1;
                    counts.removed_bytes = counts.removed_bytes.saturating_add(p.entry.size);
                    each(Change::Removed(p.entry));
                }
                x = a.next_survivor()?;
            }
            std::cmp::Ordering::Greater => {
                if let Some(q) = y.take() {
                    counts.added += 1;
                    counts.added_bytes = counts.added_bytes.saturating_add(q.entry.size);
                    each(Change::Added(q.entry));
                }
                y = b.next_survivor()?;
            }
            std::cmp::Ordering::Equal => {
                if let (Some(p), Some(q)) = (x.take(), y.take()) {
                    let (p, q) = (p.entry, q.entry);
                    if p.kind == q.kind && p.size == q.size && p.link == q.link {
                        counts.unchanged += 1;
                    } else {
                        counts.modified += 1;
                        let delta = i128::from(q.size) - i128::from(p.size);
                        // Lossless after the clamp.
                        let delta = delta.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
                        counts.modified_delta_bytes =
                            counts.modified_delta_bytes.saturating_add(delta);
                        each(Change::Modified { a: p, b: q });
                    }
                }
                x = a.next_survivor()?;
                y = b.next_survivor()?;
            }
        }
    }
}

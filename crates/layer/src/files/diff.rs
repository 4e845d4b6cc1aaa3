//! The changes between two images' final filesystems, from their stacked file lists.

use super::{path_cmp, Entry, FilesError, Overlay};

/// One path that differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// Only the second image has it.
    Added(Entry),
    /// Only the first image has it.
    Removed(Entry),
    /// Both have it, with another kind, size, link target or content.
    Modified {
        /// The first image's entry.
        a: Entry,
        /// The second image's entry.
        b: Entry,
        /// What differs (never empty).
        reasons: Reasons,
    },
}

/// One thing that differs between two entries at the same path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Reason {
    /// The kind (`file`, `dir`, `symlink`, …).
    Kind,
    /// A regular file's size.
    Size,
    /// A link's target.
    Link,
    /// The bytes of a regular file (or of a hardlink's target), by their digest.
    Content,
}

impl Reason {
    /// Every reason, in the order they are listed.
    pub const ALL: [Reason; 4] = [Reason::Kind, Reason::Size, Reason::Link, Reason::Content];

    /// The lowercase name used in JSON (`kind`, `size`, `link`, `content`).
    pub fn name(self) -> &'static str {
        match self {
            Reason::Kind => "kind",
            Reason::Size => "size",
            Reason::Link => "link",
            Reason::Content => "content",
        }
    }

    fn bit(self) -> u8 {
        match self {
            Reason::Kind => 1,
            Reason::Size => 2,
            Reason::Link => 4,
            Reason::Content => 8,
        }
    }
}

/// The set of [`Reason`]s two entries at one path differ by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Reasons(u8);

impl Reasons {
    /// What differs between `a` and `b`: kind, size, link target, and content when both
    /// have a content digest (regular files, and hardlinks whose target was resolved in
    /// their layer).
    pub fn between(a: &Entry, b: &Entry) -> Reasons {
        let mut r = Reasons::default();
        let differs = [
            (Reason::Kind, a.kind != b.kind),
            (Reason::Size, a.size != b.size),
            (Reason::Link, a.link != b.link),
            (Reason::Content, matches!((a.content, b.content), (Some(x), Some(y)) if x != y)),
        ];
        for (reason, d) in differs {
            if d {
                r.0 |= reason.bit();
            }
        }
        r
    }

    /// Whether nothing differs.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `reason` is one of them.
    pub fn contains(self, reason: Reason) -> bool {
        self.0 & reason.bit() != 0
    }

    /// Whether only the contents differ (same kind, size and link target).
    pub fn content_only(self) -> bool {
        self.0 == Reason::Content.bit()
    }

    /// The reasons, in [`Reason::ALL`]'s order.
    pub fn iter(self) -> impl Iterator<Item = Reason> {
        Reason::ALL.into_iter().filter(move |r| self.contains(*r))
    }
}

/// How many paths differ, and by how many bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct DiffCounts {
    /// Paths only the second image has.
    pub added: u64,
    /// Paths only the first image has.
    pub removed: u64,
    /// Paths both have, with another kind, size, link target or content.
    pub modified: u64,
    /// Of the modified paths, those whose kind, size and link target are the same: only
    /// their contents differ.
    pub content_modified: u64,
    /// Paths both have alike (same kind, size, link target and content).
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
                    let reasons = Reasons::between(&p, &q);
                    if reasons.is_empty() {
                        counts.unchanged += 1;
                    } else {
                        counts.modified += 1;
                        counts.content_modified += u64::from(reasons.content_only());
                        let delta = i128::from(q.size) - i128::from(p.size);
                        // Lossless after the clamp.
                        let delta = delta.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
                        counts.modified_delta_bytes =
                            counts.modified_delta_bytes.saturating_add(delta);
                        each(Change::Modified { a: p, b: q, reasons });
                    }
                }
                x = a.next_survivor()?;
                y = b.next_survivor()?;
            }
        }
    }
}

//! Waste inside an image: what each layer writes, path by path, and what the layers above
//! hide of it.
//!
//! When asked ([`crate::Limits::files`]), the tar walk records every entry of a layer in a
//! [`FileList`]: its normalized path, its kind (file, directory, link, whiteout, opaque
//! marker…), the size its tar header gives and, for a regular file, a [`ContentDigest`] of
//! its body, hashed as the body passes (a hardlink has its target's). The walk stays the
//! one pass over the layer;
//! layers are measured independently (in parallel). Afterwards an [`Overlay`] combines the
//! lists of an image, base first, in one merge by path:
//!
//! - [`Waste::wasted_bytes`]: the bytes of every copy that a later layer overwrote, whited
//!   out (`.wh.<name>`, a directory's whole subtree) or hid under an opaque directory
//!   (`.wh..wh..opq`) — what squashing the image would free. The surviving copy never counts.
//! - [`Waste::dive`]: dive's efficiency score and "wasted space", computed as dive computes
//!   them (`dive/filetree/efficiency.go`), so the figures compare.
//! - the surviving entries, in path order: the image's final filesystem, which
//!   [`diff`](crate::files::diff()) compares between two images by kind, size, link target
//!   and content ([`Reasons`]).
//!
//! Sizes are tar header sizes of regular files (a hardlink, a directory, a symlink, a device
//! carries 0 bytes): data whose every name is whited out counts once. Memory stays bounded:
//! a layer's entries are kept in one arena up to [`crate::Limits::max_file_list_memory`]
//! bytes, then sorted, front-coded and spilled to an unlinked temporary file; the merge reads
//! every list sequentially, so it holds one entry per sorted run and one frame per directory
//! level of the current path. See `docs/waste.md`.
//!
//! ```
//! use ocisize_layer::files::{Kind, Recorder, Overlay};
//!
//! let mut base = Recorder::new(1 << 20);
//! base.record("etc", Kind::Dir, 0, "");
//! base.record("etc/big", Kind::File, 1000, "");
//! let mut top = Recorder::new(1 << 20);
//! top.record("etc/big", Kind::Whiteout, 0, "");
//! let lists = [base.finish().unwrap(), top.finish().unwrap()];
//! let waste = Overlay::new(&lists, 20).unwrap().finish().unwrap();
//! assert_eq!(waste.wasted_bytes, 1000);
//! assert_eq!(waste.top[0].path, "etc/big");
//! assert_eq!(waste.dive.efficiency, 0.0); // dive: 0 bytes kept of 1000 seen
//! ```

mod content;
mod diff;
mod dive;
mod overlay;
mod record;
mod walk;

pub use content::{ContentDigest, CONTENT_WIDTH};
pub use diff::{diff, Change, DiffCounts, Reason, Reasons};
pub use overlay::{DiveFigures, Overlay, Survivor, Waste, WastedPath};
pub use record::{Entry, FileList, Recorder};
pub(crate) use walk::{set_content, LayerRecorder, TarEntry};

use serde::Serialize;

/// What a recorded entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A regular file (tar types `0`, NUL and `7`).
    File,
    /// A directory.
    Dir,
    /// A symbolic link (its target is kept).
    Symlink,
    /// A hard link (its cleaned target is kept); 0 bytes.
    Hardlink,
    /// A character or block device, a FIFO, or a type ocisize does not know.
    Other,
    /// `.wh.<name>`: recorded at the path it deletes, `<dir>/<name>`.
    Whiteout,
    /// `.wh..wh..opq`: recorded at the directory whose lower contents it hides.
    Opaque,
}

impl Kind {
    fn to_u8(self) -> u8 {
        match self {
            Kind::File => 0,
            Kind::Dir => 1,
            Kind::Symlink => 2,
            Kind::Hardlink => 3,
            Kind::Other => 4,
            Kind::Whiteout => 5,
            Kind::Opaque => 6,
        }
    }

    fn from_u8(b: u8) -> Option<Kind> {
        Some(match b {
            0 => Kind::File,
            1 => Kind::Dir,
            2 => Kind::Symlink,
            3 => Kind::Hardlink,
            4 => Kind::Other,
            5 => Kind::Whiteout,
            6 => Kind::Opaque,
            _ => return None,
        })
    }

    /// Whether the entry is something on the filesystem (not a whiteout or opaque marker).
    pub fn is_node(self) -> bool {
        !matches!(self, Kind::Whiteout | Kind::Opaque)
    }

    /// The lowercase name used in JSON (`file`, `dir`, `symlink`, …).
    pub fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "dir",
            Kind::Symlink => "symlink",
            Kind::Hardlink => "hardlink",
            Kind::Other => "other",
            Kind::Whiteout => "whiteout",
            Kind::Opaque => "opaque",
        }
    }

    fn has_link(self) -> bool {
        matches!(self, Kind::Symlink | Kind::Hardlink)
    }
}

/// Why a file list could not be made or read back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilesError {
    /// Writing or reading the temporary file that holds a large list failed.
    #[error("cannot use the file list's temporary file: {message}")]
    Spill {
        /// The I/O error's kind.
        kind: std::io::ErrorKind,
        /// The I/O error's text.
        message: String,
    },
    /// The spill file does not decode (it was changed under us).
    #[error("file list spill file is corrupt at byte {offset} of a run")]
    Corrupt {
        /// Where in the run decoding failed.
        offset: u64,
    },
}

impl From<std::io::Error> for FilesError {
    fn from(e: std::io::Error) -> Self {
        FilesError::Spill { kind: e.kind(), message: e.to_string() }
    }
}

/// Order paths component by component, so that a directory's subtree follows it
/// contiguously: `a` < `a/b` < `a/c` < `a-b` (byte order would put `a-b` before `a/b`).
pub fn path_cmp(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match a.iter().zip(b).position(|(x, y)| x != y) {
        Some(i) => {
            // The side whose component ends here ('/') is the shorter component: smaller.
            if a[i] == b'/' {
                Ordering::Less
            } else if b[i] == b'/' {
                Ordering::Greater
            } else {
                a[i].cmp(&b[i])
            }
        }
        None => a.len().cmp(&b.len()),
    }
}

/// Whether `path` is strictly inside directory `dir` (`""` is the root).
pub fn is_under(path: &[u8], dir: &[u8]) -> bool {
    if dir.is_empty() {
        return !path.is_empty();
    }
    path.len() > dir.len() && path.starts_with(dir) && path[dir.len()] == b'/'
}

#[cfg(test)]
mod content_tests;
#[cfg(test)]
mod tests;

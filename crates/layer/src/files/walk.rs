//! The tar walker's side of recording: which tar entries become which [`Kind`]s, and the
//! digest of each regular file's body, taken as the body passes (the walk's one pass over
//! the layer: no body is read twice or buffered).

use super::content::{ContentDigest, ContentHasher};
use super::{FileList, FilesError, Kind, Recorder};

/// The regular file whose body is passing.
#[derive(Debug, Default)]
struct Body {
    /// Its path (a buffer reused from file to file).
    path: String,
    size: u64,
    /// The walker's inode of the file.
    inode: usize,
    /// Bytes of the body still to come.
    left: u64,
    /// Whether no byte of it was hashed yet (a body inside one chunk is hashed at once).
    fresh: bool,
    active: bool,
}

/// Records one layer's entries for a [`TarWalker`](crate::TarWalker), regular files with the
/// digest of their body.
#[derive(Debug)]
pub(crate) struct LayerRecorder {
    recorder: Recorder,
    hasher: ContentHasher,
    body: Body,
}

/// An inode of the walker (its index) whose content is now known.
pub(crate) type Content = Option<(usize, ContentDigest)>;

/// Note the content of an inode (in the walker's table of them) whose body has passed.
pub(crate) fn set_content(contents: &mut [Option<ContentDigest>], done: Content) {
    if let Some((i, d)) = done {
        if let Some(c) = contents.get_mut(i) {
            *c = Some(d);
        }
    }
}

/// One tar entry as the walker read it.
pub(crate) struct TarEntry<'a> {
    /// The cleaned path.
    pub(crate) path: &'a str,
    /// Its last component.
    pub(crate) base: &'a str,
    /// The tar type flag.
    pub(crate) kind: u8,
    /// The size (PAX `size` applied).
    pub(crate) size: u64,
    /// The link target as written.
    pub(crate) link: &'a str,
}

impl LayerRecorder {
    pub(crate) fn new(budget: u64) -> LayerRecorder {
        LayerRecorder {
            recorder: Recorder::new(budget),
            hasher: ContentHasher::new(),
            body: Body::default(),
        }
    }

    /// Record one tar entry. Whiteouts are recognized by name whatever their type, as moby's
    /// `UnpackLayer` does (`pkg/archive/diff.go`); other `.wh..wh.` names are aufs metadata,
    /// skipped there too. The root directory itself is no entry.
    ///
    /// A regular file is recorded once its body has passed ([`LayerRecorder::body`]), with the
    /// digest of its bytes; `inode` is the walker's inode for it. A hardlink has the content
    /// of its target, `link_content`, when its target is a regular file earlier in the layer
    /// (a hard link to a lower layer's file has none: only the merge could resolve it).
    pub(crate) fn entry(
        &mut self,
        e: &TarEntry<'_>,
        link_content: Option<ContentDigest>,
        inode: usize,
    ) -> Content {
        let TarEntry { path, base, kind, size, link } = *e;
        let files = &mut self.recorder;
        let parent = path.rfind('/').map_or("", |i| &path[..i]);
        if base == ".wh..wh..opq" {
            files.record(parent, Kind::Opaque, 0, "");
            return None;
        }
        if base.starts_with(".wh..wh.") || path.starts_with(".wh..wh.") {
            return None;
        }
        if let Some(name) = base.strip_prefix(".wh.") {
            if !name.is_empty() {
                let target =
                    if parent.is_empty() { name.to_owned() } else { format!("{parent}/{name}") };
                files.record(&target, Kind::Whiteout, 0, "");
            }
            return None;
        }
        if path.is_empty() {
            return None;
        }
        match kind {
            b'0' | 0 | b'7' => {
                let b = &mut self.body;
                b.path.clear();
                b.path.push_str(path);
                (b.size, b.inode, b.left, b.fresh, b.active) = (size, inode, size, true, true);
                if size == 0 {
                    return self.body(&[]);
                }
            }
            b'1' => {
                let link = ocisize_spec::path::clean(link, ocisize_spec::path::AtRoot::Clamp)
                    .unwrap_or_default();
                files.record_with_content(path, Kind::Hardlink, 0, &link, link_content);
            }
            b'2' => files.record(path, Kind::Symlink, 0, link),
            b'5' => files.record(path, Kind::Dir, 0, ""),
            _ => files.record(path, Kind::Other, 0, ""),
        }
        None
    }

    /// The next bytes after a header: the pending regular file's body, then its padding
    /// (ignored). When the body is complete the file is recorded, and its content returned.
    pub(crate) fn body(&mut self, bytes: &[u8]) -> Content {
        let b = &mut self.body;
        if !b.active {
            return None;
        }
        // At most `left` bytes, which fits in usize when it is smaller than `bytes.len()`.
        let take = usize::try_from(b.left).map_or(bytes.len(), |l| l.min(bytes.len()));
        let bytes = &bytes[..take];
        b.left -= take as u64;
        let digest = if b.fresh && b.left == 0 {
            ContentDigest::of(bytes)
        } else {
            b.fresh = false;
            self.hasher.update(bytes);
            if b.left > 0 {
                return None;
            }
            self.hasher.finish()
        };
        b.active = false;
        self.recorder.record_with_content(&b.path, Kind::File, b.size, "", Some(digest));
        Some((b.inode, digest))
    }

    pub(crate) fn finish(self) -> Result<FileList, FilesError> {
        self.recorder.finish()
    }
}

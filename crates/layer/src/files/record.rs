//! Recording one layer's entries during the walk, and reading them back in path order.
//!
//! Entries go into one arena (path and link bytes) with a fixed-size record each. When the
//! arena and records pass the memory budget they are sorted by path ([`path_cmp`]), front-coded
//! (each path stored as the length it shares with the previous one plus the rest) and
//! appended as one sorted run to an unlinked temporary file. The last run stays in memory.
//! A regular file's content digest is stored after its link, at its fixed width.
//! Reading back merges the runs of the layer: runs are in tar order, so for one path the
//! earlier run's entries come first and tar order is kept.

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::sync::Arc;

use ocisize_digest::RangeReader;

use super::content::{ContentDigest, CONTENT_WIDTH};
use super::{path_cmp, FilesError, Kind};

/// One recorded entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The path, normalized as the walker does (`ocisize_spec::path::clean`, `..` clamped at
    /// the root, no leading `/`); a whiteout's is the path it deletes.
    pub path: Vec<u8>,
    /// What it is.
    pub kind: Kind,
    /// The tar header size of a regular file; 0 for everything else.
    pub size: u64,
    /// A symlink's target as written, a hardlink's target cleaned; empty otherwise.
    pub link: Vec<u8>,
    /// The digest of a regular file's body; a hardlink's is its target's when the target is
    /// a regular file of the same layer. `None` for everything else.
    pub content: Option<ContentDigest>,
}

impl Entry {
    /// The path as text (paths are decoded from the tar as UTF-8 already).
    pub fn path_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.path)
    }

    /// The link target as text.
    pub fn link_str(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.link)
    }
}

/// A record of the unsorted chunk: where its bytes are in the arena.
#[derive(Clone, Copy, Debug)]
struct Pending {
    path: u32,
    path_len: u32,
    link_len: u32,
    kind: Kind,
    /// Whether [`CONTENT_WIDTH`] bytes of content digest follow the link in the arena.
    content: bool,
    size: u64,
}

/// The kind byte's flag for a content digest after the link.
const HAS_CONTENT: u8 = 0x80;

/// Bytes one [`Pending`] costs, for the budget.
const PENDING: usize = std::mem::size_of::<Pending>();
/// The arena is addressed with u32 offsets: the budget is clamped below that.
const MAX_BUDGET: u64 = 1 << 30;

/// Where a sorted run is.
#[derive(Clone, Debug)]
enum Run {
    Memory(Arc<[u8]>),
    Spilled { offset: u64, len: u64 },
}

/// A layer's recorded entries: a handle (cloning it is cheap) to sorted runs in memory and
/// in an unlinked temporary file.
#[derive(Clone, Debug)]
pub struct FileList {
    runs: Arc<[Run]>,
    spill: Option<Arc<File>>,
    entries: u64,
}

impl FileList {
    /// Entries recorded (whiteouts and opaque markers included).
    pub fn len(&self) -> u64 {
        self.entries
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Sorted runs the list is made of (1 unless it spilled).
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Bytes of the list that live on disk.
    pub fn spilled_bytes(&self) -> u64 {
        self.runs.iter().map(|r| if let Run::Spilled { len, .. } = r { *len } else { 0 }).sum()
    }

    /// The entries in path order ([`path_cmp`]); for one path, in tar order.
    pub fn iter(&self) -> Result<Entries, FilesError> {
        let mut runs = Vec::with_capacity(self.runs.len());
        for r in self.runs.iter() {
            let src: Box<dyn BufRead + Send> = match r {
                Run::Memory(b) => Box::new(io::Cursor::new(b.clone())),
                Run::Spilled { offset, len } => {
                    let file = self.spill.clone().ok_or(FilesError::Corrupt { offset: 0 })?;
                    // Positioned reads: several readers may share the spill file.
                    let at = RangeReader::new(file, *offset, *len);
                    Box::new(io::BufReader::with_capacity(64 * 1024, at))
                }
            };
            let mut c = RunCursor { src, prev: Vec::new(), read: 0 };
            let head = c.next()?;
            runs.push((head, c));
        }
        Ok(Entries { runs })
    }
}

/// Equal when both lists hold the same entries in the same order (read back to compare; a
/// list that cannot be read compares unequal).
impl PartialEq for FileList {
    fn eq(&self, other: &Self) -> bool {
        if self.entries != other.entries {
            return false;
        }
        let (Ok(mut a), Ok(mut b)) = (self.iter(), other.iter()) else { return false };
        loop {
            match (a.next(), b.next()) {
                (Ok(None), Ok(None)) => return true,
                (Ok(x), Ok(y)) if x == y => {}
                _ => return false,
            }
        }
    }
}

impl Eq for FileList {}

/// Builds a [`FileList`] while a layer is walked.
#[derive(Debug)]
pub struct Recorder {
    arena: Vec<u8>,
    pending: Vec<Pending>,
    budget: usize,
    runs: Vec<Run>,
    spill: Option<(BufWriter<File>, u64)>,
    entries: u64,
    failed: Option<io::Error>,
}

impl Recorder {
    /// A recorder that keeps up to `budget` bytes of unsorted entries in memory (at most
    /// 1 GiB) before it spills a sorted run to a temporary file.
    pub fn new(budget: u64) -> Self {
        Recorder {
            arena: Vec::new(),
            pending: Vec::new(),
            // Lossless: clamped to 1 GiB.
            budget: budget.min(MAX_BUDGET) as usize,
            runs: Vec::new(),
            spill: None,
            entries: 0,
            failed: None,
        }
    }

    /// Record one entry (see [`Entry`] for what path, size and link mean), without content.
    pub fn record(&mut self, path: &str, kind: Kind, size: u64, link: &str) {
        self.record_with_content(path, kind, size, link, None);
    }

    /// Record one entry with the digest of its content (kept for regular files and hardlinks
    /// only).
    pub fn record_with_content(
        &mut self,
        path: &str,
        kind: Kind,
        size: u64,
        link: &str,
        content: Option<ContentDigest>,
    ) {
        if self.failed.is_some() {
            return;
        }
        let link = if kind.has_link() { link.as_bytes() } else { &[] };
        let size = if kind == Kind::File { size } else { 0 };
        let content = content.filter(|_| matches!(kind, Kind::File | Kind::Hardlink));
        let at = self.arena.len();
        self.arena.extend_from_slice(path.as_bytes());
        self.arena.extend_from_slice(link);
        if let Some(c) = &content {
            self.arena.extend_from_slice(c.as_bytes());
        }
        // The arena is flushed before it reaches 1 GiB, and one path or link is at most the
        // walker's 1 MiB meta limit, so these fit in u32.
        let fit = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        self.pending.push(Pending {
            path: fit(at),
            path_len: fit(path.len()),
            link_len: fit(link.len()),
            kind,
            content: content.is_some(),
            size,
        });
        self.entries += 1;
        if self.arena.len() + self.pending.len() * PENDING >= self.budget {
            if let Err(e) = self.spill_chunk() {
                self.failed = Some(e);
            }
        }
    }

    /// Sort and front-code the pending chunk.
    fn encode_chunk(&mut self) -> Vec<u8> {
        let arena = &self.arena;
        let path = |p: &Pending| &arena[p.path as usize..(p.path + p.path_len) as usize];
        // Stable: one path's entries keep their tar order.
        self.pending.sort_by(|a, b| path_cmp(path(a), path(b)));
        let mut out = Vec::with_capacity(self.pending.len() * 16);
        let mut prev: &[u8] = &[];
        for p in &self.pending {
            let cur = path(p);
            let shared = prev.iter().zip(cur).take_while(|(a, b)| a == b).count();
            put_varint(&mut out, shared as u64);
            put_varint(&mut out, (cur.len() - shared) as u64);
            out.extend_from_slice(&cur[shared..]);
            out.push(p.kind.to_u8() | if p.content { HAS_CONTENT } else { 0 });
            put_varint(&mut out, p.size);
            let link = (p.path + p.path_len) as usize;
            let end = link + p.link_len as usize;
            if p.kind.has_link() {
                put_varint(&mut out, u64::from(p.link_len));
                out.extend_from_slice(&arena[link..end]);
            }
            if p.content {
                out.extend_from_slice(&arena[end..end + CONTENT_WIDTH]);
            }
            prev = cur;
        }
        self.pending.clear();
        self.arena.clear();
        out
    }

    fn spill_chunk(&mut self) -> io::Result<()> {
        let run = self.encode_chunk();
        if self.spill.is_none() {
            self.spill = Some((BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?), 0));
        }
        if let Some((w, end)) = self.spill.as_mut() {
            w.write_all(&run)?;
            self.runs.push(Run::Spilled { offset: *end, len: run.len() as u64 });
            *end += run.len() as u64;
        }
        // Give the chunk's memory back: the next chunk grows again as needed.
        self.arena.shrink_to(self.budget / 2);
        Ok(())
    }

    /// The list, or why it could not be spilled.
    pub fn finish(mut self) -> Result<FileList, FilesError> {
        if let Some(e) = self.failed.take() {
            return Err(e.into());
        }
        if !self.pending.is_empty() || self.runs.is_empty() {
            let run = self.encode_chunk();
            self.runs.push(Run::Memory(run.into()));
        }
        let spill = match self.spill.take() {
            Some((w, _)) => {
                Some(Arc::new(w.into_inner().map_err(|e| FilesError::from(e.into_error()))?))
            }
            None => None,
        };
        Ok(FileList { runs: self.runs.into(), spill, entries: self.entries })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes one sorted run.
struct RunCursor {
    src: Box<dyn BufRead + Send>,
    prev: Vec<u8>,
    read: u64,
}

impl RunCursor {
    fn byte(&mut self) -> Result<Option<u8>, FilesError> {
        let buf = self.src.fill_buf().map_err(FilesError::from)?;
        let Some(&b) = buf.first() else { return Ok(None) };
        self.src.consume(1);
        self.read += 1;
        Ok(Some(b))
    }

    fn corrupt(&self) -> FilesError {
        FilesError::Corrupt { offset: self.read }
    }

    fn varint(&mut self) -> Result<u64, FilesError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?.ok_or_else(|| self.corrupt())?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.corrupt())
    }

    fn bytes(&mut self, n: u64, out: &mut Vec<u8>) -> Result<(), FilesError> {
        let before = out.len();
        (&mut self.src).take(n).read_to_end(out).map_err(FilesError::from)?;
        self.read += (out.len() - before) as u64;
        if ((out.len() - before) as u64) < n {
            return Err(self.corrupt());
        }
        Ok(())
    }

    fn next(&mut self) -> Result<Option<Entry>, FilesError> {
        let first = {
            let buf = self.src.fill_buf().map_err(FilesError::from)?;
            buf.is_empty()
        };
        if first {
            return Ok(None);
        }
        let shared = self.varint()?;
        let rest = self.varint()?;
        let shared = usize::try_from(shared).ok().filter(|&s| s <= self.prev.len());
        let Some(shared) = shared else { return Err(self.corrupt()) };
        let mut path = Vec::with_capacity(shared + rest.min(1 << 20) as usize);
        path.extend_from_slice(&self.prev[..shared]);
        self.bytes(rest, &mut path)?;
        let byte = self.byte()?.ok_or_else(|| self.corrupt())?;
        let kind = Kind::from_u8(byte & !HAS_CONTENT).ok_or_else(|| self.corrupt())?;
        let size = self.varint()?;
        let mut link = Vec::new();
        if kind.has_link() {
            let n = self.varint()?;
            self.bytes(n, &mut link)?;
        }
        let content = if byte & HAS_CONTENT != 0 {
            let mut d = [0u8; CONTENT_WIDTH];
            self.src.read_exact(&mut d).map_err(|_| self.corrupt())?;
            self.read += CONTENT_WIDTH as u64;
            Some(ContentDigest::from_bytes(d))
        } else {
            None
        };
        self.prev.clear();
        self.prev.extend_from_slice(&path);
        Ok(Some(Entry { path, kind, size, link, content }))
    }
}

/// The entries of one [`FileList`], in path order.
pub struct Entries {
    /// Each run's next entry and the run.
    runs: Vec<(Option<Entry>, RunCursor)>,
}

impl std::fmt::Debug for Entries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entries").field("runs", &self.runs.len()).finish()
    }
}

impl Entries {
    /// The next entry; for one path, the earliest run's first (tar order).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry>, FilesError> {
        let mut best: Option<usize> = None;
        for (i, (head, _)) in self.runs.iter().enumerate() {
            let Some(h) = head else { continue };
            best = match best {
                Some(b) => match &self.runs[b].0 {
                    Some(bh) if path_cmp(&h.path, &bh.path).is_lt() => Some(i),
                    _ => Some(b),
                },
                None => Some(i),
            };
        }
        let Some(b) = best else { return Ok(None) };
        let (head, cursor) = &mut self.runs[b];
        let next = cursor.next()?;
        Ok(std::mem::replace(head, next))
    }
}

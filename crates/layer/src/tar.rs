//! A push-style tar header walker: fed arbitrary chunks of an uncompressed layer, it parses
//! headers, skips bodies without copying them, and accumulates [`TarStats`].

use std::collections::HashMap;

use serde::Serialize;

use crate::files::{set_content, ContentDigest, FileList, FilesError, LayerRecorder, TarEntry};
use crate::header::{cstr, numeric, octal};

const BLOCK: usize = 512;
/// Largest PAX or GNU long-name body kept in memory.
const MAX_META: u64 = 1 << 20;

/// What a walk over a layer tar found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TarStats {
    /// Entries (meta entries such as PAX headers and GNU long names are not entries).
    pub entries: u64,
    /// Regular files (whiteouts excluded).
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Hard links.
    pub hardlinks: u64,
    /// `.wh.<name>` whiteouts.
    pub whiteouts: u64,
    /// `.wh..wh..opq` opaque-directory markers.
    pub opaque_dirs: u64,
    /// Character and block devices, FIFOs.
    pub other: u64,
    /// Whether the two zero blocks that end a tar were present. umoci 0.4.7 writes layers
    /// without them; docker, containerd, podman and skopeo accept such layers.
    pub end_of_archive: bool,
    /// What dockerd's vfs driver records as the layer size: moby's `UnpackLayer` adds the
    /// header size field of every entry it reads (`size += hdr.Size`).
    pub docker_vfs_size: u64,
    /// What dockerd's overlay2 driver reports: moby's `directory.Size` over the unpacked layer
    /// directory, i.e. the apparent size of every non-directory entry with a non-zero size,
    /// counted once per inode; a symlink's size is the length of its target; whiteouts become
    /// 0/0 character devices and count nothing.
    pub docker_overlay2_size: u64,
}

/// Why a layer is not a valid tar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[non_exhaustive]
pub enum TarError {
    /// A header's checksum does not match its bytes.
    #[error(
        "tar header at offset {offset} has a bad checksum: stored {stored}, computed {computed}"
    )]
    BadChecksum {
        /// Byte offset of the header.
        offset: u64,
        /// The checksum in the header.
        stored: u64,
        /// The checksum of the header's bytes.
        computed: u64,
    },
    /// The stream ends inside a header or an entry's body.
    #[error("tar ends inside the entry at offset {offset}")]
    Truncated {
        /// Byte offset of the unfinished header.
        offset: u64,
    },
    /// A header field cannot be parsed.
    #[error("tar header at offset {offset} is malformed: {reason}")]
    BadHeader {
        /// Byte offset of the header.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// More entries than allowed.
    #[error("tar has more than {limit} entries")]
    TooManyEntries {
        /// The limit.
        limit: u64,
    },
}

#[derive(Debug)]
enum State {
    /// Collecting a 512-byte header.
    Header,
    /// Skipping `n` more bytes (body and padding).
    Skip(u64),
    /// Collecting a meta entry's body, then skipping its padding.
    Meta { kind: u8, remaining: u64, pad: u64 },
    /// After the end-of-archive blocks: everything else is padding.
    End,
    /// A previous error.
    Failed(TarError),
}

#[derive(Debug, Default)]
struct Overrides {
    path: Option<String>,
    linkpath: Option<String>,
    size: Option<u64>,
}

/// A streaming tar walker.
///
/// ```
/// use ocisize_layer::TarWalker;
///
/// let mut w = TarWalker::new(u64::MAX);
/// w.update(&[0u8; 1024]); // an empty tar: two zero blocks
/// let stats = w.finish().unwrap();
/// assert_eq!(stats.entries, 0);
/// assert!(stats.end_of_archive);
/// ```
#[derive(Debug)]
pub struct TarWalker {
    state: State,
    header: Vec<u8>,
    meta: Vec<u8>,
    pos: u64,
    header_start: u64,
    zero_blocks: u32,
    /// The padding at the end of the current skip: a stream that ends exactly where an
    /// entry's body ends, before any of its padding, is complete (Go's reader returns io.EOF
    /// there, and umoci 0.4.7 writes such layers).
    skip_pad: u64,
    stats: TarStats,
    max_entries: u64,
    pending: Overrides,
    /// Path → inode index, for the overlay2 figure.
    paths: HashMap<String, usize>,
    /// Inode sizes.
    inodes: Vec<u64>,
    /// Every entry, for the cross-layer file accounting, when asked for.
    files: Option<LayerRecorder>,
    /// Each inode's content digest, when recording: a hardlink's content is its target's.
    contents: Vec<Option<ContentDigest>>,
}

/// Normalize an entry path: `./a/b/` and `a/b` are the same file, and `..` stops at the
/// root as it does when moby unpacks a layer.
fn clean(path: &str) -> String {
    ocisize_spec::path::clean(path, ocisize_spec::path::AtRoot::Clamp).unwrap_or_default()
}

fn pad(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

impl TarWalker {
    /// A walker that fails after `max_entries` entries.
    pub fn new(max_entries: u64) -> Self {
        TarWalker {
            state: State::Header,
            header: Vec::with_capacity(BLOCK),
            meta: Vec::new(),
            pos: 0,
            header_start: 0,
            zero_blocks: 0,
            skip_pad: 0,
            stats: TarStats::default(),
            max_entries,
            pending: Overrides::default(),
            paths: HashMap::new(),
            inodes: Vec::new(),
            files: None,
            contents: Vec::new(),
        }
    }

    /// Also record every entry in a [`FileList`] (see [`crate::files`]), with the digest of
    /// each regular file's body, keeping up to `memory` bytes of it in memory before sorted
    /// runs spill to a temporary file.
    pub fn record_files(mut self, memory: u64) -> Self {
        self.files = Some(LayerRecorder::new(memory));
        self
    }

    /// Feed the next chunk of the uncompressed stream.
    pub fn update(&mut self, mut chunk: &[u8]) {
        while !chunk.is_empty() {
            match &mut self.state {
                State::Failed(_) | State::End => {
                    self.pos += chunk.len() as u64;
                    return;
                }
                State::Skip(n) => {
                    let take = (*n).min(chunk.len() as u64);
                    *n -= take;
                    if *n == 0 {
                        self.state = State::Header;
                    }
                    // `take` is at most chunk.len(), so the cast is lossless.
                    if let Some(files) = self.files.as_mut() {
                        let done = files.body(&chunk[..take as usize]);
                        set_content(&mut self.contents, done);
                    }
                    chunk = &chunk[take as usize..];
                    self.pos += take;
                }
                State::Meta { remaining, pad, .. } => {
                    let take = (*remaining).min(chunk.len() as u64);
                    self.meta.extend_from_slice(&chunk[..take as usize]);
                    *remaining -= take;
                    chunk = &chunk[take as usize..];
                    self.pos += take;
                    if *remaining == 0 {
                        let pad = *pad;
                        if let State::Meta { kind, .. } =
                            std::mem::replace(&mut self.state, State::Header)
                        {
                            self.finish_meta(kind);
                        }
                        if pad > 0 && !matches!(self.state, State::Failed(_)) {
                            self.skip_pad = 0;
                            self.state = State::Skip(pad);
                        }
                    }
                }
                State::Header => {
                    if self.header.is_empty() {
                        self.header_start = self.pos;
                    }
                    let take = (BLOCK - self.header.len()).min(chunk.len());
                    self.header.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    self.pos += take as u64;
                    if self.header.len() == BLOCK {
                        let h = std::mem::take(&mut self.header);
                        self.header_block(&h);
                        self.header = h;
                        self.header.clear();
                    }
                }
            }
        }
    }

    fn fail(&mut self, e: TarError) {
        self.state = State::Failed(e);
    }

    fn header_block(&mut self, h: &[u8]) {
        let offset = self.header_start;
        if h.iter().all(|&b| b == 0) {
            self.zero_blocks += 1;
            if self.zero_blocks >= 2 {
                self.stats.end_of_archive = true;
                self.state = State::End;
            }
            return;
        }
        if self.zero_blocks > 0 {
            self.fail(TarError::BadHeader {
                offset,
                reason: "a single zero block is followed by a header".into(),
            });
            return;
        }
        let Some(stored) = octal(&h[148..156]) else {
            self.fail(TarError::BadHeader { offset, reason: "checksum field is not octal".into() });
            return;
        };
        let unsigned: u64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) })
            .sum();
        let signed: i64 = h
            .iter()
            .enumerate()
            .map(|(i, &b)| if (148..156).contains(&i) { 32 } else { i64::from(b as i8) })
            .sum();
        if stored != unsigned && i64::try_from(stored).ok() != Some(signed) {
            self.fail(TarError::BadChecksum { offset, stored, computed: unsigned });
            return;
        }
        let kind = h[156];
        let Some(header_size) = numeric(&h[124..136]) else {
            self.fail(TarError::BadHeader { offset, reason: "size field is not a number".into() });
            return;
        };
        match kind {
            b'x' | b'g' | b'L' | b'K' => {
                if header_size > MAX_META {
                    self.fail(TarError::BadHeader {
                        offset,
                        reason: format!("meta entry of {header_size} bytes is over {MAX_META}"),
                    });
                    return;
                }
                self.meta.clear();
                let p = pad(header_size);
                if header_size == 0 {
                    self.finish_meta(kind);
                    if p > 0 {
                        self.skip_pad = 0;
                        self.state = State::Skip(p);
                    }
                } else {
                    self.state = State::Meta { kind, remaining: header_size, pad: p };
                }
                return;
            }
            _ => {}
        }
        self.stats.entries += 1;
        if self.stats.entries > self.max_entries {
            self.fail(TarError::TooManyEntries { limit: self.max_entries });
            return;
        }
        let pending = std::mem::take(&mut self.pending);
        let size = pending.size.unwrap_or(header_size);
        let name = pending.path.unwrap_or_else(|| {
            let name = cstr(&h[0..100]);
            // POSIX ustar ("ustar\0") has a prefix field; GNU ("ustar  \0") uses those bytes
            // for other things.
            if &h[257..263] == b"ustar\0" {
                let prefix = cstr(&h[345..500]);
                if !prefix.is_empty() {
                    return format!("{prefix}/{name}");
                }
            }
            name
        });
        let link = pending.linkpath.unwrap_or_else(|| cstr(&h[157..257]));
        self.stats.docker_vfs_size = self.stats.docker_vfs_size.saturating_add(size);
        let path = clean(&name);
        let base = path.rsplit('/').next().unwrap_or("");
        // Go's archive/tar reads no body for header-only types, whatever their size says.
        let header_only = matches!(kind, b'1' | b'2' | b'3' | b'4' | b'5' | b'6');
        let target = if kind == b'1' { self.paths.get(&clean(&link)).copied() } else { None };
        let done = self.files.as_mut().and_then(|files| {
            let link_content = target.and_then(|i| self.contents.get(i).copied().flatten());
            // A regular file's inode is the next one (`new_inode` below).
            let e = TarEntry { path: &path, base, kind, size, link: &link };
            files.entry(&e, link_content, self.inodes.len())
        });
        match kind {
            b'0' | 0 | b'7' => {
                if base == ".wh..wh..opq" {
                    self.stats.opaque_dirs += 1;
                } else if base.starts_with(".wh.") {
                    self.stats.whiteouts += 1;
                } else {
                    self.stats.files += 1;
                    self.new_inode(path, size);
                }
            }
            b'1' => {
                self.stats.hardlinks += 1;
                match target {
                    Some(i) => {
                        self.paths.insert(path, i);
                    }
                    None => {
                        self.paths.remove(&path);
                    }
                }
            }
            b'2' => {
                self.stats.symlinks += 1;
                self.new_inode(path, link.len() as u64);
            }
            b'5' => {
                self.stats.dirs += 1;
                self.paths.remove(&path);
            }
            _ => {
                self.stats.other += 1;
                self.paths.remove(&path);
            }
        }
        set_content(&mut self.contents, done);
        let body = if header_only { 0 } else { size };
        self.skip_pad = pad(body);
        let skip = body.saturating_add(self.skip_pad);
        if skip > 0 {
            self.state = State::Skip(skip);
        }
    }

    fn new_inode(&mut self, path: String, size: u64) {
        self.inodes.push(size);
        if self.files.is_some() {
            self.contents.push(None);
        }
        self.paths.insert(path, self.inodes.len() - 1);
    }

    fn finish_meta(&mut self, kind: u8) {
        let body = std::mem::take(&mut self.meta);
        match kind {
            b'L' => self.pending.path = Some(cstr(&body)),
            b'K' => self.pending.linkpath = Some(cstr(&body)),
            b'x' => {
                if let Err(reason) = self.parse_pax(&body) {
                    let offset = self.header_start;
                    self.fail(TarError::BadHeader { offset, reason });
                }
            }
            _ => {} // 'g': global headers do not change sizes or names of later entries here
        }
    }

    /// PAX records: `"%d %s=%s\n"`, the length counting the whole record.
    fn parse_pax(&mut self, mut body: &[u8]) -> Result<(), String> {
        while !body.is_empty() {
            if body.iter().all(|&b| b == 0) {
                break;
            }
            let sp = body.iter().position(|&b| b == b' ').ok_or("pax record has no length")?;
            let len: usize = std::str::from_utf8(&body[..sp])
                .ok()
                .and_then(|s| s.parse().ok())
                .ok_or("pax record length is not a number")?;
            if len <= sp + 1 || len > body.len() {
                return Err("pax record length is out of range".into());
            }
            let rec = &body[sp + 1..len];
            let rec = rec.strip_suffix(b"\n").ok_or("pax record does not end in a newline")?;
            let eq = rec.iter().position(|&b| b == b'=').ok_or("pax record has no '='")?;
            let (k, v) = (&rec[..eq], &rec[eq + 1..]);
            let v = String::from_utf8_lossy(v).into_owned();
            match k {
                b"path" => self.pending.path = Some(v),
                b"linkpath" => self.pending.linkpath = Some(v),
                b"size" => {
                    self.pending.size =
                        Some(v.parse().map_err(|_| format!("pax size {v:?} is not a number"))?)
                }
                _ => {}
            }
            body = &body[len..];
        }
        Ok(())
    }

    /// End of the stream: the statistics, or why the stream is not a complete tar.
    pub fn finish(self) -> Result<TarStats, TarError> {
        self.finish_with_files().0
    }

    /// [`TarWalker::finish`], and the file list when one was recorded and the tar is valid.
    #[allow(clippy::type_complexity)]
    pub fn finish_with_files(
        mut self,
    ) -> (Result<TarStats, TarError>, Option<Result<FileList, FilesError>>) {
        let files = self.files.take();
        let stats = self.finish_stats();
        let files = match (&stats, files) {
            (Ok(_), Some(r)) => Some(r.finish()),
            _ => None,
        };
        (stats, files)
    }

    fn finish_stats(self) -> Result<TarStats, TarError> {
        match self.state {
            State::Failed(e) => Err(e),
            State::End => Ok(self.finalize()),
            // Ending exactly at an entry boundary without the zero blocks is what umoci 0.4.7
            // writes; every runtime accepts it.
            // An empty stream is an empty tar (Go's reader returns io.EOF at once).
            State::Header if self.header.is_empty() => Ok(self.finalize()),
            State::Skip(n) if n == self.skip_pad && n > 0 => Ok(self.finalize()),
            _ => Err(TarError::Truncated { offset: self.header_start }),
        }
    }

    fn finalize(self) -> TarStats {
        let mut stats = self.stats;
        let mut seen = vec![false; self.inodes.len()];
        let mut total: u64 = 0;
        for &i in self.paths.values() {
            if let Some(s) = seen.get_mut(i) {
                if !*s {
                    *s = true;
                    total = total.saturating_add(self.inodes.get(i).copied().unwrap_or(0));
                }
            }
        }
        stats.docker_overlay2_size = total;
        stats
    }
}

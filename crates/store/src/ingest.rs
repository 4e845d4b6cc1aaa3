//! Writing a blob: containerd's ingest protocol (`plugins/content/local/store.go` and
//! `writer.go`), with a per-ingest lock that also works across processes.
//!
//! Bytes go to `ingest/<hex(sha256(ref))>/data` and are hashed as they are written. Commit
//! fsyncs the file, checks its size and digest, makes it read-only and renames it to
//! `blobs/<alg>/<hex>`, then fsyncs that directory: a blob is never visible before its bytes
//! are durable and checked. A writer that stops before commit (dropped, crashed, killed)
//! leaves its ingest behind, and the next writer with the same ref resumes it: it re-hashes
//! what `data` holds and continues from its length, as containerd's `resumeStatus` does.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ocisize_digest::{Algorithm, Digest, Hasher};

use crate::error::{IoContext, Result, StoreError};
use crate::layout::{self, ingest_file};
use crate::lock::{LockFile, SharedGc, TryLock};
use crate::Store;

mod commit;

pub use commit::Committed;

/// Buffer of the data file: large writes bypass it, small ones are gathered.
const WRITE_BUFFER: usize = 256 << 10;
/// Every this many bytes, the writeback of what was written is started (without waiting
/// for it), so that the commit's fsync finds little left to write: the disk works while the
/// caller goes on producing bytes.
const WRITEBACK_STEP: u64 = 32 << 20;
/// Read buffer for re-hashing a resumed ingest (containerd's `bufPool` uses 1 MiB).
const REHASH_BUFFER: usize = 1 << 20;

/// Where an ingest stands (containerd's `content.Status`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestStatus {
    /// The ref the ingest is keyed by.
    pub reference: String,
    /// Bytes held so far (resumed plus written).
    pub offset: u64,
    /// The expected size, when known.
    pub total: Option<u64>,
    /// When the ingest was started (the `startedat` file; on resume, its modification time).
    pub started_at: SystemTime,
    /// When bytes were last written through this writer, or when it was opened.
    pub updated_at: SystemTime,
}

/// An open write of one blob; see [`Store::writer`].
///
/// It implements [`io::Write`]. A write past the expected size fails with an
/// [`io::ErrorKind::InvalidData`] error carrying [`StoreError::TooLong`] (see
/// [`StoreError::from_io`]), and the writer can then only fail to commit. Dropping a writer
/// without [`Writer::commit`] keeps the ingest for a later writer with the same ref to
/// resume; [`Writer::abort`] removes it.
#[derive(Debug)]
pub struct Writer {
    reference: String,
    root: PathBuf,
    dir: PathBuf,
    /// `None` when the store already holds the expected blob: bytes are only hashed and
    /// counted, so commit still checks them, but nothing touches the disk.
    sink: Option<BufWriter<File>>,
    hasher: Hasher,
    /// Set by [`Writer::commit_measured`]'s caller: the bytes are hashed elsewhere.
    hashed_by_caller: bool,
    /// Bytes whose writeback has been started (see [`WRITEBACK_STEP`]).
    writeback_from: u64,
    /// The caller's digest of the bytes, given at commit.
    caller_digest: Option<Digest>,
    offset: u64,
    skip: u64,
    expected: Option<(Digest, u64)>,
    overrun: Option<u64>,
    started_at: SystemTime,
    updated_at: SystemTime,
    finished: bool,
    // Field order is drop order: the ingest lock goes before the store's shared lock.
    _ingest_lock: Option<LockFile>,
    _gc: SharedGc,
}

impl Store {
    /// Open a writer for the blob the caller calls `reference` (any non-empty string that
    /// names the source; the ingest is keyed by it), with the digest and size it is expected
    /// to have, if known.
    ///
    /// - An ingest with this ref left by an earlier writer is resumed: [`Writer::offset`]
    ///   tells how many bytes it holds, and writes continue after them (see
    ///   [`Writer::skip_written_prefix`] for a caller that can only start at byte 0).
    /// - A writer with the same ref open elsewhere (a thread, another process) is waited
    ///   for.
    /// - When the store already holds the expected blob, nothing is written to disk; the
    ///   bytes are still hashed, so [`Writer::commit`] checks them.
    ///
    /// The writer holds the store's shared removal lock until it is committed or dropped,
    /// so no sweep runs meanwhile.
    pub fn writer(&self, reference: &str, expected: Option<(Digest, u64)>) -> Result<Writer> {
        if reference.is_empty() {
            return Err(StoreError::EmptyRef);
        }
        let gc = SharedGc::acquire(self.root())?;
        let algorithm = expected.map_or(Algorithm::Sha256, |(d, _)| d.algorithm());
        let now = SystemTime::now();
        let mut w = Writer {
            reference: reference.to_owned(),
            root: self.root().to_path_buf(),
            dir: layout::ingest_dir(self.root(), reference),
            sink: None,
            hasher: Hasher::new(algorithm),
            hashed_by_caller: false,
            writeback_from: 0,
            caller_digest: None,
            offset: 0,
            skip: 0,
            expected,
            overrun: None,
            started_at: now,
            updated_at: now,
            finished: false,
            _ingest_lock: None,
            _gc: gc,
        };
        if self.holds(expected)? {
            // An ingest of this ref left by a writer that died after its commit's rename
            // is of no use now; one that a live writer holds is left to it.
            if w.dir.exists() {
                match LockFile::try_exclusive_existing(&w.dir.join(layout::INGEST_LOCK))? {
                    TryLock::Held => {}
                    TryLock::Locked(_held) => remove_ingest(&w.dir),
                    TryLock::NoFile => remove_ingest(&w.dir),
                }
            }
            return Ok(w);
        }
        layout::make_dir(&self.root().join(layout::INGEST))?;
        w._ingest_lock = Some(LockFile::ingest(&w.dir)?);
        // Another writer of the same ref may have committed the blob while this one waited.
        if self.holds(expected)? {
            remove_ingest(&w.dir);
            w._ingest_lock = None;
            return Ok(w);
        }
        if !w.resume()? {
            w.start()?;
        }
        Ok(w)
    }

    fn holds(&self, expected: Option<(Digest, u64)>) -> Result<bool> {
        match expected {
            Some((d, _)) => Ok(self.info(&d)?.is_some()),
            None => Ok(false),
        }
    }
}

impl Writer {
    /// The ref this writer was opened with.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// Bytes the ingest holds: those resumed from an earlier writer plus those written.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Where the ingest stands.
    pub fn status(&self) -> IngestStatus {
        IngestStatus {
            reference: self.reference.clone(),
            offset: self.offset,
            total: self.expected.map(|(_, s)| s),
            started_at: self.started_at,
            updated_at: self.updated_at,
        }
    }

    /// Whether the store held the expected blob when the writer was opened: its bytes are
    /// only hashed and counted, so only a commit with that digest can succeed.
    pub fn is_stored_already(&self) -> bool {
        self.sink.is_none() && self._ingest_lock.is_none()
    }

    /// Stop hashing what is written: the caller hashes exactly the bytes it writes (a tee
    /// of a measuring pass, which hashes them anyway) and commits with
    /// [`Writer::commit_measured`]. Only before the first byte of a new ingest: returns
    /// false, and changes nothing, for a writer that resumed bytes it would not hash.
    pub fn hash_elsewhere(&mut self) -> bool {
        if self.offset > 0 {
            return false;
        }
        self.hashed_by_caller = true;
        true
    }

    /// Flush the bytes written so far and free the write buffer, keeping the ingest open:
    /// for a caller that holds many writers between their last write and their commit.
    pub fn release_buffer(&mut self) -> io::Result<()> {
        if let Some(sink) = self.sink.take() {
            let file = sink.into_inner().map_err(io::IntoInnerError::into_error)?;
            self.sink = Some(BufWriter::with_capacity(0, file));
        }
        Ok(())
    }

    /// Tell the writer that the caller's bytes start again at byte 0: the next
    /// [`Writer::offset`] bytes written are taken as those the resumed ingest holds already
    /// and dropped. They are not compared; the digest check at commit covers them, so a
    /// source that changed makes the commit fail rather than store a blend. Returns how many
    /// bytes will be skipped.
    pub fn skip_written_prefix(&mut self) -> u64 {
        self.skip = self.offset;
        self.skip
    }

    /// Resume an ingest with the same ref: `Ok(false)` when there is none to resume or it
    /// does not fit this write (another ref hashed to the same directory, another expected
    /// size, more bytes than expected), and a new one is started instead.
    fn resume(&mut self) -> Result<bool> {
        let ref_path = self.dir.join(ingest_file::REF);
        match read_small(&ref_path, self.reference.len() as u64 + 1)? {
            Some(r) if r == self.reference.as_bytes() => {}
            _ => return Ok(false),
        }
        let expected_size = self.expected.map(|(_, s)| s);
        let total_path = self.dir.join(ingest_file::TOTAL);
        if let (Some(want), Some(t)) = (expected_size, read_small(&total_path, 32)?) {
            // containerd refuses a resume whose total differs; here the ingest starts over.
            if std::str::from_utf8(&t).ok().and_then(|t| t.parse::<u64>().ok()) != Some(want) {
                return Ok(false);
            }
        }
        // Bytes written for another digest under the same ref (another source with a member
        // of the same name) would only make the commit fail.
        let expected_path = self.dir.join(ingest_file::EXPECTED);
        if let (Some((want, _)), Some(had)) = (self.expected, read_small(&expected_path, 200)?) {
            if had != want.to_string().as_bytes() {
                return Ok(false);
            }
        }
        let data = self.dir.join(ingest_file::DATA);
        let mut file = match OpenOptions::new().read(true).write(true).open(&data) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(StoreError::io("open", &data, e)),
        };
        let len = file.metadata().at("stat", &data)?.len();
        if expected_size.is_some_and(|s| len > s) {
            return Ok(false);
        }
        let mut buf = vec![0u8; REHASH_BUFFER];
        let mut n = 0u64;
        loop {
            match file.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    self.hasher.update(&buf[..k]);
                    n += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(StoreError::io("read", &data, e)),
            }
        }
        file.seek(SeekFrom::Start(n)).at("seek", &data)?;
        self.offset = n;
        if let Ok(t) =
            fs::metadata(self.dir.join(ingest_file::STARTED_AT)).and_then(|m| m.modified())
        {
            self.started_at = t;
        }
        self.sink = Some(BufWriter::with_capacity(WRITE_BUFFER, file));
        Ok(true)
    }

    /// Start a new ingest: the files containerd's `writer` writes for a new one.
    fn start(&mut self) -> Result<()> {
        // Empty the data first: if this is interrupted, the files below still describe the
        // old ingest, or the new one with no bytes, never old bytes under a new description.
        let data = self.dir.join(ingest_file::DATA);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&data)
            .at("create", &data)?;
        let ref_path = self.dir.join(ingest_file::REF);
        fs::write(&ref_path, self.reference.as_bytes()).at("write", &ref_path)?;
        let stamp = layout::go_time_text(self.started_at);
        layout::write_to_completion(&self.dir.join(ingest_file::STARTED_AT), stamp.as_bytes())?;
        layout::write_to_completion(&self.dir.join(ingest_file::UPDATED_AT), stamp.as_bytes())?;
        let total = self.dir.join(ingest_file::TOTAL);
        match self.expected {
            Some((_, size)) if size > 0 => {
                fs::write(&total, size.to_string()).at("write", &total)?
            }
            _ => remove_if_there(&total)?,
        }
        let expected = self.dir.join(ingest_file::EXPECTED);
        match self.expected {
            Some((d, _)) => fs::write(&expected, d.to_string()).at("write", &expected)?,
            None => remove_if_there(&expected)?,
        }
        self.sink = Some(BufWriter::with_capacity(WRITE_BUFFER, file));
        Ok(())
    }

    fn too_long(&mut self, attempted: u64) -> io::Error {
        self.overrun = Some(attempted);
        let expected = self.expected.map_or(0, |(_, s)| s);
        io::Error::new(
            io::ErrorKind::InvalidData,
            StoreError::TooLong { reference: self.reference.clone(), expected },
        )
    }
}

impl Writer {
    /// Start writing back what the file holds past `writeback_from` (`POSIX_FADV_DONTNEED`
    /// starts the writeback of dirty pages without waiting for it, and drops the clean ones:
    /// a blob is not read back while it is written). Best effort: an error only means the
    /// commit's fsync does the work.
    fn start_writeback(&mut self) {
        let Some(sink) = &self.sink else { return };
        let end = self.offset.saturating_sub(sink.buffer().len() as u64);
        if let Some(len) = std::num::NonZeroU64::new(end.saturating_sub(self.writeback_from)) {
            let _ = rustix::fs::fadvise(
                sink.get_ref(),
                self.writeback_from,
                Some(len),
                rustix::fs::Advice::DontNeed,
            );
            self.writeback_from = end;
        }
    }
}

impl Write for Writer {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(attempted) = self.overrun {
            return Err(self.too_long(attempted));
        }
        let skipped = usize::try_from(self.skip).unwrap_or(usize::MAX).min(buf.len());
        self.skip -= skipped as u64;
        let rest = &buf[skipped..];
        if rest.is_empty() {
            return Ok(skipped);
        }
        let attempted = self.offset.saturating_add(rest.len() as u64);
        if self.expected.is_some_and(|(_, size)| attempted > size) {
            return Err(self.too_long(attempted));
        }
        let n = match &mut self.sink {
            Some(sink) => sink.write(rest)?,
            None => rest.len(),
        };
        if !self.hashed_by_caller {
            self.hasher.update(&rest[..n]);
        }
        self.offset += n as u64;
        if self.offset - self.writeback_from >= WRITEBACK_STEP {
            self.start_writeback();
        }
        self.updated_at = SystemTime::now();
        Ok(skipped + n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Some(sink) => sink.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        // containerd's `Close`: keep the progress, stamp `updatedat`. Errors cannot be
        // reported from here; a resume re-hashes whatever `data` holds.
        if let Some(mut sink) = self.sink.take() {
            let _ = sink.flush();
            let stamp = layout::go_time_text(self.updated_at);
            let _ = layout::write_to_completion(
                &self.dir.join(ingest_file::UPDATED_AT),
                stamp.as_bytes(),
            );
        }
    }
}

fn remove_if_there(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}

/// Read a small file whole, `None` if it is missing, over `limit` bytes, or unreadable.
fn read_small(path: &Path, limit: u64) -> Result<Option<Vec<u8>>> {
    let f = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::io("open", path, e)),
    };
    let mut v = Vec::new();
    f.take(limit + 1).read_to_end(&mut v).at("read", path)?;
    Ok((v.len() as u64 <= limit).then_some(v))
}

/// Remove an ingest directory the way containerd's `Abort` does: rename it aside first, so
/// that its path is gone at once (a writer waiting for its lock then starts a new one),
/// then delete it. Best effort: what is left is a `.tmp` entry a sweep removes.
pub(crate) fn remove_ingest(dir: &Path) {
    let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) else {
        return;
    };
    let aside = parent.join(layout::temp_name(&name.to_string_lossy()));
    if fs::rename(dir, &aside).is_ok() {
        let _ = fs::remove_dir_all(&aside);
    }
}

//! Reading blobs: a verified stream, their sizes, the list of every blob file.
//!
//! A blob file is never changed once it is in `blobs/` (it is renamed in whole, read-only,
//! and only ever unlinked), so reading needs no lock: an open blob stays readable even if a
//! sweep removes it meanwhile.

use std::fs::{self, File, ReadDir};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ocisize_digest::{Algorithm, Digest, VerifyingReader};

use crate::error::{IoContext, Result, StoreError};
use crate::layout;
use crate::Store;

/// What the store knows of a blob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobInfo {
    /// Its digest (its file name).
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Its file.
    pub path: PathBuf,
    /// When it was committed (its modification time, set at commit as containerd does).
    pub committed_at: Option<SystemTime>,
}

/// A blob as a stream that checks its digest: reading to the end fails with an
/// [`io::ErrorKind::InvalidData`] error carrying an [`ocisize_digest::VerifyError`] if the
/// bytes do not hash to the blob's name.
#[derive(Debug)]
pub struct BlobReader {
    inner: VerifyingReader<File>,
    size: u64,
}

impl BlobReader {
    /// The blob's size.
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Store {
    /// The blob, if the store holds it.
    pub fn info(&self, digest: &Digest) -> Result<Option<BlobInfo>> {
        let path = layout::blob_path(self.root(), digest);
        match fs::metadata(&path) {
            Ok(m) if m.is_file() => Ok(Some(BlobInfo {
                digest: *digest,
                size: m.len(),
                committed_at: m.modified().ok(),
                path,
            })),
            Ok(_) => Err(StoreError::NotABlob { path, reason: "not a regular file".into() }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io("stat", path, e)),
        }
    }

    /// Read a blob, verified against its digest as it streams (bounded by the file's size,
    /// checked at the end).
    pub fn reader(&self, digest: &Digest) -> Result<BlobReader> {
        let path = layout::blob_path(self.root(), digest);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::BlobNotFound { digest: *digest })
            }
            Err(e) => return Err(StoreError::io("open", path, e)),
        };
        let size = file.metadata().at("stat", &path)?.len();
        Ok(BlobReader { inner: VerifyingReader::new(file, *digest, size), size })
    }

    /// Every blob file, algorithm by algorithm, in directory order. An entry that is not a
    /// blob (a directory of another algorithm, a file whose name is not a digest, something
    /// that is not a regular file) is an `Err` item naming its path; iteration goes on.
    pub fn blobs(&self) -> Result<Blobs> {
        let dir = self.root().join(layout::BLOBS);
        let top = fs::read_dir(&dir).at("list", &dir)?;
        Ok(Blobs { dir, top, current: None })
    }

    /// Remove one blob, under the exclusive removal lock (so no writer is open meanwhile).
    /// Returns whether it was there. Nothing checks that no name needs it: that is
    /// [`Store::sweep`]'s job.
    pub fn delete(&self, digest: &Digest) -> Result<bool> {
        self.gc_lock()?.delete(digest)
    }
}

/// Remove a blob file and make the removal durable.
pub(crate) fn remove_blob(root: &Path, digest: &Digest) -> Result<bool> {
    let path = layout::blob_path(root, digest);
    match fs::remove_file(&path) {
        Ok(()) => {
            layout::sync_dir(&layout::alg_dir(root, digest.algorithm()))?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(StoreError::io("remove", path, e)),
    }
}

/// The iterator of [`Store::blobs`].
#[derive(Debug)]
pub struct Blobs {
    dir: PathBuf,
    top: ReadDir,
    current: Option<(Algorithm, PathBuf, ReadDir)>,
}

impl Iterator for Blobs {
    type Item = Result<BlobInfo>;

    fn next(&mut self) -> Option<Result<BlobInfo>> {
        loop {
            if let Some((algorithm, dir, entries)) = &mut self.current {
                match entries.next() {
                    Some(Ok(e)) => return Some(blob_entry(*algorithm, &e)),
                    Some(Err(e)) => return Some(Err(StoreError::io("list", dir.clone(), e))),
                    None => self.current = None,
                }
            }
            let entry = match self.top.next()? {
                Ok(e) => e,
                Err(e) => return Some(Err(StoreError::io("list", self.dir.clone(), e))),
            };
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(algorithm) = Algorithm::from_name(&name) else {
                return Some(Err(StoreError::UnsupportedAlgorithm { algorithm: name, path }));
            };
            match fs::read_dir(&path) {
                Ok(entries) => self.current = Some((algorithm, path, entries)),
                Err(e) => return Some(Err(StoreError::io("list", path, e))),
            }
        }
    }
}

fn blob_entry(algorithm: Algorithm, entry: &fs::DirEntry) -> Result<BlobInfo> {
    let path = entry.path();
    let name = entry.file_name();
    let Some(digest) = name.to_str().and_then(|n| Digest::from_hex(algorithm, n).ok()) else {
        return Err(StoreError::NotABlob { path, reason: format!("not a {algorithm} digest") });
    };
    let meta = entry.metadata().at("stat", &path)?;
    if !meta.is_file() {
        return Err(StoreError::NotABlob { path, reason: "not a regular file".into() });
    }
    Ok(BlobInfo { digest, size: meta.len(), committed_at: meta.modified().ok(), path })
}

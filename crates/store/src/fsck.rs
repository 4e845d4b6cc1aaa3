//! Checking every blob's bytes against its name.
//!
//! This is the content half of a store check. The reference half (a name or manifest that
//! points at a missing blob, blobs nothing points at) follows the image graph and is built
//! on the source model's walk.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use ocisize_digest::{Algorithm, Digest, Hasher};

use crate::error::{Result, StoreError};
use crate::Store;

/// A blob whose bytes do not hash to its name, or that could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorruptBlob {
    /// The blob's name.
    pub digest: Digest,
    /// The digest of its bytes, when they could be read.
    pub found: Option<Digest>,
    /// What is wrong, in words.
    pub message: String,
}

/// What [`Store::fsck_blobs`] found.
#[derive(Debug, Default)]
pub struct FsckReport {
    /// Blobs hashed.
    pub blobs_checked: u64,
    /// Bytes hashed.
    pub bytes_checked: u64,
    /// Blobs whose bytes do not match their name.
    pub corrupt: Vec<CorruptBlob>,
    /// Entries under `blobs/` that are not blobs (another algorithm, a name that is not a
    /// digest, a directory or link), and listing errors.
    pub not_blobs: Vec<StoreError>,
}

impl FsckReport {
    /// Whether every blob is sound and nothing else is under `blobs/`.
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.not_blobs.is_empty()
    }
}

impl Store {
    /// Re-hash every blob and report those whose bytes do not hash to their name. Needs no
    /// lock: blobs are immutable, and one removed meanwhile is skipped.
    pub fn fsck_blobs(&self) -> Result<FsckReport> {
        let mut report = FsckReport::default();
        for item in self.blobs()? {
            let info = match item {
                Ok(info) => info,
                Err(e) => {
                    report.not_blobs.push(e);
                    continue;
                }
            };
            match hash_file(&info.path, info.digest.algorithm()) {
                Ok((found, size)) => {
                    report.blobs_checked += 1;
                    report.bytes_checked += size;
                    if found != info.digest {
                        report.corrupt.push(CorruptBlob {
                            digest: info.digest,
                            found: Some(found),
                            message: format!("its bytes hash to {found}"),
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => report.corrupt.push(CorruptBlob {
                    digest: info.digest,
                    found: None,
                    message: format!("cannot read {}: {e}", info.path.display()),
                }),
            }
        }
        Ok(report)
    }
}

/// Files smaller than this are read; mapping costs more than copying them.
const MMAP_MIN: u64 = 1 << 20;
/// Read buffer.
const READ_BUFFER: usize = 1 << 20;

/// The digest and size of a file's bytes: mapped when it is large and mapping works, else
/// read.
pub(crate) fn hash_file(path: &Path, algorithm: Algorithm) -> io::Result<(Digest, u64)> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len >= MMAP_MIN {
        if let Some(r) = hash_mapped(&file, len, algorithm) {
            return Ok(r);
        }
    }
    hash_read(file, algorithm)
}

/// Hash by reading, with a 1 MiB buffer.
pub(crate) fn hash_read(mut file: File, algorithm: Algorithm) -> io::Result<(Digest, u64)> {
    let mut hasher = Hasher::new(algorithm);
    let mut buf = vec![0u8; READ_BUFFER];
    let mut n = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok((hasher.finalize(), n)),
            Ok(k) => {
                hasher.update(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Hash through a read-only shared mapping; `None` if the file cannot be mapped (then it is
/// read instead).
pub(crate) fn hash_mapped(file: &File, len: u64, algorithm: Algorithm) -> Option<(Digest, u64)> {
    let len_usize = usize::try_from(len).ok()?;
    // SAFETY: memmap2 marks mapping unsafe because the bytes can change under the mapping,
    // and reading past the end of a file truncated after mapping raises SIGBUS. In a store,
    // a blob file is never written after its commit: it is renamed into `blobs/` whole and
    // read-only (0444), and the store only ever unlinks it, which keeps the mapped inode and
    // its pages valid until the mapping is dropped. Changing bytes in place (by a process
    // that ignores the file mode) could only make the digest come out wrong, which is the
    // corruption this function exists to report; we never hand out references into the
    // mapping, so no Rust invariant rests on the bytes. Truncation in place is the one
    // case that is not handled: it would end the process with SIGBUS rather than produce a
    // wrong answer, and it needs the same disregard of the store's read-only files.
    #[allow(unsafe_code)]
    let map = unsafe { memmap2::MmapOptions::new().len(len_usize).map(file) }.ok()?;
    let _ = map.advise(memmap2::Advice::Sequential);
    let mut hasher = Hasher::new(algorithm);
    // Hash in 1 MiB steps so that the sequential read-ahead runs ahead of the hasher.
    for chunk in map.chunks(READ_BUFFER) {
        hasher.update(chunk);
    }
    Some((hasher.finalize(), len))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn mapped_and_read_agree() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b");
        let mut f = File::create(&p).unwrap();
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        f.write_all(&data).unwrap();
        drop(f);
        let want = Digest::of(Algorithm::Sha256, &data);
        let file = File::open(&p).unwrap();
        assert_eq!(
            hash_mapped(&file, data.len() as u64, Algorithm::Sha256),
            Some((want, 3_000_000))
        );
        assert_eq!(
            hash_read(File::open(&p).unwrap(), Algorithm::Sha256).unwrap(),
            (want, 3_000_000)
        );
        assert_eq!(hash_file(&p, Algorithm::Sha256).unwrap(), (want, 3_000_000));
    }
}

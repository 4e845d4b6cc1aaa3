//! Commit: the checks and the rename that make an ingest a blob.

use std::fs::{self, File, Permissions};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::SystemTime;

use ocisize_digest::{Algorithm, Digest, Hasher};
use ocisize_spec::{Descriptor, MediaType};

use super::{remove_ingest, Writer};
use crate::error::{IoContext, Result, StoreError};
use crate::layout::{self, ingest_file};

/// A committed blob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committed {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Whether the store held it already (the bytes written were checked and discarded).
    pub existed: bool,
}

impl Committed {
    /// A descriptor of the blob with `media_type`, for [`Store::set_names`](crate::Store::set_names).
    pub fn descriptor(&self, media_type: impl Into<MediaType>) -> Descriptor {
        Descriptor::new(Some(media_type.into()), self.digest, self.size)
    }
}

impl Writer {
    /// Commit the blob: fsync, check the size and digest (`expected`, else those the writer
    /// was opened with, else none: the blob is stored under the digest of what was
    /// written), make it read-only, rename it into `blobs/`, fsync the directory, remove
    /// the ingest.
    ///
    /// When the store holds the blob already, the ingest is discarded and the commit
    /// succeeds (`existed`). On a size or digest mismatch nothing is committed, the ingest
    /// is removed, and the error names the ref, what was expected and what was found.
    pub fn commit(mut self, expected: Option<(Digest, u64)>) -> Result<Committed> {
        self.finished = true;
        let expected = expected.or(self.expected);
        match self.verify(expected) {
            Ok((digest, file)) => self.publish(digest, file),
            Err(e) => {
                self.discard();
                Err(e)
            }
        }
    }

    /// Commit a writer told to [`Writer::hash_elsewhere`]: `measured` is the digest the
    /// caller computed over exactly the bytes written, `expected` what they must be. Checks
    /// as [`Writer::commit`] does, with `measured` standing for the writer's own hash (a
    /// plain [`Writer::commit`] of such a writer re-reads its bytes to hash them).
    pub fn commit_measured(
        mut self,
        measured: Digest,
        expected: (Digest, u64),
    ) -> Result<Committed> {
        if self.hashed_by_caller {
            self.caller_digest = Some(measured);
        }
        self.commit(Some(expected))
    }

    /// The digest of the bytes, checked against `expected`, and the synced data file (none
    /// when nothing was written to disk).
    fn verify(&mut self, expected: Option<(Digest, u64)>) -> Result<(Digest, Option<File>)> {
        let reference = self.reference.clone();
        if let Some(found) = self.overrun {
            let expected = expected.map_or(0, |(_, s)| s);
            return Err(StoreError::SizeMismatch { reference, expected, found });
        }
        let data = self.dir.join(ingest_file::DATA);
        let file = match self.sink.take() {
            Some(sink) => {
                let file = sink
                    .into_inner()
                    .map_err(|e| StoreError::io("write", &data, e.into_error()))?;
                file.sync_all().at("fsync", &data)?;
                let found = file.metadata().at("stat", &data)?.len();
                if found != self.offset {
                    let expected = self.offset;
                    return Err(StoreError::IngestChanged {
                        reference,
                        path: data,
                        expected,
                        found,
                    });
                }
                Some(file)
            }
            None => None,
        };
        let Some((want, size)) = expected else {
            if self.hashed_by_caller {
                let d = match (&file, self.caller_digest) {
                    (_, Some(d)) => d,
                    (Some(_), None) => rehash(&data, Algorithm::Sha256)?,
                    (None, None) => return Err(StoreError::EmptyRef),
                };
                return Ok((d, file));
            }
            return Ok((self.take_hasher().finalize(), file));
        };
        if self.offset != size {
            return Err(StoreError::SizeMismatch { reference, expected: size, found: self.offset });
        }
        let mut found = match (self.hashed_by_caller, self.caller_digest, &file) {
            (false, _, _) => self.take_hasher().finalize(),
            (true, Some(d), _) => d,
            (true, None, Some(_)) => rehash(&data, want.algorithm())?,
            (true, None, None) => return Err(StoreError::BlobNotFound { digest: want }),
        };
        if found.algorithm() != want.algorithm() && file.is_some() {
            // The commit asks for another algorithm than the writer was opened with.
            found = rehash(&data, want.algorithm())?;
        }
        if found != want {
            return Err(StoreError::DigestMismatch { reference, expected: want, found });
        }
        Ok((found, file))
    }

    fn take_hasher(&mut self) -> Hasher {
        std::mem::replace(&mut self.hasher, Hasher::new(Algorithm::Sha256))
    }

    /// Make the checked data file the blob.
    fn publish(&mut self, digest: Digest, file: Option<File>) -> Result<Committed> {
        let size = self.offset;
        let target = layout::blob_path(&self.root, &digest);
        let Some(file) = file else {
            // Opened on a blob the store held: the bytes matched it.
            return match fs::symlink_metadata(&target) {
                Ok(_) => Ok(Committed { digest, size, existed: true }),
                Err(_) => Err(StoreError::BlobNotFound { digest }),
            };
        };
        let alg_dir = layout::alg_dir(&self.root, digest.algorithm());
        if layout::make_dir(&alg_dir)? {
            layout::sync_dir(&self.root.join(layout::BLOBS))?;
        }
        if fs::symlink_metadata(&target).is_ok() {
            self.discard();
            return Ok(Committed { digest, size, existed: true });
        }
        // Read-only and stamped with the commit time before it becomes visible (containerd
        // chmods and sets the times after the rename).
        let data = self.dir.join(ingest_file::DATA);
        file.set_permissions(Permissions::from_mode(0o444)).at("chmod", &data)?;
        let _ = file.set_modified(SystemTime::now());
        drop(file);
        fs::rename(&data, &target).at("rename", &data)?;
        layout::sync_dir(&alg_dir)?;
        self.discard();
        Ok(Committed { digest, size, existed: false })
    }

    /// Give the write up and remove its ingest.
    pub fn abort(mut self) {
        self.finished = true;
        self.sink = None;
        self.discard();
    }

    /// Remove the ingest, if this writer holds it (a writer that found its blob stored
    /// holds none: the directory of its ref may be another writer's).
    fn discard(&mut self) {
        if self._ingest_lock.is_some() {
            remove_ingest(&self.dir);
        }
    }
}

fn rehash(path: &Path, algorithm: Algorithm) -> Result<Digest> {
    let f = File::open(path).at("open", path)?;
    let mut r = ocisize_digest::HashingReader::new(f, algorithm);
    io::copy(&mut r, &mut io::sink()).at("read", path)?;
    Ok(r.finish().0)
}

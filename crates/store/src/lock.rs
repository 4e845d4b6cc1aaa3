//! Advisory locks (`flock(2)` through `std::fs::File::lock`), and the bookkeeping that turns
//! a self-deadlock into an error.
//!
//! `flock` locks belong to an open file description, so two handles in one process contend
//! like two processes do: the same code serialises threads and processes. A lock is released
//! when its file is closed, which the kernel also does for a killed process: a crash never
//! leaves a lock behind.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{IoContext, Result, StoreError};
use crate::layout;

/// A held advisory lock; released on drop.
#[derive(Debug)]
pub(crate) struct LockFile {
    _file: Option<File>,
}

/// What [`LockFile::try_exclusive_existing`] found.
#[derive(Debug)]
pub(crate) enum TryLock {
    /// The lock, now held.
    Locked(LockFile),
    /// Someone else holds it.
    Held,
    /// There is no lock file (so nobody can hold it).
    NoFile,
}

#[derive(Clone, Copy)]
enum Mode {
    Shared,
    Exclusive,
}

fn open_lock_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o644).open(path)
}

fn lock(file: &File, mode: Mode) -> io::Result<()> {
    match mode {
        Mode::Shared => file.lock_shared(),
        Mode::Exclusive => file.lock(),
    }
}

impl LockFile {
    /// Take a lock on `path` (created if missing), waiting for it.
    fn acquire(path: &Path, mode: Mode) -> Result<LockFile> {
        let file = open_lock_file(path).at("open lock file", path)?;
        lock(&file, mode).at("lock", path)?;
        Ok(LockFile { _file: Some(file) })
    }

    /// A shared lock on `path`, waiting for it.
    pub(crate) fn shared(path: &Path) -> Result<LockFile> {
        Self::acquire(path, Mode::Shared)
    }

    /// A shared lock on `path` for a reader, which may not be allowed to write the store:
    /// an existing lock file is locked through a read-only handle, and when there is none
    /// and it cannot be made, the read goes ahead unlocked (every file it reads is replaced
    /// whole, never changed in place, so it still sees whole files).
    pub(crate) fn shared_for_reading(path: &Path) -> Result<LockFile> {
        let file = match open_lock_file(path) {
            Ok(f) => f,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
                ) =>
            {
                match File::open(path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        return Ok(LockFile { _file: None })
                    }
                    Err(e) => return Err(StoreError::io("open lock file", path, e)),
                }
            }
            Err(e) => return Err(StoreError::io("open lock file", path, e)),
        };
        file.lock_shared().at("lock", path)?;
        Ok(LockFile { _file: Some(file) })
    }

    /// An exclusive lock on `path`, waiting for it.
    pub(crate) fn exclusive(path: &Path) -> Result<LockFile> {
        Self::acquire(path, Mode::Exclusive)
    }

    /// An exclusive lock on an existing `path`, without waiting.
    pub(crate) fn try_exclusive_existing(path: &Path) -> Result<TryLock> {
        let file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(TryLock::NoFile),
            Err(e) => return Err(StoreError::io("open lock file", path, e)),
        };
        match file.try_lock() {
            Ok(()) => Ok(TryLock::Locked(LockFile { _file: Some(file) })),
            Err(fs::TryLockError::WouldBlock) => Ok(TryLock::Held),
            Err(fs::TryLockError::Error(e)) => Err(StoreError::io("lock", path, e)),
        }
    }

    /// The exclusive lock of an ingest directory, making the directory if needed.
    ///
    /// The directory can be removed by the writer that held the lock before (after its
    /// commit, or an abort) while this one waits: a lock on the removed file would guard
    /// nothing. So after locking, the path must still name the locked file (same device and
    /// inode), else start again with the directory as it now is.
    pub(crate) fn ingest(dir: &Path) -> Result<LockFile> {
        let path = dir.join(layout::INGEST_LOCK);
        loop {
            layout::make_dir(dir)?;
            let file = match open_lock_file(&path) {
                Ok(f) => f,
                // Removed between make_dir and open: make it again.
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("open lock file", &path, e)),
            };
            file.lock().at("lock", &path)?;
            let held = file.metadata().at("stat", &path)?;
            match fs::metadata(&path) {
                Ok(now) if now.dev() == held.dev() && now.ino() == held.ino() => {
                    return Ok(LockFile { _file: Some(file) });
                }
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(StoreError::io("stat", &path, e)),
            }
        }
    }
}

/// How many writers and leases each store (by canonical path) has open in this process.
static HELD: Mutex<BTreeMap<PathBuf, usize>> = Mutex::new(BTreeMap::new());

fn held_map() -> std::sync::MutexGuard<'static, BTreeMap<PathBuf, usize>> {
    // A panic elsewhere while the map was locked cannot leave it inconsistent: every
    // critical section is a single insert or decrement.
    HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The store's shared removal lock, held by a writer or a lease, counted so that an
/// exclusive request from the same process fails instead of waiting for itself.
#[derive(Debug)]
pub(crate) struct SharedGc {
    root: PathBuf,
    _lock: LockFile,
}

impl SharedGc {
    pub(crate) fn acquire(root: &Path) -> Result<SharedGc> {
        let lock = LockFile::shared(&root.join(layout::GC_LOCK))?;
        *held_map().entry(root.to_path_buf()).or_insert(0) += 1;
        Ok(SharedGc { root: root.to_path_buf(), _lock: lock })
    }
}

impl Drop for SharedGc {
    fn drop(&mut self) {
        let mut map = held_map();
        if let Some(n) = map.get_mut(&self.root) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.root);
            }
        }
    }
}

/// The store's exclusive removal lock: no writer or lease of any process is open while it
/// is held.
pub(crate) fn exclusive_gc(root: &Path) -> Result<LockFile> {
    if held_map().contains_key(root) {
        return Err(StoreError::HeldByThisProcess { path: root.to_path_buf() });
    }
    LockFile::exclusive(&root.join(layout::GC_LOCK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_shared_across_handles() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("l");
        let shared = LockFile::shared(&p).unwrap();
        assert!(matches!(LockFile::try_exclusive_existing(&p).unwrap(), TryLock::Held));
        drop(shared);
        let ex = LockFile::try_exclusive_existing(&p).unwrap();
        assert!(matches!(ex, TryLock::Locked(_)));
        let missing = LockFile::try_exclusive_existing(&dir.path().join("missing")).unwrap();
        assert!(matches!(missing, TryLock::NoFile));
    }

    #[test]
    fn exclusive_gc_refuses_while_this_process_holds_it_shared() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let held = SharedGc::acquire(&root).unwrap();
        let e = exclusive_gc(&root).unwrap_err();
        assert!(matches!(e, StoreError::HeldByThisProcess { .. }), "{e}");
        drop(held);
        assert!(exclusive_gc(&root).is_ok());
    }

    #[test]
    fn an_ingest_lock_follows_a_removed_directory() {
        let dir = tempfile::tempdir().unwrap();
        let ingest = dir.path().join("ingest").join("x");
        let first = LockFile::ingest(&ingest).unwrap();
        let waiter = std::thread::spawn({
            let ingest = ingest.clone();
            move || {
                let l = LockFile::ingest(&ingest).unwrap();
                // The lock is on the file the path names now.
                assert!(ingest.join(layout::INGEST_LOCK).exists());
                l
            }
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        fs::remove_dir_all(&ingest).unwrap();
        drop(first);
        let second = waiter.join().unwrap();
        let third = LockFile::try_exclusive_existing(&ingest.join(layout::INGEST_LOCK)).unwrap();
        assert!(matches!(third, TryLock::Held), "the waiter holds the new directory's lock");
        drop(second);
    }
}

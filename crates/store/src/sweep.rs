//! The sweep half of garbage collection: remove every blob outside a live set, and ingests
//! abandoned for more than a day.
//!
//! gc = mark + sweep. Marking (every blob reachable from `index.json` through indexes,
//! manifests, configs and layers) is the source model's graph walk; it must run while the
//! exclusive removal lock is held, so that no import commits blobs or names between the
//! mark and the sweep: take [`Store::gc_lock`], mark, then [`GcLock::sweep`].

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use ocisize_digest::Digest;

use crate::blob::remove_blob;
use crate::error::{IoContext, Result, StoreError};
use crate::index::{entry_name, read_index};
use crate::ingest::remove_ingest;
use crate::layout::{self, ingest_file};
use crate::lock::{self, LockFile, TryLock};
use crate::Store;

/// How the ingest refs of an import begin.
pub(crate) const IMPORT_REF_PREFIX: &str = "ocisize-import-";

/// An ingest not written to for this long is abandoned.
pub const ABANDONED_INGEST_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The exclusive removal lock of a store: while it is held, no writer or lease of any
/// process is open, and none can start. Released on drop.
#[derive(Debug)]
pub struct GcLock<'s> {
    store: &'s Store,
    _lock: LockFile,
}

/// An ingest a sweep removed (or, dry, would remove).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemovedIngest {
    /// Its ref, if its `ref` file could be read.
    pub reference: Option<String>,
    /// Its directory.
    pub path: PathBuf,
    /// Bytes its `data` held.
    pub size: u64,
}

/// What a sweep removed, or would remove when dry.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Whether this was a dry run (nothing was removed).
    pub dry_run: bool,
    /// Blobs outside the live set, with their sizes.
    pub removed: Vec<(Digest, u64)>,
    /// Abandoned ingests (and leftovers of interrupted removals).
    pub ingests_removed: Vec<RemovedIngest>,
    /// Ingests left alone because a writer holds their lock.
    pub ingests_in_progress: usize,
    /// Stale temporary files in the store directory (from an interrupted atomic write).
    pub temp_files_removed: Vec<PathBuf>,
    /// Bytes of the removed blobs and ingests.
    pub bytes_reclaimed: u64,
    /// Blobs kept.
    pub kept: u64,
    /// Entries under `blobs/` that are not blobs: reported, never removed.
    pub not_blobs: Vec<StoreError>,
}

impl Store {
    /// Take the exclusive removal lock, waiting for every writer and lease (of any process)
    /// to finish. Fails at once if this process holds one on this store, which would wait
    /// forever.
    pub fn gc_lock(&self) -> Result<GcLock<'_>> {
        Ok(GcLock { store: self, _lock: lock::exclusive_gc(self.root())? })
    }

    /// [`GcLock::sweep`] under a lock taken for it. `live` must have been computed from the
    /// store as it is now; see [`GcLock`] to mark and sweep under one lock.
    pub fn sweep(&self, live: &HashSet<Digest>, dry_run: bool) -> Result<SweepReport> {
        self.gc_lock()?.sweep(live, dry_run)
    }
}

impl GcLock<'_> {
    /// Remove one blob.
    pub fn delete(&self, digest: &Digest) -> Result<bool> {
        remove_blob(self.store.root(), digest)
    }

    /// Remove every blob not in `live`, every ingest no writer holds that was last written
    /// more than [`ABANDONED_INGEST_AGE`] ago, and stale temporary files. With `dry_run`,
    /// report what would go and remove nothing.
    ///
    /// `live` must hold at least every digest `index.json` lists (else
    /// [`StoreError::LiveSetMissesRoot`], and nothing is removed): a mark that misses the
    /// roots is wrong. Everything those reach must be in it too; that the sweep cannot check.
    pub fn sweep(&self, live: &HashSet<Digest>, dry_run: bool) -> Result<SweepReport> {
        let root = self.store.root();
        let index = {
            let _l = LockFile::shared(&root.join(layout::INDEX_LOCK))?;
            read_index(root)?
        };
        if let Some(d) = index.manifests.iter().find(|d| !live.contains(&d.digest)) {
            return Err(StoreError::LiveSetMissesRoot {
                digest: d.digest,
                name: entry_name(d).map(|n| n.normalized()),
            });
        }
        let mut report = SweepReport { dry_run, ..SweepReport::default() };
        let mut touched = BTreeSet::new();
        for item in self.store.blobs()? {
            let info = match item {
                Ok(info) => info,
                Err(e) => {
                    report.not_blobs.push(e);
                    continue;
                }
            };
            if live.contains(&info.digest) {
                report.kept += 1;
                continue;
            }
            if !dry_run {
                match fs::remove_file(&info.path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::io("remove", info.path, e)),
                }
                touched.insert(info.digest.algorithm());
            }
            report.bytes_reclaimed += info.size;
            report.removed.push((info.digest, info.size));
        }
        for algorithm in touched {
            layout::sync_dir(&layout::alg_dir(root, algorithm))?;
        }
        let now = SystemTime::now();
        self.sweep_ingests(now, &mut report)?;
        self.sweep_temp_files(now, &mut report)?;
        Ok(report)
    }

    fn sweep_ingests(&self, now: SystemTime, report: &mut SweepReport) -> Result<()> {
        let dir = self.store.root().join(layout::INGEST);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io("list", dir, e)),
        };
        for entry in entries {
            let entry = entry.at("list", &dir)?;
            let path = entry.path();
            if !entry.file_type().at("stat", &path)?.is_dir() {
                continue;
            }
            // Held while the ingest is removed, so no writer can pick it up meanwhile.
            let _lock = match LockFile::try_exclusive_existing(&path.join(layout::INGEST_LOCK))? {
                TryLock::Held => {
                    report.ingests_in_progress += 1;
                    continue;
                }
                TryLock::Locked(l) => Some(l),
                TryLock::NoFile => None,
            };
            let reference =
                fs::read(path.join(ingest_file::REF)).ok().and_then(|r| String::from_utf8(r).ok());
            // A directory renamed aside by an interrupted removal is garbage at any age; so
            // is an import's ingest: an import's refs are unique to it and never resumed
            // (`import/tee.rs`); and so is one whose start did not complete (no `startedat`,
            // which is written after `ref`: its writer died writing `ref`), which holds no
            // bytes worth resuming. Under this lock no writer runs.
            let aside = layout::is_temp_name(&entry.file_name().to_string_lossy());
            let started = path.join(ingest_file::STARTED_AT).exists();
            let import = reference.as_deref().is_some_and(|r| r.starts_with(IMPORT_REF_PREFIX));
            if !aside
                && started
                && !import
                && !older_than(latest_change(&path), now, ABANDONED_INGEST_AGE)
            {
                continue;
            }
            let size = fs::metadata(path.join(ingest_file::DATA)).map_or(0, |m| m.len());
            if !report.dry_run {
                remove_ingest(&path);
            }
            report.bytes_reclaimed += size;
            report.ingests_removed.push(RemovedIngest { reference, path, size });
        }
        Ok(())
    }

    fn sweep_temp_files(&self, now: SystemTime, report: &mut SweepReport) -> Result<()> {
        let root = self.store.root();
        for entry in fs::read_dir(root).at("list", root)? {
            let entry = entry.at("list", root)?;
            let path = entry.path();
            let name = entry.file_name();
            if !layout::is_temp_name(&name.to_string_lossy()) {
                continue;
            }
            let meta = entry.metadata().at("stat", &path)?;
            if !meta.is_file() || !older_than(meta.modified().ok(), now, ABANDONED_INGEST_AGE) {
                continue;
            }
            if !report.dry_run {
                match fs::remove_file(&path) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::io("remove", path, e)),
                }
            }
            report.temp_files_removed.push(path);
        }
        Ok(())
    }
}

/// When an ingest last changed: the newest modification time of its directory and files
/// (containerd's status takes the later of `updatedat` and the data file's time).
fn latest_change(dir: &Path) -> Option<SystemTime> {
    let mut latest = fs::metadata(dir).and_then(|m| m.modified()).ok();
    for name in [
        ingest_file::DATA,
        ingest_file::UPDATED_AT,
        ingest_file::STARTED_AT,
        ingest_file::REF,
        ingest_file::TOTAL,
        ingest_file::EXPECTED,
        layout::INGEST_LOCK,
    ] {
        if let Ok(t) = fs::metadata(dir.join(name)).and_then(|m| m.modified()) {
            latest = latest.max(Some(t));
        }
    }
    latest
}

fn older_than(t: Option<SystemTime>, now: SystemTime, age: Duration) -> bool {
    // No time at all: treat as old. A time in the future: as new.
    t.is_none_or(|t| now.duration_since(t).is_ok_and(|d| d > age))
}

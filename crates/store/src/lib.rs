//! A crash-safe, deduplicating content store for container images.
//!
//! A store is a directory that is at once an [OCI image layout] (`oci-layout`, `index.json`,
//! `blobs/<alg>/<hex>`), so `skopeo inspect oci:STORE:NAME`, `umoci ls --layout STORE` and
//! `podman pull oci:STORE:NAME` read it as it is, and a containerd content directory (the
//! same `blobs/`, and containerd's `ingest/` area for writes in progress).
//!
//! ```
//! use std::io::Write;
//! use ocisize_digest::{Algorithm, Digest};
//! use ocisize_reference::Reference;
//! use ocisize_spec::media_type;
//! use ocisize_store::Store;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = Store::open_or_create(dir.path().join("store"))?;
//! let bytes = br#"{"schemaVersion":2,"manifests":[]}"#;
//! let digest = Digest::of(Algorithm::Sha256, bytes);
//!
//! // Write: the ref names the source of the bytes; the blob is invisible until commit.
//! let mut w = store.writer("example/index.json", Some((digest, bytes.len() as u64)))?;
//! w.write_all(bytes)?;
//! let blob = w.commit(None)?;
//! assert_eq!(blob.digest, digest);
//!
//! // Name it, read it back (verified as it streams), list the names.
//! let name = Reference::parse_normalized("example")?;
//! store.set_names(&[(name, blob.descriptor(media_type::OCI_INDEX))])?;
//! let mut back = Vec::new();
//! std::io::Read::read_to_end(&mut store.reader(&digest)?, &mut back)?;
//! assert_eq!(back, bytes);
//! assert_eq!(store.names()?[0].0.normalized(), "docker.io/library/example:latest");
//! # Ok(())
//! # }
//! ```
//!
//! Importing, listing, exporting and collecting: an image source is anything `ocisize
//! inspect` reads, verified as inspect verifies it while its blobs are written.
//!
//! ```
//! use ocisize_source::SourceArg;
//! use ocisize_store::{Destination, ExportOptions, ImportOptions, Store};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! let store = Store::open_or_create(dir.path().join("store"))?;
//! let archive = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/corpus/tiny.dockerd.save.tar");
//! let report = store.import(&SourceArg::path(archive), &ImportOptions::default())?;
//! assert_eq!(report.images[0].name, "docker.io/ocisize/tiny:latest"); // from RepoTags
//! assert_eq!(report.blobs_written, 6); // 4 layers, the config, containerd's manifest
//!
//! // Again: every byte verified, nothing written.
//! let again = store.import(&SourceArg::path(archive), &ImportOptions::default())?;
//! assert_eq!((again.blobs_written, again.blobs_present), (0, 6));
//!
//! let listed = store.list()?;
//! assert_eq!(listed[0].size, Some(2_350_093)); // what `ctr images ls` shows
//!
//! let name = ocisize_reference::Reference::parse_normalized("ocisize/tiny")?;
//! let dest: Destination = format!("oci-archive:{}", dir.path().join("tiny.tar").display()).parse()?;
//! store.export(&name, &dest, &ExportOptions::default())?;
//!
//! store.remove_names(&[name])?;
//! assert_eq!(store.gc(false)?.removed.len(), 6);
//! assert!(store.fsck()?.is_clean());
//! # Ok(())
//! # }
//! ```
//!
//! # Guarantees
//!
//! - **No blob is visible before its bytes are durable and checked.** A writer's bytes go
//!   to `ingest/<hex(sha256(ref))>/data`; commit fsyncs them, checks size and digest, makes
//!   the file read-only and renames it to `blobs/<alg>/<hex>`, then fsyncs the directory.
//!   A mismatching blob is never committed; its ingest is removed.
//! - **After a crash** (a killed process, at any instruction): every file in `blobs/`
//!   hashes to its name, `index.json` is a whole version (old or new), and an unfinished
//!   write can be resumed: a writer with the same ref re-hashes what `data` holds and goes
//!   on from its length. What a crash loses is at most the unfinished write's tail and the
//!   `index.json` update that had not been renamed into place.
//! - **Concurrent writers** (threads or processes): writers with the same ref wait for each
//!   other (a lock file in the ingest directory); writers of the same digest under any refs
//!   all succeed and leave one blob; a writer whose blob is already stored writes nothing
//!   to disk. Name updates are serialised by an exclusive lock on `index.json` and never
//!   lose each other's names.
//! - **Removal never races a write.** Every writer and [`Lease`] holds a shared lock that
//!   [`Store::sweep`] and [`Store::delete`] take exclusively: an import that holds a lease
//!   from its first blob to its last name cannot have its blobs swept in between.
//!
//! Locks are advisory (`flock`) and released by the kernel when a process dies.
//!
//! [OCI image layout]: https://github.com/opencontainers/image-spec/blob/main/image-layout.md
#![deny(missing_docs)]
// `StoreError` carries typed digests, expected and found (65 bytes each), so it is larger
// than clippy's 128-byte threshold; errors are off the hot path, and boxing the digests
// would only make them harder to match on.
#![allow(clippy::result_large_err)]

mod blob;
mod error;
mod export;
mod fsck;
mod graph;
mod import;
mod index;
mod ingest;
mod layout;
mod lock;
mod sweep;

use std::ffi::OsString;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

pub use blob::{BlobInfo, BlobReader, Blobs};
pub use error::{Result, StoreError};
pub use export::{Destination, ExportOptions, ExportReport};
pub use fsck::{CorruptBlob, FsckReport};
pub use graph::{host_platform, CheckReport, ListedImage, MissingBlob, SizedBlob};
pub use import::{ImportOptions, ImportReport, ImportedImage};
pub use index::entry_name;
pub use ingest::{Committed, IngestStatus, Writer};
pub use sweep::{GcLock, RemovedIngest, SweepReport, ABANDONED_INGEST_AGE};

use error::IoContext;
use lock::{LockFile, SharedGc};

/// An open store. Cheap to clone; every operation goes to the file system, so several
/// `Store`s (in one process or many) on one directory see each other's changes.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

/// Holds off removal (sweep, delete) while it lives; see [`Store::lease`].
#[derive(Debug)]
pub struct Lease {
    _gc: SharedGc,
}

impl Store {
    /// Where the store is by default: `$OCISIZE_STORE`, else `$XDG_DATA_HOME/ocisize/store`
    /// (an absolute `XDG_DATA_HOME` only, as the XDG base directory spec says), else
    /// `$HOME/.local/share/ocisize/store`.
    pub fn default_path() -> Result<PathBuf> {
        default_path_from(|k| std::env::var_os(k))
    }

    /// Open an existing store.
    pub fn open(path: impl AsRef<Path>) -> Result<Store> {
        let path = path.as_ref();
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(not_a_layout(path, "not a directory")),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound { path: path.to_path_buf() })
            }
            Err(e) => return Err(StoreError::io("stat", path, e)),
        }
        let root = path.canonicalize().at("resolve", path)?;
        check_layout(&root)?;
        if !root.join(layout::INDEX).is_file() {
            return Err(not_a_layout(&root, "no index.json"));
        }
        Ok(Store { root })
    }

    /// Make a new store in `path`, which must be missing or empty.
    pub fn create(path: impl AsRef<Path>) -> Result<Store> {
        init(path.as_ref(), false)
    }

    /// Open the store in `path`, making it first if the directory is missing or empty.
    pub fn open_or_create(path: impl AsRef<Path>) -> Result<Store> {
        match Store::open(path.as_ref()) {
            // `init` decides under the store's lock, so a store another process is making
            // at this moment is waited for rather than mistaken for a foreign directory.
            Err(StoreError::NotFound { .. } | StoreError::NotALayout { .. }) => {
                init(path.as_ref(), true)
            }
            r => r,
        }
    }

    /// The store directory (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Hold off removal until the lease is dropped. An import takes one before its first
    /// blob and drops it after its last name: otherwise a sweep that runs between a commit
    /// and the name that makes the blob live would remove it.
    pub fn lease(&self) -> Result<Lease> {
        Ok(Lease { _gc: SharedGc::acquire(&self.root)? })
    }
}

fn not_a_layout(path: &Path, reason: &str) -> StoreError {
    StoreError::NotALayout { path: path.to_path_buf(), reason: reason.to_owned() }
}

fn default_path_from(var: impl Fn(&str) -> Option<OsString>) -> Result<PathBuf> {
    let set = |k: &str| var(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(p) = set("OCISIZE_STORE") {
        return Ok(p);
    }
    if let Some(p) = set("XDG_DATA_HOME").filter(|p| p.is_absolute()) {
        return Ok(p.join("ocisize").join("store"));
    }
    match set("HOME") {
        Some(home) => Ok(home.join(".local/share/ocisize/store")),
        None => Err(StoreError::NoDefaultPath),
    }
}

/// `oci-layout` is there and says 1.0.0.
fn check_layout(root: &Path) -> Result<()> {
    let path = root.join(layout::OCI_LAYOUT);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return Err(not_a_layout(root, "no oci-layout file"))
        }
        Err(e) => return Err(StoreError::io("read", path, e)),
    };
    let limits = ocisize_spec::JsonLimits::default();
    let kind = ocisize_spec::DocumentKind::OciLayout;
    match ocisize_spec::parse_json::<ocisize_spec::OciLayout>(&bytes, kind, &limits) {
        Ok(l) if l.image_layout_version == "1.0.0" => Ok(()),
        Ok(l) => Err(not_a_layout(
            root,
            &format!("imageLayoutVersion {:?}, expected \"1.0.0\"", l.image_layout_version),
        )),
        Err(e) => Err(not_a_layout(root, &e.to_string())),
    }
}

/// Empty but for what a concurrent `init` may have put there already.
fn is_empty_dir(path: &Path) -> Result<bool> {
    for entry in fs::read_dir(path).at("list", path)? {
        let name = entry.at("list", path)?.file_name();
        let name = name.to_string_lossy();
        if !(name == layout::INDEX_LOCK || name == layout::GC_LOCK || layout::is_temp_name(&name)) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn init(path: &Path, allow_existing: bool) -> Result<Store> {
    if layout::make_dir(path)? {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            layout::sync_dir(parent)?;
        }
    }
    let root = path.canonicalize().at("resolve", path)?;
    // Refuse a directory of other things before writing a lock file into it. The listing
    // comes first: a concurrent `init` writes `oci-layout` before anything else, so if the
    // listing saw its files, `oci-layout` is seen after it.
    if !is_empty_dir(&root)? && !root.join(layout::OCI_LAYOUT).exists() {
        return Err(not_a_layout(&root, "the directory is not empty and has no oci-layout"));
    }
    let _lock = LockFile::exclusive(&root.join(layout::INDEX_LOCK))?;
    // Under the lock, a store made meanwhile by another process is seen whole (it writes
    // `oci-layout` first); the check above may have seen only part of it.
    if root.join(layout::OCI_LAYOUT).exists() {
        if !allow_existing {
            return Err(StoreError::AlreadyExists { path: root });
        }
        check_layout(&root)?;
    } else if !is_empty_dir(&root)? {
        return Err(not_a_layout(&root, "the directory is not empty and has no oci-layout"));
    } else {
        layout::write_atomic(&root, layout::OCI_LAYOUT, layout::OCI_LAYOUT_CONTENT)?;
    }
    let blobs = root.join(layout::BLOBS);
    layout::make_dir(&blobs)?;
    layout::make_dir(&layout::alg_dir(&root, ocisize_digest::Algorithm::Sha256))?;
    layout::sync_dir(&blobs)?;
    layout::make_dir(&root.join(layout::INGEST))?;
    layout::sync_dir(&root)?;
    // Last: `open` takes a directory with `index.json` for a whole store, so a making that
    // was killed before this point is made again, not opened.
    if !root.join(layout::INDEX).exists() {
        index::write_index(&root, &index::empty_index())?;
    }
    Ok(Store { root })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handles_can_move_to_other_threads() {
        fn send<T: Send>() {}
        send::<Store>();
        send::<Writer>();
        send::<BlobReader>();
        send::<Lease>();
        send::<StoreError>();
        fn sync<T: Sync>() {}
        sync::<Store>();
        sync::<StoreError>();
    }

    #[test]
    fn default_path_follows_the_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| OsString::from(v))
        };
        let p = default_path_from(env(&[("OCISIZE_STORE", "/s"), ("HOME", "/h")])).unwrap();
        assert_eq!(p, Path::new("/s"));
        let p = default_path_from(env(&[("XDG_DATA_HOME", "/x"), ("HOME", "/h")])).unwrap();
        assert_eq!(p, Path::new("/x/ocisize/store"));
        let p = default_path_from(env(&[("XDG_DATA_HOME", "rel"), ("HOME", "/h")])).unwrap();
        assert_eq!(p, Path::new("/h/.local/share/ocisize/store"));
        let p = default_path_from(env(&[("OCISIZE_STORE", ""), ("HOME", "/h")])).unwrap();
        assert_eq!(p, Path::new("/h/.local/share/ocisize/store"));
        let e = default_path_from(env(&[])).unwrap_err();
        assert!(matches!(e, StoreError::NoDefaultPath), "{e}");
    }
}

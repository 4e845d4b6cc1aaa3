//! Where things are in a store directory, and the file system primitives every write uses:
//! directories made 0755, files replaced atomically, directories fsynced after a rename.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use ocisize_digest::{Algorithm, Digest};

use crate::error::{IoContext, Result};

/// The `oci-layout` marker (image-spec image-layout.md).
pub(crate) const OCI_LAYOUT: &str = "oci-layout";
/// Its only content this store writes.
pub(crate) const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;
/// The layout's index.
pub(crate) const INDEX: &str = "index.json";
/// Content, as `blobs/<alg>/<encoded>` (the same in an OCI layout and containerd's
/// content directory).
pub(crate) const BLOBS: &str = "blobs";
/// containerd's ingest area: `ingest/<hex(sha256(ref))>/`.
pub(crate) const INGEST: &str = "ingest";
/// Advisory lock for `index.json`: exclusive while it is replaced, shared for a stable read.
pub(crate) const INDEX_LOCK: &str = ".lock";
/// Advisory lock between writers and removal: shared by every writer and lease, exclusive
/// for sweep and delete.
pub(crate) const GC_LOCK: &str = ".gc.lock";
/// The per-ingest lock file, inside the ingest directory (containerd's local store keeps
/// an in-process lock per ref instead; this one works across processes too).
pub(crate) const INGEST_LOCK: &str = "lock";

/// Files of an ingest directory, as containerd's `plugins/content/local/store.go` names them.
pub(crate) mod ingest_file {
    /// The ref, as given, no newline.
    pub(crate) const REF: &str = "ref";
    /// The bytes written so far.
    pub(crate) const DATA: &str = "data";
    /// Go `time.Time.MarshalText` (RFC 3339 with nanoseconds) of the ingest's start.
    pub(crate) const STARTED_AT: &str = "startedat";
    /// The same, of the last write session's end.
    pub(crate) const UPDATED_AT: &str = "updatedat";
    /// The expected size in decimal, no newline; only written when it is known and > 0.
    pub(crate) const TOTAL: &str = "total";
    /// ocisize's addition (containerd has a TODO to store it): the expected digest, when
    /// known, so that an ingest is only resumed for the same content.
    pub(crate) const EXPECTED: &str = "expected";
}

/// The path of a blob: `blobs/<alg>/<hex>`.
pub(crate) fn blob_path(root: &Path, digest: &Digest) -> PathBuf {
    root.join(BLOBS).join(digest.algorithm().name()).join(digest.hex())
}

/// The directory of an algorithm's blobs.
pub(crate) fn alg_dir(root: &Path, algorithm: Algorithm) -> PathBuf {
    root.join(BLOBS).join(algorithm.name())
}

/// The ingest directory of a ref: containerd takes the sha256 of the ref "to keep the ingest
/// paths constant length" (`ingestRoot` in store.go).
pub(crate) fn ingest_dir(root: &Path, reference: &str) -> PathBuf {
    root.join(INGEST).join(Digest::of(Algorithm::Sha256, reference.as_bytes()).hex())
}

/// Make `path` and its missing parents, mode 0755 (less the umask). Returns whether the
/// last component was created, so the caller can fsync its parent.
pub(crate) fn make_dir(path: &Path) -> Result<bool> {
    if path.is_dir() {
        return Ok(false);
    }
    if let Some(parent) = path.parent() {
        DirBuilder::new().recursive(true).mode(0o755).create(parent).at("create", parent)?;
    }
    match DirBuilder::new().mode(0o755).create(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && path.is_dir() => Ok(false),
        Err(e) => Err(crate::StoreError::io("create", path, e)),
    }
}

/// fsync a directory, so that a rename or unlink in it survives a crash.
pub(crate) fn sync_dir(path: &Path) -> Result<()> {
    File::open(path).and_then(|d| d.sync_all()).at("fsync", path)
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A name for a temporary file beside `name`, unique in this process and across processes:
/// `.<name>.<pid>.<n>.tmp`.
pub(crate) fn temp_name(name: &str) -> String {
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(".{name}.{}.{n}.tmp", std::process::id())
}

/// Whether a directory entry is one of [`temp_name`]'s files (or a removal in progress).
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Replace `dir/name` by `bytes` atomically: write a temporary file in the same directory,
/// fsync it, rename it over the target, fsync the directory. A reader sees the old file or
/// the new one, never a part; after a crash the target is whole (old or new).
pub(crate) fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let tmp = dir.join(temp_name(name));
    let target = dir.join(name);
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .at("create", &tmp)?;
        f.write_all(bytes).at("write", &tmp)?;
        f.sync_all().at("fsync", &tmp)?;
        drop(f);
        fs::rename(&tmp, &target).at("rename", &tmp)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// containerd's `writeToCompletion`: write `path.tmp` synchronously (containerd opens it
/// `O_SYNC`; this fsyncs it), rename it over `path`. Used for the ingest's timestamp files,
/// under the ingest lock, so the fixed temporary name cannot collide.
pub(crate) fn write_to_completion(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f =
        OpenOptions::new().write(true).create(true).truncate(true).open(&tmp).at("create", &tmp)?;
    f.write_all(bytes).at("write", &tmp)?;
    f.sync_all().at("fsync", &tmp)?;
    drop(f);
    fs::rename(&tmp, path).at("rename", &tmp)
}

/// A time as Go's `time.Time.MarshalText` writes it for a UTC time, which is what
/// containerd puts in `startedat` and `updatedat`: RFC 3339 with the nanoseconds, trailing
/// zeros of the fraction dropped (Go's `RFC3339Nano` layout, `.999999999`), `Z` for UTC.
pub(crate) fn go_time_text(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days);
    let mut s =
        format!("{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}", rem / 3600, rem / 60 % 60, rem % 60);
    let nanos = d.subsec_nanos();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn go_time_text_matches_go() {
        // Go: time.Unix(0, 0).UTC().MarshalText() = "1970-01-01T00:00:00Z".
        assert_eq!(go_time_text(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        // time.Unix(1700000000, 120000000).UTC() = "2023-11-14T22:13:20.12Z".
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(go_time_text(t), "2023-11-14T22:13:20.12Z");
        // A leap day and a full fraction.
        let t = UNIX_EPOCH + Duration::new(951_782_400, 123_456_789);
        assert_eq!(go_time_text(t), "2000-02-29T00:00:00.123456789Z");
    }

    #[test]
    fn ingest_dir_is_sha256_of_the_ref() {
        // sha256("foo"), as containerd's digest.FromString("foo").Encoded().
        let d = ingest_dir(Path::new("/s"), "foo");
        assert_eq!(
            d,
            Path::new("/s/ingest/2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae")
        );
    }

    #[test]
    fn temp_names_are_recognised() {
        let t = temp_name("index.json");
        assert!(is_temp_name(&t), "{t}");
        assert!(!is_temp_name("index.json"));
        assert_ne!(temp_name("x"), temp_name("x"));
    }
}

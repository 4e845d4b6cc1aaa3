//! Sweep (the removal half of gc), fsck of blob bytes, the blob listing.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;
use std::fs::{self, File, FileTimes};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{bytes, ingests, name, sha256, write_blob};
use ocisize_spec::media_type;
use ocisize_store::{Store, StoreError};

fn age(path: &Path, by: Duration) {
    let t = SystemTime::now() - by;
    for entry in fs::read_dir(path).unwrap() {
        let p = entry.unwrap().path();
        File::open(&p).unwrap().set_times(FileTimes::new().set_modified(t)).unwrap();
    }
    File::open(path).unwrap().set_times(FileTimes::new().set_modified(t)).unwrap();
}

const DAY: Duration = Duration::from_secs(24 * 60 * 60);

#[test]
fn sweep_removes_what_is_not_live() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let keep = write_blob(&store, "keep", &bytes(1, 1000), 100);
    let named = write_blob(&store, "named", &bytes(2, 2000), 100);
    let drop1 = write_blob(&store, "drop1", &bytes(3, 3000), 100);
    let drop2 = write_blob(&store, "drop2", &bytes(4, 4000), 100);
    store.set_names(&[(name("n"), named.descriptor(media_type::OCI_MANIFEST))]).unwrap();

    // A mark that misses a named blob is refused, and nothing goes.
    let e = store.sweep(&HashSet::from([keep.digest]), false).unwrap_err();
    assert!(matches!(e, StoreError::LiveSetMissesRoot { .. }), "{e}");
    assert!(e.to_string().ends_with("which index.json lists as docker.io/library/n:latest"), "{e}");
    assert_eq!(store.blobs().unwrap().count(), 4);

    let live = HashSet::from([keep.digest, named.digest]);
    let dry = store.sweep(&live, true).unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.bytes_reclaimed, 7000);
    assert_eq!(store.blobs().unwrap().count(), 4, "a dry run removes nothing");

    let r = store.sweep(&live, false).unwrap();
    let mut removed = r.removed.clone();
    removed.sort();
    let mut want = vec![(drop1.digest, 3000), (drop2.digest, 4000)];
    want.sort();
    assert_eq!(removed, want);
    assert_eq!(r.bytes_reclaimed, 7000);
    assert_eq!(r.kept, 2);
    let left: HashSet<_> = store.blobs().unwrap().map(|b| b.unwrap().digest).collect();
    assert_eq!(left, live);
}

#[test]
fn sweep_removes_abandoned_ingests_but_not_one_in_progress() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let ingest = |r: &str| store.root().join("ingest").join(sha256(r.as_bytes()).hex());
    // Abandoned two days ago.
    let mut w = store.writer("old", None).unwrap();
    w.write_all(&bytes(5, 5000)).unwrap();
    drop(w);
    age(&ingest("old"), 2 * DAY);
    // Written an hour ago: not abandoned yet.
    let mut w = store.writer("recent", None).unwrap();
    w.write_all(&bytes(6, 6000)).unwrap();
    drop(w);
    age(&ingest("recent"), Duration::from_secs(3600));
    // Old, but its lock is held by a writer of another process (this sweep must not wait
    // for it, and must not take it): simulated by holding the lock file directly.
    let mut w = store.writer("held", None).unwrap();
    w.write_all(&bytes(7, 7000)).unwrap();
    drop(w);
    age(&ingest("held"), 2 * DAY);
    let held = File::open(ingest("held").join("lock")).unwrap();
    held.lock().unwrap();
    // A removal interrupted after its rename leaves a `.tmp` directory: garbage at any age.
    fs::create_dir(store.root().join("ingest/.abc.1.0.tmp")).unwrap();
    // And a stale temporary index file from an interrupted atomic write.
    let stale = store.root().join(".index.json.1.0.tmp");
    fs::write(&stale, "{").unwrap();
    File::open(&stale)
        .unwrap()
        .set_times(FileTimes::new().set_modified(SystemTime::now() - 2 * DAY))
        .unwrap();

    let r = store.sweep(&HashSet::new(), false).unwrap();
    let refs: Vec<_> = r.ingests_removed.iter().map(|i| i.reference.clone()).collect();
    assert!(refs.contains(&Some("old".to_owned())), "{refs:?}");
    assert_eq!(r.ingests_removed.len(), 2, "{:?}", r.ingests_removed);
    assert_eq!(r.ingests_in_progress, 1);
    assert_eq!(r.temp_files_removed, vec![stale.clone()]);
    assert_eq!(r.bytes_reclaimed, 5000);
    assert!(!ingest("old").exists());
    assert!(ingest("recent").exists() && ingest("held").exists());
    assert!(!stale.exists());
    let mut left = ingests(&store);
    left.sort();
    let mut want = vec![sha256(b"recent").hex(), sha256(b"held").hex()];
    want.sort();
    assert_eq!(left, want);
    drop(held);
}

#[test]
fn sweep_and_delete_refuse_while_this_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let c = write_blob(&store, "x", &bytes(1, 10), 10);
    let w = store.writer("open", None).unwrap();
    let e = store.sweep(&HashSet::new(), false).unwrap_err();
    assert!(matches!(e, StoreError::HeldByThisProcess { .. }), "{e}");
    assert!(matches!(store.delete(&c.digest), Err(StoreError::HeldByThisProcess { .. })));
    drop(w);
    let lease = store.lease().unwrap();
    assert!(matches!(store.delete(&c.digest), Err(StoreError::HeldByThisProcess { .. })));
    drop(lease);
    assert!(store.delete(&c.digest).unwrap());
    assert!(!store.delete(&c.digest).unwrap());
    assert!(store.info(&c.digest).unwrap().is_none());
}

#[test]
fn fsck_reports_damaged_blobs_and_strangers() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let small = write_blob(&store, "small", &bytes(1, 5000), 1000);
    // Over the mmap threshold.
    let big = write_blob(&store, "big", &bytes(2, 3 << 20), 1 << 20);
    let ok = write_blob(&store, "ok", &bytes(3, 100), 100);
    let r = store.fsck_blobs().unwrap();
    assert!(r.is_clean(), "{r:?}");
    assert_eq!(r.blobs_checked, 3);
    assert_eq!(r.bytes_checked, 5000 + (3 << 20) + 100);
    for (c, at) in [(&small, 10), (&big, 2 << 20)] {
        let path = store.info(&c.digest).unwrap().unwrap().path;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let mut data = fs::read(&path).unwrap();
        data[at] ^= 1;
        fs::write(&path, &data).unwrap();
    }
    fs::create_dir(store.root().join("blobs/md5")).unwrap();
    fs::write(store.root().join("blobs/sha256/not-a-digest"), "x").unwrap();
    let r = store.fsck_blobs().unwrap();
    assert!(!r.is_clean());
    let mut bad: Vec<_> = r.corrupt.iter().map(|c| c.digest).collect();
    bad.sort();
    let mut want = vec![small.digest, big.digest];
    want.sort();
    assert_eq!(bad, want);
    assert!(r
        .corrupt
        .iter()
        .all(|c| c.found.is_some() && c.message.starts_with("its bytes hash to sha256:")));
    assert_eq!(r.blobs_checked, 3);
    let strangers: Vec<String> = r.not_blobs.iter().map(|e| e.to_string()).collect();
    assert_eq!(strangers.len(), 2, "{strangers:?}");
    assert!(
        strangers.iter().any(|s| s.ends_with(
            "blobs/md5: unsupported digest algorithm \"md5\" (supported: sha256, sha512)"
        )),
        "{strangers:?}"
    );
    assert!(
        strangers.iter().any(|s| s.ends_with("not-a-digest: not a blob (not a sha256 digest)")),
        "{strangers:?}"
    );
    // A sweep leaves what is not a blob alone.
    let live = HashSet::from([ok.digest]);
    let s = store.sweep(&live, false).unwrap();
    assert_eq!(s.not_blobs.len(), 2);
    assert!(store.root().join("blobs/sha256/not-a-digest").exists());
}

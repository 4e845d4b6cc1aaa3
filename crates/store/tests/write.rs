//! The writer: chunking, size and digest checks, resume, dedup, containerd's ingest files.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;

use common::{bytes, ingests, sha256, write_blob};
use ocisize_digest::{Algorithm, Digest};
use ocisize_store::{Store, StoreError};
use proptest::prelude::*;

fn new_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    (dir, store)
}

fn read_blob(store: &Store, d: &Digest) -> Vec<u8> {
    let mut v = Vec::new();
    store.reader(d).unwrap().read_to_end(&mut v).unwrap();
    v
}

/// Write `data` cut at `cuts` (sorted, deduplicated offsets).
fn write_cut(w: &mut ocisize_store::Writer, data: &[u8], cuts: &[usize]) {
    let mut at = 0;
    for &c in cuts.iter().chain(std::iter::once(&data.len())) {
        let c = c.min(data.len());
        if c > at {
            w.write_all(&data[at..c]).unwrap();
            at = c;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_chunking_commits_the_right_blob(
        data in proptest::collection::vec(any::<u8>(), 0..200_000),
        mut cuts in proptest::collection::vec(0usize..200_000, 0..20),
        known in any::<bool>(),
    ) {
        cuts.sort_unstable();
        let (_d, store) = new_store();
        let want = sha256(&data);
        let expected = known.then_some((want, data.len() as u64));
        let mut w = store.writer("chunked", expected).unwrap();
        write_cut(&mut w, &data, &cuts);
        prop_assert_eq!(w.offset(), data.len() as u64);
        let c = w.commit(None).unwrap();
        prop_assert_eq!(c.digest, want);
        prop_assert_eq!(c.size, data.len() as u64);
        prop_assert!(!c.existed);
        prop_assert_eq!(read_blob(&store, &want), data);
        prop_assert!(ingests(&store).is_empty());
        let info = store.info(&want).unwrap().unwrap();
        prop_assert_eq!(info.path.metadata().unwrap().permissions().mode() & 0o777, 0o444);
    }

    #[test]
    fn resume_after_truncating_a_partial_ingest(
        data in proptest::collection::vec(any::<u8>(), 1..300_000),
        written in 0.0f64..1.0,
        kept in 0.0f64..1.0,
        from_start in any::<bool>(),
    ) {
        let (_d, store) = new_store();
        let expected = (sha256(&data), data.len() as u64);
        let written = (data.len() as f64 * written) as usize;
        let mut w = store.writer("partial", Some(expected)).unwrap();
        w.write_all(&data[..written]).unwrap();
        drop(w);
        // A crash loses the tail of what was written.
        let kept = (written as f64 * kept) as usize;
        let dir = store.root().join("ingest").join(sha256(b"partial").hex());
        fs::OpenOptions::new().write(true).open(dir.join("data")).unwrap()
            .set_len(kept as u64).unwrap();
        let mut w = store.writer("partial", Some(expected)).unwrap();
        prop_assert_eq!(w.offset(), kept as u64);
        if from_start {
            prop_assert_eq!(w.skip_written_prefix(), kept as u64);
            w.write_all(&data).unwrap();
        } else {
            w.write_all(&data[kept..]).unwrap();
        }
        let c = w.commit(None).unwrap();
        prop_assert_eq!(c.digest, expected.0);
        prop_assert_eq!(read_blob(&store, &expected.0), data);
    }
}

#[test]
fn a_write_past_the_expected_size_fails_and_nothing_is_committed() {
    let (_d, store) = new_store();
    let data = bytes(1, 100);
    let expected = (sha256(&data[..99]), 99);
    let mut w = store.writer("over", Some(expected)).unwrap();
    w.write_all(&data[..99]).unwrap();
    let e = w.write_all(&data[99..]).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
    let inner = StoreError::from_io(&e).unwrap();
    assert!(matches!(inner, StoreError::TooLong { expected: 99, .. }), "{inner}");
    assert_eq!(inner.to_string(), "ingest \"over\" is longer than its expected size of 99 bytes");
    // The writer is poisoned: the first 99 bytes were right, but the source was longer.
    let e = w.commit(None).unwrap_err();
    assert!(matches!(e, StoreError::SizeMismatch { expected: 99, found: 100, .. }), "{e}");
    assert!(store.info(&expected.0).unwrap().is_none());
    assert!(ingests(&store).is_empty());
}

#[test]
fn a_digest_mismatch_is_never_committed() {
    let (_d, store) = new_store();
    let data = bytes(2, 5000);
    let claimed = sha256(b"something else");
    let mut w = store.writer("layer.tar", Some((claimed, 5000))).unwrap();
    w.write_all(&data).unwrap();
    let e = w.commit(None).unwrap_err();
    match &e {
        StoreError::DigestMismatch { reference, expected, found } => {
            assert_eq!(reference, "layer.tar");
            assert_eq!(*expected, claimed);
            assert_eq!(*found, sha256(&data));
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        e.to_string(),
        format!("digest mismatch for \"layer.tar\": expected {claimed}, found {}", sha256(&data))
    );
    assert!(store.info(&claimed).unwrap().is_none());
    assert!(store.info(&sha256(&data)).unwrap().is_none());
    assert_eq!(store.blobs().unwrap().count(), 0);
    assert!(ingests(&store).is_empty());
    // A short write is a size mismatch.
    let mut w = store.writer("short", Some((sha256(&data), 5000))).unwrap();
    w.write_all(&data[..4999]).unwrap();
    let e = w.commit(None).unwrap_err();
    assert!(matches!(e, StoreError::SizeMismatch { expected: 5000, found: 4999, .. }), "{e}");
    // An expectation given only at commit is checked too.
    let mut w = store.writer("late", None).unwrap();
    w.write_all(&data).unwrap();
    let e = w.commit(Some((claimed, 5000))).unwrap_err();
    assert!(matches!(e, StoreError::DigestMismatch { .. }), "{e}");
    assert_eq!(store.blobs().unwrap().count(), 0);
}

#[test]
fn a_stored_blob_is_checked_but_not_written_again() {
    let (_d, store) = new_store();
    let data = bytes(3, 70_000);
    let first = write_blob(&store, "a", &data, 4096);
    assert!(!first.existed);
    let mut w = store.writer("b", Some((first.digest, first.size))).unwrap();
    // Nothing touches the ingest area for a blob the store holds.
    assert!(ingests(&store).is_empty());
    w.write_all(&data).unwrap();
    let again = w.commit(None).unwrap();
    assert!(again.existed);
    assert_eq!(again.digest, first.digest);
    // Wrong bytes for a stored digest are still an error.
    let mut w = store.writer("c", Some((first.digest, first.size))).unwrap();
    w.write_all(&bytes(4, 70_000)).unwrap();
    assert!(matches!(w.commit(None), Err(StoreError::DigestMismatch { .. })));
    // Without an expectation the duplicate goes through the ingest and is discarded.
    let mut w = store.writer("d", None).unwrap();
    w.write_all(&data).unwrap();
    assert!(w.commit(None).unwrap().existed);
    assert!(ingests(&store).is_empty());
    assert_eq!(read_blob(&store, &first.digest), data);
}

#[test]
fn sha512_blobs_are_stored_under_blobs_sha512() {
    let (_d, store) = new_store();
    let data = bytes(5, 1234);
    let d = Digest::of(Algorithm::Sha512, &data);
    let mut w = store.writer("x", Some((d, 1234))).unwrap();
    w.write_all(&data).unwrap();
    assert_eq!(w.commit(None).unwrap().digest, d);
    assert!(store.root().join("blobs/sha512").join(d.hex()).is_file());
    assert_eq!(read_blob(&store, &d), data);
    // A sha512 expectation at commit of a writer opened without one re-hashes the data.
    let mut w = store.writer("y", None).unwrap();
    w.write_all(&data).unwrap();
    assert_eq!(w.commit(Some((d, 1234))).unwrap().digest, d);
}

#[test]
fn the_ingest_holds_containerds_files() {
    let (_d, store) = new_store();
    let data = bytes(6, 10_000);
    let mut w = store.writer("docker.io/x/layer-1", Some((sha256(&data), 10_000))).unwrap();
    w.write_all(&data[..4000]).unwrap();
    w.flush().unwrap();
    let dir = store.root().join("ingest").join(sha256(b"docker.io/x/layer-1").hex());
    assert_eq!(fs::read_to_string(dir.join("ref")).unwrap(), "docker.io/x/layer-1");
    assert_eq!(fs::read_to_string(dir.join("total")).unwrap(), "10000");
    assert_eq!(fs::metadata(dir.join("data")).unwrap().len(), 4000);
    for stamp in ["startedat", "updatedat"] {
        let t = fs::read_to_string(dir.join(stamp)).unwrap();
        // Go's RFC3339Nano in UTC: 2024-01-02T03:04:05.123456789Z (fraction trimmed).
        let b = t.as_bytes();
        assert!(t.len() >= 20 && t.ends_with('Z'), "{t}");
        assert!(b[4] == b'-' && b[7] == b'-' && b[10] == b'T' && b[13] == b':', "{t}");
        assert!(t.len() == 20 || b[19] == b'.', "{t}");
    }
    drop(w);
    // Resumed by ref; a different expected size starts over.
    let w = store.writer("docker.io/x/layer-1", Some((sha256(&data), 10_000))).unwrap();
    assert_eq!(w.offset(), 4000);
    assert_eq!(w.status().total, Some(10_000));
    drop(w);
    let w = store.writer("docker.io/x/layer-1", Some((sha256(&data), 9_999))).unwrap();
    assert_eq!(w.offset(), 0);
    w.abort();
    assert!(!dir.exists());
}

#[test]
fn writers_of_one_digest_at_once_all_succeed() {
    let (_d, store) = new_store();
    let data = bytes(7, 3 << 20);
    let expected = (sha256(&data), data.len() as u64);
    std::thread::scope(|s| {
        for t in 0..6 {
            let (store, data) = (&store, &data);
            s.spawn(move || {
                // Half share a ref (and wait for each other), half have their own.
                let reference = if t % 2 == 0 { "same".to_owned() } else { format!("own-{t}") };
                let open = if t < 3 { Some(expected) } else { None };
                let mut w = store.writer(&reference, open).unwrap();
                w.skip_written_prefix();
                for c in data.chunks(64 << 10) {
                    w.write_all(c).unwrap();
                }
                w.commit(Some(expected)).unwrap()
            });
        }
    });
    assert_eq!(store.blobs().unwrap().count(), 1);
    assert_eq!(read_blob(&store, &expected.0), data);
    assert!(ingests(&store).is_empty());
}

#[test]
fn the_reader_reports_a_damaged_blob() {
    let (_d, store) = new_store();
    let data = bytes(8, 9000);
    let c = write_blob(&store, "r", &data, 9000);
    let path = store.info(&c.digest).unwrap().unwrap().path;
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    let mut damaged = data.clone();
    damaged[4500] ^= 0xff;
    fs::write(&path, &damaged).unwrap();
    let mut v = Vec::new();
    let e = store.reader(&c.digest).unwrap().read_to_end(&mut v).unwrap_err();
    assert!(ocisize_digest::VerifyError::from_io(&e).is_some(), "{e}");
    let missing = sha256(b"missing");
    assert!(matches!(store.reader(&missing), Err(StoreError::BlobNotFound { .. })));
    assert!(matches!(store.writer("", None), Err(StoreError::EmptyRef)));
}

#[test]
fn open_and_create() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("store");
    assert!(matches!(Store::open(&p), Err(StoreError::NotFound { .. })));
    let s = Store::create(&p).unwrap();
    assert_eq!(
        fs::read_to_string(p.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    assert!(s.index().unwrap().manifests.is_empty());
    for d in ["blobs", "blobs/sha256", "ingest"] {
        assert_eq!(fs::metadata(p.join(d)).unwrap().permissions().mode() & 0o777, 0o755, "{d}");
    }
    assert!(matches!(Store::create(&p), Err(StoreError::AlreadyExists { .. })));
    Store::open(&p).unwrap();
    Store::open_or_create(&p).unwrap();
    // An empty directory is made a store; a directory of other things is refused.
    let empty = dir.path().join("empty");
    fs::create_dir(&empty).unwrap();
    assert!(matches!(Store::open(&empty), Err(StoreError::NotALayout { .. })));
    Store::open_or_create(&empty).unwrap();
    let busy = dir.path().join("busy");
    fs::create_dir(&busy).unwrap();
    fs::write(busy.join("notes.txt"), "mine").unwrap();
    for e in [Store::open_or_create(&busy).unwrap_err(), Store::create(&busy).unwrap_err()] {
        assert!(
            e.to_string().ends_with(
                "busy is not an OCI image layout: the directory is not empty and has no oci-layout"
            ),
            "{e}"
        );
    }
    assert_eq!(fs::read_dir(&busy).unwrap().count(), 1, "nothing was written into it");
    fs::write(busy.join("oci-layout"), r#"{"imageLayoutVersion":"2.0.0"}"#).unwrap();
    fs::write(busy.join("index.json"), r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    let e = Store::open(&busy).unwrap_err();
    assert!(e.to_string().contains("imageLayoutVersion \"2.0.0\""), "{e}");
}

#[test]
fn a_failed_writer_of_a_stored_blob_leaves_the_ingest_of_its_ref_alone() {
    let (_d, store) = new_store();
    let stored = write_blob(&store, "stored", &bytes(9, 1000), 1000);
    let other = bytes(10, 50_000);
    // A writer of the ref "r" is busy...
    let mut busy = store.writer("r", None).unwrap();
    busy.write_all(&other[..20_000]).unwrap();
    // ...when another writer with the same ref opens on a stored blob (no wait: it needs no
    // ingest) and fails.
    let mut failing = store.writer("r", Some((stored.digest, 1000))).unwrap();
    failing.write_all(&bytes(11, 1000)).unwrap();
    assert!(matches!(failing.commit(None), Err(StoreError::DigestMismatch { .. })));
    busy.write_all(&other[20_000..]).unwrap();
    let c = busy.commit(Some((sha256(&other), 50_000))).unwrap();
    assert_eq!(read_blob(&store, &c.digest), other);
}

#[test]
fn an_ingest_is_resumed_only_for_the_same_digest() {
    let (_d, store) = new_store();
    // Two sources with a member of the same name and size but other bytes.
    let (one, two) = (bytes(12, 8000), bytes(13, 8000));
    let mut w = store.writer("x/layer.tar", Some((sha256(&one), 8000))).unwrap();
    w.write_all(&one[..5000]).unwrap();
    drop(w);
    let dir = store.root().join("ingest").join(sha256(b"x/layer.tar").hex());
    assert_eq!(fs::read_to_string(dir.join("expected")).unwrap(), sha256(&one).to_string());
    let mut w = store.writer("x/layer.tar", Some((sha256(&two), 8000))).unwrap();
    assert_eq!(w.offset(), 0, "the other digest's bytes are not resumed");
    w.skip_written_prefix();
    w.write_all(&two).unwrap();
    assert_eq!(w.commit(None).unwrap().digest, sha256(&two));
}

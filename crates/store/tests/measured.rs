//! A writer whose bytes are hashed by its caller (`hash_elsewhere`, `commit_measured`): the
//! caller's digest is checked against the expected one, a wrong one commits nothing, and a
//! plain commit of such a writer hashes the bytes it wrote from the disk.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use common::{bytes, ingests, sha256};
use ocisize_store::{Store, StoreError};

#[test]
fn the_callers_digest_stands_for_the_writers_hash() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("store")).unwrap();
    let data = bytes(1, 3 << 20);
    let (d, n) = (sha256(&data), data.len() as u64);

    // A wrong measured digest: nothing committed, the ingest gone.
    let mut w = store.writer("a", None).unwrap();
    assert!(w.hash_elsewhere());
    w.write_all(&data).unwrap();
    let wrong = sha256(b"other bytes");
    let e = w.commit_measured(wrong, (d, n)).unwrap_err();
    assert!(matches!(e, StoreError::DigestMismatch { found, .. } if found == wrong), "{e}");
    assert!(store.info(&d).unwrap().is_none());
    assert!(ingests(&store).is_empty());

    // The right one: committed, and the blob's bytes are the data.
    let mut w = store.writer("b", None).unwrap();
    assert!(w.hash_elsewhere());
    w.write_all(&data).unwrap();
    let c = w.commit_measured(d, (d, n)).unwrap();
    assert_eq!((c.digest, c.size, c.existed), (d, n, false));
    assert_eq!(std::fs::read(store.info(&d).unwrap().unwrap().path).unwrap(), data);
    store.delete(&d).unwrap();

    // A plain commit of such a writer reads back what it wrote: a wrong expectation fails.
    let mut w = store.writer("c", None).unwrap();
    assert!(w.hash_elsewhere());
    w.write_all(&data).unwrap();
    let e = w.commit(Some((wrong, n))).unwrap_err();
    assert!(matches!(e, StoreError::DigestMismatch { found, .. } if found == d), "{e}");
    let mut w = store.writer("c", None).unwrap();
    assert!(w.hash_elsewhere());
    w.write_all(&data).unwrap();
    assert_eq!(w.commit(Some((d, n))).unwrap().digest, d);
}

#[test]
fn a_resumed_writer_keeps_hashing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("store")).unwrap();
    let data = bytes(2, 100_000);
    let mut w = store.writer("r", Some((sha256(&data), data.len() as u64))).unwrap();
    w.write_all(&data[..40_000]).unwrap();
    drop(w);
    let mut w = store.writer("r", Some((sha256(&data), data.len() as u64))).unwrap();
    assert_eq!(w.offset(), 40_000);
    assert!(!w.hash_elsewhere(), "the resumed bytes would go unhashed");
    w.write_all(&data[40_000..]).unwrap();
    assert_eq!(w.commit(None).unwrap().digest, sha256(&data));
}

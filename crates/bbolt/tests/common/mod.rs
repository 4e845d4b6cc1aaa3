//! Helpers shared by the bbolt tests: fixture paths, a full walk, and meta page surgery.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use ocisize_bbolt::{Bucket, Db, Error, Value};

/// `testdata/<rel>` in this checkout.
pub fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

/// The figures make.sh recorded from ctr.
pub fn figures() -> serde_json::Value {
    let text = std::fs::read_to_string(testdata("bbolt/figures.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Walk every bucket recursively; the number of entries.
pub fn walk(bucket: &Bucket<'_>) -> Result<usize, Error> {
    walk_checked(bucket, false)
}

/// [`walk`], also checking that each bucket's keys come in strictly increasing order (true
/// of a database bbolt wrote, not of a damaged one).
pub fn walk_checked(bucket: &Bucket<'_>, in_order: bool) -> Result<usize, Error> {
    let mut n = 0;
    let mut last: Option<Vec<u8>> = None;
    for entry in bucket.iter() {
        let (key, value) = entry?;
        if let (true, Some(prev)) = (in_order, &last) {
            assert!(prev < &key, "keys out of order: {prev:?} then {key:?}");
        }
        n += 1;
        if let Value::Bucket(b) = value {
            n += walk_checked(&b, in_order)?;
        }
        last = Some(key);
    }
    Ok(n)
}

/// Open `path` and walk everything in one view, checking key order.
pub fn open_and_walk_in_order(path: &Path) -> Result<usize, Error> {
    let db = Db::open(path)?;
    db.view(|tx| walk_checked(&tx.root(), true))
}

/// Open `path` and walk everything in one view.
pub fn open_and_walk(path: &Path) -> Result<usize, Error> {
    let db = Db::open(path)?;
    db.view(|tx| walk(&tx.root()))
}

/// FNV-1a 64, as bbolt checksums a meta page.
pub fn fnv1a64(data: &[u8]) -> u64 {
    data.iter()
        .fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// The meta fields (64 bytes after the page header) of meta page `slot`.
pub fn meta_fields(file: &[u8], page_size: usize, slot: usize) -> &[u8] {
    let at = slot * page_size + 16;
    &file[at..at + 64]
}

/// The txid stored in meta page `slot`.
pub fn meta_txid(file: &[u8], page_size: usize, slot: usize) -> u64 {
    u64::from_le_bytes(meta_fields(file, page_size, slot)[48..56].try_into().unwrap())
}

/// Rewrite meta page `slot` with txid `txid` and a correct checksum, as a commit would.
pub fn write_meta_txid(file: &mut [u8], page_size: usize, slot: usize, txid: u64) {
    let at = slot * page_size + 16;
    let m = &mut file[at..at + 64];
    m[48..56].copy_from_slice(&txid.to_le_bytes());
    let sum = fnv1a64(&m[..56]);
    m[56..64].copy_from_slice(&sum.to_le_bytes());
}

/// A copy of the fixture `name` (in testdata/bbolt) in a temporary directory.
pub fn copy_fixture(name: &str, dir: &tempfile::TempDir) -> PathBuf {
    let dst = dir.path().join(name);
    std::fs::copy(testdata(&format!("bbolt/{name}")), &dst).unwrap();
    dst
}

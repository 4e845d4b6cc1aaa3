//! Damaged copies of the containerd fixtures: truncated, bit-flipped, pages rewritten. Every
//! one is read to the end or stopped by a typed error; none panics.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::FileExt;

use common::{copy_fixture, open_and_walk, testdata, walk};
use ocisize_bbolt::{Corruption, Db, Error, MetaProblem};
use proptest::prelude::*;

const PAGE: usize = 4096;

fn temp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// The root page of the root bucket, from the newest meta page.
fn root_page(file: &[u8]) -> usize {
    let slot = usize::from(common::meta_txid(file, PAGE, 1) > common::meta_txid(file, PAGE, 0));
    u64::from_le_bytes(common::meta_fields(file, PAGE, slot)[16..24].try_into().unwrap()) as usize
}

#[test]
fn truncated_files_are_typed_errors() {
    let dir = temp();
    let original = std::fs::read(testdata("bbolt/meta.db")).unwrap();
    let path = dir.path().join("meta.db");
    let mut lengths = vec![0, 1, 16, 79, 80, 81, PAGE - 1, PAGE, PAGE + 80, 2 * PAGE];
    lengths.extend((3..70).map(|pages| pages * PAGE - 7));
    let mut corrupt = 0;
    for len in lengths {
        std::fs::write(&path, &original[..len]).unwrap();
        match open_and_walk(&path) {
            Ok(_) => panic!("{len} bytes read without error"),
            Err(Error::NoValidMeta { .. }) => assert!(len < 2 * PAGE + 80, "{len}"),
            Err(Error::Corrupt { reason: Corruption::BeyondFile { file_len, .. }, .. }) => {
                assert_eq!(file_len, len as u64);
                corrupt += 1;
            }
            Err(e) => panic!("{len} bytes: unexpected {e}"),
        }
    }
    assert!(corrupt > 60);
    std::fs::write(&path, &original[..50]).unwrap();
    let e = Db::open(&path).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::NoValidMeta {
                meta0: MetaProblem::Short { len: 50 },
                meta1: MetaProblem::NotFound,
                ..
            }
        ),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains("meta.db") && text.contains("meta page 0"), "{text}");
}

#[test]
fn a_damaged_meta_page_falls_back_to_the_other() {
    let dir = temp();
    let path = copy_fixture("meta.db", &dir);
    let mut file = std::fs::read(&path).unwrap();
    let (t0, t1) = (common::meta_txid(&file, PAGE, 0), common::meta_txid(&file, PAGE, 1));
    let (newer, older) = if t0 > t1 { (0, 1) } else { (1, 0) };
    let expected = open_and_walk(&path).unwrap();
    // The newer meta page torn (as by a crash while it is written): the older state is
    // read, whole, and it is the same images (the last commit changed a label's txid).
    file[newer * PAGE + 16 + 60] ^= 0x55;
    std::fs::write(&path, &file).unwrap();
    let db = Db::open(&path).unwrap();
    let tx = db.begin().unwrap();
    assert_eq!((tx.meta_page(), tx.txid()), (older as u8, t0.min(t1)));
    let n = walk(&tx.root()).unwrap();
    assert!(n.abs_diff(expected) < 10, "{n} entries, {expected} at the newest");
    // Meta page 0 bad: the page size is found from meta page 1 (bbolt's own fallback).
    let mut file0 = std::fs::read(testdata("bbolt/meta.db")).unwrap();
    file0[16] ^= 0xff;
    std::fs::write(&path, &file0).unwrap();
    let db = Db::open(&path).unwrap();
    assert_eq!((db.page_size(), db.begin().unwrap().meta_page()), (4096, 1));
    // Both bad: a typed error saying what is wrong with each.
    file[older * PAGE + 16 + 50] ^= 0x55;
    std::fs::write(&path, &file).unwrap();
    match Db::open(&path).unwrap_err() {
        Error::NoValidMeta { meta0, meta1, path: p } => {
            assert!(matches!(meta0, MetaProblem::Checksum { .. }), "{meta0}");
            assert!(matches!(meta1, MetaProblem::NotFound | MetaProblem::Checksum { .. }));
            assert_eq!(p, path);
        }
        e => panic!("{e}"),
    }
}

#[test]
fn bad_page_references_name_the_page() {
    let dir = temp();
    let path = copy_fixture("meta.db", &dir);
    let original = std::fs::read(&path).unwrap();
    let root = root_page(&original);
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    // The root page's flags turned into a freelist page's.
    f.write_all_at(&0x10u16.to_le_bytes(), (root * PAGE + 8) as u64).unwrap();
    let e = open_and_walk(&path).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupt { page, reason: Corruption::PageType { flags: 0x10 }, .. }
            if *page == root as u64),
        "{e:?}"
    );
    assert!(e.to_string().contains(&format!("page {root}")), "{e}");
    // The root page's id field naming another page.
    f.write_all_at(&original[root * PAGE + 8..root * PAGE + 10], (root * PAGE + 8) as u64).unwrap();
    f.write_all_at(&7u64.to_le_bytes(), (root * PAGE) as u64).unwrap();
    let e = open_and_walk(&path).unwrap_err();
    assert!(matches!(e, Error::Corrupt { reason: Corruption::IdMismatch { found: 7 }, .. }), "{e}");
    f.write_all_at(&original[root * PAGE..root * PAGE + 8], (root * PAGE) as u64).unwrap();
    // The root bucket's only entry, v1, pointing at a page past the high-water mark, then
    // at a meta page, then at its own page.
    let v1_value = {
        let at = root * PAGE + 16;
        let pos = u32::from_le_bytes(original[at + 4..at + 8].try_into().unwrap()) as usize;
        at + pos + 2
    };
    for (target, check) in [
        (1u64 << 40, Corruption::OutOfRange { target: 1 << 40, high_water: 0 }),
        (1, Corruption::MetaReference { target: 1 }),
    ] {
        f.write_all_at(&target.to_le_bytes(), v1_value as u64).unwrap();
        match open_and_walk(&path).unwrap_err() {
            Error::Corrupt { page, reason, .. } => {
                assert_eq!(page, root as u64);
                assert_eq!(std::mem::discriminant(&reason), std::mem::discriminant(&check));
            }
            e => panic!("{e}"),
        }
    }
    f.write_all_at(&(root as u64).to_le_bytes(), v1_value as u64).unwrap();
    let e = open_and_walk(&path).unwrap_err();
    assert!(matches!(e, Error::Corrupt { reason: Corruption::Cycle { .. }, .. }), "{e}");
}

#[test]
fn every_byte_of_a_small_database_flipped_is_read_or_refused() {
    // metadata.db's used pages, one byte at a time, every bit pattern of one flip.
    let dir = temp();
    let path = copy_fixture("metadata.db", &dir);
    let original = std::fs::read(&path).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    let (mut ok, mut errors) = (0, 0);
    for at in 0..original.len().min(16 * PAGE) {
        let damaged = [original[at] ^ 0xa5];
        f.write_all_at(&damaged, at as u64).unwrap();
        match open_and_walk(&path) {
            Ok(_) => ok += 1,
            Err(Error::Io { source, .. }) => panic!("byte {at}: i/o error {source}"),
            Err(_) => errors += 1,
        }
        f.write_all_at(&original[at..at + 1], at as u64).unwrap();
    }
    assert!(ok > 0 && errors > 0, "{ok} read, {errors} refused");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// Several random bytes of the big database overwritten: read or refused, no panic.
    #[test]
    fn random_damage_to_meta_db_never_panics(
        edits in proptest::collection::vec((0usize..300 * PAGE, any::<u8>()), 1..8)
    ) {
        let dir = temp();
        let path = copy_fixture("meta.db", &dir);
        let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        for (at, byte) in &edits {
            f.write_all_at(&[*byte], *at as u64).unwrap();
        }
        if let Err(e) = open_and_walk(&path) {
            prop_assert!(!matches!(e, Error::Io { .. } | Error::Changed { .. }), "{}", e);
            prop_assert!(e.to_string().contains("meta.db"));
        }
    }
}

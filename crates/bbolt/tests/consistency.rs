//! Reading while a writer commits: a commit is simulated on a copy of the fixture by
//! writing a valid meta page with the next txid (what bbolt does last in `Tx.Commit`).
#![allow(clippy::unwrap_used)]

mod common;

use std::cell::Cell;

use common::{copy_fixture, meta_txid, walk, write_meta_txid};
use ocisize_bbolt::{Db, Error, ATTEMPTS};

const PAGE: usize = 4096;

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let path = copy_fixture("metadata.db", &dir);
        Fixture { _dir: dir, path }
    }

    /// Commit txid `newest + 1` over the older meta page (no page contents change).
    fn commit(&self) {
        let mut file = std::fs::read(&self.path).unwrap();
        let (t0, t1) = (meta_txid(&file, PAGE, 0), meta_txid(&file, PAGE, 1));
        let next = t0.max(t1) + 1;
        write_meta_txid(&mut file, PAGE, (next % 2) as usize, next);
        std::fs::write(&self.path, &file).unwrap();
    }

    /// Tear the meta page that txid `newest + 1` would write, as a crash or an ongoing write
    /// of that page would.
    fn tear_next(&self) {
        let mut file = std::fs::read(&self.path).unwrap();
        let (t0, t1) = (meta_txid(&file, PAGE, 0), meta_txid(&file, PAGE, 1));
        let slot = ((t0.max(t1) + 1) % 2) as usize;
        file[slot * PAGE + 16 + 56] ^= 0xff; // the checksum no longer matches
        std::fs::write(&self.path, &file).unwrap();
    }
}

#[test]
fn a_commit_during_a_transaction_makes_it_stale() {
    let fx = Fixture::new();
    let db = Db::open(&fx.path).unwrap();
    let tx = db.begin().unwrap();
    let txid = tx.txid();
    assert!(tx.is_current().unwrap());
    // The next transaction being written (its meta page torn): our pages are untouched.
    fx.tear_next();
    assert!(tx.is_current().unwrap());
    // It commits: the transaction after it may now reuse our pages.
    fx.commit();
    assert!(!tx.is_current().unwrap());
    let tx2 = db.begin().unwrap();
    assert_eq!(tx2.txid(), txid + 1);
    assert_ne!(tx2.meta_page(), tx.meta_page());
}

#[test]
fn view_runs_again_after_a_commit_and_returns_the_intact_run() {
    let fx = Fixture::new();
    let db = Db::open(&fx.path).unwrap();
    let runs = Cell::new(0);
    let (txid, entries) = db
        .view(|tx| {
            runs.set(runs.get() + 1);
            let n = walk(&tx.root())?;
            if runs.get() == 1 {
                fx.commit();
            }
            Ok::<_, Error>((tx.txid(), n))
        })
        .unwrap();
    assert_eq!(runs.get(), 2);
    assert!(entries > 50);
    let file = std::fs::read(&fx.path).unwrap();
    assert_eq!(txid, meta_txid(&file, PAGE, 0).max(meta_txid(&file, PAGE, 1)));
}

#[test]
fn view_gives_up_when_every_run_sees_a_commit() {
    let fx = Fixture::new();
    let db = Db::open(&fx.path).unwrap();
    let runs = Cell::new(0);
    let result = db.view(|tx| {
        runs.set(runs.get() + 1);
        fx.commit();
        Ok::<_, Error>(tx.txid())
    });
    assert_eq!(runs.get(), ATTEMPTS);
    match result {
        Err(Error::Changed { attempts, txid, path }) => {
            assert_eq!((attempts, path), (ATTEMPTS, fx.path.clone()));
            let file = std::fs::read(&fx.path).unwrap();
            let newest = meta_txid(&file, PAGE, 0).max(meta_txid(&file, PAGE, 1));
            assert_eq!(txid, newest - 1);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_error_from_a_stale_run_is_retried_and_an_intact_one_returned() {
    #[derive(Debug, PartialEq)]
    enum Mine {
        Bbolt(String),
        Decode(u32),
    }
    impl From<Error> for Mine {
        fn from(e: Error) -> Mine {
            Mine::Bbolt(e.to_string())
        }
    }
    let fx = Fixture::new();
    let db = Db::open(&fx.path).unwrap();
    let runs = Cell::new(0);
    let result: Result<(), Mine> = db.view(|_| {
        runs.set(runs.get() + 1);
        if runs.get() == 1 {
            fx.commit();
        }
        Err(Mine::Decode(runs.get()))
    });
    assert_eq!(result, Err(Mine::Decode(2)));
}

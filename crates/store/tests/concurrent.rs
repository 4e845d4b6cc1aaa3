//! Concurrency: several processes (this test binary, re-executed) and several threads write
//! overlapping blobs, under shared and private refs, and overlapping names into one store at
//! once. Every one must succeed; afterwards every name is there and every blob is sound.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bytes, ingests, name, pick, sha256, write_blob};
use ocisize_spec::media_type;
use ocisize_store::Store;

const CHILD_STORE: &str = "OCISIZE_STORE_TEST_CONCURRENT_STORE";
const CHILD_WORKER: &str = "OCISIZE_STORE_TEST_CONCURRENT_WORKER";
const CHILD_START: &str = "OCISIZE_STORE_TEST_CONCURRENT_START";

const PROCESSES: u64 = 4;
const THREADS: u64 = 4;
/// Blobs every worker writes.
const BLOBS: u64 = 16;

fn blob(j: u64) -> Vec<u8> {
    bytes(j + 77, 64 << 10 | pick(j, 1 << 20) as usize)
}

/// Worker `w`: every blob, in an order of its own; odd blobs under a ref all workers share
/// (so they wait for each other and resume or find the blob), even ones under its own ref
/// (so they race to commit the same digest). Each blob gets a name every worker sets (to the
/// same descriptor) and one name of the worker's own, set a few at a time.
fn work(store: &Store, w: u64) {
    let _lease = store.lease().unwrap();
    let mut order: Vec<u64> = (0..BLOBS).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, pick(w * 1000 + i as u64, i as u64 + 1) as usize);
    }
    let mut pending = Vec::new();
    for j in order {
        let reference = if j % 2 == 1 { format!("shared/{j}") } else { format!("w{w}/{j}") };
        let c = write_blob(store, &reference, &blob(j), 32 << 10);
        let d = c.descriptor(media_type::OCI_LAYER_GZIP);
        pending.push((name(&format!("c/shared-{j}")), d.clone()));
        pending.push((name(&format!("c/w{w}-{j}:v1")), d));
        if pending.len() >= 6 {
            store.set_names(&pending).unwrap();
            pending.clear();
        }
    }
    store.set_names(&pending).unwrap();
}

fn check(store: &Store, workers: impl Iterator<Item = u64> + Clone) {
    let fsck = store.fsck_blobs().unwrap();
    assert!(fsck.is_clean(), "{fsck:?}");
    assert_eq!(fsck.blobs_checked, BLOBS);
    let names = store.names().unwrap();
    let want = BLOBS * (1 + workers.clone().count() as u64);
    assert_eq!(names.len() as u64, want, "{names:?}");
    for j in 0..BLOBS {
        let digest = sha256(&blob(j));
        let mut expect = vec![name(&format!("c/shared-{j}")).with_default_tag()];
        expect.extend(workers.clone().map(|w| name(&format!("c/w{w}-{j}:v1"))));
        for n in expect {
            let found = names.iter().find(|(m, _)| *m == n).map(|(_, d)| d.digest);
            assert_eq!(found, Some(digest), "{n}");
        }
    }
    assert!(ingests(store).is_empty(), "{:?}", ingests(store));
}

#[test]
fn processes_write_one_store_at_once() {
    if let (Some(dir), Some(w)) = (std::env::var_os(CHILD_STORE), std::env::var_os(CHILD_WORKER)) {
        // Start together: wait for the parent's start file.
        let go = Path::new(&std::env::var_os(CHILD_START).unwrap()).to_path_buf();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !go.exists() {
            assert!(Instant::now() < deadline, "never started");
            std::thread::sleep(Duration::from_millis(1));
        }
        let store = Store::open_or_create(Path::new(&dir)).unwrap();
        work(&store, w.to_str().unwrap().parse().unwrap());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The children make the store themselves, all at once.
    let root = dir.path().join("s");
    let go = dir.path().join("go");
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|w| {
            Command::new(&exe)
                .args([
                    "processes_write_one_store_at_once",
                    "--exact",
                    "--test-threads=1",
                    "--nocapture",
                ])
                .env(CHILD_STORE, &root)
                .env(CHILD_WORKER, w.to_string())
                .env(CHILD_START, &go)
                .stdout(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(&go, "").unwrap();
    for (w, mut c) in children.into_iter().enumerate() {
        let status = c.wait().unwrap();
        assert!(status.success(), "worker {w}: {status}");
    }
    check(&Store::open(&root).unwrap(), 0..PROCESSES);
}

#[test]
fn threads_write_one_store_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s");
    std::thread::scope(|s| {
        for w in 0..THREADS {
            let root = &root;
            s.spawn(move || work(&Store::open_or_create(root).unwrap(), w));
        }
    });
    check(&Store::open(&root).unwrap(), 0..THREADS);
}

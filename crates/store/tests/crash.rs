//! Crash safety: a child process (this test binary, re-executed) writes blobs and names;
//! the parent SIGKILLs it at random moments, again and again, and after every kill checks
//! that every visible blob hashes to its name, that index.json parses and names only blobs
//! that are there, and finally that every interrupted run's writes complete when run again.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{bytes, ingests, name, pick, sha256, write_blob};
use ocisize_spec::media_type;
use ocisize_store::Store;

/// Set in the child: the store directory and the round whose writes it makes.
const CHILD_STORE: &str = "OCISIZE_STORE_TEST_CRASH_STORE";
const CHILD_ROUND: &str = "OCISIZE_STORE_TEST_CRASH_ROUND";

const KILLS: usize = 60;
/// Blobs of each round of its own, and blobs every round writes (resumed across kills).
const OWN: u64 = 4;
const SHARED: u64 = 2;

fn blob(key: u64) -> Vec<u8> {
    bytes(key, pick(key, 512 << 10) as usize + 1)
}

fn key(round: u64, j: u64) -> u64 {
    1000 + round * 100 + j
}

/// The writes of one round: its own blobs, the shared ones, a name for each, and one name
/// that every round moves to its latest blob.
fn run_round(store: &Store, round: u64) {
    let lease = store.lease().unwrap();
    let mut jobs: Vec<(String, u64, String)> = (0..OWN)
        .map(|j| (format!("round-{round}/blob-{j}"), key(round, j), format!("crash/r{round}-{j}")))
        .collect();
    jobs.extend((0..SHARED).map(|j| (format!("shared/blob-{j}"), j, format!("crash/shared-{j}"))));
    for (reference, k, n) in jobs {
        let data = blob(k);
        let c = write_blob(store, &reference, &data, 16 << 10);
        let d = c.descriptor(media_type::OCI_LAYER);
        store.set_names(&[(name(&n), d.clone()), (name("crash/latest"), d)]).unwrap();
    }
    drop(lease);
}

/// What must hold after any kill.
fn check(store: &Store) {
    let fsck = store.fsck_blobs().unwrap();
    assert!(fsck.corrupt.is_empty(), "corrupt blobs after a kill: {:?}", fsck.corrupt);
    assert!(fsck.not_blobs.is_empty(), "strangers in blobs/ after a kill: {:?}", fsck.not_blobs);
    for (n, d) in store.names().unwrap() {
        let info = store.info(&d.digest).unwrap();
        assert_eq!(info.map(|i| i.size), Some(d.size), "{n} names a missing blob");
    }
}

#[test]
fn crash_safety() {
    if let (Some(dir), Some(round)) = (std::env::var_os(CHILD_STORE), std::env::var_os(CHILD_ROUND))
    {
        let round: u64 = round.to_str().unwrap().parse().unwrap();
        run_round(&Store::open(Path::new(&dir)).unwrap(), round);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let exe = std::env::current_exe().unwrap();
    let spawn = |round: u64| {
        Command::new(&exe)
            .args(["crash_safety", "--exact", "--test-threads=1"])
            .env(CHILD_STORE, store.root())
            .env(CHILD_ROUND, round.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    };
    // Round 0 runs to the end: how long a round takes on this machine now (most of it
    // fsyncs) is the window the kills are drawn from.
    let start = Instant::now();
    assert!(spawn(0).wait().unwrap().success());
    let mut window = start.elapsed();
    let (mut kills, mut exits, mut round) = (0usize, 0usize, 1u64);
    while kills < KILLS {
        assert!(round < 6 * KILLS as u64, "only {kills} of {round} children were killed");
        let began = Instant::now();
        let mut child = spawn(round);
        // Anywhere from start-up (nothing written yet) to the end of the round's writes.
        let micros = u64::try_from(window.as_micros()).unwrap();
        std::thread::sleep(Duration::from_micros(1_000 + pick(round ^ 0xc0de, micros)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        match status.signal() {
            Some(9) => kills += 1,
            _ => {
                assert!(status.success(), "round {round}: the child failed: {status}");
                exits += 1;
                // Rounds got faster (a shared blob is stored already): aim earlier.
                window = window.min(began.elapsed().mul_f64(0.9));
            }
        }
        check(&store);
        round += 1;
    }
    // Every round's writes complete when run again, resuming what the kills left.
    let resumable = ingests(&store).len();
    for r in 0..round {
        run_round(&store, r);
    }
    check(&store);
    let names = store.names().unwrap();
    assert_eq!(names.len() as u64, round * OWN + SHARED + 1);
    for r in 0..round {
        for j in 0..OWN {
            let n = name(&format!("crash/r{r}-{j}")).with_default_tag();
            let d = &names.iter().find(|(m, _)| *m == n).unwrap().1;
            assert_eq!(d.digest, sha256(&blob(key(r, j))), "{n}");
        }
    }
    assert!(ingests(&store).is_empty(), "every interrupted ingest was resumed and committed");
    let fsck = store.fsck_blobs().unwrap();
    assert_eq!(fsck.blobs_checked, round * OWN + SHARED);
    eprintln!(
        "crash_safety: {kills} kills, {exits} clean exits, {resumable} ingests left to resume, \
         {:.1} s",
        start.elapsed().as_secs_f64()
    );
}

//! `ocisize store import` killed with SIGKILL at random points, many times: fsck never finds
//! a corrupt or partial blob, and a rerun completes. And several processes importing
//! overlapping images into one store at once: every name there, every blob right.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ocisize_testkit::corpus;
use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ocisize"))
}

fn fsck(store: &str) -> Value {
    let out = bin().args(["store", "fsck", "--json", "--store", store]).output().unwrap();
    let v: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(0), "fsck: {v}");
    assert_eq!(v["corrupt"], serde_json::json!([]), "{v}");
    assert_eq!(v["missing"], serde_json::json!([]), "{v}");
    v
}

/// A pseudo-random number in `0..n` (a 64-bit LCG, Knuth's MMIX constants).
fn next(state: &mut u64, n: u64) -> u64 {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (*state >> 33) % n.max(1)
}

fn import_args<'a>(store: &'a str, name: &'a str, src: &'a str) -> [&'a str; 7] {
    ["store", "import", "--store", store, "--name", name, src]
}

#[test]
fn an_import_killed_anywhere_leaves_a_sound_store_and_a_rerun_completes() {
    let dir = tempfile::tempdir().unwrap();
    let sources = [
        corpus("debslice.skopeo.docker-archive.tar"),
        corpus("debslice.skopeo.oci-archive.tar"),
        corpus("multi.skopeo.oci-archive.tar"),
    ];
    let srcs: Vec<&str> = sources.iter().map(|p| p.to_str().unwrap()).collect();
    // How long one round takes, into a scratch store: kills are drawn from that span.
    let scratch = dir.path().join("scratch");
    let t = Instant::now();
    for (i, src) in srcs.iter().enumerate() {
        let n = format!("x/s{i}");
        let st = bin().args(import_args(scratch.to_str().unwrap(), &n, src)).status().unwrap();
        assert!(st.success());
    }
    let round = (t.elapsed() / srcs.len() as u32).max(Duration::from_millis(5));
    let mut seed = 0x5eed_u64;
    let mut killed = 0;
    for round_no in 0..40 {
        // A new store each round: the kill then falls in a write of every blob, at a point
        // drawn from the measured length of such an import.
        let store = dir.path().join(format!("store-{round_no}"));
        let s = store.to_str().unwrap();
        let i = round_no % srcs.len();
        let n = format!("x/s{i}");
        let mut child = bin()
            .args(import_args(s, &n, srcs[i]))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let wait = round.mul_f64(next(&mut seed, 1000) as f64 / 1000.0 * 1.2);
        std::thread::sleep(wait);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        // A store whose making was killed before its index.json is made again by the next
        // import; there is nothing to check yet.
        if store.join("index.json").exists() {
            fsck(s);
        }
        // The rerun completes, and leaves a sound store with the name.
        let out = bin().args(import_args(s, &n, srcs[i])).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v = fsck(s);
        let ls = bin().args(["store", "ls", "--json", "--store", s]).output().unwrap();
        let ls: Value = serde_json::from_slice(&ls.stdout).unwrap();
        assert_eq!(ls[0]["name"], format!("docker.io/{n}:latest"), "{ls}");
        // What the killed import committed before its name is all that may be
        // unreferenced, and gc removes it, and the killed import's ingests.
        let out = bin().args(["store", "gc", "--json", "--store", s]).output().unwrap();
        assert!(out.status.success());
        let after = fsck(s);
        assert_eq!(after["unreferenced"], serde_json::json!([]), "before gc: {v}");
        let left: Vec<_> = std::fs::read_dir(store.join("ingest"))
            .unwrap()
            .map(|e| {
                let p = e.unwrap().path();
                let files: Vec<_> = std::fs::read_dir(&p)
                    .map(|d| d.map(|f| f.unwrap().file_name()).collect())
                    .unwrap_or_default();
                (p, files)
            })
            .collect();
        assert!(left.is_empty(), "ingests left after gc: {left:?}");
    }
    assert!(killed >= 10, "only {killed} of 40 imports were killed before they finished");
}

#[test]
fn concurrent_imports_of_overlapping_images_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap().to_owned();
    // Overlapping: the same blobs in docker-archives of two tools, an OCI archive and the
    // index that reuses its manifest, a layout holding the same blobs.
    let sources: Vec<String> = [
        "tiny.dockerd.save.tar",
        "tiny.skopeo.docker-archive.tar",
        "tiny.skopeo.oci-archive.tar",
        "multi.skopeo.oci-archive.tar",
        "tiny.podman.oci-dir",
        "debslice.skopeo.oci-archive.tar",
    ]
    .iter()
    .map(|f| corpus(f).to_str().unwrap().to_owned())
    .collect();
    const PROCESSES: usize = 4;
    let handles: Vec<_> = (0..PROCESSES)
        .map(|p| {
            let (s, sources) = (s.clone(), sources.clone());
            std::thread::spawn(move || {
                // Each process goes through the sources in another order.
                for k in 0..sources.len() {
                    let j = (k + p * 2) % sources.len();
                    let n = format!("p{p}/s{j}");
                    let out = bin().args(import_args(&s, &n, &sources[j])).output().unwrap();
                    assert!(out.status.success(), "{n}: {}", String::from_utf8_lossy(&out.stderr));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let ls = bin().args(["store", "ls", "--json", "--store", &s]).output().unwrap();
    let ls: Value = serde_json::from_slice(&ls.stdout).unwrap();
    let mut names: Vec<String> =
        ls.as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_owned()).collect();
    names.sort();
    let mut want: Vec<String> = (0..PROCESSES)
        .flat_map(|p| (0..sources.len()).map(move |j| format!("docker.io/p{p}/s{j}:latest")))
        .collect();
    want.sort();
    assert_eq!(names, want);
    let v = fsck(&s);
    assert_eq!(v["unreferenced"], serde_json::json!([]), "{v}");
    assert!(std::fs::read_dir(store.join("ingest")).unwrap().next().is_none());
}

//! meta.db read while a real containerd 1.6.20 holds its lock and commits to it: a private
//! containerd (the testkit's: root, state, socket under the test's directories; `unshare
//! --mount` with tmpfs over /run and the other runtime directories; stopped by its PID, also
//! when the test fails) imports a corpus image, then ctr tags it 60 times, one commit each,
//! while this test reads the namespace over and over.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};

use ocisize_containerd::{Kind, MetaDb, SnapshotDb};
use ocisize_testkit::daemons::{run, Containerd, Work};

const TAGS: usize = 60;
const TINY: &str = "sha256:ba771aa8f8177c05832bd9394bf29e51f1c89fccca23e84d89ab0d8d840efc92";

#[test]
fn meta_db_is_read_consistently_while_containerd_commits() {
    let work = Work::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "containerd-live");
    let containerd = Containerd::start(&work);
    let tiny = ocisize_testkit::corpus("tiny.skopeo.oci-archive.tar");
    containerd.import("live", &tiny, Some("docker.io/ocisize/tiny"));
    let path = containerd.meta_db();
    // containerd holds its exclusive lock: a shared flock (what bbolt's readers take) would
    // block; util-linux flock says so without blocking.
    let shared =
        Command::new("flock").args(["--nonblock", "--shared"]).arg(&path).arg("true").status();
    assert!(!shared.unwrap().success(), "meta.db is not locked");

    let done = AtomicBool::new(false);
    let (counts, txids) = std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..TAGS {
                let name = format!("docker.io/ocisize/tiny:live{i:03}");
                let tag = ["images", "tag", "docker.io/ocisize/tiny:latest", &name];
                run(containerd.ctr("live").args(tag));
            }
            done.store(true, Ordering::SeqCst);
        });
        let db = MetaDb::open(&path).unwrap();
        let (mut counts, mut txids) = (Vec::new(), Vec::new());
        while !done.load(Ordering::SeqCst) {
            let meta = db.read().unwrap();
            let ns = meta.namespaces.iter().find(|n| n.name == "live").unwrap();
            assert!(ns.images.iter().all(|i| i.target.digest.to_string() == TINY));
            // The image's six blobs (index, manifest, config, layers) in every state read;
            // containerd may hold one more for a moment (its garbage collection runs after
            // the import returns), never fewer.
            assert!(ns.content.len() >= 6, "the image's blobs, in every state read");
            counts.push(ns.images.len());
            txids.push(meta.txid);
        }
        (counts, txids)
    });
    let last = MetaDb::open(&path).unwrap().namespace("live").unwrap().unwrap();
    assert_eq!(last.images.len(), 1 + TAGS);
    let mut seen = counts.clone();
    seen.dedup();
    eprintln!("{} reads during {TAGS} commits saw {} distinct states", counts.len(), seen.len());
    assert!(counts.windows(2).all(|w| w[0] <= w[1]), "counts never go back: {counts:?}");
    assert!(txids.windows(2).all(|w| w[0] <= w[1]), "txids never go back: {txids:?}");
    let between = counts.iter().filter(|&&n| n > 1 && n < 1 + TAGS).count();
    assert!(between > 0, "no read saw a state between the first and the last commit");
    // The snapshotter's database, also locked by containerd: the unpacked layers.
    let snapshots = SnapshotDb::open(containerd.snapshot_db()).unwrap().snapshots().unwrap();
    let live: Vec<_> = snapshots.iter().filter(|s| s.namespace() == Some("live")).collect();
    assert_eq!(live.len(), 4);
    assert!(live.iter().all(|s| s.kind == Kind::Committed && s.usage.is_some()));
}

//! meta.db read while a real containerd 1.6.20 holds its lock and commits to it: a private
//! containerd (root, state, socket under a temp dir; `unshare --mount` with a tmpfs over
//! /run; stopped by its PID, also when the test fails) imports a corpus image, then ctr tags
//! it 60 times, one commit each, while this test reads the namespace over and over.
#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ocisize_containerd::{Kind, MetaDb, SnapshotDb};

const TAGS: usize = 60;
const TINY: &str = "sha256:ba771aa8f8177c05832bd9394bf29e51f1c89fccca23e84d89ab0d8d840efc92";

/// The containerd process; stopped (SIGTERM, then SIGKILL) when dropped.
struct Containerd {
    child: Child,
    sock: PathBuf,
    root: PathBuf,
}

impl Containerd {
    fn start(dir: &Path) -> Containerd {
        let (root, sock) = (dir.join("root"), dir.join("containerd.sock"));
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = {root:?}\nstate = {state:?}\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = {sock:?}\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
                 [plugins.\"io.containerd.internal.v1.opt\"]\n  path = {opt:?}\n",
                state = dir.join("state"),
                sock = sock.display(),
                opt = dir.join("opt"),
            ),
        )
        .unwrap();
        // unshare and sh exec in place: the child's PID is containerd's.
        let child = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg("mount -t tmpfs tmpfs /run && exec containerd --config \"$0\"")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("containerd.log")).unwrap())
            .spawn()
            .expect("unshare and containerd (run as root, with containerd installed)");
        let c = Containerd { child, sock, root };
        let start = Instant::now();
        while !c.ctr(&["version"]).status().unwrap().success() {
            assert!(start.elapsed() < Duration::from_secs(20), "containerd did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    fn ctr(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("-a").arg(&self.sock).args(args).stdout(Stdio::null()).stderr(Stdio::null());
        cmd
    }

    fn meta_db(&self) -> PathBuf {
        self.root.join("io.containerd.metadata.v1.bolt/meta.db")
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn meta_db_is_read_consistently_while_containerd_commits() {
    let dir = tempfile::tempdir().unwrap();
    let containerd = Containerd::start(dir.path());
    let tiny = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/corpus/tiny.skopeo.oci-archive.tar");
    let imported = containerd
        .ctr(&["-n", "live", "images", "import", "--base-name", "docker.io/ocisize/tiny"])
        .arg(&tiny)
        .status()
        .unwrap();
    assert!(imported.success());
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
                let tag = ["-n", "live", "images", "tag", "docker.io/ocisize/tiny:latest", &name];
                assert!(containerd.ctr(&tag).status().unwrap().success(), "ctr tag {name}");
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
    let snapshots = SnapshotDb::open(
        containerd.root.join("io.containerd.snapshotter.v1.overlayfs/metadata.db"),
    )
    .unwrap()
    .snapshots()
    .unwrap();
    let live: Vec<_> = snapshots.iter().filter(|s| s.namespace() == Some("live")).collect();
    assert_eq!(live.len(), 4);
    assert!(live.iter().all(|s| s.kind == Kind::Committed && s.usage.is_some()));
}

//! A private containerd 1.6: root under the test's directory, state and sockets in its run
//! directory, the CRI plugin disabled.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::harness::{run, succeeds, Daemon, Work};

/// A running containerd; stopped (by its PID) when dropped.
#[derive(Debug)]
pub struct Containerd {
    _daemon: Daemon,
    /// Its gRPC socket.
    pub sock: PathBuf,
    /// Its root: `<work.dir>/containerd-root`.
    pub root: PathBuf,
}

impl Containerd {
    /// Start containerd and wait until `ctr version` answers. One containerd per [`Work`].
    pub fn start(work: &Work) -> Containerd {
        let (dir, run_dir) = (&work.dir, &work.run);
        let root = dir.join("containerd-root");
        let sock = run_dir.join("c.sock");
        let config = dir.join("containerd.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = {root:?}\nstate = {state:?}\n\
                 disabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
                 [grpc]\n  address = {sock:?}\n[ttrpc]\n  address = \"{sock}.ttrpc\"\n\
                 [plugins.\"io.containerd.internal.v1.opt\"]\n  path = {opt:?}\n",
                state = run_dir.join("c-state"),
                sock = sock.display(),
                opt = dir.join("c-opt"),
            ),
        )
        .expect("containerd config");
        let args = [OsString::from("--config"), config.into_os_string()];
        let log = dir.join("containerd.log");
        let mut daemon = Daemon::start("containerd", "containerd", args, &log);
        let probe = sock.clone();
        daemon.wait_until(|| succeeds(Command::new("ctr").arg("-a").arg(&probe).arg("version")));
        Containerd { _daemon: daemon, sock, root }
    }

    /// `ctr -n NS` on this containerd.
    pub fn ctr(&self, ns: &str) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a").arg(&self.sock).args(["-n", ns]);
        c
    }

    /// `ctr -n NS images import [--base-name BASE] TAR`; fails the test unless it succeeds.
    #[track_caller]
    pub fn import(&self, ns: &str, tar: &Path, base_name: Option<&str>) {
        let mut c = self.ctr(ns);
        c.args(["images", "import"]);
        if let Some(b) = base_name {
            c.args(["--base-name", b]);
        }
        run(c.arg(tar));
    }

    /// `ctr -n NS content get DIGEST`: the blob's bytes.
    #[track_caller]
    pub fn content(&self, ns: &str, digest: &str) -> Vec<u8> {
        let out = self.ctr(ns).args(["content", "get", digest]).output().expect("ctr content get");
        assert!(out.status.success(), "ctr content get {digest}");
        out.stdout
    }

    /// `ctr -n NS snapshots usage -b`: snapshot key → bytes.
    #[track_caller]
    pub fn usage(&self, ns: &str) -> HashMap<String, u64> {
        let out = run(self.ctr(ns).args(["snapshots", "usage", "-b"]));
        out.lines()
            .skip(1)
            .filter_map(|l| {
                let mut f = l.split_whitespace();
                Some((f.next()?.to_owned(), f.next()?.parse().ok()?))
            })
            .collect()
    }

    /// `<root>/io.containerd.metadata.v1.bolt/meta.db`.
    pub fn meta_db(&self) -> PathBuf {
        self.root.join("io.containerd.metadata.v1.bolt/meta.db")
    }

    /// `<root>/io.containerd.snapshotter.v1.overlayfs/metadata.db`.
    pub fn snapshot_db(&self) -> PathBuf {
        self.root.join("io.containerd.snapshotter.v1.overlayfs/metadata.db")
    }
}

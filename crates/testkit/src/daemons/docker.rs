//! A private dockerd 20.10: data-root under the test's directory, exec-root and socket in its
//! run directory, no networking of its own (no bridge, no iptables).

use std::path::PathBuf;
use std::process::Command;

use super::harness::{get_json, succeeds, Daemon, Work};

/// Debian's docker.io CLI, the daemon's own version (20.10); a `docker` earlier on `PATH` may
/// be another one (a 28.x CLI in /usr/local/bin on this machine).
const DOCKER_CLI: &str = "/usr/bin/docker";

/// A running dockerd; stopped (by its PID) when dropped.
#[derive(Debug)]
pub struct Dockerd {
    _daemon: Daemon,
    /// Its API socket.
    pub sock: PathBuf,
    /// Its data-root: `<work.dir>/docker-<driver>`.
    pub root: PathBuf,
    exec: PathBuf,
    cli: PathBuf,
}

impl Dockerd {
    /// Start dockerd with the storage driver `driver` (`overlay2`, `vfs`) and wait until it
    /// answers `/_ping`. One dockerd per driver and [`Work`].
    pub fn start(work: &Work, driver: &str) -> Dockerd {
        let root = work.dir.join(format!("docker-{driver}"));
        let exec = work.run.join(format!("d-{driver}"));
        std::fs::create_dir_all(&root).expect("data-root");
        let sock = exec.join("docker.sock");
        let args: Vec<String> = vec![
            format!("--data-root={}", root.display()),
            format!("--exec-root={}", exec.display()),
            format!("--pidfile={}", exec.join("docker.pid").display()),
            format!("--host=unix://{}", sock.display()),
            format!("--storage-driver={driver}"),
            "--bridge=none".into(),
            "--iptables=false".into(),
            "--ip-masq=false".into(),
            "--ip-forward=false".into(),
            "--userland-proxy=false".into(),
        ];
        let log = work.dir.join(format!("dockerd-{driver}.log"));
        let mut daemon = Daemon::start("dockerd", "dockerd", &args, &log);
        let probe = sock.clone();
        daemon.wait_until(|| {
            succeeds(
                Command::new("curl")
                    .args(["-sf", "--unix-socket"])
                    .arg(&probe)
                    .arg("http://x/_ping"),
            )
        });
        Dockerd { _daemon: daemon, sock, root, exec, cli: work.dir.join("docker-cli") }
    }

    /// The docker CLI (Debian's, 20.10) on this daemon: the classic builder, its own config
    /// dir.
    pub fn docker(&self) -> Command {
        let mut c = Command::new(DOCKER_CLI);
        c.arg("-H").arg(format!("unix://{}", self.sock.display()));
        c.env("DOCKER_CONFIG", &self.cli).env("DOCKER_BUILDKIT", "0");
        c
    }

    /// `ctr -n NS` on the containerd dockerd started for itself (its root is
    /// `<data-root>/containerd/daemon`).
    pub fn ctr(&self, ns: &str) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a").arg(self.exec.join("containerd/containerd.sock")).args(["-n", ns]);
        c
    }

    /// `GET /system/df`: what `docker system df -v` prints.
    pub fn df(&self) -> serde_json::Value {
        get_json(&self.sock, "/system/df")
    }
}

//! Real daemons for the tests: each runs inside `unshare --mount` with tmpfs over /run,
//! /var/lib/containers and /etc/docker, its root and socket under the test's directory, and
//! is stopped by its PID (SIGTERM, then SIGKILL) when dropped, also when the test fails.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The mounts every daemon and one-shot tool command gets, then `exec "$@"`.
const NAMESPACE: &str = "for d in /run /var/lib/containers /etc/docker; do \
    if [ -d \"$d\" ]; then mount -t tmpfs tmpfs \"$d\" || exit 1; fi; done; exec \"$@\"";

/// A command run inside a private mount namespace with the tmpfs mounts.
pub fn isolated<S: AsRef<OsStr>>(program: &str, args: impl IntoIterator<Item = S>) -> Command {
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c", NAMESPACE, "sh", program]);
    c.args(args);
    c
}

/// Run `cmd`, fail the test with its output unless it succeeds; its standard output.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// `curl --unix-socket SOCK http://x/PATH`, parsed as JSON.
pub fn get_json(sock: &Path, path: &str) -> serde_json::Value {
    let out = run(Command::new("curl")
        .args(["-sS", "--fail", "--unix-socket"])
        .arg(sock)
        .arg(format!("http://x{path}")));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
}

/// A daemon process; stopped when dropped.
pub struct Daemon {
    child: Child,
    what: String,
    log: PathBuf,
}

impl Daemon {
    /// Start `program args` in its own mount namespace, its output in `log`.
    pub fn start<S: AsRef<OsStr>>(
        what: &str,
        program: &str,
        args: impl IntoIterator<Item = S>,
        log: &Path,
    ) -> Daemon {
        let file = std::fs::File::create(log).expect("daemon log");
        let child = isolated(program, args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {what} (as root, with unshare): {e}"));
        Daemon { child, what: what.to_owned(), log: log.to_path_buf() }
    }

    /// Wait until `ready` holds, at most 60 s; fail with the log's tail otherwise.
    pub fn wait_until(&mut self, mut ready: impl FnMut() -> bool) {
        let start = Instant::now();
        while !ready() {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}):\n{}", self.what, self.log_tail());
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} did not start:\n{}",
                self.what,
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A test's directory, on a filesystem overlay2 and the overlayfs snapshotter can use: the
/// target dir's tmp, or, when that is itself on overlayfs (a CI container), an ext4 image
/// loop-mounted there, unmounted when dropped.
pub struct Work {
    pub dir: PathBuf,
    mounted: bool,
    _tmp: tempfile::TempDir,
}

impl Work {
    pub fn new(name: &str) -> Work {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
        std::fs::create_dir_all(base).expect("target tmp");
        let tmp = tempfile::Builder::new().prefix(name).tempdir_in(base).expect("tempdir");
        let dir = tmp.path().join("fs");
        std::fs::create_dir_all(&dir).expect("work dir");
        let fs_type = run(Command::new("stat").args(["-f", "-c", "%T"]).arg(tmp.path()));
        let mut mounted = false;
        if fs_type.trim() == "overlayfs" {
            let img = tmp.path().join("ext4.img");
            run(Command::new("truncate").args(["-s", "2G"]).arg(&img));
            run(Command::new("mkfs.ext4").args(["-q", "-F"]).arg(&img));
            run(Command::new("mount").args(["-o", "loop"]).arg(&img).arg(&dir));
            mounted = true;
        }
        Work { dir, mounted, _tmp: tmp }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// `testdata/corpus/<name>`.
pub fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/corpus").join(name)
}

/// `du -s -c -B1 PATHS`: the total.
pub fn du_b1(paths: &[PathBuf]) -> u64 {
    if paths.is_empty() {
        return 0;
    }
    let out = run(Command::new("du").args(["-s", "-c", "-B1"]).args(paths));
    let last = out.lines().last().expect("du total");
    last.split_whitespace().next().expect("du total").parse().expect("du bytes")
}

//! What every daemon test needs: commands in a private mount namespace, a daemon stopped by
//! its PID, a test's directories, and the one-shot helpers (`run`, `get_json`, `du_b1`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The mounts every daemon and one-shot runtime command gets, then `exec "$@"`: a tmpfs over
/// each of these directories that exists (none is created on the host).
const NAMESPACE: &str = "for d in /run /var/lib/containers /var/lib/docker /etc/docker; do \
    if [ -d \"$d\" ]; then mount -t tmpfs tmpfs \"$d\" || exit 1; fi; done; exec \"$@\"";

/// `program args` inside a private mount namespace with the tmpfs mounts. `unshare` and `sh`
/// exec in place, so the child's PID is the program's.
pub fn isolated<S: AsRef<OsStr>>(program: &str, args: impl IntoIterator<Item = S>) -> Command {
    let mut c = Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c", NAMESPACE, "sh", program]);
    c.args(args);
    c
}

/// Run `cmd` with no input; fail the test with its output unless it succeeds. Its standard
/// output.
#[track_caller]
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
#[track_caller]
pub fn get_json(sock: &Path, path: &str) -> serde_json::Value {
    let out = run(Command::new("curl")
        .args(["-sS", "--fail", "--unix-socket"])
        .arg(sock)
        .arg(format!("http://x{path}")));
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{path}: {e}: {out}"))
}

/// Whether `cmd` runs and succeeds (its output discarded): a readiness probe.
pub(crate) fn succeeds(cmd: &mut Command) -> bool {
    cmd.stdin(Stdio::null()).output().is_ok_and(|o| o.status.success())
}

/// A daemon process in its own mount namespace; stopped by its PID when dropped.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    what: String,
    log: PathBuf,
}

impl Daemon {
    /// Start `program args` [`isolated`], its output in `log`; `what` names it in failures.
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

    /// Wait until `ready` holds, at most 60 s; fail with the log's tail if the daemon exits
    /// or the time runs out.
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

    /// The daemon's PID.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }
}

impl Drop for Daemon {
    /// SIGTERM to the PID, up to 20 s for it to exit, then SIGKILL.
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

/// A test's directories: `dir` for the daemons' roots, on a filesystem overlay2 and the
/// overlayfs snapshotter can use (a temp dir under the given base, or, when that is itself on
/// overlayfs, as in a CI container, an ext4 image loop-mounted there, unmounted when
/// dropped); `run` for sockets and runroots, short (a Unix socket path stays under 108
/// bytes, podman wants its runroot under 50), in the system's temp dir.
#[derive(Debug)]
pub struct Work {
    /// The roots' directory.
    pub dir: PathBuf,
    /// The sockets' directory.
    pub run: PathBuf,
    mounted: bool,
    _tmp: tempfile::TempDir,
    _run: tempfile::TempDir,
}

impl Work {
    /// A new pair of directories; the roots' under `base` (give it the test's
    /// `env!("CARGO_TARGET_TMPDIR")`), named after `name`.
    pub fn new(base: &Path, name: &str) -> Work {
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
        let run_tmp = tempfile::Builder::new().prefix("osz").tempdir().expect("run dir");
        let run = run_tmp.path().to_path_buf();
        Work { dir, run, mounted, _tmp: tmp, _run: run_tmp }
    }
}

impl Drop for Work {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// `du -s -c -B1 PATHS`: the total (0 for no paths).
#[track_caller]
pub fn du_b1(paths: &[PathBuf]) -> u64 {
    if paths.is_empty() {
        return 0;
    }
    let out = run(Command::new("du").args(["-s", "-c", "-B1"]).args(paths));
    let last = out.lines().last().expect("du total");
    last.split_whitespace().next().expect("du total").parse().expect("du bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isolated_commands_see_tmpfs_over_the_runtime_directories() {
        let dirs: Vec<&str> = ["/run", "/var/lib/containers", "/var/lib/docker", "/etc/docker"]
            .into_iter()
            .filter(|d| Path::new(d).is_dir())
            .collect();
        assert!(!dirs.is_empty());
        let types = run(&mut isolated("stat", ["-f", "-c", "%T"].iter().chain(&dirs)));
        assert_eq!(types.lines().collect::<Vec<_>>(), vec!["tmpfs"; dirs.len()], "{dirs:?}");
        // What a command writes there stays in its namespace.
        let probe = "/run/ocisize-testkit-probe";
        run(&mut isolated("sh", ["-c", &format!("touch {probe} && test -f {probe}")]));
        assert!(!Path::new(probe).exists());
    }

    #[test]
    fn a_daemon_is_stopped_by_its_pid_when_the_test_fails() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("sleep.log");
        let mut pid = None;
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut d = Daemon::start("sleep", "sleep", ["600"], &log);
            let p = d.pid();
            pid = Some(p);
            // The PID is the program's: unshare and sh exec in place.
            let comm = || std::fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            d.wait_until(|| comm().trim() == "sleep");
            panic!("the test fails while the daemon runs");
        }));
        assert!(failed.is_err());
        let pid = pid.unwrap();
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "{pid} still runs");
    }
}

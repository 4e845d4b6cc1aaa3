//! podman 4.3 on a private containers/storage root: every command [`isolated`], and
//! `podman system service` for the libpod API's `/system/df`.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use super::harness::{get_json, isolated, succeeds, Daemon, Work};

/// A podman storage root with one driver.
#[derive(Debug)]
pub struct Podman {
    dir: PathBuf,
    runroot: PathBuf,
    sock: PathBuf,
    /// The storage root: `<work.dir>/podman-<driver>/storage`.
    pub root: PathBuf,
    /// The storage driver (`overlay`, `vfs`).
    pub driver: String,
}

impl Podman {
    /// A store for `driver` under `work.dir`, its runroot in `work.run`. One per driver and
    /// [`Work`].
    pub fn new(work: &Work, driver: &str) -> Podman {
        let dir = work.dir.join(format!("podman-{driver}"));
        let runroot = work.run.join(format!("p-{driver}"));
        for d in [dir.join("tmp"), dir.join("libpod-tmp"), runroot.clone()] {
            std::fs::create_dir_all(d).expect("podman dirs");
        }
        Podman {
            root: dir.join("storage"),
            sock: work.run.join(format!("podman-{driver}.sock")),
            dir,
            runroot,
            driver: driver.to_owned(),
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            format!("--root={}", self.root.display()),
            format!("--runroot={}", self.runroot.display()),
            format!("--storage-driver={}", self.driver),
            format!("--tmpdir={}", self.dir.join("libpod-tmp").display()),
            "--cgroup-manager=cgroupfs".into(),
            "--events-backend=none".into(),
        ]
    }

    /// `podman ARGS` on this root, [`isolated`], with its own `TMPDIR`; more arguments can
    /// follow with `.arg()`.
    pub fn podman<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        let mut c = isolated("podman", self.args());
        c.args(args);
        c.env("TMPDIR", self.dir.join("tmp"));
        c
    }

    /// `GET /v4.0.0/libpod/system/df` (what `podman system df -v` prints) from a
    /// `podman system service` on this root, stopped before this returns.
    pub fn df(&self) -> serde_json::Value {
        let mut args = self.args();
        args.extend(["system".into(), "service".into(), "--time=0".into()]);
        args.push(format!("unix://{}", self.sock.display()));
        let log = self.dir.join("service.log");
        let mut service = Daemon::start("podman system service", "podman", &args, &log);
        let probe = self.sock.clone();
        service.wait_until(|| {
            succeeds(
                Command::new("curl")
                    .args(["-sf", "--unix-socket"])
                    .arg(&probe)
                    .arg("http://d/v4.0.0/libpod/_ping"),
            )
        });
        get_json(&self.sock, "/v4.0.0/libpod/system/df")
    }
}

//! Real daemons for the tests that meet a runtime: dockerd, containerd and podman, each on
//! a private socket with its root under the test's directory.
//!
//! Every daemon and one-shot runtime command runs inside `unshare --mount` with tmpfs over
//! `/run`, `/var/lib/containers`, `/var/lib/docker` and `/etc/docker` ([`isolated`]), so it
//! touches nothing outside; a daemon is a [`Daemon`], stopped by its PID (SIGTERM, then
//! SIGKILL) when dropped, also when the test fails. They need root and the runtimes
//! installed (dockerd 20.10, containerd 1.6.20 + ctr, podman 4.3.1, curl, util-linux).
//!
//! - [`harness`]: [`isolated`], [`run`], [`get_json`], [`Daemon`], [`Work`] (a test's
//!   directories), [`du_b1`].
//! - [`docker`]: [`Dockerd`], a private dockerd with a storage driver of the test's choice.
//! - [`containerd`]: [`Containerd`], a private containerd (the CRI plugin disabled).
//! - [`podman`]: [`Podman`], a containers/storage root and podman commands on it.
//!
//! ```no_run
//! use std::path::Path;
//! use ocisize_testkit::daemons::{run, Containerd, Work};
//!
//! let work = Work::new(Path::new("target/tmp"), "example");
//! let c = Containerd::start(&work);
//! c.import("k8s.io", &ocisize_testkit::corpus("tiny.dockerd.save.tar"), None);
//! let listed = run(c.ctr("k8s.io").args(["images", "ls", "-q"]));
//! assert!(listed.contains("docker.io/ocisize/tiny:latest"));
//! ```

pub mod containerd;
pub mod docker;
pub mod harness;
pub mod podman;

pub use containerd::Containerd;
pub use docker::Dockerd;
pub use harness::{du_b1, get_json, isolated, run, Daemon, Work};
pub use podman::Podman;

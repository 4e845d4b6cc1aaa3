//! A node's runtime image stores, read offline from their files, each with its runtime's
//! own figures.
//!
//! | kind | root | store | figures as |
//! |---|---|---|---|
//! | [`Kind::Docker`] | `/var/lib/docker` | one per graphdriver (`image/<driver>/`), and docker's containerd image store (namespace `moby`) when it has images | `docker system df -v`, the Engine API's `/system/df` |
//! | [`Kind::Containerd`] | `/var/lib/containerd`, `/var/lib/rancher/k3s/agent/containerd` | one per namespace | `ctr images ls` (`images.Size`), `ctr snapshots usage -b` |
//! | [`Kind::ContainersStorage`] | `/var/lib/containers/storage`, `~/.local/share/containers/storage` | one per driver (`<driver>-images/`) | `podman system df -v` of the podman that wrote it ([`PodmanRule`]) |
//!
//! Nothing is written and no daemon is contacted. A store being written while it is read
//! gives either a consistent state or a typed [`Error`]: containerd's bbolt databases are
//! read in one consistent transaction each ([`ocisize_containerd`]); a JSON file that does
//! not parse, or files that disagree, are read once more, then reported. What is incomplete
//! but readable (an image not fully unpacked, a layer the store has no size for) is a
//! [`Problem`] on the store, and the figure it touches says so.
//!
//! Every image carries its image ID and its layers' chain IDs, which are the same in every
//! store holding it (compressed digests are not), and the units of its store it holds
//! ([`Unit`]: layers, blobs, snapshots, with their sizes) in the store's refcount domain
//! ([`RuntimeStore::domain`]: a containerd root for all its namespaces), so that what
//! removing several images together frees can be counted; its `frees` is the sum of
//! those no other image of the domain holds.
//!
//! A containerd namespace is also an [`ocisize_source::Source`] ([`ContainerdSource`]): its
//! content store holds the blobs, so the source model's walk and verification read it.
//!
//! ```
//! use ocisize_runtime::{open, Kind, Options};
//!
//! // A docker data-root with one image of one 1,234-byte layer (vfs driver).
//! let root = tempfile::tempdir()?;
//! let base = root.path().join("image/vfs");
//! let config = br#"{"rootfs":{"type":"layers","diff_ids":["sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"]}}"#;
//! let id = ocisize_digest::Digest::of(ocisize_digest::Algorithm::Sha256, config);
//! std::fs::create_dir_all(base.join("imagedb/content/sha256"))?;
//! std::fs::write(base.join("imagedb/content/sha256").join(id.hex()), config)?;
//! let layer = base.join("layerdb/sha256/2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae");
//! std::fs::create_dir_all(&layer)?;
//! std::fs::write(layer.join("size"), "1234")?;
//! std::fs::write(base.join("repositories.json"),
//!     format!(r#"{{"Repositories":{{"lab/x":{{"lab/x:v1":"{id}"}}}}}}"#))?;
//!
//! let stores = open(Kind::Docker, root.path(), &Options::default())?;
//! let image = &stores[0].images[0];
//! assert_eq!(image.names[0].to_string(), "docker.io/lab/x:v1");
//! assert_eq!((image.size, image.shared_size, image.unique_size), (1234, 0, 1234));
//! assert_eq!(stores[0].size, 1234);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]

mod containerd;
mod content;
mod docker;
pub mod du;
mod error;
mod json;
mod model;
mod platform;
mod podman;
mod storage;

use std::path::{Path, PathBuf};

pub use content::ContainerdSource;
pub use error::Error;
pub use model::{
    Kind, PodmanRule, Problem, RuleChoice, RuleEvidence, RuntimeImage, RuntimeStore, Unit,
};
pub use ocisize_spec::JsonLimits;

/// How stores are read.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Options {
    /// The podman rule for containers-storage figures; `None`: what the store shows of its
    /// podman ([`RuleEvidence`]).
    pub podman_rule: Option<PodmanRule>,
    /// Measure each store's bytes on disk (a walk of every layer's files).
    pub disk_usage: bool,
    /// Limits for image configs and manifests.
    pub limits: JsonLimits,
    /// Largest store index file: `repositories.json`, `images.json`, `layers.json`.
    pub index_limit: u64,
    /// The containerd snapshotter whose snapshots are the unpacked layers.
    pub snapshotter: String,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            podman_rule: None,
            disk_usage: true,
            limits: JsonLimits::default(),
            index_limit: 256 << 20,
            snapshotter: "overlayfs".to_owned(),
        }
    }
}

/// Read the stores of a runtime root of kind `kind`: several for one root (a docker root's
/// drivers, a containerd root's namespaces, a containers-storage root's drivers).
pub fn open(kind: Kind, path: &Path, options: &Options) -> Result<Vec<RuntimeStore>, Error> {
    match kind {
        Kind::Docker => docker::open(path, options),
        Kind::Containerd => containerd::open_namespaces(path, None, options),
        Kind::ContainersStorage => storage::open(path, options),
    }
}

/// The usual roots that exist on this machine, with their kinds: `/var/lib/docker`,
/// `/var/lib/containerd`, `/var/lib/rancher/k3s/agent/containerd`,
/// `/var/lib/containers/storage` and `$HOME/.local/share/containers/storage`.
pub fn well_known_roots() -> Vec<(Kind, PathBuf)> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    well_known_under(Path::new("/"), home.as_deref())
}

fn well_known_under(root: &Path, home: Option<&Path>) -> Vec<(Kind, PathBuf)> {
    let mut candidates = vec![
        (Kind::Docker, root.join("var/lib/docker")),
        (Kind::Containerd, root.join("var/lib/containerd")),
        (Kind::Containerd, root.join("var/lib/rancher/k3s/agent/containerd")),
        (Kind::ContainersStorage, root.join("var/lib/containers/storage")),
    ];
    if let Some(h) = home {
        candidates.push((Kind::ContainersStorage, h.join(".local/share/containers/storage")));
    }
    candidates.into_iter().filter(|(_, p)| p.is_dir()).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn well_known_roots_that_exist() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home/u");
        std::fs::create_dir_all(dir.path().join("var/lib/containerd")).unwrap();
        std::fs::create_dir_all(home.join(".local/share/containers/storage")).unwrap();
        let found = well_known_under(dir.path(), Some(&home));
        assert_eq!(
            found,
            [
                (Kind::Containerd, dir.path().join("var/lib/containerd")),
                (Kind::ContainersStorage, home.join(".local/share/containers/storage")),
            ]
        );
        assert!(well_known_under(dir.path(), None).len() == 1);
    }

    #[test]
    fn not_a_store() {
        let dir = tempfile::tempdir().unwrap();
        for kind in [Kind::Docker, Kind::Containerd, Kind::ContainersStorage] {
            let e = open(kind, dir.path(), &Options::default()).unwrap_err();
            assert!(matches!(e, Error::NotAStore { kind: k, .. } if k == kind), "{e}");
            assert!(e.to_string().contains(&format!("is not a {kind} store")), "{e}");
        }
    }
}

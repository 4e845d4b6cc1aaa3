//! containerd 1.6's two databases, read from the files while containerd may be running:
//! the metadata database (`io.containerd.metadata.v1.bolt/meta.db`: namespaces, images,
//! content, snapshot references, leases) and a snapshotter's own database
//! (`io.containerd.snapshotter.v1.overlayfs/metadata.db`: snapshots, their ids, parents,
//! kinds and the usage recorded at commit).
//!
//! Both are bbolt files, read with [`ocisize_bbolt`] (no lock, each read one consistent
//! transaction). The two files are separate databases: each is consistent in itself, but
//! containerd may commit to one between the reads of the two.
//!
//! ```
//! use ocisize_containerd::{Kind, MetaDb, SnapshotDb};
//!
//! let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/bbolt");
//! let meta = MetaDb::open(format!("{dir}/meta.db"))?;
//! let ns = meta.namespace("default")?.expect("the default namespace");
//! let image = &ns.images[0];
//! assert_eq!(image.name, "docker.io/ocisize/tiny:latest");
//! assert_eq!(image.target.size, 814);
//!
//! // The unpacked top layer: the namespace's key, then the snapshotter's record of it.
//! let top = ns.snapshots.iter().find(|s| s.children.len() == 2).expect("the top layer");
//! let snapshots = SnapshotDb::open(format!("{dir}/metadata.db"))?.by_key()?;
//! let snapshot = &snapshots[&top.backend_key];
//! assert_eq!(snapshot.kind, Kind::Committed);
//! assert_eq!(snapshot.usage.map(|u| u.size), Some(16384));
//! # Ok::<(), ocisize_containerd::Error>(())
//! ```
//!
//! Decoding follows containerd's readers: unknown keys are ignored, missing labels are an
//! empty map, and a field containerd always writes (an image's target, a blob's size, a
//! snapshot's id) is an error when missing, as is any value that does not decode.
#![deny(missing_docs)]

mod decode;
mod meta;
mod snapshots;
mod tree;

use std::path::PathBuf;

pub use decode::{DecodeError, Timestamp};
pub use meta::{
    Blob, Descriptor, Image, Lease, MetaDb, Metadata, Namespace, SnapshotRef, LABEL_GC_REF,
    LABEL_UNCOMPRESSED,
};
pub use snapshots::{Kind, Snapshot, SnapshotDb, Usage};

/// Why a containerd database could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bbolt file could not be read.
    #[error(transparent)]
    Bbolt(#[from] ocisize_bbolt::Error),
    /// A stored value does not decode.
    #[error("containerd database {}: {key}: {reason}", .path.display())]
    Decode {
        /// The database file.
        path: PathBuf,
        /// The bucket path and key, joined by `/` (`v1/default/images/<name>/target/size`).
        key: String,
        /// What is wrong.
        reason: DecodeError,
    },
}

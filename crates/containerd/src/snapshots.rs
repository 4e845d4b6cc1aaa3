//! A snapshotter's own database: `io.containerd.snapshotter.v1.overlayfs/metadata.db` (and
//! the same layout for every snapshotter built on containerd's `snapshots/storage`).
//!
//! Layout (containerd 1.6 `snapshots/storage/bolt.go`):
//!
//! ```text
//! v1/snapshots/<key>/id          uvarint; the overlayfs directory snapshots/<id>
//! v1/snapshots/<key>/kind        one byte: 1 view, 2 active, 3 committed
//! v1/snapshots/<key>/parent      the parent's key
//! v1/snapshots/<key>/createdat|updatedat|labels/
//! v1/snapshots/<key>/size|inodes varint usage, written when the snapshot is committed
//! v1/parents/<uvarint parent id> 0x00 <uvarint child id> = <child key>
//! ```
//!
//! The keys are the metadata database's backend keys, `<namespace>/<sequence>/<key>`
//! ([`SnapshotRef::backend_key`](crate::SnapshotRef::backend_key)).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::decode::{self, Timestamp};
use crate::tree::Node;
use crate::Error;

/// A snapshotter's database, opened without a lock.
#[derive(Debug)]
pub struct SnapshotDb {
    db: ocisize_bbolt::Db,
}

/// A snapshot as the snapshotter records it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The key: `<namespace>/<sequence>/<key in the namespace>`.
    pub key: String,
    /// The snapshot's id (overlayfs keeps it in `snapshots/<id>`).
    pub id: u64,
    /// Active, view or committed.
    pub kind: Kind,
    /// The parent's key.
    pub parent: Option<String>,
    /// The snapshot's labels.
    pub labels: BTreeMap<String, String>,
    /// When the record was created.
    pub created: Option<Timestamp>,
    /// When the record was last updated.
    pub updated: Option<Timestamp>,
    /// The disk usage recorded when the snapshot was committed (`None` for an active or
    /// view snapshot, whose usage containerd measures on demand).
    pub usage: Option<Usage>,
}

/// The disk usage of a committed snapshot, as containerd measured it when committing:
/// continuity's `fs.DiskUsage` of its directory (each inode once, allocated blocks × 512).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Usage {
    /// Bytes allocated.
    pub size: u64,
    /// Inodes.
    pub inodes: u64,
}

/// A snapshot's kind (containerd `snapshots.Kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// A read-only view of a committed snapshot.
    View,
    /// A writable snapshot, not yet committed.
    Active,
    /// A committed, read-only snapshot (an unpacked layer).
    Committed,
    /// No kind recorded (0) or one containerd does not define.
    Unknown(u8),
}

impl Kind {
    /// The kind stored as byte `b` (`KindView` = 1, `KindActive` = 2, `KindCommitted` = 3).
    pub fn from_byte(b: u8) -> Kind {
        match b {
            1 => Kind::View,
            2 => Kind::Active,
            3 => Kind::Committed,
            other => Kind::Unknown(other),
        }
    }
}

/// As containerd's `Kind.String` (and so `ctr snapshots ls`) prints it.
impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::View => "View",
            Kind::Active => "Active",
            Kind::Committed => "Committed",
            Kind::Unknown(_) => "Unknown",
        })
    }
}

impl Snapshot {
    /// The namespace part of the key.
    pub fn namespace(&self) -> Option<&str> {
        self.key.split_once('/').map(|(ns, _)| ns)
    }

    /// The key in the namespace (after `<namespace>/<sequence>/`).
    pub fn name(&self) -> Option<&str> {
        let mut parts = self.key.splitn(3, '/');
        match (parts.next(), parts.next(), parts.next()) {
            (Some(_), Some(_), Some(name)) => Some(name),
            _ => None,
        }
    }
}

impl SnapshotDb {
    /// Open a snapshotter's `metadata.db`; no lock is taken, so containerd may be running.
    pub fn open(path: impl AsRef<Path>) -> Result<SnapshotDb, Error> {
        Ok(SnapshotDb { db: ocisize_bbolt::Db::open(path)? })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// Every snapshot, by key, read in one transaction.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>, Error> {
        let file = self.db.path();
        self.db.view(|tx| {
            let mut out = Vec::new();
            let Some(snapshots) = Node::at(tx, file, &["v1", "snapshots"])? else {
                return Ok(out);
            };
            for (key, b) in snapshots.children()? {
                out.push(read_snapshot(key, &b)?);
            }
            Ok(out)
        })
    }

    /// Every snapshot, keyed by its key.
    pub fn by_key(&self) -> Result<BTreeMap<String, Snapshot>, Error> {
        Ok(self.snapshots()?.into_iter().map(|s| (s.key.clone(), s)).collect())
    }
}

fn read_snapshot(key: String, b: &Node<'_>) -> Result<Snapshot, Error> {
    let id = decode::uvarint(&b.required("id")?).map_err(|e| b.err("id", e))?;
    // storage/bolt.go readKind: a kind that is not one byte reads as unknown (0).
    let kind = match b.value("kind")? {
        Some(v) if v.len() == 1 => Kind::from_byte(v[0]),
        _ => Kind::Unknown(0),
    };
    let usage = match (b.value("size")?.is_some(), b.value("inodes")?.is_some()) {
        (false, false) => None,
        _ => Some(Usage { size: b.size("size")?, inodes: b.size("inodes")? }),
    };
    Ok(Snapshot {
        key,
        id,
        kind,
        parent: b.string("parent")?.filter(|p| !p.is_empty()),
        labels: b.string_map("labels")?,
        created: b.timestamp("createdat")?,
        updated: b.timestamp("updatedat")?,
        usage,
    })
}

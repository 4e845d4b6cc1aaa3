//! containerd's metadata database, `io.containerd.metadata.v1.bolt/meta.db`.
//!
//! Layout (containerd 1.6 `metadata/buckets.go`; fields from `images.go`, `content.go`,
//! `snapshot.go`, `leases.go`, `namespaces.go` and `boltutil/helpers.go`):
//!
//! ```text
//! v1/version                                   varint schema version
//! v1/<ns>/labels/<k> = <v>                     namespace labels
//! v1/<ns>/images/<name>/createdat|updatedat    Go time.MarshalBinary
//! v1/<ns>/images/<name>/labels/<k> = <v>
//! v1/<ns>/images/<name>/annotations/<k> = <v>  the target descriptor's annotations
//! v1/<ns>/images/<name>/target/digest|mediatype  strings; size: varint
//! v1/<ns>/content/blob/<digest>/createdat|updatedat|size(varint)|labels/
//! v1/<ns>/snapshots/<snapshotter>/<key>/name   the snapshotter's key "<ns>/<seq>/<key>"
//! v1/<ns>/snapshots/<snapshotter>/<key>/parent|createdat|updatedat|labels/|children/<key>
//! v1/<ns>/leases/<id>/createdat|labels/
//! v1/<ns>/leases/<id>/content/<digest>, snapshots/<snapshotter>/<key>, ingests/<ref>
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use ocisize_digest::Digest;

use crate::decode::{self, DecodeError, Timestamp};
use crate::tree::Node;
use crate::Error;

/// containerd's metadata database, opened without a lock.
#[derive(Debug)]
pub struct MetaDb {
    db: ocisize_bbolt::Db,
}

/// Everything in a metadata database, read in one consistent transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// The bbolt transaction id that was read.
    pub txid: u64,
    /// `v1/version`, the schema version (3 for containerd 1.6).
    pub schema_version: Option<u64>,
    /// The namespaces, by name.
    pub namespaces: Vec<Namespace>,
}

/// One namespace's objects.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Namespace {
    /// The namespace's name (`default`, `k8s.io`, `moby`, …).
    pub name: String,
    /// The namespace's labels.
    pub labels: BTreeMap<String, String>,
    /// Images, by name.
    pub images: Vec<Image>,
    /// Content blobs the namespace holds, by digest.
    pub content: Vec<Blob>,
    /// The namespace's snapshots, by snapshotter then key.
    pub snapshots: Vec<SnapshotRef>,
    /// Leases, by id.
    pub leases: Vec<Lease>,
}

/// An image record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Image {
    /// The image's name (`docker.io/library/busybox:latest`).
    pub name: String,
    /// The descriptor the name points at (manifest or index).
    pub target: Descriptor,
    /// The image's labels.
    pub labels: BTreeMap<String, String>,
    /// When the record was created.
    pub created: Option<Timestamp>,
    /// When the record was last updated.
    pub updated: Option<Timestamp>,
}

/// An image's target descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Descriptor {
    /// The media type.
    pub media_type: String,
    /// The digest.
    pub digest: Digest,
    /// The size in bytes.
    pub size: u64,
    /// The descriptor's annotations.
    pub annotations: BTreeMap<String, String>,
}

/// A content blob in a namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Blob {
    /// The blob's digest.
    pub digest: Digest,
    /// The blob's size in bytes.
    pub size: u64,
    /// The blob's labels (`containerd.io/gc.ref.*`, `containerd.io/uncompressed`, …).
    pub labels: BTreeMap<String, String>,
    /// When the record was created.
    pub created: Option<Timestamp>,
    /// When the record was last updated.
    pub updated: Option<Timestamp>,
}

/// The label that names a compressed layer's uncompressed digest (its diffID).
pub const LABEL_UNCOMPRESSED: &str = "containerd.io/uncompressed";
/// The prefix of the garbage collector's reference labels.
pub const LABEL_GC_REF: &str = "containerd.io/gc.ref.";

impl Blob {
    /// The `containerd.io/uncompressed` label: a compressed layer's diffID.
    pub fn uncompressed(&self) -> Option<Result<Digest, ocisize_digest::ParseError>> {
        self.labels.get(LABEL_UNCOMPRESSED).map(|v| v.parse())
    }

    /// The `containerd.io/gc.ref.*` labels: the kind after the prefix (`content.l.0`,
    /// `content.config`, `snapshot.overlayfs`, …) and the value (a digest or key).
    pub fn gc_refs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.labels
            .iter()
            .filter_map(|(k, v)| k.strip_prefix(LABEL_GC_REF).map(|kind| (kind, v.as_str())))
    }
}

/// A namespace's record of a snapshot (the snapshotter's own record is a
/// [`Snapshot`](crate::Snapshot), found by [`SnapshotRef::backend_key`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SnapshotRef {
    /// The snapshotter (`overlayfs`, `native`, …).
    pub snapshotter: String,
    /// The key in the namespace (a chain ID for an unpacked layer).
    pub key: String,
    /// The key in the snapshotter's own database: `<namespace>/<sequence>/<key>`.
    pub backend_key: String,
    /// The parent's key in the namespace.
    pub parent: Option<String>,
    /// The children's keys in the namespace.
    pub children: Vec<String>,
    /// The snapshot's labels.
    pub labels: BTreeMap<String, String>,
    /// When the record was created.
    pub created: Option<Timestamp>,
    /// When the record was last updated.
    pub updated: Option<Timestamp>,
}

/// A lease: resources kept from garbage collection while it lasts.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Lease {
    /// The lease id.
    pub id: String,
    /// When the lease was created.
    pub created: Option<Timestamp>,
    /// The lease's labels (`containerd.io/gc.expire`, …).
    pub labels: BTreeMap<String, String>,
    /// Content the lease holds.
    pub content: Vec<Digest>,
    /// Snapshots the lease holds: (snapshotter, key).
    pub snapshots: Vec<(String, String)>,
    /// Ingests (content being written) the lease holds, by ref.
    pub ingests: Vec<String>,
}

impl MetaDb {
    /// Open `meta.db`; no lock is taken, so containerd may be running.
    pub fn open(path: impl AsRef<Path>) -> Result<MetaDb, Error> {
        Ok(MetaDb { db: ocisize_bbolt::Db::open(path)? })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// The namespaces' names.
    pub fn namespace_names(&self) -> Result<Vec<String>, Error> {
        let file = self.db.path();
        self.db.view(|tx| match Node::at(tx, file, &["v1"])? {
            Some(v1) => Ok(v1.children()?.into_iter().map(|(name, _)| name).collect()),
            None => Ok(Vec::new()),
        })
    }

    /// One namespace, read in one transaction; `None` if it does not exist.
    pub fn namespace(&self, name: &str) -> Result<Option<Namespace>, Error> {
        let file = self.db.path();
        self.db.view(|tx| match Node::at(tx, file, &["v1", name])? {
            Some(ns) => read_namespace(name, &ns).map(Some),
            None => Ok(None),
        })
    }

    /// Every namespace, read in one transaction.
    pub fn read(&self) -> Result<Metadata, Error> {
        let file = self.db.path();
        self.db.view(|tx| {
            let mut meta =
                Metadata { txid: tx.txid(), schema_version: None, namespaces: Vec::new() };
            let Some(v1) = Node::at(tx, file, &["v1"])? else { return Ok(meta) };
            if let Some(v) = v1.value("version")? {
                let version = decode::size(&v).map_err(|e| v1.err("version", e))?;
                meta.schema_version = Some(version);
            }
            for (name, ns) in v1.children()? {
                meta.namespaces.push(read_namespace(&name, &ns)?);
            }
            Ok(meta)
        })
    }
}

fn read_namespace(name: &str, ns: &Node<'_>) -> Result<Namespace, Error> {
    let mut out = Namespace {
        name: name.to_string(),
        labels: ns.string_map("labels")?,
        images: Vec::new(),
        content: Vec::new(),
        snapshots: Vec::new(),
        leases: Vec::new(),
    };
    if let Some(images) = ns.child("images")? {
        for (name, b) in images.children()? {
            out.images.push(read_image(name, &b)?);
        }
    }
    if let Some(blobs) = ns.child("content")?.map(|c| c.child("blob")).transpose()?.flatten() {
        for (key, b) in blobs.children()? {
            let digest = key.parse().map_err(|e| blobs.err(&key, DecodeError::Digest(e)))?;
            out.content.push(Blob {
                digest,
                size: b.size("size")?,
                labels: b.string_map("labels")?,
                created: b.timestamp("createdat")?,
                updated: b.timestamp("updatedat")?,
            });
        }
    }
    if let Some(snapshotters) = ns.child("snapshots")? {
        for (snapshotter, s) in snapshotters.children()? {
            for (key, b) in s.children()? {
                out.snapshots.push(read_snapshot_ref(&snapshotter, key, &b)?);
            }
        }
    }
    if let Some(leases) = ns.child("leases")? {
        for (id, b) in leases.children()? {
            out.leases.push(read_lease(id, &b)?);
        }
    }
    Ok(out)
}

fn read_image(name: String, b: &Node<'_>) -> Result<Image, Error> {
    // metadata/images.go readImage: "unable to read target bucket" without one.
    let t = b.child("target")?.ok_or_else(|| b.err("target", DecodeError::Missing))?;
    let digest = t.string("digest")?.ok_or_else(|| t.err("digest", DecodeError::Missing))?;
    let digest = digest.parse().map_err(|e| t.err("digest", DecodeError::Digest(e)))?;
    let media_type =
        t.string("mediatype")?.ok_or_else(|| t.err("mediatype", DecodeError::Missing))?;
    let target = Descriptor {
        media_type,
        digest,
        size: t.size("size")?,
        annotations: b.string_map("annotations")?,
    };
    Ok(Image {
        name,
        target,
        labels: b.string_map("labels")?,
        created: b.timestamp("createdat")?,
        updated: b.timestamp("updatedat")?,
    })
}

fn read_snapshot_ref(snapshotter: &str, key: String, b: &Node<'_>) -> Result<SnapshotRef, Error> {
    let backend_key = b.string("name")?.ok_or_else(|| b.err("name", DecodeError::Missing))?;
    let children = match b.child("children")? {
        Some(c) => c.keys()?,
        None => Vec::new(),
    };
    Ok(SnapshotRef {
        snapshotter: snapshotter.to_string(),
        key,
        backend_key,
        parent: b.string("parent")?.filter(|p| !p.is_empty()),
        children,
        labels: b.string_map("labels")?,
        created: b.timestamp("createdat")?,
        updated: b.timestamp("updatedat")?,
    })
}

fn read_lease(id: String, b: &Node<'_>) -> Result<Lease, Error> {
    let mut lease = Lease {
        id,
        created: b.timestamp("createdat")?,
        labels: b.string_map("labels")?,
        content: Vec::new(),
        snapshots: Vec::new(),
        ingests: Vec::new(),
    };
    if let Some(c) = b.child("content")? {
        for key in c.keys()? {
            let digest = key.parse().map_err(|e| c.err(&key, DecodeError::Digest(e)))?;
            lease.content.push(digest);
        }
    }
    if let Some(s) = b.child("snapshots")? {
        for (snapshotter, keys) in s.children()? {
            for key in keys.keys()? {
                lease.snapshots.push((snapshotter.clone(), key));
            }
        }
    }
    if let Some(i) = b.child("ingests")? {
        lease.ingests = i.keys()?;
    }
    Ok(lease)
}

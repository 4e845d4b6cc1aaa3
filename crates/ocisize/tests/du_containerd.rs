//! `ocisize::du` over a containerd root offline (the databases containerd 1.6.20 wrote,
//! `testdata/bbolt`, with the corpus blobs it had imported) and an archive: tiny is in the
//! namespaces `default` and `ocisize-many` (one content store) and in the archive.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::{Path, PathBuf};

use ocisize::du::{from_stores, DuReport, DuSource, Keep, Kind, StoreKind, StoreRef};
use ocisize::{du, DuOptions};

const TINY: &str = "sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c";

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(p)
}

/// A containerd root of `testdata/bbolt` and the blobs of the two archives it imported.
fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("containerd");
    let meta = root.join("io.containerd.metadata.v1.bolt");
    let snap = root.join("io.containerd.snapshotter.v1.overlayfs");
    let content = root.join("io.containerd.content.v1.content/blobs/sha256");
    for d in [&meta, &snap, &content] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(testdata("bbolt/meta.db"), meta.join("meta.db")).unwrap();
    std::fs::copy(testdata("bbolt/metadata.db"), snap.join("metadata.db")).unwrap();
    for a in ["tiny.skopeo.oci-archive.tar", "debslice.skopeo.oci-archive.tar"] {
        let file = std::fs::File::open(testdata(&format!("corpus/{a}"))).unwrap();
        for entry in tar::Archive::new(file).entries().unwrap() {
            let mut entry = entry.unwrap();
            let path = entry.path().unwrap().into_owned();
            if let Ok(rest) = path.strip_prefix("blobs/sha256") {
                if entry.header().entry_type().is_file() {
                    entry.unpack(content.join(rest)).unwrap();
                }
            }
        }
    }
    (dir, root)
}

/// `du` over the root and `tiny.skopeo.oci-archive.tar`: the root's directory, the archive,
/// the report.
fn report() -> (tempfile::TempDir, PathBuf, DuReport) {
    let (dir, root) = root();
    let archive = testdata("corpus/tiny.skopeo.oci-archive.tar");
    let sources = [
        DuSource::Runtime(Kind::Containerd, root),
        DuSource::Image(ocisize::SourceArg::path(&archive)),
    ];
    let r = du(&sources, &DuOptions::default()).unwrap();
    (dir, archive, r)
}

#[test]
fn two_namespaces_and_an_archive() {
    let (_dir, _, r) = report();
    let ns: Vec<_> = r.stores.iter().map(|s| (s.kind, s.namespace.as_deref())).collect();
    assert!(ns.contains(&(StoreKind::Containerd, Some("default"))), "{ns:?}");
    assert!(ns.contains(&(StoreKind::Containerd, Some("ocisize-many"))), "{ns:?}");
    assert!(ns.contains(&(StoreKind::Containerd, Some("k8s.io"))), "{ns:?}");
    assert_eq!(r.stores.last().unwrap().kind, StoreKind::Archive);

    assert_eq!(r.duplicates.len(), 1, "{:?}", r.duplicates);
    let d = &r.duplicates[0];
    assert_eq!(d.image_id.to_string(), TINY);
    let copies: Vec<_> =
        d.copies.iter().map(|c| (c.namespace.as_deref(), c.frees, c.kept)).collect();
    eprintln!("{copies:?} reclaimable {} disk usage {}", r.reclaimable, r.disk_usage);
    // The namespaces share the blobs: removing tiny from one frees none of them, only its
    // own snapshots (2,437,120, `ctr snapshots usage`); the first of the equals is kept.
    assert_eq!(
        copies,
        [
            (Some("default"), 2_437_120, true),
            (Some("ocisize-many"), 2_437_120, false),
            (None, 1_167_360, false)
        ]
    );
    assert_eq!(d.reclaimable, 2_437_120 + 1_167_360);
    assert_eq!(r.reclaimable, 3_604_480);

    // The blobs both namespaces use count once in the total, not in each.
    let sum: u64 = r.stores.iter().map(|s| s.disk_usage.unwrap()).sum();
    let k8s = r.stores.iter().find(|s| s.namespace.as_deref() == Some("k8s.io")).unwrap();
    let many = r.stores.iter().find(|s| s.namespace.as_deref() == Some("ocisize-many")).unwrap();
    assert_eq!(r.disk_usage, sum - many.disk_usage.unwrap());
    assert!(k8s.disk_usage.unwrap() > 1_000_000);
    let paths: Vec<_> = r.stores.iter().flat_map(|s| s.disk_usage_paths.clone()).collect();
    let out =
        std::process::Command::new("du").args(["-s", "-c", "-B1"]).args(&paths).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let total: u64 =
        text.lines().last().unwrap().split_whitespace().next().unwrap().parse().unwrap();
    assert_eq!(r.disk_usage, total);
}

#[test]
fn both_namespaces_removed_free_the_blobs_they_share() {
    let (_dir, archive, r) = report();
    let tiny: ocisize::Digest = TINY.parse().unwrap();
    // Each copy alone frees its `frees`.
    for s in &r.stores {
        let at = StoreRef { path: s.path.clone(), namespace: s.namespace.clone() };
        for i in &s.images {
            assert_eq!(r.freed([(&at, &i.image_id)]), i.frees, "{:?} {}", s.namespace, i.image_id);
        }
    }
    // Keep the archive's copy: removing tiny from both namespaces frees both namespaces'
    // snapshots and the blobs only they shared, its images.Size (`ctr images ls`: the
    // skopeo archive's manifest, config and gzip layers).
    let k = from_stores(r.stores.clone(), Some(&Keep::Path(archive))).unwrap();
    let d = &k.duplicates[0];
    let copies: Vec<_> =
        d.copies.iter().map(|c| (c.namespace.as_deref(), c.frees, c.kept)).collect();
    assert_eq!(
        copies,
        [
            (Some("default"), 2_437_120, false),
            (Some("ocisize-many"), 2_437_120, false),
            (None, 1_167_360, true)
        ]
    );
    let size = r.stores[0].images.iter().find(|i| i.image_id == tiny).unwrap().size;
    assert_eq!(size, 1_158_417);
    assert_eq!(d.reclaimable_together, 2 * 2_437_120 + 1_158_417);
    assert_eq!(d.reclaimable, 2 * 2_437_120, "Σ frees: each namespace alone keeps the blobs");
    assert_eq!(k.reclaimable_together, d.reclaimable_together);
    assert_eq!(k.reclaimable, d.reclaimable);
    eprintln!(
        "kept the archive: reclaimable together {} (Σ frees {})",
        k.reclaimable_together, k.reclaimable
    );
}

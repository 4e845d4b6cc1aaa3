//! containerd 1.6.20's databases (testdata/bbolt, made by make.sh) decoded, checked against
//! what ctr printed for the same state (figures.json).
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use ocisize_containerd::{Error, Kind, MetaDb, Metadata, Snapshot, SnapshotDb, Timestamp};
use serde_json::Value as Json;

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(rel)
}

fn figures() -> Json {
    serde_json::from_str(&std::fs::read_to_string(testdata("bbolt/figures.json")).unwrap()).unwrap()
}

fn metadata() -> Metadata {
    MetaDb::open(testdata("bbolt/meta.db")).unwrap().read().unwrap()
}

fn snapshots() -> BTreeMap<String, Snapshot> {
    SnapshotDb::open(testdata("bbolt/metadata.db")).unwrap().by_key().unwrap()
}

fn string_map(j: &Json) -> BTreeMap<String, String> {
    j.as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn namespaces_and_schema_version() {
    let meta = metadata();
    let names: Vec<&str> = meta.namespaces.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["default", "k8s.io", "ocisize-many"]);
    assert_eq!(meta.schema_version, Some(3), "containerd 1.6's metadata/db.go dbVersion");
    let db = MetaDb::open(testdata("bbolt/meta.db")).unwrap();
    assert_eq!(db.namespace_names().unwrap(), names);
    assert!(db.namespace("nope").unwrap().is_none());
}

#[test]
fn images_match_ctr_images_ls() {
    let fig = figures();
    let meta = metadata();
    for ns in &meta.namespaces {
        let ctr = fig["namespaces"][&ns.name]["images_ls"].as_array().unwrap();
        assert_eq!(ns.images.len(), ctr.len(), "{}", ns.name);
        let by_name: BTreeMap<&str, &Json> =
            ctr.iter().map(|r| (r["ref"].as_str().unwrap(), r)).collect();
        for image in &ns.images {
            let row = by_name[image.name.as_str()];
            assert_eq!(image.target.digest.to_string(), row["digest"].as_str().unwrap());
            assert_eq!(image.target.media_type, row["type"].as_str().unwrap());
            // The target is the manifest blob: its size is the blob's size in the store.
            let stored = &fig["content_store_sizes"][image.target.digest.to_string()];
            assert_eq!(Some(image.target.size), stored.as_u64(), "{}", image.name);
            // skopeo's index names the image "latest"; ctr images tag copies the target.
            let ref_name = ("org.opencontainers.image.ref.name".to_string(), "latest".to_string());
            assert_eq!(image.target.annotations, BTreeMap::from([ref_name]), "{}", image.name);
            let (created, updated) = (image.created.unwrap(), image.updated.unwrap());
            assert!(created <= updated, "{}", image.name);
            // figures.json keeps the 3,000-byte labels' length only.
            let keys: Vec<&String> = image.labels.keys().collect();
            let printed: Vec<&String> = row["labels"].as_object().unwrap().keys().collect();
            assert_eq!(keys, printed, "{}", image.name);
            if image.labels.values().all(|v| v.len() < 100) {
                assert_eq!(image.labels, string_map(&row["labels"]));
            }
        }
    }
    let default = &meta.namespaces[0].images[0];
    assert_eq!(default.labels, BTreeMap::from([("ocisize.test".into(), "fixture".into())]));
    assert!(default.created.unwrap() < default.updated.unwrap(), "labelled after the import");
    let many = &meta.namespaces[2].images;
    let latest = many.iter().find(|i| i.name == "docker.io/ocisize/tiny:latest").unwrap();
    assert_eq!(latest.labels.len(), 3);
    assert!(latest.labels.values().all(|v| v.len() == 3000 && v.bytes().all(|b| b == b'x')));
}

#[test]
fn content_matches_ctr_content_ls_and_the_store() {
    let fig = figures();
    let meta = metadata();
    for ns in &meta.namespaces {
        let ctr = fig["namespaces"][&ns.name]["content_ls"].as_array().unwrap();
        let want: BTreeMap<&str, BTreeMap<String, String>> =
            ctr.iter().map(|r| (r["digest"].as_str().unwrap(), string_map(&r["labels"]))).collect();
        let mut digests = BTreeSet::new();
        for blob in &ns.content {
            let d = blob.digest.to_string();
            assert_eq!(&blob.labels, &want[d.as_str()], "{} {d}", ns.name);
            assert_eq!(Some(blob.size), fig["content_store_sizes"][&d].as_u64(), "{d}");
            assert!(blob.created.unwrap() <= blob.updated.unwrap());
            digests.insert(d);
        }
        assert_eq!(
            digests.iter().map(String::as_str).collect::<Vec<_>>(),
            want.keys().cloned().collect::<Vec<_>>()
        );
        // Every gc.ref.content label of the manifest names a blob of the namespace, and
        // every layer has its diffID label.
        let manifest = ns.content.iter().find(|b| b.digest == ns.images[0].target.digest).unwrap();
        let refs: Vec<(&str, &str)> = manifest.gc_refs().collect();
        assert!(refs.len() >= 4, "{refs:?}");
        for (kind, target) in refs {
            assert!(kind.starts_with("content."), "{kind}");
            let blob = ns.content.iter().find(|b| b.digest.to_string() == target).unwrap();
            if kind.starts_with("content.l.") {
                assert!(blob.uncompressed().unwrap().is_ok(), "{target}");
            }
        }
    }
}

#[test]
fn snapshots_match_ctr_snapshots_info_and_usage() {
    let fig = figures();
    let meta = metadata();
    let backend = snapshots();
    let mut joined = 0;
    for ns in &meta.namespaces {
        let info = fig["namespaces"][&ns.name]["snapshots_info"].as_array().unwrap();
        let usage = &fig["namespaces"][&ns.name]["snapshots_usage_bytes"];
        assert_eq!(ns.snapshots.len(), info.len(), "{}", ns.name);
        for (r, ctr) in ns.snapshots.iter().zip(info) {
            assert_eq!(r.snapshotter, "overlayfs");
            assert_eq!(r.key, ctr["key"].as_str().unwrap());
            assert_eq!(r.parent.as_deref().unwrap_or(""), ctr["parent"].as_str().unwrap());
            assert_eq!(r.labels, string_map(&ctr["labels"]), "{}", r.key);
            assert_eq!(r.created.unwrap().to_string(), ctr["created"].as_str().unwrap());
            assert_eq!(r.updated.unwrap().to_string(), ctr["updated"].as_str().unwrap());
            for child in &r.children {
                let c = ns.snapshots.iter().find(|s| &s.key == child).unwrap();
                assert_eq!(c.parent.as_ref(), Some(&r.key));
            }
            // The snapshotter's record: same key in the namespace, the kind ctr printed, the
            // parent's backend key, and for a committed snapshot the usage ctr printed.
            let s = &backend[&r.backend_key];
            assert_eq!((s.namespace(), s.name()), (Some(ns.name.as_str()), Some(r.key.as_str())));
            assert_eq!(s.kind.to_string(), ctr["kind"].as_str().unwrap(), "{}", r.key);
            let parent_backend = r
                .parent
                .as_ref()
                .map(|p| ns.snapshots.iter().find(|x| &x.key == p).unwrap().backend_key.clone());
            assert_eq!(s.parent, parent_backend);
            let printed = &usage[&r.key];
            match s.kind {
                Kind::Committed => {
                    let u = s.usage.unwrap();
                    assert_eq!(Some(u.size), printed["size"].as_u64(), "{}", r.key);
                    assert_eq!(Some(u.inodes), printed["inodes"].as_u64(), "{}", r.key);
                }
                // Measured by ctr on the live directory, never stored.
                Kind::Active | Kind::View => assert_eq!(s.usage, None),
                k => panic!("{k:?}"),
            }
            joined += 1;
        }
    }
    assert_eq!(joined, backend.len(), "every snapshot of the snapshotter is some namespace's");
    let ids: BTreeSet<u64> = backend.values().map(|s| s.id).collect();
    assert_eq!(ids.len(), backend.len(), "ids are unique");
}

#[test]
fn leases_match_ctr_leases_ls() {
    let fig = figures();
    for ns in metadata().namespaces {
        let ctr = fig["namespaces"][&ns.name]["leases_ls"].as_array().unwrap();
        assert_eq!(ns.leases.len(), ctr.len());
        for (l, row) in ns.leases.iter().zip(ctr) {
            assert_eq!(l.id, row["id"].as_str().unwrap());
            assert_eq!(l.labels, string_map(&row["labels"]));
            // ctr prints time.RFC3339, whole seconds.
            let seconds = Timestamp { nanos: 0, ..l.created.unwrap() };
            assert_eq!(seconds.to_string(), row["created_at"].as_str().unwrap());
            assert!(l.content.is_empty() && l.snapshots.is_empty() && l.ingests.is_empty());
        }
    }
}

#[test]
fn a_bad_stored_value_names_its_key() {
    // The default image's target digest, made uppercase in every copy of the page that
    // holds it (same length, so the bbolt structure is intact).
    let meta = metadata();
    let digest = meta.namespaces[0].images[0].target.digest.to_string();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let mut file = std::fs::read(testdata("bbolt/meta.db")).unwrap();
    let upper = digest.to_uppercase().replace("SHA256", "sha256");
    let mut at = 0;
    while let Some(i) = file[at..].windows(digest.len()).position(|w| w == digest.as_bytes()) {
        file[at + i..at + i + digest.len()].copy_from_slice(upper.as_bytes());
        at += i + digest.len();
    }
    std::fs::write(&path, &file).unwrap();
    let db = MetaDb::open(&path).unwrap();
    match db.namespace("default").unwrap_err() {
        Error::Decode { path: p, key, reason } => {
            assert_eq!(p, path);
            assert_eq!(key, "v1/default/images/docker.io/ocisize/tiny:latest/target/digest");
            assert!(reason.to_string().contains("digest"), "{reason}");
        }
        e => panic!("{e}"),
    }
    // A truncated file: the bbolt error, naming the file.
    std::fs::write(&path, &file[..3 * 4096]).unwrap();
    let e = MetaDb::open(&path).unwrap().read().unwrap_err();
    assert!(matches!(e, Error::Bbolt(ocisize_bbolt::Error::Corrupt { .. })), "{e}");
    assert!(e.to_string().contains("meta.db"), "{e}");
}

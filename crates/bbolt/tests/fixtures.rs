//! Facts read from the databases containerd 1.6.20 wrote (testdata/bbolt, made by make.sh),
//! checked against what ctr printed (figures.json) and the corpus's reference figures.
#![allow(clippy::unwrap_used)]

mod common;

use common::{figures, open_and_walk_in_order, testdata};
use ocisize_bbolt::{Db, Value};

fn names(bucket: &ocisize_bbolt::Bucket<'_>) -> Vec<String> {
    bucket.iter().map(|e| String::from_utf8(e.unwrap().0).unwrap()).collect()
}

#[test]
fn meta_db_opens_at_the_newest_meta_page() {
    let db = Db::open(testdata("bbolt/meta.db")).unwrap();
    assert_eq!(db.page_size(), 4096);
    let file = std::fs::read(testdata("bbolt/meta.db")).unwrap();
    let (t0, t1) = (common::meta_txid(&file, 4096, 0), common::meta_txid(&file, 4096, 1));
    let tx = db.begin().unwrap();
    assert_eq!(tx.txid(), t0.max(t1));
    assert_eq!(tx.meta_page(), if t0 > t1 { 0 } else { 1 });
    assert!(tx.is_current().unwrap());
}

#[test]
fn namespaces_and_schema_version() {
    let db = Db::open(testdata("bbolt/meta.db")).unwrap();
    let tx = db.begin().unwrap();
    let v1 = tx.bucket(&["v1"]).unwrap().unwrap();
    let mut buckets = Vec::new();
    for entry in v1.iter() {
        let (k, v) = entry.unwrap();
        match v {
            Value::Bucket(_) => buckets.push(String::from_utf8(k).unwrap()),
            // containerd's metadata/db.go: v1/version = varint(dbVersion).
            Value::Data(d) => assert_eq!((k.as_slice(), d.as_slice()), (&b"version"[..], &[6][..])),
        }
    }
    assert_eq!(buckets, ["default", "k8s.io", "ocisize-many"]);
    assert!(tx.bucket(&["v1", "nope"]).unwrap().is_none());
    assert!(tx.bucket(&["v1", "version"]).unwrap().is_none(), "a value is not a bucket");
    assert_eq!(v1.get(b"version").unwrap(), Some(vec![6]));
    assert_eq!(v1.get(b"default").unwrap(), None, "a bucket is not a value");
}

#[test]
fn image_names_and_targets_match_ctr_and_the_corpus() {
    let fig = figures();
    let reference: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(testdata("corpus/reference.json")).unwrap())
            .unwrap();
    let db = Db::open(testdata("bbolt/meta.db")).unwrap();
    for (ns, corpus) in
        [("default", "tiny.skopeo.oci-archive.tar"), ("k8s.io", "debslice.skopeo.oci-archive.tar")]
    {
        let ctr = &fig["namespaces"][ns]["images_ls"];
        let row = &reference["items"][corpus]["containerd"]["images_ls"]["value"]["rows"][0];
        db.view(|tx| {
            let images = tx.bucket(&["v1", ns, "images"])?.unwrap();
            assert_eq!(names(&images), [ctr[0]["ref"].as_str().unwrap()]);
            assert_eq!(ctr[0]["ref"], row["REF"]);
            let name = ctr[0]["ref"].as_str().unwrap().as_bytes();
            let target = images.bucket(name)?.unwrap().bucket(b"target")?.unwrap();
            let digest = String::from_utf8(target.get(b"digest")?.unwrap()).unwrap();
            assert_eq!(digest, ctr[0]["digest"].as_str().unwrap(), "{ns}: ctr images ls");
            assert_eq!(digest, row["DIGEST"].as_str().unwrap(), "{ns}: corpus reference");
            let media_type = target.get(b"mediatype")?.unwrap();
            assert_eq!(media_type, ctr[0]["type"].as_str().unwrap().as_bytes());
            Ok::<_, ocisize_bbolt::Error>(())
        })
        .unwrap();
    }
}

#[test]
fn a_branch_page_and_an_overflow_page() {
    // ocisize-many: 201 images (a multi-page tree), and a labels bucket of three
    // 3,000-byte values (one leaf spanning three pages).
    let fig = figures();
    let ctr: Vec<&str> = fig["namespaces"]["ocisize-many"]["images_ls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["ref"].as_str().unwrap())
        .collect();
    assert_eq!(ctr.len(), 201);
    let db = Db::open(testdata("bbolt/meta.db")).unwrap();
    let tx = db.begin().unwrap();
    let images = tx.bucket(&["v1", "ocisize-many", "images"]).unwrap().unwrap();
    let file = std::fs::read(testdata("bbolt/meta.db")).unwrap();
    let header = |page: u64| {
        let at = page as usize * 4096;
        let flags = u16::from_le_bytes(file[at + 8..at + 10].try_into().unwrap());
        let overflow = u32::from_le_bytes(file[at + 12..at + 16].try_into().unwrap());
        (flags, overflow)
    };
    assert_eq!(header(images.root_page().unwrap()).0, 0x01, "a branch page");
    let mut sorted = ctr.clone();
    sorted.sort_unstable();
    assert_eq!(names(&images), sorted);
    // Every name found by lookup (a descent through the branch page), and no other.
    for name in &ctr {
        assert!(images.bucket(name.as_bytes()).unwrap().is_some(), "{name}");
    }
    for missing in ["", "docker.io/ocisize/tiny:tag000", "docker.io/ocisize/tiny:tag2000", "~"] {
        assert!(images.entry(missing.as_bytes()).unwrap().is_none(), "{missing}");
    }
    let labels = images
        .bucket(b"docker.io/ocisize/tiny:latest")
        .unwrap()
        .unwrap()
        .bucket(b"labels")
        .unwrap()
        .unwrap();
    assert_eq!(header(labels.root_page().unwrap()), (0x02, 2), "a leaf page of 3 pages");
    for i in 1..=3 {
        let v = labels.get(format!("ocisize.big.{i}").as_bytes()).unwrap().unwrap();
        assert_eq!(v, vec![b'x'; 3000]);
    }
}

#[test]
fn snapshotter_metadata_db_keys_and_parents() {
    let db = Db::open(testdata("bbolt/metadata.db")).unwrap();
    let tx = db.begin().unwrap();
    let snapshots = tx.bucket(&["v1", "snapshots"]).unwrap().unwrap();
    let keys = names(&snapshots);
    // Each namespace's snapshot is stored under "<namespace>/<sequence>/<key>"
    // (containerd metadata/snapshot.go, createKey), and its parent under the parent's.
    let fig = figures();
    for ns in ["default", "k8s.io", "ocisize-many"] {
        for s in fig["namespaces"][ns]["snapshots_info"].as_array().unwrap() {
            let key = s["key"].as_str().unwrap();
            let found: Vec<&String> = keys
                .iter()
                .filter(|k| k.starts_with(&format!("{ns}/")) && k.ends_with(key))
                .collect();
            assert_eq!(found.len(), 1, "{ns} {key} in {keys:?}");
            let b = snapshots.bucket(found[0].as_bytes()).unwrap().unwrap();
            let parent = String::from_utf8(b.get(b"parent").unwrap().unwrap_or_default()).unwrap();
            match s["parent"].as_str().unwrap() {
                "" => assert_eq!(parent, ""),
                want => assert!(
                    parent.starts_with(&format!("{ns}/")) && parent.ends_with(&format!("/{want}")),
                    "{ns} {key}: parent {parent}"
                ),
            }
        }
    }
    assert_eq!(snapshots.sequence(), keys.len() as u64, "one id per snapshot, none removed");
}

#[test]
fn every_bucket_of_both_files_walks_in_key_order() {
    let n = open_and_walk_in_order(&testdata("bbolt/meta.db")).unwrap();
    assert!(n > 1000, "{n} entries");
    let n = open_and_walk_in_order(&testdata("bbolt/metadata.db")).unwrap();
    assert!(n > 50, "{n} entries");
}

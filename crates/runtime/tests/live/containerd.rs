//! containerd 1.6.20 (the testkit's [`Containerd`]): images imported into two namespaces,
//! `ctr`'s figures against what ocisize-runtime reads from the root while containerd runs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ocisize_digest::Digest;
use ocisize_runtime::{RuntimeImage, RuntimeStore};
use ocisize_testkit::daemons::{du_b1, run, Containerd};

/// `images.Size` computed from what `ctr content get` returns: the target, the
/// linux/amd64 manifest of an index, config and layers; and the blobs walked.
fn size_by_ctr(c: &Containerd, ns: &str, digest: &str) -> (u64, Vec<(String, u64)>) {
    let bytes = c.content(ns, digest);
    let mut blobs = vec![(digest.to_owned(), bytes.len() as u64)];
    let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    if let Some(list) = doc["manifests"].as_array() {
        let m = list
            .iter()
            .find(|m| m["platform"]["os"] == "linux" && m["platform"]["architecture"] == "amd64")
            .expect("an amd64 manifest");
        let (_, inner) = size_by_ctr(c, ns, m["digest"].as_str().expect("digest"));
        blobs.extend(inner);
    } else {
        for d in std::iter::once(&doc["config"]).chain(doc["layers"].as_array().expect("layers")) {
            blobs.push((
                d["digest"].as_str().expect("digest").to_owned(),
                d["size"].as_u64().expect("size"),
            ));
        }
    }
    (blobs.iter().map(|b| b.1).sum(), blobs)
}

/// `ctr images ls` rows: (ref, digest, printed size).
fn images_ls(c: &Containerd, ns: &str) -> Vec<(String, String, String)> {
    let out = run(c.ctr(ns).args(["images", "ls"]));
    out.lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_owned(), f[2].to_owned(), format!("{} {}", f[3], f[4]))
        })
        .collect()
}

/// Every image of the namespace store `store` against `ctr`: the size `ctr images ls` prints
/// and the exact `images.Size` of what `ctr content get` returns, the unpacked size against
/// `ctr snapshots usage -b`, shared + unique, the namespace total and `du -B1`.
pub fn check(
    c: &Containerd,
    store: &RuntimeStore,
    ids: &BTreeMap<String, u64>,
) -> BTreeMap<Digest, Vec<Digest>> {
    let ns = store.namespace.as_deref().expect("a namespace");
    assert!(store.problems.is_empty(), "{ns}: {:?}", store.problems);
    let usage = c.usage(ns);
    let rows = images_ls(c, ns);
    let mut distinct_blobs: BTreeMap<String, u64> = BTreeMap::new();
    let mut distinct_snaps: BTreeMap<String, u64> = BTreeMap::new();
    let mut chains = BTreeMap::new();
    let mut seen = BTreeSet::new();
    for (name, digest, printed) in &rows {
        let bare = name.starts_with("sha256:");
        let image: &RuntimeImage = if bare {
            let id: Digest = name.parse().expect("digest");
            assert!(store.images.iter().all(|i| i.names.iter().all(|n| n.to_string() != *name)));
            store.images.iter().find(|i| i.image_id == id).expect("the CRI-style record's image")
        } else {
            store
                .images
                .iter()
                .find(|i| i.names.iter().any(|n| n.to_string() == *name))
                .expect("the image")
        };
        let (exact, blobs) = size_by_ctr(c, ns, digest);
        eprintln!(
            "containerd {ns} {name}: ctr images ls {printed}, images.Size {exact}, unpacked {:?}",
            image.unpacked_size
        );
        // An image's figures are its first record's (ctr lists records by name).
        if !seen.contains(&image.image_id) {
            assert_eq!(image.size, exact, "images.Size of {name}");
            assert_eq!(ocisize_units::ctr(image.size), *printed, "ctr images ls SIZE of {name}");
        }
        distinct_blobs.extend(blobs);
        if seen.insert(image.image_id) {
            let mut unpacked = 0;
            for chain in &image.chain_ids {
                let n = usage[&chain.to_string()];
                unpacked += n;
                distinct_snaps.insert(chain.to_string(), n);
            }
            assert_eq!(image.unpacked_size, Some(unpacked), "unpacked size of {name}");
            assert_eq!(image.shared_size + image.unique_size, image.size + unpacked, "{name}");
            chains.insert(image.image_id, image.chain_ids.clone());
        }
    }
    assert_eq!(seen.len(), store.images.len(), "{ns}: every image has a ctr images ls row");
    let total: u64 = distinct_blobs.values().sum::<u64>() + distinct_snaps.values().sum::<u64>();
    eprintln!("containerd {ns} total {total}, {:?} on disk", store.disk_usage);
    assert_eq!(store.size, total, "{ns} total");
    let content = c.root.join("io.containerd.content.v1.content/blobs/sha256");
    let snapshots = c.root.join("io.containerd.snapshotter.v1.overlayfs/snapshots");
    let mut paths: Vec<PathBuf> =
        distinct_blobs.keys().map(|d| content.join(d.trim_start_matches("sha256:"))).collect();
    paths.extend(
        distinct_snaps.keys().map(|k| snapshots.join(ids[&format!("{ns}/{k}")].to_string())),
    );
    assert_eq!(store.disk_usage, Some(du_b1(&paths)), "{ns} du -B1");
    chains
}

/// Snapshot ids by `<namespace>/<key>`, from the snapshotter's database.
pub fn snapshot_ids(c: &Containerd) -> BTreeMap<String, u64> {
    let db = ocisize_containerd::SnapshotDb::open(c.snapshot_db()).expect("metadata.db");
    db.snapshots()
        .expect("snapshots")
        .into_iter()
        .filter_map(|s| {
            let mut parts = s.key.splitn(3, '/');
            let (ns, _, key) = (parts.next()?, parts.next()?, parts.next()?);
            Some((format!("{ns}/{key}"), s.id))
        })
        .collect()
}

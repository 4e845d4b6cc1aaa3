//! A containerd root assembled from the databases containerd 1.6.20 wrote
//! (`testdata/bbolt`, with `figures.json`, what ctr printed for them) and the blobs of the
//! corpus archives it had imported (the content store itself was not kept): no daemon
//! needed, the figures checked against ctr's.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ocisize_runtime::{open, Kind, Options, RuntimeStore};
use ocisize_source::Source;

fn testdata(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata").join(p)
}

/// `blobs/sha256/*` of an OCI archive into `content`.
fn unpack_blobs(archive: &Path, content: &Path) {
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().into_owned();
        if let Ok(rest) = path.strip_prefix("blobs/sha256") {
            if entry.header().entry_type().is_file() {
                entry.unpack(content.join("sha256").join(rest)).unwrap();
            }
        }
    }
}

fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("containerd");
    let meta = root.join("io.containerd.metadata.v1.bolt");
    let snap = root.join("io.containerd.snapshotter.v1.overlayfs");
    let content = root.join("io.containerd.content.v1.content/blobs");
    for d in [&meta, &snap, &content.join("sha256")] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(testdata("bbolt/meta.db"), meta.join("meta.db")).unwrap();
    std::fs::copy(testdata("bbolt/metadata.db"), snap.join("metadata.db")).unwrap();
    for a in ["tiny.skopeo.oci-archive.tar", "debslice.skopeo.oci-archive.tar"] {
        unpack_blobs(&testdata(&format!("corpus/{a}")), &content);
    }
    (dir, root)
}

fn figures() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(testdata("bbolt/figures.json")).unwrap()).unwrap()
}

/// `images.Size` from the blob sizes ctr listed: manifest, config, layers.
fn size_from_ctr(root: &Path, manifest: &str, sizes: &serde_json::Value) -> u64 {
    let hex = manifest.trim_start_matches("sha256:");
    let path = root.join("io.containerd.content.v1.content/blobs/sha256").join(hex);
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut total = sizes[manifest].as_u64().unwrap();
    for d in std::iter::once(&m["config"]).chain(m["layers"].as_array().unwrap()) {
        total += sizes[d["digest"].as_str().unwrap()].as_u64().unwrap();
    }
    total
}

#[test]
fn every_namespace_matches_what_ctr_printed() {
    let (_dir, root) = root();
    let fig = figures();
    let stores = open(Kind::Containerd, &root, &Options::default()).unwrap();
    common::check_units(&stores, |_| root.clone());
    let by_ns: BTreeMap<&str, &RuntimeStore> =
        stores.iter().map(|s| (s.namespace.as_deref().unwrap(), s)).collect();
    assert_eq!(by_ns.keys().copied().collect::<Vec<_>>(), ["default", "k8s.io", "ocisize-many"]);
    let sizes = &fig["content_store_sizes"];
    for (ns, store) in &by_ns {
        let f = &fig["namespaces"][*ns];
        assert!(store.problems.is_empty(), "{ns}: {:?}", store.problems);
        assert_eq!(store.images.len(), 1, "{ns}: one image, however many names");
        let image = &store.images[0];
        let rows = f["images_ls"].as_array().unwrap();
        assert_eq!(image.names.len(), rows.len(), "{ns}: every record is a name");
        let row = &rows[0];
        assert_eq!(image.names[0].to_string(), row["ref"].as_str().unwrap());
        let exact = size_from_ctr(&root, row["digest"].as_str().unwrap(), sizes);
        assert_eq!(image.size, exact, "{ns}");
        assert_eq!(ocisize_units::ctr(image.size), row["size_printed"].as_str().unwrap());
        let usage = &f["snapshots_usage_bytes"];
        let unpacked: u64 =
            image.chain_ids.iter().map(|c| usage[c.to_string()]["size"].as_u64().unwrap()).sum();
        assert_eq!(image.unpacked_size, Some(unpacked), "{ns}");
        // The only image of its namespace: nothing shared, all unique.
        assert_eq!((image.shared_size, image.unique_size), (0, exact + unpacked), "{ns}");
        assert_eq!(store.size, exact + unpacked, "{ns}");
        // The blob files only (the snapshots' directories were not kept).
        let blobs = root.join("io.containerd.content.v1.content/blobs/sha256");
        let mut du = ocisize_runtime::du::DiskUsage::new();
        let manifest: serde_json::Value = serde_json::from_slice(
            &std::fs::read(
                blobs.join(row["digest"].as_str().unwrap().trim_start_matches("sha256:")),
            )
            .unwrap(),
        )
        .unwrap();
        du.add(&blobs.join(row["digest"].as_str().unwrap().trim_start_matches("sha256:"))).unwrap();
        for d in std::iter::once(&manifest["config"]).chain(manifest["layers"].as_array().unwrap())
        {
            du.add(&blobs.join(d["digest"].as_str().unwrap().trim_start_matches("sha256:")))
                .unwrap();
        }
        assert_eq!(store.disk_usage, Some(du.bytes()), "{ns}");
    }
    // tiny is in `default` and in `ocisize-many`: removing it from one frees only its
    // snapshots there (the blob files serve both); debslice is in `k8s.io` only.
    let tiny = &by_ns["default"].images[0];
    assert_eq!(tiny.frees, tiny.unpacked_size.unwrap());
    let debslice = &by_ns["k8s.io"].images[0];
    assert_eq!(debslice.frees, debslice.size + debslice.unpacked_size.unwrap());
    assert_eq!(by_ns["ocisize-many"].images[0].names.len(), 201);
}

#[test]
fn a_missing_blob_and_a_missing_snapshotter_are_reported_not_guessed() {
    let (_dir, root) = root();
    let fig = figures();
    let manifest = fig["namespaces"]["k8s.io"]["images_ls"][0]["digest"].as_str().unwrap();
    let blobs = root.join("io.containerd.content.v1.content/blobs/sha256");
    std::fs::remove_file(blobs.join(manifest.trim_start_matches("sha256:"))).unwrap();
    std::fs::remove_dir_all(root.join("io.containerd.snapshotter.v1.overlayfs")).unwrap();
    let stores = open(Kind::Containerd, &root, &Options::default()).unwrap();
    common::check_units(&stores, |_| root.clone());
    let k8s = stores.iter().find(|s| s.namespace.as_deref() == Some("k8s.io")).unwrap();
    let image = &k8s.images[0];
    // ctr images ls prints the target's size alone when its manifest cannot be read.
    assert_eq!(image.size, fig["content_store_sizes"][manifest].as_u64().unwrap());
    assert_eq!(image.unpacked_size, None);
    assert!(image.chain_ids.is_empty());
    assert!(
        matches!(&k8s.problems[..], [ocisize_runtime::Problem::BlobUnreadable { digest, .. }]
            if digest.to_string() == manifest),
        "{:?}",
        k8s.problems
    );
    let default = stores.iter().find(|s| s.namespace.as_deref() == Some("default")).unwrap();
    assert_eq!(default.images[0].unpacked_size, None, "no snapshotter database: not unpacked");
    assert!(default.problems.is_empty());
}

#[test]
fn a_namespace_is_a_source_the_walk_reads() {
    let (_dir, root) = root();
    let options = ocisize_source::ScanOptions::default();
    let source = ocisize_runtime::ContainerdSource::open(&root, "k8s.io", &options).unwrap();
    let graph = ocisize_source::walk(&source, &options.limits);
    assert!(graph.problems.as_slice().is_empty(), "{:?}", graph.problems);
    assert_eq!(graph.images.len(), 1);
    let stores = open(Kind::Containerd, &root, &Options::default()).unwrap();
    let k8s = stores.iter().find(|s| s.namespace.as_deref() == Some("k8s.io")).unwrap();
    assert_eq!(graph.images[0].layers.len(), k8s.images[0].chain_ids.len());
    // Every blob of the image verifies against its descriptor, read from the content store.
    let mut problems = ocisize_source::Problems::default();
    let image = &graph.images[0];
    for b in image.layers.iter().chain(image.config.iter()) {
        assert!(
            ocisize_source::verify::check(source.catalog(), b, "layer", &mut problems).is_some()
        );
    }
    assert!(problems.as_slice().is_empty(), "{problems:?}");
    let many = ocisize_runtime::ContainerdSource::open(&root, "ocisize-many", &options).unwrap();
    let graph = ocisize_source::walk(&many, &options.limits);
    // One root per record, as an index.json lists one manifest under several names.
    assert_eq!(graph.images.len(), 201);
    let configs: std::collections::BTreeSet<_> =
        graph.images.iter().map(|i| i.config.as_ref().unwrap().member.clone()).collect();
    assert_eq!(configs.len(), 1, "one config");
    assert!(graph.images.iter().all(|i| i.names.len() == 1));
}

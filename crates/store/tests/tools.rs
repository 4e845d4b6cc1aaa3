//! Real tools read the store as it is: a corpus image copied in blob by blob through the
//! writer (walking its index, manifests, configs and layers with ocisize-spec), then
//! `skopeo inspect` and `umoci ls` run on the store.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::path::Path;

use common::name;
use ocisize_digest::Digest;
use ocisize_spec::{annotation, parse_manifest_document, Descriptor, ManifestDocument};
use ocisize_store::Store;
use ocisize_testkit::daemons;

/// Copy one blob of an OCI layout through the writer, the layout path as the ingest ref.
fn copy_blob(store: &Store, layout: &Path, d: &Descriptor) {
    let rel = format!("blobs/{}/{}", d.digest.algorithm(), d.digest.hex());
    let mut w =
        store.writer(&format!("{}/{rel}", layout.display()), Some((d.digest, d.size))).unwrap();
    std::io::copy(&mut File::open(layout.join(&rel)).unwrap(), &mut w).unwrap();
    w.commit(None).unwrap();
}

/// Import every image of an OCI layout; each `ref.name` tag `t` becomes `repo:t`. Returns
/// (name, manifest digest, layer digests).
fn import(store: &Store, layout: &Path, repo: &str) -> Vec<(String, Digest, Vec<Digest>)> {
    let bytes = std::fs::read(layout.join("index.json")).unwrap();
    let index = ocisize_spec::parse_layout_index(&bytes, &Default::default()).unwrap();
    let mut names = Vec::new();
    let mut imported = Vec::new();
    for m in &index.manifests {
        let raw = std::fs::read(layout.join("blobs/sha256").join(m.digest.hex())).unwrap();
        let ManifestDocument::Image(manifest) = parse_manifest_document(&raw).unwrap() else {
            panic!("the corpus layout lists manifests only");
        };
        copy_blob(store, layout, &manifest.config);
        for l in &manifest.layers {
            copy_blob(store, layout, l);
        }
        copy_blob(store, layout, m);
        let tag = m.annotation(annotation::REF_NAME).unwrap();
        let n = name(&format!("{repo}:{tag}"));
        let mut d = m.clone();
        d.annotations.clear();
        imported.push((
            n.normalized(),
            m.digest,
            manifest.layers.iter().map(|l| l.digest).collect(),
        ));
        names.push((n, d));
    }
    store.set_names(&names).unwrap();
    imported
}

/// `tool ARGS`, isolated (testkit's `isolated`: as root, skopeo keeps a blob-info cache in
/// /var/lib/containers, which must stay untouched).
fn run(tool: &str, args: &[&str]) -> String {
    daemons::run(&mut daemons::isolated(tool, args))
}

#[test]
fn skopeo_and_umoci_read_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("store")).unwrap();
    let layout = ocisize_testkit::corpus("tiny.umoci.oci");
    let imported = import(&store, &layout, "docker.io/ocisize/tiny");
    assert_eq!(imported.len(), 2);
    let fsck = store.fsck_blobs().unwrap();
    assert!(fsck.is_clean(), "{fsck:?}");
    let root = store.root().to_str().unwrap();

    for (n, manifest, layers) in &imported {
        let out = run("skopeo", &["inspect", &format!("oci:{root}:{n}")]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Digest"], manifest.to_string(), "{out}");
        let listed: Vec<String> = v["Layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap().to_owned())
            .collect();
        let want: Vec<String> = layers.iter().map(Digest::to_string).collect();
        assert_eq!(listed, want, "{out}");
        // The manifest skopeo reads is byte for byte the blob.
        let raw = run("skopeo", &["inspect", "--raw", &format!("oci:{root}:{n}")]);
        assert_eq!(ocisize_digest::Digest::of(manifest.algorithm(), raw.as_bytes()), *manifest);
    }

    let out = run("umoci", &["ls", "--layout", root]);
    let mut listed: Vec<&str> = out.lines().collect();
    listed.sort_unstable();
    assert_eq!(listed, ["docker.io/ocisize/tiny:arm64", "docker.io/ocisize/tiny:latest"], "{out}");
    // umoci's own check of the layout's blobs and references finds nothing wrong.
    run("umoci", &["stat", "--image", &format!("{root}:docker.io/ocisize/tiny:latest")]);
}

#[test]
fn podman_pulls_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("store")).unwrap();
    let imported =
        import(&store, &ocisize_testkit::corpus("tiny.umoci.oci"), "docker.io/ocisize/tiny");
    let (n, manifest, _) = &imported[0];
    // podman keeps its storage under the test's directory, isolated (testkit's `Podman`).
    let work = daemons::Work::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "store-podman");
    let p = daemons::Podman::new(&work, "vfs");
    // podman 4.3 names an image pulled from oci: after the layout's path, which must then be
    // a valid repository name (lowercase): give it the relative path `store`.
    let source = format!("oci:store:{n}");
    daemons::run(p.podman(["pull", "-q", &source]).current_dir(dir.path()));
    let format = "{{.Digest}} {{.ID}}";
    let out = daemons::run(&mut p.podman(["images", "--no-trunc", "--format", format]));
    // podman lists the image by the manifest's digest and the config's digest as its ID.
    let config = "sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c";
    assert_eq!(out.trim(), format!("{manifest} {config}"), "{out}");
}

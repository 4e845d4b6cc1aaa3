//! Names in index.json.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;

use common::{bytes, name, sha256, write_blob};
use ocisize_spec::{annotation, media_type};
use ocisize_store::{Store, StoreError};

#[test]
fn names_are_set_replaced_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let a = write_blob(&store, "a", &bytes(1, 300), 300);
    let b = write_blob(&store, "b", &bytes(2, 400), 400);
    let da = a.descriptor(media_type::OCI_MANIFEST);
    let db = b.descriptor(media_type::OCI_MANIFEST);
    store.set_names(&[(name("x"), da.clone()), (name("quay.io/y/z:1"), db.clone())]).unwrap();
    let names = store.names().unwrap();
    let listed: Vec<String> = names.iter().map(|(n, _)| n.normalized()).collect();
    assert_eq!(listed, ["docker.io/library/x:latest", "quay.io/y/z:1"]);
    assert_eq!(names[0].1.digest, a.digest);
    for (n, d) in &names {
        assert_eq!(d.annotation(annotation::REF_NAME), Some(n.normalized().as_str()));
        assert_eq!(d.annotation(annotation::CONTAINERD_IMAGE_NAME), Some(n.normalized().as_str()));
    }
    // Re-pointing a name keeps its place and does not duplicate it.
    store.set_names(&[(name("docker.io/library/x:latest"), db.clone())]).unwrap();
    let names = store.names().unwrap();
    assert_eq!(names.len(), 2);
    assert_eq!(names[0].0.normalized(), "docker.io/library/x:latest");
    assert_eq!(names[0].1.digest, b.digest);
    assert_eq!(store.remove_names(&[name("x"), name("never:there")]).unwrap(), 1);
    let names = store.names().unwrap();
    assert_eq!(names.len(), 1);
    assert_eq!(names[0].0.normalized(), "quay.io/y/z:1");
    // The file is what podman would write: a plain OCI index.
    let text = fs::read_to_string(store.root().join("index.json")).unwrap();
    assert!(text.starts_with(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:"#), "{text}");
    assert!(text.contains(r#""org.opencontainers.image.ref.name":"quay.io/y/z:1""#), "{text}");
}

#[test]
fn a_name_never_points_at_missing_content() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let a = write_blob(&store, "a", &bytes(1, 300), 300);
    let mut missing = a.descriptor(media_type::OCI_MANIFEST);
    missing.digest = sha256(b"not stored");
    let e = store.set_names(&[(name("x"), missing)]).unwrap_err();
    assert!(matches!(e, StoreError::NameTargetMissing { .. }), "{e}");
    assert!(e.to_string().starts_with("docker.io/library/x:latest cannot point at sha256:"), "{e}");
    let mut wrong_size = a.descriptor(media_type::OCI_MANIFEST);
    wrong_size.size = 301;
    assert!(matches!(
        store.set_names(&[(name("x"), wrong_size)]),
        Err(StoreError::NameTargetMissing { size: 301, .. })
    ));
    let untyped = a.descriptor("");
    assert!(matches!(
        store.set_names(&[(name("x"), untyped)]),
        Err(StoreError::NoMediaType { .. })
    ));
    assert!(store.names().unwrap().is_empty());
}

#[test]
fn entries_the_store_did_not_write_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s");
    ocisize_testkit::copy_dir(&ocisize_testkit::corpus("tiny.umoci.oci"), &root);
    let store = Store::open(&root).unwrap();
    // umoci's entries are bare tags: no names, but they stay in the index.
    assert!(store.names().unwrap().is_empty());
    assert_eq!(store.index().unwrap().manifests.len(), 2);
    let m = store.index().unwrap().manifests[0].clone();
    store.set_names(&[(name("docker.io/ocisize/tiny:latest"), m.clone())]).unwrap();
    let index = store.index().unwrap();
    assert_eq!(index.manifests.len(), 3);
    assert_eq!(index.manifests[0].annotation(annotation::REF_NAME), Some("latest"));
    assert_eq!(store.names().unwrap()[0].1.digest, m.digest);
    // A containerd export's entry (tag in ref.name, full name beside it) is a name.
    let mut ctr = m.clone();
    ctr.annotations.insert(annotation::CONTAINERD_IMAGE_NAME.into(), "docker.io/a/b:c".into());
    assert_eq!(ocisize_store::entry_name(&ctr).unwrap().normalized(), "docker.io/a/b:c");
}

#[test]
fn a_damaged_index_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    fs::write(store.root().join("index.json"), b"{\"schemaVersion\":2,\"manifests\":[").unwrap();
    let e = store.names().unwrap_err();
    assert!(matches!(e, StoreError::Index { .. }), "{e}");
    assert!(e.to_string().starts_with("invalid index "), "{e}");
}

/// Set in the child: a read-only store to read.
const READ_ONLY_STORE: &str = "OCISIZE_STORE_TEST_READ_ONLY_STORE";

#[test]
fn a_read_only_store_can_be_read() {
    if let Some(root) = std::env::var_os(READ_ONLY_STORE) {
        let store = Store::open(&root).unwrap();
        assert!(fs::write(store.root().join("probe"), "x").is_err(), "the store is writable");
        assert_eq!(store.names().unwrap().len(), 1);
        assert!(store.fsck_blobs().unwrap().is_clean());
        assert!(store.writer("w", None).is_err());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for with_lock_file in [true, false] {
        let root = dir.path().join(format!("s{with_lock_file}"));
        let store = Store::create(&root).unwrap();
        let a = write_blob(&store, "a", &bytes(1, 300), 300);
        store.set_names(&[(name("x"), a.descriptor(media_type::OCI_MANIFEST))]).unwrap();
        if !with_lock_file {
            fs::remove_file(root.join(".lock")).unwrap();
        }
        // The child sees the store through a read-only bind mount, in a mount namespace
        // of its own.
        let script = r#"mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@""#;
        let exe = std::env::current_exe().unwrap();
        let out = std::process::Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", script])
            .arg(&root)
            .arg(&exe)
            .args(["a_read_only_store_can_be_read", "--exact", "--test-threads=1"])
            .env(READ_ONLY_STORE, &root)
            .output()
            .expect("unshare (util-linux) is needed for this test");
        assert!(
            out.status.success(),
            "with_lock_file {with_lock_file}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

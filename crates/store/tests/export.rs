//! A docker-archive export of a zstd image: each layer goes as its plain tar, named by its
//! diffID, and a layer that does not decompress to the config's diffID is refused before
//! anything is visible at the destination.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;

use common::{name, sha256, write_blob};
use ocisize_digest::Digest;
use ocisize_spec::Descriptor;
use ocisize_store::{Destination, ExportOptions, Store, StoreError};

/// A layer tar with one file of `len` bytes.
fn layer_tar(len: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_ustar();
    h.set_size(len as u64);
    h.set_mode(0o644);
    h.set_cksum();
    b.append_data(&mut h, "etc/data", &common::bytes(7, len)[..]).unwrap();
    b.into_inner().unwrap()
}

fn descriptor(media_type: &str, data: &[u8]) -> Descriptor {
    serde_json::from_value(serde_json::json!({
        "mediaType": media_type, "digest": sha256(data).to_string(), "size": data.len(),
    }))
    .unwrap()
}

/// A store holding one image `x/zstd` whose one zstd layer's config lists `diff_id`.
fn store_with(dir: &std::path::Path, zstd: &[u8], diff_id: Digest) -> Store {
    let store = Store::create(dir.join("store")).unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": [diff_id.to_string()]},
    }))
    .unwrap();
    let layer = descriptor("application/vnd.oci.image.layer.v1.tar+zstd", zstd);
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": descriptor("application/vnd.oci.image.config.v1+json", &config),
        "layers": [layer],
    }))
    .unwrap();
    for (r, b) in [("layer", zstd), ("config", &config[..]), ("manifest", &manifest[..])] {
        write_blob(&store, r, b, 4096);
    }
    let top = descriptor("application/vnd.oci.image.manifest.v1+json", &manifest);
    store.set_names(&[(name("x/zstd"), top)]).unwrap();
    store
}

fn export(store: &Store, file: &std::path::Path) -> Result<(), Box<StoreError>> {
    let dest: Destination = format!("docker-archive:{}", file.display()).parse().unwrap();
    store.export(&name("x/zstd"), &dest, &ExportOptions::default()).map(|_| ()).map_err(Box::new)
}

#[test]
fn a_zstd_layer_goes_as_its_plain_tar_named_by_its_diff_id() {
    let dir = tempfile::tempdir().unwrap();
    // Over a megabyte, so the patched header is far behind the stream's end.
    let tar = layer_tar(1_500_000);
    let zstd = zstd::encode_all(&tar[..], 3).unwrap();
    let store = store_with(dir.path(), &zstd, sha256(&tar));
    let file = dir.path().join("out.tar");
    export(&store, &file).unwrap();

    let mut archive = tar::Archive::new(std::fs::File::open(&file).unwrap());
    let mut members = Vec::new();
    let mut manifest = Vec::new();
    for e in archive.entries().unwrap() {
        let mut e = e.unwrap();
        let path = e.path().unwrap().to_string_lossy().into_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        assert_eq!(e.header().size().unwrap(), bytes.len() as u64, "{path}");
        if path == "manifest.json" {
            manifest = bytes.clone();
        }
        members.push((path, bytes));
    }
    let want = format!("blobs/sha256/{}", sha256(&tar).hex());
    let layer = members.iter().find(|(p, _)| *p == want).unwrap();
    assert!(layer.1 == tar, "the member is the layer's tar, byte for byte");
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(manifest[0]["Layers"], serde_json::json!([want]));
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["x/zstd:latest"]));
}

#[test]
fn a_zstd_layer_that_is_not_its_diff_id_is_refused_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let tar = layer_tar(10_000);
    let zstd = zstd::encode_all(&tar[..], 3).unwrap();
    let claimed = sha256(b"another layer");
    let store = store_with(dir.path(), &zstd, claimed);
    let file = dir.path().join("out.tar");
    let err = export(&store, &file).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(*err, StoreError::Damaged { digest: Some(d), .. } if d == sha256(&zstd)));
    assert!(msg.contains(&format!("decompresses to {}", sha256(&tar))), "{msg}");
    assert!(msg.contains(&format!("the config's diffID is {claimed}")), "{msg}");
    assert!(!file.exists());
    let left: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("store")], "no temporary file is left");
}

//! Archive dialects and algorithms built from the corpus blobs: crane's docker-archive,
//! docker >= 25's OCI-layout docker-archive, several images in one `docker save`, sha512
//! layouts, schema 1 and unsupported algorithms.

#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};

use ocisize::{inspect, Algorithm, Digest, Options, Report, SourceArg};
use ocisize_testkit::{copy_dir, corpus};

fn members(path: &Path) -> Vec<(String, Vec<u8>)> {
    let data = std::fs::read(path).unwrap();
    let mut a = tar::Archive::new(&data[..]);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if !e.header().entry_type().is_file() {
            continue;
        }
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut body = Vec::new();
        e.read_to_end(&mut body).unwrap();
        out.push((name, body));
    }
    out
}

fn write_tar(dir: &Path, name: &str, files: &[(String, Vec<u8>)]) -> PathBuf {
    let mut b = tar::Builder::new(Vec::new());
    for (n, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(n).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
    }
    let p = dir.join(name);
    std::fs::write(&p, b.into_inner().unwrap()).unwrap();
    p
}

fn run(arg: &str) -> Report {
    inspect(&arg.parse::<SourceArg>().unwrap(), &Options::default()).unwrap()
}

const TINY_CONFIG: &str = "60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c";
const TINY_LAYERS: [&str; 4] = [
    "336384079505ceeb1825fe99653b1b0f724937ac26d525fb3b1eecba44d41e67",
    "01dd3eebaba313f229812c343fdaa583e39deca35e361082d175e37bd476cf7b",
    "476c5840616c62b18dbfbfa050ed932918b363f6e30b15820a735cbba3c1c436",
    "fab19541c532f4a3ff4cf606eea5bbe9fc3781320384ea3e2959ba6ab0ed8b77",
];

fn blob(hex: &str) -> Vec<u8> {
    std::fs::read(corpus("tiny.umoci.oci/blobs/sha256").join(hex)).unwrap()
}

/// crane writes the config as a member literally named `sha256:<hex>` and keeps the layers
/// compressed, named `<hex>.tar.gz`.
#[test]
fn crane_docker_archive() {
    let dir = tempfile::tempdir().unwrap();
    let layers: Vec<String> = TINY_LAYERS.iter().map(|h| format!("{h}.tar.gz")).collect();
    let manifest = serde_json::json!([{
        "Config": format!("sha256:{TINY_CONFIG}"),
        "RepoTags": ["ocisize/tiny:crane"],
        "Layers": layers,
    }]);
    let mut files = vec![(format!("sha256:{TINY_CONFIG}"), blob(TINY_CONFIG))];
    for (h, n) in TINY_LAYERS.iter().zip(&layers) {
        files.push((n.clone(), blob(h)));
    }
    files.push(("manifest.json".into(), manifest.to_string().into_bytes()));
    let p = write_tar(dir.path(), "crane.tar", &files);
    let r = run(p.to_str().unwrap());
    assert!(r.verified(), "{:#?}", r.problems);
    assert_eq!(r.source.format.name(), "docker-archive");
    let i = &r.images[0];
    assert_eq!(i.names, ["docker.io/ocisize/tiny:crane"]);
    assert_eq!(i.image_id.unwrap().hex(), TINY_CONFIG);
    assert_eq!(i.sizes.compressed, Some(1_156_439));
    assert_eq!(i.sizes.uncompressed, Some(2_348_036));
    assert_eq!(i.sizes.docker_vfs, Some(2_314_054));
    // containerd keeps the gzip layers and synthesizes a manifest labelling them .tar.gzip:
    // 893 bytes for the plain-tar version, + 5 bytes per layer for the longer media type,
    // - 3 digits because three gzip sizes are one digit shorter than the tar sizes.
    assert_eq!(i.sizes.containerd, Some(1_156_439 + 1164 + (893 + 4 * 5 - 3)));
}

/// docker >= 25 saves an OCI layout plus manifest.json and repositories.
#[test]
fn docker_25_oci_layout_archive() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = members(&corpus("tiny.ctr.export.tar"));
    files.push(("repositories".into(), br#"{"ocisize/tiny":{"latest":"x"}}"#.to_vec()));
    let p = write_tar(dir.path(), "docker25.tar", &files);
    let r = run(p.to_str().unwrap());
    assert!(r.verified(), "{:#?}", r.problems);
    assert_eq!(r.source.format.name(), "docker-archive");
    let i = &r.images[0];
    assert_eq!(i.names, ["docker.io/ocisize/tiny:latest"]);
    assert_eq!(i.familiar_names, ["ocisize/tiny:latest"]);
    assert_eq!(
        i.manifest_digest.unwrap().hex(),
        "ba771aa8f8177c05832bd9394bf29e51f1c89fccca23e84d89ab0d8d840efc92"
    );
    assert_eq!(i.sizes.containerd, Some(1_158_417));
}

/// Legacy `<v1id>/layer.tar` paths that are symlinks to `<hex>.tar` (skopeo, podman) are
/// followed, relative to the link's directory.
#[test]
fn legacy_layer_symlinks_are_followed() {
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(corpus("tiny.skopeo.docker-archive.tar")).unwrap();
    let mut links = Vec::new();
    let mut b = tar::Builder::new(Vec::new());
    let mut a = tar::Archive::new(&raw[..]);
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().to_string_lossy().into_owned();
        let mut h = e.header().clone();
        if h.entry_type().is_symlink() {
            links.push(name.clone());
            b.append_link(&mut h, &name, e.link_name().unwrap().unwrap()).unwrap();
        } else if name != "manifest.json" {
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            b.append(&h, &body[..]).unwrap();
        }
    }
    // skopeo lists the layers in manifest.json in order; so do the symlinks.
    let m = serde_json::json!([{
        "Config": format!("{TINY_CONFIG}.json"),
        "RepoTags": ["ocisize/tiny:latest"],
        "Layers": links,
    }])
    .to_string()
    .into_bytes();
    let mut h = tar::Header::new_gnu();
    h.set_path("manifest.json").unwrap();
    h.set_size(m.len() as u64);
    h.set_cksum();
    b.append(&h, &m[..]).unwrap();
    let p = dir.path().join("links.tar");
    std::fs::write(&p, b.into_inner().unwrap()).unwrap();
    let r = run(p.to_str().unwrap());
    assert!(r.verified(), "{:#?}", r.problems);
    assert_eq!(r.images[0].sizes.docker_vfs, Some(2_314_054));
    assert!(r.images[0].layers[0].path.as_deref().unwrap().ends_with("/layer.tar"));
}

/// `docker save a b`: one manifest.json entry per image, layers shared by path.
#[test]
fn several_images_in_one_docker_save() {
    let dir = tempfile::tempdir().unwrap();
    let tiny = members(&corpus("tiny.dockerd.save.tar"));
    let deb = members(&corpus("debslice.skopeo.docker-archive.tar"));
    let manifest = |files: &[(String, Vec<u8>)]| -> serde_json::Value {
        let m = &files.iter().find(|(n, _)| n == "manifest.json").unwrap().1;
        serde_json::from_slice::<serde_json::Value>(m).unwrap()[0].clone()
    };
    let both = serde_json::Value::Array(vec![manifest(&tiny), manifest(&deb)]);
    let mut files: Vec<(String, Vec<u8>)> = tiny
        .into_iter()
        .chain(deb)
        .filter(|(n, _)| n != "manifest.json" && n != "repositories")
        .collect();
    files.push(("manifest.json".into(), both.to_string().into_bytes()));
    let p = write_tar(dir.path(), "two.tar", &files);
    let r = run(p.to_str().unwrap());
    assert!(r.verified(), "{:#?}", r.problems);
    assert_eq!(r.images.len(), 2);
    let tiny = r.images.iter().find(|i| i.names == ["docker.io/ocisize/tiny:latest"]).unwrap();
    assert_eq!(tiny.sizes.docker_vfs, Some(2_314_054));
    let deb = r.images.iter().find(|i| i.names == ["docker.io/ocisize/debslice:latest"]).unwrap();
    assert_eq!(deb.image_id.unwrap().short(), "3b2ab3957c6a");
    // Selecting one image by name.
    let arg = format!("docker-archive:{}:ocisize/tiny", p.display());
    let r = run(&arg);
    assert_eq!(r.images.len(), 1);
    assert_eq!(r.images[0].familiar_names, ["ocisize/tiny:latest"]);
}

fn oci_layout(dir: &Path, index: &str, blobs: &[(Digest, Vec<u8>)]) -> PathBuf {
    let root = dir.join("layout");
    for (d, data) in blobs {
        let p = root.join("blobs").join(d.algorithm().name()).join(d.hex());
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(root.join("index.json"), index).unwrap();
    root
}

#[test]
fn sha512_layout_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let config = blob(TINY_CONFIG);
    let cd = Digest::of(Algorithm::Sha512, &config);
    let mut blobs = vec![(cd, config.clone())];
    let mut layers = Vec::new();
    for h in TINY_LAYERS {
        let b = blob(h);
        let d = Digest::of(Algorithm::Sha512, &b);
        layers.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
            "digest": d.to_string(), "size": b.len()
        }));
        blobs.push((d, b));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": cd.to_string(), "size": config.len()},
        "layers": layers,
    })
    .to_string()
    .into_bytes();
    let md = Digest::of(Algorithm::Sha512, &manifest);
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": md.to_string(), "size": manifest.len(),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]})
    .to_string();
    blobs.push((md, manifest));
    let root = oci_layout(dir.path(), &index, &blobs);
    let r = run(root.to_str().unwrap());
    assert!(r.verified(), "{:#?}", r.problems);
    let i = &r.images[0];
    assert_eq!(i.image_id, Some(cd));
    assert_eq!(
        i.layers[0].diff_id.unwrap().hex(),
        "1e510dd8f8b50ee0b31f3073a79574a805a37375d0a5b39710a6c855a7a4e1f9"
    );
    assert_eq!(i.ref_names, ["latest"]);

    // Flip a byte of a sha512 layer blob: a digest mismatch naming the sha512 digest.
    let (d, b) = &blobs[1];
    let mut bad = b.clone();
    bad[100] ^= 1;
    std::fs::write(root.join("blobs/sha512").join(d.hex()), bad).unwrap();
    let r = run(root.to_str().unwrap());
    assert!(!r.verified());
    assert!(r
        .problems
        .iter()
        .any(|p| p.digest == Some(*d) && p.message.contains("digest mismatch")));
}

#[test]
fn schema1_and_unknown_algorithms_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let s1 = br#"{"schemaVersion":1,"name":"x","tag":"latest","architecture":"amd64","fsLayers":[],"history":[]}"#.to_vec();
    let d = Digest::of(Algorithm::Sha256, &s1);
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":{}}}]}}"#,
        s1.len()
    );
    let root = oci_layout(dir.path(), &index, &[(d, s1)]);
    let r = run(root.to_str().unwrap());
    assert!(!r.verified());
    assert!(
        r.problems.iter().any(|p| p.message.contains("schema 1 manifests are not supported")),
        "{:#?}",
        r.problems
    );

    let index = r#"{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"md5:d41d8cd98f00b204e9800998ecf8427e","size":1}]}"#;
    std::fs::write(root.join("index.json"), index).unwrap();
    let r = run(root.to_str().unwrap());
    assert!(!r.verified());
    let msg = &r.problems[0].message;
    assert!(msg.contains("unsupported digest algorithm \"md5\""), "{msg}");
    assert_eq!(r.problems[0].member.as_deref(), Some("index.json"));
}

#[test]
fn unknown_media_types_in_an_index_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(corpus("tiny.umoci.oci/index.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&src).unwrap();
    v["manifests"].as_array_mut().unwrap().push(serde_json::json!({
        "mediaType": "application/vnd.example.sbom+json",
        "digest": "sha256:0000000000000000000000000000000000000000000000000000000000000000",
        "size": 3
    }));
    let root = dir.path().join("layout");
    copy_dir(&corpus("tiny.umoci.oci"), &root);
    std::fs::write(root.join("index.json"), v.to_string()).unwrap();
    let r = run(root.to_str().unwrap());
    assert!(r.verified(), "{:#?}", r.problems);
    assert_eq!(r.images.len(), 2, "latest and arm64 tags, the unknown entry skipped");
}

#[test]
fn layout_symlink_escaping_the_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("layout");
    copy_dir(&corpus("tiny.umoci.oci"), &root);
    let outside = dir.path().join("secret");
    std::fs::write(&outside, blob(TINY_LAYERS[3])).unwrap();
    let link = root.join("blobs/sha256").join(TINY_LAYERS[3]);
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&outside, &link).unwrap();
    let r = run(root.to_str().unwrap());
    assert!(!r.verified());
    assert!(r.problems.iter().any(|p| p.message.contains("leaves the layout directory")));
    // A symlink inside the layout is followed.
    std::fs::remove_file(&link).unwrap();
    std::fs::write(root.join("blobs/copy"), blob(TINY_LAYERS[3])).unwrap();
    std::os::unix::fs::symlink("../copy", &link).unwrap();
    let r = run(root.to_str().unwrap());
    assert!(r.verified(), "{:#?}", r.problems);
}

#[test]
fn absurd_and_wrong_descriptor_sizes_are_mismatches() {
    let config = blob(TINY_CONFIG);
    let cd = Digest::of(Algorithm::Sha256, &config);
    let layer = blob(TINY_LAYERS[0]);
    let ld = Digest::of(Algorithm::Sha256, &layer);
    let real = layer.len() as u64;
    // i64::MAX (the largest size the spec's int64 allows), one byte short, one byte over.
    for claimed in [i64::MAX as u64, real - 1, real + 1, 0] {
        let dir = tempfile::tempdir().unwrap();
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": cd.to_string(), "size": config.len()},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": ld.to_string(), "size": claimed}],
        })
        .to_string()
        .into_bytes();
        let md = Digest::of(Algorithm::Sha256, &manifest);
        let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md.to_string(), "size": manifest.len()}]})
        .to_string();
        let blobs = [(cd, config.clone()), (ld, layer.clone()), (md, manifest)];
        let root = oci_layout(dir.path(), &index, &blobs);
        let r = run(root.to_str().unwrap());
        assert!(!r.verified(), "size {claimed}");
        let p = r.problems.iter().find(|p| p.digest == Some(ld)).expect("a problem names the blob");
        assert!(
            p.message.contains(&claimed.to_string()) && p.message.contains(&real.to_string()),
            "size {claimed}: {}",
            p.message
        );
        // The layer's real size is still reported.
        assert_eq!(r.images[0].layers[0].compressed_size, Some(real), "size {claimed}");
    }
}

//! Messages that must say what is wrong: each was misleading once (a symlink reported as
//! absent, a truncation as "cannot tell the image format", JSON `null` as "not a JSON
//! document", a text blob labelled gzip as "a plain tar", one error repeated per image).

#![allow(clippy::unwrap_used)]

use std::io::Write;

use ocisize::{inspect, inspect_reader, Options, ProblemKind, SourceArg};
use ocisize_testkit::{copy_dir, corpus};

fn options() -> Options {
    Options::default()
}

#[test]
fn a_json_document_given_as_the_input_says_so() {
    let manifest = corpus("tiny.skopeo.dir-v2s2/manifest.json");
    let e = inspect(&SourceArg::path(&manifest), &options()).unwrap_err();
    assert_eq!(e.kind(), "json-document");
    let text = e.to_string();
    assert!(text.contains("is a JSON document, not an image source"), "{text}");
    assert!(text.contains("OCI layout") && text.contains("docker-archive"), "{text}");
    assert!(!text.contains("block"), "no tar-parser text: {text}");
    let bytes = std::fs::read(&manifest).unwrap();
    let e = inspect_reader(&bytes[..], "-", &options()).unwrap_err();
    assert_eq!(e.kind(), "json-document", "{e}");
}

/// A JSON file shorter than the 64 bytes looked at: the look stops at the file's end.
#[test]
fn a_short_json_document_says_so_too() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("index.json");
    std::fs::write(&p, r#"{"schemaVersion":2,"manifests":[]}"#).unwrap();
    let e = inspect(&SourceArg::path(&p), &options()).unwrap_err();
    assert_eq!(e.kind(), "json-document", "{e}");
}

#[test]
fn json_null_is_the_wrong_json_not_no_json() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&corpus("tiny.umoci.oci"), dir.path());
    std::fs::write(dir.path().join("index.json"), "null").unwrap();
    let r = inspect(&SourceArg::path(dir.path()), &options()).unwrap();
    let p = &r.problems[0];
    assert_eq!(p.kind, ProblemKind::InvalidDocument, "{p:?}");
    assert!(!p.message.contains("not a JSON document"), "{}", p.message);
    assert!(p.message.contains("null"), "{}", p.message);
}

#[test]
fn a_manifest_json_symlink_leaving_the_directory_is_named() {
    let outside = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&corpus("tiny.skopeo.dir-v2s2"), dir.path());
    let target = outside.path().join("manifest.json");
    std::fs::rename(dir.path().join("manifest.json"), &target).unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("manifest.json")).unwrap();
    let e = inspect(&SourceArg::path(dir.path()), &options()).unwrap_err().to_string();
    assert!(e.contains("manifest.json is a symbolic link that leaves the layout directory"), "{e}");
    assert!(!e.contains("neither"), "not reported as absent: {e}");
}

#[test]
fn a_truncated_archive_says_where_in_which_member() {
    let data = std::fs::read(corpus("tiny.skopeo.oci-archive.tar")).unwrap();
    // Inside the 1,084,507-byte layer that starts at byte 73,728.
    let cut = 73_728 + 500_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.tar");
    std::fs::write(&path, &data[..cut]).unwrap();
    let want =
        "member blobs/sha256/336384079505ceeb1825fe99653b1b0f724937ac26d525fb3b1eecba44d41e67 \
                ends at byte 573728 of the archive, after 500000 of its 1084507 bytes";
    let e = inspect(&SourceArg::path(&path), &options()).unwrap_err();
    assert_eq!(e.kind(), "truncated");
    assert!(e.to_string().contains(want), "{e}");
    let e = inspect_reader(&data[..cut], "-", &options()).unwrap_err();
    assert!(e.to_string().contains(want), "{e}");
}

#[test]
fn a_gzip_wrapped_archive_cut_in_half_counts_what_was_read() {
    let data = std::fs::read(corpus("tiny.dockerd.save.tar")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&data).unwrap();
    let gz = gz.finish().unwrap();
    let e = inspect_reader(&gz[..gz.len() / 2], "-", &options()).unwrap_err();
    let text = e.to_string();
    assert_eq!(e.kind(), "truncated", "{text}");
    assert!(!text.contains("after 0 of"), "the bytes that were read are counted: {text}");
}

#[test]
fn text_labelled_as_a_gzip_layer_is_not_called_a_plain_tar() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&corpus("tiny.umoci.oci"), dir.path());
    // Replace the small gzip layer with text, and its descriptor with the text's digest/size.
    let old = "476c5840616c62b18dbfbfa050ed932918b363f6e30b15820a735cbba3c1c436";
    let text = b"this is not a layer at all, just words\n".repeat(20);
    let new = ocisize::Digest::of(ocisize::Algorithm::Sha256, &text);
    let blobs = dir.path().join("blobs/sha256");
    std::fs::write(blobs.join(new.hex()), &text).unwrap();
    {
        let m = "ba771aa8f8177c05832bd9394bf29e51f1c89fccca23e84d89ab0d8d840efc92";
        let s = std::fs::read_to_string(blobs.join(m)).unwrap();
        let s = s
            .replace(old, &new.hex())
            .replace("\"size\":199,", &format!("\"size\":{},", text.len()));
        let d = ocisize::Digest::of(ocisize::Algorithm::Sha256, s.as_bytes());
        std::fs::write(blobs.join(d.hex()), &s).unwrap();
        let idx = std::fs::read_to_string(dir.path().join("index.json")).unwrap();
        let idx =
            idx.replace(m, &d.hex()).replace("\"size\":814", &format!("\"size\":{}", s.len()));
        std::fs::write(dir.path().join("index.json"), idx).unwrap();
    }
    let arg: SourceArg = format!("oci:{}:latest", dir.path().display()).parse().unwrap();
    let r = inspect(&arg, &options()).unwrap();
    let mislabel =
        r.problems.iter().find(|p| p.kind == ProblemKind::CompressionMislabelled).unwrap();
    assert!(mislabel.message.contains("neither gzip, zstd nor a tar"), "{}", mislabel.message);
    assert!(!mislabel.message.contains("a plain tar"), "{}", mislabel.message);
}

#[test]
fn an_error_about_a_shared_blob_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&corpus("tiny.umoci.oci"), dir.path());
    // Both manifests (latest, arm64) use this layer.
    let shared = "blobs/sha256/476c5840616c62b18dbfbfa050ed932918b363f6e30b15820a735cbba3c1c436";
    let path = dir.path().join(shared);
    let mut b = std::fs::read(&path).unwrap();
    b[50] ^= 0x10;
    std::fs::write(&path, b).unwrap();
    let r = inspect(&SourceArg::path(dir.path()), &options()).unwrap();
    assert_eq!(r.images.len(), 2);
    assert!(r.images.iter().all(|i| !i.verified));
    let mismatches: Vec<_> =
        r.problems.iter().filter(|p| p.kind == ProblemKind::DigestMismatch).collect();
    assert_eq!(mismatches.len(), 1, "{:#?}", r.problems);
    assert_eq!(mismatches[0].member.as_deref(), Some(shared));
}

/// Regression: a manifest that failed its digest check inside an index left its image
/// marked verified (only the report as a whole was unverified).
#[test]
fn a_manifest_that_fails_its_check_makes_only_its_image_unverified() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&corpus("multi.podman.oci"), dir.path());
    let arm = dir
        .path()
        .join("blobs/sha256/6741f00b19924dc94b0a732b4543e9ffc183efa03eeef9843820789876d5f7ac");
    let mut b = std::fs::read(&arm).unwrap();
    b.push(b'\n');
    std::fs::write(&arm, b).unwrap();
    let r = inspect(&SourceArg::path(dir.path()), &options()).unwrap();
    assert!(!r.verified());
    let by_platform = |p: &str| r.images.iter().find(|i| i.platform.as_deref() == Some(p)).unwrap();
    assert!(by_platform("linux/amd64").verified, "{:#?}", r.problems);
    assert!(!by_platform("linux/arm64/v8").verified, "{:#?}", r.problems);
}

//! The real `ocisize` binary on real and damaged images: output, JSON shape, exit status.

#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use ocisize_testkit::{copy_dir, corpus};
use serde_json::Value;

fn ocisize(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocisize"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("spawn ocisize");
    if let Some(data) = stdin {
        let mut si = child.stdin.take().expect("stdin");
        let data = data.to_vec();
        // Write from a thread so a large input cannot deadlock against a full stdout pipe.
        let t = std::thread::spawn(move || {
            let _ = si.write_all(&data);
        });
        let out = child.wait_with_output().expect("wait");
        t.join().expect("writer");
        return out;
    }
    child.wait_with_output().expect("wait")
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout))
    })
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exited normally, not by a signal")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).expect("read fixture")
}

/// Members of a tar, in order.
fn members(archive: &[u8]) -> Vec<(tar::Header, Vec<u8>)> {
    let mut a = tar::Archive::new(archive);
    let mut out = Vec::new();
    for e in a.entries().expect("entries") {
        let mut e = e.expect("entry");
        let mut data = Vec::new();
        e.read_to_end(&mut data).expect("body");
        out.push((e.header().clone(), data));
    }
    out
}

fn build(members: &[(tar::Header, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (h, data) in members {
        let mut h = h.clone();
        h.set_size(data.len() as u64);
        h.set_cksum();
        b.append(&h, &data[..]).expect("append");
    }
    b.into_inner().expect("finish")
}

fn file_header(name: &str, len: usize) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).expect("path");
    h.set_size(len as u64);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    h
}

fn tmp(name: &str, data: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let p = dir.path().join(name);
    std::fs::write(&p, data).expect("write");
    (dir, p)
}

#[test]
fn inspects_docker_save_with_docker_figures() {
    let out = ocisize(&["inspect", corpus("tiny.dockerd.save.tar").to_str().unwrap()], None);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let t = text(&out);
    assert!(t.contains("ocisize/tiny:latest"), "{t}");
    assert!(t.contains("60df9f5c591b"), "{t}");
    assert!(t.contains("docker images 2.31MB"), "{t}");
    assert!(t.contains("ctr images ls 2.2 MiB"), "{t}");
}

#[test]
fn json_has_the_documented_shape() {
    let out = ocisize(
        &["inspect", "--json", corpus("multi.skopeo.oci-archive.tar").to_str().unwrap()],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["source"]["format"], "oci-archive");
    assert_eq!(v["source"]["compression"], "none");
    let images = v["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "one entry per platform manifest");
    for i in images {
        for k in [
            "names",
            "familiar_names",
            "image_id",
            "manifest_digest",
            "index_digest",
            "platform",
            "layers",
            "sizes",
            "printed",
            "verified",
        ] {
            assert!(i.get(k).is_some(), "missing {k}");
        }
        for k in
            ["compressed", "uncompressed", "docker_vfs", "docker_overlay2", "podman", "containerd"]
        {
            assert!(i["sizes"][k].is_u64(), "sizes.{k} = {}", i["sizes"][k]);
        }
        for k in ["docker", "docker_df", "podman", "ctr", "crictl"] {
            assert!(i["printed"][k].is_string(), "printed.{k}");
        }
        let l = &i["layers"][0];
        for k in [
            "digest",
            "media_type",
            "compression",
            "compressed_size",
            "uncompressed_size",
            "diff_id",
            "chain_id",
        ] {
            assert!(!l[k].is_null(), "layer.{k}");
        }
        assert_eq!(
            i["index_digest"],
            "sha256:e2bf608e613c13687d1f5d3cea94512e9a7aa64986c8ace95805675f689a1736"
        );
    }
    let platforms: Vec<&str> = images.iter().map(|i| i["platform"].as_str().unwrap()).collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64/v8"]);
    assert_eq!(v["problems"], Value::Array(vec![]));
}

#[test]
fn reads_gzip_and_zstd_wrapped_archives_from_stdin() {
    let raw = read(&corpus("tiny.skopeo.docker-archive.tar"));
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&raw).unwrap();
    let gz = gz.finish().unwrap();
    let zst = zstd::encode_all(&raw[..], 3).unwrap();
    for (data, name) in [(gz, "gzip"), (zst, "zstd"), (raw.clone(), "none")] {
        let out = ocisize(&["inspect", "--json", "-"], Some(&data));
        assert_eq!(code(&out), 0, "{name}: {}", text(&out));
        let v = json(&out);
        assert_eq!(v["source"]["compression"], name);
        assert_eq!(v["source"]["path"], "-");
        assert_eq!(v["images"][0]["sizes"]["docker_vfs"], 2314054);
        assert_eq!(v["images"][0]["verified"], true);
    }
}

#[test]
fn manifest_json_last_in_a_stream_is_resolved() {
    // Move manifest.json to the front and to the back: both must give the same report.
    let raw = read(&corpus("tiny.dockerd.save.tar"));
    let mut m = members(&raw);
    let pos =
        m.iter().position(|(h, _)| h.path().unwrap().to_str() == Some("manifest.json")).unwrap();
    let manifest = m.remove(pos);
    let mut first = vec![manifest.clone()];
    first.extend(m.iter().cloned());
    m.push(manifest);
    let a = ocisize(&["inspect", "--json", "-"], Some(&build(&first)));
    let b = ocisize(&["inspect", "--json", "-"], Some(&build(&m)));
    assert_eq!(code(&a), 0, "{}", text(&a));
    assert_eq!(json(&a)["images"], json(&b)["images"]);
}

#[test]
fn missing_input_and_bad_usage_exit_2() {
    let out = ocisize(&["inspect", "/nonexistent/image.tar"], None);
    assert_eq!(code(&out), 2);
    assert!(text(&out).contains("/nonexistent/image.tar"), "{}", text(&out));
    let out = ocisize(&["inspect"], None);
    assert_eq!(code(&out), 2);
    let out = ocisize(&["frobnicate"], None);
    assert_eq!(code(&out), 2);
    let (_d, p) = tmp("notatar.bin", &[0x42u8; 4096]);
    let out = ocisize(&["inspect", p.to_str().unwrap()], None);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("notatar.bin"), "{}", text(&out));
}

#[test]
fn truncated_archive_fails_cleanly() {
    let raw = read(&corpus("tiny.skopeo.oci-archive.tar"));
    for cut in [100, 512, 1024 + 100, raw.len() / 2, raw.len() - 1024 * 11] {
        let (_d, p) = tmp("t.tar", &raw[..cut]);
        let out = ocisize(&["inspect", p.to_str().unwrap()], None);
        let c = code(&out);
        assert!(c == 1 || c == 2, "cut {cut}: exit {c}: {}", text(&out));
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
}

#[test]
fn flipped_byte_in_a_layer_is_a_digest_mismatch() {
    let raw = read(&corpus("tiny.skopeo.oci-archive.tar"));
    let mut m = members(&raw);
    let layer = "blobs/sha256/336384079505ceeb1825fe99653b1b0f724937ac26d525fb3b1eecba44d41e67";
    let (_, data) = m.iter_mut().find(|(h, _)| h.path().unwrap().to_str() == Some(layer)).unwrap();
    data[5000] ^= 0x01;
    let (_d, p) = tmp("flip.tar", &build(&m));
    let out = ocisize(&["inspect", "--json", p.to_str().unwrap()], None);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let v = json(&out);
    let msgs: Vec<String> =
        v["problems"].as_array().unwrap().iter().map(|p| p["message"].to_string()).collect();
    assert!(
        msgs.iter().any(|m| m.contains("digest mismatch for layer blob sha256:336384079505")),
        "{msgs:?}"
    );
    assert_eq!(v["images"][0]["verified"], false);
    let prob = &v["problems"][0];
    assert_eq!(prob["member"], layer);
    assert!(prob["file"].as_str().unwrap().ends_with("flip.tar"));
}

#[test]
fn missing_blob_is_reported_with_unknown_figures() {
    let raw = read(&corpus("tiny.skopeo.oci-archive.tar"));
    let layer = "blobs/sha256/01dd3eebaba313f229812c343fdaa583e39deca35e361082d175e37bd476cf7b";
    let m: Vec<_> = members(&raw)
        .into_iter()
        .filter(|(h, _)| h.path().unwrap().to_str() != Some(layer))
        .collect();
    let (_d, p) = tmp("missing.tar", &build(&m));
    let out = ocisize(&["inspect", "--json", p.to_str().unwrap()], None);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let v = json(&out);
    assert!(v["problems"].to_string().contains("missing"), "{}", v["problems"]);
    let img = &v["images"][0];
    assert!(img["sizes"]["compressed"].is_null());
    assert!(img["sizes"]["containerd"].is_null());
    // What is known is still reported.
    assert_eq!(
        img["image_id"],
        "sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c"
    );
    assert_eq!(img["layers"][0]["uncompressed_size"], 1996288);
}

#[test]
fn wrong_digest_in_the_index_is_reported() {
    let raw = read(&corpus("tiny.skopeo.oci-archive.tar"));
    let mut m = members(&raw);
    let (_, idx) =
        m.iter_mut().find(|(h, _)| h.path().unwrap().to_str() == Some("index.json")).unwrap();
    let s = String::from_utf8(idx.clone()).unwrap();
    // Point the index at a digest no blob has.
    let re = s.find("sha256:").unwrap();
    let mut t = s.clone();
    t.replace_range(re + 7..re + 8, if &s[re + 7..re + 8] == "0" { "1" } else { "0" });
    *idx = t.into_bytes();
    let (_d, p) = tmp("wrong.tar", &build(&m));
    let out = ocisize(&["inspect", p.to_str().unwrap()], None);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("missing"), "{}", text(&out));
}

#[test]
fn invalid_and_oversized_json_are_clear_errors() {
    let raw = read(&corpus("tiny.dockerd.save.tar"));
    for (body, want) in [
        (b"{not json".to_vec(), "invalid docker manifest.json"),
        (vec![b' '; 2 << 20], "over the docker manifest.json limit of 1048576 bytes"),
        (b"[{\"Config\":\"x.json\",\"Layers\":[]}]".to_vec(), "x.json is missing"),
    ] {
        let mut m = members(&raw);
        let (h, data) = m
            .iter_mut()
            .find(|(h, _)| h.path().unwrap().to_str() == Some("manifest.json"))
            .unwrap();
        *data = body;
        h.set_size(data.len() as u64);
        let (_d, p) = tmp("bad.tar", &build(&m));
        let out = ocisize(&["inspect", p.to_str().unwrap()], None);
        assert_eq!(code(&out), 1, "{}", text(&out));
        assert!(text(&out).contains(want), "want {want:?} in {}", text(&out));
    }
}

#[test]
fn member_escaping_the_root_is_refused() {
    let raw = read(&corpus("tiny.dockerd.save.tar"));
    let mut m = members(&raw);
    // tar::Header::set_path refuses "..", so write the name bytes directly.
    let mut h = file_header("placeholder", 3);
    {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name = [0; 100];
        gnu.name[..4].copy_from_slice(b"../x");
    }
    h.set_cksum();
    m.insert(0, (h, b"abc".to_vec()));
    let (_d, p) = tmp("dotdot.tar", &build(&m));
    let out = ocisize(&["inspect", "--json", p.to_str().unwrap()], None);
    assert_eq!(code(&out), 1, "{}", text(&out));
    let v = json(&out);
    assert!(v["problems"].to_string().contains("escapes the archive root"), "{}", v["problems"]);
    // The image itself is still fully reported.
    assert_eq!(v["images"][0]["sizes"]["docker_vfs"], 2314054);
}

#[test]
fn two_conflicting_manifest_json_are_an_error() {
    let raw = read(&corpus("tiny.dockerd.save.tar"));
    let mut m = members(&raw);
    let other = b"[{\"Config\":\"nope.json\",\"Layers\":[]}]".to_vec();
    m.insert(0, (file_header("manifest.json", other.len()), other));
    let (_d, p) = tmp("two.tar", &build(&m));
    let out = ocisize(&["inspect", p.to_str().unwrap()], None);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("two different members named manifest.json"), "{}", text(&out));
}

#[test]
fn oci_layout_missing_blob_and_reference_selection() {
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("layout");
    copy_dir(&corpus("tiny.umoci.oci"), &dst);
    // Select by tag: two tags exist (latest, arm64).
    let arg = format!("oci:{}:arm64", dst.display());
    let out = ocisize(&["inspect", "--json", &arg], None);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v = json(&out);
    assert_eq!(v["images"].as_array().unwrap().len(), 1);
    assert_eq!(v["images"][0]["ref_names"][0], "arm64");
    let arg = format!("oci:{}:nope", dst.display());
    let out = ocisize(&["inspect", &arg], None);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("no image"), "{}", text(&out));
    // Delete a layer blob.
    std::fs::remove_file(
        dst.join("blobs/sha256/01dd3eebaba313f229812c343fdaa583e39deca35e361082d175e37bd476cf7b"),
    )
    .unwrap();
    let out = ocisize(&["inspect", dst.to_str().unwrap()], None);
    assert_eq!(code(&out), 1, "{}", text(&out));
    assert!(text(&out).contains("01dd3eebaba3"), "{}", text(&out));
}

#[test]
fn no_verify_reads_only_the_documents() {
    let out = ocisize(
        &[
            "inspect",
            "--json",
            "--no-verify",
            corpus("tiny.skopeo.oci-archive.tar").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v = json(&out);
    let i = &v["images"][0];
    assert_eq!(i["verified"], false, "nothing was verified");
    assert_eq!(i["sizes"]["compressed"], 1156439);
    assert_eq!(i["sizes"]["containerd"], 1158417);
    assert!(i["sizes"]["uncompressed"].is_null());
    assert!(i["sizes"]["docker_vfs"].is_null());
    assert_eq!(
        i["layers"][0]["diff_id"],
        "sha256:1e510dd8f8b50ee0b31f3073a79574a805a37375d0a5b39710a6c855a7a4e1f9"
    );
    assert_eq!(i["layers"][0]["compression"], "gzip");

    // A docker-archive's plain layers: the sizes that need no decompression are all known.
    let out = ocisize(
        &["inspect", "--json", "--no-verify", corpus("tiny.dockerd.save.tar").to_str().unwrap()],
        None,
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    let i = &json(&out)["images"][0];
    assert_eq!(i["sizes"]["containerd"], 2350093);
    assert_eq!(i["sizes"]["podman"], 2351026);
    assert!(i["sizes"]["docker_vfs"].is_null());

    // Metadata problems are still found.
    let dir = tempfile::tempdir().unwrap();
    let dst = dir.path().join("layout");
    copy_dir(&corpus("tiny.umoci.oci"), &dst);
    std::fs::remove_file(
        dst.join("blobs/sha256/01dd3eebaba313f229812c343fdaa583e39deca35e361082d175e37bd476cf7b"),
    )
    .unwrap();
    let out = ocisize(&["inspect", "--no-verify", dst.to_str().unwrap()], None);
    assert_eq!(code(&out), 1, "{}", text(&out));
}

#[test]
fn several_sources_keep_their_order_and_the_worst_status() {
    let good = corpus("tiny.dockerd.save.tar");
    let other = corpus("multi.skopeo.oci-archive.tar");
    let args = [
        "inspect",
        "--json",
        good.to_str().unwrap(),
        other.to_str().unwrap(),
        good.to_str().unwrap(),
    ];
    let out = ocisize(&args, None);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let v = json(&out);
    let paths: Vec<&str> =
        v.as_array().unwrap().iter().map(|r| r["source"]["path"].as_str().unwrap()).collect();
    assert!(
        paths[0].ends_with("tiny.dockerd.save.tar")
            && paths[1].ends_with("multi.skopeo.oci-archive.tar")
    );
    assert!(paths[2].ends_with("tiny.dockerd.save.tar"));
    // One unreadable source: the others are still reported, and the status is 2.
    let args = ["inspect", "--json", good.to_str().unwrap(), "/nonexistent.tar"];
    let out = ocisize(&args, None);
    assert_eq!(code(&out), 2);
    let v = json(&out);
    let entries = v.as_array().unwrap();
    assert_eq!(entries.len(), 2, "every source gets its entry");
    assert!(entries[0]["images"].is_array());
    assert_eq!(entries[1]["source"]["path"], "/nonexistent.tar");
    assert_eq!(entries[1]["error"]["kind"], "read-failed");
    assert!(entries[1]["error"]["message"].as_str().unwrap().contains("/nonexistent.tar"));
    // The error line names the path once.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("/nonexistent.tar").count(), 1, "{stderr}");
}

/// Regression: `--json` with one source that cannot be read printed `[]`.
#[test]
fn json_reports_a_source_it_cannot_read() {
    let out = ocisize(&["inspect", "--json", "/nonexistent"], None);
    assert_eq!(code(&out), 2);
    let v = json(&out);
    assert_eq!(v["source"]["path"], "/nonexistent");
    assert_eq!(v["error"]["kind"], "read-failed");
}

#[test]
fn completions_and_man_pages_for_every_command() {
    for shell in ["bash", "zsh", "fish"] {
        let out = ocisize(&["completions", shell], None);
        assert_eq!(code(&out), 0, "{}", text(&out));
        assert!(text(&out).contains("inspect"), "{shell}: {}", text(&out));
    }
    let dir = tempfile::tempdir().unwrap();
    let out = ocisize(&["man", "--dir", dir.path().to_str().unwrap()], None);
    assert_eq!(code(&out), 0, "{}", text(&out));
    for page in ["ocisize.1", "ocisize-inspect.1", "ocisize-completions.1", "ocisize-man.1"] {
        let body = std::fs::read_to_string(dir.path().join(page)).unwrap();
        assert!(body.starts_with(".ie") || body.contains(".TH"), "{page}: {body}");
    }
    let page = std::fs::read_to_string(dir.path().join("ocisize-inspect.1")).unwrap();
    assert!(page.contains("no\\-verify"), "{page}");
}

/// A pipe given as a path (`ocisize inspect <(docker save x)`, a FIFO) is read as a stream:
/// it cannot be read at an offset, as a file is.
#[test]
fn a_fifo_is_read_as_a_stream() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("save.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let tar = std::fs::read(corpus("tiny.dockerd.save.tar")).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, tar))
    };
    let out = ocisize(&["inspect", "--json", fifo.to_str().unwrap()], None);
    writer.join().unwrap().unwrap();
    let v = json(&out);
    assert_eq!(v["images"][0]["verified"], true, "{v}");
    let file = json(&ocisize(
        &["inspect", "--json", corpus("tiny.dockerd.save.tar").to_str().unwrap()],
        None,
    ));
    assert_eq!(v["images"][0]["image_id"], file["images"][0]["image_id"]);
    assert_eq!(v["images"][0]["sizes"], file["images"][0]["sizes"]);
}

//! `ocisize store` as a user runs it: import → export → inspect keeps image IDs, diffIDs and
//! sizes; dedup over the whole corpus; a streamed import from standard input; inspect on the
//! store; a corrupted member never committed; fsck and gc.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use ocisize_testkit::corpus;
use serde_json::Value;

fn ocisize(args: &[&str], stdin: Option<Vec<u8>>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocisize"));
    cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    let mut child = cmd.spawn().expect("spawn ocisize");
    let writer = stdin.map(|data| {
        let mut si = child.stdin.take().unwrap();
        std::thread::spawn(move || {
            let _ = si.write_all(&data);
        })
    });
    let out = child.wait_with_output().unwrap();
    if let Some(w) = writer {
        w.join().unwrap();
    }
    out
}

/// Run, expect exit status `want`, and parse stdout as JSON.
fn json(args: &[&str], want: i32) -> Value {
    let out = ocisize(args, None);
    assert_eq!(out.status.code(), Some(want), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn import(store: &str, source: &str, name: &str) -> Value {
    json(&["store", "import", "--store", store, "--json", "--name", name, source], 0)
}

/// What must survive import → export: per image, the ID, the diffIDs and the figures.
fn facts(report: &Value) -> Vec<Value> {
    let mut v: Vec<Value> = report["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let s = &i["sizes"];
            serde_json::json!({
                "image_id": i["image_id"],
                "platform": i["platform"],
                "diff_ids": i["layers"].as_array().unwrap().iter().map(|l| l["diff_id"].clone()).collect::<Vec<_>>(),
                "sizes": [s["compressed"], s["uncompressed"], s["docker_vfs"], s["docker_overlay2"], s["containerd"]],
                "verified": i["verified"],
            })
        })
        .collect();
    v.sort_by_key(|x| x.to_string());
    v
}

#[test]
fn import_export_inspect_keeps_ids_diff_ids_and_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let cases = [
        ("tiny.dockerd.save.tar", "docker-archive"),
        ("tiny.skopeo.docker-archive.tar", "oci-archive"),
        ("multi.skopeo.oci-archive.tar", "oci"),
        ("debslice.skopeo.oci-archive.tar", "oci-archive"),
        ("tiny.skopeo.oci-archive-zstd.tar", "oci-archive"),
        ("tiny.podman.oci-dir", "oci"),
        ("tiny.skopeo.dir-v2s2", "dir"),
    ];
    for (i, (file, to)) in cases.iter().enumerate() {
        let src = corpus(file);
        let src = src.to_str().unwrap();
        let name = format!("ocisize/case{i}");
        let imported = import(s, src, &name);
        let before = json(&["inspect", "--json", src], 0);
        let dest = dir.path().join(format!("out{i}"));
        let dest = format!("{to}:{}", dest.display());
        json(&["store", "export", "--store", s, "--json", &name, &dest], 0);
        let after = json(&["inspect", "--json", &dest], 0);
        assert_eq!(facts(&after), facts(&before), "{file} → {dest}");
        // The image ID the import reports is the one inspect finds.
        let id = &imported["images"][0]["image_id"];
        assert!(facts(&before).iter().any(|f| f["image_id"] == *id), "{file}: {imported}");
        // `store ls` gives the size `ctr images ls` shows: inspect's containerd figure of
        // the source (for an index, the host's platform, amd64 here).
        let ls = json(&["store", "ls", "--store", s, "--json"], 0);
        let entry = ls
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == format!("docker.io/{name}:latest"))
            .unwrap();
        let amd64 = before["images"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["platform"] == "linux/amd64")
            .unwrap();
        assert_eq!(entry["size"], amd64["sizes"]["containerd"], "{file}: {entry}");
        assert_eq!(entry["digest"], imported["images"][0]["digest"]);
    }
    let fsck = json(&["store", "fsck", "--store", s, "--json"], 0);
    assert_eq!(fsck["corrupt"], serde_json::json!([]));
    assert_eq!(fsck["missing"], serde_json::json!([]));
    assert_eq!(fsck["unreferenced"], serde_json::json!([]));
}

/// A zstd image exported as a docker-archive: its layers go as plain tars (what `docker save`
/// writes and docker before 23.0 can read), named by their diffIDs; the image ID, the
/// diffIDs and every unpacked figure stay, and the compressed size becomes the tar's.
#[test]
fn a_zstd_image_exports_to_a_docker_archive_as_plain_tars() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("store");
    let s = s.to_str().unwrap();
    let src = corpus("tiny.skopeo.oci-archive-zstd.tar");
    import(s, src.to_str().unwrap(), "ocisize/zstd");
    let dest = dir.path().join("zstd.docker.tar");
    let dest = format!("docker-archive:{}", dest.display());
    json(&["store", "export", "--store", s, "--json", "ocisize/zstd", &dest], 0);
    let before = json(&["inspect", "--json", src.to_str().unwrap()], 0);
    let after = json(&["inspect", "--json", &dest], 0);
    let (b, a) = (&before["images"][0], &after["images"][0]);
    assert_eq!(a["image_id"], b["image_id"]);
    assert_eq!(a["verified"], true);
    let layers = |i: &Value| i["layers"].as_array().unwrap().clone();
    assert!(layers(b).iter().all(|l| l["compression"] == "zstd"), "{b}");
    for (la, lb) in layers(a).iter().zip(layers(b).iter()) {
        assert_eq!(la["diff_id"], lb["diff_id"]);
        assert_eq!(la["compression"], "none", "{la}");
        assert_eq!(la["digest"], lb["diff_id"], "a plain tar's digest is its diffID");
        assert_eq!(la["compressed_size"], lb["uncompressed_size"]);
    }
    assert_eq!(layers(a).len(), layers(b).len());
    for k in ["uncompressed", "docker_vfs", "docker_overlay2"] {
        assert_eq!(a["sizes"][k], b["sizes"][k], "{k}");
    }
    assert_eq!(a["sizes"]["compressed"], b["sizes"]["uncompressed"]);
}

fn blob_files(store: &Path) -> (u64, u64) {
    let mut n = (0, 0);
    for e in std::fs::read_dir(store.join("blobs/sha256")).unwrap() {
        n.0 += 1;
        n.1 += e.unwrap().metadata().unwrap().len();
    }
    n
}

#[test]
fn every_distinct_blob_of_the_corpus_is_written_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    let mut sources: Vec<String> = std::fs::read_dir(corpus(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".md") && !n.ends_with(".json"))
        .collect();
    sources.sort();
    let (mut blobs, mut bytes) = (0, 0);
    for (i, f) in sources.iter().enumerate() {
        let r = import(s, corpus(f).to_str().unwrap(), &format!("corpus/c{i}"));
        blobs += r["blobs_written"].as_u64().unwrap();
        bytes += r["bytes_written"].as_u64().unwrap();
    }
    assert_eq!(blob_files(&store), (blobs, bytes), "the store holds what the imports wrote");
    for (i, f) in sources.iter().enumerate() {
        let r = import(s, corpus(f).to_str().unwrap(), &format!("corpus/c{i}"));
        assert_eq!(r["blobs_written"], 0, "{f}: {r}");
        assert_eq!(r["bytes_written"], 0, "{f}: {r}");
        assert!(r["blobs_present"].as_u64().unwrap() > 0, "{f}: {r}");
    }
    assert_eq!(blob_files(&store), (blobs, bytes));
    assert!(std::fs::read_dir(store.join("ingest")).unwrap().next().is_none(), "no ingest left");
}

#[test]
fn a_streamed_import_reads_standard_input_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("store");
    let s = s.to_str().unwrap();
    let archive = std::fs::read(corpus("tiny.dockerd.save.tar")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&archive).unwrap();
    for (input, written) in [(archive.clone(), 6), (gz.finish().unwrap(), 0)] {
        let out = ocisize(&["store", "import", "--store", s, "--json", "-"], Some(input));
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(r["images"][0]["name"], "docker.io/ocisize/tiny:latest", "{r}");
        // The manifest containerd writes for this docker-archive, byte for byte.
        assert_eq!(
            r["images"][0]["digest"],
            "sha256:cd325522cedae11344923cea5eb09c331ece9c4d614111bc1686a32e5b036451"
        );
        assert_eq!(r["blobs_written"], written, "{r}");
        assert_eq!(r["blobs_present"], 6 - written, "{r}");
        assert_eq!(r["store"], Path::new(s).canonicalize().unwrap().to_str().unwrap());
    }
}

#[test]
fn inspect_reads_the_store_as_a_layout() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("store");
    let s = s.to_str().unwrap();
    import(s, corpus("multi.skopeo.oci-archive.tar").to_str().unwrap(), "ocisize/multi");
    import(s, corpus("tiny.dockerd.save.tar").to_str().unwrap(), "ocisize/tiny");
    let r = json(&["inspect", "--json", &format!("oci:{s}:docker.io/ocisize/multi:latest")], 0);
    let images = r["images"].as_array().unwrap();
    assert_eq!(images.len(), 2, "{r}");
    assert!(images.iter().all(|i| i["verified"] == true));
    let r = json(&["inspect", "--json", &format!("oci:{s}:docker.io/ocisize/tiny:latest")], 0);
    assert_eq!(
        r["images"][0]["image_id"],
        "sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c"
    );
}

#[test]
fn a_bare_tag_needs_a_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = dir.path().join("store");
    let out = ocisize(
        &[
            "store",
            "import",
            "--store",
            s.to_str().unwrap(),
            corpus("tiny.umoci.oci").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("only the tag") && err.contains("pass --name"), "{err}");
    // A repository names every tagged image of the layout.
    let r = import(s.to_str().unwrap(), corpus("tiny.umoci.oci").to_str().unwrap(), "ocisize/u");
    let names: Vec<&str> =
        r["images"].as_array().unwrap().iter().map(|i| i["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["docker.io/ocisize/u:latest", "docker.io/ocisize/u:arm64"]);
}

#[test]
fn rm_gc_and_fsck_print_what_the_issue_specifies() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let s = store.to_str().unwrap();
    import(s, corpus("tiny.dockerd.save.tar").to_str().unwrap(), "ocisize/a");
    import(s, corpus("debslice.skopeo.oci-archive.tar").to_str().unwrap(), "ocisize/b");
    let fsck = json(&["store", "fsck", "--store", s, "--json"], 0);
    let keys: Vec<&String> = fsck.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["blobs_checked", "bytes_checked", "corrupt", "missing", "unreferenced"]);
    assert_eq!(fsck["blobs_checked"], 11);
    // rm removes the name only; its blobs become unreferenced, and gc --dry-run lists them.
    let out = ocisize(&["store", "rm", "--store", s, "ocisize/b"], None);
    assert!(out.status.success());
    let out = ocisize(&["store", "rm", "--store", s, "ocisize/nothere"], None);
    assert_eq!(out.status.code(), Some(1), "a name that is not there");
    let fsck = json(&["store", "fsck", "--store", s, "--json"], 0);
    assert_eq!(fsck["unreferenced"].as_array().unwrap().len(), 5, "{fsck}");
    let dry = json(&["store", "gc", "--store", s, "--dry-run", "--json"], 0);
    let keys: Vec<&String> = dry.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["bytes_reclaimed", "dry_run", "removed"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["removed"], fsck["unreferenced"]);
    let sum: u64 =
        dry["removed"].as_array().unwrap().iter().map(|b| b["size"].as_u64().unwrap()).sum();
    assert_eq!(dry["bytes_reclaimed"], sum);
    let gc = json(&["store", "gc", "--store", s, "--json"], 0);
    assert_eq!(gc["removed"], dry["removed"]);
    // A damaged blob: fsck exits 1 and names it.
    let blob = std::fs::read_dir(store.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    std::fs::remove_file(&blob).unwrap();
    let fsck = json(&["store", "fsck", "--store", s, "--json"], 1);
    let hex = blob.file_name().unwrap().to_str().unwrap();
    assert_eq!(fsck["missing"][0]["digest"], format!("sha256:{hex}"), "{fsck}");
    let ls = json(&["store", "ls", "--store", s, "--json"], 0);
    let keys: Vec<&String> = ls[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["digest", "image_id", "media_type", "name", "platforms", "size"]);
}

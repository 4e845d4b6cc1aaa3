//! `ocisize du` as a command: JSON and table output over corpus files.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use ocisize_testkit::corpus;

fn run(args: &[&str]) -> (String, bool) {
    let out = Command::new(env!("CARGO_BIN_EXE_ocisize")).arg("du").args(args).output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.success())
}

#[test]
fn json_over_two_archives_and_a_layout() {
    let (a, l, s) = (
        corpus("tiny.skopeo.oci-archive.tar"),
        corpus("tiny.umoci.oci"),
        corpus("tiny.dockerd.save.tar"),
    );
    let args = [a.to_str().unwrap(), l.to_str().unwrap(), s.to_str().unwrap()];
    let (text, ok) = run(&[&["--json"], &args[..]].concat());
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["stores"].as_array().unwrap().len(), 3);
    assert_eq!(v["stores"][1]["kind"], "oci-layout");
    assert_eq!(v["stores"][0]["kind"], "archive");
    let d = &v["duplicates"][0];
    assert_eq!(v["duplicates"].as_array().unwrap().len(), 1);
    assert_eq!(d["names"][0], "docker.io/ocisize/tiny:latest");
    assert_eq!(d["copies"][1]["frees"], 1_978);
    assert_eq!(d["reclaimable"], 1_169_338);
    assert_eq!(v["reclaimable"], 1_169_338);
    assert_eq!(v["shared_layers"].as_array().unwrap().len(), 4);
    assert!(v["disk_usage"].as_u64().unwrap() > 4_000_000);

    // --keep docker matches no copy (all are files): the default rule applies.
    let (text, ok) = run(&[&["--json", "--keep", "docker"], &args[..]].concat());
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["reclaimable"], 1_169_338);

    let (table, ok) = run(&args);
    assert!(ok);
    assert!(table.contains("DUPLICATES"), "{table}");
    assert!(table.contains("reclaimable 1169338 (1.17MB)"), "{table}");
    assert!(table.contains("docker.io/ocisize/tiny:latest  60df9f5c591b  2350093"), "{table}");
}

#[test]
fn a_missing_root_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let arg = format!("containerd-root:{}", dir.path().join("none").display());
    let out = Command::new(env!("CARGO_BIN_EXE_ocisize")).args(["du", &arg]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("containerd"));
}

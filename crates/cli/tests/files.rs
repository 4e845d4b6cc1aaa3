//! The real `ocisize` binary: `inspect --files` and `diff`, table and JSON.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use serde_json::Value;

fn testdata(p: &str) -> String {
    format!("{}/../../testdata/{p}", env!("CARGO_MANIFEST_DIR"))
}

fn ocisize(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ocisize")).args(args).output().expect("run ocisize")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn inspect_files_json_and_table() {
    let edge = testdata("edge/edge.umoci.oci");
    let out = ocisize(&["inspect", "--files", "--top", "2", "--json", &edge]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["images"][0]["files"];
    assert_eq!(f["wasted_bytes"], 1081);
    assert_eq!(f["dive_wasted_bytes"], 1112);
    assert!((f["efficiency"].as_f64().unwrap() - 50.0 / 1126.0).abs() < 1e-12);
    assert_eq!(f["top"].as_array().unwrap().len(), 2);
    assert_eq!(f["top"][0], serde_json::json!({"path": "a", "wasted_bytes": 1000, "copies": 2}));

    let table = stdout(&ocisize(&["inspect", "--files", &edge]));
    assert!(table.contains("wasted 1.08 kB (1081 bytes in 9 hidden copies"), "{table}");
    assert!(table.contains("dive efficiency 4.4405%"), "{table}");
    assert!(table.lines().any(|l| l.trim_start().starts_with("1.00 kB  2       /a")), "{table}");

    let plain: Value =
        serde_json::from_slice(&ocisize(&["inspect", "--json", &edge]).stdout).unwrap();
    assert!(plain["images"][0].get("files").is_none(), "no files section without --files");
}

#[test]
fn diff_json_and_table() {
    // The same image in two formats: every layer in common, no file differs.
    let a = testdata("edge/edge.umoci.oci");
    let b = testdata("edge/edge.skopeo.oci-archive.tar");
    let out = ocisize(&["diff", "--json", &a, &b]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layers"]["common"].as_array().unwrap().len(), 2);
    assert_eq!(v["layers"]["common_prefix"], 2);
    assert_eq!(v["files"]["added"], 0);
    assert_eq!(v["files"]["removed"], 0);
    assert_eq!(v["files"]["modified"], 0);
    assert!(v["files"]["unchanged"].as_u64().unwrap() > 5);

    // tiny against edge: nothing shared; busybox is gone.
    let tiny = testdata("corpus/tiny.umoci.oci");
    let out =
        ocisize(&["diff", "--json", "--platform", "linux/amd64", "--max-changes", "3", &tiny, &a]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layers"]["common"].as_array().unwrap().len(), 0);
    assert_eq!(v["layers"]["only_a"].as_array().unwrap().len(), 4);
    assert_eq!(v["layers"]["only_b"].as_array().unwrap().len(), 2);
    assert_eq!(v["files"]["changes"].as_array().unwrap().len(), 3);
    assert_eq!(v["files"]["truncated"], true);
    assert!(v["files"]["removed_bytes"].as_u64().unwrap() > 1_900_000);

    let table = stdout(&ocisize(&["diff", &tiny, &a]));
    assert!(table.contains("layers: 0 in common"), "{table}");
    assert!(table.contains("  - /bin/busybox  file 1982256"), "{table}");
    assert!(table.contains("  + /abs  symlink -> /etc/passwd"), "{table}");

    let missing = ocisize(&["diff", &a, &testdata("nonexistent")]);
    assert_eq!(missing.status.code(), Some(2));
}

#[test]
fn files_without_reading_the_layers_is_refused() {
    let out = ocisize(&["inspect", "--files", "--no-verify", &testdata("edge/edge.umoci.oci")]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'--files' cannot be used with '--no-verify'"), "{err}");
}

/// A file rewritten with other bytes of the same size is `modified` for its `content`, in the
/// JSON and in the table; the hand-built pair is `ocisize_testkit::oci::content_pair`.
#[test]
fn diff_reports_content_changes() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ocisize_testkit::oci::content_pair(dir.path());
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let out = ocisize(&["diff", "--json", a, b]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = &v["files"];
    assert_eq!((f["modified"].as_u64(), f["content_modified"].as_u64()), (Some(3), Some(3)));
    let conf = f["changes"].as_array().unwrap().iter().find(|c| c["path"] == "etc/conf").unwrap();
    assert_eq!(conf["change"], "modified");
    assert_eq!(conf["reasons"], serde_json::json!(["content"]));
    assert_eq!(conf["a"]["size"], conf["b"]["size"]);
    assert!(conf["a"]["content"].as_str().unwrap().starts_with("xxh3-128:"), "{conf}");
    assert_ne!(conf["a"]["content"], conf["b"]["content"]);
    assert!(f["changes"].as_array().unwrap().iter().all(|c| c["path"] != "etc/same"));

    let table = stdout(&ocisize(&["diff", a, b]));
    assert!(table.contains("3 modified (+0 bytes; 3 in content only), 7 unchanged"), "{table}");
    assert!(table.contains("  ~ /etc/conf  file 10 => file 10 (content)"), "{table}");
    assert!(
        table.contains("  ~ /bin/app-hard  hardlink -> bin/app => hardlink -> bin/app (content)"),
        "{table}"
    );
    assert!(!table.contains("/etc/same"), "{table}");
}

//! podman's two rules on hand-made containers-storage roots: parent and child images
//! (podman 4), layers shared (podman 5), how the rule is chosen, damaged stores.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::fs;
use std::path::Path;

use ocisize_digest::{Algorithm, Digest};
use ocisize_runtime::{
    open, Error, Kind, Options, PodmanRule, Problem, RuleEvidence, RuntimeStore,
};

fn diff(n: u8) -> Digest {
    Digest::of(Algorithm::Sha256, &[n])
}

/// The standard base64 of `s` (what containers/storage names a big data file after).
fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                char::from(A[(n >> (18 - 6 * i) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

/// A store of three images: `a` on layers 1, 2; `b` = `a` + layer 3, one history entry
/// more (a child of `a` for podman 4); `c` on layer 1 + layer 4, another history. Layer n
/// has diff-size 1000 × n; every image has 10 bytes of manifest and its config as big data.
fn store(root: &Path) -> [Digest; 3] {
    let history = |steps: &[&str]| -> serde_json::Value {
        steps
            .iter()
            .map(|s| serde_json::json!({"created": "2024-01-01T00:00:00Z", "created_by": s}))
            .collect()
    };
    let config = |diffs: &[u8], hist: serde_json::Value| {
        let diffs: Vec<Digest> = diffs.iter().map(|&n| diff(n)).collect();
        serde_json::json!({"rootfs": {"type": "layers", "diff_ids": diffs}, "history": hist})
            .to_string()
    };
    write_store(
        root,
        &[
            (
                "l2",
                config(&[1, 2], history(&["ADD", "RUN a"])),
                &["localhost/a:1", "localhost/a:2"],
            ),
            ("l3", config(&[1, 2, 3], history(&["ADD", "RUN a", "RUN b"])), &["localhost/b:1"]),
            ("l4", config(&[1, 4], history(&["ADD", "RUN c"])), &[]),
        ],
    )
}

/// Layers l1 to l4 (and a container's layer on l3) and an image per spec: (top layer,
/// config, names); the image IDs.
fn write_store<const N: usize>(root: &Path, specs: &[(&str, String, &[&str]); N]) -> [Digest; N] {
    let layers = serde_json::json!([
        {"id": "l1", "diff-digest": diff(1).to_string(), "diff-size": 1000},
        {"id": "l2", "parent": "l1", "diff-digest": diff(2).to_string(), "diff-size": 2000},
        {"id": "l3", "parent": "l2", "diff-digest": diff(3).to_string(), "diff-size": 3000},
        {"id": "l4", "parent": "l1", "diff-digest": diff(4).to_string(), "diff-size": 4000},
        // A container's layer: no digest, no size.
        {"id": "rw", "parent": "l3"},
    ]);
    fs::create_dir_all(root.join("overlay-layers")).unwrap();
    fs::write(root.join("overlay-layers/layers.json"), layers.to_string()).unwrap();
    let mut records = Vec::new();
    let ids = specs.each_ref().map(|(top, config, names)| {
        let id = Digest::of(Algorithm::Sha256, config.as_bytes());
        let dir = root.join("overlay-images").join(id.hex());
        fs::create_dir_all(&dir).unwrap();
        let key = id.to_string();
        fs::write(dir.join(format!("={}", b64(&key))), config).unwrap();
        fs::write(dir.join("manifest"), "0123456789").unwrap();
        records.push(serde_json::json!({
            "id": id.hex(), "names": names, "layer": top,
            "big-data-names": [key, "manifest"],
            "big-data-sizes": {key.clone(): config.len(), "manifest": 10},
        }));
        id
    });
    fs::write(
        root.join("overlay-images/images.json"),
        serde_json::Value::from(records).to_string(),
    )
    .unwrap();
    ids
}

fn config_len(root: &Path, id: Digest) -> u64 {
    fs::metadata(
        root.join("overlay-images").join(id.hex()).join(format!("={}", b64(&id.to_string()))),
    )
    .unwrap()
    .len()
}

fn read(root: &Path, rule: Option<PodmanRule>) -> RuntimeStore {
    let mut options = Options::default();
    options.podman_rule = rule;
    let stores = open(Kind::ContainersStorage, root, &options).unwrap();
    let layers = root.join(format!("{}-layers", stores[0].driver));
    common::check_units(&stores, |_| layers.clone());
    stores.into_iter().next().unwrap()
}

fn figures(s: &RuntimeStore, id: Digest) -> (u64, u64, u64, u64) {
    let i = s.images.iter().find(|i| i.image_id == id).unwrap();
    (i.size, i.shared_size, i.unique_size, i.frees)
}

#[test]
fn podman_4_shares_by_parent_and_child() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = store(dir.path());
    let big = |id| 10 + config_len(dir.path(), id);
    fs::create_dir_all(dir.path().join("libpod")).unwrap();
    fs::write(dir.path().join("libpod/bolt_state.db"), "").unwrap();
    let s = read(dir.path(), None);
    let rule = s.podman_rule.unwrap();
    assert_eq!((rule.rule, rule.evidence), (PodmanRule::V4, RuleEvidence::BoltDb));
    let (sa, sb, sc) = (3000 + big(a), 6000 + big(b), 5000 + big(c));
    // a has a child (b): all shared; b has a parent (a): a's size shared; c: neither.
    assert_eq!(figures(&s, a), (sa, sa, 0, big(a)));
    assert_eq!(figures(&s, b), (sb, sa, sb - sa, 3000 + big(b)));
    assert_eq!(figures(&s, c), (sc, 0, sc, 4000 + big(c)));
    // The rows summed: a twice (two tags), b once, c once (untagged).
    assert_eq!(s.size, 2 * sa + sb + sc);
    // The container's layer is in no image: podman 4 never needs its size.
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    assert_eq!(s.images[0].chain_ids, ocisize_digest::chain_ids(&[diff(1), diff(2)]));
}

#[test]
fn podman_5_shares_by_layer() {
    let dir = tempfile::tempdir().unwrap();
    let [a, b, c] = store(dir.path());
    let big = |id| 10 + config_len(dir.path(), id);
    fs::write(dir.path().join("db.sql"), "").unwrap();
    let s = read(dir.path(), None);
    let rule = s.podman_rule.unwrap();
    assert_eq!((rule.rule, rule.evidence), (PodmanRule::V5, RuleEvidence::SqliteDb));
    // Layer 1 is in a, b and c; layer 2 in a and b; 3 and 4 in one image each.
    assert_eq!(figures(&s, a), (3000 + big(a), 3000, big(a), big(a)));
    assert_eq!(figures(&s, b), (6000 + big(b), 3000, 3000 + big(b), 3000 + big(b)));
    assert_eq!(figures(&s, c), (5000 + big(c), 1000, 4000 + big(c), 4000 + big(c)));
    // Every layer once (the container's is 0) and every image's big data.
    assert_eq!(s.size, 10_000 + big(a) + big(b) + big(c));
    // The override wins over the database.
    let v4 = read(dir.path(), Some(PodmanRule::V4));
    let rule = v4.podman_rule.unwrap();
    assert_eq!((rule.rule, rule.evidence), (PodmanRule::V4, RuleEvidence::Override));
    // No database at all: the current podman's rule.
    fs::remove_file(dir.path().join("db.sql")).unwrap();
    let rule = read(dir.path(), None).podman_rule.unwrap();
    assert_eq!((rule.rule, rule.evidence), (PodmanRule::V5, RuleEvidence::NoDatabase));
}

#[test]
fn a_missing_layer_and_an_unknown_size_are_problems() {
    let dir = tempfile::tempdir().unwrap();
    let [a, _, _] = store(dir.path());
    let path = dir.path().join("overlay-layers/layers.json");
    let mut layers: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let list = layers.as_array_mut().unwrap();
    list.retain(|l| l["id"] != "l4");
    list[1].as_object_mut().unwrap().remove("diff-digest");
    fs::write(&path, layers.to_string()).unwrap();
    let s = read(dir.path(), Some(PodmanRule::V4));
    assert!(
        s.problems.contains(&Problem::LayerSizeUnknown { layer: "l2".into() }),
        "{:?}",
        s.problems
    );
    assert!(s
        .problems
        .iter()
        .any(|p| matches!(p, Problem::LayerMissing { layer, .. } if layer == "l4")));
    // a's size counts l2 as 0, and says so.
    assert_eq!(figures(&s, a).0, 1000 + 10 + config_len(dir.path(), a));
}

#[test]
fn a_torn_images_json_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    store(dir.path());
    fs::write(dir.path().join("overlay-images/images.json"), "[{\"id\":").unwrap();
    let e = open(Kind::ContainersStorage, dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(&e, Error::Json { path, .. } if path.ends_with("images.json")), "{e}");
}

/// Configs as Go writes and reads them: `null` for an empty history, an unset environment,
/// an unset flag. libimage reads them (Go's `encoding/json` takes `null` as absent), so the
/// parent/child rule relates these two: the child has the parent's diffIDs and one history
/// entry more.
#[test]
fn podman_4_relates_configs_with_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let ids = |n: &[u8]| n.iter().map(|&n| format!("\"{}\"", diff(n))).collect::<Vec<_>>();
    let parent = format!(
        r#"{{"architecture":"amd64","os":"linux","variant":null,"config":{{"Env":null,"Cmd":null}},
        "rootfs":{{"type":"layers","diff_ids":[{}]}},"history":null}}"#,
        ids(&[1, 2]).join(",")
    );
    let child = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":null}},
        "rootfs":{{"type":"layers","diff_ids":[{}]}},
        "history":[{{"created_by":"RUN b","author":null,"comment":null,"empty_layer":null}}]}}"#,
        ids(&[1, 2, 3]).join(",")
    );
    let [a, b] = write_store(
        dir.path(),
        &[("l2", parent, &["localhost/a:1"]), ("l3", child, &["localhost/b:1"])],
    );
    let s = read(dir.path(), Some(PodmanRule::V4));
    let big = |id| 10 + config_len(dir.path(), id);
    let (sa, sb) = (3000 + big(a), 6000 + big(b));
    assert_eq!(figures(&s, a), (sa, sa, 0, big(a)), "a has a child");
    assert_eq!(figures(&s, b), (sb, sa, sb - sa, 3000 + big(b)), "b has a parent");
    let b_chain = &s.images.iter().find(|i| i.image_id == b).unwrap().chain_ids;
    assert_eq!(b_chain, &ocisize_digest::chain_ids(&[diff(1), diff(2), diff(3)]));
}

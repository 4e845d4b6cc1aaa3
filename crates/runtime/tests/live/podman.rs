//! podman 4.3.1 (the testkit's [`Podman`]): the family loaded and built on, the libpod API's
//! `/system/df` (what `podman system df -v` prints; podman 4.3's `--format json` does not
//! apply to `-v`) against what ocisize-runtime reads from the storage root.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ocisize_digest::Digest;
use ocisize_runtime::{open, Kind, Options, PodmanRule, RuleEvidence};
use ocisize_testkit::daemons::{du_b1, Podman};

fn num(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// ocisize-runtime's figures for the store against podman's: every row's Size, SharedSize
/// and UniqueSize, the tags, the Images total (the rows summed, as podman 4.3 prints it),
/// the rule chosen, and `du -B1`. Returns the chain IDs by image ID.
pub fn check(p: &Podman, df: &serde_json::Value) -> BTreeMap<Digest, Vec<Digest>> {
    let stores =
        open(Kind::ContainersStorage, &p.root, &Options::default()).expect("read the store");
    assert_eq!(stores.len(), 1);
    let store = &stores[0];
    assert_eq!(store.driver, p.driver);
    assert!(store.problems.is_empty(), "{:?}", store.problems);
    let choice = store.podman_rule.expect("a podman rule");
    assert_eq!((choice.rule, choice.evidence), (PodmanRule::V4, RuleEvidence::BoltDb));
    let rows = df["Images"].as_array().expect("Images");
    let mut tags: BTreeMap<Digest, Vec<String>> = BTreeMap::new();
    let mut total = 0;
    for row in rows {
        let id: Digest =
            format!("sha256:{}", row["ImageID"].as_str().expect("ImageID")).parse().expect("id");
        let ours = store.images.iter().find(|i| i.image_id == id).expect("the image");
        let (size, shared, unique) =
            (num(row, "Size"), num(row, "SharedSize"), num(row, "UniqueSize"));
        eprintln!(
            "podman {} {} {}:{}: Size {size} SharedSize {shared} UniqueSize {unique}",
            p.driver,
            id.short(),
            row["Repository"],
            row["Tag"]
        );
        assert_eq!(
            (ours.size, ours.shared_size, ours.unique_size),
            (size, shared, unique),
            "{row}"
        );
        total += size;
        let entry = tags.entry(id).or_default();
        if row["Repository"] != "<none>" {
            entry.push(format!(
                "{}:{}",
                row["Repository"].as_str().expect("repo"),
                row["Tag"].as_str().expect("tag")
            ));
        }
    }
    assert_eq!(tags.len(), store.images.len(), "every image has a row");
    let mut chains = BTreeMap::new();
    for image in &store.images {
        let mut want: Vec<String> = tags[&image.image_id]
            .iter()
            .map(|t| ocisize_reference::Reference::parse_normalized(t).expect("name").to_string())
            .collect();
        want.sort();
        let names: Vec<String> = image.names.iter().map(|n| n.to_string()).collect();
        assert_eq!(names, want, "names of {}", image.image_id);
        chains.insert(image.image_id, image.chain_ids.clone());
    }
    eprintln!("podman {} Images total {total}", p.driver);
    assert_eq!(store.size, total, "the rows summed");
    let drv = &p.driver;
    let paths: Vec<PathBuf> =
        ["", "-images", "-layers"].iter().map(|s| p.root.join(format!("{drv}{s}"))).collect();
    assert_eq!(store.disk_usage, Some(du_b1(&paths)), "du -B1");
    chains
}

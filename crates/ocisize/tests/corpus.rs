//! Every image of the real-tool corpus, inspected and checked against what the tools
//! themselves reported (`testdata/corpus/reference.json`, see `testdata/README.md`).

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::path::{Path, PathBuf};

use ocisize::{inspect, ImageReport, Options, Report, SourceArg};
use serde_json::Value;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/corpus")
}

fn reference() -> Value {
    let text = std::fs::read_to_string(corpus().join("reference.json")).expect("reference.json");
    serde_json::from_str(&text).expect("reference.json parses")
}

fn run(name: &str) -> Report {
    let arg = SourceArg::path(corpus().join(name));
    inspect(&arg, &Options::default()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn s(v: &Value) -> &str {
    v.as_str().expect("string")
}

/// The image the tools describe: for an index, the linux/amd64 entry (what every tool picked
/// on the amd64 machine that made the corpus).
fn default_image<'a>(name: &str, r: &'a Report) -> &'a ImageReport {
    r.images
        .iter()
        .find(|i| i.platform.as_deref() == Some("linux/amd64"))
        .unwrap_or_else(|| panic!("{name}: no linux/amd64 image in {:#?}", r.images))
}

#[test]
fn every_corpus_item_matches_the_tools() {
    let reference = reference();
    let items = reference["items"].as_object().expect("items");
    let mut checked = 0usize;
    for (name, item) in items {
        let r = run(name);
        assert!(r.verified(), "{name}: not verified: {:#?}", r.problems);
        assert!(r.problems.iter().all(|p| p.severity == ocisize::Severity::Warning));
        let img = default_image(name, &r);
        assert!(img.verified, "{name}");
        let sk = &item["skopeo"];

        // Image ID = config digest.
        if let Some(cd) = sk["config_descriptor"]["value"]["digest"].as_str() {
            assert_eq!(
                img.image_id.map(|d| d.to_string()).as_deref(),
                Some(cd),
                "{name}: image id"
            );
            checked += 1;
        }
        // diffIDs, in order, and layer count.
        let diff_ids: Vec<&str> =
            sk["diff_ids"]["value"].as_array().expect("diff_ids").iter().map(s).collect();
        let ours: Vec<String> =
            img.layers.iter().map(|l| l.diff_id.expect("diff id").to_string()).collect();
        assert_eq!(ours, diff_ids, "{name}: diffIDs");
        checked += 1;
        // Layer digests and sizes, where the source has a real manifest.
        if let Some(layers) = sk["layers"]["value"].as_array() {
            let format = r.source.format.name();
            if format != "docker-archive" {
                for (l, want) in img.layers.iter().zip(layers) {
                    assert_eq!(
                        l.digest.map(|d| d.to_string()).as_deref(),
                        Some(s(&want["digest"]))
                    );
                    assert_eq!(l.compressed_size, want["size"].as_u64(), "{name}: layer size");
                    checked += 2;
                }
            }
        }
        // Every blob's size and uncompressed size as coreutils measured them.
        for b in item["coreutils_blobs"]["blobs"].as_array().into_iter().flatten() {
            let role = s(&b["role"]);
            let Some(idx) = layer_index(role) else {
                continue;
            };
            if role.contains('[') && role.contains("ref=") && !role.contains("linux/amd64") {
                continue;
            }
            let l = &img.layers[idx];
            assert_eq!(l.compressed_size, b["size"].as_u64(), "{name}: {role} size");
            assert_eq!(l.uncompressed_size, b["uncompressed_size"].as_u64(), "{name}: {role}");
            assert_eq!(
                l.diff_id.map(|d| d.to_string()).as_deref(),
                Some(s(&b["uncompressed_sha256"])),
                "{name}: {role} uncompressed sha256"
            );
            assert_eq!(
                l.compression.map(|c| c.name()),
                Some(s(&b["compression_by_magic"])),
                "{name}: {role} compression"
            );
            checked += 4;
        }
        // Manifest digest where the source holds the manifest.
        if r.source.format != ocisize::Format::DockerArchive {
            if let Some(entries) = sk["index_entries"]["value"].as_array() {
                let amd = entries
                    .iter()
                    .find(|e| e["platform"]["architecture"] == "amd64")
                    .expect("amd64 entry");
                assert_eq!(
                    img.manifest_digest.map(|d| d.to_string()).as_deref(),
                    Some(s(&amd["digest"])),
                    "{name}: manifest digest"
                );
                assert_eq!(r.images.len(), entries.len(), "{name}: one image per platform");
                checked += 2;
            } else if let Some(md) = sk["manifest_digest"]["value"].as_str() {
                assert_eq!(
                    img.manifest_digest.map(|d| d.to_string()).as_deref(),
                    Some(md),
                    "{name}: manifest digest"
                );
                checked += 1;
            }
        }
        // docker (vfs): inspect .Size, images SIZE, per-layer layerdb sizes.
        let dk = &item["docker"];
        if let Some(insp) = dk["inspect"]["value"].as_array().and_then(|a| a.first()) {
            assert_eq!(img.sizes.docker_vfs, insp["Size"].as_u64(), "{name}: docker .Size");
            assert_eq!(
                img.image_id.map(|d| d.to_string()).as_deref(),
                Some(s(&insp["Id"])),
                "{name}: docker Id"
            );
            checked += 2;
        }
        if let Some(row) = dk["images"]["value"]["rows"].as_array().and_then(|a| a.first()) {
            assert_eq!(img.printed.docker.as_deref(), Some(s(&row["SIZE"])), "{name}: docker SIZE");
            checked += 1;
        }
        for l in dk["layerdb"]["value"].as_array().into_iter().flatten() {
            let diff = s(&l["diff"]);
            let size: u64 = s(&l["size"]).parse().expect("layerdb size");
            let ours = img
                .layers
                .iter()
                .find(|x| x.diff_id.map(|d| d.to_string()).as_deref() == Some(diff))
                .expect("layer by diff id");
            assert_eq!(ours.docker_vfs_size, Some(size), "{name}: layerdb size of {diff}");
            assert_eq!(
                ours.chain_id.map(|d| d.to_string()).as_deref(),
                Some(s(&l["chainid"])),
                "{name}: chain id"
            );
            checked += 2;
        }
        // podman: inspect .Size and images SIZE.
        let pm = &item["podman"];
        if let Some(size) = pm["inspect"]["value"]["Size"].as_u64() {
            assert_eq!(img.sizes.podman, Some(size), "{name}: podman .Size");
            let digest = img.runtime_digests.podman.map(|d| d.to_string());
            assert_eq!(digest.as_deref(), Some(s(&pm["inspect"]["value"]["Digest"])), "{name}");
            checked += 2;
            let repo = s(&pm["inspect"]["value"]["RepoTags"][0]);
            let row = pm["images"]["value"]["rows"]
                .as_array()
                .expect("podman rows")
                .iter()
                .find(|r| repo.starts_with(s(&r["REPOSITORY"])))
                .expect("podman row");
            assert_eq!(img.printed.podman.as_deref(), Some(s(&row["SIZE"])), "{name}: podman SIZE");
            checked += 1;
        }
        // containerd: ctr images ls SIZE and the CRI size crictl shows.
        let ct = &item["containerd"];
        if let Some(row) = ct["images_ls"]["value"]["rows"].as_array().and_then(|a| a.first()) {
            assert_eq!(img.printed.ctr.as_deref(), Some(s(&row["SIZE"])), "{name}: ctr SIZE");
            let digest = img.runtime_digests.containerd.map(|d| d.to_string());
            assert_eq!(digest.as_deref(), Some(s(&row["DIGEST"])), "{name}: ctr DIGEST");
            checked += 2;
        }
        if let Some(cri) = ct["cri_list_images"]["value"].as_array().and_then(|a| a.first()) {
            assert_eq!(img.sizes.containerd, cri["size"].as_u64(), "{name}: CRI size");
            checked += 1;
        }
    }
    // Guard against a reference file that silently stopped matching anything.
    assert!(checked > 300, "only {checked} figures checked");
    eprintln!("{checked} figures checked against reference.json");
}

fn layer_index(role: &str) -> Option<usize> {
    let i = role.rfind(".layer[")?;
    let rest = &role[i + 7..];
    rest.strip_suffix(']')?.parse().ok()
}

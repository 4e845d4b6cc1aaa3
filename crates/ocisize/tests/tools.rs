//! Figures read from the real tools for images beyond the shared corpus
//! (`testdata/edge/reference.json`): an image with two layers, hardlinks, symlinks and
//! whiteouts (made by umoci, converted by skopeo), loaded into dockerd with the overlay2 and
//! vfs drivers, into containerd and into podman; dockerd's overlay2 figures for two corpus
//! images (the corpus itself was made with vfs); podman's size and digest for fourteen
//! corpus images in every format it reads (`load`, `pull oci:`, `dir:`, `oci-archive:`); and
//! containerd's `ctr images ls` digest and size for the four `ctr export` archives.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use ocisize::{inspect, units, ImageReport, Options, SourceArg};
use serde_json::Value;

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// The file's only image, or the one for `platform`.
fn image(file: &str, platform: Option<&str>) -> ImageReport {
    let arg = SourceArg::path(testdata().join(file));
    let r = inspect(&arg, &Options::default()).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert!(r.verified(), "{file}: {:#?}", r.problems);
    if platform.is_none() {
        assert_eq!(r.images.len(), 1, "{file}");
    }
    r.images
        .into_iter()
        .find(|i| platform.is_none() || i.platform.as_deref() == platform)
        .unwrap_or_else(|| panic!("{file}: no image for {platform:?}"))
}

#[test]
fn figures_match_dockerd_overlay2_and_vfs_containerd_and_podman() {
    let text = std::fs::read_to_string(testdata().join("edge/reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for item in reference["items"].as_array().unwrap() {
        let file = item["file"].as_str().unwrap();
        let num = |k: &str| item.get(k).and_then(Value::as_u64);
        let text = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
        let img = image(file, text("platform").as_deref());
        if let Some(id) = text("image_id") {
            assert_eq!(img.image_id.map(|d| d.to_string()), Some(id), "{file}");
        }
        if let Some(d) = text("manifest_digest") {
            assert_eq!(img.manifest_digest.map(|m| m.to_string()), Some(d), "{file}");
        }
        if let Some(n) = num("docker_overlay2") {
            assert_eq!(img.sizes.docker_overlay2, Some(n), "{file} overlay2");
            assert_eq!(Some(units::docker(n)), text("docker_overlay2_printed"), "{file}");
            checked += 2;
        }
        let pairs = [
            ("docker_vfs", img.sizes.docker_vfs, "docker_vfs_printed", img.printed.docker.clone()),
            ("containerd", img.sizes.containerd, "ctr_printed", img.printed.ctr.clone()),
            ("podman", img.sizes.podman, "podman_printed", img.printed.podman.clone()),
        ];
        for (key, got, printed_key, printed) in pairs {
            if let Some(n) = num(key) {
                assert_eq!(got, Some(n), "{file} {key}");
                checked += 1;
            }
            if let Some(p) = text(printed_key) {
                assert_eq!(printed, Some(p), "{file} {printed_key}");
                checked += 1;
            }
        }
        let digests = [
            ("ctr_digest", img.runtime_digests.containerd),
            ("podman_digest", img.runtime_digests.podman),
        ];
        for (key, got) in digests {
            if let Some(d) = text(key) {
                assert_eq!(got.map(|d| d.to_string()), Some(d), "{file} {key}");
                checked += 1;
            }
        }
        // Printed by the docker 20.10 client (4 significant digits; docker/cli >= 24.0 prints 3).
        if let Some(p) = text("docker_df_printed") {
            assert_eq!(img.printed.docker_df_v20, Some(p), "{file} docker_df (20.10)");
            checked += 1;
        }
    }
    assert_eq!(checked, 58, "every figure in edge/reference.json was compared");
}

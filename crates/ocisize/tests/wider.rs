//! ocisize against what the real runtimes did with inputs from the wider world
//! (`testdata/wider`, see its README): archives as crane/kaniko and docker 25 write them, a
//! `docker save` of a parent and a child, artifacts (oras, helm, cosign, buildx attestations)
//! next to images, a layout missing a platform, `RepoTags` the runtimes refuse, config members
//! named by the wrong digest, a v2s2 manifest in an OCI layout, and `docker system df -v`.
//! Every expected figure is read from `testdata/wider/reference.json` (`figures`), which
//! `testdata/wider/make.sh` filled from dockerd 20.10.24, podman 4.3.1, containerd 1.6.20 and
//! skopeo 1.9.3.
//!
//! The last section checks report fields that do not exist yet (`artifacts`,
//! `problems[].kind`, `printed.docker_df_v20`) through `serde_json::Value`, so the file
//! compiles whatever the report looks like.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ocisize::{inspect, Digest, ImageReport, Options, Report, Severity, SourceArg};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn reference() -> &'static Value {
    static REF: OnceLock<Value> = OnceLock::new();
    REF.get_or_init(|| {
        let text = std::fs::read_to_string(root().join("testdata/wider/reference.json")).unwrap();
        serde_json::from_str(&text).unwrap()
    })
}

/// The figures the tools printed for one fixture.
fn fig(path: &str) -> &'static Value {
    let f = &reference()["figures"][path];
    assert!(f.is_object(), "reference.json has no figures for {path}");
    f
}

fn report(path: &str) -> Report {
    let arg = SourceArg::path(root().join(path));
    inspect(&arg, &Options::default()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn d(x: Option<Digest>) -> Option<String> {
    x.map(|d| d.to_string())
}

fn one<'a>(path: &str, r: &'a Report) -> &'a ImageReport {
    assert_eq!(r.images.len(), 1, "{path}: {:#?}", r.images);
    &r.images[0]
}

/// `docker image inspect` .Id and .Size, `docker images` SIZE (dockerd 20.10, vfs).
fn check_docker(what: &str, img: &ImageReport, want: &Value) {
    assert_eq!(d(img.image_id).as_deref(), Some(s(&want["id"])), "{what}: docker .Id");
    assert_eq!(img.sizes.docker_vfs, want["size"].as_u64(), "{what}: docker .Size");
    assert_eq!(img.printed.docker.as_deref(), Some(s(&want["printed"])), "{what}: docker SIZE");
}

/// `podman images` Id, Size and Digest after `podman load` / `podman pull`.
fn check_podman(what: &str, img: &ImageReport, want: &Value) {
    assert_eq!(d(img.image_id).as_deref(), Some(s(&want["id"])), "{what}: podman Id");
    assert_eq!(img.sizes.podman, want["size"].as_u64(), "{what}: podman .Size");
    let digest = d(img.runtime_digests.podman);
    assert_eq!(digest.as_deref(), Some(s(&want["digest"])), "{what}: podman .Digest");
}

/// `ctr images ls` DIGEST and SIZE, and containerd's exact sum, after `ctr images import`.
fn check_containerd(what: &str, img: &ImageReport, want: &Value) {
    let digest = d(img.runtime_digests.containerd);
    assert_eq!(digest.as_deref(), Some(s(&want["digest"])), "{what}: ctr DIGEST");
    assert_eq!(img.sizes.containerd, want["size"].as_u64(), "{what}: containerd size");
    assert_eq!(img.printed.ctr.as_deref(), Some(s(&want["printed"])), "{what}: ctr SIZE");
}

fn ctr_row<'a>(f: &'a Value, ref_suffix: &str) -> &'a Value {
    f["containerd"]["images"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| s(&r["ref"]).ends_with(ref_suffix))
        .unwrap_or_else(|| panic!("no ctr image {ref_suffix}"))
}

fn no_errors(path: &str, r: &Report) {
    let errors: Vec<_> = r.problems.iter().filter(|p| p.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{path}: the runtimes accept it, ocisize says {errors:#?}");
}

/// Case 1: crane `tarball.Write` (kaniko writes the same): `sha256:<hex>` config member,
/// gzip layers as `<hex>.tar.gz`. containers/image lists the diffIDs and uncompressed sizes
/// in the manifest it synthesizes; containerd the compressed ones.
#[test]
fn crane_tarball_with_gzip_members() {
    let path = "testdata/wider/tiny.crane.docker-archive.tar";
    let (f, r) = (fig(path), report(path));
    no_errors(path, &r);
    let img = one(path, &r);
    check_docker(path, img, &f["docker"]["images"][0]);
    check_podman(path, img, &f["podman"]["images"][0]);
    check_containerd(path, img, &f["containerd"]["images"][0]);
    assert_eq!(d(img.runtime_digests.podman).as_deref(), Some(s(&f["skopeo"]["raw_digest"])));
    let raw: Value = serde_json::from_str(s(&f["skopeo"]["raw"]["stdout"])).unwrap();
    let want = raw["layers"].as_array().unwrap();
    assert_eq!(img.layers.len(), want.len(), "{path}: layers");
    for (l, w) in img.layers.iter().zip(want) {
        assert_eq!(l.uncompressed_size, w["size"].as_u64(), "{path}: uncompressed size");
        assert_eq!(d(l.diff_id).as_deref(), Some(s(&w["digest"])), "{path}: diffID");
        assert_eq!(l.compression.map(|c| c.name()), Some("gzip"), "{path}: compression");
    }
}

/// Cases 2 and 8: `docker save parent child` from dockerd 20.10: two images, in
/// manifest.json order (skopeo's `:@0` and `:@1`). The layer both share as their 4th is
/// written once; the other image's `<id>/layer.tar` is a symlink to it, and containers/image
/// lists that layer with size 0 in the manifest podman keeps (its `.Digest` and `.Size`).
#[test]
fn docker_save_of_a_parent_and_a_child() {
    let path = "testdata/wider/tiny-child.dockerd.save.tar";
    let (f, r) = (fig(path), report(path));
    no_errors(path, &r);
    assert_eq!(r.images.len(), 2, "{path}");
    for (i, img) in r.images.iter().enumerate() {
        let what = format!("{path} @{i}");
        let at = &f["skopeo_at"][i];
        let config: Value = serde_json::from_str(s(&at["raw"]["stdout"])).unwrap();
        let id = s(&config["config"]["digest"]);
        assert_eq!(d(img.image_id).as_deref(), Some(id), "{what}: order of manifest.json");
        assert_eq!(d(img.runtime_digests.podman).as_deref(), Some(s(&at["raw_digest"])), "{what}");
        let pick =
            |list: &'static Value| list.as_array().unwrap().iter().find(|x| x["id"] == id).unwrap();
        check_docker(&what, img, pick(&f["docker"]["images"]));
        check_podman(&what, img, pick(&f["podman"]["images"]));
        let name = s(&pick(&f["docker"]["images"])["repo_tags"][0]);
        check_containerd(&what, img, ctr_row(f, &format!("/{name}")));
    }
}

/// Case 3: docker 25.0.1/25.0.2 `docker save <ID>`: `index.json` says `"manifests": null`.
/// dockerd 20.10 and podman load it from manifest.json (untagged); ctr imports nothing.
#[test]
fn docker25_archive_with_null_manifests() {
    let path = "testdata/wider/tiny.docker25.docker-archive.tar";
    let (f, r) = (fig(path), report(path));
    no_errors(path, &r);
    let img = one(path, &r);
    assert!(img.names.is_empty(), "{path}: docker and podman load it untagged: {:?}", img.names);
    check_docker(path, img, &f["docker"]["images"][0]);
    check_podman(path, img, &f["podman"]["images"][0]);
    assert_eq!(d(img.runtime_digests.podman).as_deref(), Some(s(&f["skopeo"]["raw_digest"])));
}

fn artifact_digests(f: &Value) -> Vec<String> {
    let mut out: Vec<String> = ["note", "0.1.0", "sig"]
        .iter()
        .map(|t| s(&f["tags"][t]["skopeo"]["raw_digest"]).to_owned())
        .collect();
    let index: Value =
        serde_json::from_str(s(&f["tags"]["buildx"]["skopeo"]["raw"]["stdout"])).unwrap();
    out.push(s(&index["manifests"][1]["digest"]).to_owned()); // the buildx attestation
    let layout =
        std::fs::read_to_string(root().join("testdata/wider/artifacts.oras.oci/index.json"));
    let layout: Value = serde_json::from_str(&layout.unwrap()).unwrap();
    let untagged = layout["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["annotations"].get("org.opencontainers.image.ref.name").is_none());
    out.extend(untagged.map(|m| s(&m["digest"]).to_owned())); // the cosign attestation
    assert_eq!(out.len(), 5);
    out
}

/// Case 4: podman and skopeo take two images from this layout (`tiny`, and the linux/amd64
/// image of the `buildx` index, listed by the index digest); the oras artifact, the helm
/// chart, the cosign signature and attestation and the buildx attestation are not images.
#[test]
fn artifacts_next_to_images() {
    let path = "testdata/wider/artifacts.oras.oci";
    let (f, r) = (fig(path), report(path));
    no_errors(path, &r);
    let artifacts = artifact_digests(f);
    for img in &r.images {
        let m = d(img.manifest_digest).unwrap_or_default();
        assert!(!artifacts.contains(&m), "{path}: artifact {m} reported as an image");
    }
    assert_eq!(r.images.len(), 2, "{path}: {:#?}", r.images);
    let tiny = r.images.iter().find(|i| i.ref_names == ["tiny"]).expect("tiny");
    check_podman("tiny", tiny, &f["tags"]["tiny"]["podman"]["images"][0]);
    check_containerd("tiny", tiny, ctr_row(f, ":tiny"));
    let bx_row = ctr_row(f, ":buildx");
    let bx = r.images.iter().find(|i| d(i.index_digest).as_deref() == Some(s(&bx_row["digest"])));
    let bx = bx.expect("the buildx image");
    assert_eq!(bx.platform.as_deref(), Some("linux/amd64"));
    check_podman("buildx", bx, &f["tags"]["buildx"]["podman"]["images"][0]);
    check_containerd("buildx", bx, bx_row);
}

/// Case 5: a layout that kept only the amd64 half of an index. The default platform works
/// for skopeo and podman (which lists it by the index digest); the arm64 manifest is missing.
#[test]
fn layout_missing_one_platform() {
    let path = "testdata/wider/multi-amd64only.skopeo.oci";
    let (f, r) = (fig(path), report(path));
    let want = &f["podman"]["images"][0];
    let amd = r.images.iter().find(|i| i.platform.as_deref() == Some("linux/amd64")).unwrap();
    assert!(amd.verified, "{path}: the default platform is complete");
    check_podman(path, amd, want);
    assert_eq!(d(amd.index_digest).as_deref(), Some(s(&want["digest"])), "{path}: index");
    let missing = "sha256:6741f00b19924dc94b0a732b4543e9ffc183efa03eeef9843820789876d5f7ac";
    assert!(s(&f["podman_arm64"]["stderr"]).contains(&missing[7..]), "reference: podman arm64");
    assert!(
        r.problems.iter().any(|p| d(p.digest).as_deref() == Some(missing)),
        "{path}: the missing arm64 manifest is named: {:#?}",
        r.problems
    );
    assert!(r.images.iter().all(|i| i.verified == (i.platform.as_deref() == Some("linux/amd64"))));
}

/// Case 6: `RepoTags` the runtimes refuse: `["ocisize/edge"]` (no tag: docker and podman
/// refuse it, ctr makes it `:latest`) and `["UPPER/x:1"]` (all three refuse it). docker still
/// loads the image untagged; ocisize says what is wrong with the name.
#[test]
fn repo_tags_the_runtimes_refuse() {
    for (file, bad) in [("edge.hand-notag", "ocisize/edge"), ("edge.hand-upper", "UPPER/x:1")] {
        let path = format!("testdata/wider/{file}.docker-archive.tar");
        let (f, r) = (fig(&path), report(&path));
        assert_ne!(f["docker"]["load"]["rc"], 0, "reference: docker load refuses {path}");
        assert_ne!(f["podman"]["load"]["rc"], 0, "reference: podman refuses {path}");
        let img = one(&path, &r);
        check_docker(&path, img, &f["docker"]["images"][0]);
        assert!(
            r.problems.iter().any(|p| p.message.contains(bad)),
            "{path}: a problem names {bad}: {:#?}",
            r.problems
        );
        assert!(
            !img.names.iter().any(|n| n.to_string().contains("UPPER")),
            "{path}: {:?}",
            img.names
        );
        if let Some(row) = f["containerd"]["images"].get(0) {
            check_containerd(&path, img, row);
        }
    }
}

/// Case 7: a config member named by a digest that is not the digest of its bytes
/// (`<hex>.json` after skopeo, `sha256:<hex>` after crane). dockerd, podman and ctr all load
/// it and list it by the digest of the bytes; ocisize warns instead of failing.
#[test]
fn config_member_named_by_the_wrong_digest() {
    for file in ["edge.hand-wrongname", "edge.crane-wrongname"] {
        let path = format!("testdata/wider/{file}.docker-archive.tar");
        let (f, r) = (fig(&path), report(&path));
        no_errors(&path, &r);
        let img = one(&path, &r);
        check_docker(&path, img, &f["docker"]["images"][0]);
        check_podman(&path, img, &f["podman"]["images"][0]);
        check_containerd(&path, img, &f["containerd"]["images"][0]);
        let wrong = "bf96471478e94816e1282a96fb8d0f6560ffe1cf1706f2be0a12d5742a7883a3";
        assert!(
            r.problems.iter().any(|p| p.severity == Severity::Warning
                && p.member.as_deref().is_some_and(|m| m.contains(wrong))),
            "{path}: a warning names the member: {:#?}",
            r.problems
        );
    }
}

/// Case 9: `docker system df -v` SIZE with the docker 28.2.2 client (3 significant digits,
/// like `docker images`; 20.10 printed 4).
#[test]
fn docker_df_size_as_docker_28_prints_it() {
    let path = "testdata/corpus/tiny.dockerd.save.tar";
    let (f, r) = (fig(path), report(path));
    let img = one(path, &r);
    assert_eq!(img.sizes.docker_vfs, f["docker"]["images"][0]["size"].as_u64());
    let row = &f["df_rows_v28"][0];
    assert_eq!(img.printed.docker_df.as_deref(), Some(s(&row["SIZE"])), "{path}: df -v SIZE");
}

/// Case 10: a Docker v2s2 manifest in an OCI layout (scripted, and as containerd exports it).
/// containerd imports it; skopeo and podman skip the descriptor when asked for the tag
/// (`pull oci:…:latest`: "no descriptor found for reference"), but `podman load`, which
/// takes the only manifest, stores it: those are the figures podman has for the file.
#[test]
fn v2s2_manifest_in_an_oci_layout() {
    let path = "testdata/wider/tiny.hand.oci-v2s2";
    let (f, r) = (fig(path), report(path));
    no_errors(path, &r);
    let img = one(path, &r);
    let row = &f["containerd"]["images"][0];
    check_containerd(path, img, row);
    check_podman(path, img, &f["podman_load"]["images"][0]);
    assert_eq!(d(img.manifest_digest).as_deref(), Some(s(&row["digest"])), "{path}: manifest");
    assert_ne!(f["podman"]["pull"]["rc"], 0, "reference: podman pull oci:…:latest refuses it");
    let path = "testdata/corpus/tiny.ctr.export-from-docker-archive.tar";
    let (f, r) = (fig(path), report(path));
    no_errors(path, &r);
    check_podman(path, one(path, &r), &f["podman_load"]["images"][0]);
    assert_ne!(f["podman"]["pull"]["rc"], 0, "reference: podman pull oci-archive: refuses it");
}

/// Where a runtime refuses the input, ocisize gives no figure and no digest for it (they would
/// describe an import that cannot happen): podman for the refused `RepoTags` (case 6: every
/// containers/image reader of the archive fails on them), containerd for `UPPER/x:1` (case 6)
/// and for the docker 25 archive with `"manifests": null` (case 3).
#[test]
fn a_runtime_that_refuses_gets_no_figure() {
    let refused = [
        ("podman", "load", "testdata/wider/edge.hand-notag.docker-archive.tar"),
        ("podman", "load", "testdata/wider/edge.hand-upper.docker-archive.tar"),
        ("containerd", "import", "testdata/wider/edge.hand-upper.docker-archive.tar"),
        ("containerd", "import", "testdata/wider/tiny.docker25.docker-archive.tar"),
    ];
    for (runtime, verb, path) in refused {
        let f = &fig(path)[runtime];
        assert_ne!(f[verb]["rc"], 0, "reference: {runtime} {verb} refuses {path}");
        assert_eq!(f["images"].as_array().map(Vec::len), Some(0), "reference: {path}");
        let r = report(path);
        let img = one(path, &r);
        let (size, digest, printed) = match runtime {
            "podman" => (img.sizes.podman, img.runtime_digests.podman, &img.printed.podman),
            _ => (img.sizes.containerd, img.runtime_digests.containerd, &img.printed.ctr),
        };
        assert_eq!((size, digest, printed.as_deref()), (None, None, None), "{path}: {runtime}");
    }
}

// ---- Fields the report does not have yet -------------------------------------------------
//
// Checked on `serde_json::to_value(&report)`. The shapes assumed (rename freely):
// - `report.artifacts`: one object per manifest that is not an image, holding (somewhere in
//   its values) its manifest digest, its artifactType or config media type, and for a
//   referrer or an attestation the digest it points at (`subject`,
//   `vnd.docker.reference.digest`);
// - `problems[].kind`: a non-empty string on every problem;
// - `printed.docker_df_v20`: `docker system df -v` SIZE as docker/cli < 24 prints it.

fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(x) => out.push(x.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(o) => o.values().for_each(|x| strings(x, out)),
        _ => {}
    }
}

#[test]
fn new_fields_artifacts_are_listed() {
    let path = "testdata/wider/artifacts.oras.oci";
    let f = fig(path);
    let v = serde_json::to_value(report(path)).unwrap();
    let list = v["artifacts"].as_array().unwrap_or_else(|| panic!("{path}: no `artifacts`"));
    assert_eq!(list.len(), 5, "{path}: {list:#?}");
    let mut seen = Vec::new();
    strings(&v["artifacts"], &mut seen);
    let tiny = "sha256:ba771aa8f8177c05832bd9394bf29e51f1c89fccca23e84d89ab0d8d840efc92";
    let index: Value =
        serde_json::from_str(s(&f["tags"]["buildx"]["skopeo"]["raw"]["stdout"])).unwrap();
    let buildx_image = s(&index["manifests"][0]["digest"]);
    let mut want = artifact_digests(f);
    want.extend(
        [
            "application/vnd.ocisize.note.v1",
            "application/vnd.cncf.helm.config.v1+json",
            "application/vnd.dev.sigstore.bundle.v0.3+json",
            tiny,
            buildx_image,
        ]
        .map(str::to_owned),
    );
    for w in want {
        assert!(seen.contains(&w), "{path}: artifacts do not mention {w}: {list:#?}");
    }
}

#[test]
fn new_fields_every_problem_has_a_kind() {
    let paths = [
        "testdata/wider/multi-amd64only.skopeo.oci",
        "testdata/wider/edge.hand-notag.docker-archive.tar",
        "testdata/wider/edge.hand-upper.docker-archive.tar",
        "testdata/wider/edge.hand-wrongname.docker-archive.tar",
        "testdata/wider/edge.crane-wrongname.docker-archive.tar",
    ];
    for path in paths {
        let v = serde_json::to_value(report(path)).unwrap();
        let problems = v["problems"].as_array().unwrap();
        assert!(!problems.is_empty(), "{path}: no problem reported");
        for p in problems {
            let kind = p["kind"].as_str().unwrap_or("");
            assert!(!kind.is_empty(), "{path}: problem without a kind: {p}");
        }
    }
}

#[test]
fn new_fields_docker_df_as_docker_20_10_prints_it() {
    let path = "testdata/corpus/tiny.dockerd.save.tar";
    let f = fig(path);
    let v = serde_json::to_value(report(path)).unwrap();
    let want = &f["df_rows_v20"][0]["SIZE"];
    assert_eq!(&v["images"][0]["printed"]["docker_df_v20"], want, "{path}: 20.10 df -v SIZE");
    let shared = [&f["df_rows_v20"][0]["UNIQUE SIZE"], &f["df_rows_v28"][0]["UNIQUE SIZE"]];
    assert_eq!(shared[0], shared[1], "reference: UNIQUE SIZE keeps 4 digits in both clients");
}

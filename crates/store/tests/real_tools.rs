//! Real tools read what an import and an export wrote: skopeo and umoci on the store itself;
//! skopeo, podman (`load`), dockerd 20.10 (`docker load`) and containerd 1.6 (`ctr images
//! import`) on the exports, with the same image IDs and digests. The daemons run inside
//! `unshare --mount` with their roots and sockets under a temp dir (real_tools.sh).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::name;
use ocisize_source::SourceArg;
use ocisize_store::{Destination, ExportOptions, ImportOptions, Store};

const TINY_CONFIG: &str = "sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c";
/// The Docker schema 2 manifest containerd writes for the legacy docker-archive `tiny`.
const TINY_CONTAINERD: &str =
    "sha256:cd325522cedae11344923cea5eb09c331ece9c4d614111bc1686a32e5b036451";
const MULTI_INDEX: &str = "sha256:e2bf608e613c13687d1f5d3cea94512e9a7aa64986c8ace95805675f689a1736";

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is needed for this test ({e})"));
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn skopeo_digest(target: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&run("skopeo", &["inspect", target])).unwrap();
    v["Digest"].as_str().unwrap().to_owned()
}

fn import(store: &Store, path: &Path, names: &[&str]) -> ocisize_store::ImportReport {
    let options =
        ImportOptions { names: names.iter().map(|n| name(n)).collect(), ..Default::default() };
    store.import(&SourceArg::path(path), &options).unwrap()
}

#[test]
fn skopeo_umoci_podman_docker_and_ctr_read_the_store_and_its_exports() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("store")).unwrap();
    let orig = ocisize_testkit::corpus("tiny.dockerd.save.tar");
    let tiny = import(&store, &orig, &[]);
    assert_eq!(tiny.images[0].name, "docker.io/ocisize/tiny:latest");
    assert_eq!(tiny.images[0].digest.to_string(), TINY_CONTAINERD);
    assert_eq!(tiny.images[0].image_id.unwrap().to_string(), TINY_CONFIG);
    let multi = import(
        &store,
        &ocisize_testkit::corpus("multi.skopeo.oci-archive.tar"),
        &["ocisize/multi"],
    );
    assert_eq!(multi.images[0].digest.to_string(), MULTI_INDEX);
    import(&store, &ocisize_testkit::corpus("tiny.umoci.oci"), &["ocisize/umoci"]);

    // The store itself, as the layout it is.
    let root = store.root().to_str().unwrap();
    // (Not the docker-archive import: containers/image looks `oci:DIR:REF` up only among OCI
    // manifests and indexes, and the store keeps containerd's Docker schema 2 manifest for
    // it; see docs/store.md.)
    assert_eq!(skopeo_digest(&format!("oci:{root}:docker.io/ocisize/multi:latest")), MULTI_INDEX);
    let ls = run("umoci", &["ls", "--layout", root]);
    for n in ["docker.io/ocisize/umoci:latest", "docker.io/ocisize/umoci:arm64"] {
        assert!(ls.lines().any(|l| l == n), "{n} not in umoci ls: {ls}");
    }
    run("umoci", &["stat", "--image", &format!("{root}:docker.io/ocisize/umoci:arm64")]);

    // The exports.
    let e = dir.path().join("exports");
    std::fs::create_dir(&e).unwrap();
    let none = ExportOptions::default();
    let export = |n: &str, dest: String| {
        store.export(&name(n), &dest.parse::<Destination>().unwrap(), &none).unwrap()
    };
    let es = e.to_str().unwrap();
    export("ocisize/tiny", format!("docker-archive:{es}/docker.tar"));
    export("ocisize/multi", format!("oci-archive:{es}/multi.tar"));
    // The index's amd64 image, gzip layers as stored.
    export("ocisize/multi", format!("docker-archive:{es}/multi-docker.tar"));
    export("ocisize/multi", format!("oci:{es}/multi-oci"));
    export("ocisize/multi", format!("dir:{es}/multi-dir"));
    assert_eq!(skopeo_digest(&format!("oci:{es}/multi-oci")), MULTI_INDEX);
    assert_eq!(skopeo_digest(&format!("oci-archive:{es}/multi.tar")), MULTI_INDEX);
    assert_eq!(skopeo_digest(&format!("dir:{es}/multi-dir")), MULTI_INDEX);
    let v: serde_json::Value = serde_json::from_str(&run(
        "skopeo",
        &["inspect", "--config", &format!("docker-archive:{es}/docker.tar")],
    ))
    .unwrap();
    assert_eq!(v["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);

    let work = dir.path().join("w");
    std::fs::create_dir(&work).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/real_tools.sh");
    let out = run(
        "unshare",
        &[
            "--mount",
            "--propagation",
            "private",
            script.to_str().unwrap(),
            work.to_str().unwrap(),
            es,
            orig.to_str().unwrap(),
        ],
    );
    let line = |k: &str| -> String {
        out.lines()
            .find(|l| l.split(' ').next() == Some(k))
            .unwrap_or_else(|| panic!("no {k} in {out}"))
            .to_owned()
    };
    for k in [
        "docker.load",
        "docker.load.gzip",
        "podman.load.docker-archive",
        "podman.load.oci-archive",
        "podman.load.oci-dir",
        "skopeo.copy.oci",
        "skopeo.copy.oci-archive",
        "skopeo.copy.docker-archive",
        "ctr.import.oci-archive",
        "ctr.import.docker-archive",
    ] {
        assert!(line(k).contains(" rc=0 "), "{}\n{out}", line(k));
    }
    // docker and podman give the image the ID the store gives it: the config's digest.
    assert!(line("docker.images").contains(&format!("ocisize/tiny:latest {TINY_CONFIG}")), "{out}");
    assert!(
        line("docker.images").contains(&format!("ocisize/multi:latest {TINY_CONFIG}")),
        "{out}"
    );
    assert!(line("podman.images").contains(&format!("ocisize/tiny:latest {TINY_CONFIG}")), "{out}");
    assert!(
        line("podman.images").contains(&format!("docker.io/ocisize/multi:latest {TINY_CONFIG}")),
        "{out}"
    );
    // containerd lists the exported index by its digest, and the original docker-archive by
    // the manifest it synthesized: the one the store wrote.
    assert!(line("ctr.ls").contains("docker.io/ocisize/multi:latest"), "{out}");
    assert!(line("ctr.ls.digest").contains(MULTI_INDEX), "{out}");
    assert!(line("ctr.ls.orig").contains(TINY_CONTAINERD), "{out}");
}

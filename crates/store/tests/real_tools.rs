//! Real tools read what an import and an export wrote: skopeo and umoci on the store itself;
//! skopeo, podman (`load`), dockerd 20.10 (`docker load`, vfs) and containerd 1.6 (`ctr
//! images import`) on the exports, with the same image IDs and digests. The daemons are the
//! testkit's (`ocisize_testkit::daemons`), and podman and skopeo run through its `isolated`:
//! inside `unshare --mount` with tmpfs over /run, /var/lib/containers, /var/lib/docker and
//! /etc/docker, roots and sockets under the test's directories, the daemons stopped by PID
//! (also when the test fails).
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::name;
use ocisize_source::SourceArg;
use ocisize_store::{Destination, ExportOptions, ImportOptions, Store};
use ocisize_testkit::daemons::{isolated, run, Containerd, Dockerd, Podman, Work};

const TINY_CONFIG: &str = "sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c";
/// The Docker schema 2 manifest containerd writes for the legacy docker-archive `tiny`.
const TINY_CONTAINERD: &str =
    "sha256:cd325522cedae11344923cea5eb09c331ece9c4d614111bc1686a32e5b036451";
const MULTI_INDEX: &str = "sha256:e2bf608e613c13687d1f5d3cea94512e9a7aa64986c8ace95805675f689a1736";

/// `skopeo ARGS`, isolated (as root it would keep its blob-info cache in
/// /var/lib/containers).
fn skopeo(args: &[&str]) -> String {
    run(&mut isolated("skopeo", args))
}

fn skopeo_digest(target: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&skopeo(&["inspect", target])).unwrap();
    v["Digest"].as_str().unwrap().to_owned()
}

fn umoci(args: &[&str]) -> String {
    run(Command::new("umoci").args(args))
}

fn import(store: &Store, path: &Path, names: &[&str]) -> ocisize_store::ImportReport {
    let options =
        ImportOptions { names: names.iter().map(|n| name(n)).collect(), ..Default::default() };
    store.import(&SourceArg::path(path), &options).unwrap()
}

/// `out` (a tool's listing) holds `want`.
#[track_caller]
fn lists(what: &str, out: &str, want: &str) {
    assert!(out.contains(want), "{what} does not list {want}:\n{out}");
}

#[test]
fn skopeo_umoci_podman_docker_and_ctr_read_the_store_and_its_exports() {
    let work = Work::new(Path::new(env!("CARGO_TARGET_TMPDIR")), "store-real-tools");
    let store = Store::create(work.dir.join("store")).unwrap();
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
    import(&store, &ocisize_testkit::corpus("tiny.skopeo.oci-zstd"), &["ocisize/zstd"]);

    // The store itself, as the layout it is.
    let root = store.root().to_str().unwrap();
    // (Not the docker-archive import: containers/image looks `oci:DIR:REF` up only among OCI
    // manifests and indexes, and the store keeps containerd's Docker schema 2 manifest for
    // it; see docs/store.md.)
    assert_eq!(skopeo_digest(&format!("oci:{root}:docker.io/ocisize/multi:latest")), MULTI_INDEX);
    let ls = umoci(&["ls", "--layout", root]);
    for n in ["docker.io/ocisize/umoci:latest", "docker.io/ocisize/umoci:arm64"] {
        assert!(ls.lines().any(|l| l == n), "{n} not in umoci ls: {ls}");
    }
    umoci(&["stat", "--image", &format!("{root}:docker.io/ocisize/umoci:arm64")]);

    // The exports.
    let e = work.dir.join("exports");
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
    // zstd layers, which docker 20.10 cannot read: they go as plain tars.
    export("ocisize/zstd", format!("docker-archive:{es}/zstd-docker.tar"));
    assert_eq!(skopeo_digest(&format!("oci:{es}/multi-oci")), MULTI_INDEX);
    assert_eq!(skopeo_digest(&format!("oci-archive:{es}/multi.tar")), MULTI_INDEX);
    assert_eq!(skopeo_digest(&format!("dir:{es}/multi-dir")), MULTI_INDEX);
    let config = skopeo(&["inspect", "--config", &format!("docker-archive:{es}/docker.tar")]);
    let v: serde_json::Value = serde_json::from_str(&config).unwrap();
    assert_eq!(v["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);

    // docker and podman give the image the ID the store gives it: the config's digest.
    {
        let d = Dockerd::start(&work, "vfs");
        run(d.docker().args(["load", "-i"]).arg(e.join("docker.tar")));
        // The index's amd64 image, gzip layers.
        run(d.docker().args(["load", "-i"]).arg(e.join("multi-docker.tar")));
        run(d.docker().args(["load", "-i"]).arg(e.join("zstd-docker.tar")));
        let format = "{{.Repository}}:{{.Tag}} {{.ID}}";
        let images = run(d.docker().args(["images", "--no-trunc", "--format", format]));
        lists("docker images", &images, &format!("ocisize/tiny:latest {TINY_CONFIG}"));
        lists("docker images", &images, &format!("ocisize/multi:latest {TINY_CONFIG}"));
        lists("docker images", &images, &format!("ocisize/zstd:latest {TINY_CONFIG}"));
    }
    let p = Podman::new(&work, "vfs");
    run(p.podman(["load", "-q", "-i"]).arg(e.join("docker.tar")));
    run(p.podman(["load", "-q", "-i"]).arg(e.join("multi.tar")));
    run(p.podman(["load", "-q", "-i"]).arg(e.join("zstd-docker.tar")));
    // podman 4.3 names an image loaded from a layout directory after its path: a relative one.
    run(p.podman(["load", "-q", "-i", "multi-oci"]).current_dir(&e));
    let format = "{{.Repository}}:{{.Tag}} {{.ID}}";
    let images = run(&mut p.podman(["images", "--no-trunc", "--format", format]));
    lists("podman images", &images, &format!("ocisize/tiny:latest {TINY_CONFIG}"));
    lists("podman images", &images, &format!("docker.io/ocisize/multi:latest {TINY_CONFIG}"));
    lists("podman images", &images, &format!("ocisize/zstd:latest {TINY_CONFIG}"));

    let copy = work.dir.join("skopeo-copy");
    let to = |tag: &str| format!("oci:{}:{tag}", copy.display());
    skopeo(&["copy", "-q", &format!("oci:{es}/multi-oci"), &to("x")]);
    skopeo(&["copy", "-q", &format!("oci-archive:{es}/multi.tar"), &to("w")]);
    skopeo(&["copy", "-q", &format!("docker-archive:{es}/docker.tar"), &to("y")]);

    // containerd lists the exported index by its digest, and the original docker-archive by
    // the manifest it synthesized: the one the store wrote.
    let c = Containerd::start(&work);
    c.import("default", &e.join("multi.tar"), None);
    c.import("orig", &orig, None);
    let names = run(c.ctr("default").args(["images", "ls", "-q"]));
    lists("ctr images ls -q", &names, "docker.io/ocisize/multi:latest");
    lists("ctr images ls", &run(c.ctr("default").args(["images", "ls"])), MULTI_INDEX);
    lists("ctr -n orig images ls", &run(c.ctr("orig").args(["images", "ls"])), TINY_CONTAINERD);
}

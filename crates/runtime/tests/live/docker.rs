//! dockerd 20.10 (the testkit's [`Dockerd`]): a family of images built and loaded for real,
//! `/system/df` against what ocisize-runtime reads from the stopped daemon's data-root.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ocisize_digest::Digest;
use ocisize_runtime::{open, Kind, Options, RuntimeStore};
use ocisize_testkit::corpus;
use ocisize_testkit::daemons::{du_b1, run, Dockerd};

/// The family's images, saved for the other runtimes.
pub struct Family {
    /// `docker save` of every named image.
    pub all: PathBuf,
    /// `docker save lab/child2:v1` only.
    pub child2: PathBuf,
}

fn build(d: &Dockerd, dir: &Path, tag: &str, dockerfile: &str) {
    let ctx = dir.join(format!("ctx-{}", tag.replace([':', '/'], "-")));
    std::fs::create_dir_all(&ctx).expect("context");
    std::fs::write(ctx.join("Dockerfile"), dockerfile).expect("Dockerfile");
    std::fs::write(ctx.join("a.txt"), "hello\n").expect("a.txt");
    run(d.docker().args(["build", "-q", "--network", "none", "-t", tag]).arg(&ctx));
}

/// Load the corpus image `tiny` and build on it: two children (one with a whiteout and a
/// long symlink, one with an empty-layer history step), a grandchild, an alias tag, and a
/// tag rebuilt so that its first image is left dangling. The classic builder keeps its
/// intermediate images.
pub fn build_family(d: &Dockerd, dir: &Path) -> Family {
    run(d.docker().arg("load").arg("-i").arg(corpus("tiny.dockerd.save.tar")));
    run(d.docker().args(["tag", "ocisize/tiny:latest", "lab/tiny-alias:v1"]));
    build(
        d,
        dir,
        "lab/child1:v1",
        "FROM ocisize/tiny:latest\nCOPY a.txt /a.txt\n\
        RUN rm -f /data/hello.txt && ln -s /a/long/symlink/target/that/overlay2/counts /lnk \
        && echo x > /b\n",
    );
    build(
        d,
        dir,
        "lab/child2:v1",
        "FROM ocisize/tiny:latest\nRUN echo two > /two\n\
        LABEL org.example.child=2\n",
    );
    build(d, dir, "lab/grand:v1", "FROM lab/child1:v1\nRUN mkdir -p /g && echo g > /g/f\n");
    build(d, dir, "lab/moving:v1", "FROM ocisize/tiny:latest\nRUN echo 1 > /m\n");
    build(d, dir, "lab/moving:v1", "FROM ocisize/tiny:latest\nRUN echo 2 > /m\n");
    let all = dir.join("family.tar");
    let names = [
        "ocisize/tiny:latest",
        "lab/tiny-alias:v1",
        "lab/child1:v1",
        "lab/child2:v1",
        "lab/grand:v1",
    ];
    run(d.docker().arg("save").arg("-o").arg(&all).args(names));
    let child2 = dir.join("child2.tar");
    run(d.docker().arg("save").arg("-o").arg(&child2).arg("lab/child2:v1"));
    Family { all, child2 }
}

fn field(v: &serde_json::Value, k: &str) -> u64 {
    v[k].as_u64().unwrap_or_else(|| panic!("{k} in {v}"))
}

/// ocisize-runtime's figures for the `driver` store of `root` against `/system/df`: every
/// image's Size and SharedSize, its tags, the Images total (LayersSize), and `du -B1`.
/// Returns every image's chain IDs, by image ID.
pub fn check(root: &Path, driver: &str, df: &serde_json::Value) -> BTreeMap<Digest, Vec<Digest>> {
    let stores = open(Kind::Docker, root, &Options::default()).expect("read the docker root");
    let store: &RuntimeStore =
        stores.iter().find(|s| s.driver == driver).expect("the driver's store");
    assert_eq!(stores.iter().filter(|s| s.kind == Kind::Docker).count(), 1, "one driver");
    assert!(store.problems.is_empty(), "{:?}", store.problems);
    let listed = df["Images"].as_array().expect("Images");
    assert_eq!(store.images.len(), listed.len(), "images listed: {df}");
    let mut chains = BTreeMap::new();
    for d in listed {
        let id: Digest = d["Id"].as_str().expect("Id").parse().expect("image ID");
        let ours = store.images.iter().find(|i| i.image_id == id).expect("the image");
        let (size, shared) = (field(d, "Size"), field(d, "SharedSize"));
        eprintln!(
            "docker {driver} {} {:?}: Size {size} SharedSize {shared}",
            id.short(),
            d["RepoTags"]
        );
        assert_eq!(ours.size, size, "Size of {id}");
        assert_eq!(ours.shared_size, shared, "SharedSize of {id}");
        assert_eq!(ours.unique_size, size - shared, "unique of {id}");
        assert_eq!(ours.frees, size - shared, "frees of {id}");
        let mut tags: Vec<String> = d["RepoTags"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str()).filter(|t| *t != "<none>:<none>"))
            .into_iter()
            .flatten()
            .map(|t| ocisize_reference::Reference::parse_normalized(t).expect("tag").to_string())
            .collect();
        tags.sort();
        let names: Vec<String> = ours.names.iter().map(|n| n.to_string()).collect();
        assert_eq!(names, tags, "names of {id}");
        chains.insert(id, ours.chain_ids.clone());
    }
    let layers_size = field(df, "LayersSize");
    eprintln!("docker {driver} LayersSize {layers_size}");
    assert_eq!(store.size, layers_size, "LayersSize");
    let du = du_b1(&[root.join("image"), root.join(driver)]);
    eprintln!("docker {driver} du -B1 {du}");
    assert_eq!(store.disk_usage, Some(du));
    chains
}

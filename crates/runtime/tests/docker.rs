//! The docker rules on hand-made and generated data-roots: intermediate, dangling and
//! digest-only images, images docker would not load, damaged files.
#![allow(clippy::unwrap_used, missing_docs)]

mod common;

use std::fs;
use std::path::PathBuf;

use ocisize_digest::{chain_ids, Algorithm, Digest};
use ocisize_runtime::{open, Error, Kind, Options, Problem, RuntimeStore};
use ocisize_testkit::{docker_root, Shape};

/// A hand-made overlay2 store.
struct Root {
    dir: tempfile::TempDir,
    repos: Vec<(String, Digest)>,
}

impl Root {
    fn new() -> Root {
        Root { dir: tempfile::tempdir().unwrap(), repos: Vec::new() }
    }

    fn base(&self) -> PathBuf {
        self.dir.path().join("image/overlay2")
    }

    fn diff(n: u8) -> Digest {
        Digest::of(Algorithm::Sha256, &[n])
    }

    /// An image of the layers `diffs` (each of size 100 × its number), with `parent`.
    fn image(&mut self, diffs: &[u8], parent: Option<Digest>, names: &[&str]) -> Digest {
        let ds: Vec<Digest> = diffs.iter().map(|&n| Root::diff(n)).collect();
        for (c, n) in chain_ids(&ds).iter().zip(diffs) {
            let dir = self.base().join("layerdb/sha256").join(c.hex());
            fs::create_dir_all(&dir).unwrap();
            fs::write(dir.join("size"), (100 * u64::from(*n)).to_string()).unwrap();
        }
        let ids: Vec<String> = ds.iter().map(|d| format!("\"{d}\"")).collect();
        let config =
            format!("{{\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[{}]}}}}", ids.join(","));
        self.config(&config, parent, names)
    }

    /// An image of the config `config` (its layers' sizes written by [`Root::image`]).
    fn config(&mut self, config: &str, parent: Option<Digest>, names: &[&str]) -> Digest {
        let id = Digest::of(Algorithm::Sha256, config.as_bytes());
        let content = self.base().join("imagedb/content/sha256");
        fs::create_dir_all(&content).unwrap();
        fs::write(content.join(id.hex()), config).unwrap();
        if let Some(p) = parent {
            let meta = self.base().join("imagedb/metadata/sha256").join(id.hex());
            fs::create_dir_all(&meta).unwrap();
            fs::write(meta.join("parent"), p.to_string()).unwrap();
        }
        for n in names {
            self.repos.push((n.to_string(), id));
        }
        self.write_repos();
        id
    }

    fn write_repos(&self) {
        let entries: Vec<String> = self
            .repos
            .iter()
            .enumerate()
            .map(|(i, (n, id))| format!("\"r{i}\":{{\"{n}\":\"{id}\"}}"))
            .collect();
        fs::write(
            self.base().join("repositories.json"),
            format!("{{\"Repositories\":{{{}}}}}", entries.join(",")),
        )
        .unwrap();
    }

    fn read(&self) -> RuntimeStore {
        let options = Options::default();
        let stores = open(Kind::Docker, self.dir.path(), &options).unwrap();
        common::check_units(&stores, |_| self.base());
        stores.into_iter().next().unwrap()
    }
}

fn figures(store: &RuntimeStore, id: Digest) -> Option<(u64, u64, Vec<String>)> {
    let i = store.images.iter().find(|i| i.image_id == id)?;
    assert_eq!(i.unique_size, i.size - i.shared_size);
    Some((i.size, i.shared_size, i.names.iter().map(|n| n.to_string()).collect()))
}

#[test]
fn intermediate_dangling_and_digest_only_images() {
    let mut r = Root::new();
    let base = r.image(&[1, 2], None, &["lab/base:v1"]);
    // The classic builder's step image: no name, a child.
    let step = r.image(&[1, 2, 3], Some(base), &[]);
    let top = r.image(&[1, 2, 3, 4], Some(step), &["lab/top:v1"]);
    // Untagged without children: dangling, listed as <none>.
    let dangling = r.image(&[1, 2, 5], Some(base), &[]);
    // Only a digest reference, and a child: a reference is a reference.
    let pinned = r.image(
        &[6],
        None,
        &["lab/pinned@sha256:0000000000000000000000000000000000000000000000000000000000000000"],
    );
    let _pinned_child = r.image(&[6, 7], Some(pinned), &["lab/pc:v1"]);
    let store = r.read();
    assert!(store.problems.is_empty(), "{:?}", store.problems);
    assert!(figures(&store, step).is_none(), "an intermediate image is not listed");
    assert_eq!(store.images.len(), 5);
    // Layers 1 and 2 are in base, top and dangling; 3 only in top once the step image is
    // left out (moby 20.10 counts only the listed images).
    assert_eq!(figures(&store, base), Some((300, 300, vec!["docker.io/lab/base:v1".into()])));
    assert_eq!(figures(&store, top), Some((1000, 300, vec!["docker.io/lab/top:v1".into()])));
    assert_eq!(figures(&store, dangling), Some((800, 300, vec![])));
    let (size, shared, names) = figures(&store, pinned).unwrap();
    assert_eq!((size, shared), (600, 600));
    assert!(names[0].starts_with("docker.io/lab/pinned@sha256:"));
    // Every layer a listed image uses, once: 1..=7.
    assert_eq!(store.size, 100 * (1 + 2 + 3 + 4 + 5 + 6 + 7));
    let frees: Vec<u64> = store.images.iter().map(|i| i.frees).collect();
    let unique: Vec<u64> = store.images.iter().map(|i| i.unique_size).collect();
    assert_eq!(frees, unique, "docker frees an image's UNIQUE SIZE");
}

#[test]
fn images_docker_would_not_load_are_left_out_and_said() {
    let mut r = Root::new();
    let good = r.image(&[1], None, &["lab/good:v1"]);
    let bad = r.image(&[1, 2], None, &["lab/bad:v1"]);
    let gone = r.image(&[1, 3], None, &["lab/gone:v1"]);
    // bad's config no longer hashes to its name; gone's top layer is not in the layer store.
    fs::write(r.base().join("imagedb/content/sha256").join(bad.hex()), "{}").unwrap();
    let chain = chain_ids(&[Root::diff(1), Root::diff(3)]);
    fs::remove_dir_all(r.base().join("layerdb/sha256").join(chain[1].hex())).unwrap();
    let store = r.read();
    assert_eq!(store.images.len(), 1);
    assert_eq!(figures(&store, good).unwrap().0, 100);
    let skipped: Vec<Digest> = store
        .problems
        .iter()
        .map(|p| match p {
            Problem::ImageSkipped { image_id, .. } => *image_id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(skipped.len(), 2);
    assert!(skipped.contains(&bad) && skipped.contains(&gone));
}

/// moby writes `null` for what it leaves unset (`"Env": null`, `"history": null`), and Go's
/// `encoding/json` reads `null` as absent: such images load. A diffID that is no digest
/// does not: the image is skipped, and the parser's finding said.
#[test]
fn configs_with_nulls_load_and_undecodable_diff_ids_do_not() {
    let mut r = Root::new();
    r.image(&[1, 2], None, &[]);
    let (d1, d2) = (Root::diff(1), Root::diff(2));
    let nulls = format!(
        r#"{{"architecture":"amd64","os":"linux","variant":null,"created":null,
        "config":{{"Env":null,"Cmd":null,"Labels":null,"Volumes":null,"OnBuild":null}},
        "container_config":null,"history":null,
        "rootfs":{{"type":"layers","diff_ids":["{d1}","{d2}"]}}}}"#
    );
    let with_nulls = r.config(&nulls, None, &["lab/nulls:v1"]);
    let no_layers = r.config(
        r#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":null}}"#,
        None,
        &["lab/empty:v1"],
    );
    let bad = r.config(r#"{"rootfs":{"type":"layers","diff_ids":[null]}}"#, None, &["lab/bad:v1"]);
    let store = r.read();
    assert_eq!(figures(&store, with_nulls).unwrap().0, 300);
    let i = store.images.iter().find(|i| i.image_id == with_nulls).unwrap();
    assert_eq!(i.chain_ids, chain_ids(&[d1, d2]));
    assert_eq!(figures(&store, no_layers).unwrap().0, 0);
    assert!(figures(&store, bad).is_none());
    let path = r.base().join("imagedb/content/sha256").join(bad.hex());
    let reason = store.problems.iter().find_map(|p| match p {
        Problem::ImageSkipped { image_id, reason } if *image_id == bad => Some(reason.clone()),
        _ => None,
    });
    let prefix = format!("{}: invalid json: ", path.display());
    assert!(reason.as_ref().is_some_and(|r| r.starts_with(&prefix)), "{reason:?}");
}

#[test]
fn damaged_files_are_typed_errors() {
    let mut r = Root::new();
    r.image(&[1], None, &["lab/x:v1"]);
    fs::write(r.base().join("repositories.json"), "{\"Repositories\":{").unwrap();
    let e = open(Kind::Docker, r.dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(&e, Error::Json { path, .. } if path.ends_with("repositories.json")), "{e}");
    r.write_repos();
    let chain = Root::diff(1);
    fs::write(r.base().join("layerdb/sha256").join(chain.hex()).join("size"), "-5").unwrap();
    let e = open(Kind::Docker, r.dir.path(), &Options::default()).unwrap_err();
    assert!(matches!(&e, Error::Invalid { field, .. } if field == "size"), "{e}");
    assert!(
        e.to_string().ends_with("size: expected a non-negative decimal integer, found \"-5\""),
        "{e}"
    );
}

#[test]
fn a_generated_root_of_a_hundred_images_and_a_thousand_layers() {
    let dir = tempfile::tempdir().unwrap();
    // The bench reads one ten times as large (benches/benches/runtime.rs).
    let shape = Shape { images: 100, groups: 10, base: 5, own: 9 };
    let generated = docker_root(dir.path(), shape);
    assert_eq!(generated.layers, 1000);
    let mut options = Options::default();
    options.disk_usage = false;
    let stores = open(Kind::Docker, dir.path(), &options).unwrap();
    let store = &stores[0];
    common::check_units(&stores, |_| dir.path().join("image/overlay2"));
    assert_eq!(store.images.len(), 100);
    assert_eq!(store.size, generated.total);
    assert_eq!(store.disk_usage, None);
    for (n, (id, tag, size, shared)) in generated.images.iter().enumerate() {
        let i = store.images.iter().find(|i| i.image_id == *id).unwrap();
        assert_eq!((i.size, i.shared_size), (*size, *shared));
        assert_eq!(i.names[0].to_string(), format!("docker.io/{tag}"));
        assert_eq!(i.chain_ids.len(), 5 + 9 + n % 2);
    }
}

//! `ocisize::du` over real files of the corpus: the image `tiny` as a skopeo oci-archive, a
//! umoci layout (which holds a second image on the same layers) and a `docker save`.
#![allow(clippy::unwrap_used)]

use ocisize::du::{from_stores, DuSource, Keep, StoreKind, StoreRef};
use ocisize::{du, DuOptions};
use ocisize_testkit::corpus;

const TINY: &str = "sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c";

fn sources() -> Vec<DuSource> {
    ["tiny.skopeo.oci-archive.tar", "tiny.umoci.oci", "tiny.dockerd.save.tar"]
        .iter()
        .map(|n| corpus(n).to_str().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn two_archives_and_a_layout_of_the_same_image() {
    let r = du(&sources(), &DuOptions::default()).unwrap();
    let kinds: Vec<_> = r.stores.iter().map(|s| (s.kind, s.driver.as_str())).collect();
    assert_eq!(
        kinds,
        [
            (StoreKind::Archive, "oci-archive"),
            (StoreKind::OciLayout, "oci-layout"),
            (StoreKind::Archive, "docker-archive")
        ]
    );
    // Sizes: an archive's file bytes; a layout's distinct blobs.
    let sizes: Vec<u64> = r.stores.iter().map(|s| s.size).collect();
    assert_eq!(sizes, [1_167_360, 1_160_552, 2_366_464]);
    // containerd's figure per image: the gzip layers of skopeo and umoci, the tar layers
    // of docker save (with the manifest containerd writes for it), as `ctr images ls`.
    assert_eq!(r.stores[0].images[0].size, 1_158_417);
    assert_eq!(r.stores[2].images[0].size, 2_350_093);
    // umoci's two images share every layer blob: 1,156,439 shared, their own manifest
    // and config unique.
    let layout: Vec<_> =
        r.stores[1].images.iter().map(|i| (i.size, i.shared_size, i.unique_size)).collect();
    assert_eq!(layout, [(1_158_417, 1_156_439, 1_978), (1_158_574, 1_156_439, 2_135)]);

    assert_eq!(r.duplicates.len(), 1);
    let d = &r.duplicates[0];
    assert_eq!(d.image_id.to_string(), TINY);
    assert_eq!(d.names, ["docker.io/ocisize/tiny:latest"]);
    let frees: Vec<(u64, bool)> = d.copies.iter().map(|c| (c.frees, c.kept)).collect();
    // The archive's file, the layout's own blobs, the docker save kept (it frees most).
    assert_eq!(frees, [(1_167_360, false), (1_978, false), (2_366_464, true)]);
    assert_eq!(d.reclaimable, 1_169_338);
    assert_eq!(r.reclaimable, 1_169_338);
    // The same four layers (by chain ID) in all three.
    assert_eq!(r.shared_layers.len(), 4);
    assert!(r.shared_layers.iter().all(|l| l.stores.len() == 3));
    // Disk usage: the three paths measured together.
    let paths: Vec<_> = r.stores.iter().map(|s| s.path.clone()).collect();
    let want = du_b1(&paths);
    assert_eq!(r.disk_usage, want);
    assert_eq!(r.disk_usage, r.stores.iter().map(|s| s.disk_usage.unwrap()).sum::<u64>());

    // Each image alone frees its `frees`; tiny's three copies together, the two archives
    // and tiny's own manifest and config in the layout (the other image keeps the layers).
    let at = |s: &ocisize::du::DuStore| StoreRef { path: s.path.clone(), namespace: None };
    for s in &r.stores {
        for i in &s.images {
            assert_eq!(r.freed([(&at(s), &i.image_id)]), i.frees, "{}", s.path.display());
        }
    }
    let all: Vec<_> = r.stores.iter().map(|s| (at(s), d.image_id)).collect();
    assert_eq!(r.freed(all.iter().map(|(s, i)| (s, i))), 1_167_360 + 1_978 + 2_366_464);

    // --keep PATH: keep the layout; the two archives are reclaimable.
    let again = from_stores(r.stores.clone(), Some(&Keep::Path(paths[1].clone()))).unwrap();
    assert_eq!(again.reclaimable, 1_167_360 + 2_366_464);
    assert!(again.duplicates[0].copies[1].kept);
}

fn du_b1(paths: &[std::path::PathBuf]) -> u64 {
    let mut total = 0;
    for p in paths {
        let meta = std::fs::metadata(p).unwrap();
        if meta.is_file() {
            total += std::os::unix::fs::MetadataExt::blocks(&meta) * 512;
        } else {
            let out = std::process::Command::new("du").args(["-s", "-B1"]).arg(p).output().unwrap();
            let text = String::from_utf8(out.stdout).unwrap();
            total += text.split_whitespace().next().unwrap().parse::<u64>().unwrap();
        }
    }
    total
}

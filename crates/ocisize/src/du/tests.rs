#![allow(clippy::unwrap_used)]

use super::*;
use ocisize_digest::Algorithm;

fn d(s: &str) -> Digest {
    Digest::of(Algorithm::Sha256, s.as_bytes())
}

fn image(id: &str, name: &str, frees: u64, chain: &[&str]) -> RuntimeImage {
    let mut i = RuntimeImage::new(d(id));
    i.names = vec![name.parse().unwrap()];
    i.size = frees + 10;
    i.frees = frees;
    i.chain_ids = chain.iter().map(|c| d(c)).collect();
    i
}

fn store(kind: Kind, path: &str, ns: Option<&str>, images: Vec<RuntimeImage>) -> DuStore {
    let mut s = RuntimeStore::new(kind, path.into(), "overlay2", ns);
    s.images = images;
    DuStore::from(s)
}

/// docker, two containerd namespaces and podman: `tiny` in three of them, `base` in two,
/// `solo` once.
fn node() -> Vec<DuStore> {
    vec![
        store(
            Kind::Docker,
            "/var/lib/docker",
            None,
            vec![
                image("tiny", "tiny:latest", 2_314_137, &["l1"]),
                image("solo", "solo", 5, &["l9"]),
            ],
        ),
        store(
            Kind::Containerd,
            "/var/lib/containerd",
            Some("default"),
            vec![image("base", "docker.io/library/base:1", 700, &["l1", "l2"])],
        ),
        store(
            Kind::Containerd,
            "/var/lib/containerd",
            Some("k8s.io"),
            vec![
                image("tiny", "docker.io/library/tiny:latest", 2_350_093, &["l1"]),
                image("base", "base:1", 900, &["l1", "l2"]),
            ],
        ),
        store(
            Kind::ContainersStorage,
            "/var/lib/containers/storage",
            None,
            vec![image("tiny", "localhost/tiny:v2", 2_351_026, &["l1"])],
        ),
    ]
}

#[test]
fn duplicates_by_image_id_across_stores_and_namespaces() {
    let r = from_stores(node(), None).unwrap();
    assert_eq!(r.duplicates.len(), 2);
    let tiny = r.duplicates.iter().find(|x| x.image_id == d("tiny")).unwrap();
    assert_eq!(tiny.names, ["docker.io/library/tiny:latest", "localhost/tiny:v2"]);
    let frees: Vec<u64> = tiny.copies.iter().map(|c| c.frees).collect();
    assert_eq!(frees, [2_314_137, 2_350_093, 2_351_026]);
    // Default: keep the copy whose removal frees the most (podman's).
    assert!(tiny.copies[2].kept && !tiny.copies[0].kept && !tiny.copies[1].kept);
    assert_eq!(tiny.reclaimable, 2_314_137 + 2_350_093);
    let base = r.duplicates.iter().find(|x| x.image_id == d("base")).unwrap();
    assert_eq!(base.names, ["docker.io/library/base:1"]);
    let ns: Vec<_> = base.copies.iter().map(|c| c.namespace.as_deref()).collect();
    assert_eq!(ns, [Some("default"), Some("k8s.io")]);
    assert_eq!(base.reclaimable, 700);
    assert_eq!(r.reclaimable, 2_314_137 + 2_350_093 + 700);
    assert!(!r.duplicates.iter().any(|x| x.image_id == d("solo")));
}

#[test]
fn keep_variants() {
    let tiny =
        |r: &DuReport| r.duplicates.iter().find(|x| x.image_id == d("tiny")).unwrap().clone();
    let r = from_stores(node(), Some(&Keep::Docker)).unwrap();
    assert!(tiny(&r).copies[0].kept);
    assert_eq!(tiny(&r).reclaimable, 2_350_093 + 2_351_026);
    // base has no docker copy: the default rule keeps k8s.io's (900).
    assert_eq!(r.reclaimable, 2_350_093 + 2_351_026 + 700);

    let r = from_stores(node(), Some(&Keep::Containerd)).unwrap();
    assert!(tiny(&r).copies[1].kept);
    assert_eq!(tiny(&r).reclaimable, 2_314_137 + 2_351_026);
    // base: the first containerd copy (default namespace) is kept.
    assert_eq!(r.reclaimable, 2_314_137 + 2_351_026 + 900);

    let r = from_stores(node(), Some(&Keep::Podman)).unwrap();
    assert!(tiny(&r).copies[2].kept);
    assert_eq!(tiny(&r).reclaimable, 2_314_137 + 2_350_093);

    let r = from_stores(node(), Some(&"/var/lib/docker".parse().unwrap())).unwrap();
    assert!(tiny(&r).copies[0].kept);
    assert_eq!("podman".parse::<Keep>().unwrap(), Keep::Podman);
}

#[test]
fn shared_layers_by_chain_id() {
    let r = from_stores(node(), None).unwrap();
    let l1 = r.shared_layers.iter().find(|l| l.chain_id == d("l1")).unwrap();
    assert_eq!(l1.stores.len(), 4);
    let l2 = r.shared_layers.iter().find(|l| l.chain_id == d("l2")).unwrap();
    let ns: Vec<_> = l2.stores.iter().map(|s| s.namespace.as_deref()).collect();
    assert_eq!(ns, [Some("default"), Some("k8s.io")]);
    assert!(!r.shared_layers.iter().any(|l| l.chain_id == d("l9")));
    assert_eq!(r.shared_layers.len(), 2);
}

#[test]
fn disk_usage_counts_a_blob_two_namespaces_share_once() {
    let dir = tempfile::tempdir().unwrap();
    let blob = dir.path().join("blob");
    std::fs::write(&blob, vec![1u8; 100_000]).unwrap();
    let other = dir.path().join("other");
    std::fs::write(&other, vec![1u8; 50_000]).unwrap();
    let one = ocisize_runtime::du::disk_usage([blob.as_path()]).unwrap();
    let two = ocisize_runtime::du::disk_usage([other.as_path()]).unwrap();
    let mut stores = node();
    stores[1].disk_usage_paths = vec![blob.clone()];
    stores[2].disk_usage_paths = vec![blob.clone(), other.clone()];
    let r = from_stores(stores, None).unwrap();
    assert_eq!(r.disk_usage, one + two);
    assert!(one >= 100_000 && two >= 50_000);
}

#[test]
fn source_arguments() {
    let s: DuSource = "containerd-root:/x".parse().unwrap();
    assert!(matches!(s, DuSource::Runtime(Kind::Containerd, p) if p == Path::new("/x")));
    let s: DuSource = "containers-storage:/y".parse().unwrap();
    assert!(matches!(s, DuSource::Runtime(Kind::ContainersStorage, _)));
    let s: DuSource = "oci-archive:/z.tar".parse().unwrap();
    assert!(matches!(s, DuSource::Image(_)));
}

proptest::proptest! {
    /// Any stores of images from a small pool of IDs: every ID in two or more stores is one
    /// duplicate with one kept copy per store, the kept one frees the most, and
    /// reclaimable is the rest.
    #[test]
    fn reclaimable_is_every_copy_but_the_kept_one(
        layout in proptest::collection::vec(
            proptest::collection::vec((0u8..5, 0u64..1_000_000), 0..5), 1..6),
    ) {
        let stores: Vec<DuStore> = layout
            .iter()
            .enumerate()
            .map(|(n, images)| {
                let imgs = images
                    .iter()
                    .map(|(id, frees)| image(&format!("i{id}"), "x:1", *frees, &[]))
                    .collect();
                store(Kind::Containerd, "/c", Some(&format!("ns{n}")), imgs)
            })
            .collect();
        let r = from_stores(stores, None).unwrap();
        let mut total = 0;
        for id in 0u8..5 {
            let firsts: Vec<u64> = layout
                .iter()
                .filter_map(|imgs| imgs.iter().find(|(i, _)| *i == id).map(|(_, f)| *f))
                .collect();
            let dup = r.duplicates.iter().find(|x| x.image_id == d(&format!("i{id}")));
            if firsts.len() < 2 {
                proptest::prop_assert!(dup.is_none());
                continue;
            }
            let dup = dup.unwrap();
            proptest::prop_assert_eq!(dup.copies.len(), firsts.len());
            proptest::prop_assert_eq!(dup.copies.iter().filter(|c| c.kept).count(), 1);
            let max = firsts.iter().copied().max().unwrap();
            let kept = dup.copies.iter().find(|c| c.kept).unwrap();
            proptest::prop_assert_eq!(kept.frees, max);
            proptest::prop_assert_eq!(dup.reclaimable, firsts.iter().sum::<u64>() - max);
            total += dup.reclaimable;
        }
        proptest::prop_assert_eq!(r.reclaimable, total);
    }
}

#[test]
fn an_archive_file_counts_once_in_the_total() {
    let mut stores = node();
    // An archive holding tiny and base: 5,000 bytes of file.
    let mut archive = store(Kind::Docker, "/x.tar", None, vec![]);
    archive.kind = StoreKind::Archive;
    archive.images = stores[2].images.clone();
    for i in &mut archive.images {
        i.frees = 5_000;
    }
    stores.push(archive);
    let r = from_stores(stores, Some(&Keep::Containerd)).unwrap();
    let per: u64 = r.duplicates.iter().map(|x| x.reclaimable).sum();
    assert_eq!(per, 2_314_137 + 2_351_026 + 5_000 + 900 + 5_000);
    assert_eq!(r.reclaimable, per - 5_000);
}

#![allow(clippy::unwrap_used)]

use super::*;
use ocisize_digest::Algorithm;
use std::path::PathBuf;

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

/// An image holding `units` (docker layers by name, their sizes), `frees` to be filled in.
fn holding(id: &str, units: &[(Unit, u64)]) -> RuntimeImage {
    let mut i = RuntimeImage::new(d(id));
    i.names = vec![format!("{id}:1").parse().unwrap()];
    i.units = units.to_vec();
    i
}

/// Each image's `frees` by the readers' rule: its units no other image of the domain holds.
fn by_the_rule(mut stores: Vec<RuntimeStore>) -> Vec<DuStore> {
    let held: Vec<(PathBuf, Unit)> = stores
        .iter()
        .flat_map(|s| {
            s.images.iter().flat_map(|i| i.units.iter().map(|u| (s.domain.clone(), u.0.clone())))
        })
        .collect();
    let domains: Vec<PathBuf> = stores.iter().map(|s| s.domain.clone()).collect();
    for (s, domain) in stores.iter_mut().zip(domains) {
        for i in &mut s.images {
            let only =
                |u: &Unit| held.iter().filter(|(dm, x)| *dm == domain && x == u).count() == 1;
            i.frees = i.units.iter().filter(|u| only(&u.0)).map(|u| u.1).sum();
        }
    }
    stores.into_iter().map(DuStore::from).collect()
}

fn runtime(kind: Kind, path: &str, ns: Option<&str>, images: Vec<RuntimeImage>) -> RuntimeStore {
    let mut s = RuntimeStore::new(kind, path.into(), "overlay2", ns);
    s.images = images;
    s
}

fn at(r: &DuReport, n: usize) -> StoreRef {
    StoreRef { path: r.stores[n].path.clone(), namespace: r.stores[n].namespace.clone() }
}

/// The store `sr` of the report and its image `id`.
fn image_at<'a>(r: &'a DuReport, sr: &StoreRef, id: &Digest) -> (&'a DuStore, &'a DuImage) {
    let s = r.stores.iter().find(|s| s.path == sr.path && s.namespace == sr.namespace).unwrap();
    (s, s.images.iter().find(|i| i.image_id == *id).unwrap())
}

fn dup<'a>(r: &'a DuReport, id: &str) -> &'a DuDuplicate {
    r.duplicates.iter().find(|x| x.image_id == d(id)).unwrap()
}

#[test]
fn two_copies_in_one_docker_root_free_the_layer_they_share() {
    // Two images on one two-layer base, in two docker roots (ocisize-testkit's generated
    // root, read by ocisize-runtime); the second root's copies are kept.
    let dir = tempfile::tempdir().unwrap();
    let shape = ocisize_testkit::Shape { images: 2, groups: 1, base: 2, own: 1 };
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let gen = ocisize_testkit::docker_root(&a, shape);
    ocisize_testkit::docker_root(&b, shape);
    let opts = ocisize_runtime::Options::default();
    let read = |p: &Path| ocisize_runtime::open(Kind::Docker, p, &opts).unwrap();
    let stores: Vec<DuStore> = read(&a).into_iter().chain(read(&b)).map(DuStore::from).collect();
    let r = from_stores(stores.clone(), Some(&Keep::Path(b.clone()))).unwrap();
    assert_eq!(r.duplicates.len(), 2);
    // Each image alone frees its own layers; the base (1,000 + 1,001) only goes with both.
    let mut alone = 0;
    for (dup, (id, _, size, shared)) in r.duplicates.iter().zip({
        let mut g = gen.images.clone();
        g.sort_by_key(|i| i.0);
        g
    }) {
        assert_eq!(dup.image_id, id);
        assert_eq!(dup.copies[0].frees, size - shared);
        assert_eq!(dup.reclaimable, size - shared);
        assert_eq!(dup.reclaimable_together, size - shared);
        assert_eq!(r.freed([(&at(&r, 0), &id)]), size - shared);
        alone += dup.reclaimable;
    }
    // The figure: each copy removed alone; together, the base goes too.
    assert_eq!(r.reclaimable, alone);
    assert_eq!(r.reclaimable_together, gen.total, "every layer of the first root");
    assert_eq!(r.reclaimable_together, alone + 1000 + 1001);
    // The same root given twice is one store.
    let mut twice = stores.clone();
    twice.insert(1, stores[0].clone());
    let r2 = from_stores(twice, Some(&Keep::Path(b))).unwrap();
    assert_eq!(r2.reclaimable_together, gen.total);
    assert_eq!(r2.duplicates, r.duplicates);
}

#[test]
fn one_image_in_two_namespaces_kept_elsewhere_frees_the_blobs_too() {
    // tiny in containerd's `default` and `k8s.io` (one content store) and in docker; a
    // second image in `k8s.io` uses tiny's first layer blob.
    let blobs = [(Unit::Blob(d("manifest")), 500), (Unit::Blob(d("config")), 1_500)];
    let layers = [(Unit::Blob(d("layer 1")), 10_000), (Unit::Blob(d("layer 2")), 20_000)];
    let tiny = |snaps: [u64; 2]| {
        let mut u: Vec<(Unit, u64)> = blobs.iter().chain(&layers).cloned().collect();
        u.extend(snaps.iter().map(|s| (Unit::Snapshot(*s), 30_000 + s)));
        holding("tiny", &u)
    };
    let other = holding("other", &[layers[0].clone(), (Unit::Snapshot(3), 7)]);
    let stores = by_the_rule(vec![
        runtime(Kind::Docker, "/d", None, vec![holding("tiny", &[(Unit::Layer(d("l")), 40_000)])]),
        runtime(Kind::Containerd, "/c", Some("default"), vec![tiny([1, 2])]),
        runtime(Kind::Containerd, "/c", Some("k8s.io"), vec![tiny([4, 5]), other]),
    ]);
    let r = from_stores(stores, Some(&Keep::Docker)).unwrap();
    let t = dup(&r, "tiny");
    let frees: Vec<u64> = t.copies.iter().map(|c| c.frees).collect();
    // Each namespace alone frees only its snapshots.
    assert_eq!(frees, [40_000, 30_001 + 30_002, 30_004 + 30_005]);
    // Both: their snapshots and the blobs no other image uses (not layer 1).
    let snaps = 30_001 + 30_002 + 30_004 + 30_005;
    assert_eq!(t.reclaimable_together, snaps + 500 + 1_500 + 20_000);
    assert_eq!(t.reclaimable, snaps, "each alone: the blobs stay for the other");
    assert_eq!((r.reclaimable, r.reclaimable_together), (t.reclaimable, t.reclaimable_together));
    // Keeping `default`'s: docker's and k8s.io's free what they do alone.
    let r = from_stores(r.stores, Some(&Keep::Containerd)).unwrap();
    assert_eq!(r.reclaimable_together, 40_000 + 30_004 + 30_005);
    assert_eq!(r.reclaimable, r.reclaimable_together);
}

#[test]
fn two_duplicates_sharing_a_layer_free_it_only_when_both_go() {
    let l = |n: &str, size| (Unit::Layer(d(n)), size);
    let s = |n: &str, size| (Unit::StorageLayer(n.to_owned()), size);
    let make = |docker_a: u64| {
        by_the_rule(vec![
            runtime(
                Kind::Docker,
                "/d",
                None,
                vec![
                    holding("a", &[l("base", 1_000), l("a", docker_a)]),
                    holding("b", &[l("base", 1_000), l("b", 200)]),
                ],
            ),
            runtime(
                Kind::ContainersStorage,
                "/p",
                None,
                vec![
                    holding("a", &[s("base", 1_010), s("a", 300)]),
                    holding("b", &[s("base", 1_010), s("b", 400)]),
                ],
            ),
        ])
    };
    // podman's copies are kept: docker's two copies free their base with them.
    let r = from_stores(make(100), Some(&Keep::Podman)).unwrap();
    assert_eq!((dup(&r, "a").reclaimable, dup(&r, "b").reclaimable), (100, 200));
    assert_eq!(r.reclaimable, 100 + 200);
    assert_eq!(r.reclaimable_together, 100 + 200 + 1_000);
    // a is kept in docker (it frees more there), b in podman: a's docker copy keeps the
    // base, and podman's copy of a shares its base with podman's b, which stays.
    let r = from_stores(make(5_000), None).unwrap();
    let kept = |id| dup(&r, id).copies.iter().position(|c| c.kept);
    assert_eq!((kept("a"), kept("b")), (Some(0), Some(1)));
    assert_eq!(r.reclaimable_together, 300 + 200);
    assert_eq!(r.reclaimable, 300 + 200);
}

proptest::proptest! {
    /// Random domains (a root of one or two stores) whose images hold random units:
    /// removing a set frees what an independent count says (the units all of whose holders
    /// are in the set), a copy alone frees its `frees`, more copies never free less, and
    /// the total is the union of the duplicates' removed copies.
    #[test]
    fn freed_is_the_units_all_of_whose_holders_go(
        shape in proptest::collection::vec(
            (0usize..3, proptest::collection::vec(proptest::collection::vec(0u8..6, 0..6), 4)),
            1..6),
        sizes in proptest::collection::vec(1u64..10_000, 6),
        masks in proptest::collection::vec(
            (proptest::bits::u64::ANY, proptest::bits::u64::ANY), 4),
    ) {
        // shape: stores, each in one of three domains (a root, its namespaces the stores),
        // holding per image ID 0..4 the units (of 6 per domain) listed; an image with none
        // is not in the store.
        let mut stores = Vec::new();
        for (n, (domain, images)) in shape.iter().enumerate() {
            let imgs = images
                .iter()
                .enumerate()
                .filter(|(_, u)| !u.is_empty())
                .map(|(id, u)| {
                    let mut units: Vec<(Unit, u64)> = u
                        .iter()
                        .map(|x| (Unit::Snapshot(u64::from(*x)), sizes[usize::from(*x)]))
                        .collect();
                    units.sort();
                    units.dedup();
                    holding(&format!("i{id}"), &units)
                })
                .collect();
            let (path, ns) = (format!("/r{domain}"), format!("ns{n}"));
            stores.push(runtime(Kind::Containerd, &path, Some(&ns), imgs));
        }
        let stores = by_the_rule(stores);
        let r = from_stores(stores, None).unwrap();
        let all: Vec<(StoreRef, Digest)> = r
            .stores
            .iter()
            .enumerate()
            .flat_map(|(n, s)| s.images.iter().map(move |i| (n, i.image_id)))
            .map(|(n, id)| (at(&r, n), id))
            .collect();
        // The independent count: a unit is freed when every image of its domain holding it
        // is removed.
        let oracle = |set: &[&(StoreRef, Digest)]| -> u64 {
            let mut units: Vec<(PathBuf, Unit, u64, bool)> = Vec::new();
            for (sr, id) in &all {
                let (s, i) = image_at(&r, sr, id);
                let gone = set.iter().any(|x| x.0 == *sr && x.1 == *id);
                for (u, n) in &i.units {
                    match units.iter_mut().find(|e| e.0 == s.domain && e.1 == *u) {
                        Some(e) => e.3 &= gone,
                        None => units.push((s.domain.clone(), u.clone(), *n, gone)),
                    }
                }
            }
            units.iter().filter(|e| e.3).map(|e| e.2).sum()
        };
        let freed = |set: &[&(StoreRef, Digest)]| r.freed(set.iter().map(|x| (&x.0, &x.1)));
        for c in &all {
            proptest::prop_assert_eq!(freed(&[c]), image_at(&r, &c.0, &c.1).1.frees);
        }
        for (big, small) in masks {
            let pick = |mask: u64| -> Vec<&(StoreRef, Digest)> {
                let on = |n: usize| mask >> (n % 64) & 1 == 1;
                all.iter().enumerate().filter(|(n, _)| on(*n)).map(|x| x.1).collect()
            };
            let (t, s) = (pick(big), pick(big & small));
            proptest::prop_assert_eq!(freed(&t), oracle(&t));
            proptest::prop_assert_eq!(freed(&s), oracle(&s));
            proptest::prop_assert!(freed(&s) <= freed(&t));
        }
        let mut removed = Vec::new();
        for x in &r.duplicates {
            proptest::prop_assert!(r.reclaimable_together >= x.reclaimable_together);
            proptest::prop_assert!(x.reclaimable_together >= x.reclaimable);
            let gone = |sr: &StoreRef| {
                x.copies.iter().any(|c| !c.kept && c.path == sr.path && c.namespace == sr.namespace)
            };
            let mine: Vec<&(StoreRef, Digest)> =
                all.iter().filter(|(sr, id)| *id == x.image_id && gone(sr)).collect();
            proptest::prop_assert_eq!(x.reclaimable_together, oracle(&mine));
            removed.extend(mine);
        }
        proptest::prop_assert!(
            r.reclaimable_together >= r.duplicates.iter().map(|x| x.reclaimable_together).sum()
        );
        proptest::prop_assert!(r.reclaimable_together >= r.reclaimable);
        proptest::prop_assert_eq!(r.reclaimable_together, oracle(&removed));
    }
}

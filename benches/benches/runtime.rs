//! Reading a runtime store: a generated docker data-root (JSON and metadata files only, as
//! dockerd 20.10 lays them out) of 1,000 images over 10,000 layers, 100 groups of ten images
//! sharing a five-layer base.
//!
//! Run: `cargo bench -p ocisize-benches --bench runtime`. Generating the root (11,000
//! directories, 41,000 files) is not timed. The reader keeps, besides the images it returns,
//! one size per distinct layer; configs are read one at a time and dropped.
#![allow(missing_docs, clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ocisize_runtime::{open, Kind, Options};
use ocisize_testkit::{docker_root, Shape};

fn docker(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let shape = Shape { images: 1000, groups: 100, base: 5, own: 9 };
    let generated = docker_root(dir.path(), shape);
    assert_eq!(generated.layers, 10_000);
    let mut g = c.benchmark_group("runtime");
    g.sample_size(20);
    g.throughput(Throughput::Elements(1000));
    let mut figures_only = Options::default();
    figures_only.disk_usage = false;
    g.bench_function("docker root, 1,000 images, 10,000 layers", |b| {
        b.iter(|| {
            let stores = open(Kind::Docker, dir.path(), &figures_only).unwrap();
            assert_eq!(stores[0].size, generated.total);
            stores
        })
    });
    let with_du = Options::default();
    g.bench_function("docker root, 1,000 images, 10,000 layers, with du", |b| {
        b.iter(|| open(Kind::Docker, dir.path(), &with_du).unwrap())
    });
    g.finish();
}

criterion_group!(benches, docker);
criterion_main!(benches);

//! Store throughput on 1 GiB: writing a blob through the writer (with and without the
//! commit's fsync), and fsck's re-hash against a plain read-and-hash loop of the same file.
//!
//! `cargo bench -p ocisize-store --bench store`. Compare with `sha256sum` of the blob file,
//! whose path the bench prints on stderr.
#![allow(missing_docs, clippy::unwrap_used, clippy::print_stderr)]

use std::fs::File;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use ocisize_digest::{Algorithm, Hasher};
use ocisize_store::Store;

const GIB: u64 = 1 << 30;
const CHUNK: usize = 4 << 20;

/// 4 MiB of pseudo-random bytes (a 64-bit LCG), written 256 times for 1 GiB.
fn chunk() -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut v = Vec::with_capacity(CHUNK);
    while v.len() < CHUNK {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        v.extend_from_slice(&(state >> 11).to_le_bytes());
    }
    v
}

fn write_gib(store: &Store, reference: &str, data: &[u8], commit: bool) -> Duration {
    let start = Instant::now();
    let mut w = store.writer(reference, None).unwrap();
    for _ in 0..GIB / CHUNK as u64 {
        w.write_all(data).unwrap();
    }
    if commit {
        let c = w.commit(None).unwrap();
        let took = start.elapsed();
        store.delete(&c.digest).unwrap();
        took
    } else {
        w.abort();
        start.elapsed()
    }
}

fn bench(c: &mut Criterion) {
    // Under $TMPDIR unless OCISIZE_BENCH_DIR names another file system to measure.
    let dir = match std::env::var_os("OCISIZE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .unwrap();
    let store = Store::create(dir.path().join("store")).unwrap();
    let data = chunk();
    let mut g = c.benchmark_group("store_1gib");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Bytes(GIB));
    g.bench_function("write_commit", |b| {
        b.iter_custom(|iters| {
            (0..iters).map(|i| write_gib(&store, &format!("c{i}"), &data, true)).sum()
        })
    });
    g.bench_function("write_abort", |b| {
        b.iter_custom(|iters| {
            (0..iters).map(|i| write_gib(&store, &format!("a{i}"), &data, false)).sum()
        })
    });
    let mut w = store.writer("fsck", None).unwrap();
    for _ in 0..GIB / CHUNK as u64 {
        w.write_all(&data).unwrap();
    }
    let blob = w.commit(None).unwrap();
    let path = store.info(&blob.digest).unwrap().unwrap().path;
    eprintln!("1 GiB blob for sha256sum: {}", path.display());
    g.bench_function("fsck_blobs", |b| {
        b.iter(|| {
            let r = store.fsck_blobs().unwrap();
            assert!(r.is_clean() && r.bytes_checked == GIB);
        })
    });
    g.bench_function("read_and_hash", |b| {
        let mut buf = vec![0u8; 1 << 20];
        b.iter(|| {
            let mut f = File::open(&path).unwrap();
            let mut h = Hasher::new(Algorithm::Sha256);
            loop {
                let n = f.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            assert_eq!(h.finalize(), blob.digest);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! The verify-and-measure pipeline, stage by stage and whole, on generated layers.
//!
//! Run: `cargo bench -p ocisize-benches`. Inputs are generated deterministically: a tar layer
//! of ~16 MiB mixing incompressible and compressible files, then gzip- and zstd-compressed.
#![allow(missing_docs, clippy::unwrap_used)]

use std::io::Write;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use ocisize_digest::{Algorithm, Digest};
use ocisize_layer::{Limits, TarWalker};
use ocisize_source::{measure_reader, MeasureWith, Parallelism};

/// A deterministic xorshift stream, so inputs are the same on every run.
fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn layer(total: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut written = 0;
    let mut i = 0u64;
    while written < total {
        let len = 4096 + (i as usize * 7919) % (256 * 1024);
        // Half the files are random (incompressible), half are text-like.
        let data = if i & 1 == 0 {
            noise(i, len)
        } else {
            let line = format!("line {i} of a compressible configuration file\n");
            line.as_bytes().iter().copied().cycle().take(len).collect()
        };
        let mut h = tar::Header::new_gnu();
        h.set_path(format!("usr/lib/file-{i}.bin")).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &data[..]).unwrap();
        written += len + 512;
        i += 1;
    }
    b.into_inner().unwrap()
}

/// A layer of `n` files of 0-199 bytes in 100 directories.
fn small_files(n: usize) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let zeros = [0u8; 200];
    for i in 0..n {
        let len = (i * 7919) % 200;
        let mut h = tar::Header::new_gnu();
        h.set_path(format!("usr/share/d{}/file-{i}", i % 100)).unwrap();
        h.set_size(len as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &zeros[..len]).unwrap();
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn stages(c: &mut Criterion) {
    let tar = layer(16 << 20);
    let gz = gzip(&tar);
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    let limits = Limits::default();

    let mut g = c.benchmark_group("stage");
    g.throughput(Throughput::Bytes(tar.len() as u64));
    g.sample_size(20);
    g.bench_function("sha256", |b| b.iter(|| Digest::of(Algorithm::Sha256, &tar)));
    g.bench_function("tar_walk", |b| {
        b.iter(|| {
            let mut w = TarWalker::new(u64::MAX);
            for chunk in tar.chunks(256 * 1024) {
                w.update(chunk);
            }
            w.finish().unwrap()
        })
    });
    // The same walk with the file list on (`--files`): every body is hashed for `diff`.
    g.bench_function("tar_walk_recorded", |b| {
        b.iter(|| {
            let mut w = TarWalker::new(u64::MAX).record_files(32 << 20);
            for chunk in tar.chunks(256 * 1024) {
                w.update(chunk);
            }
            w.finish_with_files()
        })
    });
    // Per-entry cost: 20,000 small files (the walk above sees ~120 entries in 16 MiB). With
    // the file list off (inspect's default) and on (`--files`).
    let small = small_files(20_000);
    for (name, files) in [("tar_walk_small_files", false), ("tar_walk_small_files_recorded", true)]
    {
        g.bench_function(name, |b| {
            b.iter(|| {
                let w = TarWalker::new(u64::MAX);
                let mut w = if files { w.record_files(32 << 20) } else { w };
                for chunk in small.chunks(256 * 1024) {
                    w.update(chunk);
                }
                w.finish_with_files()
            })
        });
    }
    g.bench_function("gunzip", |b| {
        b.iter(|| {
            let mut d = flate2::read::MultiGzDecoder::new(&gz[..]);
            std::io::copy(&mut d, &mut std::io::sink()).unwrap()
        })
    });
    g.bench_function("unzstd", |b| {
        b.iter(|| {
            let mut d = zstd::stream::read::Decoder::new(&zst[..]).unwrap();
            std::io::copy(&mut d, &mut std::io::sink()).unwrap()
        })
    });
    g.finish();

    let mut g = c.benchmark_group("measure");
    g.throughput(Throughput::Bytes(tar.len() as u64));
    g.sample_size(20);
    // The one production path: what every source does with a member.
    let with = MeasureWith {
        keep: 0,
        limits: &limits,
        pipeline: Parallelism::available().pipeline(),
        progress: None,
        tee: None,
    };
    for (name, blob) in [("none", &tar), ("gzip", &gz), ("zstd", &zst)] {
        g.bench_with_input(BenchmarkId::from_parameter(name), blob, |b, blob| {
            b.iter(|| {
                let len = blob.len() as u64;
                measure_reader(&blob[..], "layer", len, Algorithm::Sha256, with).unwrap()
            })
        });
    }
    g.finish();
}

/// A whole `inspect` of a generated single-layer oci-archive (gzip layer).
fn whole(c: &mut Criterion) {
    let tar = layer(16 << 20);
    let gz = gzip(&tar);
    let diff = Digest::of(Algorithm::Sha256, &tar);
    let layer_d = Digest::of(Algorithm::Sha256, &gz);
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{diff}"]}}}}"#
    );
    let config_d = Digest::of(Algorithm::Sha256, config.as_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_d}","size":{}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{layer_d}","size":{}}}]}}"#,
        config.len(),
        gz.len()
    );
    let manifest_d = Digest::of(Algorithm::Sha256, manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_d}","size":{}}}]}}"#,
        manifest.len()
    );
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |name: String, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_path(name).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, data).unwrap();
    };
    add("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#);
    add(format!("blobs/sha256/{}", layer_d.hex()), &gz);
    add(format!("blobs/sha256/{}", config_d.hex()), config.as_bytes());
    add(format!("blobs/sha256/{}", manifest_d.hex()), manifest.as_bytes());
    add("index.json".into(), index.as_bytes());
    let archive = b.into_inner().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.oci.tar");
    std::fs::write(&path, &archive).unwrap();
    let arg = ocisize::SourceArg::path(&path);
    let options = ocisize::Options::default();
    let mut g = c.benchmark_group("inspect");
    g.throughput(Throughput::Bytes(tar.len() as u64));
    g.sample_size(20);
    g.bench_function("oci_archive_gzip_16MiB", |b| {
        b.iter(|| {
            let r = ocisize::inspect(&arg, &options).unwrap();
            assert!(r.verified());
            r
        })
    });
    g.finish();
}

criterion_group!(benches, stages, whole);
criterion_main!(benches);

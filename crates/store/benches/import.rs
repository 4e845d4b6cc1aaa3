//! Import and export throughput: a docker-archive of uncompressed layers and an OCI archive
//! of gzip layers, each holding `OCISIZE_BENCH_MIB` MiB of tar (default 1024), imported into
//! a new store (every blob written, fsync included) and again into a store that holds them
//! (only verification); then the gzip image exported from the store to an oci-archive and to
//! a docker-archive (every blob read verified, the archive written, fsynced and renamed).
//!
//! `cargo bench -p ocisize-store --bench import`; `benches/compare.sh --store-only` times the
//! same commands through the binary against skopeo, cp + openssl and sha256sum.
#![allow(missing_docs, clippy::unwrap_used)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use ocisize_digest::{Algorithm, Digest};
use ocisize_reference::Reference;
use ocisize_source::SourceArg;
use ocisize_store::{Destination, ExportOptions, ImportOptions, Store};

const LAYERS: usize = 4;

/// One layer's tar: files of 8 MiB of pseudo-random bytes, half of each a repeated pattern
/// so that gzip has something to do.
fn layer_tar(seed: u64, bytes: u64) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::with_capacity(bytes as usize + (1 << 20)));
    let mut state = seed | 1;
    let file = 8usize << 20;
    for i in 0..(bytes as usize).div_ceil(file) {
        let mut data = Vec::with_capacity(file);
        while data.len() < file / 2 {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            data.extend_from_slice(&(state >> 11).to_le_bytes());
        }
        data.resize(file, (i % 251) as u8);
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, format!("data/{seed}/{i}.bin"), &data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn config(diff_ids: &[Digest]) -> Vec<u8> {
    let ids: Vec<String> = diff_ids.iter().map(Digest::to_string).collect();
    serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": { "type": "layers", "diff_ids": ids },
    }))
    .unwrap()
}

fn add(t: &mut tar::Builder<File>, path: &str, data: &[u8]) {
    let mut h = tar::Header::new_gnu();
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_cksum();
    t.append_data(&mut h, path, data).unwrap();
}

/// Write both archives; returns their paths and the tar bytes they hold.
fn make(dir: &Path, mib: u64) -> (PathBuf, PathBuf, u64) {
    let per = (mib << 20) / LAYERS as u64;
    let sha = |b: &[u8]| Digest::of(Algorithm::Sha256, b);
    let docker = dir.join("bench.docker.tar");
    let oci = dir.join("bench.oci.tar");
    let mut d = tar::Builder::new(File::create(&docker).unwrap());
    let mut o = tar::Builder::new(File::create(&oci).unwrap());
    let (mut diff_ids, mut gz_layers, mut total) = (Vec::new(), Vec::new(), 0);
    for i in 0..LAYERS {
        let tar = layer_tar(i as u64 + 1, per);
        total += tar.len() as u64;
        let id = sha(&tar);
        add(&mut d, &format!("{}.tar", id.hex()), &tar);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let gz = gz.finish().unwrap();
        add(&mut o, &format!("blobs/sha256/{}", sha(&gz).hex()), &gz);
        gz_layers.push((sha(&gz), gz.len()));
        diff_ids.push(id);
    }
    let cfg = config(&diff_ids);
    let cfg_d = sha(&cfg);
    add(&mut d, &format!("{}.json", cfg_d.hex()), &cfg);
    let layers: Vec<String> = diff_ids.iter().map(|l| format!("{}.tar", l.hex())).collect();
    let m = serde_json::json!([{ "Config": format!("{}.json", cfg_d.hex()), "RepoTags": ["bench/docker:latest"], "Layers": layers }]);
    add(&mut d, "manifest.json", &serde_json::to_vec(&m).unwrap());
    d.finish().unwrap();
    add(&mut o, &format!("blobs/sha256/{}", cfg_d.hex()), &cfg);
    let desc = |mt: &str, d: Digest, size: usize| serde_json::json!({ "mediaType": mt, "digest": d.to_string(), "size": size });
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": desc("application/vnd.oci.image.config.v1+json", cfg_d, cfg.len()),
        "layers": gz_layers.iter().map(|(d, n)| desc("application/vnd.oci.image.layer.v1.tar+gzip", *d, *n)).collect::<Vec<_>>(),
    }))
    .unwrap();
    add(&mut o, &format!("blobs/sha256/{}", sha(&manifest).hex()), &manifest);
    let mut top =
        desc("application/vnd.oci.image.manifest.v1+json", sha(&manifest), manifest.len());
    top["annotations"] = serde_json::json!({ "org.opencontainers.image.ref.name": "latest" });
    let index = serde_json::json!({ "schemaVersion": 2, "manifests": [top] });
    add(&mut o, "index.json", &serde_json::to_vec(&index).unwrap());
    add(&mut o, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    o.finish().unwrap();
    (docker, oci, total)
}

fn bench(c: &mut Criterion) {
    let dir = match std::env::var_os("OCISIZE_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d),
        None => tempfile::tempdir(),
    }
    .unwrap();
    let mib = std::env::var("OCISIZE_BENCH_MIB").ok().and_then(|v| v.parse().ok()).unwrap_or(1024);
    let (docker, oci, tar_bytes) = make(dir.path(), mib);
    let options = ImportOptions {
        names: vec![Reference::parse_normalized("bench/x").unwrap()],
        ..Default::default()
    };
    let present = Store::create(dir.path().join("present")).unwrap();
    let mut g = c.benchmark_group("store_import");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30))
        .throughput(Throughput::Bytes(tar_bytes));
    for (label, path) in [("docker-archive (tar)", &docker), ("oci-archive (gzip)", &oci)] {
        let arg = SourceArg::path(path);
        present.import(&arg, &options).unwrap();
        let mut n = 0;
        g.bench_function(format!("new store, {label}"), |b| {
            b.iter(|| {
                n += 1;
                let s = Store::create(dir.path().join(format!("new-{n}"))).unwrap();
                let r = s.import(&arg, &options).unwrap();
                assert!(r.bytes_written > 0);
                std::fs::remove_dir_all(s.root()).unwrap();
            })
        });
        g.bench_function(format!("present, {label}"), |b| {
            b.iter(|| {
                let r = present.import(&arg, &options).unwrap();
                assert_eq!(r.bytes_written, 0);
            })
        });
    }
    g.finish();

    // `present` names bench/x the gzip image now (imported last).
    let name = Reference::parse_normalized("bench/x").unwrap();
    let mut g = c.benchmark_group("store_export");
    g.sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(30));
    let blobs = present.export(
        &name,
        &format!("oci-archive:{}", dir.path().join("probe.tar").display()).parse().unwrap(),
        &ExportOptions::default(),
    );
    g.throughput(Throughput::Bytes(blobs.unwrap().bytes));
    for kind in ["oci-archive", "docker-archive"] {
        let file = dir.path().join(format!("out.{kind}.tar"));
        let dest: Destination = format!("{kind}:{}", file.display()).parse().unwrap();
        g.bench_function(format!("gzip image to {kind}"), |b| {
            b.iter(|| {
                let r = present.export(&name, &dest, &ExportOptions::default()).unwrap();
                assert!(r.bytes > 0);
                std::fs::remove_file(&file).unwrap();
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

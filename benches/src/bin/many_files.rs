//! `many_files DIR [FILES]`: write an OCI layout of three gzip layers with FILES regular
//! files (default 1,000,000) for the `--files` bench (docs/waste.md): the base layer holds
//! them in 1,000 directories; the second overwrites 5% of them, whites out 5% one by one and
//! 20 whole directories, and makes one directory opaque; the third overwrites 1% again.
//! Each layer's tar is also left beside the layout as `layer-N.tar.gz`, for `tar -tzf`.
#![allow(clippy::print_stderr, clippy::unwrap_used)]

use std::io::{self, Write};
use std::path::Path;

use ocisize_digest::{Algorithm, Digest, Hasher};

/// Hashes what passes through.
struct Hashing<W> {
    inner: W,
    hasher: Hasher,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum E {
    Dir(String),
    File(String, usize),
}

/// Write one gzip layer; (blob digest, blob size, diffID).
fn layer(dir: &Path, n: usize, entries: impl Iterator<Item = E>) -> (Digest, u64, Digest) {
    let path = dir.join(format!("layer-{n}.tar.gz"));
    let file = io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let blob = Hashing { inner: file, hasher: Hasher::new(Algorithm::Sha256) };
    let gz = flate2::write::GzEncoder::new(blob, flate2::Compression::new(1));
    let tar_side = Hashing { inner: gz, hasher: Hasher::new(Algorithm::Sha256) };
    let mut b = tar::Builder::new(tar_side);
    let zeros = vec![0u8; 4096];
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        match e {
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, p, io::empty()).unwrap();
            }
            E::File(p, size) => {
                h.set_size(size as u64);
                b.append_data(&mut h, p, &zeros[..size]).unwrap();
            }
        }
    }
    let tar_side = b.into_inner().unwrap();
    let diff_id = tar_side.hasher.finalize();
    let mut blob = tar_side.inner.finish().unwrap();
    blob.flush().unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    let digest = blob.hasher.finalize();
    let blobs = dir.join("oci/blobs/sha256");
    std::fs::hard_link(&path, blobs.join(digest.hex())).unwrap();
    (digest, size, diff_id)
}

fn put(dir: &Path, data: &[u8]) -> (Digest, usize) {
    let d = Digest::of(Algorithm::Sha256, data);
    std::fs::write(dir.join("oci/blobs/sha256").join(d.hex()), data).unwrap();
    (d, data.len())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: many_files DIR [FILES]");
        std::process::exit(2);
    };
    let files: usize = args.next().map_or(1_000_000, |n| n.parse().unwrap());
    let dir = Path::new(&dir);
    std::fs::create_dir_all(dir.join("oci/blobs/sha256")).unwrap();
    let dirs = 1000;
    let per = files.div_ceil(dirs);
    let name = |d: usize, f: usize| format!("data/d{d:04}/f{f:04}");
    let size = |d: usize, f: usize| (d * 7919 + f * 104_729) % 200;
    let base = std::iter::once(E::Dir("data/".into())).chain((0..dirs).flat_map(move |d| {
        std::iter::once(E::Dir(format!("data/d{d:04}/")))
            .chain((0..per).map(move |f| E::File(name(d, f), size(d, f))))
    }));
    let l0 = layer(dir, 0, base);
    let second = (0..dirs).flat_map(move |d| {
        let mut v = Vec::new();
        if (900..920).contains(&d) {
            v.push(E::File(format!("data/.wh.d{d:04}"), 0));
            return v;
        }
        v.push(E::Dir(format!("data/d{d:04}/")));
        if d == 950 {
            v.push(E::File(format!("data/d{d:04}/.wh..wh..opq"), 0));
            v.extend((0..10).map(|f| E::File(format!("data/d{d:04}/new{f}"), 10)));
            return v;
        }
        for f in (0..per).step_by(20) {
            v.push(E::File(name(d, f), size(d, f) + 100));
            if f + 1 < per {
                v.push(E::File(format!("data/d{d:04}/.wh.f{:04}", f + 1), 0));
            }
        }
        v
    });
    let l1 = layer(dir, 1, second);
    let third = (0..dirs).filter(|d| !(900..920).contains(d) && *d != 950).flat_map(move |d| {
        std::iter::once(E::Dir(format!("data/d{d:04}/")))
            .chain((0..per).step_by(100).map(move |f| E::File(name(d, f), 50)))
    });
    let l2 = layer(dir, 2, third);
    let layers = [l0, l1, l2];
    let diff_ids: Vec<String> = layers.iter().map(|l| format!("\"{}\"", l.2)).collect();
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":[{}]}}}}"#,
        diff_ids.join(",")
    );
    let (cd, cs) = put(dir, config.as_bytes());
    let ls: Vec<String> = layers
        .iter()
        .map(|l| {
            format!(
                r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":{}}}"#,
                l.0, l.1
            )
        })
        .collect();
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{cs}}},"layers":[{}]}}"#,
        ls.join(",")
    );
    let (md, ms) = put(dir, manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{ms},"annotations":{{"org.opencontainers.image.ref.name":"many"}}}}]}}"#
    );
    std::fs::write(dir.join("oci/index.json"), index).unwrap();
    std::fs::write(dir.join("oci/oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    eprintln!("many_files: {} with {files} files in {}", dir.join("oci").display(), dirs);
}

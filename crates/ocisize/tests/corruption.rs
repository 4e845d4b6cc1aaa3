//! The corruption matrix: flip one byte at many positions and truncate at many lengths, for
//! archives of every format. Every run must end in a verification failure (exit status 1) or
//! a read error (exit status 2), unless the byte is one no digest covers, where the report
//! must equal the original's. Outcomes are counted and printed (`--nocapture`); the table in
//! docs/robustness.md comes from this test.
//!
//! Exit statuses are those the CLI maps from the library: `Err` → 2, an unverified report →
//! 1, a verified report → 0. The library is called directly so thousands of runs stay fast.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ocisize::{inspect, inspect_reader, Options, Report, SourceArg};
use ocisize_testkit::{copy_dir, corpus};

/// What a byte of an archive is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Region {
    /// Inside a blob that a digest covers.
    Covered,
    /// Inside a docker-archive config whose member name is its digest: docker, podman and
    /// ctr load it whatever its bytes hash to, so a flip is a warning of its own kind
    /// (`named-digest-mismatch`), or an error when it breaks the JSON.
    Named,
    /// Tar structure: a header (its checksum covers it) or the end-of-archive blocks.
    Header,
    /// Body of a document no digest covers (index.json, manifest.json, oci-layout, …) or of
    /// a member nothing references.
    Metadata,
    /// Padding after a body, and the record padding after the end-of-archive blocks.
    Padding,
    /// Not a flip: the archive cut short (anything but trailing padding).
    Truncation,
    /// Not a flip: the archive cut inside its trailing zero padding only.
    TruncationInPadding,
}

/// Byte ranges of each member of a tar: (header start, body start, body end, name).
fn layout(archive: &[u8]) -> Vec<(usize, usize, usize, String)> {
    let mut a = tar::Archive::new(archive);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let e = e.unwrap();
        let body = e.raw_file_position() as usize;
        let header = e.raw_header_position() as usize;
        let len = e.size() as usize;
        out.push((header, body, body + len, e.path().unwrap().to_string_lossy().into_owned()));
    }
    out
}

fn classify(archive: &[u8], kind_of: &dyn Fn(&str) -> Region) -> Vec<Region> {
    let mut r = vec![Region::Padding; archive.len()];
    let members = layout(archive);
    // The two zero blocks after the last member end the archive: a flipped bit there makes a
    // header that fails its checksum.
    if let Some((_, _, end, _)) = members.last() {
        let eoa = end.div_ceil(512) * 512;
        for x in r.iter_mut().skip(eoa).take(1024) {
            *x = Region::Header;
        }
    }
    for (header, body, end, name) in members {
        for x in &mut r[header..body] {
            *x = Region::Header;
        }
        let kind = kind_of(&name);
        for x in &mut r[body..end] {
            *x = kind;
        }
    }
    r
}

fn status(r: &Result<Report, ocisize::InspectError>) -> u8 {
    match r {
        Err(_) => 2,
        Ok(rep) if !rep.verified() => 1,
        Ok(_) => 0,
    }
}

#[derive(Default, Debug)]
struct Tally {
    /// (region, exit status) → count.
    outcomes: BTreeMap<(Region, u8), u64>,
}

impl Tally {
    fn add(&mut self, region: Region, status: u8) {
        *self.outcomes.entry((region, status)).or_default() += 1;
    }

    fn print(&self, what: &str) {
        eprintln!("{what}");
        for ((region, status), n) in &self.outcomes {
            eprintln!("  {region:?} exit {status}: {n}");
        }
    }
}

fn options() -> Options {
    Options { parallelism: ocisize::Parallelism::new(1), ..Options::default() }
}

/// Flip byte `i` (xor 0x01 and xor 0x80 alternately, so both low and high bits are tried)
/// and check the outcome against the region.
/// The same bytes read as an archive file (indexed, measured with positioned reads) give
/// the same images and the same problems (kind and digest) as read as a stream.
fn check_parity(
    name: &str,
    at: &str,
    streamed: &Result<Report, ocisize::InspectError>,
    bytes: &[u8],
) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("archive.tar");
    std::fs::write(&path, bytes).unwrap();
    let filed = inspect(&SourceArg::path(&path), &options());
    assert_eq!(status(&filed), status(streamed), "{name}: {at}: file and stream disagree");
    if let (Ok(a), Ok(b)) = (&filed, streamed) {
        assert_eq!(a.images.len(), b.images.len(), "{name}: {at}");
        for (x, y) in a.images.iter().zip(&b.images) {
            assert_eq!((x.image_id, x.verified), (y.image_id, y.verified), "{name}: {at}");
            assert_eq!(x.sizes, y.sizes, "{name}: {at}");
        }
        let kinds = |r: &Report| {
            let mut v: Vec<_> = r.problems.iter().map(|p| (p.kind, p.digest)).collect();
            v.sort_by_key(|(k, d)| (k.name(), d.map(|d| d.to_string())));
            v.dedup();
            v
        };
        assert_eq!(kinds(a), kinds(b), "{name}: {at}: file and stream report different problems");
    }
}

fn flip_and_check(
    name: &str,
    archive: &[u8],
    regions: &[Region],
    original: &Report,
    positions: impl Iterator<Item = usize>,
    tally: &mut Tally,
) {
    let mut buf = archive.to_vec();
    for i in positions {
        let mask = if i % 2 == 0 { 0x01 } else { 0x80 };
        buf[i] ^= mask;
        let r = inspect_reader(&buf[..], "-", &options());
        let st = status(&r);
        let region = regions[i];
        tally.add(region, st);
        if i % 3 == 0 {
            check_parity(name, &format!("flip at {i}"), &r, &buf);
        }
        match region {
            Region::Named => {
                let warned = r.as_ref().is_ok_and(|rep| {
                    rep.problems.iter().any(|p| p.kind == ocisize::ProblemKind::NamedDigestMismatch)
                });
                assert!(
                    st != 0 || warned,
                    "{name}: flip at {i} inside a digest-named config was not reported"
                );
            }
            Region::Covered => {
                assert_ne!(
                    st, 0,
                    "{name}: flip at {i} inside a digest-covered blob was not detected"
                )
            }
            Region::Padding => {
                let rep = r.as_ref().unwrap_or_else(|e| panic!("{name}: padding flip at {i}: {e}"));
                assert_eq!(
                    rep.images, original.images,
                    "{name}: padding flip at {i} changed the report"
                );
            }
            Region::Header => {
                if st == 0 {
                    assert_eq!(r.unwrap().images, original.images, "{name}: header flip at {i}");
                }
            }
            Region::Metadata | Region::Truncation | Region::TruncationInPadding => {}
        }
        buf[i] ^= mask;
    }
}

fn truncate_and_check(
    name: &str,
    archive: &[u8],
    lengths: impl Iterator<Item = usize>,
    tally: &mut Tally,
) {
    for len in lengths {
        if len >= archive.len() {
            continue;
        }
        let r = inspect_reader(&archive[..len], "-", &options());
        let st = status(&r);
        check_parity(name, &format!("truncation to {len}"), &r, &archive[..len]);
        // Whatever is cut, something the image needs is missing, unless only the trailing
        // end-of-archive padding was cut.
        let only_padding = archive[len..].iter().all(|&b| b == 0)
            && layout(archive).iter().all(|(_, _, end, _)| *end <= len);
        if !only_padding {
            assert_ne!(st, 0, "{name}: truncation to {len} bytes was not detected");
        }
        tally.add(if only_padding { Region::TruncationInPadding } else { Region::Truncation }, st);
    }
}

/// A small but real oci-archive: the two small layers of the corpus image `tiny` (umoci
/// gzip blobs), a config listing their diffIDs, a manifest and an index.
fn small_oci_archive() -> Vec<u8> {
    let dir = corpus("tiny.umoci.oci/blobs/sha256");
    let layers = [
        (
            "476c5840616c62b18dbfbfa050ed932918b363f6e30b15820a735cbba3c1c436",
            "sha256:2fc9fd4b640ce87668ab6a8b1ac19149719315cfc90dfade58c6507df29c2755",
        ),
        (
            "fab19541c532f4a3ff4cf606eea5bbe9fc3781320384ea3e2959ba6ab0ed8b77",
            "sha256:c00e14bba28f4f4380acd2e0337c57886a0592283af30615c5836b055132a258",
        ),
    ];
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
        layers[0].1, layers[1].1
    );
    let cd = ocisize::Digest::of(ocisize::Algorithm::Sha256, config.as_bytes());
    let mut descs = Vec::new();
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (hex, _) in layers {
        let b = std::fs::read(dir.join(hex)).unwrap();
        descs.push(format!(
            r#"{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:{hex}","size":{}}}"#,
            b.len()
        ));
        files.push((format!("blobs/sha256/{hex}"), b));
    }
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{}}},"layers":[{}]}}"#,
        config.len(),
        descs.join(",")
    );
    let md = ocisize::Digest::of(ocisize::Algorithm::Sha256, manifest.as_bytes());
    let index = format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{md}","size":{},"annotations":{{"org.opencontainers.image.ref.name":"latest"}}}}]}}"#,
        manifest.len()
    );
    files.push((format!("blobs/sha256/{}", cd.hex()), config.into_bytes()));
    files.push((format!("blobs/sha256/{}", md.hex()), manifest.into_bytes()));
    files.push(("oci-layout".into(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
    files.push(("index.json".into(), index.into_bytes()));
    let mut b = tar::Builder::new(Vec::new());
    for (n, d) in &files {
        let mut h = tar::Header::new_gnu();
        h.set_path(n).unwrap();
        h.set_size(d.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, &d[..]).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn every_byte_of_a_small_oci_archive() {
    let archive = small_oci_archive();
    let original = inspect_reader(&archive[..], "-", &options()).unwrap();
    assert!(original.verified(), "{:#?}", original.problems);
    let regions = classify(&archive, &|n| {
        if n.starts_with("blobs/") {
            Region::Covered
        } else {
            Region::Metadata
        }
    });
    let mut tally = Tally::default();
    flip_and_check(
        "small oci-archive",
        &archive,
        &regions,
        &original,
        0..archive.len(),
        &mut tally,
    );
    truncate_and_check("small oci-archive", &archive, (0..archive.len()).step_by(37), &mut tally);
    tally.print(&format!("small oci-archive, {} bytes, every byte flipped", archive.len()));
    let covered = tally.outcomes.iter().filter(|((r, _), _)| *r == Region::Covered).count();
    assert!(covered > 0);
}

#[test]
fn sampled_bytes_of_real_archives() {
    for name in [
        "tiny.skopeo.oci-archive.tar",
        "tiny.dockerd.save.tar",
        "tiny.skopeo.docker-archive.tar",
        "tiny.skopeo.oci-archive-zstd.tar",
        "multi.skopeo.oci-archive.tar",
    ] {
        let archive = std::fs::read(corpus(name)).unwrap();
        let original = inspect_reader(&archive[..], "-", &options()).unwrap();
        assert!(original.verified(), "{name}");
        // Blobs covered by a digest: OCI blobs, docker-archive layers (diffID) and configs
        // (named by their digest). The v1 `json` and `VERSION` files are covered by nothing.
        let kind_of = |n: &str| {
            let stem = n.trim_end_matches(".json");
            if n.starts_with("blobs/") || n.ends_with("/layer.tar") || n.ends_with(".tar") {
                Region::Covered
            } else if stem.len() == 64 && !n.contains('/') {
                Region::Named
            } else {
                Region::Metadata
            }
        };
        let regions = classify(&archive, &kind_of);
        let mut tally = Tally::default();
        // A deterministic sample: every region kind, spread over the whole archive.
        let step = (archive.len() / 400).max(1);
        let members = layout(&archive);
        let positions =
            (0..archive.len()).step_by(step).chain(members.iter().flat_map(|(h, b, e, _)| {
                [*h, *h + 100, *h + 140, *b, (*b + *e) / 2, e.saturating_sub(1)]
            }));
        let positions: Vec<usize> = positions.filter(|&p| p < archive.len()).collect();
        flip_and_check(name, &archive, &regions, &original, positions.into_iter(), &mut tally);
        truncate_and_check(
            name,
            &archive,
            (0..archive.len()).step_by((archive.len() / 60).max(1)),
            &mut tally,
        );
        tally.print(&format!("{name}, {} bytes, sampled", archive.len()));
    }
}

/// Flip bytes inside every blob file of layout directories (OCI and dir:), on disk.
#[test]
fn layout_directories() {
    for name in ["tiny.umoci.oci", "tiny.podman.docker-dir", "tiny.skopeo.oci-zstd"] {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("l");
        copy_dir(&corpus(name), &root);
        let mut tally = Tally::default();
        let mut files = Vec::new();
        collect(&root, &mut files);
        for f in files {
            let rel = f.strip_prefix(&root).unwrap().to_string_lossy().into_owned();
            let digest_named = rel.starts_with("blobs/") || rel.len() == 64;
            if !digest_named {
                continue;
            }
            let orig = std::fs::read(&f).unwrap();
            for pos in [0, orig.len() / 3, orig.len() / 2, orig.len().saturating_sub(1)] {
                if pos >= orig.len() {
                    continue;
                }
                let mut b = orig.clone();
                b[pos] ^= 0x04;
                std::fs::write(&f, &b).unwrap();
                let r = inspect(&SourceArg::path(&root), &options());
                let st = status(&r);
                tally.add(Region::Covered, st);
                // A blob nothing references (umoci-nogc style) could be flipped harmlessly;
                // these layouts are gc'd, so every blob is referenced.
                assert_ne!(st, 0, "{name}: flip in {rel} at {pos} not detected");
            }
            std::fs::write(&f, &orig).unwrap();
        }
        tally.print(&format!("{name} (layout directory), 4 flips per blob"));
    }
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

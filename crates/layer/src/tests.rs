use std::io::{self, Read, Write};
use std::path::Path;

use ocisize_testkit::Jittery;
use proptest::prelude::*;

use super::*;

/// The layer facts of a blob, through the one production path.
fn measure<R: Read>(raw: R, limits: &Limits) -> Result<LayerFacts, LayerError> {
    measure_blob(raw, Algorithm::Sha256, limits, Pipeline::Serial).map_err(LayerError::Io)?.layer
}

fn header(path: &str, kind: ::tar::EntryType, size: u64) -> ::tar::Header {
    let mut h = ::tar::Header::new_gnu();
    h.set_path(path).unwrap();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}

#[derive(Clone, Debug)]
enum E {
    File(String, Vec<u8>),
    Dir(String),
    Symlink(String, String),
    Hardlink(String, String),
}

fn build(entries: &[E]) -> Vec<u8> {
    let mut b = ::tar::Builder::new(Vec::new());
    for e in entries {
        match e {
            E::File(p, data) => {
                let mut h = header("x", ::tar::EntryType::Regular, data.len() as u64);
                b.append_data(&mut h, p, &data[..]).unwrap();
            }
            E::Dir(p) => {
                let mut h = header("x", ::tar::EntryType::Directory, 0);
                b.append_data(&mut h, p, io::empty()).unwrap();
            }
            E::Symlink(p, t) => {
                let mut h = header("x", ::tar::EntryType::Symlink, 0);
                b.append_link(&mut h, p, t).unwrap();
            }
            E::Hardlink(p, t) => {
                let mut h = header("x", ::tar::EntryType::Link, 0);
                b.append_link(&mut h, p, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn sample() -> Vec<E> {
    vec![
        E::Dir("etc/".into()),
        E::File("etc/hello".into(), b"hello world".to_vec()),
        E::File("etc/empty".into(), Vec::new()),
        E::Hardlink("etc/hello2".into(), "etc/hello".into()),
        E::Symlink("etc/link".into(), "hello".into()),
        E::File("etc/.wh.gone".into(), Vec::new()),
        E::File("opt/.wh..wh..opq".into(), Vec::new()),
        E::File(format!("long/{}", "n".repeat(150)), vec![7u8; 1000]),
    ]
}

#[test]
fn counts_every_kind() {
    let tar = build(&sample());
    let f = measure(&tar[..], &Limits::default()).unwrap();
    assert_eq!(f.compression, Compression::None);
    assert_eq!(f.uncompressed_size, tar.len() as u64);
    assert_eq!(f.diff_id, Digest::of(Algorithm::Sha256, &tar));
    let s = f.tar.unwrap();
    assert_eq!(s.entries, 8);
    assert_eq!((s.files, s.dirs, s.symlinks, s.hardlinks), (3, 1, 1, 1));
    assert_eq!((s.whiteouts, s.opaque_dirs), (1, 1));
    assert!(s.end_of_archive);
    assert_eq!(s.docker_vfs_size, 11 + 1000);
    // hello (11, counted once for both names) + symlink target "hello" (5) + long file.
    assert_eq!(s.docker_overlay2_size, 11 + 5 + 1000);
}

#[test]
fn missing_end_blocks_are_accepted_and_truncation_is_not() {
    let tar = build(&sample());
    // Strip the two zero blocks the tar crate appends (and nothing else).
    let stripped = &tar[..tar.len() - 1024];
    let s = measure(stripped, &Limits::default()).unwrap().tar.unwrap();
    assert!(!s.end_of_archive);
    assert_eq!(s.entries, 8);
    // Ending right after the last body, with no padding at all, is complete too (umoci).
    let no_pad = &stripped[..stripped.len() - (512 - 1000 % 512)];
    assert_eq!(measure(no_pad, &Limits::default()).unwrap().tar.unwrap().entries, 8);
    for cut in [100, 512 + 3, stripped.len() - 10] {
        let e = measure(&stripped[..cut], &Limits::default()).unwrap().tar.unwrap_err();
        assert!(matches!(e, TarError::Truncated { .. }), "cut {cut}: {e}");
    }
}

#[test]
fn bad_checksum_is_reported() {
    let mut tar = build(&sample());
    tar[3] ^= 0x20;
    let e = measure(&tar[..], &Limits::default()).unwrap().tar.unwrap_err();
    assert!(matches!(e, TarError::BadChecksum { offset: 0, .. }), "{e}");
}

#[test]
fn pax_long_names_and_sizes() {
    let mut b = ::tar::Builder::new(Vec::new());
    let long = format!("dir/{}", "p".repeat(200));
    let pax = format!("path={long}\n");
    let rec = format!("{} {pax}", pax.len() + 4);
    assert_eq!(rec.len(), pax.len() + 4);
    let mut h = header("PaxHeaders/x", ::tar::EntryType::XHeader, rec.len() as u64);
    h.set_cksum();
    b.append(&h, rec.as_bytes()).unwrap();
    let h = header("short", ::tar::EntryType::Regular, 3);
    b.append(&h, &b"abc"[..]).unwrap();
    let tar = b.into_inner().unwrap();
    let s = measure(&tar[..], &Limits::default()).unwrap().tar.unwrap();
    assert_eq!((s.entries, s.files, s.docker_vfs_size), (1, 1, 3));
}

#[test]
fn multi_member_gzip_counts_every_member() {
    let a = build(&[E::File("a".into(), vec![1u8; 5000])]);
    let mut blob = gzip(&a[..3000]);
    blob.extend(gzip(&a[3000..]));
    let f = measure(&blob[..], &Limits::default()).unwrap();
    assert_eq!(f.compression, Compression::Gzip);
    assert_eq!(f.uncompressed_size, a.len() as u64);
    assert_eq!(f.diff_id, Digest::of(Algorithm::Sha256, &a));
    assert_eq!(f.tar.unwrap().files, 1);
}

#[test]
fn multi_frame_zstd_counts_every_frame() {
    let a = build(&[E::File("a".into(), vec![1u8; 5000])]);
    let mut blob = zstd::encode_all(&a[..1000], 3).unwrap();
    blob.extend(zstd::encode_all(&a[1000..], 3).unwrap());
    let f = measure(&blob[..], &Limits::default()).unwrap();
    assert_eq!(f.compression, Compression::Zstd);
    assert_eq!(f.uncompressed_size, a.len() as u64);
    assert_eq!(f.diff_id, Digest::of(Algorithm::Sha256, &a));
}

#[test]
fn empty_and_json_blobs() {
    let f = measure(&b""[..], &Limits::default()).unwrap();
    assert_eq!(f.uncompressed_size, 0);
    assert_eq!(f.tar.unwrap().entries, 0);
    let json = br#"{"architecture":"amd64","os":"linux"}"#;
    let f = measure(&json[..], &Limits::default()).unwrap();
    assert_eq!(f.diff_id, Digest::of(Algorithm::Sha256, json));
    assert!(f.tar.is_err());
}

#[test]
fn corrupt_gzip_is_an_error() {
    let a = build(&sample());
    let mut blob = gzip(&a);
    let n = blob.len();
    blob[n / 2] ^= 0xff;
    blob[n / 2 + 1] ^= 0xff;
    assert!(matches!(
        measure(&blob[..], &Limits::default()),
        Err(LayerError::Decompress { compression: Compression::Gzip, .. }
            | LayerError::GzipCrc { .. }
            | LayerError::GzipLength { .. })
    ));
    let truncated = &gzip(&a)[..n - 9];
    assert!(measure(truncated, &Limits::default()).is_err());
}

#[test]
fn decompression_bomb_stops_at_the_limit() {
    let zeros = vec![0u8; 8 << 20];
    let blob = gzip(&zeros);
    assert!(blob.len() < 100_000);
    let limits = Limits { max_uncompressed_bytes: 1 << 20, ..Limits::default() };
    let e = measure(&blob[..], &limits).unwrap_err();
    assert!(matches!(e, LayerError::TooLarge { limit } if limit == 1 << 20), "{e}");
}

#[test]
fn too_many_entries() {
    let tar = build(&sample());
    let limits = Limits { max_entries: 3, ..Limits::default() };
    let e = measure(&tar[..], &limits).unwrap().tar.unwrap_err();
    assert_eq!(e, TarError::TooManyEntries { limit: 3 });
}

#[test]
fn short_reads_and_interrupts_change_nothing() {
    let tar = build(&sample());
    for blob in [tar.clone(), gzip(&tar), zstd::encode_all(&tar[..], 1).unwrap()] {
        let want = measure(&blob[..], &Limits::default()).unwrap();
        for seed in 0..20 {
            let got = measure(Jittery::new(&blob, seed, 700, 7), &Limits::default()).unwrap();
            assert_eq!(got, want);
        }
    }
}

fn corpus(p: &str) -> Option<Vec<u8>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/corpus").join(p);
    std::fs::read(path).ok()
}

/// Real umoci layers (gzip, no end-of-archive blocks in the last one) against the figures
/// dockerd and coreutils reported (testdata/corpus/reference.json: docker.layerdb sizes and
/// coreutils_blobs uncompressed sizes for tiny.skopeo.docker-archive.tar).
#[test]
fn corpus_layers() {
    let cases = [
        (
            "336384079505ceeb1825fe99653b1b0f724937ac26d525fb3b1eecba44d41e67",
            1996288,
            "1e510dd8f8b50ee0b31f3073a79574a805a37375d0a5b39710a6c855a7a4e1f9",
            true,
        ),
        (
            "01dd3eebaba313f229812c343fdaa583e39deca35e361082d175e37bd476cf7b",
            347136,
            "6e948e787a1916ff66111498fca623e08bd34c899f76372963669c8e163e4159",
            true,
        ),
        (
            "476c5840616c62b18dbfbfa050ed932918b363f6e30b15820a735cbba3c1c436",
            3072,
            "2fc9fd4b640ce87668ab6a8b1ac19149719315cfc90dfade58c6507df29c2755",
            true,
        ),
        (
            "fab19541c532f4a3ff4cf606eea5bbe9fc3781320384ea3e2959ba6ab0ed8b77",
            1540,
            "c00e14bba28f4f4380acd2e0337c57886a0592283af30615c5836b055132a258",
            false,
        ),
    ];
    for (blob, size, diff, eoa) in cases {
        let data = corpus(&format!("tiny.umoci.oci/blobs/sha256/{blob}")).expect("corpus blob");
        let f = measure(&data[..], &Limits::default()).unwrap();
        assert_eq!(f.compression, Compression::Gzip);
        assert_eq!(f.uncompressed_size, size);
        assert_eq!(f.diff_id.hex(), diff);
        let s = f.tar.unwrap();
        assert_eq!(s.end_of_archive, eoa, "{blob}");
    }
}

proptest! {
    #[test]
    fn gzip_round_trip(data in proptest::collection::vec(any::<u8>(), 0..20_000), cut in 0usize..20_000) {
        let cut = cut.min(data.len());
        let mut blob = gzip(&data[..cut]);
        blob.extend(gzip(&data[cut..]));
        let f = measure(&blob[..], &Limits::default()).unwrap();
        prop_assert_eq!(f.uncompressed_size, data.len() as u64);
        prop_assert_eq!(f.diff_id, Digest::of(Algorithm::Sha256, &data));
    }

    #[test]
    fn zstd_round_trip(data in proptest::collection::vec(any::<u8>(), 0..20_000), cut in 0usize..20_000) {
        let cut = cut.min(data.len());
        let mut blob = zstd::encode_all(&data[..cut], 1).unwrap();
        blob.extend(zstd::encode_all(&data[cut..], 1).unwrap());
        let f = measure(&blob[..], &Limits::default()).unwrap();
        prop_assert_eq!(f.uncompressed_size, data.len() as u64);
        prop_assert_eq!(f.diff_id, Digest::of(Algorithm::Sha256, &data));
    }

    #[test]
    fn generated_layers_match_an_independent_count(
        files in proptest::collection::vec((0u8..4, 0usize..3000), 0..40)
    ) {
        let mut entries = Vec::new();
        let (mut nfiles, mut ndirs, mut nsym, mut vfs, mut overlay) = (0u64, 0u64, 0u64, 0u64, 0u64);
        for (i, (kind, len)) in files.iter().enumerate() {
            match kind {
                0 | 1 => {
                    entries.push(E::File(format!("f{i}"), vec![i as u8; *len]));
                    nfiles += 1;
                    vfs += *len as u64;
                    overlay += *len as u64;
                }
                2 => {
                    entries.push(E::Dir(format!("d{i}/")));
                    ndirs += 1;
                }
                _ => {
                    let target = "t".repeat(1 + len % 90);
                    overlay += target.len() as u64;
                    entries.push(E::Symlink(format!("s{i}"), target));
                    nsym += 1;
                }
            }
        }
        let tar = build(&entries);
        let s = measure(&tar[..], &Limits::default()).unwrap().tar.unwrap();
        prop_assert_eq!((s.files, s.dirs, s.symlinks), (nfiles, ndirs, nsym));
        prop_assert_eq!(s.entries, entries.len() as u64);
        prop_assert_eq!(s.docker_vfs_size, vfs);
        prop_assert_eq!(s.docker_overlay2_size, overlay);
    }
}

#[test]
fn blob_digest_and_size_in_the_same_pass() {
    let tar = build(&sample());
    let gz = gzip(&tar);
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    let expected = measure(&tar[..], &Limits::default()).unwrap();
    for (blob, alg) in [
        (&tar, Algorithm::Sha256),
        (&tar, Algorithm::Sha512),
        (&gz, Algorithm::Sha256),
        (&gz, Algorithm::Sha512),
        (&zst, Algorithm::Sha256),
    ] {
        // Every way of spreading the work over threads gives the same figures.
        for pipeline in [Pipeline::Serial, Pipeline::Staged] {
            let m = measure_blob(&blob[..], alg, &Limits::default(), pipeline).unwrap();
            assert_eq!(m.size, blob.len() as u64);
            assert_eq!(m.digest, Digest::of(alg, blob));
            let layer = m.layer.unwrap();
            assert_eq!(layer.diff_id, Digest::of(Algorithm::Sha256, &tar));
            assert_eq!(layer.tar, expected.tar, "{pipeline:?}");
            assert_eq!(layer.uncompressed_size, tar.len() as u64);
        }
    }
    // A gzip blob that stops decoding half way still gets the digest of all its bytes.
    let mut bad = gz.clone();
    let n = bad.len();
    bad[n / 2] ^= 0xff;
    bad[n / 2 + 1] ^= 0xff;
    // So does a bomb stopped at the limit, and a blob read in odd pieces.
    let zeros = gzip(&vec![0u8; 4 << 20]);
    let limits = Limits { max_uncompressed_bytes: 1 << 20, ..Limits::default() };
    for pipeline in [Pipeline::Serial, Pipeline::Staged] {
        let m = measure_blob(&bad[..], Algorithm::Sha256, &Limits::default(), pipeline);
        let m = m.unwrap();
        assert!(
            matches!(
                m.layer,
                Err(LayerError::Decompress { .. }
                    | LayerError::GzipCrc { .. }
                    | LayerError::GzipLength { .. })
            ),
            "{pipeline:?}"
        );
        assert_eq!((m.size, m.digest), (n as u64, Digest::of(Algorithm::Sha256, &bad)));
        let m = measure_blob(&zeros[..], Algorithm::Sha256, &limits, pipeline).unwrap();
        assert!(matches!(m.layer, Err(LayerError::TooLarge { .. })), "{pipeline:?}");
        assert_eq!(m.size, zeros.len() as u64);
        assert_eq!(m.digest, Digest::of(Algorithm::Sha256, &zeros));
        let jittery = Jittery::new(&gz, 3, 5000, 4);
        let m = measure_blob(jittery, Algorithm::Sha256, &Limits::default(), pipeline);
        let m = m.unwrap();
        assert_eq!(m.digest, Digest::of(Algorithm::Sha256, &gz));
        assert_eq!(m.layer.unwrap().tar, expected.tar);
    }
    // A gzip member followed by megabytes that are not gzip: the decoder stops at the bad
    // header while most of the blob is still to be read; digest and size cover every byte.
    let mut state = 1u64;
    let noise: Vec<u8> = (0..3 << 20)
        .map(|_| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
            (state >> 56) as u8
        })
        .collect();
    let mut big = gzip(&build(&sample()));
    big.extend_from_slice(&noise);
    for pipeline in [Pipeline::Serial, Pipeline::Staged] {
        let m = measure_blob(&big[..], Algorithm::Sha512, &Limits::default(), pipeline);
        let m = m.unwrap();
        assert!(matches!(m.layer, Err(LayerError::Decompress { .. })), "{pipeline:?}");
        assert_eq!((m.size, m.digest), (big.len() as u64, Digest::of(Algorithm::Sha512, &big)));
    }
}

#[test]
fn a_failing_reader_is_an_error_not_a_corrupt_layer() {
    struct Failing(usize);
    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0 == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "disk gone"));
            }
            let n = self.0.min(buf.len());
            buf[..n].fill(0x1f);
            self.0 -= n;
            Ok(n)
        }
    }
    let e = measure_blob(Failing(10_000), Algorithm::Sha256, &Limits::default(), Pipeline::Serial)
        .unwrap_err();
    assert_eq!(e.to_string(), "disk gone");
    let e = measure_blob(Failing(0), Algorithm::Sha256, &Limits::default(), Pipeline::Staged)
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    // A compressed blob whose reader fails half way: an error, in every pipeline.
    let gz = gzip(&build(&sample()));
    for pipeline in [Pipeline::Serial, Pipeline::Staged] {
        let failing = (&gz[..gz.len() / 2]).chain(Failing(0));
        let e = measure_blob(failing, Algorithm::Sha256, &Limits::default(), pipeline);
        assert_eq!(e.unwrap_err().to_string(), "disk gone", "{pipeline:?}");
    }
}

/// flate2 reports a bad CRC-32 and a bad ISIZE alike ("does not have a matching checksum");
/// the trailer tells them apart.
#[test]
fn gzip_trailer_failures_are_named() {
    let tar = build(&sample());
    let gz = gzip(&tar);
    let n = gz.len();
    for pipeline in [Pipeline::Serial, Pipeline::Staged] {
        let mut bad_isize = gz.clone();
        bad_isize[n - 1] ^= 0x40;
        let m =
            measure_blob(&bad_isize[..], Algorithm::Sha256, &Limits::default(), pipeline).unwrap();
        let e = m.layer.unwrap_err();
        assert!(
            matches!(e, LayerError::GzipLength { inflated, .. } if inflated == tar.len() as u64),
            "{e}"
        );
        assert!(e.to_string().contains("uncompressed length"), "{e}");
        let mut bad_crc = gz.clone();
        bad_crc[n - 6] ^= 0x01;
        let m =
            measure_blob(&bad_crc[..], Algorithm::Sha256, &Limits::default(), pipeline).unwrap();
        let e = m.layer.unwrap_err();
        assert!(matches!(e, LayerError::GzipCrc { .. }), "{e}");
    }
}

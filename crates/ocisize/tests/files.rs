//! `--files` on the real-tool images: the layer blobs are read a second time here, on their
//! own (the tar crate, flate2, zstd), and given to the two independent models of
//! `ocisize_testkit::layers` — a port of dive's trees and an unpack into a map — whose
//! figures must be what ocisize computed in its single pass.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

use std::io::Read;
use std::path::{Path, PathBuf};

use ocisize::{inspect, Options, SourceArg};
use ocisize_testkit::layers::{self, RawEntry, RawKind};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// Every OCI layout and oci-archive of the corpus and of `edge/`.
fn sources() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["corpus", "edge"] {
        for e in std::fs::read_dir(testdata().join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.join("index.json").is_file() || name.contains("oci-archive") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// A blob's bytes: a layout file, or an archive member.
fn blob(source: &Path, member: &str) -> Vec<u8> {
    if source.is_dir() {
        return std::fs::read(source.join(member)).unwrap();
    }
    let mut a = tar::Archive::new(std::fs::File::open(source).unwrap());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.path().unwrap().to_string_lossy().trim_start_matches("./") == member {
            let mut v = Vec::new();
            e.read_to_end(&mut v).unwrap();
            return v;
        }
    }
    panic!("{}: no member {member}", source.display());
}

/// A layer's entries as the tar crate reads them.
fn entries(blob: &[u8]) -> Vec<RawEntry> {
    let tar: Vec<u8> = match blob {
        [0x1f, 0x8b, ..] => {
            let mut v = Vec::new();
            flate2::read::MultiGzDecoder::new(blob).read_to_end(&mut v).unwrap();
            v
        }
        [0x28, 0xb5, 0x2f, 0xfd, ..] => zstd::decode_all(blob).unwrap(),
        _ => blob.to_vec(),
    };
    // umoci 0.4.7 ends a layer right after the last body, without padding or end blocks,
    // which the tar crate refuses: supply them.
    let mut tar = tar;
    tar.resize(tar.len().div_ceil(512) * 512 + 1024, 0);
    let mut out = Vec::new();
    for e in tar::Archive::new(&tar[..]).entries().unwrap() {
        let e = e.unwrap();
        let t = e.header().entry_type();
        let kind = if t.is_dir() {
            RawKind::Dir
        } else if t.is_symlink() {
            RawKind::Symlink
        } else if t.is_hard_link() {
            RawKind::Hardlink
        } else if t.is_file() || t == tar::EntryType::Continuous {
            RawKind::File
        } else {
            RawKind::Other
        };
        out.push(RawEntry {
            name: e.path().unwrap().to_string_lossy().into_owned(),
            kind,
            size: e.size(),
            link: e
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default(),
        });
    }
    out
}

#[test]
fn corpus_figures_match_both_independent_models() {
    let options = Options { files: true, files_top: 5, ..Options::default() };
    let mut checked = 0;
    for source in sources() {
        let r = inspect(&SourceArg::path(&source), &options).unwrap();
        assert!(r.verified(), "{}: {:#?}", source.display(), r.problems);
        for image in &r.images {
            let f =
                image.files.as_ref().unwrap_or_else(|| panic!("{}: no files", source.display()));
            let layers: Vec<Vec<RawEntry>> = image
                .layers
                .iter()
                .map(|l| entries(&blob(&source, l.path.as_deref().unwrap())))
                .collect();
            let dive = layers::dive(&layers);
            let unpacked = layers::unpack(&layers);
            let at = format!("{} {:?}", source.display(), image.platform);
            assert!((f.efficiency.0 - dive.efficiency).abs() < 1e-12, "{at}: {f:?} vs {dive:?}");
            assert_eq!(f.dive_wasted_bytes, dive.wasted, "{at}");
            assert_eq!(
                (f.wasted_bytes, f.hidden_copies),
                (unpacked.wasted, unpacked.hidden),
                "{at}"
            );
            let written: u64 =
                layers.iter().flatten().filter(|e| e.kind == RawKind::File).map(|e| e.size).sum();
            assert_eq!(f.written_bytes, written, "{at}");
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} images checked");
}

/// `edge.umoci.oci` holds a rewritten file, a deleted file and a deleted directory: figures
/// worked out from its two layers (`testdata/README.md`), also in docs/waste.md.
#[test]
fn edge_image_figures() {
    let options = Options { files: true, ..Options::default() };
    let r = inspect(&SourceArg::path(testdata().join("edge/edge.umoci.oci")), &options).unwrap();
    let f = r.images[0].files.clone().unwrap();
    eprintln!("{f:#?}");
    assert_eq!((f.wasted_bytes, f.hidden_copies, f.written_bytes), (1081, 9, 1121));
    let top: Vec<(&str, u64, u64)> =
        f.top.iter().map(|t| (t.path.as_str(), t.wasted_bytes, t.copies)).collect();
    assert_eq!(
        top,
        [("a", 1000, 2), ("d/x", 50, 1), ("big", 20, 2), ("e/z", 6, 1), ("e/sub/q", 5, 1)]
    );
}

#[test]
fn without_files_nothing_is_recorded() {
    let r = inspect(&SourceArg::path(testdata().join("edge/edge.umoci.oci")), &Options::default())
        .unwrap();
    assert!(r.images.iter().all(|i| i.files.is_none()));
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["images"][0].get("files").is_none(), "the JSON is unchanged without --files");
}

/// `diff` compares contents: two hand-built images whose top layers differ only in bytes
/// (`ocisize_testkit::oci::content_pair`). A file rewritten with other bytes of the same size
/// and a hard link to it are modified for their content; a file written again with the same
/// bytes and another mtime is not.
#[test]
fn diff_compares_contents() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = ocisize_testkit::oci::content_pair(dir.path());
    let options = Options::default();
    let d =
        ocisize::diff(&SourceArg::path(&a), &SourceArg::path(&b), &options, &Default::default())
            .unwrap();
    assert!(d.verified(), "{:#?}", d.problems);
    assert_eq!((d.layers.common_prefix, d.layers.only_a.len(), d.layers.only_b.len()), (1, 1, 1));
    let f = d.files.unwrap();
    let changes: Vec<(&str, Vec<&str>)> = f
        .changes
        .iter()
        .map(|c| (c.path.as_str(), c.reasons.iter().map(|r| r.name()).collect()))
        .collect();
    assert_eq!(
        changes,
        [
            ("bin/app", vec!["content"]),
            ("bin/app-hard", vec!["content"]),
            ("etc/conf", vec!["content"])
        ]
    );
    assert!(f.changes.iter().all(|c| c.change == ocisize::ChangeKind::Modified));
    // bin, bin/sh, etc, etc/os-release, etc/same, usr, usr/keep
    assert_eq!((f.modified, f.content_modified, f.unchanged, f.added, f.removed), (3, 3, 7, 0, 0));
    let conf = &f.changes[2];
    let (ca, cb) = (conf.a.as_ref().unwrap(), conf.b.as_ref().unwrap());
    assert_eq!((ca.size, cb.size), (10, 10));
    assert!(ca.content.as_deref().unwrap().starts_with("xxh3-128:"), "{ca:?}");
    assert_ne!(ca.content, cb.content);
    // The hard link holds its target's bytes.
    assert_eq!(f.changes[1].b.as_ref().unwrap().content, f.changes[0].b.as_ref().unwrap().content);

    let same =
        ocisize::diff(&SourceArg::path(&a), &SourceArg::path(&a), &options, &Default::default())
            .unwrap()
            .files
            .unwrap();
    assert_eq!((same.modified, same.unchanged, same.changes.len()), (0, 10, 0));
    // What `inspect --files` reports does not move: nothing is wasted in either image.
    let options = Options { files: true, ..Options::default() };
    let r = inspect(&SourceArg::path(&b), &options).unwrap();
    let w = r.images[0].files.clone().unwrap();
    assert_eq!((w.wasted_bytes, w.hidden_copies, w.written_bytes), (0, 0, 8 + 5 + 64 + 10 + 11));
}

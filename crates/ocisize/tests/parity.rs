//! One source model, three ways in: every archive in testdata read as a file (indexed,
//! measured with positioned reads), as a stream (the bytes on standard input), and — for
//! OCI archives — unpacked into a layout directory gives the same images and the same
//! problems (kind and digest). The corruption matrix (`corruption.rs`) checks the same
//! parity for every damaged archive.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use ocisize::{inspect, inspect_reader, Format, ImageReport, Options, Report, SourceArg};

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn archives() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for dir in ["corpus", "edge", "wider"] {
        for e in std::fs::read_dir(testdata().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "tar") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// What must agree: the images (without the member paths, which name the same blobs
/// differently in a layout) and the problems by kind and digest.
fn essence(r: &Report) -> (Vec<ImageReport>, Vec<(String, Option<String>)>) {
    let images = r
        .images
        .iter()
        .cloned()
        .map(|mut i| {
            for l in &mut i.layers {
                l.path = None;
            }
            i
        })
        .collect();
    let mut problems: Vec<_> = r
        .problems
        .iter()
        .filter(|p| p.kind != ocisize::ProblemKind::LayoutIncomplete)
        .map(|p| (p.kind.name().to_owned(), p.digest.map(|d| d.to_string())))
        .collect();
    problems.sort();
    problems.dedup();
    (images, problems)
}

#[test]
fn file_stream_and_unpacked_layout_agree() {
    let options = Options::default();
    let mut compared = 0;
    for path in archives() {
        let name = path.display().to_string();
        let filed = inspect(&SourceArg::path(&path), &options).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let streamed = inspect_reader(&bytes[..], "-", &options).unwrap();
        assert_eq!(essence(&filed), essence(&streamed), "{name}: file and stream");
        compared += 1;
        if filed.source.format != Format::OciArchive {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        tar::Archive::new(&bytes[..]).unpack(dir.path()).unwrap();
        let laid = inspect(&SourceArg::path(dir.path()), &options).unwrap();
        assert_eq!(laid.source.format, Format::OciLayout, "{name}");
        assert_eq!(essence(&filed), essence(&laid), "{name}: archive and unpacked layout");
        compared += 1;
    }
    assert!(compared >= 30, "only {compared} comparisons");
}

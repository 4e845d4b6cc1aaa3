//! Hard limits, each with a test: JSON size, layers per image, images per source, members
//! per archive, entries per layer, decompressed bytes; and short, interrupted reads.

#![allow(clippy::unwrap_used)]

use ocisize::{inspect, inspect_reader, Options, SourceArg};
use ocisize_testkit::{corpus, Jittery};

fn messages(r: &ocisize::Report) -> String {
    r.problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("\n")
}

#[test]
fn too_many_layers() {
    let mut options = Options::default();
    options.limits.max_layers = 3;
    let r = inspect(&SourceArg::path(corpus("tiny.skopeo.oci-archive.tar")), &options).unwrap();
    assert!(!r.verified());
    assert!(
        messages(&r).contains("image has 4 layers, more than the limit of 3"),
        "{}",
        messages(&r)
    );
    assert!(r.images[0].sizes.compressed.is_none());
}

#[test]
fn too_many_images() {
    let mut options = Options::default();
    options.limits.max_images = 1;
    let r = inspect(&SourceArg::path(corpus("multi.skopeo.oci-archive.tar")), &options).unwrap();
    assert_eq!(r.images.len(), 1);
    assert!(messages(&r).contains("holds 2 images, more than the limit of 1"), "{}", messages(&r));
}

#[test]
fn too_many_members() {
    let mut options = Options::default();
    options.limits.max_members = 5;
    let e = inspect(&SourceArg::path(corpus("tiny.skopeo.oci-archive.tar")), &options).unwrap_err();
    assert!(e.to_string().contains("holds more than 5 members"), "{e}");
    let data = std::fs::read(corpus("tiny.skopeo.oci-archive.tar")).unwrap();
    let e = inspect_reader(&data[..], "-", &options).unwrap_err();
    assert!(e.to_string().contains("holds more than 5 members"), "{e}");
}

#[test]
fn too_many_tar_entries_in_a_layer() {
    let mut options = Options::default();
    options.limits.layer.max_entries = 10;
    let r = inspect(&SourceArg::path(corpus("tiny.skopeo.oci-archive.tar")), &options).unwrap();
    assert!(!r.verified());
    assert!(messages(&r).contains("tar has more than 10 entries"), "{}", messages(&r));
}

#[test]
fn decompression_bomb_stops_at_the_limit() {
    let mut options = Options::default();
    options.limits.layer.max_uncompressed_bytes = 1 << 20;
    let r = inspect(&SourceArg::path(corpus("tiny.skopeo.oci-archive.tar")), &options).unwrap();
    assert!(!r.verified());
    assert!(messages(&r).contains("decompresses to more than 1048576 bytes"), "{}", messages(&r));
    // The blob's own digest and size were still checked: only the layer facts are unknown.
    let l = &r.images[0].layers[0];
    assert_eq!(l.compressed_size, Some(1_084_507));
    assert!(l.uncompressed_size.is_none());
}

#[test]
fn json_over_the_limit() {
    let mut options = Options::default();
    options.limits.json.manifest = 100;
    let r = inspect(&SourceArg::path(corpus("tiny.umoci.oci")), &options).unwrap();
    assert!(!r.verified());
    assert!(messages(&r).contains("over the image index limit of 100 bytes"), "{}", messages(&r));
}

/// Regression: a JSON limit raised in the options was honoured when the document was read
/// and then ignored when it was parsed (every document was parsed again with the default
/// limits), so a 5 MiB `index.json` with the limit at 8 MiB was still "over the limit of
/// 4194304 bytes".
#[test]
fn a_raised_json_limit_is_honoured_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    ocisize_testkit::copy_dir(&corpus("tiny.umoci.oci"), dir.path());
    let index_path = dir.path().join("index.json");
    let index = std::fs::read_to_string(&index_path).unwrap();
    // The same index, padded with a 5 MiB annotation.
    let pad = "x".repeat(5 << 20);
    let padded = index.replacen('{', &format!("{{\"annotations\":{{\"pad\":\"{pad}\"}},"), 1);
    std::fs::write(&index_path, &padded).unwrap();
    let arg = SourceArg::path(dir.path());
    let plain = inspect(&SourceArg::path(corpus("tiny.umoci.oci")), &Options::default()).unwrap();
    let r = inspect(&arg, &Options::default()).unwrap();
    assert!(
        messages(&r).contains("over the image index limit of 4194304 bytes"),
        "{}",
        messages(&r)
    );
    assert!(r.problems.iter().any(|p| p.kind == ocisize::ProblemKind::LimitExceeded));
    let mut options = Options::default();
    options.limits.json.manifest = 8 << 20;
    let r = inspect(&arg, &options).unwrap();
    assert!(r.verified(), "{}", messages(&r));
    assert_eq!(r.images, plain.images);
}

#[test]
fn short_and_interrupted_reads_change_nothing() {
    for name in
        ["tiny.dockerd.save.tar", "tiny.skopeo.oci-archive-zstd.tar", "multi.ctr.export.tar"]
    {
        let data = std::fs::read(corpus(name)).unwrap();
        let want = inspect_reader(&data[..], "-", &Options::default()).unwrap();
        assert!(want.verified(), "{name}");
        for seed in [1, 7, 42] {
            let got = inspect_reader(Jittery::new(&data, seed, 3000, 5), "-", &Options::default())
                .unwrap();
            assert_eq!(got, want, "{name} seed {seed}");
        }
    }
}

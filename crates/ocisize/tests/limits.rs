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
    let options = Options { max_layers: 3, ..Options::default() };
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
    let options = Options { max_images: 1, ..Options::default() };
    let r = inspect(&SourceArg::path(corpus("multi.skopeo.oci-archive.tar")), &options).unwrap();
    assert_eq!(r.images.len(), 1);
    assert!(messages(&r).contains("holds 2 images, more than the limit of 1"), "{}", messages(&r));
}

#[test]
fn too_many_members() {
    let mut options = Options::default();
    options.scan.max_members = Some(5);
    let e = inspect(&SourceArg::path(corpus("tiny.skopeo.oci-archive.tar")), &options).unwrap_err();
    assert!(e.to_string().contains("holds more than 5 members"), "{e}");
    let data = std::fs::read(corpus("tiny.skopeo.oci-archive.tar")).unwrap();
    let e = inspect_reader(&data[..], "-", &options).unwrap_err();
    assert!(e.to_string().contains("holds more than 5 members"), "{e}");
}

#[test]
fn too_many_tar_entries_in_a_layer() {
    let mut options = Options::default();
    options.scan.layer.max_entries = 10;
    let r = inspect(&SourceArg::path(corpus("tiny.skopeo.oci-archive.tar")), &options).unwrap();
    assert!(!r.verified());
    assert!(messages(&r).contains("tar has more than 10 entries"), "{}", messages(&r));
}

#[test]
fn decompression_bomb_stops_at_the_limit() {
    let mut options = Options::default();
    options.scan.layer.max_uncompressed_bytes = 1 << 20;
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
    options.scan.json.manifest = 100;
    let r = inspect(&SourceArg::path(corpus("tiny.umoci.oci")), &options).unwrap();
    assert!(!r.verified());
    assert!(messages(&r).contains("over the image index limit of 100 bytes"), "{}", messages(&r));
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

//! Import through the library: a corrupted member is never committed and the error names it
//! with the digests expected and found; fsck finds corrupt, missing and unreferenced blobs;
//! gc sweeps only what no name reaches.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;

use common::{ingests, name};
use ocisize_digest::Digest;
use ocisize_source::SourceArg;
use ocisize_store::{ImportOptions, Store, StoreError};

fn options(n: &str) -> ImportOptions {
    ImportOptions { names: vec![name(n)], ..Default::default() }
}

/// The archive with one byte of member `member` flipped (in the middle of its body).
fn corrupt(archive: &[u8], member: &str) -> Vec<u8> {
    let mut a = tar::Archive::new(std::io::Cursor::new(archive));
    for e in a.entries_with_seek().unwrap() {
        let e = e.unwrap();
        if e.path().unwrap().to_str() == Some(member) {
            let at = e.raw_file_position() as usize + e.size() as usize / 2;
            let mut out = archive.to_vec();
            out[at] ^= 0x55;
            return out;
        }
    }
    panic!("no member {member}");
}

fn largest_layer(archive: &[u8]) -> String {
    let mut a = tar::Archive::new(archive);
    let mut best = (0, String::new());
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut sink = Vec::new();
        e.read_to_end(&mut sink).unwrap();
        if sink.len() > best.0 && !p.ends_with(".json") {
            best = (sink.len(), p);
        }
    }
    best.1
}

#[test]
fn a_corrupted_member_is_never_committed() {
    for file in ["tiny.skopeo.oci-archive.tar", "tiny.dockerd.save.tar"] {
        let archive = std::fs::read(ocisize_testkit::corpus(file)).unwrap();
        let member = largest_layer(&archive);
        let bad = corrupt(&archive, &member);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.tar");
        std::fs::write(&path, &bad).unwrap();
        let store = Store::create(dir.path().join("store")).unwrap();
        // As a file (members read on demand) and as a stream (read once, in order).
        let from_file = store.import(&SourceArg::path(&path), &options("x/bad")).unwrap_err();
        let from_stream =
            store.import_reader(&bad[..], "bad.tar", None, &options("x/bad")).unwrap_err();
        for e in [from_file, from_stream] {
            let StoreError::Invalid { member: Some(m), expected: Some(expected), found, .. } = &e
            else {
                panic!("{file}: {e:?}");
            };
            let text = e.to_string();
            assert!(text.contains(&member) && text.contains(&expected.to_string()), "{text}");
            assert_eq!(m, &member);
            if file.contains("oci") {
                // An OCI layer is named by its digest: expected and found both named.
                assert!(
                    found.is_some_and(|f| f != *expected && text.contains(&f.to_string())),
                    "{text}"
                );
            } else {
                assert!(text.contains("diffID mismatch"), "{text}");
            }
        }
        assert_eq!(store.blobs().unwrap().count(), 0, "{file}: nothing committed");
        assert!(store.names().unwrap().is_empty());
        assert!(ingests(&store).is_empty(), "{file}: no ingest left: {:?}", ingests(&store));
        // The intact archive imports.
        let r = store.import_reader(&archive[..], file, None, &options("x/good")).unwrap();
        assert_eq!(r.blobs_present, 0);
    }
}

#[test]
fn fsck_reports_corrupt_missing_and_unreferenced_blobs_and_gc_sweeps() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("store")).unwrap();
    let multi = ocisize_testkit::corpus("multi.skopeo.oci-archive.tar");
    store.import(&SourceArg::path(&multi), &options("x/multi")).unwrap();
    let debslice = ocisize_testkit::corpus("debslice.skopeo.oci-archive.tar");
    let r = store.import(&SourceArg::path(&debslice), &options("x/deb")).unwrap();
    let clean = store.fsck().unwrap();
    assert!(clean.is_clean() && clean.unreferenced.is_empty(), "{clean:?}");
    assert_eq!(clean.blobs_checked, 9 + r.blobs_written, "multi has 9 blobs, debslice shares none");
    assert_eq!(r.blobs_present, 0);

    // gc keeps everything a name reaches; dry, it removes nothing.
    let dry = store.gc(true).unwrap();
    assert!(dry.removed.is_empty(), "{:?}", dry.removed);
    store.remove_names(&[name("x/deb")]).unwrap();
    let before = store.blobs().unwrap().count();
    let dry = store.gc(true).unwrap();
    assert_eq!(store.blobs().unwrap().count(), before, "a dry run removes nothing");
    let unreferenced = store.fsck().unwrap().unreferenced;
    let mut would: Vec<Digest> = dry.removed.iter().map(|(d, _)| *d).collect();
    would.sort_by_key(Digest::to_string);
    let listed: Vec<Digest> = unreferenced.iter().map(|b| b.digest).collect();
    assert_eq!(would, listed, "fsck's unreferenced blobs are what gc removes");
    // debslice shares its config with nothing in multi: its manifest, config and layers go.
    assert_eq!(would.len(), 5, "{would:?}");
    let wet = store.gc(false).unwrap();
    assert_eq!(wet.bytes_reclaimed, dry.bytes_reclaimed);
    let after = store.fsck().unwrap();
    assert!(after.is_clean() && after.unreferenced.is_empty(), "{after:?}");

    // Damage: flip a byte of one blob, remove another.
    let graph = store.walk().unwrap();
    let layer = graph.images[0].layers[0].descriptor.clone().unwrap();
    let config = graph.images[0].config.as_ref().unwrap().descriptor.clone().unwrap();
    let path = |d: &Digest| store.root().join("blobs/sha256").join(d.hex());
    let p = path(&layer.digest);
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut bytes = std::fs::read(&p).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&p, &bytes).unwrap();
    std::fs::remove_file(path(&config.digest)).unwrap();
    let bad = store.fsck().unwrap();
    assert!(!bad.is_clean());
    assert_eq!(bad.corrupt.len(), 1, "{bad:?}");
    assert_eq!(bad.corrupt[0].digest, layer.digest);
    assert_eq!(bad.missing.len(), 1, "{bad:?}");
    assert_eq!(bad.missing[0].digest, config.digest);
    assert!(!bad.missing[0].referenced_by.is_empty());
}

#[test]
fn artifacts_and_referrers_are_imported_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("store")).unwrap();
    // oras, cosign, helm and buildx artifacts beside the image they refer to, tagged by
    // ref.name; one referrer (a sigstore bundle) has no name at all.
    let layout = ocisize_testkit::corpus("../wider/artifacts.oras.oci");
    let r = store.import(&SourceArg::path(&layout), &options("w/art")).unwrap();
    let names: Vec<&str> = r.images.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    for tag in ["tiny", "note", "0.1.0", "buildx"] {
        assert!(names.contains(&format!("docker.io/w/art:{tag}").as_str()), "{names:?}");
    }
    // The unnamed referrer goes under the same repository, by digest.
    let referrer = r.images.iter().find(|i| i.name.contains('@')).unwrap();
    assert_eq!(referrer.name, format!("docker.io/w/art@{}", referrer.digest));
    let check = store.fsck().unwrap();
    assert!(check.is_clean() && check.unreferenced.is_empty(), "{check:?}");
    // An artifact lists no platform and no image, and its size is its manifest and blobs.
    let listed = store.list().unwrap();
    let note = listed.iter().find(|l| l.name == "docker.io/w/art:note").unwrap();
    assert!(note.platforms.is_empty() && note.image_id.is_none(), "{note:?}");
    let referrer = listed.iter().find(|l| l.name.contains('@')).unwrap();
    assert!(referrer.image_id.is_none(), "a referrer is not its subject: {referrer:?}");
    // Every blob the import wrote is reached from a name.
    assert!(store.gc(true).unwrap().removed.is_empty());
}

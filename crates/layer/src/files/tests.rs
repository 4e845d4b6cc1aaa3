//! Hand-built layers (made here with the tar crate) with figures worked out by hand, the same
//! layers through the two independent models of `ocisize_testkit::layers`, and random layer
//! stacks checked against both models, with and without spilling.

use ocisize_testkit::layers::{self, RawEntry, RawKind};
use proptest::prelude::*;

use super::*;
use crate::TarWalker;

fn raw(name: &str, kind: RawKind, size: u64, link: &str) -> RawEntry {
    RawEntry { name: name.into(), kind, size, link: link.into() }
}
fn file(name: &str, size: u64) -> RawEntry {
    raw(name, RawKind::File, size, "")
}
fn dir(name: &str) -> RawEntry {
    raw(name, RawKind::Dir, 0, "")
}
fn wh(name: &str) -> RawEntry {
    file(name, 0)
}

/// A layer tar with these entries (file bodies are zeros of the given size).
fn tar_of(entries: &[RawEntry]) -> Vec<u8> {
    let mut b = ::tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = ::tar::Header::new_gnu();
        h.set_mode(0o644);
        let (kind, size) = match e.kind {
            RawKind::File => (::tar::EntryType::Regular, e.size),
            RawKind::Dir => (::tar::EntryType::Directory, 0),
            RawKind::Symlink => (::tar::EntryType::Symlink, 0),
            RawKind::Hardlink => (::tar::EntryType::Link, 0),
            RawKind::Other => (::tar::EntryType::Fifo, 0),
        };
        h.set_entry_type(kind);
        h.set_size(size);
        if matches!(e.kind, RawKind::Symlink | RawKind::Hardlink) {
            b.append_link(&mut h, &e.name, &e.link).unwrap();
        } else {
            let body = vec![0u8; usize::try_from(size).unwrap()];
            b.append_data(&mut h, &e.name, &body[..]).unwrap();
        }
    }
    b.into_inner().unwrap()
}

/// The layer's file list, through the walker, keeping `budget` bytes in memory.
fn list(entries: &[RawEntry], budget: u64) -> FileList {
    let mut w = TarWalker::new(u64::MAX).record_files(budget);
    for chunk in tar_of(entries).chunks(777) {
        w.update(chunk);
    }
    let (stats, files) = w.finish_with_files();
    stats.unwrap();
    files.unwrap().unwrap()
}

fn lists(layers: &[Vec<RawEntry>], budget: u64) -> Vec<FileList> {
    layers.iter().map(|l| list(l, budget)).collect()
}

fn survivors(lists: &[FileList]) -> Vec<(String, Kind, u64, String)> {
    let mut o = Overlay::new(lists, 0).unwrap();
    let mut out = Vec::new();
    while let Some(s) = o.next_survivor().unwrap() {
        let e = s.entry;
        out.push((e.path_str().into_owned(), e.kind, e.size, e.link_str().into_owned()));
    }
    out
}

/// A file written then deleted (and written again), a file overwritten twice, files replaced
/// under an opaque directory, a deleted directory tree, a file with two hardlinks whose
/// every name is deleted, and a file nobody touches.
fn fixture() -> Vec<Vec<RawEntry>> {
    vec![
        vec![
            dir("a/"),
            file("a/big", 1000),
            file("f", 300),
            dir("d/"),
            file("d/x", 100),
            file("d/y", 200),
            dir("t/"),
            file("t/a", 10),
            dir("t/s/"),
            file("t/s/b", 20),
            file("t/s/c", 30),
            dir("h/"),
            file("h/data", 400),
            raw("h/link1", RawKind::Hardlink, 0, "h/data"),
            raw("h/link2", RawKind::Hardlink, 0, "h/data"),
            file("keep", 7),
        ],
        vec![
            dir("a/"),
            wh("a/.wh.big"),
            file("f", 500),
            dir("d/"),
            wh("d/.wh..wh..opq"),
            file("d/z", 50),
            wh(".wh.t"),
            dir("h/"),
            wh("h/.wh.data"),
            wh("h/.wh.link1"),
            wh("h/.wh.link2"),
        ],
        vec![dir("a/"), file("a/big", 10), file("f", 600)],
    ]
}

#[test]
fn hand_built_image_figures() {
    let layers = fixture();
    let w = Overlay::new(&lists(&layers, 1 << 20), 20).unwrap().finish().unwrap();
    // a/big 1000 + f 300 + 500 + d/x 100 + d/y 200 + t/a 10 + t/s/b 20 + t/s/c 30 + h/data 400
    assert_eq!(w.wasted_bytes, 2560);
    // a/big; f twice; d/x, d/y; t, t/a, t/s, t/s/b, t/s/c; h/data, h/link1, h/link2
    assert_eq!(w.hidden_copies, 13);
    assert_eq!(w.written_bytes, 3227);
    let top: Vec<(&str, u64, u64)> =
        w.top.iter().map(|t| (t.path.as_str(), t.wasted_bytes, t.copies)).collect();
    assert_eq!(
        top,
        [
            ("a/big", 1000, 2),
            ("f", 800, 3),
            ("h/data", 400, 1),
            ("d/y", 200, 1),
            ("d/x", 100, 1),
            ("t/s/c", 30, 1),
            ("t/s/b", 20, 1),
            ("t/a", 10, 1),
        ]
    );
    // dive, path by path (cumulative/min): a/big 1000+0+10/0, f 300+500+600/300, d/x 100,
    // d/y 200, d/z 50, t 60 (the whiteout of a directory counts its subtree), t/a 10,
    // t/s/b 20, t/s/c 30, h/data 400+0/0, h/link1 0, h/link2 0, keep 7.
    assert_eq!((w.dive.cumulative_bytes, w.dive.min_bytes), (3287, 777));
    assert_eq!(w.dive.wasted_bytes, 1010 + 1400 + 400);
    assert!((w.dive.efficiency - 777.0 / 3287.0).abs() < 1e-12);
    assert_eq!(
        survivors(&lists(&layers, 1 << 20)),
        [
            ("a".into(), Kind::Dir, 0, String::new()),
            ("a/big".into(), Kind::File, 10, String::new()),
            ("d".into(), Kind::Dir, 0, String::new()),
            ("d/z".into(), Kind::File, 50, String::new()),
            ("f".into(), Kind::File, 600, String::new()),
            ("h".into(), Kind::Dir, 0, String::new()),
            ("keep".into(), Kind::File, 7, String::new()),
        ]
    );
    // The two independent models agree.
    let unpacked = layers::unpack(&layers);
    assert_eq!((unpacked.wasted, unpacked.hidden), (2560, 13));
    let dive = layers::dive(&layers);
    assert_eq!((dive.cumulative, dive.min, dive.wasted), (3287, 777, 2810));
}

#[test]
fn surviving_hardlink_keeps_its_zero_bytes() {
    // Per path, from tar header sizes: deleting the name that carried the bytes wastes them
    // even though a surviving hardlink still holds the inode (see docs/waste.md).
    let layers = vec![
        vec![file("data", 400), raw("link", RawKind::Hardlink, 0, "./data")],
        vec![wh(".wh.data")],
    ];
    let l = lists(&layers, 1 << 20);
    let w = Overlay::new(&l, 20).unwrap().finish().unwrap();
    assert_eq!(w.wasted_bytes, 400);
    assert_eq!(survivors(&l), [("link".into(), Kind::Hardlink, 0, "data".into())]);
}

#[test]
fn whiteouts_spare_their_own_layer_and_a_file_hides_a_lower_tree() {
    let layers = vec![
        vec![dir("p/"), file("p/q", 5), file("r", 3)],
        // `p` becomes a file: the lower `p/q` is gone. `r` is rewritten and whited out in the
        // same layer: the whiteout removes the lower copy only.
        vec![file("p", 9), file("r", 4), wh(".wh.r")],
    ];
    let l = lists(&layers, 1 << 20);
    let w = Overlay::new(&l, 20).unwrap().finish().unwrap();
    assert_eq!(w.wasted_bytes, 5 + 3);
    assert_eq!(
        survivors(&l),
        [("p".into(), Kind::File, 9, String::new()), ("r".into(), Kind::File, 4, String::new())]
    );
}

#[test]
fn paths_order_by_component() {
    let mut v = ["a-b", "a/b", "a", "a/b/c", "a/c", "b", "a\u{1}"];
    v.sort_by(|x, y| path_cmp(x.as_bytes(), y.as_bytes()));
    assert_eq!(v, ["a", "a/b", "a/b/c", "a/c", "a\u{1}", "a-b", "b"]);
    assert!(is_under(b"a/b", b"a") && !is_under(b"ab", b"a") && is_under(b"a", b""));
}

/// A big layer spills to disk in many runs and gives the same answers as one in memory.
#[test]
fn spilled_lists_give_the_same_figures() {
    let base: Vec<RawEntry> = (0..20_000)
        .map(|i| file(&format!("usr/share/{}/f{i}", i % 97), (i % 13) as u64 * 100))
        .collect();
    let top: Vec<RawEntry> = (0..20_000)
        .step_by(3)
        .map(|i| {
            if i % 2 == 0 {
                wh(&format!("usr/share/{}/.wh.f{i}", i % 97))
            } else {
                file(&format!("usr/share/{}/f{i}", i % 97), 1)
            }
        })
        .chain([wh("usr/share/5/.wh..wh..opq")])
        .collect();
    let layers = vec![base, top];
    let memory = lists(&layers, 1 << 30);
    let spilled = lists(&layers, 64 << 10);
    assert_eq!(memory[0].runs(), 1);
    assert!(spilled[0].runs() > 5 && spilled[0].spilled_bytes() > 0, "{}", spilled[0].runs());
    assert_eq!(memory, spilled, "same entries, read back from disk");
    let a = Overlay::new(&memory, 20).unwrap().finish().unwrap();
    let b = Overlay::new(&spilled, 20).unwrap().finish().unwrap();
    assert_eq!(a, b);
    let unpacked = layers::unpack(&layers);
    assert_eq!((a.wasted_bytes, a.hidden_copies), (unpacked.wasted, unpacked.hidden));
    assert_eq!(survivors(&spilled).len(), unpacked.survivors.len());
}

#[test]
fn diff_of_two_images() {
    let base = vec![dir("etc/"), file("etc/os", 10), file("etc/gone", 4), file("bin/sh", 100)];
    let a = lists(&[base.clone(), vec![file("app", 50)]], 1 << 20);
    let b = lists(
        &[
            base,
            vec![
                file("etc/os", 12),
                wh("etc/.wh.gone"),
                raw("bin/sh", RawKind::Symlink, 0, "busybox"),
                file("bin/busybox", 900),
            ],
        ],
        1 << 20,
    );
    let mut changes = Vec::new();
    let counts = diff(&mut Overlay::new(&a, 0).unwrap(), &mut Overlay::new(&b, 0).unwrap(), |c| {
        changes.push(match c {
            Change::Added(e) => format!("+ {}", e.path_str()),
            Change::Removed(e) => format!("- {}", e.path_str()),
            Change::Modified { a, b, .. } => {
                format!(
                    "~ {} {}:{} {}:{}",
                    a.path_str(),
                    a.kind.name(),
                    a.size,
                    b.kind.name(),
                    b.size
                )
            }
        })
    })
    .unwrap();
    assert_eq!(
        changes,
        [
            "- app",
            "+ bin/busybox",
            "~ bin/sh file:100 symlink:0",
            "- etc/gone",
            "~ etc/os file:10 file:12"
        ]
    );
    assert_eq!((counts.added, counts.removed, counts.modified, counts.unchanged), (1, 2, 2, 1));
    assert_eq!(
        (counts.added_bytes, counts.removed_bytes, counts.modified_delta_bytes),
        (900, 54, -98)
    );
}

fn arb_entry() -> impl Strategy<Value = RawEntry> {
    let name = prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4);
    (name, 0..8u8, 0..50u64, prop::collection::vec(prop::sample::select(vec!["a", "b"]), 1..3))
        .prop_map(|(parts, k, size, target)| {
            let path = parts.join("/");
            let parent = parts[..parts.len() - 1].join("/");
            let last = parts[parts.len() - 1];
            let at = |base: &str| {
                if parent.is_empty() {
                    base.to_owned()
                } else {
                    format!("{parent}/{base}")
                }
            };
            match k {
                0 | 1 => file(&path, size),
                2 => dir(&format!("{path}/")),
                3 => raw(&path, RawKind::Symlink, 0, &target.join("/")),
                4 => raw(&path, RawKind::Hardlink, 0, &target.join("/")),
                5 => wh(&at(&format!(".wh.{last}"))),
                6 => wh(&format!("{path}/.wh..wh..opq")),
                _ => wh(".wh..wh..opq"),
            }
        })
}

/// Make a layer well formed: no path is both a non-directory and the parent of another
/// entry of the same layer (no unpacker agrees on what such a tar means), so entries under a
/// non-directory of the same layer are dropped.
fn well_formed(layer: Vec<RawEntry>) -> Vec<RawEntry> {
    well_formed_by(layer, |e| &e.name, |e| e.kind == RawKind::Dir)
}

/// [`well_formed`] for any entry type, by its tar name and whether it is a directory.
pub(super) fn well_formed_by<T>(
    layer: Vec<T>,
    name: impl Fn(&T) -> &str,
    is_dir: impl Fn(&T) -> bool,
) -> Vec<T> {
    let files: Vec<String> = layer
        .iter()
        .filter(|e| !is_dir(e) && !name(e).contains(".wh."))
        .map(|e| format!("{}/", name(e)))
        .collect();
    layer.into_iter().filter(|e| !files.iter().any(|f| name(e).starts_with(f.as_str()))).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Any stack of layers: the merge's waste and final filesystem are what unpacking into a
    /// map gives, dive's figures what the port of dive's trees gives, spilled or not.
    #[test]
    fn overlay_matches_both_models(
        layers in prop::collection::vec(
            prop::collection::vec(arb_entry(), 0..12).prop_map(well_formed),
            1..5,
        ),
        budget in prop::sample::select(vec![0u64, 200, 1 << 20]),
    ) {
        let l = lists(&layers, budget);
        let w = Overlay::new(&l, 1000).unwrap().finish().unwrap();
        let unpacked = layers::unpack(&layers);
        prop_assert_eq!(w.wasted_bytes, unpacked.wasted);
        prop_assert_eq!(w.hidden_copies, unpacked.hidden);
        let top: std::collections::BTreeMap<String, u64> =
            w.top.iter().map(|t| (t.path.clone(), t.wasted_bytes)).collect();
        prop_assert_eq!(&top, &unpacked.per_path);
        let got: Vec<(String, u64, String)> =
            survivors(&l).into_iter().map(|(p, _, s, link)| (p, s, link)).collect();
        let want: Vec<(String, u64, String)> =
            unpacked.survivors.into_iter().map(|(p, (_, s, link))| (p, s, link)).collect();
        prop_assert_eq!(got, want);
        let dive = layers::dive(&layers);
        prop_assert_eq!(
            (w.dive.cumulative_bytes, w.dive.min_bytes, w.dive.wasted_bytes),
            (dive.cumulative, dive.min, dive.wasted)
        );
    }
}

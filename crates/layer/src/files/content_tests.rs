//! Content digests: taken in the walk whatever the chunking, a hardlink's is its target's,
//! spilled runs keep them, and `diff` reports a path whose bytes alone changed. The
//! property: in random pairs of single-layer images, `diff` lists exactly the paths whose
//! kind, size, link or content differ, by an unpack into a map.

use std::collections::BTreeMap;

use ocisize_testkit::oci::{dir, file, hardlink, layer, symlink, TarEntry, TarKind};
use proptest::prelude::*;

use super::*;
use crate::TarWalker;

/// A layer's file list through the walker, fed `chunk` bytes at a time.
fn list(tar: &[u8], budget: u64, chunk: usize) -> FileList {
    let mut w = TarWalker::new(u64::MAX).record_files(budget);
    for c in tar.chunks(chunk) {
        w.update(c);
    }
    let (stats, files) = w.finish_with_files();
    stats.unwrap();
    files.unwrap().unwrap()
}

fn entries(l: &FileList) -> Vec<Entry> {
    let mut it = l.iter().unwrap();
    let mut out = Vec::new();
    while let Some(e) = it.next().unwrap() {
        out.push(e);
    }
    out
}

fn content_of(l: &FileList, path: &str) -> Option<ContentDigest> {
    entries(l).into_iter().rev().find(|e| e.path == path.as_bytes()).and_then(|e| e.content)
}

/// `diff` of two stacks: each change as `path reasons`, and the counts.
fn changes(a: &[FileList], b: &[FileList]) -> (Vec<String>, DiffCounts) {
    let mut out = Vec::new();
    let (mut x, mut y) = (Overlay::new(a, 0).unwrap(), Overlay::new(b, 0).unwrap());
    let counts = diff(&mut x, &mut y, |c| {
        out.push(match c {
            Change::Added(e) => format!("+ {}", e.path_str()),
            Change::Removed(e) => format!("- {}", e.path_str()),
            Change::Modified { a, reasons, .. } => {
                let why: Vec<&str> = reasons.iter().map(Reason::name).collect();
                format!("~ {} {}", a.path_str(), why.join(","))
            }
        })
    })
    .unwrap();
    (out, counts)
}

#[test]
fn the_digest_is_the_body_s_whatever_the_chunks() {
    let bodies: Vec<Vec<u8>> = [0usize, 1, 100, 511, 512, 513, 4096, 100_000]
        .iter()
        .map(|&n| (0..n).map(|i| (i * 7 + n) as u8).collect())
        .collect();
    let long = format!("{}/long", "d".repeat(200)); // a GNU long name
    let mut tar: Vec<TarEntry> =
        bodies.iter().enumerate().map(|(i, b)| file(&format!("f{i}"), b)).collect();
    tar.extend([file(&long, b"long"), dir("d/"), symlink("s", "f1"), file(".wh.gone", b"")]);
    let tar = layer(&tar);
    for chunk in [1, 7, 512, 777, 65536, tar.len()] {
        for budget in [0, 1 << 20] {
            let l = list(&tar, budget, chunk);
            for (i, b) in bodies.iter().enumerate() {
                let at = format!("f{i} in chunks of {chunk}");
                assert_eq!(content_of(&l, &format!("f{i}")), Some(ContentDigest::of(b)), "{at}");
            }
            assert_eq!(content_of(&l, &long), Some(ContentDigest::of(b"long")));
            for e in entries(&l) {
                let has = matches!(e.kind, Kind::File);
                assert_eq!(e.content.is_some(), has, "{e:?}");
            }
        }
    }
    let d = ContentDigest::of(b"");
    assert_eq!(d.to_string(), "xxh3-128:99aa06d3014798d86001c324468d497f");
}

#[test]
fn a_hardlink_has_its_target_s_content_at_the_time() {
    let tar = layer(&[
        file("a", b"first"),
        hardlink("h", "a"),
        hardlink("h2", "./h"), // a link to a link: the same inode
        file("a", b"second"),  // rewrites the name `a`, not the inode `h` holds
        hardlink("h3", "a"),
        symlink("s", "a"),
        hardlink("hs", "s"),       // a link to a symlink: no content
        hardlink("lower", "none"), // its target is in a lower layer: not resolved here
    ]);
    let l = list(&tar, 1 << 20, 100);
    let (first, second) = (ContentDigest::of(b"first"), ContentDigest::of(b"second"));
    let got: Vec<(String, Option<ContentDigest>)> =
        entries(&l).iter().map(|e| (e.path_str().into_owned(), e.content)).collect();
    let want = [
        ("a", Some(first)),
        ("a", Some(second)),
        ("h", Some(first)),
        ("h2", Some(first)),
        ("h3", Some(second)),
        ("hs", None),
        ("lower", None),
        ("s", None),
    ];
    let want: Vec<(String, Option<ContentDigest>)> =
        want.iter().map(|(p, c)| (p.to_string(), *c)).collect();
    assert_eq!(got, want);
}

#[test]
fn same_size_other_bytes_is_modified_for_content_and_mtime_is_not_compared() {
    let base = layer(&[dir("etc/"), file("etc/os", b"ID=x\n")]);
    let top = |conf: &[u8], app: u8, mtime: u64| {
        let mut same = file("etc/same", b"same");
        same.mtime = mtime;
        layer(&[file("etc/conf", conf), same, file("app", &[app; 300]), hardlink("app2", "app")])
    };
    let a = [list(&base, 1 << 20, 4096), list(&top(b"port=80", b'a', 1), 1 << 20, 4096)];
    let b = [list(&base, 1 << 20, 4096), list(&top(b"port=81", b'b', 2), 0, 33)];
    let (out, counts) = changes(&a, &b);
    assert_eq!(out, ["~ app content", "~ app2 content", "~ etc/conf content"]);
    assert_eq!((counts.modified, counts.content_modified, counts.unchanged), (3, 3, 3));
    assert_eq!(counts.modified_delta_bytes, 0);
    let (none, counts) = changes(&a, &a);
    assert!(none.is_empty(), "{none:?}");
    assert_eq!(counts.unchanged, 6);
    // A size change is a content change too; a file that becomes a symlink differs by kind
    // and link (a symlink has no content to compare).
    let c = [list(&layer(&[file("x", b"ab"), file("y", b"ab")]), 1 << 20, 512)];
    let d = [list(&layer(&[file("x", b"abc"), symlink("y", "x")]), 1 << 20, 512)];
    assert_eq!(changes(&c, &d).0, ["~ x size,content", "~ y kind,size,link"]);
}

/// A path of the final filesystem, by an unpack of one layer into a map: kind, size, link
/// and content.
type Node = (&'static str, u64, String, Option<ContentDigest>);

fn unpack(entries: &[TarEntry]) -> BTreeMap<String, Node> {
    let mut fs = BTreeMap::new();
    // What a hard link to each path would hold: an inode's content (`None`: no content).
    let mut inodes: BTreeMap<String, Option<ContentDigest>> = BTreeMap::new();
    for e in entries {
        let path = e.path.trim_end_matches('/').to_owned();
        if path.rsplit('/').next().is_some_and(|b| b.starts_with(".wh.")) {
            continue; // a whiteout applies to lower layers only: there are none
        }
        let node = match &e.kind {
            TarKind::File(body) => {
                let d = Some(ContentDigest::of(body));
                inodes.insert(path.clone(), d);
                ("file", body.len() as u64, String::new(), d)
            }
            TarKind::Dir => {
                inodes.remove(&path);
                ("dir", 0, String::new(), None)
            }
            TarKind::Symlink(t) => {
                inodes.insert(path.clone(), None);
                ("symlink", 0, t.clone(), None)
            }
            TarKind::Hardlink(t) => {
                let d = inodes.get(t).copied();
                match d {
                    Some(d) => inodes.insert(path.clone(), d),
                    None => inodes.remove(&path),
                };
                ("hardlink", 0, t.clone(), d.flatten())
            }
        };
        fs.insert(path, node);
    }
    fs
}

fn arb_entry() -> impl Strategy<Value = TarEntry> {
    let name = prop::collection::vec(prop::sample::select(vec!["a", "b", "c"]), 1..4);
    let body = prop::collection::vec(prop::sample::select(b"xy".to_vec()), 0..4);
    (name, 0..7u8, body, prop::sample::select(vec!["a", "b", "a/b", "c/a"]), 0..3u64).prop_map(
        |(parts, k, body, target, mtime)| {
            let path = parts.join("/");
            let mut e = match k {
                0..=2 => file(&path, &body),
                3 => dir(&format!("{path}/")),
                4 => symlink(&path, target),
                5 => hardlink(&path, target),
                _ => {
                    let (last, parent) = (parts[parts.len() - 1], &parts[..parts.len() - 1]);
                    let wh = [parent, &[&format!(".wh.{last}")]].concat().join("/");
                    file(&wh, b"")
                }
            };
            e.mtime = mtime;
            e
        },
    )
}

/// No path both a non-directory and the parent of another entry (as in `tests.rs`).
fn well_formed(layer: Vec<TarEntry>) -> Vec<TarEntry> {
    super::tests::well_formed_by(layer, |e| &e.path, |e| e.kind == TarKind::Dir)
}

fn expected(a: &[TarEntry], b: &[TarEntry]) -> Vec<String> {
    let (x, y) = (unpack(a), unpack(b));
    let mut paths: Vec<&String> = x.keys().chain(y.keys()).collect();
    paths.sort_by(|p, q| path_cmp(p.as_bytes(), q.as_bytes()));
    paths.dedup();
    let mut out = Vec::new();
    for p in paths {
        match (x.get(p), y.get(p)) {
            (Some(_), None) => out.push(format!("- {p}")),
            (None, Some(_)) => out.push(format!("+ {p}")),
            (Some(m), Some(n)) => {
                let content = matches!((m.3, n.3), (Some(c), Some(d)) if c != d);
                let why: Vec<&str> =
                    [("kind", m.0 != n.0), ("size", m.1 != n.1), ("link", m.2 != n.2)]
                        .into_iter()
                        .chain([("content", content)])
                        .filter_map(|(r, d)| d.then_some(r))
                        .collect();
                if !why.is_empty() {
                    out.push(format!("~ {p} {}", why.join(",")));
                }
            }
            (None, None) => {}
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// diff(A, A) is empty; diff(A, B) lists exactly the paths whose kind, size, link or
    /// content differ, B being A with bodies rewritten (often to the same size), mtimes
    /// changed and entries added.
    #[test]
    fn diff_lists_exactly_what_differs(
        a in prop::collection::vec(arb_entry(), 0..12),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::collection::vec(prop::sample::select(b"xy".to_vec()), 0..4), 0..3u64),
            0..4,
        ),
        extra in prop::collection::vec(arb_entry(), 0..3),
        budget in prop::sample::select(vec![0u64, 1 << 20]),
        chunk in prop::sample::select(vec![1usize, 300, 1 << 16]),
    ) {
        let a = well_formed(a);
        let mut b = a.clone();
        for (i, body, mtime) in edits {
            if b.is_empty() {
                break;
            }
            let e = &mut b[i.index(a.len())];
            e.mtime = mtime;
            if let TarKind::File(old) = &mut e.kind {
                if !e.path.contains(".wh.") {
                    *old = body;
                }
            }
        }
        b.extend(extra);
        let b = well_formed(b);
        let la = [list(&layer(&a), budget, chunk)];
        let lb = [list(&layer(&b), budget, chunk)];
        let (same, counts) = changes(&la, &la);
        prop_assert!(same.is_empty(), "{:?}", same);
        prop_assert_eq!(counts.unchanged, unpack(&a).len() as u64);
        let (got, _) = changes(&la, &lb);
        prop_assert_eq!(got, expected(&a, &b));
    }
}

//! Hand-made images: layer tars with chosen bodies, times and links (the tar crate), and an
//! OCI image layout of one image over them, for tests that need exact file contents.

use std::path::{Path, PathBuf};

use ocisize_digest::{Algorithm, Digest};

/// What a [`TarEntry`] is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TarKind {
    /// A regular file with this body.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symbolic link to this target.
    Symlink(String),
    /// A hard link to this earlier entry.
    Hardlink(String),
}

/// One entry of a hand-made layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TarEntry {
    /// Its name in the tar.
    pub path: String,
    /// What it is.
    pub kind: TarKind,
    /// Its modification time (seconds).
    pub mtime: u64,
}

/// A regular file with `body`, modified at time 1000.
pub fn file(path: &str, body: &[u8]) -> TarEntry {
    TarEntry { path: path.into(), kind: TarKind::File(body.to_vec()), mtime: 1000 }
}

/// A directory.
pub fn dir(path: &str) -> TarEntry {
    TarEntry { path: path.into(), kind: TarKind::Dir, mtime: 1000 }
}

/// A hard link to `target`.
pub fn hardlink(path: &str, target: &str) -> TarEntry {
    TarEntry { path: path.into(), kind: TarKind::Hardlink(target.into()), mtime: 1000 }
}

/// A symbolic link to `target`.
pub fn symlink(path: &str, target: &str) -> TarEntry {
    TarEntry { path: path.into(), kind: TarKind::Symlink(target.into()), mtime: 1000 }
}

/// A layer tar (GNU headers, end-of-archive blocks) of these entries, in this order.
pub fn layer(entries: &[TarEntry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_mtime(e.mtime);
        match &e.kind {
            TarKind::File(body) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(body.len() as u64);
                b.append_data(&mut h, &e.path, &body[..]).unwrap();
            }
            TarKind::Dir => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, &e.path, &[][..]).unwrap();
            }
            TarKind::Symlink(t) | TarKind::Hardlink(t) => {
                let sym = matches!(e.kind, TarKind::Symlink(_));
                h.set_entry_type(if sym { tar::EntryType::Symlink } else { tar::EntryType::Link });
                h.set_size(0);
                b.append_link(&mut h, &e.path, t).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn put(root: &Path, bytes: &[u8]) -> Digest {
    let d = Digest::of(Algorithm::Sha256, bytes);
    let dir = root.join("blobs/sha256");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(d.hex()), bytes).unwrap();
    d
}

/// An OCI image layout at `root` holding one linux/amd64 image named `name` (its
/// `ref.name`) of these plain tar layers, base first.
pub fn image_layout(root: &Path, name: &str, layers: &[Vec<u8>]) -> PathBuf {
    std::fs::create_dir_all(root).unwrap();
    let mut diff_ids = Vec::new();
    let mut descriptors = Vec::new();
    for l in layers {
        let d = put(root, l);
        diff_ids.push(d.to_string());
        descriptors.push(serde_json::json!({
            "mediaType": "application/vnd.oci.image.layer.v1.tar",
            "digest": d.to_string(),
            "size": l.len(),
        }));
    }
    let config = serde_json::json!({
        "architecture": "amd64",
        "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "config": {},
    })
    .to_string();
    let cd = put(root, config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": cd.to_string(),
            "size": config.len(),
        },
        "layers": descriptors,
    })
    .to_string();
    let md = put(root, manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": md.to_string(),
            "size": manifest.len(),
            "annotations": {"org.opencontainers.image.ref.name": name},
        }],
    });
    std::fs::write(root.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(root.join("index.json"), index.to_string()).unwrap();
    root.to_path_buf()
}

/// Two images over one shared base layer whose top layers differ only in contents: in B,
/// `etc/conf` and `bin/app` are rewritten with other bytes of the same size (so the hard
/// link `bin/app-hard` to `bin/app` holds other bytes too), and `etc/same` is written again
/// with the same bytes and another mtime. Everything else is alike. Returns the layouts
/// `<root>/a` and `<root>/b`.
pub fn content_pair(root: &Path) -> (PathBuf, PathBuf) {
    let base = layer(&[
        dir("etc/"),
        file("etc/os-release", b"ID=test\n"),
        dir("usr/"),
        file("usr/keep", b"keep\n"),
    ]);
    let top = |conf: &[u8], app: u8, same_mtime: u64| {
        let mut same = file("etc/same", b"same bytes\n");
        same.mtime = same_mtime;
        layer(&[
            dir("bin/"),
            file("bin/app", &[app; 64]),
            hardlink("bin/app-hard", "bin/app"),
            symlink("bin/sh", "app"),
            file("etc/conf", conf),
            same,
        ])
    };
    let a = image_layout(&root.join("a"), "a", &[base.clone(), top(b"port=8080\n", b'a', 1000)]);
    let b = image_layout(&root.join("b"), "b", &[base, top(b"port=9090\n", b'b', 2000)]);
    (a, b)
}

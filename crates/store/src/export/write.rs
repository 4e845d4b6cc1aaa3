//! Writing an export: a directory or a tar, in a temporary place beside the destination,
//! renamed into place once whole and synced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ocisize_reference::Reference;
use ocisize_spec::{annotation, media_type, Descriptor, ManifestDocument};

use super::{Destination, Tree};
use crate::error::{IoContext, Result, StoreError};
use crate::{layout, Store};

/// Where the bytes of one export go: files in a directory, or members of a tar.
trait Sink {
    fn add(&mut self, path: &str, size: u64, bytes: &mut dyn Read) -> Result<()>;
}

struct DirSink {
    root: PathBuf,
}

impl Sink for DirSink {
    fn add(&mut self, path: &str, _size: u64, bytes: &mut dyn Read) -> Result<()> {
        let target = self.root.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).at("create", parent)?;
        }
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&target)
            .at("create", &target)?;
        io::copy(bytes, &mut f).at("write", &target)?;
        f.sync_all().at("fsync", &target)
    }
}

struct TarSink {
    path: PathBuf,
    tar: tar::Builder<io::BufWriter<File>>,
    dirs: Vec<String>,
}

impl TarSink {
    fn header(size: u64, kind: tar::EntryType, mode: u32) -> tar::Header {
        let mut h = tar::Header::new_ustar();
        h.set_size(size);
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_mtime(0);
        h.set_uid(0);
        h.set_gid(0);
        h
    }
}

impl Sink for TarSink {
    fn add(&mut self, path: &str, size: u64, bytes: &mut dyn Read) -> Result<()> {
        // Directory entries first, as skopeo and `docker save` write them.
        let mut prefix = String::new();
        for part in path.split('/').rev().skip(1).collect::<Vec<_>>().into_iter().rev() {
            prefix.push_str(part);
            prefix.push('/');
            if !self.dirs.contains(&prefix) {
                let mut h = TarSink::header(0, tar::EntryType::Directory, 0o755);
                self.tar.append_data(&mut h, &prefix, io::empty()).at("write", &self.path)?;
                self.dirs.push(prefix.clone());
            }
        }
        let mut h = TarSink::header(size, tar::EntryType::Regular, 0o644);
        self.tar.append_data(&mut h, path, bytes).at("write", &self.path)
    }
}

/// Write the tree to `dest`; returns the blobs and bytes written.
pub(super) fn write(
    store: &Store,
    name: &Reference,
    dest: &Destination,
    tree: &Tree,
) -> Result<(u64, u64)> {
    match dest {
        Destination::Oci { dir, reference } => {
            let r = reference.clone().unwrap_or_else(|| name.normalized());
            in_temp_dir(dir, |sink| oci_layout(store, name, &r, tree, sink))
        }
        Destination::OciArchive { file } => {
            in_temp_tar(file, |sink| oci_layout(store, name, &name.normalized(), tree, sink))
        }
        Destination::DockerArchive { file } => {
            in_temp_tar(file, |sink| docker_archive(store, name, tree, sink))
        }
        Destination::Dir { dir } => in_temp_dir(dir, |sink| dir_layout(store, tree, sink)),
    }
}

fn blob(
    store: &Store,
    d: &Descriptor,
    path: &str,
    sink: &mut dyn Sink,
    n: &mut (u64, u64),
) -> Result<()> {
    let mut r = store.reader(&d.digest)?;
    let size = r.size();
    sink.add(path, size, &mut r)?;
    n.0 += 1;
    n.1 += size;
    Ok(())
}

/// An OCI image layout: `oci-layout`, `index.json` (one entry, with the names podman and
/// containerd read: `ref.name` and `io.containerd.image.name`), `blobs/<alg>/<hex>`.
fn oci_layout(
    store: &Store,
    name: &Reference,
    reference: &str,
    tree: &Tree,
    sink: &mut dyn Sink,
) -> Result<(u64, u64)> {
    let top = tree
        .docs
        .first()
        .map(|d| d.descriptor.clone())
        .ok_or(StoreError::Damaged { digest: None, message: "nothing to export".into() })?;
    let mut entry = top;
    entry.annotations.insert(annotation::REF_NAME.to_owned(), reference.to_owned());
    entry.annotations.insert(annotation::CONTAINERD_IMAGE_NAME.to_owned(), name.normalized());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": [entry],
    });
    let index = serde_json::to_vec(&index)
        .map_err(|e| StoreError::io("serialize", "index.json", io::Error::other(e)))?;
    sink.add(
        "oci-layout",
        layout::OCI_LAYOUT_CONTENT.len() as u64,
        &mut &layout::OCI_LAYOUT_CONTENT[..],
    )?;
    sink.add("index.json", index.len() as u64, &mut &index[..])?;
    let mut n = (0, 0);
    for d in tree.all() {
        let path = format!("blobs/{}/{}", d.digest.algorithm(), d.digest.hex());
        blob(store, &d, &path, sink, &mut n)?;
    }
    Ok(n)
}

/// What `docker save` writes, in docker ≥ 25's naming: `manifest.json` (Config, RepoTags,
/// Layers), the config and the layers as `blobs/sha256/<hex>`, and `repositories`. The
/// config is the store's, byte for byte, so the image ID is unchanged; the layers are as
/// stored (docker, podman and skopeo read compressed layers from a docker-archive).
fn docker_archive(
    store: &Store,
    name: &Reference,
    tree: &Tree,
    sink: &mut dyn Sink,
) -> Result<(u64, u64)> {
    let Some(ManifestDocument::Image(m)) = tree.docs.last().map(|d| &d.parsed) else {
        return Err(StoreError::Damaged { digest: None, message: "no manifest to export".into() });
    };
    let path = |d: &Descriptor| format!("blobs/{}/{}", d.digest.algorithm(), d.digest.hex());
    let tag = name.familiar();
    let entry = serde_json::json!([{
        "Config": path(&m.config),
        "RepoTags": [tag],
        "Layers": m.layers.iter().map(path).collect::<Vec<_>>(),
    }]);
    let mut n = (0, 0);
    blob(store, &m.config, &path(&m.config), sink, &mut n)?;
    for l in &m.layers {
        blob(store, l, &path(l), sink, &mut n)?;
    }
    let manifest = serde_json::to_vec(&entry)
        .map_err(|e| StoreError::io("serialize", "manifest.json", io::Error::other(e)))?;
    sink.add("manifest.json", manifest.len() as u64, &mut &manifest[..])?;
    Ok(n)
}

/// A containers/image `dir:`: `manifest.json` (the top document's bytes), the manifests of
/// an index's instances as `<hex>.manifest.json`, the other blobs as `<hex>`, `version`.
fn dir_layout(store: &Store, tree: &Tree, sink: &mut dyn Sink) -> Result<(u64, u64)> {
    let version = b"Directory Transport Version: 1.1\n";
    sink.add("version", version.len() as u64, &mut &version[..])?;
    let mut n = (0, 0);
    for (i, doc) in tree.docs.iter().enumerate() {
        let path = if i == 0 {
            "manifest.json".to_owned()
        } else {
            format!("{}.manifest.json", doc.descriptor.digest.hex())
        };
        sink.add(&path, doc.bytes.len() as u64, &mut &doc.bytes[..])?;
        n.0 += 1;
        n.1 += doc.bytes.len() as u64;
    }
    let mut seen = Vec::new();
    for b in &tree.blobs {
        if !seen.contains(&b.digest) {
            seen.push(b.digest);
            blob(store, b, &b.digest.hex(), sink, &mut n)?;
        }
    }
    Ok(n)
}

fn parent_of(path: &Path) -> Result<(PathBuf, String)> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).ok_or_else(|| {
        StoreError::Destination { dest: path.display().to_string(), reason: "no file name".into() }
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok((parent, name))
}

fn in_temp_dir(
    dir: &Path,
    f: impl FnOnce(&mut dyn Sink) -> Result<(u64, u64)>,
) -> Result<(u64, u64)> {
    let (parent, name) = parent_of(dir)?;
    if let Ok(mut entries) = fs::read_dir(dir) {
        if entries.next().is_some() {
            return Err(StoreError::Destination {
                dest: dir.display().to_string(),
                reason: "it exists and is not empty".into(),
            });
        }
    }
    let tmp = parent.join(layout::temp_name(&name));
    fs::create_dir(&tmp).at("create", &tmp)?;
    let result = (|| {
        let n = f(&mut DirSink { root: tmp.clone() })?;
        sync_tree(&tmp)?;
        // rename(2) replaces an empty directory.
        fs::rename(&tmp, dir).at("rename", &tmp)?;
        layout::sync_dir(&parent)?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    result
}

fn sync_tree(dir: &Path) -> Result<()> {
    for e in fs::read_dir(dir).at("list", dir)? {
        let e = e.at("list", dir)?;
        if e.file_type().at("stat", &e.path())?.is_dir() {
            sync_tree(&e.path())?;
        }
    }
    layout::sync_dir(dir)
}

fn in_temp_tar(
    file: &Path,
    f: impl FnOnce(&mut dyn Sink) -> Result<(u64, u64)>,
) -> Result<(u64, u64)> {
    let (parent, name) = parent_of(file)?;
    let tmp = parent.join(layout::temp_name(&name));
    let result = (|| {
        let out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(&tmp)
            .at("create", &tmp)?;
        let mut sink = TarSink {
            path: tmp.clone(),
            tar: tar::Builder::new(io::BufWriter::with_capacity(1 << 20, out)),
            dirs: Vec::new(),
        };
        let n = f(&mut sink)?;
        let w = sink.tar.into_inner().at("write", &tmp)?;
        let out = w.into_inner().map_err(|e| StoreError::io("write", &tmp, e.into_error()))?;
        out.sync_all().at("fsync", &tmp)?;
        drop(out);
        fs::rename(&tmp, file).at("rename", &tmp)?;
        layout::sync_dir(&parent)?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tar_entry_is_flushed_whole() {
        let mut out = Vec::new();
        {
            let mut t = tar::Builder::new(&mut out);
            let mut h = TarSink::header(3, tar::EntryType::Regular, 0o644);
            t.append_data(&mut h, "a/b", &b"xyz"[..]).unwrap();
            t.finish().unwrap();
        }
        let mut a = tar::Archive::new(&out[..]);
        let e = a.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(e.path().unwrap().to_str(), Some("a/b"));
    }
}

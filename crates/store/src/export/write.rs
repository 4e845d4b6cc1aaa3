//! Writing an export: a directory or a tar, in a temporary place beside the destination,
//! renamed into place once whole and synced.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use ocisize_digest::{Algorithm, Digest, HashingReader};
use ocisize_reference::Reference;
use ocisize_spec::Compression;
use ocisize_spec::{annotation, media_type, Descriptor, ManifestDocument};

use super::{Destination, Tree};
use crate::error::{IoContext, Result, StoreError};
use crate::{layout, Store};

/// Where the bytes of one export go: files in a directory, or members of a tar.
trait Sink {
    fn add(&mut self, path: &str, size: u64, bytes: &mut dyn Read) -> Result<()>;

    /// Add bytes whose length is known only once they have all been read (a layer
    /// decompressed on its way out); returns the length.
    fn add_streamed(&mut self, path: &str, bytes: &mut dyn Read) -> Result<u64>;
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

    fn add_streamed(&mut self, path: &str, bytes: &mut dyn Read) -> Result<u64> {
        let mut counted = Counted { inner: bytes, n: 0 };
        self.add(path, 0, &mut counted)?;
        Ok(counted.n)
    }
}

/// Counts what passes.
struct Counted<'a> {
    inner: &'a mut dyn Read,
    n: u64,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
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

impl TarSink {
    /// Directory entries for the parents of `path` not written yet, as skopeo and
    /// `docker save` write them.
    fn parents(&mut self, path: &str) -> Result<()> {
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
        Ok(())
    }
}

impl Sink for TarSink {
    fn add(&mut self, path: &str, size: u64, bytes: &mut dyn Read) -> Result<()> {
        self.parents(path)?;
        let mut h = TarSink::header(size, tar::EntryType::Regular, 0o644);
        self.tar.append_data(&mut h, path, bytes).at("write", &self.path)
    }

    /// A placeholder header, the bytes and their padding, then the header again with the
    /// size, written over the placeholder: the archive is a file of our own, so it can be
    /// patched in place rather than the bytes read twice.
    fn add_streamed(&mut self, path: &str, bytes: &mut dyn Read) -> Result<u64> {
        self.parents(path)?;
        let mut h = TarSink::header(0, tar::EntryType::Regular, 0o644);
        h.set_path(path).at("write", &self.path)?;
        let out = self.tar.get_mut();
        let start = out.stream_position().at("seek", &self.path)?;
        out.write_all(&[0; 512]).at("write", &self.path)?;
        let n = io::copy(bytes, out).at("write", &self.path)?;
        let pad = (512 - n % 512) % 512;
        out.write_all(&vec![0; pad as usize]).at("write", &self.path)?;
        h.set_size(n);
        h.set_cksum();
        out.seek(SeekFrom::Start(start)).at("seek", &self.path)?;
        out.write_all(h.as_bytes()).at("write", &self.path)?;
        out.seek(SeekFrom::End(0)).at("seek", &self.path)?;
        Ok(n)
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
/// Layers), the config and the layers as `blobs/sha256/<hex>` (no `repositories`, which
/// docker reads only from an archive without `manifest.json`). The config is the store's,
/// byte for byte, so the image ID is unchanged. gzip and plain
/// layers go as stored (docker, podman and skopeo read compressed layers from a
/// docker-archive); a zstd layer goes as its plain tar, named by its diffID and checked
/// against it, because docker before 23.0 cannot read zstd (moby/moby#41759, in docker
/// 23.0's release notes; docker-ce 20.10's `pkg/archive.DecompressStream` knows gzip, bzip2
/// and xz), and a plain tar is what `docker save` and containers/image's docker-archive
/// destination (which asks for decompressed layers) write.
fn docker_archive(
    store: &Store,
    name: &Reference,
    tree: &Tree,
    sink: &mut dyn Sink,
) -> Result<(u64, u64)> {
    let Some(ManifestDocument::Image(m)) = tree.docs.last().map(|d| &d.parsed) else {
        return Err(StoreError::Damaged { digest: None, message: "no manifest to export".into() });
    };
    let path = |d: &Digest| format!("blobs/{}/{}", d.algorithm(), d.hex());
    let diff_ids = store.config(&m.config)?.rootfs.diff_ids;
    let mut n = (0, 0);
    blob(store, &m.config, &path(&m.config.digest), sink, &mut n)?;
    let mut layers: Vec<String> = Vec::new();
    for (i, l) in m.layers.iter().enumerate() {
        let (compression, raw) = ocisize_layer::sniff(store.reader(&l.digest)?)
            .map_err(|e| damaged_layer(l.digest, &e))?;
        let member = if compression == Compression::Zstd {
            let diff_id = diff_ids.get(i).copied().ok_or_else(|| StoreError::Damaged {
                digest: Some(m.config.digest),
                message: format!(
                    "config {} lists {} diffIDs for {} layers",
                    m.config.digest,
                    diff_ids.len(),
                    m.layers.len()
                ),
            })?;
            let member = path(&diff_id);
            if !layers.contains(&member) {
                let (size, found) = plain_tar(l.digest, raw, &member, sink)?;
                if found != diff_id {
                    return Err(StoreError::Damaged {
                        digest: Some(l.digest),
                        message: format!(
                            "layer {} decompresses to {found}, but the config's diffID is {diff_id}",
                            l.digest
                        ),
                    });
                }
                n.0 += 1;
                n.1 += size;
            }
            member
        } else {
            let member = path(&l.digest);
            if !layers.contains(&member) {
                let mut raw = raw;
                sink.add(&member, l.size, &mut raw)?;
                n.0 += 1;
                n.1 += l.size;
            }
            member
        };
        layers.push(member);
    }
    let entry = serde_json::json!([{
        "Config": path(&m.config.digest),
        "RepoTags": [name.familiar()],
        "Layers": layers,
    }]);
    let manifest = serde_json::to_vec(&entry)
        .map_err(|e| StoreError::io("serialize", "manifest.json", io::Error::other(e)))?;
    sink.add("manifest.json", manifest.len() as u64, &mut &manifest[..])?;
    Ok(n)
}

/// Decompress a layer into the archive as `member`; its size and digest (the diffID).
fn plain_tar(
    layer: Digest,
    raw: ocisize_layer::Sniffed<crate::BlobReader>,
    member: &str,
    sink: &mut dyn Sink,
) -> Result<(u64, Digest)> {
    let decoded =
        ocisize_layer::decoder(Compression::Zstd, raw).map_err(|e| damaged_layer(layer, &e))?;
    let mut hashing = HashingReader::new(Named { layer, inner: decoded }, Algorithm::Sha256);
    let size = sink.add_streamed(member, &mut hashing)?;
    let (found, _, _) = hashing.finish();
    Ok((size, found))
}

/// A layer's reader whose errors say which layer.
struct Named<R> {
    layer: Digest,
    inner: R,
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            io::Error::new(e.kind(), format!("decompressing layer {}: {e}", self.layer))
        })
    }
}

fn damaged_layer(layer: Digest, e: &io::Error) -> StoreError {
    StoreError::Damaged { digest: Some(layer), message: format!("layer {layer}: {e}") }
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

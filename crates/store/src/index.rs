//! Names: `index.json`, one descriptor per name.
//!
//! Each named descriptor carries the full normalized name (`docker.io/library/x:tag`) in
//! `org.opencontainers.image.ref.name`, as podman writes it (so `skopeo inspect
//! oci:STORE:docker.io/library/x:tag` and `podman pull oci:STORE:…` find it), and in
//! `io.containerd.image.name`. Entries the store did not write (a bare tag, no name) are
//! kept as they are.
//!
//! `index.json` is only ever replaced whole (temporary file, fsync, rename, fsync of the
//! store directory), under the exclusive index lock, after reading it under the same lock:
//! concurrent updates are serialised and none is lost, and a reader sees one version or the
//! next, never a mix.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use ocisize_reference::{from_oci_ref_name, Reference};
use ocisize_spec::{annotation, Descriptor, ImageIndex, JsonLimits, MediaType};

use crate::error::{IoContext, Result, StoreError};
use crate::layout;
use crate::lock::{LockFile, SharedGc};
use crate::Store;

/// The largest `index.json` this store reads: a store holds many names (some 300,000 at
/// about 200 bytes each), more than the 4 MiB containers/image allows a manifest.
pub(crate) const INDEX_LIMIT: u64 = 64 << 20;

/// An index with no manifests, as a new store starts.
pub(crate) fn empty_index() -> ImageIndex {
    ImageIndex {
        schema_version: 2,
        media_type: Some(MediaType::OciIndex),
        artifact_type: None,
        manifests: Vec::new(),
        subject: None,
        annotations: Default::default(),
    }
}

/// The name an `index.json` entry gives its image: a full reference in
/// `org.opencontainers.image.ref.name` (podman's form), else `io.containerd.image.name`
/// (`ctr export` puts only the tag in the first).
pub fn entry_name(descriptor: &Descriptor) -> Option<Reference> {
    descriptor.annotation(annotation::REF_NAME).and_then(from_oci_ref_name).or_else(|| {
        descriptor
            .annotation(annotation::CONTAINERD_IMAGE_NAME)
            .and_then(|n| Reference::parse_normalized(n).ok())
    })
}

pub(crate) fn read_index(root: &Path) -> Result<ImageIndex> {
    let path = root.join(layout::INDEX);
    let file = File::open(&path).at("open", &path)?;
    let mut bytes = Vec::new();
    file.take(INDEX_LIMIT + 1).read_to_end(&mut bytes).at("read", &path)?;
    let limits = JsonLimits { manifest: INDEX_LIMIT, ..JsonLimits::default() };
    ocisize_spec::parse_layout_index(&bytes, &limits)
        .map_err(|source| StoreError::Index { path, source })
}

pub(crate) fn write_index(root: &Path, index: &ImageIndex) -> Result<()> {
    let bytes = serde_json::to_vec(index).map_err(|e| {
        StoreError::io("serialize", root.join(layout::INDEX), std::io::Error::other(e))
    })?;
    layout::write_atomic(root, layout::INDEX, &bytes)
}

impl Store {
    /// `index.json` as it is, read under the shared index lock (a store the caller may
    /// only read is read without it when it has no lock file yet).
    pub fn index(&self) -> Result<ImageIndex> {
        let _lock = LockFile::shared_for_reading(&self.root().join(layout::INDEX_LOCK))?;
        read_index(self.root())
    }

    /// Every name `index.json` holds, with its descriptor, in the index's order. Entries
    /// without a name are not listed (see [`Store::index`]).
    pub fn names(&self) -> Result<Vec<(Reference, Descriptor)>> {
        let index = self.index()?;
        Ok(index.manifests.into_iter().filter_map(|d| Some((entry_name(&d)?, d))).collect())
    }

    /// Point each name at its descriptor, replacing what the name pointed at before; other
    /// names are kept. A name without a tag or digest gets `latest`. Every descriptor must
    /// have a media type and name a blob the store holds, with its size: a name never
    /// points at missing content.
    pub fn set_names(&self, names: &[(Reference, Descriptor)]) -> Result<()> {
        let _gc = SharedGc::acquire(self.root())?;
        let mut entries = Vec::with_capacity(names.len());
        for (name, descriptor) in names {
            let name = name.clone().with_default_tag();
            let full = name.normalized();
            if descriptor.media_type.as_ref().is_none_or(|m| m.as_str().is_empty()) {
                return Err(StoreError::NoMediaType { name: full, digest: descriptor.digest });
            }
            if self.info(&descriptor.digest)?.is_none_or(|i| i.size != descriptor.size) {
                return Err(StoreError::NameTargetMissing {
                    name: full,
                    digest: descriptor.digest,
                    size: descriptor.size,
                });
            }
            let mut d = descriptor.clone();
            d.annotations.insert(annotation::REF_NAME.to_owned(), full.clone());
            d.annotations.insert(annotation::CONTAINERD_IMAGE_NAME.to_owned(), full);
            entries.push((name, d));
        }
        self.update_index(|index| {
            for (name, d) in entries {
                // The new entry takes the place of the first entry of that name.
                let (mut slot, mut kept) = (None, 0);
                index.manifests.retain(|m| {
                    let same = entry_name(m).as_ref() == Some(&name);
                    if same {
                        slot.get_or_insert(kept);
                    } else {
                        kept += 1;
                    }
                    !same
                });
                match slot {
                    Some(at) => index.manifests.insert(at.min(index.manifests.len()), d),
                    None => index.manifests.push(d),
                }
            }
        })
    }

    /// Remove names from `index.json` (a name without a tag or digest is `latest`).
    /// Returns how many entries were removed; names that are not there are not an error.
    pub fn remove_names(&self, names: &[Reference]) -> Result<usize> {
        let names: Vec<Reference> = names.iter().map(|n| n.clone().with_default_tag()).collect();
        let mut removed = 0;
        self.update_index(|index| {
            let before = index.manifests.len();
            index.manifests.retain(|m| entry_name(m).is_none_or(|n| !names.contains(&n)));
            removed = before - index.manifests.len();
        })?;
        Ok(removed)
    }

    /// Read, change and replace `index.json` under the exclusive index lock (unchanged
    /// content is not rewritten).
    fn update_index(&self, change: impl FnOnce(&mut ImageIndex)) -> Result<()> {
        let _lock = LockFile::exclusive(&self.root().join(layout::INDEX_LOCK))?;
        let mut index = read_index(self.root())?;
        let before = index.clone();
        change(&mut index);
        if index == before {
            return Ok(());
        }
        write_index(self.root(), &index)
    }
}

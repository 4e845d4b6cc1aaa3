//! Export: one name, with every blob it reaches, to an OCI layout, an oci-archive, a
//! docker-archive or a containers/image `dir:`, written atomically (a temporary file or
//! directory beside the destination, fsynced, renamed into place) and streamed blob by blob
//! from the store, each verified against its digest as it is read.

mod write;

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;

use ocisize_digest::Digest;
use ocisize_reference::Reference;
use ocisize_spec::{
    parse_json, parse_manifest_document_with, Descriptor, DocumentKind, ImageConfig, JsonLimits,
    ManifestDocument, Platform,
};
use serde::Serialize;

use crate::error::{Result, StoreError};
use crate::graph::{host_platform, platform_matches};
use crate::Store;

/// Where an export goes (skopeo's transport names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Destination {
    /// `oci:DIR[:REF]`: an OCI image layout directory; `REF` is its `ref.name`
    /// (default: the full name).
    Oci {
        /// The directory (must not exist, or be empty).
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to give it.
        reference: Option<String>,
    },
    /// `oci-archive:FILE`: a tar of an OCI image layout.
    OciArchive {
        /// The file.
        file: PathBuf,
    },
    /// `docker-archive:FILE`: what `docker load` reads (one platform).
    DockerArchive {
        /// The file.
        file: PathBuf,
    },
    /// `dir:DIR`: a containers/image directory.
    Dir {
        /// The directory (must not exist, or be empty).
        dir: PathBuf,
    },
}

impl FromStr for Destination {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Destination> {
        let bad = |reason: &str| StoreError::Destination {
            dest: s.to_owned(),
            reason: reason.to_owned(),
        };
        let (kind, rest) = s.split_once(':').ok_or_else(|| {
            bad("expected oci:DIR[:REF], oci-archive:FILE, docker-archive:FILE or dir:DIR")
        })?;
        if rest.is_empty() {
            return Err(bad("no path"));
        }
        Ok(match kind {
            "oci" => match rest.split_once(':') {
                Some((dir, r)) if !r.is_empty() => {
                    Destination::Oci { dir: dir.into(), reference: Some(r.to_owned()) }
                }
                _ => Destination::Oci { dir: rest.trim_end_matches(':').into(), reference: None },
            },
            "oci-archive" => Destination::OciArchive { file: rest.into() },
            "docker-archive" => Destination::DockerArchive { file: rest.into() },
            "dir" => Destination::Dir { dir: rest.into() },
            _ => return Err(bad(&format!("unknown transport {kind:?}"))),
        })
    }
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Oci { dir, reference: Some(r) } => write!(f, "oci:{}:{r}", dir.display()),
            Destination::Oci { dir, reference: None } => write!(f, "oci:{}", dir.display()),
            Destination::OciArchive { file } => write!(f, "oci-archive:{}", file.display()),
            Destination::DockerArchive { file } => write!(f, "docker-archive:{}", file.display()),
            Destination::Dir { dir } => write!(f, "dir:{}", dir.display()),
        }
    }
}

/// How to export.
#[derive(Clone, Debug, Default)]
pub struct ExportOptions {
    /// For a docker-archive of a multi-platform image: the platform to take (default: this
    /// machine's).
    pub platform: Option<Platform>,
}

/// What an export wrote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    /// The destination.
    pub dest: String,
    /// The index or manifest exported (for a docker-archive, the platform's manifest).
    pub digest: Digest,
    /// Blobs written.
    pub blobs: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// One document of the exported tree, kept parsed, with its bytes (documents are small).
#[derive(Debug)]
pub(crate) struct Doc {
    pub(crate) descriptor: Descriptor,
    pub(crate) bytes: Vec<u8>,
    pub(crate) parsed: ManifestDocument,
}

/// The tree under one name: documents (top first), then every other blob.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    pub(crate) docs: Vec<Doc>,
    pub(crate) blobs: Vec<Descriptor>,
}

impl Tree {
    /// Every blob of the tree, each once: documents first.
    pub(crate) fn all(&self) -> Vec<Descriptor> {
        let mut out: Vec<Descriptor> = self.docs.iter().map(|d| d.descriptor.clone()).collect();
        for b in &self.blobs {
            if !out.iter().any(|o| o.digest == b.digest) {
                out.push(b.clone());
            }
        }
        out
    }
}

impl Store {
    /// Export one name to `dest`.
    pub fn export(
        &self,
        name: &Reference,
        dest: &Destination,
        options: &ExportOptions,
    ) -> Result<ExportReport> {
        let name = name.clone().with_default_tag();
        let top = self
            .names()?
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d)
            .ok_or_else(|| StoreError::NoSuchName { name: name.normalized() })?;
        let mut top = top;
        top.annotations.clear();
        let (digest, tree) = match dest {
            Destination::DockerArchive { .. } => {
                let want = options.platform.clone().unwrap_or_else(host_platform);
                let manifest = self.platform_manifest(&name, &top, &want)?;
                let mut tree = Tree::default();
                self.collect(&manifest, &mut tree, 0)?;
                (manifest.digest, tree)
            }
            _ => {
                let mut tree = Tree::default();
                self.collect(&top, &mut tree, 0)?;
                (top.digest, tree)
            }
        };
        let (blobs, bytes) = write::write(self, &name, dest, &tree)?;
        Ok(ExportReport { dest: dest.to_string(), digest, blobs, bytes })
    }

    /// A document of the store, whole (bounded by the manifest limit) and verified.
    pub(crate) fn document(&self, d: &Descriptor) -> Result<(Vec<u8>, ManifestDocument)> {
        let limits = JsonLimits::default();
        let limit = limits.limit(DocumentKind::Manifest);
        if d.size > limit {
            return Err(StoreError::Damaged {
                digest: Some(d.digest),
                message: format!(
                    "document {} is {} bytes, over the limit of {limit}",
                    d.digest, d.size
                ),
            });
        }
        let mut bytes = Vec::new();
        self.reader(&d.digest)?
            .take(limit + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| damaged(d.digest, &e))?;
        let parsed =
            parse_manifest_document_with(&bytes, &limits).map_err(|e| damaged(d.digest, &e))?;
        Ok((bytes, parsed))
    }

    /// The descriptor and its tree: indexes (children the store holds), manifests, configs,
    /// layers.
    fn collect(&self, d: &Descriptor, tree: &mut Tree, depth: u32) -> Result<()> {
        if depth > 8 || tree.docs.iter().any(|x| x.descriptor.digest == d.digest) {
            return Ok(());
        }
        let (bytes, parsed) = self.document(d)?;
        match &parsed {
            ManifestDocument::Index(ix) => {
                let children = ix.manifests.clone();
                tree.docs.push(Doc { descriptor: d.clone(), bytes, parsed });
                for c in &children {
                    // A platform the source did not hold is not in the store either.
                    if self.info(&c.digest)?.is_some() {
                        self.collect(c, tree, depth + 1)?;
                    }
                }
            }
            ManifestDocument::Image(m) => {
                for b in std::iter::once(&m.config).chain(&m.layers) {
                    if self.info(&b.digest)?.is_none() {
                        return Err(StoreError::BlobNotFound { digest: b.digest });
                    }
                    tree.blobs.push(b.clone());
                }
                tree.docs.push(Doc { descriptor: d.clone(), bytes, parsed });
            }
        }
        Ok(())
    }

    /// The manifest of `top` for a platform: `top` itself if it is a manifest, else the
    /// index entry whose platform (from the index, else the config) matches.
    fn platform_manifest(
        &self,
        name: &Reference,
        top: &Descriptor,
        want: &Platform,
    ) -> Result<Descriptor> {
        let mut available = Vec::new();
        let mut stack = vec![(top.clone(), None::<Platform>, 0u32)];
        while let Some((d, platform, depth)) = stack.pop() {
            let (_, parsed) = self.document(&d)?;
            match parsed {
                ManifestDocument::Image(m) => {
                    let p = match platform.filter(|p| !p.os.is_empty()) {
                        Some(p) => p,
                        None => self.config_platform(&m.config)?,
                    };
                    if d.digest == top.digest || platform_matches(&p, want) {
                        return Ok(d);
                    }
                    available.push(p.to_string());
                }
                ManifestDocument::Index(ix) if depth < 8 => {
                    for c in ix.manifests.iter().rev() {
                        if self.info(&c.digest)?.is_some() {
                            stack.push((c.clone(), c.platform.clone(), depth + 1));
                        }
                    }
                }
                ManifestDocument::Index(_) => {}
            }
        }
        Err(StoreError::NoSuchPlatform {
            name: name.normalized(),
            platform: want.to_string(),
            available,
        })
    }

    fn config_platform(&self, d: &Descriptor) -> Result<Platform> {
        Ok(self.config(d)?.platform())
    }

    pub(crate) fn config(&self, d: &Descriptor) -> Result<ImageConfig> {
        let limits = JsonLimits::default();
        let mut bytes = Vec::new();
        self.reader(&d.digest)?
            .take(limits.limit(DocumentKind::Config) + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| damaged(d.digest, &e))?;
        parse_json(&bytes, DocumentKind::Config, &limits).map_err(|e| damaged(d.digest, &e))
    }
}

fn damaged(digest: Digest, e: &dyn fmt::Display) -> StoreError {
    StoreError::Damaged { digest: Some(digest), message: format!("blob {digest}: {e}") }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_destination_prints_as_it_parses(
            kind in 0..4usize,
            path in "/[a-z0-9._/-]{1,40}",
            reference in proptest::option::of("[a-z0-9][a-z0-9._/:@-]{0,30}"),
        ) {
            let dest = match kind {
                0 => Destination::Oci { dir: path.clone().into(), reference },
                1 => Destination::OciArchive { file: path.clone().into() },
                2 => Destination::DockerArchive { file: path.clone().into() },
                _ => Destination::Dir { dir: path.clone().into() },
            };
            let back: Destination = dest.to_string().parse().unwrap();
            prop_assert_eq!(back, dest);
        }
    }

    #[test]
    fn unknown_transports_and_empty_paths_are_refused() {
        for bad in ["docker://x", "oci:", "tar:/x", "/just/a/path"] {
            assert!(bad.parse::<Destination>().is_err(), "{bad}");
        }
    }
}

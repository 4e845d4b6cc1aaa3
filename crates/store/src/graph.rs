//! The store as an image source: the walk over its names (it is an OCI layout), and what is
//! built on it — the mark of gc, the reference half of fsck, and the listing.

use std::collections::HashSet;

use ocisize_digest::Digest;
use ocisize_source::walk::Graph;
use ocisize_source::{
    FileSource, Format, ProblemKind, Problems, Role, ScanOptions, Source, SourceArg,
};
use ocisize_spec::{parse_manifest_document_with, DocumentKind, ManifestDocument, Platform};
use serde::Serialize;

use crate::error::{Result, StoreError};
use crate::import::config_of;
use crate::{CorruptBlob, Store, SweepReport};

/// A blob a name or document references that the store does not hold.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MissingBlob {
    /// Its digest.
    pub digest: Digest,
    /// Who references it: digests of documents, or `index.json` for a name.
    pub referenced_by: Vec<String>,
}

/// A blob nothing references.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SizedBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// What [`Store::fsck`] found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Blobs hashed.
    pub blobs_checked: u64,
    /// Bytes hashed.
    pub bytes_checked: u64,
    /// Blobs whose bytes do not match their name or the size their referrers give, or that
    /// cannot be read.
    pub corrupt: Vec<CorruptBlob>,
    /// Entries under `blobs/` that are not blobs (another algorithm, a name that is not a
    /// digest, a directory or link), and listing errors.
    pub not_blobs: Vec<StoreError>,
    /// Referenced blobs the store does not hold.
    pub missing: Vec<MissingBlob>,
    /// Blobs nothing references (gc removes them).
    pub unreferenced: Vec<SizedBlob>,
}

impl CheckReport {
    /// Whether nothing is corrupt or missing (unreferenced blobs are no damage).
    pub fn is_clean(&self) -> bool {
        self.corrupt.is_empty() && self.missing.is_empty() && self.not_blobs.is_empty()
    }
}

/// One name, as `ocisize store ls` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListedImage {
    /// The full name.
    pub name: String,
    /// The index or manifest it points at.
    pub digest: Digest,
    /// Its media type.
    pub media_type: Option<String>,
    /// The config digest of the image for this machine's platform (else the first).
    pub image_id: Option<Digest>,
    /// The platforms of its images.
    pub platforms: Vec<String>,
    /// What `ctr images ls` shows: the index (if any), plus the manifest, config and layers
    /// of the image for this machine's platform (containerd's `images.Size` with
    /// `platforms.DefaultStrict()`), the rule of the facade's containerd figure.
    pub size: Option<u64>,
}

/// The platform of this machine, as Go names it (containerd's `platforms.DefaultSpec`).
pub fn host_platform() -> Platform {
    let (architecture, variant) = match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "x86" => ("386", None),
        "arm" => ("arm", Some("v7")),
        "powerpc64" => ("ppc64le", None),
        "loongarch64" => ("loong64", None),
        other => (other, None),
    };
    Platform {
        architecture: architecture.to_owned(),
        os: std::env::consts::OS.to_owned(),
        variant: variant.map(str::to_owned),
        os_version: None,
    }
}

/// Whether `p` is what `want` asks for: os and architecture, and the variant when `want`
/// names one (an arm64 image without a variant is v8).
pub(crate) fn platform_matches(p: &Platform, want: &Platform) -> bool {
    let norm = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
        ("arm64", None) => Some("v8".to_owned()),
        _ => p.variant.clone(),
    };
    p.os == want.os
        && p.architecture == want.architecture
        && (want.variant.is_none() || norm(p) == norm(want))
}

/// How the store reads itself: its own `index.json` may be as large as the store allows
/// (`index::INDEX_LIMIT`, where a source's is held to a manifest's 4 MiB), and it may hold
/// any number of names and blobs. A mark that stopped at a source's limits would sweep what
/// lies beyond them.
fn own_scan() -> ScanOptions {
    let mut scan = ScanOptions::default();
    scan.limits.json.manifest = scan.limits.json.manifest.max(crate::index::INDEX_LIMIT);
    scan.limits.max_images = usize::MAX;
    scan.limits.max_members = u64::MAX;
    scan
}

impl Store {
    /// The store read as the OCI layout it is (nothing is read but documents until used).
    pub(crate) fn as_source(&self) -> Result<FileSource> {
        let arg = SourceArg {
            input: ocisize_source::Input::Path(self.root().to_path_buf()),
            format: Some(Format::OciLayout),
            selection: None,
        };
        Ok(ocisize_source::open(&arg, &own_scan())?)
    }

    fn walk_source(&self, source: &FileSource) -> Graph {
        ocisize_source::walk(source, &own_scan().limits)
    }

    /// Walk the store from its names: every index, manifest, config and layer they reach
    /// (the source model's walk, on the store as a layout).
    pub fn walk(&self) -> Result<Graph> {
        let source = self.as_source()?;
        Ok(self.walk_source(&source))
    }

    /// Every blob the names reach: the walk's, and the children of every index whatever
    /// their media type (the walk skips media types it does not know; a sweep must not).
    fn mark(&self, source: &FileSource, graph: &Graph) -> Result<HashSet<Digest>> {
        let mut live: HashSet<Digest> = graph.blobs.keys().copied().collect();
        live.extend(self.index()?.manifests.iter().map(|d| d.digest));
        let catalog = source.catalog();
        let limits = &catalog.options().limits.json;
        for (digest, blob) in &graph.blobs {
            if !matches!(blob.role, Role::Manifest { .. }) || !catalog.contains(&blob.member) {
                continue;
            }
            let Ok(bytes) = catalog.document(&blob.member, DocumentKind::Manifest) else {
                continue;
            };
            match parse_manifest_document_with(&bytes, limits) {
                Ok(ManifestDocument::Index(ix)) => {
                    live.extend(ix.manifests.iter().map(|d| d.digest));
                    live.extend(ix.subject.iter().map(|d| d.digest));
                }
                Ok(ManifestDocument::Image(m)) => {
                    live.insert(m.config.digest);
                    live.extend(m.layers.iter().map(|d| d.digest));
                    live.extend(m.subject.iter().map(|d| d.digest));
                }
                Err(e) => {
                    return Err(StoreError::Damaged {
                        digest: Some(*digest),
                        message: format!("document {digest} cannot be read: {e}"),
                    })
                }
            }
        }
        Ok(live)
    }

    /// Garbage collection: under the exclusive removal lock (waiting for every import to
    /// finish), mark every blob the names reach and sweep the rest, and ingests abandoned
    /// for more than a day. A document that cannot be read stops it: what it references
    /// would not be known. With `dry_run`, report what would go and remove nothing.
    pub fn gc(&self, dry_run: bool) -> Result<SweepReport> {
        let lock = self.gc_lock()?;
        let source = self.as_source()?;
        let graph = self.walk_source(&source);
        let damage = graph.problems.as_slice().iter().find(|p| {
            p.is_error() && !matches!(p.kind, ProblemKind::MissingBlob | ProblemKind::NoImage)
        });
        if let Some(p) = damage {
            return Err(StoreError::Damaged { digest: p.digest, message: p.message.clone() });
        }
        let live = self.mark(&source, &graph)?;
        let mut report = lock.sweep(&live, dry_run)?;
        report.removed.sort_by_key(|(d, _)| d.to_string());
        Ok(report)
    }

    /// Check the store: re-hash every blob, follow every reference from the names, and
    /// report corrupt, missing and unreferenced blobs. Needs no lock.
    pub fn fsck(&self) -> Result<CheckReport> {
        let blobs = self.fsck_blobs()?;
        let mut report = CheckReport {
            blobs_checked: blobs.blobs_checked,
            bytes_checked: blobs.bytes_checked,
            corrupt: blobs.corrupt,
            ..CheckReport::default()
        };
        report.not_blobs = blobs.not_blobs;
        let source = self.as_source()?;
        let graph = self.walk_source(&source);
        for (digest, blob) in &graph.blobs {
            // A subject may be elsewhere; a platform an index lists may be omitted (the
            // image-layout spec allows both).
            if blob.role == Role::Subject
                || graph.absent.iter().any(|a| a.descriptor.digest == *digest)
            {
                continue;
            }
            match self.info(digest)? {
                None => report.missing.push(MissingBlob {
                    digest: *digest,
                    referenced_by: if blob.referenced_by.is_empty() {
                        vec!["index.json".to_owned()]
                    } else {
                        blob.referenced_by.iter().map(Digest::to_string).collect()
                    },
                }),
                Some(info) if info.size != blob.descriptor.size => {
                    report.corrupt.push(CorruptBlob {
                        digest: *digest,
                        found: None,
                        message: format!(
                            "{} bytes where its descriptor says {}",
                            info.size, blob.descriptor.size
                        ),
                    });
                }
                Some(_) => {}
            }
        }
        let live = self.mark(&source, &graph).unwrap_or_default();
        for info in self.blobs()?.flatten() {
            if !live.contains(&info.digest) {
                report.unreferenced.push(SizedBlob { digest: info.digest, size: info.size });
            }
        }
        report.unreferenced.sort_by_key(|b| b.digest.to_string());
        Ok(report)
    }

    /// Every name with what it points at, its platforms, image ID and size.
    pub fn list(&self) -> Result<Vec<ListedImage>> {
        let names = self.names()?;
        let source = self.as_source()?;
        let graph = self.walk_source(&source);
        let catalog = source.catalog();
        let host = host_platform();
        let mut out = Vec::with_capacity(names.len());
        for (name, d) in names {
            let under = reach(&graph, d.digest);
            let mut images = Vec::new();
            let mut seen = HashSet::new();
            for img in &graph.images {
                let Some(m) = &img.manifest else { continue };
                // One entry per manifest: the walk meets a manifest once per name.
                if !under.contains(&m.descriptor.digest) || !seen.insert(m.descriptor.digest) {
                    continue;
                }
                let mut ignored = Problems::default();
                let config = img.config.as_ref().and_then(|c| config_of(catalog, c, &mut ignored));
                let platform = img
                    .platform
                    .clone()
                    .filter(|p| !p.os.is_empty())
                    .or_else(|| config.as_ref().map(|c| c.platform()));
                images.push((img, platform));
            }
            let chosen = images
                .iter()
                .find(|(_, p)| p.as_ref().is_some_and(|p| platform_matches(p, &host)))
                .or_else(|| images.first().filter(|_| images.len() == 1));
            let chosen_manifest = chosen.and_then(|(i, _)| i.manifest.as_ref());
            let index_size = if chosen_manifest.is_some_and(|m| m.descriptor.digest != d.digest) {
                d.size
            } else {
                0
            };
            let size = match chosen {
                Some((img, _)) => image_size(img).map(|s| s + index_size),
                None if images.is_empty() => artifact_size(&graph, d.digest),
                None => Some(d.size),
            };
            out.push(ListedImage {
                name: name.with_default_tag().normalized(),
                digest: d.digest,
                media_type: d.media_type.as_ref().map(|m| m.as_str().to_owned()),
                image_id: chosen
                    .or(images.first())
                    .and_then(|(i, _)| i.config.as_ref()?.descriptor.as_ref().map(|c| c.digest)),
                platforms: images
                    .iter()
                    .filter_map(|(_, p)| p.as_ref().map(Platform::to_string))
                    .collect(),
                size,
            });
        }
        Ok(out)
    }
}

/// Manifest + config + layers, by their descriptors (the store's blobs match them).
fn image_size(img: &ocisize_source::walk::ImageNode) -> Option<u64> {
    let m = img.manifest.as_ref()?.descriptor.size;
    let c = img.config.as_ref()?.descriptor.as_ref()?.size;
    let layers: Option<u64> =
        img.layers.iter().map(|l| l.descriptor.as_ref().map(|d| d.size)).sum();
    Some(m + c + layers?)
}

fn artifact_size(graph: &Graph, top: Digest) -> Option<u64> {
    let under = reach(graph, top);
    let a = graph.artifacts.iter().find(|a| under.contains(&a.manifest.descriptor.digest))?;
    let blobs: u64 = a.blobs.iter().filter_map(|b| b.descriptor.as_ref()).map(|d| d.size).sum();
    Some(a.manifest.descriptor.size + blobs)
}

/// Every digest `top` reaches through the documents the walk read.
pub(crate) fn reach(graph: &Graph, top: Digest) -> HashSet<Digest> {
    // An artifact's subject is what it refers to, not a part of it.
    let subjects: HashSet<(Digest, Digest)> = graph
        .artifacts
        .iter()
        .filter_map(|a| Some((a.manifest.descriptor.digest, a.subject.as_ref()?.digest)))
        .collect();
    let mut children: std::collections::HashMap<Digest, Vec<Digest>> = Default::default();
    for (d, u) in &graph.blobs {
        for p in u.referenced_by.iter().filter(|p| !subjects.contains(&(**p, *d))) {
            children.entry(*p).or_default().push(*d);
        }
    }
    let mut out = HashSet::from([top]);
    let mut stack = vec![top];
    while let Some(d) = stack.pop() {
        for c in children.get(&d).into_iter().flatten() {
            if out.insert(*c) {
                stack.push(*c);
            }
        }
    }
    out
}

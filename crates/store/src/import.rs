//! Import: anything `ocisize inspect` reads, verified in the same single pass, written to
//! the store blob by blob.
//!
//! The source is read with a [`Tee`](ocisize_source::Tee) that gives every member an ingest
//! of its own as it is measured (expected digest from the member's name where the format
//! names blobs by digest), so a streamed archive is read once and never copied to a
//! temporary file. After the walk and the verification, each blob an image needs is
//! committed (commit checks its digest once more), every other ingest is aborted, and the
//! names are set. The import holds a [`Lease`](crate::Lease) from before its first write to
//! after its last name, so no gc can remove a committed blob before a name makes it live.

mod plan;
mod tee;

use std::io::{self, Read};
use std::sync::Arc;

use ocisize_digest::Digest;
use ocisize_reference::Reference;
use ocisize_source::{FileSource, Format, Input, ScanOptions, Source, SourceArg};
use serde::Serialize;

use crate::error::{Result, StoreError};
use crate::Store;
use plan::Plan;
use tee::{Ingests, Teed};

pub(crate) use plan::config_of;

/// How to import.
#[derive(Clone, Debug, Default)]
pub struct ImportOptions {
    /// Limits, threads and progress for reading the source (its `tee` is replaced by the
    /// store's).
    pub scan: ScanOptions,
    /// Names for the image, instead of those the source gives (RepoTags, `ref.name`); only
    /// for a source that holds one image (one index or manifest at its root).
    pub names: Vec<Reference>,
}

/// One name an import set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ImportedImage {
    /// The full name (`docker.io/library/x:tag`).
    pub name: String,
    /// What it points at: the index or manifest.
    pub digest: Digest,
    /// The image ID: the config's digest (of the first image, for an index).
    pub image_id: Option<Digest>,
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ImportReport {
    /// The store.
    pub store: String,
    /// The names set.
    pub images: Vec<ImportedImage>,
    /// Blobs written to the store.
    pub blobs_written: u64,
    /// Their bytes.
    pub bytes_written: u64,
    /// Blobs the images need that the store held already (their bytes were still verified).
    pub blobs_present: u64,
    /// Their bytes.
    pub bytes_present: u64,
}

impl ImportReport {
    /// Add another import's figures to these.
    pub fn merge(&mut self, other: ImportReport) {
        self.images.extend(other.images);
        self.blobs_written += other.blobs_written;
        self.bytes_written += other.bytes_written;
        self.blobs_present += other.blobs_present;
        self.bytes_present += other.bytes_present;
    }
}

impl Store {
    /// Import every image and artifact of a source (`oci:DIR`, an archive, `-` for standard
    /// input: anything `ocisize inspect` reads). Everything is verified as inspect verifies
    /// it; if anything fails, nothing is named and no blob of the source is committed, and
    /// the error names the member and the digests expected and found.
    pub fn import(&self, arg: &SourceArg, options: &ImportOptions) -> Result<ImportReport> {
        match &arg.input {
            Input::Stdin => self.import_with(options, |scan| {
                ocisize_source::open_reader(io::stdin().lock(), "-", arg.format, scan)
            }),
            Input::Path(_) => self.import_with(options, |scan| ocisize_source::open(arg, scan)),
        }
    }

    /// Import an archive read from any reader (plain, gzip or zstd), in one pass; `name` is
    /// what messages call it.
    pub fn import_reader<R: Read>(
        &self,
        reader: R,
        name: &str,
        format: Option<Format>,
        options: &ImportOptions,
    ) -> Result<ImportReport> {
        self.import_with(options, |scan| ocisize_source::open_reader(reader, name, format, scan))
    }

    fn import_with(
        &self,
        options: &ImportOptions,
        open: impl FnOnce(&ScanOptions) -> std::result::Result<FileSource, ocisize_source::SourceError>,
    ) -> Result<ImportReport> {
        let _lease = self.lease()?;
        let ingests = Arc::new(Ingests::new(self));
        let mut scan = options.scan.clone();
        scan.tee = Some(ingests.clone());
        let result = self.import_source(open, &scan, &ingests, options);
        // Whatever happened, no ingest of this import is left behind.
        for t in ingests.take() {
            t.writer.abort();
        }
        result
    }

    fn import_source(
        &self,
        open: impl FnOnce(&ScanOptions) -> std::result::Result<FileSource, ocisize_source::SourceError>,
        scan: &ScanOptions,
        ingests: &Ingests,
        options: &ImportOptions,
    ) -> Result<ImportReport> {
        let source = open(scan)?;
        let catalog = source.catalog();
        let graph = ocisize_source::walk(&source, &scan.limits);
        hint_legacy_layers(&graph, catalog, ingests);
        catalog.prefetch(&graph.wanted(), scan.parallelism);
        let roots = source.roots(&scan.limits).roots;
        let plan = plan::plan(graph, &roots, catalog);
        if let Some(p) = plan.problems.as_slice().iter().find(|p| p.is_error()) {
            let found = p.member.as_ref().and_then(|m| catalog.measured(m).ok()).map(|m| m.digest);
            return Err(StoreError::Invalid {
                source_path: catalog.path().to_owned(),
                member: p.member.clone(),
                expected: p.digest,
                found,
                message: p.message.clone(),
            });
        }
        let names = names(&plan, catalog.path(), &options.names)?;
        let mut report =
            ImportReport { store: self.root().display().to_string(), ..ImportReport::default() };
        self.commit_plan(&plan, &source, ingests, &mut report)?;
        self.set_names(&names)?;
        for (name, d) in &names {
            let image_id =
                plan.tops.iter().find(|t| t.descriptor.digest == d.digest).and_then(|t| t.image_id);
            report.images.push(ImportedImage {
                name: name.clone().with_default_tag().normalized(),
                digest: d.digest,
                image_id,
            });
        }
        Ok(report)
    }

    /// Commit every blob the plan needs: from its ingest, else (a member whose name promised
    /// another digest than its bytes have) read once more from the source.
    fn commit_plan(
        &self,
        plan: &Plan,
        source: &FileSource,
        ingests: &Ingests,
        report: &mut ImportReport,
    ) -> Result<()> {
        let mut teed: Vec<Option<Teed>> = ingests.take().into_iter().map(Some).collect();
        let result = self.commit_needed(plan, source, ingests, &mut teed, report);
        for t in teed.into_iter().flatten() {
            t.writer.abort();
        }
        result
    }

    fn commit_needed(
        &self,
        plan: &Plan,
        source: &FileSource,
        ingests: &Ingests,
        teed: &mut [Option<Teed>],
        report: &mut ImportReport,
    ) -> Result<()> {
        let mut count = |existed: bool, size: u64| {
            if existed {
                report.blobs_present += 1;
                report.bytes_present += size;
            } else {
                report.blobs_written += 1;
                report.bytes_written += size;
            }
        };
        for (digest, needed) in &plan.blobs {
            let slot = teed.iter_mut().find(|t| {
                t.as_ref().is_some_and(|t| {
                    t.measured == Some((*digest, needed.size))
                        && !(t.writer.is_stored_already() && named_other(t, digest))
                })
            });
            let committed = match slot.and_then(Option::take) {
                // Opened on a blob the store held: the measurement verified the bytes.
                Some(t) if t.writer.is_stored_already() => {
                    t.writer.abort();
                    match self.info(digest)? {
                        Some(i) if i.size == needed.size => {
                            crate::Committed { digest: *digest, size: needed.size, existed: true }
                        }
                        _ => return Err(StoreError::BlobNotFound { digest: *digest }),
                    }
                }
                Some(t) => t.writer.commit_measured(*digest, (*digest, needed.size))?,
                None => self.copy_member(source, &needed.member, *digest, needed.size, ingests)?,
            };
            count(committed.existed, committed.size);
        }
        for (digest, json) in &plan.synthesized {
            let mut w = self
                .writer(&ingests.reference("manifest.json"), Some((*digest, json.len() as u64)))?;
            io::Write::write_all(&mut w, json).map_err(|e| write_error(e, "manifest"))?;
            let c = w.commit(None)?;
            count(c.existed, c.size);
        }
        Ok(())
    }

    fn copy_member(
        &self,
        source: &FileSource,
        member: &str,
        digest: Digest,
        size: u64,
        ingests: &Ingests,
    ) -> Result<crate::Committed> {
        if self.info(&digest)?.is_some_and(|i| i.size == size) {
            return Ok(crate::Committed { digest, size, existed: true });
        }
        let catalog = source.catalog();
        let mut reader = catalog.open(member).map_err(|e| StoreError::Invalid {
            source_path: catalog.path().to_owned(),
            member: Some(member.to_owned()),
            expected: Some(digest),
            found: None,
            message: e.to_string(),
        })?;
        let mut w = self.writer(&ingests.reference(member), Some((digest, size)))?;
        io::copy(&mut reader, &mut w).map_err(|e| write_error(e, member))?;
        w.commit(None)
    }
}

/// The writer was opened for the digest the member's name promised, the store held that
/// one, and the bytes turned out to be another: nothing of them was kept.
fn named_other(t: &Teed, digest: &Digest) -> bool {
    tee::named_digest(&t.member).is_some_and(|n| n != *digest)
}

/// The store's error inside an `io::Error` from a [`Writer`](crate::Writer), else the I/O
/// error with the member it was about.
fn write_error(e: io::Error, member: &str) -> StoreError {
    if StoreError::from_io(&e).is_none() {
        return StoreError::io("write", member, e);
    }
    match e.into_inner().map(|b| b.downcast::<StoreError>()) {
        Some(Ok(se)) => *se,
        Some(Err(other)) => StoreError::io("write", member, io::Error::other(other)),
        None => StoreError::io("write", member, io::Error::other("the ingest write failed")),
    }
}

/// In a source read on demand, a legacy docker-archive layer that is a plain tar is
/// expected to hash to its diffID: its writer then skips the disk if the store holds it.
fn hint_legacy_layers(
    graph: &ocisize_source::Graph,
    catalog: &ocisize_source::Catalog,
    ingests: &Ingests,
) {
    for image in graph.images.iter().filter(|i| i.legacy) {
        let Some(c) = &image.config else { continue };
        if !catalog.is_measured(&c.member) {
            continue;
        }
        let mut ignored = ocisize_source::Problems::default();
        let Some(config) = config_of(catalog, c, &mut ignored) else { continue };
        for (l, diff_id) in image.layers.iter().zip(&config.rootfs.diff_ids) {
            if catalog.is_measured(&l.member) {
                continue;
            }
            let plain = catalog
                .peek(&l.member, 4)
                .is_ok_and(|h| ocisize_source::Wrapper::sniff(&h) == ocisize_source::Wrapper::None);
            if let (true, Ok(resolved)) = (plain, catalog.resolved(&l.member)) {
                ingests.hint(resolved, *diff_id);
            }
        }
    }
}

/// The names to set: those given, else the source's; every image must have one.
///
/// - Names given, for a source of one image: that image's.
/// - One repository given without a tag, for a source of several images with bare tags (an
///   OCI layout's `ref.name`): each tag under that repository, as `ctr images import
///   --base-name` does.
/// - A root with no name nor tag at all (a referrer: a signature, an attestation) goes under
///   the repository of the others, by digest (`repo@sha256:…`), where a registry keeps the
///   referrers of its subject.
fn names(
    plan: &Plan,
    source_path: &str,
    given: &[Reference],
) -> Result<Vec<(Reference, ocisize_spec::Descriptor)>> {
    let repo = match given {
        [r] if r.tag().is_none() && r.digest().is_none() && plan.tops.len() > 1 => Some(r),
        _ => None,
    };
    if !given.is_empty() && repo.is_none() {
        if plan.tops.len() != 1 {
            return Err(StoreError::AmbiguousNames {
                source_path: source_path.to_owned(),
                images: plan.tops.len(),
            });
        }
        let d = &plan.tops[0].descriptor;
        return Ok(given.iter().map(|n| (n.clone(), d.clone())).collect());
    }
    let no_name = |t: &plan::Top| StoreError::NoName {
        source_path: source_path.to_owned(),
        digest: t.descriptor.digest,
        tags: t.tags.clone(),
    };
    let mut out = Vec::new();
    let mut unnamed = Vec::new();
    for t in &plan.tops {
        let names: Vec<Reference> = match repo {
            Some(r) => t
                .tags
                .iter()
                .map(|tag| Reference::parse_normalized(&format!("{}:{tag}", r.normalized())))
                .collect::<std::result::Result<_, _>>()
                .map_err(|_| no_name(t))?,
            None => t.names.clone(),
        };
        match names.is_empty() {
            true if t.tags.is_empty() => unnamed.push(t),
            true => return Err(no_name(t)),
            false => out.extend(names.into_iter().map(|n| (n, t.descriptor.clone()))),
        }
    }
    let base = repo.cloned().or_else(|| out.first().map(|(n, _)| n.clone()));
    for t in unnamed {
        let Some(b) = &base else { return Err(no_name(t)) };
        let n = format!("{}/{}@{}", b.domain(), b.path(), t.descriptor.digest);
        let n = Reference::parse_normalized(&n).map_err(|_| no_name(t))?;
        out.push((n, t.descriptor.clone()));
    }
    Ok(out)
}

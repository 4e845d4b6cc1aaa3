//! A file source (archive, OCI layout, ocisize store) as a [`DuStore`]: per image
//! containerd's figure (the blobs `ctr images import` keeps), shared and unique by the
//! blobs more than one image of the source uses.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ocisize_digest::Digest;
use ocisize_runtime::du::DiskUsage;

use super::{DuError, DuImage, DuStore, StoreKind, Unit};
use crate::{Input, Options, Report, SourceArg};

/// An image of the report, its ID, and its blobs with their sizes.
type ImageBlobs<'a> = (&'a crate::ImageReport, &'a Digest, Vec<(Digest, u64)>);

/// Inspect `arg` and describe it as a store.
pub(super) fn store(arg: &SourceArg, options: &Options) -> Result<DuStore, DuError> {
    let report = crate::inspect(arg, options)
        .map_err(|source| DuError::Inspect { path: arg.input.to_string(), source })?;
    let path = match &arg.input {
        Input::Path(p) => p.clone(),
        Input::Stdin => PathBuf::from("-"),
    };
    let meta = std::fs::metadata(&path).ok();
    let is_file = meta.as_ref().is_some_and(|m| m.is_file());
    let kind = if is_file {
        StoreKind::Archive
    } else if path.join("ingest").is_dir() {
        StoreKind::OcisizeStore
    } else {
        StoreKind::OciLayout
    };
    let file_bytes = meta.as_ref().filter(|_| is_file).map(|m| m.len());
    Ok(from_report(&report, path, kind, file_bytes))
}

/// The store a report describes; `file_bytes` is an archive's length.
pub(super) fn from_report(
    report: &Report,
    path: PathBuf,
    kind: StoreKind,
    file_bytes: Option<u64>,
) -> DuStore {
    // Each image's blobs: its layers by digest, and the rest of containerd's figure
    // (index, manifest, config) as one blob named by the manifest (or the image ID).
    let mut per_image: Vec<ImageBlobs<'_>> = Vec::new();
    for i in &report.images {
        let Some(id) = i.image_id.as_ref() else { continue };
        let total = i.sizes.containerd.unwrap_or(0);
        let mut blobs: Vec<(Digest, u64)> =
            i.layers.iter().filter_map(|l| Some((l.digest?, l.compressed_size?))).collect();
        let layers: u64 = blobs.iter().map(|b| b.1).sum();
        let own = i.manifest_digest.unwrap_or(*id);
        blobs.push((own, total.saturating_sub(layers)));
        per_image.push((i, id, blobs));
    }
    // How many images use each blob (an image that lists a layer twice uses it once).
    let mut uses: BTreeMap<&Digest, (u64, usize)> = BTreeMap::new();
    for (_, _, blobs) in &per_image {
        let mut mine = BTreeSet::new();
        for (d, n) in blobs {
            if mine.insert(d) {
                uses.entry(d).or_insert((*n, 0)).1 += 1;
            }
        }
    }
    let shared_blob = |d: &Digest| uses.get(d).is_some_and(|(_, u)| *u > 1);
    let distinct: u64 = uses.values().map(|(n, _)| n).sum();
    let images = per_image
        .iter()
        .map(|(i, id, blobs)| {
            let size: u64 = blobs.iter().map(|b| b.1).sum();
            let shared: u64 = blobs.iter().filter(|(d, _)| shared_blob(d)).map(|b| b.1).sum();
            let unique = size.saturating_sub(shared);
            // A layout's copy holds its blobs, each once (removing it and collecting the
            // layout removes those no other image uses); an archive's copy is the file.
            let mut units: Vec<(Unit, u64)> = Vec::new();
            if file_bytes.is_none() {
                let mut mine = BTreeSet::new();
                for (d, n) in blobs {
                    if mine.insert(d) {
                        units.push((Unit::Blob(*d), *n));
                    }
                }
            }
            let own: u64 = units
                .iter()
                .filter(|(u, _)| !matches!(u, Unit::Blob(d) if shared_blob(d)))
                .map(|u| u.1)
                .sum();
            DuImage {
                names: i.names.iter().map(ToString::to_string).collect(),
                image_id: *(*id),
                size,
                unpacked_size: None,
                shared_size: shared,
                unique_size: unique,
                // Removing an archive's copy is removing the file; a layout's, its blobs no
                // other image uses.
                frees: file_bytes.unwrap_or(own),
                chain_ids: i.layers.iter().filter_map(|l| l.chain_id).collect(),
                units,
            }
        })
        .collect();
    let measured = if path.as_os_str() == "-" {
        None
    } else {
        let mut du = DiskUsage::new();
        du.add(&path).ok().map(|()| du.bytes())
    };
    DuStore {
        kind,
        driver: report.source.format.name().to_owned(),
        namespace: None,
        size: file_bytes.unwrap_or(distinct),
        disk_usage: measured,
        disk_usage_paths: if measured.is_some() { vec![path.clone()] } else { Vec::new() },
        images,
        domain: path.clone(),
        path,
    }
}

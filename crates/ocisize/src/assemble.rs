//! Report assembly: walk the source, verify every blob, and turn what was found into the
//! [`Report`]: figures for every runtime, each image's layers, artifacts, problems.

use ocisize_digest::{chain_ids, Digest};
use ocisize_layer::files::{FileList, FilesError};
use ocisize_source::verify::{self, CheckedLayer};
use ocisize_source::walk::{ArtifactNode, ImageNode};
use ocisize_source::{BlobRef, Catalog, Problem, ProblemKind, Problems, Runtime, Source};
use ocisize_spec::{ImageConfig, MediaType};

use crate::report::{
    ArtifactBlob, ArtifactReport, FileCounts, FileWaste, ImageReport, LayerReport, Report,
    SourceReport,
};
use crate::sizes::{self, Origin, SizeInputs};
use crate::waste;
use crate::Options;

struct Ctx<'a> {
    source: &'a dyn Source,
    catalog: &'a Catalog,
    problems: Problems,
    options: &'a Options,
    /// Errors offered so far, counting each time a shared blob's error comes up again (the
    /// list keeps it once, but every image that uses the blob is unverified).
    errors_seen: usize,
}

/// Walk, verify and report on an opened source.
pub(crate) fn report(source: &dyn Source, options: &Options) -> Report {
    report_with_lists(source, options).0
}

/// [`report`], and with [`Options::files`] each image's layer file lists (base first; `None`
/// where a layer's is unknown), in the order of the report's images.
pub(crate) fn report_with_lists(
    source: &dyn Source,
    options: &Options,
) -> (Report, Vec<Option<Vec<FileList>>>) {
    let graph = ocisize_source::walk(source, &options.limits);
    let catalog = source.catalog();
    if options.verify {
        catalog.prefetch(&graph.wanted(), options.parallelism);
    }
    let errors_seen = graph.problems.errors();
    let mut ctx = Ctx { source, catalog, problems: graph.problems, options, errors_seen };
    let (images, lists): (Vec<ImageReport>, Vec<_>) =
        graph.images.into_iter().map(|i| ctx.image(i)).unzip();
    let artifacts = graph.artifacts.into_iter().map(|a| ctx.artifact(a, &images)).collect();
    let report = Report {
        source: SourceReport {
            path: catalog.path().to_owned(),
            format: source.format(),
            compression: catalog.wrapper(),
        },
        images,
        artifacts,
        problems: ctx.problems.into_vec(),
    };
    (report, lists)
}

impl Ctx<'_> {
    fn push(&mut self, mut p: Problem) {
        if p.is_error() {
            self.errors_seen += 1;
        }
        p.file.get_or_insert_with(|| self.catalog.path().to_owned());
        self.problems.push(p);
    }

    fn check(
        &mut self,
        r: &BlobRef,
        what: &str,
    ) -> Option<std::sync::Arc<ocisize_source::Measured>> {
        let mut found = Problems::default();
        let m = verify::check(self.catalog, r, what, &mut found);
        for p in found.into_vec() {
            self.push(p);
        }
        m
    }

    fn config(&mut self, c: &BlobRef) -> (Option<ImageConfig>, Option<(Digest, u64)>) {
        let Some(m) = self.check(c, "config") else {
            return (None, None);
        };
        let mut found = Problems::default();
        let config = verify::config(self.catalog, c, &mut found);
        for p in found.into_vec() {
            self.push(p);
        }
        (config, Some((m.digest, m.size)))
    }

    fn image(&mut self, node: ImageNode) -> (ImageReport, Option<Vec<FileList>>) {
        let errors_before = self.errors_seen;
        let (config, config_blob) = match &node.config {
            Some(c) => self.config(c),
            None => (None, None),
        };
        let diff_ids: Option<Vec<Digest>> = config.as_ref().map(|c| c.rootfs.diff_ids.clone());
        if let Some(ids) = &diff_ids {
            if !node.broken && ids.len() != node.layers.len() {
                let member = node.config.as_ref().map(|c| c.member.clone());
                let p = Problem::error(
                    ProblemKind::LayerCountMismatch,
                    format!(
                        "config lists {} diffIDs but the image has {} layers",
                        ids.len(),
                        node.layers.len()
                    ),
                );
                self.push(match member {
                    Some(m) => p.member(m),
                    None => p,
                });
            }
        }
        let chains = diff_ids.as_deref().map(chain_ids);
        let mut layers = Vec::with_capacity(node.layers.len());
        let mut file_lists = Vec::with_capacity(node.layers.len());
        for (i, l) in node.layers.iter().enumerate() {
            let expected = diff_ids.as_ref().and_then(|v| v.get(i)).copied();
            let mut found = Problems::default();
            let checked =
                verify::check_layer(self.catalog, l, expected, self.options.verify, &mut found);
            for p in found.into_vec() {
                self.push(p);
            }
            file_lists.push(checked.facts.as_ref().and_then(|f| f.files.clone()));
            let mut report = layer_report(l, checked);
            report.chain_id = chains.as_ref().and_then(|c| c.get(i)).copied();
            layers.push(report);
        }
        let platform = node
            .platform
            .clone()
            .filter(|p| !p.os.is_empty() || !p.architecture.is_empty())
            .or_else(|| config.as_ref().map(ImageConfig::platform))
            .map(|p| p.to_string());
        let image_id = config_blob
            .map(|c| c.0)
            .or_else(|| node.config.as_ref().and_then(BlobRef::expected_digest));
        let (podman_refuses, containerd_refuses) = self.refusals(&node);
        // containers/image's docker-archive reader lists each layer by its diffID and the
        // size it measured (`docker/internal/tarfile/src.go`, `prepareLayerData`): the
        // uncompressed size of a compressed member, and the tar header's size — 0 — for a
        // member that is a link to another (`docker save parent child`).
        let podman_layers: Option<Vec<(Digest, u64)>> = node
            .legacy
            .then(|| {
                layers
                    .iter()
                    .zip(&node.layers)
                    .enumerate()
                    .map(|(i, (l, r))| {
                        let digest =
                            diff_ids.as_ref().and_then(|d| d.get(i)).copied().or(l.diff_id)?;
                        let size = if self.catalog.is_link(&r.member) {
                            Some(0)
                        } else {
                            l.uncompressed_size
                        };
                        Some((digest, size?))
                    })
                    .collect::<Option<Vec<_>>>()
            })
            .flatten();
        let inputs = SizeInputs {
            origin: if node.legacy { Origin::DockerArchive } else { Origin::Oci },
            index: node.index.as_ref().map(|d| (d.digest, d.size)),
            manifest: node.manifest.as_ref().map(|m| (m.descriptor.digest, m.descriptor.size)),
            config: config_blob,
            layers: &layers,
            podman_layers: podman_layers.as_deref(),
            podman_refuses,
            containerd_refuses,
            broken: node.broken,
        };
        let (sizes, printed, runtime_digests) = sizes::compute(&inputs);
        let familiar: Vec<String> = node.names.iter().map(|r| r.familiar()).collect();
        let (files, lists) = if self.options.files {
            self.files(file_lists, familiar.first().map_or("<none>", String::as_str))
        } else {
            (None, None)
        };
        let errors_after = self.errors_seen;
        // Without reading the layers nothing is verified, whatever the documents say.
        let read_everything =
            self.options.verify || node.layers.iter().all(|l| self.catalog.is_measured(&l.member));
        let report = ImageReport {
            names: node.names,
            familiar_names: familiar,
            ref_names: node.tags,
            image_id,
            manifest_digest: node.manifest.as_ref().map(|m| m.descriptor.digest),
            manifest_media_type: node.manifest_media_type,
            index_digest: node.index.as_ref().map(|d| d.digest),
            platform,
            layers,
            sizes,
            printed,
            runtime_digests,
            verified: errors_after == errors_before
                && !node.broken
                && !node.document_errors
                && read_everything,
            files,
        };
        (report, lists)
    }

    /// `--files`: what the layers waste on each other, and their lists (for `diff`).
    fn files(
        &mut self,
        layers: Vec<Option<Result<FileList, FilesError>>>,
        name: &str,
    ) -> (Option<FileWaste>, Option<Vec<FileList>>) {
        let figures = waste::lists(layers).and_then(|lists| match lists {
            Some(l) => waste::waste(&l, self.options.files_top).map(|w| Some((w, l))),
            None => Ok(None),
        });
        match figures {
            Ok(Some((w, l))) => (Some(w), Some(l)),
            Ok(None) => (None, None),
            Err(e) => {
                self.push(waste::unavailable(name, &e));
                (None, None)
            }
        }
    }

    /// Which runtimes refuse the image from this source (warned about where no error says
    /// so already): their figures are not given.
    fn refusals(&mut self, node: &ImageNode) -> (bool, bool) {
        let digest = node.manifest.as_ref().map(|m| m.descriptor.digest);
        for r in node.refused_by.iter().filter(|r| !r.announced) {
            let p = Problem::warning(
                ProblemKind::RuntimeRefuses,
                format!("{}; no {} figure is given", r.reason, runtime_name(r.runtime)),
            )
            .digest(digest);
            self.push(p);
        }
        let refuses = |rt: Runtime| node.refused_by.iter().any(|r| r.runtime == rt);
        self.reference_lookup_warning(node);
        (refuses(Runtime::Podman), refuses(Runtime::Containerd))
    }

    /// containers/image finds `oci:DIR:REF` only among OCI manifests and indexes
    /// (`oci/layout/oci_transport.go`, `getManifestDescriptor`): a Docker schema 2 manifest
    /// in an OCI layout is "no descriptor found" for `podman pull` and `skopeo` with a
    /// reference, while `podman load` of the layout (no reference: the only descriptor) and
    /// `ctr images import` read it.
    fn reference_lookup_warning(&mut self, node: &ImageNode) {
        let docker = matches!(node.manifest_media_type, Some(MediaType::DockerManifest))
            || node.index.as_ref().and_then(|d| d.media_type.as_ref())
                == Some(&MediaType::DockerList);
        if !(self.source.format().is_oci() && docker) {
            return;
        }
        let digest = node.manifest.as_ref().map(|m| m.descriptor.digest);
        let mut p = Problem::warning(
            ProblemKind::RuntimeRefuses,
            format!(
                "podman pull and skopeo refuse oci:{}:REF for this image: containers/image looks a reference up only among OCI manifests and indexes, and this is a Docker schema 2 manifest{} (podman load of the layout reads it, with the figure given)",
                self.catalog.path(),
                digest.map(|d| format!(" ({d})")).unwrap_or_default()
            ),
        )
        .digest(digest);
        if let Some(m) = &node.manifest {
            p = p.member(&m.member);
        }
        self.push(p);
    }

    fn artifact(&mut self, node: ArtifactNode, images: &[ImageReport]) -> ArtifactReport {
        let errors_before = self.errors_seen;
        let mut blobs = Vec::with_capacity(node.blobs.len());
        let mut total = Some(node.manifest.descriptor.size);
        for b in &node.blobs {
            // Verified by digest and size; an artifact's blobs are not layers to walk.
            let _ = self.check(b, "artifact");
            let Some(d) = &b.descriptor else { continue };
            total = total.map(|t| t.saturating_add(d.size));
            blobs.push(ArtifactBlob {
                digest: d.digest,
                media_type: d.media_type.clone(),
                size: d.size,
                path: b.member.clone(),
            });
        }
        let refers_to_image = node.refers_to.and_then(|r| {
            images
                .iter()
                .find(|i| i.manifest_digest == Some(r) || i.index_digest == Some(r))
                .and_then(|i| i.image_id)
        });
        ArtifactReport {
            names: node.names,
            ref_names: node.tags,
            manifest_digest: node.manifest.descriptor.digest,
            manifest_media_type: node.manifest.descriptor.media_type.clone(),
            artifact_type: node.artifact_type,
            subject: node.subject.map(|s| s.digest),
            refers_to: node.refers_to,
            refers_to_image,
            index_digest: node.index.map(|d| d.digest),
            platform: node.platform.map(|p| p.to_string()),
            blobs,
            size: total,
            verified: self.errors_seen == errors_before && !node.document_errors,
        }
    }
}

fn runtime_name(r: Runtime) -> &'static str {
    match r {
        Runtime::Docker => "docker",
        Runtime::Podman => "podman",
        Runtime::Containerd => "containerd",
    }
}

fn layer_report(l: &BlobRef, c: CheckedLayer) -> LayerReport {
    let tar = c.facts.as_ref().and_then(|f| f.tar.as_ref().ok());
    LayerReport {
        digest: c.digest,
        media_type: l.descriptor.as_ref().and_then(|d| d.media_type.clone()),
        compression: c.compression,
        compressed_size: c.size,
        uncompressed_size: c.uncompressed_size,
        diff_id: c.diff_id,
        chain_id: None,
        docker_vfs_size: tar.map(|t| t.docker_vfs_size),
        docker_overlay2_size: tar.map(|t| t.docker_overlay2_size),
        files: tar.map(|t| FileCounts {
            entries: t.entries,
            files: t.files,
            dirs: t.dirs,
            symlinks: t.symlinks,
            hardlinks: t.hardlinks,
            whiteouts: t.whiteouts,
            opaque_dirs: t.opaque_dirs,
            other: t.other,
            end_of_archive: t.end_of_archive,
        }),
        path: Some(l.member.clone()),
    }
}

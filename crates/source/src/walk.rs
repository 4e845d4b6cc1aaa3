//! The graph walk: from a source's roots through indexes (nested too) to manifests, and from
//! each manifest to its config and layers, recording every descriptor and who references
//! it. The walk reads and checks only documents (indexes and manifests); configs and layers
//! are for [`crate::verify`]. It builds no report: inspect, the store's gc and fsck, and du
//! all start from the same [`Graph`].

use ocisize_reference::Reference;
use ocisize_spec::{
    annotation, parse_manifest_document_with, Descriptor, DocumentKind, ImageManifest,
    ManifestDocument, Platform, SpecError,
};

pub use crate::graph::{AbsentManifest, ArtifactNode, BlobUse, Graph, ImageNode, ManifestRef};
use crate::model::{BlobRef, Role, RootTarget, Source};
use crate::{Limits, Problem, ProblemKind, Problems, Selection};

/// The kind of a document that could not be used.
pub fn spec_error_kind(e: &SpecError) -> ProblemKind {
    match e {
        SpecError::TooLarge { .. } => ProblemKind::LimitExceeded,
        SpecError::Json { .. } => ProblemKind::InvalidDocument,
        _ => ProblemKind::UnsupportedSchema,
    }
}

#[derive(Clone)]
struct Base {
    /// A document on the way here failed a check.
    flawed: bool,
    refused_by: Vec<crate::Refusal>,
    origin: String,
    names: Vec<Reference>,
    tags: Vec<String>,
    platform: Option<Platform>,
}

struct Walker<'a> {
    source: &'a dyn Source,
    limits: &'a Limits,
    g: Graph,
}

/// Walk a source from its roots.
pub fn walk(source: &dyn Source, limits: &Limits) -> Graph {
    let catalog = source.catalog();
    let roots = source.roots(limits);
    let mut w = Walker { source, limits, g: Graph::default() };
    for p in catalog.notices().iter().cloned().chain(roots.problems) {
        w.push(p);
    }
    for root in &roots.roots {
        let base = Base {
            flawed: false,
            refused_by: root.refused_by.clone(),
            origin: root.origin.clone(),
            names: root.names.clone(),
            tags: root.tags.clone(),
            platform: None,
        };
        match &root.target {
            RootTarget::Descriptor(d) => w.visit(d, base, 0, None),
            RootTarget::Document { member } => w.visit_document(member, base),
            RootTarget::Legacy { config, layers } => w.g.images.push(ImageNode {
                refused_by: base.refused_by,
                origin: base.origin,
                names: base.names,
                tags: base.tags,
                legacy: true,
                config: Some(config.clone()),
                layers: layers.clone(),
                ..ImageNode::default()
            }),
        }
    }
    for (config, names) in &roots.names_by_config {
        for img in &mut w.g.images {
            let same = img.config.as_ref().and_then(|c| c.descriptor.as_ref()).map(|d| d.digest);
            if same == Some(*config) {
                for n in names {
                    crate::formats::oci::push_unique(&mut img.names, n.clone());
                }
            }
        }
    }
    w.select();
    w.enforce_limits();
    if w.g.images.is_empty() && w.g.artifacts.is_empty() && w.g.problems.errors() == 0 {
        let msg = format!("{} holds no image", catalog.path());
        w.push(Problem::error(ProblemKind::NoImage, msg));
    }
    w.g
}

impl Walker<'_> {
    fn push(&mut self, mut p: Problem) {
        p.file.get_or_insert_with(|| self.source.catalog().path().to_owned());
        self.g.problems.push(p);
    }

    fn record(&mut self, d: &Descriptor, member: &str, role: Role, parent: Option<&Descriptor>) {
        let entry = self.g.blobs.entry(d.digest).or_insert_with(|| BlobUse {
            descriptor: d.clone(),
            member: member.to_owned(),
            role,
            referenced_by: Vec::new(),
        });
        if let Some(p) = parent {
            if !entry.referenced_by.contains(&p.digest) {
                entry.referenced_by.push(p.digest);
            }
        }
    }

    fn visit(&mut self, d: &Descriptor, mut base: Base, depth: u32, parent: Option<&Descriptor>) {
        if let Some(mt) = &d.media_type {
            // image-spec image-index.md: "implementations MUST ignore" descriptors of unknown
            // media types when resolving an image.
            if !(mt.is_index() || mt.is_manifest()) {
                return;
            }
        }
        if depth > self.limits.max_depth {
            let msg = format!("indexes nest deeper than {} levels", self.limits.max_depth);
            self.push(Problem::error(ProblemKind::LimitExceeded, msg).digest(Some(d.digest)));
            return;
        }
        let role = Role::Manifest { depth };
        let member = self.source.member_for(d, role);
        self.record(d, &member, role, parent);
        base.platform = d.platform.clone().or(base.platform);
        let catalog = self.source.catalog();
        if let Some(index) = parent.filter(|_| !catalog.contains(&member)) {
            if catalog.refused(&member).is_none() {
                let platform = d.platform.as_ref().map_or("no platform".into(), |p| p.to_string());
                let msg = format!(
                    "manifest {} ({platform}) listed by index {} is not present; the image-layout spec allows a layout to omit it, and only the platforms present are reported",
                    d.digest, index.digest
                );
                self.push(
                    Problem::warning(ProblemKind::PlatformAbsent, msg)
                        .member(member)
                        .digest(Some(d.digest)),
                );
                self.g.absent.push(AbsentManifest { descriptor: d.clone(), index: index.digest });
                return;
            }
        }
        let r = BlobRef { member: member.clone(), descriptor: Some(d.clone()), named_digest: None };
        let mut problems = Problems::default();
        let _ = crate::verify::check(catalog, &r, "manifest", &mut problems);
        let doc = self.document(&r, &mut problems);
        base.flawed |= problems.errors() > 0;
        for p in problems.into_vec() {
            self.push(p);
        }
        let mref = ManifestRef { descriptor: d.clone(), member };
        self.visit_parsed(mref, doc, base, depth, parent);
    }

    /// A root document whose descriptor is made from its own bytes.
    fn visit_document(&mut self, member: &str, mut base: Base) {
        let r = BlobRef { member: member.to_owned(), descriptor: None, named_digest: None };
        let mut problems = Problems::default();
        let measured = crate::verify::check(self.source.catalog(), &r, "manifest", &mut problems);
        let doc = measured.as_ref().and_then(|_| self.document(&r, &mut problems));
        base.flawed |= problems.errors() > 0;
        for p in problems.into_vec() {
            self.push(p);
        }
        let Some(m) = measured else {
            return;
        };
        let media_type = match &doc {
            Some(ManifestDocument::Image(im)) => im.media_type.clone(),
            Some(ManifestDocument::Index(ix)) => ix.media_type.clone(),
            None => None,
        };
        let d = Descriptor::new(media_type, m.digest, m.size);
        self.record(&d, member, Role::Manifest { depth: 0 }, None);
        let mref = ManifestRef { descriptor: d, member: member.to_owned() };
        self.visit_parsed(mref, doc, base, 0, None);
    }

    fn document(&self, r: &BlobRef, problems: &mut Problems) -> Option<ManifestDocument> {
        let catalog = self.source.catalog();
        let digest = r.expected_digest();
        let bytes = match catalog.document(&r.member, DocumentKind::Manifest) {
            Ok(b) => b,
            Err(e) => {
                // A missing blob was reported by `check` already.
                if !matches!(e, crate::MemberError::Missing { .. }) {
                    problems.push(
                        Problem::error(e.kind(), e.to_string()).member(&r.member).digest(digest),
                    );
                }
                return None;
            }
        };
        match parse_manifest_document_with(&bytes, &self.limits.json) {
            Ok(doc) => Some(doc),
            Err(e) => {
                problems.push(
                    Problem::error(spec_error_kind(&e), format!("{}: {e}", r.member))
                        .member(&r.member)
                        .digest(digest),
                );
                None
            }
        }
    }

    fn visit_parsed(
        &mut self,
        mref: ManifestRef,
        doc: Option<ManifestDocument>,
        base: Base,
        depth: u32,
        parent: Option<&Descriptor>,
    ) {
        let d = mref.descriptor.clone();
        match doc {
            Some(ManifestDocument::Index(idx)) => {
                if depth > 0 && !self.source.nested_indexes() {
                    let msg = format!(
                        "a manifest list inside a manifest list is not supported by {} sources",
                        self.source.format()
                    );
                    self.push(
                        Problem::error(ProblemKind::UnsupportedSchema, msg)
                            .member(&mref.member)
                            .digest(Some(d.digest)),
                    );
                    self.broken(mref, base, parent);
                    return;
                }
                if let Some(s) = &idx.subject {
                    self.record(
                        s,
                        &self.source.member_for(s, Role::Subject),
                        Role::Subject,
                        Some(&d),
                    );
                }
                for child in &idx.manifests {
                    self.visit(child, base.clone(), depth + 1, Some(&d));
                }
            }
            Some(ManifestDocument::Image(m)) => {
                if m.is_artifact() || is_buildx_attestation(&d) {
                    self.artifact(mref, &m, base, parent);
                } else {
                    self.image(mref, &m, base, parent);
                }
            }
            None => self.broken(mref, base, parent),
        }
    }

    fn blob_refs(&mut self, m: &ImageManifest, owner: &Descriptor) -> (BlobRef, Vec<BlobRef>) {
        let mut locate = |d: &Descriptor, role: Role| {
            let member = self.source.member_for(d, role);
            self.record(d, &member, role, Some(owner));
            BlobRef { member, descriptor: Some(d.clone()), named_digest: None }
        };
        let config = locate(&m.config, Role::Config);
        let layers = m.layers.iter().map(|l| locate(l, Role::Layer)).collect();
        if let Some(s) = &m.subject {
            let _ = locate(s, Role::Subject);
        }
        (config, layers)
    }

    fn image(
        &mut self,
        mref: ManifestRef,
        m: &ImageManifest,
        base: Base,
        parent: Option<&Descriptor>,
    ) {
        let (config, layers) = self.blob_refs(m, &mref.descriptor);
        let media_type = m.media_type.clone().or_else(|| mref.descriptor.media_type.clone());
        self.g.images.push(ImageNode {
            origin: base.origin,
            names: base.names,
            tags: base.tags,
            legacy: false,
            index: parent.cloned(),
            manifest: Some(mref),
            manifest_media_type: media_type,
            platform: base.platform,
            config: Some(config),
            layers,
            broken: false,
            document_errors: base.flawed,
            refused_by: base.refused_by,
        });
    }

    fn artifact(
        &mut self,
        mref: ManifestRef,
        m: &ImageManifest,
        base: Base,
        parent: Option<&Descriptor>,
    ) {
        let (config, layers) = self.blob_refs(m, &mref.descriptor);
        let refers_to = m.subject.as_ref().map(|s| s.digest).or_else(|| {
            mref.descriptor.annotation(annotation::DOCKER_REFERENCE_DIGEST)?.parse().ok()
        });
        let mut blobs = vec![config];
        blobs.extend(layers);
        self.g.artifacts.push(ArtifactNode {
            origin: base.origin,
            names: base.names,
            tags: base.tags,
            index: parent.cloned(),
            artifact_type: m.artifact_type().cloned(),
            subject: m.subject.clone(),
            refers_to,
            platform: base.platform,
            manifest: mref,
            blobs,
            document_errors: base.flawed,
        });
    }

    fn broken(&mut self, mref: ManifestRef, base: Base, parent: Option<&Descriptor>) {
        let media_type = mref.descriptor.media_type.clone();
        self.g.images.push(ImageNode {
            origin: base.origin,
            names: base.names,
            tags: base.tags,
            index: parent.cloned(),
            manifest: Some(mref),
            manifest_media_type: media_type,
            platform: base.platform,
            broken: true,
            document_errors: base.flawed,
            refused_by: base.refused_by,
            ..ImageNode::default()
        });
    }

    /// Keep only what the source argument selects.
    fn select(&mut self) {
        let Some(Selection::Name { raw, reference }) = self.source.selection() else {
            return;
        };
        let wanted = reference.clone().map(Reference::with_default_tag);
        let keep = |names: &[Reference], tags: &[String]| {
            tags.iter().any(|t| t == raw) || wanted.as_ref().is_some_and(|w| names.contains(w))
        };
        let before = self.g.images.len() + self.g.artifacts.len();
        self.g.images.retain(|i| keep(&i.names, &i.tags));
        self.g.artifacts.retain(|a| keep(&a.names, &a.tags));
        if before > 0 && self.g.images.is_empty() && self.g.artifacts.is_empty() {
            let msg =
                format!("no image in {} matches reference {raw:?}", self.source.catalog().path());
            self.push(Problem::error(ProblemKind::NoImage, msg));
        }
    }

    fn enforce_limits(&mut self) {
        let (max_images, max_layers) = (self.limits.max_images, self.limits.max_layers);
        let total = self.g.images.len() + self.g.artifacts.len();
        if total > max_images {
            let msg = format!(
                "{} holds {total} images, more than the limit of {max_images}; the rest are not reported",
                self.source.catalog().path()
            );
            self.push(Problem::error(ProblemKind::LimitExceeded, msg));
            self.g.images.truncate(max_images);
            self.g.artifacts.truncate(max_images.saturating_sub(self.g.images.len()));
        }
        let mut over = Vec::new();
        for img in &mut self.g.images {
            if img.layers.len() > max_layers {
                let m = img.manifest.as_ref();
                let p = Problem::error(
                    ProblemKind::LimitExceeded,
                    format!(
                        "image has {} layers, more than the limit of {max_layers}; its layers are not read",
                        img.layers.len()
                    ),
                )
                .digest(m.map(|m| m.descriptor.digest));
                over.push(match m {
                    Some(m) => p.member(&m.member),
                    None => p,
                });
                img.layers.clear();
                img.broken = true;
            }
        }
        for p in over {
            self.push(p);
        }
    }
}

/// Buildx attestation manifests sit in an index beside the images, with platform
/// `unknown/unknown` and `vnd.docker.reference.type: attestation-manifest` (BuildKit
/// `exporter/containerimage/attestations.go`).
fn is_buildx_attestation(d: &Descriptor) -> bool {
    d.annotation(annotation::DOCKER_REFERENCE_TYPE) == Some("attestation-manifest")
}

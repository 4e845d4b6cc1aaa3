//! From a catalog of members to verified image reports.
//!
//! Resolution follows the documents: `index.json` (and nested indexes) for OCI layouts and
//! archives, `manifest.json` for docker-archives, `manifest.json` (image or list) for `dir:`.
//! Every blob is then checked against what references it: size and digest against the
//! descriptor, the decompressed digest against the config's diffID.

use std::sync::Arc;

use ocisize_digest::{chain_ids, Digest};
use ocisize_layer::{Compression, LayerFacts};
use ocisize_reference::Reference;
use ocisize_source::{Catalog, Format, Measured, MemberError};
use ocisize_spec::{
    annotation, media_type, parse_docker_manifest, parse_json, parse_layout_index,
    parse_manifest_document_with, Descriptor, DocumentKind, ImageConfig, ImageIndex, ImageManifest,
    ManifestDocument, Platform,
};

use crate::report::{
    FileCounts, ImageReport, LayerReport, Problem, Report, Severity, SourceReport,
};
use crate::sizes::{self, Origin, SizeInputs};
use crate::Options;

/// Where a blob is expected, and what its referrer says about it.
#[derive(Clone, Debug)]
struct BlobRef {
    member: String,
    descriptor: Option<Descriptor>,
    /// For docker-archive members named after their digest (`<hex>.json`, `sha256:<hex>`,
    /// `blobs/sha256/<hex>`), the digest the name promises.
    named_digest: Option<Digest>,
}

/// One image to report: a manifest (or docker-archive entry) and its blobs.
#[derive(Clone, Debug, Default)]
struct Plan {
    origin: Option<Origin>,
    names: Vec<String>,
    ref_names: Vec<String>,
    manifest: Option<(Descriptor, String)>,
    manifest_media_type: Option<String>,
    index: Option<Descriptor>,
    platform: Option<Platform>,
    config: Option<BlobRef>,
    layers: Vec<BlobRef>,
    /// The manifest blob could not be read or parsed; nothing below it is known.
    broken: bool,
}

struct Ctx<'a> {
    catalog: &'a Catalog,
    problems: Vec<Problem>,
    /// Read and verify layer blobs (false: `--no-verify`, metadata only).
    verify: bool,
}

impl Ctx<'_> {
    fn push(
        &mut self,
        severity: Severity,
        member: Option<&str>,
        digest: Option<Digest>,
        msg: String,
    ) {
        self.problems.push(Problem {
            severity,
            file: Some(self.catalog.path().to_owned()),
            member: member.map(str::to_owned),
            digest,
            message: msg,
        });
    }

    fn error(&mut self, member: Option<&str>, digest: Option<Digest>, msg: String) {
        self.push(Severity::Error, member, digest, msg);
    }

    fn warn(&mut self, member: Option<&str>, digest: Option<Digest>, msg: String) {
        self.push(Severity::Warning, member, digest, msg);
    }

    fn member_error(&mut self, e: &MemberError, digest: Option<Digest>) {
        let member = match e {
            MemberError::Missing { member, .. }
            | MemberError::TooLarge { member, .. }
            | MemberError::NotJson { member, .. }
            | MemberError::LinkLoop { member, .. } => Some(member.clone()),
            MemberError::Io { path, .. } => Some(path.clone()),
            _ => None,
        };
        self.error(member.as_deref(), digest, e.to_string());
    }

    /// Measure a blob and check it against its descriptor. Returns the measurement even when
    /// it does not match (the report still shows what is there).
    fn blob(&mut self, r: &BlobRef, what: &str) -> Option<Arc<Measured>> {
        let expected = r.descriptor.as_ref().map(|d| d.digest).or(r.named_digest);
        let m = match self.catalog.measured(&r.member) {
            Ok(m) => m,
            Err(e) => {
                self.member_error(&e, expected);
                return None;
            }
        };
        if let Some(d) = &r.descriptor {
            if d.size != m.size {
                self.error(
                    Some(&r.member),
                    Some(d.digest),
                    format!(
                        "size mismatch for {what} blob {}: expected {} bytes, found {}",
                        d.digest, d.size, m.size
                    ),
                );
            }
        }
        if let Some(exp) = expected {
            if exp.algorithm() != m.digest.algorithm() {
                self.error(
                    Some(&r.member),
                    Some(exp),
                    format!(
                        "{what} blob {exp} is stored where {} digests are expected; it cannot be verified",
                        m.digest.algorithm()
                    ),
                );
            } else if exp != m.digest {
                self.error(
                    Some(&r.member),
                    Some(exp),
                    format!("digest mismatch for {what} blob {exp}: found {}", m.digest),
                );
            }
        }
        Some(m)
    }

    /// The JSON bytes of a measured blob.
    fn json(&mut self, r: &BlobRef, kind: DocumentKind) -> Option<Arc<[u8]>> {
        match self.catalog.document(&r.member, kind) {
            Ok(b) => Some(b),
            Err(e) => {
                let d = r.descriptor.as_ref().map(|d| d.digest).or(r.named_digest);
                // A missing blob was reported by `blob` already.
                if !matches!(e, MemberError::Missing { .. }) {
                    self.member_error(&e, d);
                }
                None
            }
        }
    }
}

pub(crate) fn report(catalog: &Catalog, options: &Options) -> Report {
    let mut ctx = Ctx { catalog, problems: Vec::new(), verify: options.verify };
    for n in catalog.notices() {
        let sev = if n.error { Severity::Error } else { Severity::Warning };
        ctx.push(sev, n.member.as_deref(), None, n.message.clone());
    }
    let mut plans = match catalog.format() {
        Format::OciLayout | Format::OciArchive => oci_plans(&mut ctx),
        Format::DockerArchive if catalog.contains("index.json") => {
            // docker >= 25: an OCI layout plus manifest.json; the index has the digests.
            let mut p = oci_plans(&mut ctx);
            add_docker_names(&mut ctx, &mut p);
            p
        }
        Format::DockerArchive => docker_plans(&mut ctx),
        Format::Dir => dir_plans(&mut ctx),
    };
    if catalog.format() == Format::OciArchive && catalog.contains("manifest.json") {
        add_docker_names(&mut ctx, &mut plans);
    }
    if let Some(r) = catalog.reference() {
        let before = plans.len();
        plans.retain(|p| matches_reference(p, r));
        if plans.is_empty() && before > 0 {
            ctx.error(
                None,
                None,
                format!("no image in {} matches reference {r:?}", catalog.path()),
            );
        }
    }
    if plans.len() > options.max_images {
        ctx.error(
            None,
            None,
            format!(
                "{} holds {} images, more than the limit of {}; the rest are not reported",
                catalog.path(),
                plans.len(),
                options.max_images
            ),
        );
        plans.truncate(options.max_images);
    }
    for p in &mut plans {
        if p.layers.len() > options.max_layers {
            let digest = p.manifest.as_ref().map(|(d, _)| d.digest);
            let member = p.manifest.as_ref().map(|(_, m)| m.clone());
            ctx.error(
                member.as_deref(),
                digest,
                format!(
                    "image has {} layers, more than the limit of {}; its layers are not read",
                    p.layers.len(),
                    options.max_layers
                ),
            );
            p.layers.clear();
            p.broken = true;
        }
    }
    if plans.is_empty() && ctx.problems.iter().all(|p| p.severity != Severity::Error) {
        ctx.error(None, None, format!("{} holds no image", catalog.path()));
    }
    // Read layout blobs in parallel; archives were measured while streaming.
    let wanted: Vec<String> = plans
        .iter()
        .flat_map(|p| p.layers.iter().chain(p.config.iter()).map(|b| b.member.clone()))
        .collect();
    if options.verify {
        catalog.prefetch(&wanted, options.jobs);
    }
    let images = plans.into_iter().map(|p| image_report(&mut ctx, p)).collect();
    Report {
        source: SourceReport {
            path: catalog.path().to_owned(),
            format: catalog.format().name().to_owned(),
            compression: catalog.wrapper().name().to_owned(),
        },
        images,
        problems: ctx.problems,
    }
}

fn matches_reference(p: &Plan, r: &str) -> bool {
    if p.ref_names.iter().any(|t| t == r) {
        return true;
    }
    let Ok(want) = Reference::parse_normalized(r) else {
        return false;
    };
    let want = want.with_default_tag().normalized();
    p.names.contains(&want)
}

/// Names from the annotations of an `index.json` entry: full names go to `names`, bare tags
/// to `ref_names`.
fn names_from_annotations(d: &Descriptor, plan: &mut Plan) {
    if let Some(n) = d.annotation(annotation::CONTAINERD_IMAGE_NAME) {
        push_name(&mut plan.names, n);
    }
    if let Some(n) = d.annotation(annotation::REF_NAME) {
        match ocisize_reference::from_oci_ref_name(n) {
            Some(r) => push_unique(&mut plan.names, r.with_default_tag().normalized()),
            None => push_unique(&mut plan.ref_names, n.to_owned()),
        }
    }
}

fn push_name(names: &mut Vec<String>, n: &str) {
    if let Ok(r) = Reference::parse_normalized(n) {
        push_unique(names, r.with_default_tag().normalized());
    }
}

fn push_unique(v: &mut Vec<String>, s: String) {
    if !v.contains(&s) {
        v.push(s);
    }
}

fn blob_ref(d: &Descriptor) -> BlobRef {
    BlobRef {
        member: Catalog::blob_path(&d.digest),
        descriptor: Some(d.clone()),
        named_digest: None,
    }
}

fn oci_plans(ctx: &mut Ctx<'_>) -> Vec<Plan> {
    let bytes = match ctx.catalog.document("index.json", DocumentKind::Index) {
        Ok(b) => b,
        Err(e) => {
            ctx.member_error(&e, None);
            return Vec::new();
        }
    };
    let index = match parse_layout_index(&bytes, &Default::default()) {
        Ok(i) => i,
        Err(e) => {
            ctx.error(Some("index.json"), None, e.to_string());
            return Vec::new();
        }
    };
    let mut plans = Vec::new();
    for d in &index.manifests {
        let mut base = Plan { origin: Some(Origin::Oci), ..Plan::default() };
        names_from_annotations(d, &mut base);
        walk(ctx, d, base, None, 0, &mut plans);
    }
    plans
}

/// Follow one descriptor of an index down to image manifests.
fn walk(
    ctx: &mut Ctx<'_>,
    d: &Descriptor,
    mut base: Plan,
    parent: Option<&Descriptor>,
    depth: u32,
    out: &mut Vec<Plan>,
) {
    const MAX_DEPTH: u32 = 8;
    let mt = d.media_type.as_str();
    let known = mt.is_empty() || media_type::is_index(mt) || media_type::is_manifest(mt);
    if !known {
        // image-spec image-index.md: "implementations MUST ignore" descriptors of unknown
        // media types when resolving an image.
        return;
    }
    if is_attestation(d) {
        return;
    }
    if depth > MAX_DEPTH {
        ctx.error(None, Some(d.digest), format!("indexes nest deeper than {MAX_DEPTH} levels"));
        return;
    }
    let r = blob_ref(d);
    base.platform = d.platform.clone().or(base.platform);
    if parent.is_some() {
        base.index = parent.cloned();
    }
    let _ = ctx.blob(&r, "manifest");
    let doc =
        ctx.json(&r, DocumentKind::Manifest).and_then(|b| {
            match parse_manifest_document_with(&b, &Default::default()) {
                Ok(doc) => Some(doc),
                Err(e) => {
                    ctx.error(Some(&r.member), Some(d.digest), e.to_string());
                    None
                }
            }
        });
    match doc {
        Some(ManifestDocument::Index(idx)) => {
            base.index = Some(d.clone());
            for child in &idx.manifests {
                walk(ctx, child, base.clone(), Some(d), depth + 1, out);
            }
        }
        Some(ManifestDocument::Image(m)) => {
            out.push(plan_from_manifest(base, d.clone(), r.member, &m, blob_ref));
        }
        None => {
            base.manifest = Some((d.clone(), r.member));
            base.manifest_media_type = Some(d.media_type.clone()).filter(|s| !s.is_empty());
            base.broken = true;
            out.push(base);
        }
    }
}

/// Buildx attestation manifests sit in the index beside the images with platform
/// `unknown/unknown`; they are not images.
fn is_attestation(d: &Descriptor) -> bool {
    d.annotation("vnd.docker.reference.type") == Some("attestation-manifest")
}

fn plan_from_manifest(
    mut base: Plan,
    desc: Descriptor,
    member: String,
    m: &ImageManifest,
    locate: impl Fn(&Descriptor) -> BlobRef,
) -> Plan {
    base.manifest_media_type = m.media_type.clone().or_else(|| Some(desc.media_type.clone()));
    base.manifest = Some((desc, member));
    base.config = Some(locate(&m.config));
    base.layers = m.layers.iter().map(locate).collect();
    base
}

/// The digest a docker-archive member's name promises.
fn digest_from_name(name: &str) -> Option<Digest> {
    let stem = name.strip_prefix("blobs/sha256/").unwrap_or(name);
    let stem = stem.strip_prefix("sha256:").unwrap_or(stem);
    let stem = stem.strip_suffix(".json").unwrap_or(stem);
    let stem = stem.strip_suffix(".tar").unwrap_or(stem);
    Digest::from_hex(ocisize_digest::Algorithm::Sha256, stem).ok()
}

fn docker_entries(ctx: &mut Ctx<'_>) -> Vec<ocisize_spec::DockerSaveEntry> {
    let bytes = match ctx.catalog.document("manifest.json", DocumentKind::DockerManifest) {
        Ok(b) => b,
        Err(e) => {
            ctx.member_error(&e, None);
            return Vec::new();
        }
    };
    match parse_docker_manifest(&bytes, &Default::default()) {
        Ok(v) => v,
        Err(e) => {
            ctx.error(Some("manifest.json"), None, e.to_string());
            Vec::new()
        }
    }
}

fn docker_plans(ctx: &mut Ctx<'_>) -> Vec<Plan> {
    let entries = docker_entries(ctx);
    entries
        .iter()
        .map(|e| {
            let mut p = Plan { origin: Some(Origin::DockerArchive), ..Plan::default() };
            for t in e.repo_tags.iter().flatten() {
                push_name(&mut p.names, t);
            }
            let config = ocisize_source::normalize(&e.config).unwrap_or_else(|| e.config.clone());
            p.config = Some(BlobRef {
                named_digest: digest_from_name(&config),
                member: config,
                descriptor: None,
            });
            p.layers = e
                .layers
                .iter()
                .map(|l| BlobRef {
                    member: ocisize_source::normalize(l).unwrap_or_else(|| l.clone()),
                    descriptor: None,
                    named_digest: None,
                })
                .collect();
            p
        })
        .collect()
}

/// Attach a docker `manifest.json`'s RepoTags to the OCI plans with the same config.
fn add_docker_names(ctx: &mut Ctx<'_>, plans: &mut [Plan]) {
    for e in docker_entries(ctx) {
        let config = ocisize_source::normalize(&e.config).unwrap_or_else(|| e.config.clone());
        let Some(cd) = digest_from_name(&config) else {
            continue;
        };
        for p in plans.iter_mut() {
            let same = p.config.as_ref().and_then(|c| c.descriptor.as_ref()).map(|d| d.digest);
            if same == Some(cd) {
                for t in e.repo_tags.iter().flatten() {
                    push_name(&mut p.names, t);
                }
            }
        }
    }
}

fn dir_blob(d: &Descriptor) -> BlobRef {
    // containers/image dir: names blobs by the encoded digest alone.
    BlobRef { member: d.digest.hex(), descriptor: Some(d.clone()), named_digest: None }
}

fn dir_plans(ctx: &mut Ctx<'_>) -> Vec<Plan> {
    let top = BlobRef { member: "manifest.json".into(), descriptor: None, named_digest: None };
    let Some(measured) = ctx.blob(&top, "manifest") else {
        return Vec::new();
    };
    let Some(bytes) = ctx.json(&top, DocumentKind::Manifest) else {
        return Vec::new();
    };
    let doc = match parse_manifest_document_with(&bytes, &Default::default()) {
        Ok(d) => d,
        Err(e) => {
            ctx.error(Some("manifest.json"), None, e.to_string());
            return Vec::new();
        }
    };
    let top_desc = Descriptor {
        media_type: String::new(),
        digest: measured.digest,
        size: measured.size,
        urls: vec![],
        annotations: Default::default(),
        platform: None,
        artifact_type: None,
    };
    let base = Plan { origin: Some(Origin::Oci), ..Plan::default() };
    match doc {
        ManifestDocument::Image(m) => {
            let mut d = top_desc;
            d.media_type = m.media_type.clone().unwrap_or_default();
            vec![plan_from_manifest(base, d, "manifest.json".into(), &m, dir_blob)]
        }
        ManifestDocument::Index(list) => dir_list(ctx, base, top_desc, &list),
    }
}

fn dir_list(ctx: &mut Ctx<'_>, base: Plan, mut top: Descriptor, list: &ImageIndex) -> Vec<Plan> {
    top.media_type = list.media_type.clone().unwrap_or_default();
    let mut out = Vec::new();
    for d in &list.manifests {
        if !(d.media_type.is_empty() || media_type::is_manifest(&d.media_type)) {
            continue;
        }
        // Instances of a list are stored as `<hex>.manifest.json`.
        let r = BlobRef {
            member: format!("{}.manifest.json", d.digest.hex()),
            descriptor: Some(d.clone()),
            named_digest: None,
        };
        let mut p = base.clone();
        p.index = Some(top.clone());
        p.platform = d.platform.clone();
        let _ = ctx.blob(&r, "manifest");
        let parsed = ctx.json(&r, DocumentKind::Manifest).and_then(|b| {
            match parse_manifest_document_with(&b, &Default::default()) {
                Ok(ManifestDocument::Image(m)) => Some(m),
                Ok(ManifestDocument::Index(_)) => {
                    ctx.error(
                        Some(&r.member),
                        Some(d.digest),
                        "a manifest list inside a manifest list is not supported by dir: layouts"
                            .into(),
                    );
                    None
                }
                Err(e) => {
                    ctx.error(Some(&r.member), Some(d.digest), e.to_string());
                    None
                }
            }
        });
        match parsed {
            Some(m) => out.push(plan_from_manifest(p, d.clone(), r.member, &m, dir_blob)),
            None => {
                p.manifest = Some((d.clone(), r.member));
                p.broken = true;
                out.push(p);
            }
        }
    }
    out
}

fn image_report(ctx: &mut Ctx<'_>, plan: Plan) -> ImageReport {
    let errors_before = ctx.problems.iter().filter(|p| p.severity == Severity::Error).count();
    let mut config: Option<ImageConfig> = None;
    let mut config_measured = None;
    if let Some(c) = &plan.config {
        config_measured = ctx.blob(c, "config");
        if config_measured.is_some() {
            if let Some(bytes) = ctx.json(c, DocumentKind::Config) {
                match parse_json::<ImageConfig>(&bytes, DocumentKind::Config, &Default::default()) {
                    Ok(cfg) => config = Some(cfg),
                    Err(e) => ctx.error(
                        Some(&c.member),
                        c.descriptor.as_ref().map(|d| d.digest).or(c.named_digest),
                        e.to_string(),
                    ),
                }
            }
        }
    }
    let diff_ids: Option<Vec<Digest>> = config.as_ref().map(|c| c.rootfs.diff_ids.clone());
    if let Some(ids) = &diff_ids {
        if !plan.broken && ids.len() != plan.layers.len() {
            let member = plan.config.as_ref().map(|c| c.member.clone());
            ctx.error(
                member.as_deref(),
                None,
                format!(
                    "config lists {} diffIDs but the image has {} layers",
                    ids.len(),
                    plan.layers.len()
                ),
            );
        }
    }
    let chains = diff_ids.as_deref().map(chain_ids);
    let mut layers = Vec::with_capacity(plan.layers.len());
    let mut facts: Vec<Option<LayerFacts>> = Vec::with_capacity(plan.layers.len());
    for (i, l) in plan.layers.iter().enumerate() {
        let expected_diff = diff_ids.as_ref().and_then(|v| v.get(i)).copied();
        let (report, f) = layer_report(ctx, l, expected_diff);
        let mut report = report;
        report.chain_id = chains.as_ref().and_then(|c| c.get(i)).copied();
        layers.push(report);
        facts.push(f);
    }
    let platform = plan
        .platform
        .clone()
        .filter(|p| !p.os.is_empty() || !p.architecture.is_empty())
        .or_else(|| config.as_ref().map(ImageConfig::platform))
        .map(|p| p.to_string());
    let image_id = config_measured
        .as_ref()
        .map(|m| m.digest)
        .or_else(|| plan.config.as_ref().and_then(|c| c.descriptor.as_ref().map(|d| d.digest)))
        .or_else(|| plan.config.as_ref().and_then(|c| c.named_digest));
    let inputs = SizeInputs {
        origin: plan.origin.unwrap_or(Origin::Oci),
        index: plan.index.as_ref().map(|d| (d.digest, d.size)),
        manifest: plan.manifest.as_ref().map(|(d, _)| (d.digest, d.size)),
        config: config_measured.as_ref().map(|m| (m.digest, m.size)),
        layers: &layers,
        broken: plan.broken,
    };
    let (sizes, printed, runtime_digests) = sizes::compute(&inputs);
    let familiar = plan
        .names
        .iter()
        .filter_map(|n| Reference::parse_normalized(n).ok().map(|r| r.familiar()))
        .collect();
    let errors_after = ctx.problems.iter().filter(|p| p.severity == Severity::Error).count();
    // Without reading the layers nothing is verified, whatever the documents say.
    let read_everything =
        ctx.verify || plan.layers.iter().all(|l| ctx.catalog.is_measured(&l.member));
    ImageReport {
        names: plan.names,
        familiar_names: familiar,
        ref_names: plan.ref_names,
        image_id,
        manifest_digest: plan.manifest.as_ref().map(|(d, _)| d.digest),
        manifest_media_type: plan.manifest_media_type.filter(|s| !s.is_empty()),
        index_digest: plan.index.as_ref().map(|d| d.digest),
        platform,
        layers,
        sizes,
        printed,
        runtime_digests,
        verified: errors_after == errors_before && !plan.broken && read_everything,
    }
}

fn layer_report(
    ctx: &mut Ctx<'_>,
    l: &BlobRef,
    expected_diff: Option<Digest>,
) -> (LayerReport, Option<LayerFacts>) {
    let mut r = LayerReport {
        digest: l.descriptor.as_ref().map(|d| d.digest),
        media_type: l.descriptor.as_ref().map(|d| d.media_type.clone()),
        compression: None,
        compressed_size: None,
        uncompressed_size: None,
        diff_id: None,
        chain_id: None,
        docker_vfs_size: None,
        docker_overlay2_size: None,
        files: None,
        path: Some(l.member.clone()),
    };
    if !ctx.verify && !ctx.catalog.is_measured(&l.member) {
        // Metadata only: what the documents and the archive's own index say, no layer bytes.
        match ctx.catalog.size_of(&l.member) {
            Ok(size) => {
                r.compressed_size = Some(size);
                r.compression = ctx.catalog.peek(&l.member, 4).ok().map(|h| Compression::sniff(&h));
                r.diff_id = expected_diff;
                if r.compression == Some(Compression::None) {
                    // A plain layer is its own uncompressed tar, and (in a docker-archive,
                    // which has no descriptors) its digest is its diffID.
                    r.uncompressed_size = Some(size);
                    r.digest = r.digest.or(expected_diff);
                }
                if let Some(d) = l.descriptor.as_ref().filter(|d| d.size != size) {
                    ctx.error(
                        Some(&l.member),
                        Some(d.digest),
                        format!(
                            "size mismatch for layer blob {}: expected {} bytes, found {size}",
                            d.digest, d.size
                        ),
                    );
                }
            }
            Err(e) => ctx.member_error(&e, r.digest),
        }
        return (r, None);
    }
    let Some(m) = ctx.blob(l, "layer") else {
        return (r, None);
    };
    r.digest = r.digest.or(Some(m.digest));
    r.compressed_size = Some(m.size);
    let blob_digest = r.digest;
    let facts = match &m.layer {
        Ok(f) => f.clone(),
        Err(e) => {
            ctx.error(Some(&l.member), blob_digest, format!("layer blob cannot be read: {e}"));
            return (r, None);
        }
    };
    r.compression = Some(facts.compression);
    if let Some(mt) = r.media_type.as_deref() {
        if let Some(declared) = media_type::declared_layer_compression(mt) {
            if declared != facts.compression.name() {
                ctx.warn(
                    Some(&l.member),
                    blob_digest,
                    format!(
                        "layer blob {} is labelled {mt} but holds {}; figures use what the bytes are",
                        m.digest,
                        describe(facts.compression)
                    ),
                );
            }
        }
    }
    r.uncompressed_size = Some(facts.uncompressed_size);
    r.diff_id = Some(facts.diff_id);
    match &facts.tar {
        Ok(t) => {
            r.docker_vfs_size = Some(t.docker_vfs_size);
            r.docker_overlay2_size = Some(t.docker_overlay2_size);
            r.files = Some(FileCounts {
                entries: t.entries,
                files: t.files,
                dirs: t.dirs,
                symlinks: t.symlinks,
                hardlinks: t.hardlinks,
                whiteouts: t.whiteouts,
                opaque_dirs: t.opaque_dirs,
                other: t.other,
                end_of_archive: t.end_of_archive,
            });
        }
        Err(e) => ctx.error(
            Some(&l.member),
            blob_digest,
            format!("layer blob {} is not a valid tar: {e}", m.digest),
        ),
    }
    if let Some(exp) = expected_diff {
        if exp.algorithm() != facts.diff_id.algorithm() {
            ctx.error(
                Some(&l.member),
                blob_digest,
                format!("diffID {exp} uses {}, which ocisize cannot verify", exp.algorithm()),
            );
        } else if exp != facts.diff_id {
            ctx.error(
                Some(&l.member),
                blob_digest,
                format!(
                    "diffID mismatch for layer blob {}: config says {exp}, uncompressed content is {}",
                    m.digest, facts.diff_id
                ),
            );
        }
    }
    (r, Some(facts))
}

fn describe(c: Compression) -> &'static str {
    match c {
        Compression::None => "a plain tar",
        Compression::Gzip => "gzip data",
        Compression::Zstd => "zstd data",
    }
}

//! What an import commits: the walk's graph, verified as inspect verifies it, turned into
//! the blobs the images need and the descriptors their names point at.

use std::collections::BTreeMap;

use ocisize_digest::{Algorithm, Digest};
use ocisize_reference::Reference;
use ocisize_source::verify;
use ocisize_source::walk::{ArtifactNode, Graph, ImageNode};
use ocisize_source::{
    BlobRef, Catalog, Problem, ProblemKind, Problems, Role, Root, RootTarget, Wrapper,
};
use ocisize_spec::synthesized::containerd_docker_manifest;
use ocisize_spec::{Descriptor, ImageConfig, MediaType};

/// A blob an image needs, and the member that holds it.
#[derive(Clone, Debug)]
pub(crate) struct Needed {
    pub(crate) size: u64,
    pub(crate) member: String,
}

/// What a name points at, and the names the source gives it.
#[derive(Clone, Debug)]
pub(crate) struct Top {
    pub(crate) descriptor: Descriptor,
    pub(crate) names: Vec<Reference>,
    pub(crate) tags: Vec<String>,
    /// The config of the first image under it (its image ID).
    pub(crate) image_id: Option<Digest>,
}

/// Everything an import commits.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub(crate) blobs: BTreeMap<Digest, Needed>,
    /// Documents the import writes itself: the manifest containerd writes for a legacy
    /// docker-archive image.
    pub(crate) synthesized: BTreeMap<Digest, Vec<u8>>,
    pub(crate) tops: Vec<Top>,
    pub(crate) problems: Problems,
}

impl Plan {
    fn need(&mut self, digest: Digest, size: u64, member: &str) {
        self.blobs.entry(digest).or_insert_with(|| Needed { size, member: member.to_owned() });
    }

    fn top(
        &mut self,
        descriptor: Descriptor,
        names: &[Reference],
        tags: &[String],
        id: Option<Digest>,
    ) {
        let at = match self.tops.iter().position(|t| t.descriptor.digest == descriptor.digest) {
            Some(at) => at,
            None => {
                self.tops.push(Top {
                    descriptor,
                    names: Vec::new(),
                    tags: Vec::new(),
                    image_id: id,
                });
                self.tops.len() - 1
            }
        };
        let t = &mut self.tops[at];
        for n in names {
            if !t.names.contains(n) {
                t.names.push(n.clone());
            }
        }
        for g in tags {
            if !t.tags.contains(g) {
                t.tags.push(g.clone());
            }
        }
        t.image_id = t.image_id.or(id);
    }
}

/// Verify every image and artifact of the graph (configs, layers with their diffIDs,
/// artifact blobs by digest and size; the walk checked the documents) and say what to
/// commit. Problems are collected in the plan; the caller refuses an import with errors.
pub(crate) fn plan(graph: Graph, roots: &[Root], catalog: &Catalog) -> Plan {
    let mut plan = Plan { problems: graph.problems.clone(), ..Plan::default() };
    let ctx = Ctx { graph: &graph, roots };
    for (digest, blob) in &graph.blobs {
        // Indexes and manifests the walk read (absent ones are not committed: the layout
        // spec lets a layout omit them).
        if matches!(blob.role, Role::Manifest { .. }) && catalog.is_measured(&blob.member) {
            plan.need(*digest, blob.descriptor.size, &blob.member);
        }
    }
    for image in &graph.images {
        self::image(&mut plan, &ctx, catalog, image);
    }
    for artifact in &graph.artifacts {
        self::artifact(&mut plan, &ctx, catalog, artifact);
    }
    plan
}

/// The config of a measured config member (`ocisize_source::verify::config`).
pub(crate) fn config_of(
    catalog: &Catalog,
    c: &BlobRef,
    problems: &mut Problems,
) -> Option<ImageConfig> {
    verify::config(catalog, c, problems)
}

fn image(plan: &mut Plan, ctx: &Ctx<'_>, catalog: &Catalog, node: &ImageNode) {
    if node.broken {
        // The walk said why.
        return;
    }
    let Some(c) = &node.config else { return };
    let Some(m) = verify::check(catalog, c, "config", &mut plan.problems) else { return };
    let config_digest = c.descriptor.as_ref().map_or(m.digest, |d| d.digest);
    plan.need(config_digest, m.size, &c.member);
    let diff_ids = config_of(catalog, c, &mut plan.problems).map(|c| c.rootfs.diff_ids);
    if let Some(ids) = diff_ids.as_ref().filter(|ids| ids.len() != node.layers.len()) {
        plan.problems.push(
            Problem::error(
                ProblemKind::LayerCountMismatch,
                format!(
                    "config lists {} diffIDs but the image has {} layers",
                    ids.len(),
                    node.layers.len()
                ),
            )
            .member(&c.member),
        );
    }
    let mut layers = Vec::with_capacity(node.layers.len());
    for (i, l) in node.layers.iter().enumerate() {
        let expected = diff_ids.as_ref().and_then(|v| v.get(i)).copied();
        let checked = verify::check_layer(catalog, l, expected, true, &mut plan.problems);
        let (Some(digest), Some(size)) = (checked.digest, checked.size) else { return };
        plan.need(digest, size, &l.member);
        layers.push((digest, size, checked.compression.is_some_and(|c| c != Wrapper::None)));
    }
    let id = Some(m.digest);
    if node.legacy {
        // containerd's importer writes a Docker schema 2 manifest for the entry
        // (`images/archive/importer.go`); the store keeps that one, byte for byte.
        let json = containerd_docker_manifest((m.digest, m.size), &layers).into_bytes();
        let digest = Digest::of(Algorithm::Sha256, &json);
        let d = Descriptor::new(Some(MediaType::DockerManifest), digest, json.len() as u64);
        plan.synthesized.insert(digest, json);
        plan.top(d, &node.names, &node.tags, id);
        return;
    }
    if let Some(mref) = &node.manifest {
        let d = ctx.top_of(&node.origin, &mref.descriptor, node.manifest_media_type.as_ref());
        plan.top(d, &node.names, &node.tags, id);
    }
}

fn artifact(plan: &mut Plan, ctx: &Ctx<'_>, catalog: &Catalog, node: &ArtifactNode) {
    for b in &node.blobs {
        // Verified by digest and size; an artifact's blobs are not layers to walk.
        if let (Some(_), Some(d)) =
            (verify::check(catalog, b, "artifact", &mut plan.problems), &b.descriptor)
        {
            plan.need(d.digest, d.size, &b.member);
        }
    }
    let mt = node.manifest.descriptor.media_type.as_ref();
    let d = ctx.top_of(&node.origin, &node.manifest.descriptor, mt);
    plan.top(d, &node.names, &node.tags, None);
}

/// The graph and the roots it was walked from.
struct Ctx<'a> {
    graph: &'a Graph,
    roots: &'a [Root],
}

impl Ctx<'_> {
    /// The root a node was reached from (by its origin, `index.json manifests[0]`): what
    /// its names point at. The descriptor loses the source's annotations (the store writes
    /// its own names) and gets a media type if it has none (a `dir:` manifest's descriptor
    /// is made from its bytes).
    fn top_of(&self, origin: &str, d: &Descriptor, media_type: Option<&MediaType>) -> Descriptor {
        let root = self.roots.iter().find(|r| r.origin == origin).map(|r| &r.target);
        let mut top = match root {
            Some(RootTarget::Descriptor(r)) => r.clone(),
            Some(RootTarget::Document { member }) => {
                match self.graph.blobs.values().find(|u| u.member == *member) {
                    Some(u) => u.descriptor.clone(),
                    None => d.clone(),
                }
            }
            _ => {
                self.graph.blobs.get(&d.digest).map_or_else(|| d.clone(), |u| u.descriptor.clone())
            }
        };
        top.annotations.clear();
        if top.media_type.is_none() {
            top.media_type = if top.digest == d.digest {
                media_type.cloned()
            } else {
                // A `dir:` list without a mediaType field of its own.
                Some(MediaType::DockerList)
            };
        }
        top
    }
}

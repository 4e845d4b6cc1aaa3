//! What the walk finds: images, artifacts, absent manifests, and every descriptor with who
//! references it.

use std::collections::BTreeMap;

use ocisize_digest::Digest;
use ocisize_reference::Reference;
use ocisize_spec::{Descriptor, MediaType, Platform};

use crate::model::{BlobRef, Role};
use crate::{Problems, Refusal};

/// An index or manifest document, and the member it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestRef {
    /// The descriptor that names it (for a `dir:` layout's `manifest.json`, made from its
    /// bytes).
    pub descriptor: Descriptor,
    /// The member holding it.
    pub member: String,
}

/// One image: a manifest (or a legacy docker-archive entry) with its config and layers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageNode {
    /// Where its root came from (`index.json manifests[0]`, `manifest.json entry 1`).
    pub origin: String,
    /// Full names.
    pub names: Vec<Reference>,
    /// Bare tags.
    pub tags: Vec<String>,
    /// A legacy docker-archive entry: no manifest, runtimes write their own.
    pub legacy: bool,
    /// The index that lists the manifest, if any.
    pub index: Option<Descriptor>,
    /// The manifest.
    pub manifest: Option<ManifestRef>,
    /// The manifest's media type (its own field, else its descriptor's).
    pub manifest_media_type: Option<MediaType>,
    /// The platform the index gives it.
    pub platform: Option<Platform>,
    /// The config.
    pub config: Option<BlobRef>,
    /// The layers, base first.
    pub layers: Vec<BlobRef>,
    /// The manifest could not be read or parsed: nothing below it is known.
    pub broken: bool,
    /// The manifest (or the index that lists it) failed a check: size, digest.
    pub document_errors: bool,
    /// Runtimes that refuse to load it from this source.
    pub refused_by: Vec<Refusal>,
}

/// An OCI artifact (a manifest that is not a container image: signatures, attestations,
/// SBOMs, Helm charts, anything with an `artifactType`, a `subject` or a non-image config).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArtifactNode {
    /// Where its root came from.
    pub origin: String,
    /// Full names.
    pub names: Vec<Reference>,
    /// Bare tags.
    pub tags: Vec<String>,
    /// The index that lists it, if any.
    pub index: Option<Descriptor>,
    /// The manifest.
    pub manifest: ManifestRef,
    /// `artifactType`, else the config's media type.
    pub artifact_type: Option<MediaType>,
    /// The manifest it refers to: its `subject`.
    pub subject: Option<Descriptor>,
    /// The digest of the image it refers to: the subject's, or a buildx attestation's
    /// `vnd.docker.reference.digest`.
    pub refers_to: Option<Digest>,
    /// The platform its index entry gives.
    pub platform: Option<Platform>,
    /// Its blobs: the config, then the layers.
    pub blobs: Vec<BlobRef>,
    /// The manifest (or the index that lists it) failed a check: size, digest.
    pub document_errors: bool,
}

/// A manifest an index lists that the source does not hold (image-layout.md allows a
/// layout to omit blobs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AbsentManifest {
    /// Its descriptor.
    pub descriptor: Descriptor,
    /// The index that lists it.
    pub index: Digest,
}

/// Where a descriptor was met: the blob and what references it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlobUse {
    /// The descriptor (the first one met).
    pub descriptor: Descriptor,
    /// The member that holds (or should hold) it.
    pub member: String,
    /// Its role.
    pub role: Role,
    /// The documents that reference it (none for a root).
    pub referenced_by: Vec<Digest>,
}

/// Everything the walk found.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// Images, in the source's order.
    pub images: Vec<ImageNode>,
    /// Artifacts, in the source's order.
    pub artifacts: Vec<ArtifactNode>,
    /// Manifests an index lists that are not present.
    pub absent: Vec<AbsentManifest>,
    /// Every descriptor met, by digest.
    pub blobs: BTreeMap<Digest, BlobUse>,
    /// What was wrong with the documents (and what reading the source found).
    pub problems: Problems,
}

impl Graph {
    /// The members holding every config and layer, for reading them ahead in parallel.
    pub fn wanted(&self) -> Vec<String> {
        let images = self.images.iter().flat_map(|i| i.layers.iter().chain(i.config.iter()));
        let artifacts = self.artifacts.iter().flat_map(|a| a.blobs.iter());
        images.chain(artifacts).map(|b| b.member.clone()).collect()
    }
}

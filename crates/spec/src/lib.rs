//! The JSON documents of OCI and Docker images, parsed with limits.
//!
//! ocisize reads documents written by many tools, so these types accept everything the
//! [OCI image spec](https://github.com/opencontainers/image-spec) and Docker's image formats
//! allow, ignore fields they do not need, and reject only what would make a figure wrong:
//! a malformed digest, a negative size, a document over its size limit, a schema 1 manifest.
//!
//! Digests are computed elsewhere, over the bytes exactly as read; these types are only ever
//! parsed from those bytes and never re-serialized to compute a digest.
//!
//! ```
//! use ocisize_spec::{parse_manifest_document, ManifestDocument};
//!
//! let bytes = br#"{"schemaVersion":2,
//!   "mediaType":"application/vnd.oci.image.manifest.v1+json",
//!   "config":{"mediaType":"application/vnd.oci.image.config.v1+json",
//!     "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":2},
//!   "layers":[]}"#;
//! match parse_manifest_document(bytes).unwrap() {
//!     ManifestDocument::Image(m) => assert_eq!(m.config.size, 2),
//!     ManifestDocument::Index(_) => unreachable!(),
//! }
//! ```
//!
//! # Why ocisize has its own types, and how they meet oci-spec's
//!
//! Rust code that already holds [oci-spec](https://docs.rs/oci-spec) values can convert them
//! both ways with the `oci-spec` feature (module `interop`: `TryFrom` between these types and
//! `oci_spec::image::{ImageIndex, ImageManifest, ImageConfiguration, Descriptor, Platform}`,
//! with a typed `ConvertError` that names the field by its JSON path). ocisize still parses
//! with its own types, for three reasons:
//!
//! - **Docker dialects.** A docker-archive's `manifest.json` (in all its path dialects),
//!   `repositories` and the legacy `<v1 id>/json` files have no oci-spec type; Docker schema 2
//!   manifests and manifest lists are read with the same types as OCI ones.
//! - **What real tools write.** ocisize reads an absent `mediaType`, `architecture`, `os` or
//!   `rootfs` as empty and an absent list as empty, reads a config's `null`s as absent (as
//!   Go's `encoding/json`, so docker, containerd and containers/image, does), and refuses
//!   only what would make a figure wrong; oci-spec refuses such a document outright.
//! - **Byte-exact digests.** A digest is always computed over the bytes as read, never over
//!   re-serialized JSON. Converting to oci-spec and serializing gives other bytes (key order,
//!   spacing, the fields ocisize does not keep), so another digest than the one every runtime
//!   lists the document by: hand oci-spec values out for their meaning, never to hash them.
//!   ocisize's [`Digest`] is the bytes of an algorithm it can verify (sha256, sha512), where
//!   oci-spec's is a checked string that also admits sha384 and unregistered algorithms.
//!
//! Every JSON document of the project's real-tool corpus (35 manifests, 22 indexes, 40 configs
//! and 18 `oci-layout` files, OCI and Docker, from skopeo, podman, umoci, dockerd and ctr) is
//! accepted by oci-spec 0.10 and means the same there (the feature's tests check digests,
//! sizes, media types, platforms, annotations and diffIDs of each). Docker media types are
//! not refused, only unknown: `MediaType::Other`.
//!
//! oci-spec is stricter about required fields; the conversion to oci-spec then fails with
//! `ConvertError::Missing`, naming the field, rather than invent a value:
//!
//! - a descriptor without `mediaType` (`manifests[1].mediaType`);
//! - a platform without `os` or `architecture` (`manifests[0].platform.os`);
//! - a config without `architecture`, `os` or `rootfs` (`rootfs.type`);
//! - an index without `manifests`, a manifest without `layers` (ocisize reads an empty list,
//!   which converts: absent and empty are one value here);
//! - a config whose `Cmd` or `Entrypoint` is one string rather than a list, which moby's
//!   `strslice.StrSlice` (so docker) accepts; ocisize does not read `config`.
//! - a config with `"rootfs": null` or `"architecture": null`, which Go reads as absent
//!   (oci-spec also refuses `"diff_ids": null`, which ocisize reads, and converts, as an empty
//!   list; it takes `"history": null`).
//!
//! oci-spec is laxer about digests and nulls; the conversion from oci-spec fails with
//! `ConvertError::Digest` on a digest ocisize cannot verify:
//!
//! - `sha384` (registered by oci-spec) and unregistered algorithms (`multihash+base58:…`);
//! - a diffID that is no digest at all (oci-spec keeps diffIDs as unchecked strings).
//!
//! Both read `"annotations": null` (an `Option` there; here, as in Go, an empty map).
//!
//! And oci-spec 0.10 reads the architecture `armbe` as `Arch::ARM64be`, which it prints
//! `arm64be`; the conversion keeps strings as written (`Arch::Other("armbe")`).
//!
//! ```
//! # #[cfg(feature = "oci-spec")]
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use ocisize_spec::{parse_manifest_document, ImageManifest, ManifestDocument};
//! use ocisize_digest::{Algorithm, Digest};
//!
//! // A Docker schema 2 manifest, in the shape skopeo writes one.
//! let bytes = br#"{"schemaVersion":2,
//!   "mediaType":"application/vnd.docker.distribution.manifest.v2+json",
//!   "config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,
//!     "digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"},
//!   "layers":[]}"#;
//! let ManifestDocument::Image(ours) = parse_manifest_document(bytes)? else { unreachable!() };
//!
//! let theirs = oci_spec::image::ImageManifest::try_from(&*ours)?;
//! assert_eq!(theirs.config().size(), 2);
//! assert_eq!(Some(theirs.config().media_type().to_string()), ours.config.media_type.as_ref().map(|m| m.to_string()));
//! assert_eq!(ImageManifest::try_from(&theirs)?, *ours);
//!
//! // The same meaning in other bytes: never hash a re-serialized document.
//! let reserialized = serde_json::to_vec(&theirs)?;
//! let sha256 = |b: &[u8]| Digest::of(Algorithm::Sha256, b);
//! assert_ne!(sha256(&reserialized), sha256(bytes));
//!
//! // A descriptor without a media type is fine for ocisize, not for oci-spec.
//! let mut bare = ours.config.clone();
//! bare.media_type = None;
//! let e = oci_spec::image::Descriptor::try_from(&bare).unwrap_err();
//! assert_eq!(e.to_string(), "mediaType is empty, and oci-spec requires it");
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "oci-spec"))]
//! # fn main() {}
//! ```
#![deny(missing_docs)]

mod compression;
mod config;
mod document;
#[cfg(feature = "oci-spec")]
pub mod interop;
pub mod media_type;
pub mod path;
pub mod synthesized;

use std::collections::BTreeMap;
use std::fmt;

pub use compression::Compression;
pub use config::{parse_docker_manifest, DockerSaveEntry, History, ImageConfig, RootFs};
pub use document::{parse_json, DocumentKind, JsonLimits, SpecError};
pub use media_type::MediaType;
pub use ocisize_digest::Digest;
use serde::{Deserialize, Deserializer, Serialize};

/// `null` reads as a missing field does: the type's default (an empty list, an empty string,
/// `false`, a struct of defaults). Go's `encoding/json`, so docker, containerd and
/// containers/image, decodes `null` into a slice or map as nil and leaves a string, bool or
/// struct at its zero value; docker 25 writes `"manifests": null` in the `index.json` of an
/// archive of an untagged image, and docker's configs carry `"history": null`.
fn null_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list whose `null` and whose `null` entries read as their defaults: Go decodes `null`
/// into a struct element of a slice as the zero value (`"history": [null]` is one empty
/// history entry for docker and containers/image). Only for entries that have a meaningful
/// default; a `null` digest stays an error.
fn null_entries_as_default<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let list = Option::<Vec<Option<T>>>::deserialize(d)?.unwrap_or_default();
    Ok(list.into_iter().map(Option::unwrap_or_default).collect())
}

/// A content descriptor (image-spec descriptor.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// "This REQUIRED property contains the media type of the referenced content."
    /// Docker manifest lists and some writers omit it on nested descriptors, so it may be
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The digest of the targeted content.
    pub digest: Digest,
    /// "This REQUIRED property specifies the size, in bytes, of the raw content." A negative
    /// value fails to parse.
    pub size: u64,
    /// Alternate download locations (foreign layers).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
    /// Arbitrary metadata (`null` reads as none, as Go reads it).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
    /// The platform of a manifest referenced from an index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<Platform>,
    /// The artifact type, for artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
}

impl Descriptor {
    /// An annotation's value.
    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }

    /// A descriptor with only the required fields.
    pub fn new(media_type: Option<MediaType>, digest: Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type,
            digest,
            size,
            urls: Vec::new(),
            annotations: BTreeMap::new(),
            platform: None,
            artifact_type: None,
        }
    }
}

/// Annotation keys ocisize reads.
pub mod annotation {
    /// `org.opencontainers.image.ref.name`: a tag (skopeo, umoci) or a full name (podman).
    pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
    /// `io.containerd.image.name`: the full image name, written by `ctr images export`.
    pub const CONTAINERD_IMAGE_NAME: &str = "io.containerd.image.name";
    /// `vnd.docker.reference.type`: `attestation-manifest` on a buildx attestation's index
    /// entry.
    pub const DOCKER_REFERENCE_TYPE: &str = "vnd.docker.reference.type";
    /// `vnd.docker.reference.digest`: the image a buildx attestation describes.
    pub const DOCKER_REFERENCE_DIGEST: &str = "vnd.docker.reference.digest";
}

/// A platform (image-spec image-index.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Platform {
    /// CPU architecture, `amd64`, `arm64`, … (GOARCH values).
    #[serde(default)]
    pub architecture: String,
    /// Operating system, `linux`, `windows`, … (GOOS values).
    #[serde(default)]
    pub os: String,
    /// CPU variant, `v8` for arm64/v8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows).
    #[serde(default, rename = "os.version", skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
}

impl fmt::Display for Platform {
    /// `os/architecture[/variant]`, the form `ctr`, `docker` and `podman` accept.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let os = if self.os.is_empty() { "unknown" } else { &self.os };
        let arch = if self.architecture.is_empty() { "unknown" } else { &self.architecture };
        write!(f, "{os}/{arch}")?;
        if let Some(v) = self.variant.as_deref().filter(|v| !v.is_empty()) {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// Whether this platform is the one containerd picks by default on linux/amd64
    /// (`platforms.Default()`: same OS and architecture; amd64 has no variant to compare).
    pub fn is_linux_amd64(&self) -> bool {
        self.os == "linux" && self.architecture == "amd64"
    }
}

/// An image index or Docker manifest list (image-spec image-index.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Must be 2.
    pub schema_version: u64,
    /// `application/vnd.oci.image.index.v1+json`, the Docker list type, or absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The type of an artifact index (image-spec 1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
    /// The manifests (or nested indexes) this index lists; `null` reads as none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub manifests: Vec<Descriptor>,
    /// The manifest this index refers to (image-spec 1.1 referrers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata (`null` reads as none, as Go reads it).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

/// An image manifest, OCI or Docker schema 2 (image-spec manifest.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    /// Must be 2.
    pub schema_version: u64,
    /// The manifest media type, if written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<MediaType>,
    /// The type of an artifact (image-spec 1.1): "MUST be set" when the config is the empty
    /// descriptor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<MediaType>,
    /// The config blob.
    pub config: Descriptor,
    /// The layer blobs, base layer first; `null` reads as none.
    #[serde(default, deserialize_with = "null_as_default")]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to (signatures, attestations, SBOMs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Arbitrary metadata (`null` reads as none, as Go reads it).
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub annotations: BTreeMap<String, String>,
}

impl ImageManifest {
    /// Whether this manifest is an artifact rather than a container image: it declares an
    /// `artifactType` or a `subject` (signatures, attestations, SBOMs), its config is not an
    /// image config (the empty descriptor, a Helm chart config, …), or a layer is not a
    /// filesystem layer (cosign's simple-signing payload, in-toto statements).
    pub fn is_artifact(&self) -> bool {
        self.artifact_type.is_some()
            || self.subject.is_some()
            || self.config.media_type.as_ref().is_some_and(|m| !m.is_image_config())
            || self.layers.iter().any(|l| l.media_type.as_ref().is_some_and(|m| !m.is_layer()))
    }

    /// The artifact's type: `artifactType`, else the config's media type (image-spec 1.1
    /// manifest.md: "the artifact type … MUST be set to the value of the config
    /// `mediaType`" when `artifactType` is absent).
    pub fn artifact_type(&self) -> Option<&MediaType> {
        self.artifact_type.as_ref().or(self.config.media_type.as_ref())
    }
}

/// A manifest-like document, told apart by its media type or its fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ManifestDocument {
    /// An image manifest.
    Image(Box<ImageManifest>),
    /// An index or manifest list.
    Index(Box<ImageIndex>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Probe {
    #[serde(default)]
    schema_version: Option<u64>,
    #[serde(default)]
    media_type: Option<MediaType>,
    #[serde(default)]
    manifests: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    config: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    fs_layers: Option<serde::de::IgnoredAny>,
}

/// Parse a manifest or an index, deciding which by `mediaType` (or, when it is absent, as
/// the OCI spec allows, by whether `manifests` or `config` is present).
pub fn parse_manifest_document(bytes: &[u8]) -> Result<ManifestDocument, SpecError> {
    let limits = JsonLimits::default();
    parse_manifest_document_with(bytes, &limits)
}

/// [`parse_manifest_document`] with explicit limits.
pub fn parse_manifest_document_with(
    bytes: &[u8],
    limits: &JsonLimits,
) -> Result<ManifestDocument, SpecError> {
    let probe: Probe = parse_json(bytes, DocumentKind::Manifest, limits)?;
    let mt = probe.media_type.as_ref();
    if probe.schema_version == Some(1)
        || probe.fs_layers.is_some()
        || mt.is_some_and(MediaType::is_schema1)
    {
        return Err(SpecError::Schema1);
    }
    let is_index = match mt {
        Some(m) if m.is_index() => true,
        Some(m) if m.is_manifest() => false,
        _ if probe.manifests.is_some() && probe.config.is_none() => true,
        _ if probe.config.is_some() => false,
        _ => return Err(SpecError::NotAManifest { media_type: probe.media_type }),
    };
    if is_index {
        let idx: ImageIndex = parse_json(bytes, DocumentKind::Index, limits)?;
        check_version(DocumentKind::Index, idx.schema_version)?;
        Ok(ManifestDocument::Index(Box::new(idx)))
    } else {
        let m: ImageManifest = parse_json(bytes, DocumentKind::Manifest, limits)?;
        check_version(DocumentKind::Manifest, m.schema_version)?;
        Ok(ManifestDocument::Image(Box::new(m)))
    }
}

/// Parse an OCI layout's `index.json` (always an index).
pub fn parse_layout_index(bytes: &[u8], limits: &JsonLimits) -> Result<ImageIndex, SpecError> {
    let idx: ImageIndex = parse_json(bytes, DocumentKind::Index, limits)?;
    check_version(DocumentKind::Index, idx.schema_version)?;
    Ok(idx)
}

fn check_version(kind: DocumentKind, found: u64) -> Result<(), SpecError> {
    if found == 2 {
        Ok(())
    } else {
        Err(SpecError::SchemaVersion { kind, found })
    }
}

/// The `oci-layout` marker file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciLayout {
    /// "This REQUIRED property specifies the image layout version", `1.0.0`.
    pub image_layout_version: String,
}

#[cfg(test)]
mod tests;

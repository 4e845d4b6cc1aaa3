//! Conversions between these types and [oci-spec](https://docs.rs/oci-spec)'s
//! `oci_spec::image` types (feature `oci-spec`).
//!
//! | ocisize | oci-spec | to oci-spec | from oci-spec |
//! |---|---|---|---|
//! | [`Descriptor`] | `Descriptor` | `TryFrom` | `TryFrom` |
//! | [`Platform`] | `Platform` | `TryFrom` | `From` |
//! | [`ImageIndex`] | `ImageIndex` | `TryFrom` | `TryFrom` |
//! | [`ImageManifest`] | `ImageManifest` | `TryFrom` | `TryFrom` |
//! | [`ImageConfig`] | `ImageConfiguration` | `TryFrom` | `TryFrom` |
//!
//! Both directions are implemented on references (`oci::ImageManifest::try_from(&m)`).
//!
//! **To oci-spec** fails where oci-spec's own parser would have refused the document: a
//! field it requires is absent here (ocisize reads an absent `mediaType`, `architecture`,
//! `os` or `rootfs.type` as an empty string, and the conversion will not invent one), or a
//! `schemaVersion` does not fit oci-spec's `u32`. Every error names the field by its JSON
//! path (`layers[2].mediaType`). Every string survives the trip as written: a media type
//! oci-spec has no variant for becomes `MediaType::Other`, and so do an architecture or OS
//! that oci-spec's enums would spell differently (oci-spec 0.10 parses `armbe` as
//! `Arch::ARM64be`, which prints `arm64be`; the conversion keeps `armbe`).
//!
//! **From oci-spec** fails on a digest ocisize cannot verify (`sha384`, which oci-spec
//! registers, or any unregistered algorithm), including a diffID, which oci-spec keeps as an
//! unchecked string. It drops what ocisize does not model: `subject`, `artifactType` of a
//! manifest or index, a descriptor's `data`, a platform's `features` and `os.features`, and
//! every config field but architecture, OS, variant, creation time, `rootfs` and history
//! (creation time, command, author and comment). An absent `empty_layer` is `false`, as the spec says.
//!
//! An ocisize value converted to oci-spec and back is the value it was (the `oci-spec`
//! feature's tests check this for every document of the corpus, and with proptest).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

use oci_spec::image as oci;

use crate::MediaType;

use crate::{
    Descriptor, Digest, History, ImageConfig, ImageIndex, ImageManifest, Platform, RootFs,
};

/// Why a value could not be converted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// A field oci-spec requires is empty here (ocisize reads it as empty when absent).
    #[error("{field} is empty, and oci-spec requires it")]
    Missing {
        /// The field, as a JSON path: `manifests[0].mediaType`.
        field: String,
    },
    /// `schemaVersion` is larger than oci-spec's `u32`.
    #[error("{field} is {found}, larger than oci-spec's u32 allows")]
    SchemaVersion {
        /// The field, `schemaVersion`.
        field: String,
        /// The value.
        found: u64,
    },
    /// A digest from oci-spec that ocisize cannot verify.
    #[error("{field}: digest {value:?} is not one ocisize can verify: {source}")]
    Digest {
        /// The field: `config.digest`, `rootfs.diff_ids[1]`.
        field: String,
        /// The digest as oci-spec holds it.
        value: String,
        /// ocisize's reason.
        #[source]
        source: ocisize_digest::ParseError,
    },
    /// oci-spec refused a value (a digest string or a builder's required field); ocisize
    /// only hands it well-formed sha256 and sha512 digests, so this is not expected.
    #[error("{field}: oci-spec refused the value: {source}")]
    OciSpec {
        /// The field.
        field: String,
        /// oci-spec's reason.
        #[source]
        source: oci_spec::OciSpecError,
    },
}

/// `at.name`, or `name` at the top.
fn path(at: &str, name: &str) -> String {
    if at.is_empty() {
        name.to_owned()
    } else {
        format!("{at}.{name}")
    }
}

fn required(value: &str, at: &str, name: &str) -> Result<(), ConvertError> {
    if value.is_empty() {
        Err(ConvertError::Missing { field: path(at, name) })
    } else {
        Ok(())
    }
}

fn schema_version(found: u64) -> Result<u32, ConvertError> {
    u32::try_from(found)
        .map_err(|_| ConvertError::SchemaVersion { field: "schemaVersion".into(), found })
}

/// A string into one of oci-spec's string enums, keeping it verbatim: when the enum would
/// print it differently, it becomes the enum's `Other(String)`.
fn verbatim<T>(s: &str, other: fn(String) -> T) -> T
where
    T: for<'a> From<&'a str> + Display,
{
    let parsed = T::from(s);
    if parsed.to_string() == s {
        parsed
    } else {
        other(s.to_owned())
    }
}

fn media_type(m: &MediaType) -> oci::MediaType {
    verbatim(m.as_str(), oci::MediaType::Other)
}

fn from_oci_media_type(m: &oci::MediaType) -> MediaType {
    MediaType::from(m.to_string().as_str())
}

fn required_media_type<'a>(
    m: &'a Option<MediaType>,
    at: &str,
    name: &str,
) -> Result<&'a MediaType, ConvertError> {
    match m {
        Some(m) if !m.as_str().is_empty() => Ok(m),
        _ => Err(ConvertError::Missing { field: path(at, name) }),
    }
}

fn to_oci_digest(d: &Digest, field: impl FnOnce() -> String) -> Result<oci::Digest, ConvertError> {
    d.to_string().parse().map_err(|source| ConvertError::OciSpec { field: field(), source })
}

fn from_oci_digest(value: &str, field: impl FnOnce() -> String) -> Result<Digest, ConvertError> {
    value.parse().map_err(|source| ConvertError::Digest {
        field: field(),
        value: value.to_owned(),
        source,
    })
}

fn to_hash_map(m: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!m.is_empty()).then(|| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn from_hash_map(m: &Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    m.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn platform_to_oci(p: &Platform, at: &str) -> Result<oci::Platform, ConvertError> {
    required(&p.architecture, at, "architecture")?;
    required(&p.os, at, "os")?;
    let mut o = oci::Platform::default();
    o.set_architecture(verbatim(&p.architecture, oci::Arch::Other));
    o.set_os(verbatim(&p.os, oci::Os::Other));
    o.set_variant(p.variant.clone());
    o.set_os_version(p.os_version.clone());
    Ok(o)
}

fn descriptor_to_oci(d: &Descriptor, at: &str) -> Result<oci::Descriptor, ConvertError> {
    let mt = required_media_type(&d.media_type, at, "mediaType")?;
    let digest = to_oci_digest(&d.digest, || path(at, "digest"))?;
    let mut o = oci::Descriptor::new(media_type(mt), d.size, digest);
    o.set_urls((!d.urls.is_empty()).then(|| d.urls.clone()));
    o.set_annotations(to_hash_map(&d.annotations));
    let platform = d.platform.as_ref().map(|p| platform_to_oci(p, &path(at, "platform")));
    o.set_platform(platform.transpose()?);
    o.set_artifact_type(d.artifact_type.as_ref().map(media_type));
    Ok(o)
}

fn descriptor_from_oci(o: &oci::Descriptor, at: &str) -> Result<Descriptor, ConvertError> {
    Ok(Descriptor {
        media_type: Some(from_oci_media_type(o.media_type())),
        digest: from_oci_digest(o.digest().as_ref(), || path(at, "digest"))?,
        size: o.size(),
        urls: o.urls().clone().unwrap_or_default(),
        annotations: from_hash_map(o.annotations()),
        platform: o.platform().as_ref().map(Platform::from),
        artifact_type: o.artifact_type().as_ref().map(from_oci_media_type),
    })
}

fn descriptors_to_oci(v: &[Descriptor], at: &str) -> Result<Vec<oci::Descriptor>, ConvertError> {
    v.iter().enumerate().map(|(i, d)| descriptor_to_oci(d, &format!("{at}[{i}]"))).collect()
}

fn descriptors_from_oci(v: &[oci::Descriptor], at: &str) -> Result<Vec<Descriptor>, ConvertError> {
    v.iter().enumerate().map(|(i, d)| descriptor_from_oci(d, &format!("{at}[{i}]"))).collect()
}

impl TryFrom<&Platform> for oci::Platform {
    type Error = ConvertError;
    /// Fails when `architecture` or `os` is empty: oci-spec requires both.
    fn try_from(p: &Platform) -> Result<Self, ConvertError> {
        platform_to_oci(p, "")
    }
}

impl From<&oci::Platform> for Platform {
    /// Keeps architecture, OS, variant and OS version; drops `features` and `os.features`.
    fn from(o: &oci::Platform) -> Self {
        Platform {
            architecture: o.architecture().to_string(),
            os: o.os().to_string(),
            variant: o.variant().clone(),
            os_version: o.os_version().clone(),
        }
    }
}

impl TryFrom<&Descriptor> for oci::Descriptor {
    type Error = ConvertError;
    /// Fails when the media type is empty (oci-spec requires one) or the platform lacks an
    /// architecture or OS.
    fn try_from(d: &Descriptor) -> Result<Self, ConvertError> {
        descriptor_to_oci(d, "")
    }
}

impl TryFrom<&oci::Descriptor> for Descriptor {
    type Error = ConvertError;
    /// Fails on a digest ocisize cannot verify; drops `data`.
    fn try_from(o: &oci::Descriptor) -> Result<Self, ConvertError> {
        descriptor_from_oci(o, "")
    }
}

impl TryFrom<&ImageIndex> for oci::ImageIndex {
    type Error = ConvertError;
    fn try_from(i: &ImageIndex) -> Result<Self, ConvertError> {
        let mut b = oci::ImageIndexBuilder::default()
            .schema_version(schema_version(i.schema_version)?)
            .manifests(descriptors_to_oci(&i.manifests, "manifests")?);
        if let Some(mt) = &i.media_type {
            b = b.media_type(media_type(mt));
        }
        if let Some(a) = &i.artifact_type {
            b = b.artifact_type(media_type(a));
        }
        if let Some(s) = &i.subject {
            b = b.subject(descriptor_to_oci(s, "subject")?);
        }
        if let Some(a) = to_hash_map(&i.annotations) {
            b = b.annotations(a);
        }
        b.build().map_err(|source| ConvertError::OciSpec { field: "index".into(), source })
    }
}

impl TryFrom<&oci::ImageIndex> for ImageIndex {
    type Error = ConvertError;
    fn try_from(o: &oci::ImageIndex) -> Result<Self, ConvertError> {
        Ok(ImageIndex {
            schema_version: u64::from(o.schema_version()),
            media_type: o.media_type().as_ref().map(from_oci_media_type),
            artifact_type: o.artifact_type().as_ref().map(from_oci_media_type),
            manifests: descriptors_from_oci(o.manifests(), "manifests")?,
            subject: o.subject().as_ref().map(|s| descriptor_from_oci(s, "subject")).transpose()?,
            annotations: from_hash_map(o.annotations()),
        })
    }
}

impl TryFrom<&ImageManifest> for oci::ImageManifest {
    type Error = ConvertError;
    fn try_from(m: &ImageManifest) -> Result<Self, ConvertError> {
        let mut b = oci::ImageManifestBuilder::default()
            .schema_version(schema_version(m.schema_version)?)
            .config(descriptor_to_oci(&m.config, "config")?)
            .layers(descriptors_to_oci(&m.layers, "layers")?);
        if let Some(mt) = &m.media_type {
            b = b.media_type(media_type(mt));
        }
        if let Some(a) = &m.artifact_type {
            b = b.artifact_type(media_type(a));
        }
        if let Some(s) = &m.subject {
            b = b.subject(descriptor_to_oci(s, "subject")?);
        }
        if let Some(a) = to_hash_map(&m.annotations) {
            b = b.annotations(a);
        }
        b.build().map_err(|source| ConvertError::OciSpec { field: "manifest".into(), source })
    }
}

impl TryFrom<&oci::ImageManifest> for ImageManifest {
    type Error = ConvertError;
    fn try_from(o: &oci::ImageManifest) -> Result<Self, ConvertError> {
        Ok(ImageManifest {
            schema_version: u64::from(o.schema_version()),
            media_type: o.media_type().as_ref().map(from_oci_media_type),
            artifact_type: o.artifact_type().as_ref().map(from_oci_media_type),
            config: descriptor_from_oci(o.config(), "config")?,
            layers: descriptors_from_oci(o.layers(), "layers")?,
            subject: o.subject().as_ref().map(|s| descriptor_from_oci(s, "subject")).transpose()?,
            annotations: from_hash_map(o.annotations()),
        })
    }
}

impl TryFrom<&ImageConfig> for oci::ImageConfiguration {
    type Error = ConvertError;
    /// Fails when `architecture`, `os` or `rootfs.type` is empty: oci-spec requires them.
    fn try_from(c: &ImageConfig) -> Result<Self, ConvertError> {
        required(&c.architecture, "", "architecture")?;
        required(&c.os, "", "os")?;
        required(&c.rootfs.kind, "rootfs", "type")?;
        let mut rootfs = oci::RootFs::default();
        rootfs.set_typ(c.rootfs.kind.clone());
        rootfs.set_diff_ids(c.rootfs.diff_ids.iter().map(ToString::to_string).collect());
        let history = c.history.iter().map(|h| {
            let mut o = oci::History::default();
            o.set_created(h.created.clone());
            o.set_created_by(h.created_by.clone());
            o.set_author(h.author.clone());
            o.set_comment(h.comment.clone());
            o.set_empty_layer(h.empty_layer.then_some(true));
            o
        });
        let mut o = oci::ImageConfiguration::default();
        o.set_architecture(verbatim(&c.architecture, oci::Arch::Other));
        o.set_os(verbatim(&c.os, oci::Os::Other));
        o.set_variant(c.variant.clone());
        o.set_created(c.created.clone());
        o.set_rootfs(rootfs);
        o.set_history((!c.history.is_empty()).then(|| history.collect()));
        Ok(o)
    }
}

impl TryFrom<&oci::ImageConfiguration> for ImageConfig {
    type Error = ConvertError;
    /// Fails on a diffID ocisize cannot verify; keeps only the fields [`ImageConfig`] has.
    fn try_from(o: &oci::ImageConfiguration) -> Result<Self, ConvertError> {
        let diff_ids = o.rootfs().diff_ids().iter().enumerate();
        let diff_ids = diff_ids
            .map(|(i, d)| from_oci_digest(d, || format!("rootfs.diff_ids[{i}]")))
            .collect::<Result<_, _>>()?;
        let history = o.history().iter().flatten().map(|h| History {
            created: h.created().clone(),
            created_by: h.created_by().clone(),
            author: h.author().clone(),
            comment: h.comment().clone(),
            empty_layer: h.empty_layer().unwrap_or(false),
        });
        Ok(ImageConfig {
            architecture: o.architecture().to_string(),
            os: o.os().to_string(),
            variant: o.variant().clone(),
            created: o.created().clone(),
            rootfs: RootFs { kind: o.rootfs().typ().clone(), diff_ids },
            history: history.collect(),
        })
    }
}

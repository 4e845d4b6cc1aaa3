//! Media types of OCI and Docker image documents and layers.
//!
//! [`MediaType`] is what descriptors and documents carry: the well-known types as variants,
//! anything else kept verbatim in [`MediaType::Other`] (image-spec descriptor.md: media types
//! are free-form, and "implementations MUST ignore" unknown ones where they resolve images).
//! The string constants are the exact wire forms.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::Compression;

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI empty descriptor (`{}`), the config of artifacts (image-spec manifest.md, 1.1).
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// OCI layer, plain tar.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// OCI non-distributable layer, plain tar (deprecated in image-spec 1.1).
pub const OCI_LAYER_NONDISTRIBUTABLE: &str =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 1 manifest (unsupported).
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema 1 signed manifest (unsupported).
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer, gzip.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker layer, plain tar (what containerd stores after importing a docker-archive).
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign layer.
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// A media type, typed where ocisize gives it a meaning.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MediaType {
    /// [`OCI_INDEX`].
    OciIndex,
    /// [`OCI_MANIFEST`].
    OciManifest,
    /// [`OCI_CONFIG`].
    OciConfig,
    /// [`OCI_EMPTY`].
    OciEmpty,
    /// [`OCI_LAYER`].
    OciLayer,
    /// [`OCI_LAYER_GZIP`].
    OciLayerGzip,
    /// [`OCI_LAYER_ZSTD`].
    OciLayerZstd,
    /// [`DOCKER_LIST`].
    DockerList,
    /// [`DOCKER_MANIFEST`].
    DockerManifest,
    /// [`DOCKER_MANIFEST_V1`] or [`DOCKER_MANIFEST_V1_SIGNED`] (schema 1, unsupported).
    DockerSchema1 {
        /// Whether it is the signed (`prettyjws`) form.
        signed: bool,
    },
    /// [`DOCKER_CONFIG`].
    DockerConfig,
    /// [`DOCKER_LAYER`].
    DockerLayer,
    /// [`DOCKER_LAYER_GZIP`].
    DockerLayerGzip,
    /// [`DOCKER_FOREIGN_LAYER`].
    DockerForeignLayer,
    /// Any other media type, verbatim (artifact types, nondistributable OCI layers, …).
    Other(String),
}

impl MediaType {
    /// The wire form.
    pub fn as_str(&self) -> &str {
        match self {
            MediaType::OciIndex => OCI_INDEX,
            MediaType::OciManifest => OCI_MANIFEST,
            MediaType::OciConfig => OCI_CONFIG,
            MediaType::OciEmpty => OCI_EMPTY,
            MediaType::OciLayer => OCI_LAYER,
            MediaType::OciLayerGzip => OCI_LAYER_GZIP,
            MediaType::OciLayerZstd => OCI_LAYER_ZSTD,
            MediaType::DockerList => DOCKER_LIST,
            MediaType::DockerManifest => DOCKER_MANIFEST,
            MediaType::DockerSchema1 { signed: false } => DOCKER_MANIFEST_V1,
            MediaType::DockerSchema1 { signed: true } => DOCKER_MANIFEST_V1_SIGNED,
            MediaType::DockerConfig => DOCKER_CONFIG,
            MediaType::DockerLayer => DOCKER_LAYER,
            MediaType::DockerLayerGzip => DOCKER_LAYER_GZIP,
            MediaType::DockerForeignLayer => DOCKER_FOREIGN_LAYER,
            MediaType::Other(s) => s,
        }
    }

    /// An index or manifest list.
    pub fn is_index(&self) -> bool {
        matches!(self, MediaType::OciIndex | MediaType::DockerList)
    }

    /// An image manifest (OCI or Docker schema 2).
    pub fn is_manifest(&self) -> bool {
        matches!(self, MediaType::OciManifest | MediaType::DockerManifest)
    }

    /// A Docker schema 1 manifest.
    pub fn is_schema1(&self) -> bool {
        matches!(self, MediaType::DockerSchema1 { .. })
    }

    /// An image config (OCI or Docker): what makes a manifest an image rather than an
    /// artifact.
    pub fn is_image_config(&self) -> bool {
        matches!(self, MediaType::OciConfig | MediaType::DockerConfig)
    }

    /// The compression a layer media type declares; `None` for a media type that is not a
    /// known layer type.
    ///
    /// OCI allows any `+gzip` / `+zstd` suffix (image-spec media-types.md); the
    /// nondistributable variants share the suffixes.
    pub fn declared_compression(&self) -> Option<Compression> {
        match self {
            MediaType::OciLayerGzip
            | MediaType::DockerLayerGzip
            | MediaType::DockerForeignLayer => Some(Compression::Gzip),
            MediaType::OciLayerZstd => Some(Compression::Zstd),
            MediaType::OciLayer | MediaType::DockerLayer => Some(Compression::None),
            MediaType::Other(s) if s == OCI_LAYER_NONDISTRIBUTABLE => Some(Compression::None),
            MediaType::Other(s) if is_layer_suffixed(s, "+gzip") => Some(Compression::Gzip),
            MediaType::Other(s) if is_layer_suffixed(s, "+zstd") => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// A filesystem layer (tar, compressed or not) of an image.
    pub fn is_layer(&self) -> bool {
        self.declared_compression().is_some()
    }
}

fn is_layer_suffixed(s: &str, suffix: &str) -> bool {
    s.starts_with("application/vnd.oci.image.layer.") && s.ends_with(suffix)
}

impl FromStr for MediaType {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<MediaType, Self::Err> {
        Ok(match s {
            OCI_INDEX => MediaType::OciIndex,
            OCI_MANIFEST => MediaType::OciManifest,
            OCI_CONFIG => MediaType::OciConfig,
            OCI_EMPTY => MediaType::OciEmpty,
            OCI_LAYER => MediaType::OciLayer,
            OCI_LAYER_GZIP => MediaType::OciLayerGzip,
            OCI_LAYER_ZSTD => MediaType::OciLayerZstd,
            DOCKER_LIST => MediaType::DockerList,
            DOCKER_MANIFEST => MediaType::DockerManifest,
            DOCKER_MANIFEST_V1 => MediaType::DockerSchema1 { signed: false },
            DOCKER_MANIFEST_V1_SIGNED => MediaType::DockerSchema1 { signed: true },
            DOCKER_CONFIG => MediaType::DockerConfig,
            DOCKER_LAYER => MediaType::DockerLayer,
            DOCKER_LAYER_GZIP => MediaType::DockerLayerGzip,
            DOCKER_FOREIGN_LAYER => MediaType::DockerForeignLayer,
            other => MediaType::Other(other.to_owned()),
        })
    }
}

impl From<&str> for MediaType {
    fn from(s: &str) -> MediaType {
        match s.parse() {
            Ok(m) => m,
            Err(never) => match never {},
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MediaType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for MediaType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<MediaType, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(MediaType::from(&*s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_classifies() {
        for s in [OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_LAYER, OCI_EMPTY, "x/y"] {
            assert_eq!(MediaType::from(s).as_str(), s);
        }
        assert!(MediaType::from(DOCKER_LIST).is_index());
        assert!(!MediaType::from(OCI_EMPTY).is_image_config());
        assert_eq!(
            MediaType::from("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd")
                .declared_compression(),
            Some(Compression::Zstd)
        );
        assert_eq!(
            MediaType::from("application/vnd.cncf.helm.chart.content.v1.tar+gzip")
                .declared_compression(),
            None,
            "a helm chart is not an image layer"
        );
        let j = serde_json::to_string(&MediaType::from("a/b")).unwrap();
        assert_eq!(j, "\"a/b\"");
        let m: MediaType =
            serde_json::from_str("\"application/vnd.oci.image.index.v1+json\"").unwrap();
        assert_eq!(m, MediaType::OciIndex);
    }
}

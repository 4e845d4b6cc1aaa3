//! The image config (the parts sizing and verification need) and a docker-archive's
//! `manifest.json`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{
    null_as_default, null_entries_as_default, parse_json, Descriptor, Digest, DocumentKind,
    JsonLimits, Platform, SpecError,
};

/// The parts of an image config that sizing and verification need (image-spec config.md).
/// Every other field is ignored.
///
/// A field that is `null` reads as one that is absent, as Go's `encoding/json` reads it, so
/// as docker, containerd and containers/image do: `"history": null`, `"rootfs": null`,
/// `"diff_ids": null`, `"architecture": null`, `"empty_layer": null`, a `null` history
/// entry (an empty one), and `null` anywhere in the fields not kept (`"config": {"Env":
/// null}`). What stays refused: a diffID that is not a digest ocisize can verify (`null`
/// and `""` included, where Go would read an empty string), a value of another JSON type,
/// and a document that is `null`, a string, a number or an array (serde would read a struct
/// from an array of its fields in order; Go's `encoding/json` reads structs from objects only).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct ImageConfig {
    /// CPU architecture.
    #[serde(default, deserialize_with = "null_as_default")]
    pub architecture: String,
    /// Operating system.
    #[serde(default, deserialize_with = "null_as_default")]
    pub os: String,
    /// CPU variant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// Creation time, RFC 3339, as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The layer diffIDs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub rootfs: RootFs,
    /// Build history.
    #[serde(default, deserialize_with = "null_entries_as_default")]
    pub history: Vec<History>,
}

impl ImageConfig {
    /// The platform the config declares.
    pub fn platform(&self) -> Platform {
        Platform {
            architecture: self.architecture.clone(),
            os: self.os.clone(),
            variant: self.variant.clone(),
            os_version: None,
        }
    }
}

/// `rootfs` of an image config (an object, as for [`ImageConfig`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct RootFs {
    /// "MUST be set to `layers`."
    #[serde(default, rename = "type", deserialize_with = "null_as_default")]
    pub kind: String,
    /// "An array of layer content hashes (DiffIDs), in order from first to last."
    #[serde(default, deserialize_with = "null_as_default")]
    pub diff_ids: Vec<Digest>,
}

/// Serialize and deserialize `$t` through the `#[serde(remote = "Self")]` derive, reading it
/// from a JSON object only.
macro_rules! object_only {
    ($t:ty, $what:literal) => {
        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$t>::serialize(self, s)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct Object;
                impl<'de> serde::de::Visitor<'de> for Object {
                    type Value = $t;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!($what, " as a JSON object"))
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<$t, A::Error> {
                        <$t>::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                d.deserialize_map(Object)
            }
        }
    };
}

object_only!(ImageConfig, "an image config");
object_only!(RootFs, "rootfs");

/// One history entry of an image config.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// When the step ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// The command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Who made the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    /// A comment on the step (`buildkit.dockerfile.v0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// True when the step made no layer.
    #[serde(default, deserialize_with = "null_as_default")]
    pub empty_layer: bool,
}

/// One entry of a docker-archive `manifest.json` (moby `image/tarexport`).
///
/// Read as Go reads it, since moby's `manifestItem` and containers/image's `ManifestItem`
/// name their fields without JSON tags: keys match whatever their case (`"config"` is
/// `Config`), the last of two equal keys wins, unknown keys are ignored, and `null`
/// layers read as none. `Config` must be there (a string).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DockerSaveEntry {
    /// Archive path of the config: `<hex>.json` (dockerd), `blobs/sha256/<hex>` (docker ≥ 25,
    /// ctr), or `sha256:<hex>` (crane).
    pub config: String,
    /// Names, familiar form (`ocisize/tiny:latest`). `null` for untagged images.
    pub repo_tags: Option<Vec<String>>,
    /// Archive paths of the layer blobs, base first; `null` reads as none.
    pub layers: Vec<String>,
    /// Foreign-layer descriptors keyed by diffID (Windows images).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer_sources: Option<BTreeMap<Digest, Descriptor>>,
}

impl<'de> Deserialize<'de> for DockerSaveEntry {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = DockerSaveEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a manifest.json entry as a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<DockerSaveEntry, A::Error> {
                let mut config = None;
                let mut e = DockerSaveEntry::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.to_ascii_lowercase().as_str() {
                        "config" => config = Some(map.next_value::<String>()?),
                        "repotags" => e.repo_tags = map.next_value()?,
                        "layers" => {
                            e.layers = map.next_value::<Option<Vec<String>>>()?.unwrap_or_default()
                        }
                        "layersources" => e.layer_sources = map.next_value()?,
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                e.config = config.ok_or_else(|| serde::de::Error::missing_field("Config"))?;
                Ok(e)
            }
        }
        d.deserialize_map(Entry)
    }
}

/// Parse a docker-archive `manifest.json`.
pub fn parse_docker_manifest(
    bytes: &[u8],
    limits: &JsonLimits,
) -> Result<Vec<DockerSaveEntry>, SpecError> {
    parse_json(bytes, DocumentKind::DockerManifest, limits)
}

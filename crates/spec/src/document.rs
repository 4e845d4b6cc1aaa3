//! Size limits for documents, what can be wrong with one, and the parser that enforces both.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::MediaType;

/// Size limits for JSON documents, in bytes.
///
/// The defaults follow containers/image: 4 MiB for manifests and configs
/// (`manifest.MaxManifestBodySize`, `MaxConfigBodySize`) and 1 MiB for a docker-archive's
/// `manifest.json` (`MaxTarballManifestSize`) and other small metadata files.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonLimits {
    /// Largest image manifest or index.
    pub manifest: u64,
    /// Largest image config.
    pub config: u64,
    /// Largest docker-archive `manifest.json`, `index.json`, `oci-layout`, `repositories`.
    pub metadata: u64,
}

impl Default for JsonLimits {
    fn default() -> Self {
        JsonLimits { manifest: 4 << 20, config: 4 << 20, metadata: 1 << 20 }
    }
}

impl JsonLimits {
    /// The limit for a document kind.
    pub fn limit(&self, kind: DocumentKind) -> u64 {
        match kind {
            DocumentKind::Manifest | DocumentKind::Index => self.manifest,
            DocumentKind::Config => self.config,
            DocumentKind::DockerManifest | DocumentKind::OciLayout | DocumentKind::Repositories => {
                self.metadata
            }
        }
    }
}

/// Which kind of document was being read, for error messages and limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocumentKind {
    /// An image manifest (OCI or Docker schema 2).
    Manifest,
    /// An image index or Docker manifest list.
    Index,
    /// An image config.
    Config,
    /// A docker-archive `manifest.json`.
    DockerManifest,
    /// The `oci-layout` marker file.
    OciLayout,
    /// A legacy docker-archive `repositories` file.
    Repositories,
}

impl fmt::Display for DocumentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DocumentKind::Manifest => "image manifest",
            DocumentKind::Index => "image index",
            DocumentKind::Config => "image config",
            DocumentKind::DockerManifest => "docker manifest.json",
            DocumentKind::OciLayout => "oci-layout",
            DocumentKind::Repositories => "repositories",
        })
    }
}

/// Why a document could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The document is larger than its limit.
    #[error("{kind} is {found} bytes, over the limit of {limit} bytes")]
    TooLarge {
        /// What the document is.
        kind: DocumentKind,
        /// The limit in force.
        limit: u64,
        /// The document's size.
        found: u64,
    },
    /// The bytes are not valid JSON of the expected shape (this includes nesting deeper than
    /// serde_json's recursion limit of 128, negative sizes and malformed digests).
    #[error("invalid {kind}: {source}")]
    Json {
        /// What the document is.
        kind: DocumentKind,
        /// The parser's finding, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// A Docker schema 1 manifest, which carries no config and no diffIDs.
    #[error("docker schema 1 manifests are not supported (deprecated since docker 1.10)")]
    Schema1,
    /// `schemaVersion` is not 2.
    #[error("unsupported schemaVersion {found} in {kind}, expected 2")]
    SchemaVersion {
        /// What the document is.
        kind: DocumentKind,
        /// The version found.
        found: u64,
    },
    /// The document is neither an image manifest nor an index.
    #[error("document is neither an image manifest nor an image index (mediaType {media_type:?})")]
    NotAManifest {
        /// The mediaType field, if any.
        media_type: Option<MediaType>,
    },
}

/// Parse a JSON document of a known kind, enforcing its size limit.
pub fn parse_json<T: for<'de> Deserialize<'de>>(
    bytes: &[u8],
    kind: DocumentKind,
    limits: &JsonLimits,
) -> Result<T, SpecError> {
    let limit = limits.limit(kind);
    if bytes.len() as u64 > limit {
        return Err(SpecError::TooLarge { kind, limit, found: bytes.len() as u64 });
    }
    serde_json::from_slice(bytes).map_err(|source| SpecError::Json { kind, source })
}

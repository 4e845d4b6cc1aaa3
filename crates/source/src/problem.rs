//! What can be wrong with a source, as kinds programs match on and messages people read.

use std::fmt;

use ocisize_digest::Digest;
use serde::{Deserialize, Serialize};

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Verification failed: the result cannot be trusted (exit status 1).
    Error,
    /// Worth knowing; the figures are still right.
    Warning,
}

/// What kind of problem it is. Stable names (kebab-case in JSON), listed in `docs/json.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ProblemKind {
    /// A blob, member or file that something references is not in the source.
    MissingBlob,
    /// A blob's bytes hash to another digest than its descriptor's.
    DigestMismatch,
    /// A blob's length differs from its descriptor's size.
    SizeMismatch,
    /// A layer's uncompressed content does not hash to the config's diffID.
    DiffIdMismatch,
    /// A docker-archive member's name promises a digest its bytes do not have (docker,
    /// podman and ctr still load it: the image ID is the digest of the bytes).
    NamedDigestMismatch,
    /// A layer's media type declares another compression than its bytes have.
    CompressionMislabelled,
    /// A layer does not decompress, or is not a valid tar.
    CorruptLayer,
    /// A JSON document is malformed or of the wrong shape.
    InvalidDocument,
    /// A document of a schema ocisize does not read (Docker schema 1, schemaVersion ≠ 2,
    /// a list nested where the format allows none).
    UnsupportedSchema,
    /// A digest algorithm ocisize cannot verify, or a blob stored under another algorithm.
    UnsupportedAlgorithm,
    /// The config's diffIDs and the manifest's layers differ in number.
    LayerCountMismatch,
    /// A size or count limit was reached; what is over it is not read.
    LimitExceeded,
    /// A member or link that leaves the source's root; refused.
    UnsafePath,
    /// A link chain that loops or is too long.
    LinkLoop,
    /// Two different members of one archive share a name.
    DuplicateMember,
    /// A name (a RepoTags entry, a reference) that the runtimes refuse.
    InvalidName,
    /// A platform an index lists is not in the layout (the image-layout spec allows it).
    PlatformAbsent,
    /// A runtime refuses to load this image from this source; its figure is not given.
    RuntimeRefuses,
    /// A layout file the spec requires is absent (`oci-layout`).
    LayoutIncomplete,
    /// The source holds no image, or none that the reference selects.
    NoImage,
    /// Reading failed (I/O error, a truncated member).
    ReadFailed,
}

impl ProblemKind {
    /// The kebab-case name used in JSON.
    pub fn name(self) -> &'static str {
        match self {
            ProblemKind::MissingBlob => "missing-blob",
            ProblemKind::DigestMismatch => "digest-mismatch",
            ProblemKind::SizeMismatch => "size-mismatch",
            ProblemKind::DiffIdMismatch => "diff-id-mismatch",
            ProblemKind::NamedDigestMismatch => "named-digest-mismatch",
            ProblemKind::CompressionMislabelled => "compression-mislabelled",
            ProblemKind::CorruptLayer => "corrupt-layer",
            ProblemKind::InvalidDocument => "invalid-document",
            ProblemKind::UnsupportedSchema => "unsupported-schema",
            ProblemKind::UnsupportedAlgorithm => "unsupported-algorithm",
            ProblemKind::LayerCountMismatch => "layer-count-mismatch",
            ProblemKind::LimitExceeded => "limit-exceeded",
            ProblemKind::UnsafePath => "unsafe-path",
            ProblemKind::LinkLoop => "link-loop",
            ProblemKind::DuplicateMember => "duplicate-member",
            ProblemKind::InvalidName => "invalid-name",
            ProblemKind::PlatformAbsent => "platform-absent",
            ProblemKind::RuntimeRefuses => "runtime-refuses",
            ProblemKind::LayoutIncomplete => "layout-incomplete",
            ProblemKind::NoImage => "no-image",
            ProblemKind::ReadFailed => "read-failed",
        }
    }
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A verification failure or a warning: what kind, where, and the sentence for people.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// What kind of problem, for programs.
    pub kind: ProblemKind,
    /// The input path.
    pub file: Option<String>,
    /// The member of the archive or file of the layout.
    pub member: Option<String>,
    /// The blob concerned.
    pub digest: Option<Digest>,
    /// What was expected and what was found.
    pub message: String,
}

impl Problem {
    /// An error.
    pub fn error(kind: ProblemKind, message: impl Into<String>) -> Problem {
        Problem {
            severity: Severity::Error,
            kind,
            file: None,
            member: None,
            digest: None,
            message: message.into(),
        }
    }

    /// A warning.
    pub fn warning(kind: ProblemKind, message: impl Into<String>) -> Problem {
        Problem { severity: Severity::Warning, ..Problem::error(kind, message) }
    }

    /// The same, naming a member.
    pub fn member(mut self, member: impl Into<String>) -> Problem {
        self.member = Some(member.into());
        self
    }

    /// The same, naming a blob.
    pub fn digest(mut self, digest: Option<Digest>) -> Problem {
        self.digest = digest;
        self
    }

    /// Whether it is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Problems in the order found, each reported once: a blob that several images share is
/// checked for each of them, and its failure is still one problem.
#[derive(Clone, Debug, Default)]
pub struct Problems {
    list: Vec<Problem>,
    seen: std::collections::HashSet<Problem>,
}

impl Problems {
    /// Record a problem (a second identical one is dropped).
    pub fn push(&mut self, p: Problem) {
        if self.seen.insert(p.clone()) {
            self.list.push(p);
        }
    }

    /// Errors recorded so far.
    pub fn errors(&self) -> usize {
        self.list.iter().filter(|p| p.is_error()).count()
    }

    /// All of them, in order.
    pub fn as_slice(&self) -> &[Problem] {
        &self.list
    }

    /// All of them, in order.
    pub fn into_vec(self) -> Vec<Problem> {
        self.list
    }
}

impl Extend<Problem> for Problems {
    fn extend<T: IntoIterator<Item = Problem>>(&mut self, iter: T) {
        for p in iter {
            self.push(p);
        }
    }
}

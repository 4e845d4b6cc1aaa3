//! Errors: a source that cannot be read at all, and a member whose content is unavailable.

use std::io;

use ocisize_spec::DocumentKind;

use crate::{Format, ProblemKind};

/// The source could not be read at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Opening or reading the input failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The input path (`-` for standard input).
        path: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The input is not a tar archive (after removing any gzip/zstd wrapper).
    #[error("{path} is not a tar archive, an OCI layout or a dir: layout: {source}")]
    NotAnArchive {
        /// The input path.
        path: String,
        /// The tar reader's finding.
        #[source]
        source: io::Error,
    },
    /// The input is a JSON document (a manifest, a config, an index) rather than an image.
    #[error(
        "{path} is a JSON document, not an image source: ocisize reads an OCI layout or a \
         dir: layout (a directory), or an oci-archive or docker-archive (a tar, possibly gzip- \
         or zstd-compressed, or '-' for standard input)"
    )]
    JsonDocument {
        /// The input path.
        path: String,
    },
    /// The archive ends early: in the middle of a member, or of a header.
    #[error("{path} is truncated: {}", truncation(.member.as_deref(), *.at, *.expected, *.found))]
    Truncated {
        /// The input path.
        path: String,
        /// The member being read, when the cut is inside one.
        member: Option<String>,
        /// The byte of the (uncompressed) archive where it ends.
        at: u64,
        /// The member's declared size.
        expected: u64,
        /// Bytes of the member present.
        found: u64,
    },
    /// Reading a member failed.
    #[error("cannot read member {member} of {path}: {source}")]
    Member {
        /// The input path.
        path: String,
        /// The member.
        member: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The files found match no known layout.
    #[error("{path}: cannot tell the image format: {reason}")]
    UnknownFormat {
        /// The input path.
        path: String,
        /// What was found.
        reason: String,
    },
    /// The format forced by a prefix does not match the files found.
    #[error("{path} is not an {expected}: {reason}")]
    WrongFormat {
        /// The input path.
        path: String,
        /// The forced format.
        expected: Format,
        /// What is missing.
        reason: String,
    },
    /// The archive holds more members than allowed.
    #[error("{path} holds more than {limit} members")]
    TooManyMembers {
        /// The input path.
        path: String,
        /// The limit.
        limit: u64,
    },
}

fn truncation(member: Option<&str>, at: u64, expected: u64, found: u64) -> String {
    match member {
        Some(m) if found == expected => {
            format!("member {m} ends at byte {at} of the archive, in the padding after its {expected} bytes")
        }
        Some(m) => format!(
            "member {m} ends at byte {at} of the archive, after {found} of its {expected} bytes"
        ),
        None => format!("the archive ends at byte {at}, inside a tar header"),
    }
}

/// Why a member's content is unavailable.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum MemberError {
    /// No such file.
    #[error("{member} is missing from {source_path}")]
    Missing {
        /// The input path.
        source_path: String,
        /// The member or file.
        member: String,
    },
    /// The member was refused when the source was read (it leaves the root).
    #[error("{member} in {source_path} {reason}; refused")]
    Refused {
        /// The input path.
        source_path: String,
        /// The member or file.
        member: String,
        /// Why.
        reason: String,
    },
    /// A document is too large to keep.
    #[error("{member} in {source_path} is {found} bytes, over the {kind} limit of {limit} bytes")]
    TooLarge {
        /// The input path.
        source_path: String,
        /// The member.
        member: String,
        /// The document kind.
        kind: DocumentKind,
        /// The limit.
        limit: u64,
        /// The member's size.
        found: u64,
    },
    /// A member is not a JSON document.
    #[error("{member} in {source_path} is not a JSON document (expected an {kind})")]
    NotJson {
        /// The input path.
        source_path: String,
        /// The member.
        member: String,
        /// What it should have been.
        kind: DocumentKind,
    },
    /// Reading a layout file or an archive member failed.
    #[error("cannot read {path}: {message}")]
    Io {
        /// The file (and member).
        path: String,
        /// The error text (kept as text so results can be shared).
        message: String,
    },
    /// A link chain is too long or loops.
    #[error("{member} in {source_path} is a link chain that loops or is too long")]
    LinkLoop {
        /// The input path.
        source_path: String,
        /// The member.
        member: String,
    },
}

impl MemberError {
    /// The member or file concerned.
    pub fn member(&self) -> Option<&str> {
        match self {
            MemberError::Missing { member, .. }
            | MemberError::Refused { member, .. }
            | MemberError::TooLarge { member, .. }
            | MemberError::NotJson { member, .. }
            | MemberError::LinkLoop { member, .. } => Some(member),
            MemberError::Io { path, .. } => Some(path),
        }
    }

    /// The kind of problem it is.
    pub fn kind(&self) -> ProblemKind {
        match self {
            MemberError::Missing { .. } => ProblemKind::MissingBlob,
            MemberError::Refused { .. } => ProblemKind::UnsafePath,
            MemberError::TooLarge { .. } => ProblemKind::LimitExceeded,
            MemberError::NotJson { .. } => ProblemKind::InvalidDocument,
            MemberError::Io { .. } => ProblemKind::ReadFailed,
            MemberError::LinkLoop { .. } => ProblemKind::LinkLoop,
        }
    }
}

impl SourceError {
    /// A stable kebab-case name for the kind of failure (`docs/json.md`).
    pub fn kind(&self) -> &'static str {
        match self {
            SourceError::Io { .. } => "read-failed",
            SourceError::NotAnArchive { .. } => "not-an-archive",
            SourceError::JsonDocument { .. } => "json-document",
            SourceError::Truncated { .. } => "truncated",
            SourceError::Member { .. } => "read-failed",
            SourceError::UnknownFormat { .. } => "unknown-format",
            SourceError::WrongFormat { .. } => "wrong-format",
            SourceError::TooManyMembers { .. } => "limit-exceeded",
        }
    }
}

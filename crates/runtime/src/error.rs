//! Why a store could not be read.

use std::io;
use std::path::PathBuf;

use crate::Kind;

/// Why a runtime store could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory could not be read.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A JSON file is larger than its limit.
    #[error("{}: {found} bytes, over the limit of {limit} bytes", .path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// The limit in force.
        limit: u64,
        /// The file's size.
        found: u64,
    },
    /// A JSON file does not parse (read twice: it was not a write in progress).
    #[error("{}: invalid json: {source}", .path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's finding.
        #[source]
        source: serde_json::Error,
    },
    /// A value in a store file is not what the runtime writes.
    #[error("{}: {field}: expected {expected}, found {found:?}", .path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field or key.
        field: String,
        /// What the runtime writes there.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The directory is not a store of that kind.
    #[error("{} is not a {kind} store: {reason}", .path.display())]
    NotAStore {
        /// The directory.
        path: PathBuf,
        /// The kind asked for.
        kind: Kind,
        /// What is missing.
        reason: String,
    },
    /// The store's files disagree twice in a row (an image names a layer the layer store
    /// does not have): a writer is at work, or the store is damaged.
    #[error("{}: {reason} (read twice)", .path.display())]
    Inconsistent {
        /// The store.
        path: PathBuf,
        /// What disagrees.
        reason: String,
    },
    /// A containerd database could not be read.
    #[error(transparent)]
    Containerd(#[from] ocisize_containerd::Error),
    /// A content store could not be listed.
    #[error(transparent)]
    Source(#[from] Box<ocisize_source::SourceError>),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn invalid(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        expected: &'static str,
        found: impl Into<String>,
    ) -> Error {
        Error::Invalid { path: path.into(), field: field.into(), expected, found: found.into() }
    }
}

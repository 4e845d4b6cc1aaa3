//! The store's error type.

use std::io;
use std::path::{Path, PathBuf};

use ocisize_digest::Digest;

/// Why a store operation failed.
///
/// Every variant names what it is about: the store or file path, the ingest ref (for a
/// write, the caller's name of the source member) and the digest, expected and found.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file system operation failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done: `read`, `create`, `rename`, `lock`, …
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// [`Store::open`](crate::Store::open) of a directory that does not exist.
    #[error("no store at {}", path.display())]
    NotFound {
        /// The store directory.
        path: PathBuf,
    },
    /// The directory is not an OCI image layout this store can use.
    #[error("{} is not an OCI image layout: {reason}", path.display())]
    NotALayout {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// [`Store::create`](crate::Store::create) of a directory that holds a store already.
    #[error("a store exists already at {}", path.display())]
    AlreadyExists {
        /// The store directory.
        path: PathBuf,
    },
    /// No default store path: neither `$OCISIZE_STORE`, `$XDG_DATA_HOME` nor `$HOME` is set.
    #[error("no store path: set OCISIZE_STORE, XDG_DATA_HOME or HOME")]
    NoDefaultPath,
    /// `index.json` could not be parsed.
    #[error("invalid index {}: {source}", path.display())]
    Index {
        /// The index file.
        path: PathBuf,
        /// The parser's finding.
        #[source]
        source: ocisize_spec::SpecError,
    },
    /// A write went past the size the writer was opened with.
    #[error("ingest {reference:?} is longer than its expected size of {expected} bytes")]
    TooLong {
        /// The ingest ref.
        reference: String,
        /// The expected size.
        expected: u64,
    },
    /// The bytes written do not have the expected size; nothing was committed.
    #[error("size mismatch for {reference:?}: expected {expected} bytes, found {found}")]
    SizeMismatch {
        /// The ingest ref.
        reference: String,
        /// The expected size.
        expected: u64,
        /// The size written (for an overrun, the size the writes attempted to reach).
        found: u64,
    },
    /// The bytes written do not hash to the expected digest; nothing was committed.
    #[error("digest mismatch for {reference:?}: expected {expected}, found {found}")]
    DigestMismatch {
        /// The ingest ref.
        reference: String,
        /// The expected digest.
        expected: Digest,
        /// The digest of the bytes written.
        found: Digest,
    },
    /// The ingest's data file does not hold what this writer wrote (something else wrote
    /// to it); nothing was committed.
    #[error("ingest {reference:?} changed under its writer: {} holds {found} bytes, {expected} were written", path.display())]
    IngestChanged {
        /// The ingest ref.
        reference: String,
        /// The data file.
        path: PathBuf,
        /// Bytes the writer wrote.
        expected: u64,
        /// Bytes the file holds.
        found: u64,
    },
    /// An empty ingest ref.
    #[error("an ingest ref must not be empty")]
    EmptyRef,
    /// The blob is not in the store.
    #[error("blob {digest} is not in the store")]
    BlobNotFound {
        /// The digest asked for.
        digest: Digest,
    },
    /// A name would point at a blob the store does not hold (or holds with another size).
    #[error("{name} cannot point at {digest} ({size} bytes): the store holds no such blob")]
    NameTargetMissing {
        /// The name.
        name: String,
        /// The descriptor's digest.
        digest: Digest,
        /// The descriptor's size.
        size: u64,
    },
    /// A descriptor for `index.json` has no media type (image-spec: REQUIRED).
    #[error("{name} cannot point at {digest}: the descriptor has no mediaType")]
    NoMediaType {
        /// The name.
        name: String,
        /// The descriptor's digest.
        digest: Digest,
    },
    /// A directory under `blobs/` names an algorithm the store does not hold.
    #[error("{}: unsupported digest algorithm {algorithm:?} (supported: sha256, sha512)", path.display())]
    UnsupportedAlgorithm {
        /// The algorithm as named.
        algorithm: String,
        /// The directory.
        path: PathBuf,
    },
    /// A file under `blobs/<alg>/` whose name is not a digest, or an entry that is not a
    /// regular file.
    #[error("{}: not a blob ({reason})", path.display())]
    NotABlob {
        /// The entry.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A sweep's live set does not hold a blob that `index.json` names: the mark is
    /// incomplete, and sweeping would delete a named image.
    #[error("the live set misses {digest}, which index.json lists{}", name.as_ref().map(|n| format!(" as {n}")).unwrap_or_default())]
    LiveSetMissesRoot {
        /// The digest listed by `index.json`.
        digest: Digest,
        /// Its name, if it has one.
        name: Option<String>,
    },
    /// An exclusive operation (sweep, delete) was asked for while this process holds a
    /// writer or lease on the same store: waiting for the lock would never end.
    #[error("cannot lock {} exclusively: this process holds a writer or lease on it", path.display())]
    HeldByThisProcess {
        /// The store directory.
        path: PathBuf,
    },
    /// The source of an import could not be read.
    #[error(transparent)]
    Source(#[from] ocisize_source::SourceError),
    /// An import's source failed verification: nothing was committed.
    #[error("{source_path}{}: {message}{}", member.as_ref().map(|m| format!(" (member {m})")).unwrap_or_default(), found_text(*expected, *found, message))]
    Invalid {
        /// The source.
        source_path: String,
        /// The member at fault, if one is.
        member: Option<String>,
        /// The digest the member should have, if known.
        expected: Option<Digest>,
        /// The digest of the member's bytes, if it was read.
        found: Option<Digest>,
        /// What verification found.
        message: String,
    },
    /// An image of an import's source has no name the store can use.
    #[error("{source_path}: image {digest} has {}; pass --name", if tags.is_empty() { "no name".to_owned() } else { format!("only the tag {} with no repository", tags.join(", ")) })]
    NoName {
        /// The source.
        source_path: String,
        /// The image (its manifest or index).
        digest: Digest,
        /// Bare tags the source gives it.
        tags: Vec<String>,
    },
    /// Names were given for an import whose source holds several images.
    #[error(
        "{source_path} holds {images} images: names can be given only for a source of one image"
    )]
    AmbiguousNames {
        /// The source.
        source_path: String,
        /// How many images (index or manifest roots) it holds.
        images: usize,
    },
    /// The store holds no image of this name.
    #[error("no image named {name} in the store")]
    NoSuchName {
        /// The name asked for.
        name: String,
    },
    /// An image has no manifest for the platform asked for.
    #[error("{name} has no image for {platform} (it has {})", if available.is_empty() { "none".to_owned() } else { available.join(", ") })]
    NoSuchPlatform {
        /// The name.
        name: String,
        /// The platform asked for.
        platform: String,
        /// The platforms it has.
        available: Vec<String>,
    },
    /// An export destination that cannot be used.
    #[error("cannot export to {dest}: {reason}")]
    Destination {
        /// The destination as given.
        dest: String,
        /// Why.
        reason: String,
    },
    /// A document in the store could not be read or is damaged: gc would not know what it
    /// references, so it removes nothing.
    #[error("{message}; run fsck")]
    Damaged {
        /// The blob.
        digest: Option<Digest>,
        /// What is wrong.
        message: String,
    },
}

impl StoreError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        StoreError::Io { action, path: path.into(), source }
    }

    /// The store error carried inside an [`io::Error`] returned by
    /// [`Writer`](crate::Writer)'s `io::Write` methods.
    pub fn from_io(err: &io::Error) -> Option<&StoreError> {
        err.get_ref().and_then(|e| e.downcast_ref::<StoreError>())
    }
}

/// `(expected …, found …)` unless the message says both already.
fn found_text(expected: Option<Digest>, found: Option<Digest>, message: &str) -> String {
    match (expected, found) {
        (Some(e), Some(f))
            if e != f
                && !(message.contains(&e.to_string()) && message.contains(&f.to_string())) =>
        {
            format!(" (expected {e}, found {f})")
        }
        _ => String::new(),
    }
}

/// `Result` with [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Attach an action and a path to an `io::Result`.
pub(crate) trait IoContext<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn at(self, action: &'static str, path: &Path) -> Result<T> {
        self.map_err(|e| StoreError::io(action, path, e))
    }
}

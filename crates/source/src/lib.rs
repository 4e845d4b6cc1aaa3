//! Where image blobs come from, and what they mean: the source model.
//!
//! Reading a source is two steps. First its files: a [`Catalog`] holds the members of an
//! archive or the files of a layout directory, by path, and where their bytes are.
//! Archives, compressed archives and standard input are read in **one streaming pass**:
//! every member is hashed, measured and, if it is compressed or a tar, decompressed and
//! walked as it passes ([`measure_reader`]), and small JSON members are kept, so a
//! `manifest.json` that comes last is still resolved afterwards without a second read or a
//! temporary copy. Layout directories and plain archive files are read lazily: only the
//! blobs an image references are measured, each once, several at a time.
//!
//! Then what they mean: a format adapter ([`formats`]) detects the format and owns its
//! naming rules — its named roots and the member a descriptor's blob is stored as — behind
//! the [`Source`] trait. On any `Source`, [`walk()`] follows the documents from the roots
//! to every image and artifact ([`Graph`]), and [`verify`] checks each blob against what
//! references it. Every finding is a [`Problem`] with a [`ProblemKind`].
//!
//! A [`Tee`] in the [`ScanOptions`] receives each member's bytes while they are measured,
//! so a caller can keep them (the content store does) without reading the source twice.
//!
//! ```
//! use ocisize_source::{open, walk, ScanOptions, Source, SourceArg};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/corpus/tiny.umoci.oci");
//! let arg: SourceArg = format!("oci:{path}").parse().unwrap();
//! let options = ScanOptions::default();
//! let source = open(&arg, &options).unwrap();
//! let graph = walk(&source, &options.limits);
//! assert_eq!(graph.images.len(), 2, "amd64 and arm64, tagged latest and arm64");
//! assert_eq!(graph.images[0].layers.len(), 4);
//! assert!(graph.problems.as_slice().is_empty());
//! ```
#![deny(missing_docs)]

mod arg;
mod catalog;
mod error;
pub mod formats;
mod graph;
mod limits;
mod measure;
pub mod model;
mod parallel;
mod problem;
mod scan;
pub mod verify;
pub mod walk;

use std::fmt;
use std::io;
use std::sync::Arc;

pub use arg::{ArgError, Input, Selection, SourceArg};
pub use catalog::{algorithm_for, Catalog};
pub use error::{MemberError, SourceError};
pub use formats::{FileSource, Format};
pub use limits::Limits;
pub use measure::{measure_reader, MeasureWith, Measured, Tee};
pub use model::{BlobRef, Refusal, Role, Root, RootTarget, Roots, Runtime, Source};
pub use ocisize_layer::Pipeline;
pub use parallel::Parallelism;
pub use problem::{Problem, ProblemKind, Problems, Severity};
pub use walk::{walk, Graph};

/// Compression around the whole archive (`docker save img | gzip > img.tar.gz`), detected
/// from the magic bytes as a layer's is: the same three cases, `none` for a plain tar or a
/// directory.
pub type Wrapper = ocisize_layer::Compression;

/// How a source is read: the limits, the threads, and who watches the bytes go by.
#[derive(Clone, Default)]
pub struct ScanOptions {
    /// Every limit.
    pub limits: Limits,
    /// How many threads reading may use.
    pub parallelism: Parallelism,
    /// Called with the number of input bytes consumed, as they are consumed.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// Receives every member's bytes as they are measured.
    pub tee: Option<Arc<dyn Tee>>,
}

impl fmt::Debug for ScanOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScanOptions")
            .field("limits", &self.limits)
            .field("parallelism", &self.parallelism)
            .field("progress", &self.progress.is_some())
            .field("tee", &self.tee.is_some())
            .finish()
    }
}

/// Open a source: read its files (a streamed archive is read whole, now) and detect its
/// format, or check the one the argument's prefix forces.
pub fn open(arg: &SourceArg, options: &ScanOptions) -> Result<FileSource, SourceError> {
    let catalog = scan::read(&arg.input, options)?;
    FileSource::detect(catalog, arg.format, arg.selection.clone())
}

/// The files of a directory as a catalog, with no format detected: for a store whose
/// format adapter lives elsewhere (a runtime's content store holds `blobs/<alg>/<hex>` like
/// an OCI layout, but its roots are in the runtime's database).
pub fn open_dir(path: &std::path::Path, options: &ScanOptions) -> Result<Catalog, SourceError> {
    scan::list_dir(path, path.display().to_string(), options)
}

/// Open an archive (plain, gzip- or zstd-wrapped) read from any reader, in one streaming
/// pass, as `-` reads standard input. `name` is what reports call the input.
pub fn open_reader<R: io::Read>(
    reader: R,
    name: &str,
    format: Option<Format>,
    options: &ScanOptions,
) -> Result<FileSource, SourceError> {
    let catalog = scan::stream(reader, name.to_owned(), options)?;
    FileSource::detect(catalog, format, None)
}

//! How big is a container image, on disk and on the wire, and where do the bytes go?
//!
//! [`inspect`] reads an image source of any local format (OCI layout, oci-archive,
//! docker-archive in every dialect, containers/image `dir:`, gzip- or zstd-wrapped archives,
//! standard input), verifies every blob against its descriptor while it streams (size,
//! digest, and the diffID of every decompressed layer), and reports the sizes every runtime
//! would show for it: `docker images` (vfs and overlay2), `podman images`, `ctr images ls`
//! and `crictl images`, plus the compressed and uncompressed totals.
//!
//! ```no_run
//! use ocisize::{inspect, Options};
//!
//! let report = inspect(&"docker-archive:image.tar".parse().unwrap(), &Options::default())?;
//! for image in &report.images {
//!     println!(
//!         "{:?}: compressed {:?} bytes, docker shows {:?}",
//!         image.names, image.sizes.compressed, image.printed.docker
//!     );
//! }
//! assert!(report.verified());
//! # Ok::<(), ocisize::InspectError>(())
//! ```
//!
//! Figures follow each tool's own rule, documented in `docs/sizes.md`:
//! docker counts unpacked file bytes, podman uncompressed tar bytes plus the documents it
//! stores, containerd the blobs in its content store.
#![deny(missing_docs)]

mod report;
mod resolve;
pub mod sizes;

pub use ocisize_units as units;

pub use ocisize_digest::{Algorithm, Digest};
pub use ocisize_layer::{Compression, Limits as LayerLimits};
pub use ocisize_source::{Format, Input, Pipeline, ScanOptions, SourceArg, Wrapper};
pub use ocisize_spec::JsonLimits;
pub use report::{
    FileCounts, ImageReport, LayerReport, Printed, Problem, Report, RuntimeDigests, Severity,
    Sizes, SourceReport,
};

/// Options for [`inspect`].
#[derive(Clone, Debug)]
pub struct Options {
    /// How the source is read: JSON and decompression limits, progress callback.
    pub scan: ScanOptions,
    /// Threads used to read blobs in parallel: the layers of a layout directory or of an
    /// archive file (a compressed archive or standard input streams in one pass). With `1`,
    /// a [`Pipeline::Auto`] in `scan` becomes [`Pipeline::Serial`]: one thread in all.
    pub jobs: usize,
    /// Read and verify every layer (the default). When false, only the documents (index,
    /// manifests, configs) are read and checked: layer sizes come from descriptors and the
    /// archive's index, diffIDs from the config, and every figure that needs the layer
    /// contents is `null`. Archives that stream (compressed, stdin) are read whole anyway,
    /// and then fully verified.
    pub verify: bool,
    /// Most layers one image may have (default 4,096; docker's overlay2 stops at 125). An
    /// image over the limit is reported without reading its layers.
    pub max_layers: usize,
    /// Most images one source may hold (default 65,536); the rest are not reported.
    pub max_images: usize,
}

impl Default for Options {
    fn default() -> Self {
        let jobs = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        Options {
            scan: ScanOptions::default(),
            jobs,
            verify: true,
            max_layers: 4096,
            max_images: 65536,
        }
    }
}

/// The source could not be read at all; a report could not be made.
///
/// Everything short of that (a missing blob, a digest mismatch, a corrupt layer) is a
/// [`Problem`] in the [`Report`] instead.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// Opening or scanning the source failed.
    #[error(transparent)]
    Source(#[from] ocisize_source::SourceError),
    /// The inspection did not complete (a worker thread stopped before reporting).
    #[error("the inspection was interrupted before it completed")]
    Interrupted,
}

/// Inspect an image source: resolve its images, verify every blob and compute every size.
pub fn inspect(arg: &SourceArg, options: &Options) -> Result<Report, InspectError> {
    let catalog = ocisize_source::Catalog::open(arg, &scan_options(options))?;
    Ok(resolve::report(&catalog, options))
}

/// Inspect an archive read from any reader (plain tar, or gzip/zstd-wrapped), in one
/// streaming pass. `name` is how the report names the input.
///
/// ```
/// let tar = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"),
///     "/../../testdata/corpus/tiny.dockerd.save.tar")).unwrap();
/// let report = ocisize::inspect_reader(&tar[..], "tiny.tar", &Default::default()).unwrap();
/// assert!(report.verified());
/// assert_eq!(report.images[0].printed.docker.as_deref(), Some("2.31MB"));
/// ```
pub fn inspect_reader<R: std::io::Read>(
    reader: R,
    name: &str,
    options: &Options,
) -> Result<Report, InspectError> {
    let catalog = ocisize_source::Catalog::from_reader(reader, name, None, &scan_options(options))?;
    Ok(resolve::report(&catalog, options))
}

fn scan_options(options: &Options) -> ScanOptions {
    let mut scan = options.scan.clone();
    if options.jobs <= 1 && scan.pipeline == Pipeline::Auto {
        scan.pipeline = Pipeline::Serial;
    }
    scan
}

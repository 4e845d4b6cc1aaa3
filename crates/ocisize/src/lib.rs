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
//! [`du()`] reads a node's image stores together (docker, containerd per namespace,
//! containers-storage, and image files): the images held more than once and what removing
//! the extra copies would free (`docs/du.md`).
//!
//! Figures follow each tool's own rule, documented in `docs/sizes.md`:
//! docker counts unpacked file bytes, podman uncompressed tar bytes plus the documents it
//! stores, containerd the blobs in its content store.
#![deny(missing_docs)]

mod assemble;
mod diff;
pub mod du;
mod report;
pub mod sizes;
mod waste;

use std::fmt;
use std::sync::Arc;

pub use ocisize_units as units;

pub use diff::{
    diff, ChangeKind, ChangeReason, DiffImage, DiffLayer, DiffLayers, DiffOptions, DiffReport,
    FileChange, FileDiff, FileState,
};
pub use du::{du, DuOptions, DuReport, DuSource};
pub use ocisize_digest::{Algorithm, Digest};
pub use ocisize_layer::{Compression, Limits as LayerLimits};
pub use ocisize_reference::Reference;
pub use ocisize_source::{
    Format, Input, Limits, Parallelism, Pipeline, Problem, ProblemKind, ScanOptions, Selection,
    Severity, Source, SourceArg, SourceError, Tee, Wrapper,
};
pub use ocisize_spec::{JsonLimits, MediaType};
pub use report::{
    ArtifactBlob, ArtifactReport, Efficiency, FileCounts, FileWaste, ImageReport, LayerReport,
    Printed, Report, RuntimeDigests, Sizes, SourceReport, WastedPath,
};

/// Options for [`inspect`].
#[derive(Clone)]
pub struct Options {
    /// Every limit: JSON documents, decompression, members, layers, images.
    pub limits: Limits,
    /// How many threads to use: blobs of a layout or an archive file are read in parallel
    /// (a compressed archive or standard input streams in one pass), and so are several
    /// sources ([`inspect_many`]). One thread does everything on the calling thread.
    pub parallelism: Parallelism,
    /// Read and verify every layer (the default). When false, only the documents (index,
    /// manifests, configs) are read and checked: layer sizes come from descriptors and the
    /// archive's index, diffIDs from the config, and every figure that needs the layer
    /// contents is `null`. Archives that stream (compressed, stdin) are read whole anyway,
    /// and then fully verified.
    pub verify: bool,
    /// Called with the number of input bytes consumed, as they are consumed.
    pub progress: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// Receives every member's bytes as they are verified (see [`Tee`]).
    pub tee: Option<Arc<dyn Tee>>,
    /// Also account for the files: record every layer's entries in the same single pass
    /// (sets [`LayerLimits::files`]) and report per image what later layers hide
    /// ([`ImageReport::files`]). Off by default: without it inspect keeps nothing per entry.
    /// It needs the layers read: with `verify` off no layer is, and `files` stays `None`.
    pub files: bool,
    /// How many of the most wasteful paths [`FileWaste::top`] lists. Default 20.
    pub files_top: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            limits: Limits::default(),
            parallelism: Parallelism::available(),
            verify: true,
            progress: None,
            tee: None,
            files: false,
            files_top: 20,
        }
    }
}

impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Options")
            .field("limits", &self.limits)
            .field("parallelism", &self.parallelism)
            .field("verify", &self.verify)
            .field("progress", &self.progress.is_some())
            .field("tee", &self.tee.is_some())
            .field("files", &self.files)
            .field("files_top", &self.files_top)
            .finish()
    }
}

impl Options {
    /// How the source is read.
    pub fn scan(&self) -> ScanOptions {
        let mut limits = self.limits.clone();
        limits.layer.files |= self.files;
        ScanOptions {
            limits,
            parallelism: self.parallelism,
            progress: self.progress.clone(),
            tee: self.tee.clone(),
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
    Source(#[from] SourceError),
    /// The inspection did not complete (a worker thread stopped before reporting).
    #[error("the inspection was interrupted before it completed")]
    Interrupted,
}

impl InspectError {
    /// A stable kebab-case name for the kind of failure (`docs/json.md`).
    pub fn kind(&self) -> &'static str {
        match self {
            InspectError::Source(e) => e.kind(),
            InspectError::Interrupted => "interrupted",
        }
    }
}

/// Inspect an image source: resolve its images, verify every blob and compute every size.
pub fn inspect(arg: &SourceArg, options: &Options) -> Result<Report, InspectError> {
    let source = ocisize_source::open(arg, &options.scan())?;
    Ok(assemble::report(&source, options))
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
    let source = ocisize_source::open_reader(reader, name, None, &options.scan())?;
    Ok(assemble::report(&source, options))
}

/// Inspect a source opened already (any [`Source`]: a file format, a store).
pub fn inspect_source(source: &dyn Source, options: &Options) -> Report {
    assemble::report(source, options)
}

/// Inspect several sources, in parallel as `options.parallelism` allows, and return the
/// results in the order given. Each source then reads its own blobs on one thread (with a
/// staged pipeline per compressed blob when there are cores to spare), so the cores are not
/// oversubscribed.
pub fn inspect_many(sources: &[SourceArg], options: &Options) -> Vec<Result<Report, InspectError>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    if sources.len() == 1 {
        return vec![inspect(&sources[0], options)];
    }
    let (threads, per_source) = options.parallelism.split(sources.len());
    let per_source = Options { parallelism: per_source, ..options.clone() };
    let slots: Vec<Mutex<Option<Result<Report, InspectError>>>> =
        sources.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(arg) = sources.get(i) else { break };
                let r = inspect(arg, &per_source);
                if let Ok(mut slot) = slots[i].lock() {
                    *slot = Some(r);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| m.into_inner().ok().flatten().unwrap_or(Err(InspectError::Interrupted)))
        .collect()
}

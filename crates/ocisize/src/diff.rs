//! `ocisize diff A B`: the layers two images share (by diffID) and do not, then what differs
//! between their final filesystems, from the same per-layer file lists as `--files`.

use ocisize_digest::Digest;
/// What differs at a modified path: `kind`, `size`, `link` or `content`.
pub use ocisize_layer::files::Reason as ChangeReason;
use ocisize_layer::files::{self, Change, Entry, FileList, Overlay};
use ocisize_source::{Problem, ProblemKind, SourceArg};
use serde::{Deserialize, Serialize};

use crate::report::{ImageReport, Report};
use crate::{assemble, InspectError, Options};

/// Which image of each source to compare, and how many changes to list.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// The platform (`os/arch[/variant]`) to take from a source that holds several images;
    /// without it, the first image.
    pub platform: Option<String>,
    /// Most file changes listed (every change is counted). Default 1,000.
    pub max_changes: usize,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions { platform: None, max_changes: 1000 }
    }
}

/// The two images compared.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffReport {
    /// The first image.
    pub a: DiffImage,
    /// The second image.
    pub b: DiffImage,
    /// Their layers, by diffID.
    pub layers: DiffLayers,
    /// What differs between their final filesystems; `null` when a layer of either could not
    /// be read.
    pub files: Option<FileDiff>,
    /// Problems found reading either source.
    pub problems: Vec<Problem>,
}

impl DiffReport {
    /// True when both images were read and verified.
    pub fn verified(&self) -> bool {
        self.a.verified && self.b.verified && !self.problems.iter().any(Problem::is_error)
    }
}

/// One side of a diff.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffImage {
    /// The source as given.
    pub source: String,
    /// The image's name as docker shows it, if it has one.
    pub name: Option<String>,
    /// The image ID.
    pub image_id: Option<Digest>,
    /// `os/arch[/variant]`.
    pub platform: Option<String>,
    /// Its number of layers.
    pub layers: usize,
    /// Whether it was read whole and verified.
    pub verified: bool,
}

/// A layer by its diffID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLayer {
    /// The diffID.
    pub diff_id: Digest,
    /// Its uncompressed size.
    pub uncompressed_size: Option<u64>,
}

/// The layers in common and not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiffLayers {
    /// How many layers both images start with (a shared base).
    pub common_prefix: usize,
    /// Layers of the first image that the second has too, in the first's order.
    pub common: Vec<DiffLayer>,
    /// Layers only the first image has.
    pub only_a: Vec<DiffLayer>,
    /// Layers only the second image has.
    pub only_b: Vec<DiffLayer>,
}

/// What differs between the final filesystems (directories, files, links, devices).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDiff {
    /// Paths only the second image has.
    pub added: u64,
    /// Paths only the first image has.
    pub removed: u64,
    /// Paths both have with another kind, size, link target or content.
    pub modified: u64,
    /// Of the modified paths, those whose kind, size and link target are the same: only
    /// their contents differ (a file edited in place, a rebuilt binary of equal length).
    #[serde(default)]
    pub content_modified: u64,
    /// Paths alike by kind, size, link target and content.
    pub unchanged: u64,
    /// Bytes of the added files.
    pub added_bytes: u64,
    /// Bytes of the removed files.
    pub removed_bytes: u64,
    /// Σ over modified paths of the second image's size minus the first's.
    pub modified_delta_bytes: i64,
    /// The changes in path order, up to [`DiffOptions::max_changes`].
    pub changes: Vec<FileChange>,
    /// Whether changes were left out of the list.
    pub truncated: bool,
}

/// How a path changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// Only in the second image.
    Added,
    /// Only in the first image.
    Removed,
    /// In both, with another kind, size, link target or content.
    Modified,
}

/// One path that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The path (no leading `/`).
    pub path: String,
    /// Added, removed or modified.
    pub change: ChangeKind,
    /// The first image's entry.
    pub a: Option<FileState>,
    /// The second image's entry.
    pub b: Option<FileState>,
    /// What differs, for a modified path (`kind`, `size`, `link`, `content`); empty for an
    /// added or removed one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<ChangeReason>,
}

/// An entry as the diff sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// `file`, `dir`, `symlink`, `hardlink` or `other`.
    pub kind: String,
    /// Header size of a regular file, else 0.
    pub size: u64,
    /// A link's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The digest of a regular file's bytes (`xxh3-128:<hex>`), or of a hardlink's target
    /// when the target is a regular file of the hardlink's own layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

impl From<&Entry> for FileState {
    fn from(e: &Entry) -> Self {
        FileState {
            kind: e.kind.name().to_owned(),
            size: e.size,
            link: (!e.link.is_empty()).then(|| e.link_str().into_owned()),
            content: e.content.map(|c| c.to_string()),
        }
    }
}

struct Side {
    report: Report,
    image: Option<usize>,
    lists: Option<Vec<FileList>>,
}

fn side(arg: &SourceArg, options: &Options, d: &DiffOptions) -> Result<Side, InspectError> {
    let source = ocisize_source::open(arg, &options.scan())?;
    let (report, mut lists) = assemble::report_with_lists(&source, options);
    let image = match &d.platform {
        Some(p) => report.images.iter().position(|i| i.platform.as_deref() == Some(p.as_str())),
        None => (!report.images.is_empty()).then_some(0),
    };
    let lists = image.and_then(|i| lists.get_mut(i).and_then(Option::take));
    Ok(Side { report, image, lists })
}

fn describe(arg: &SourceArg, s: &Side) -> DiffImage {
    let Some(i) = s.image.and_then(|i| s.report.images.get(i)) else {
        return DiffImage { source: arg.input.to_string(), ..DiffImage::default() };
    };
    DiffImage {
        source: arg.input.to_string(),
        name: i.familiar_names.first().or(i.ref_names.first()).cloned(),
        image_id: i.image_id,
        platform: i.platform.clone(),
        layers: i.layers.len(),
        verified: i.verified,
    }
}

fn layer_ids(i: Option<&ImageReport>) -> Vec<DiffLayer> {
    i.map(|i| {
        i.layers
            .iter()
            .filter_map(|l| {
                l.diff_id.map(|d| DiffLayer { diff_id: d, uncompressed_size: l.uncompressed_size })
            })
            .collect()
    })
    .unwrap_or_default()
}

fn layers(a: Option<&ImageReport>, b: Option<&ImageReport>) -> DiffLayers {
    let (a, b) = (layer_ids(a), layer_ids(b));
    let has = |v: &[DiffLayer], d: &Digest| v.iter().any(|l| l.diff_id == *d);
    DiffLayers {
        common_prefix: a.iter().zip(&b).take_while(|(x, y)| x.diff_id == y.diff_id).count(),
        common: a.iter().filter(|l| has(&b, &l.diff_id)).cloned().collect(),
        only_a: a.iter().filter(|l| !has(&b, &l.diff_id)).cloned().collect(),
        only_b: b.iter().filter(|l| !has(&a, &l.diff_id)).cloned().collect(),
    }
}

fn files(a: &[FileList], b: &[FileList], max: usize) -> Result<FileDiff, files::FilesError> {
    let mut out = FileDiff::default();
    let mut x = Overlay::new(a, 0)?;
    let mut y = Overlay::new(b, 0)?;
    let counts = files::diff(&mut x, &mut y, |c| {
        if out.changes.len() >= max {
            out.truncated = true;
            return;
        }
        let (path, change, a, b, reasons) = match &c {
            Change::Added(e) => (e.path_str(), ChangeKind::Added, None, Some(e.into()), vec![]),
            Change::Removed(e) => (e.path_str(), ChangeKind::Removed, Some(e.into()), None, vec![]),
            Change::Modified { a, b, reasons } => (
                a.path_str(),
                ChangeKind::Modified,
                Some(a.into()),
                Some(b.into()),
                reasons.iter().collect(),
            ),
        };
        out.changes.push(FileChange { path: path.into_owned(), change, a, b, reasons });
    })?;
    out.added = counts.added;
    out.removed = counts.removed;
    out.modified = counts.modified;
    out.content_modified = counts.content_modified;
    out.unchanged = counts.unchanged;
    out.added_bytes = counts.added_bytes;
    out.removed_bytes = counts.removed_bytes;
    out.modified_delta_bytes = counts.modified_delta_bytes;
    Ok(out)
}

/// Compare two images: each source is read and verified as [`crate::inspect`] reads it (with
/// [`Options::files`] on), both at once as `options.parallelism` allows.
pub fn diff(
    a: &SourceArg,
    b: &SourceArg,
    options: &Options,
    d: &DiffOptions,
) -> Result<DiffReport, InspectError> {
    let (threads, per_source) = options.parallelism.split(2);
    let options = Options { files: true, parallelism: per_source, ..options.clone() };
    let (sa, sb) = if threads >= 2 {
        std::thread::scope(|s| {
            let t = s.spawn(|| side(b, &options, d));
            let sa = side(a, &options, d);
            (sa, t.join().unwrap_or(Err(InspectError::Interrupted)))
        })
    } else {
        (side(a, &options, d), side(b, &options, d))
    };
    let (sa, sb) = (sa?, sb?);
    let mut problems = Vec::new();
    for (arg, s) in [(a, &sa), (b, &sb)] {
        problems.extend(s.report.problems.iter().cloned());
        if s.image.is_none() {
            let which = d.platform.as_deref().map(|p| format!(" for {p}")).unwrap_or_default();
            problems.push(Problem::error(
                ProblemKind::NoImage,
                format!("{}: no image{which} to compare", arg.input),
            ));
        }
    }
    let ia = sa.image.and_then(|i| sa.report.images.get(i));
    let ib = sb.image.and_then(|i| sb.report.images.get(i));
    let files = match (&sa.lists, &sb.lists) {
        (Some(x), Some(y)) => match files(x, y, d.max_changes) {
            Ok(f) => Some(f),
            Err(e) => {
                problems.push(Problem::warning(
                    ProblemKind::ReadFailed,
                    format!("the file lists cannot be compared: {e}"),
                ));
                None
            }
        },
        _ => None,
    };
    Ok(DiffReport {
        a: describe(a, &sa),
        b: describe(b, &sb),
        layers: layers(ia, ib),
        files,
        problems,
    })
}

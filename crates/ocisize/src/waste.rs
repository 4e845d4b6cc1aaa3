//! `--files`: each image's layer file lists stacked into what the layers waste on each other.

use ocisize_layer::files::{FileList, FilesError, Overlay};
use ocisize_source::{Problem, ProblemKind};

use crate::report::{Efficiency, FileWaste, WastedPath};

/// Every layer's file list, base first, or why there is none: a layer that was not read
/// (`None`, nothing to say: `--no-verify`, or a layer that is not a valid tar, reported as
/// such already) or whose list failed (a problem).
pub(crate) fn lists(
    layers: Vec<Option<Result<FileList, FilesError>>>,
) -> Result<Option<Vec<FileList>>, FilesError> {
    let mut out = Vec::with_capacity(layers.len());
    for l in layers {
        match l {
            Some(Ok(list)) => out.push(list),
            Some(Err(e)) => return Err(e),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// The warning that an image's files are not accounted for.
pub(crate) fn unavailable(image: &str, e: &FilesError) -> Problem {
    Problem::warning(
        ProblemKind::ReadFailed,
        format!("the files of image {image} cannot be accounted for: {e}"),
    )
}

/// Stack the lists and turn the figures into the report's.
pub(crate) fn waste(lists: &[FileList], top: usize) -> Result<FileWaste, FilesError> {
    let w = Overlay::new(lists, top).and_then(Overlay::finish)?;
    Ok(FileWaste {
        wasted_bytes: w.wasted_bytes,
        efficiency: Efficiency(w.dive.efficiency),
        dive_wasted_bytes: w.dive.wasted_bytes,
        hidden_copies: w.hidden_copies,
        written_bytes: w.written_bytes,
        top: w
            .top
            .into_iter()
            .map(|t| WastedPath { path: t.path, wasted_bytes: t.wasted_bytes, copies: t.copies })
            .collect(),
    })
}

//! The format adapters for image files: each owns its detection and its naming rules.
//!
//! | format | detected by | roots | a descriptor's blob |
//! |---|---|---|---|
//! | [`oci`] layout or archive | `index.json` | `index.json` entries | `blobs/<alg>/<hex>` |
//! | [`docker_archive`] | `manifest.json` (+ `repositories`) | `manifest.json` entries (docker ≥ 25: `index.json`, names from `manifest.json`) | as listed, or `blobs/<alg>/<hex>` |
//! | [`dir`] | `manifest.json` in a directory | the `manifest.json` document | `<hex>`, list instances `<hex>.manifest.json` |

pub mod dir;
pub mod docker_archive;
pub mod oci;

use std::fmt;

use ocisize_spec::Descriptor;
use serde::{Deserialize, Serialize};

use crate::model::{Role, Roots, Source};
use crate::{Catalog, Limits, Problem, ProblemKind, Selection, SourceError};

/// The image format of a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Format {
    /// An OCI image layout directory (`oci-layout`, `index.json`, `blobs/`).
    OciLayout,
    /// A tar of an OCI image layout (skopeo, podman, `ctr export`).
    OciArchive,
    /// A `docker save` tarball, in any of its dialects.
    DockerArchive,
    /// A containers/image `dir:` layout (`manifest.json` and blobs named by hex).
    Dir,
}

impl Format {
    /// The name used in reports and in source prefixes.
    pub fn name(self) -> &'static str {
        match self {
            Format::OciLayout => "oci-layout",
            Format::OciArchive => "oci-archive",
            Format::DockerArchive => "docker-archive",
            Format::Dir => "dir",
        }
    }

    /// Whether it is an OCI layout, in a directory or a tar.
    pub fn is_oci(self) -> bool {
        matches!(self, Format::OciLayout | Format::OciArchive)
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A source read from files: a layout directory or an archive, in one of the formats above.
#[derive(Debug)]
pub struct FileSource {
    catalog: Catalog,
    format: Format,
    selection: Option<Selection>,
}

impl FileSource {
    /// Detect the format of the files of `catalog` (or check the one `forced` names).
    pub fn detect(
        mut catalog: Catalog,
        forced: Option<Format>,
        selection: Option<Selection>,
    ) -> Result<FileSource, SourceError> {
        let format = detect(&catalog, forced)?;
        if format == Format::OciLayout && !catalog.contains("oci-layout") {
            catalog.notices.push(
                Problem::warning(
                    ProblemKind::LayoutIncomplete,
                    "the OCI layout has no oci-layout file (the spec requires one)",
                )
                .member("oci-layout"),
            );
        }
        if matches!(selection, Some(Selection::Position(_))) && format != Format::DockerArchive {
            return Err(SourceError::WrongFormat {
                path: catalog.path,
                expected: Format::DockerArchive,
                reason: "only a docker-archive selects an image by position (@N)".into(),
            });
        }
        Ok(FileSource { catalog, format, selection })
    }
}

impl Source for FileSource {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn format(&self) -> Format {
        self.format
    }

    fn roots(&self, limits: &Limits) -> Roots {
        match self.format {
            Format::OciLayout | Format::OciArchive => {
                let roots = oci::roots(&self.catalog, limits);
                if roots.roots.is_empty()
                    && roots.problems.is_empty()
                    && self.catalog.contains("manifest.json")
                {
                    // An index that lists nothing beside a manifest.json: docker 25's
                    // archive of an untagged image, which docker and podman load from
                    // manifest.json.
                    return docker_archive::roots(&self.catalog, limits, self.selection.as_ref());
                }
                roots
            }
            Format::DockerArchive => {
                docker_archive::roots(&self.catalog, limits, self.selection.as_ref())
            }
            Format::Dir => dir::roots(&self.catalog),
        }
    }

    fn member_for(&self, descriptor: &Descriptor, role: Role) -> String {
        match self.format {
            Format::Dir => dir::member_for(descriptor, role),
            _ => Catalog::blob_path(&descriptor.digest),
        }
    }

    fn nested_indexes(&self) -> bool {
        self.format != Format::Dir
    }

    fn selection(&self) -> Option<&Selection> {
        self.selection.as_ref()
    }
}

/// The root document of a format that was refused (it leaves the root), as the reason the
/// format cannot be told.
fn refused_root(catalog: &Catalog) -> Option<String> {
    ["index.json", "manifest.json"]
        .iter()
        .find_map(|n| catalog.refused(n).map(|r| format!("{n} {r}; refused")))
}

fn refused_note(catalog: &Catalog) -> String {
    let refused: Vec<String> = ["index.json", "manifest.json"]
        .iter()
        .filter_map(|n| catalog.refused(n).map(|r| format!("{n} {r}")))
        .collect();
    if refused.is_empty() {
        String::new()
    } else {
        format!(" ({}; refused)", refused.join(", "))
    }
}

fn detect(catalog: &Catalog, forced: Option<Format>) -> Result<Format, SourceError> {
    let has = |n: &str| catalog.contains(n);
    let path = || catalog.path().to_owned();
    let note = refused_note(catalog);
    if catalog.is_dir() {
        let (is_oci, has_manifest) = (has("index.json"), has("manifest.json"));
        return match forced {
            Some(Format::OciLayout | Format::OciArchive) if is_oci => Ok(Format::OciLayout),
            Some(Format::Dir) if has_manifest => Ok(Format::Dir),
            Some(f @ (Format::OciLayout | Format::OciArchive)) => Err(SourceError::WrongFormat {
                path: path(),
                expected: f,
                reason: format!("the directory has no index.json{note}"),
            }),
            Some(Format::Dir) => Err(SourceError::WrongFormat {
                path: path(),
                expected: Format::Dir,
                reason: format!("the directory has no manifest.json{note}"),
            }),
            Some(f) => Err(SourceError::WrongFormat {
                path: path(),
                expected: f,
                reason: "a directory is not an archive".into(),
            }),
            None if is_oci => Ok(Format::OciLayout),
            None if has_manifest => Ok(Format::Dir),
            None if refused_root(catalog).is_some() => Err(SourceError::UnknownFormat {
                path: path(),
                reason: refused_root(catalog).unwrap_or_default(),
            }),
            None => Err(SourceError::UnknownFormat {
                path: path(),
                reason: format!(
                    "the directory has neither index.json (OCI layout) nor manifest.json (dir: layout){note}"
                ),
            }),
        };
    }
    let detected = match (has("index.json"), has("manifest.json")) {
        (true, false) => Some(Format::OciArchive),
        (false, true) => Some(Format::DockerArchive),
        // docker >= 25 writes an OCI layout plus manifest.json and repositories; ctr export
        // writes an OCI layout plus manifest.json only.
        (true, true) if has("repositories") => Some(Format::DockerArchive),
        (true, true) => Some(Format::OciArchive),
        (false, false) => None,
    };
    match (forced, detected) {
        (Some(Format::OciArchive | Format::OciLayout), _) if has("index.json") => {
            Ok(Format::OciArchive)
        }
        (Some(Format::DockerArchive), _) if has("manifest.json") => Ok(Format::DockerArchive),
        (Some(f), _) => Err(SourceError::WrongFormat {
            path: path(),
            expected: f,
            reason: if f == Format::DockerArchive {
                format!("the archive has no manifest.json{note}")
            } else {
                format!("the archive has no index.json{note}")
            },
        }),
        (None, Some(f)) => Ok(f),
        (None, None) if refused_root(catalog).is_some() => Err(SourceError::UnknownFormat {
            path: path(),
            reason: refused_root(catalog).unwrap_or_default(),
        }),
        (None, None) => Err(SourceError::UnknownFormat {
            path: path(),
            reason: format!(
                "the archive has neither index.json nor manifest.json ({} members){note}",
                catalog.members.len()
            ),
        }),
    }
}

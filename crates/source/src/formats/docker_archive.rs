//! `docker save` archives, every dialect: dockerd's legacy `<id>/layer.tar` with
//! `<hex>.json` configs and `repositories`; skopeo's and podman's (`<hex>.tar`, links);
//! crane's and kaniko's (`sha256:<hex>` configs, `<hex>.tar.gz` layers); docker ≥ 25's, an
//! OCI layout plus `manifest.json` (moby `image/tarexport/save.go`).
//!
//! Roots are the entries of `manifest.json`: a config member, layer members, RepoTags. A
//! docker ≥ 25 archive whose `index.json` lists the manifests is read through them (the
//! names still come from `manifest.json`, matched by config); one whose `index.json` lists
//! none (`"manifests": null`, as docker 25 writes for an untagged image) is read from
//! `manifest.json`, as docker and podman load it.

use ocisize_digest::{Algorithm, Digest};
use ocisize_reference::Reference;
use ocisize_spec::path::{clean, AtRoot};
use ocisize_spec::{parse_docker_manifest, DockerSaveEntry, DocumentKind};

use crate::formats::oci::{index_entries, push_unique};
use crate::model::{BlobRef, Refusal, Root, RootTarget, Roots, Runtime};
use crate::{Catalog, Limits, Problem, ProblemKind, Selection};

/// The roots of a docker-archive.
pub(crate) fn roots(catalog: &Catalog, limits: &Limits, selection: Option<&Selection>) -> Roots {
    let position = match selection {
        Some(Selection::Position(n)) => Some(*n),
        _ => None,
    };
    if catalog.contains("index.json") && position.is_none() {
        let mut out = Roots::default();
        let index = index_entries(catalog, limits, &mut out.problems);
        if !index.is_empty() || !out.problems.is_empty() {
            // docker >= 25: the index has the digests, manifest.json the names.
            let mut oci = crate::formats::oci::roots(catalog, limits);
            oci.problems.splice(0..0, out.problems);
            return oci;
        }
    }
    let mut out = Roots::default();
    let entries = entries(catalog, limits, &mut out.problems);
    if let Some(n) = position {
        if n >= entries.len() {
            out.problems.push(
                Problem::error(
                    ProblemKind::NoImage,
                    format!(
                        "manifest.json has {} entries; there is no entry @{n} (counted from 0)",
                        entries.len()
                    ),
                )
                .member("manifest.json"),
            );
            return out;
        }
    }
    // docker 25.0.0-25.0.2 write `"manifests": null` for `docker save <ID>` (moby#47210):
    // docker and podman read manifest.json, containerd's importer reads only the index and
    // imports nothing.
    let empty_index = catalog.contains("index.json");
    for (i, e) in entries.iter().enumerate() {
        if position.is_some_and(|n| n != i) {
            continue;
        }
        let (names, mut refused_by) = checked_names(i, e, &mut out.problems);
        if empty_index {
            refused_by.push(Refusal {
                runtime: Runtime::Containerd,
                reason: "ctr images import reads the index.json, which lists no manifests, and imports nothing (\"image might be filtered out\")".into(),
                announced: false,
            });
        }
        let config = member(&e.config);
        out.roots.push(Root {
            target: RootTarget::Legacy {
                config: BlobRef {
                    named_digest: digest_from_name(&config),
                    member: config,
                    descriptor: None,
                },
                layers: e
                    .layers
                    .iter()
                    .map(|l| BlobRef { member: member(l), descriptor: None, named_digest: None })
                    .collect(),
            },
            names,
            tags: Vec::new(),
            origin: format!("manifest.json entry {i}"),
            refused_by,
        });
    }
    out
}

/// The names `manifest.json` gives each config, for archives whose images are read through
/// an `index.json`.
pub(crate) fn names_by_config(
    catalog: &Catalog,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Vec<(Digest, Vec<Reference>)> {
    entries(catalog, limits, problems)
        .iter()
        .enumerate()
        .filter_map(|(i, e)| {
            let (names, _) = checked_names(i, e, problems);
            Some((digest_from_name(&member(&e.config))?, names))
        })
        .collect()
}

fn entries(
    catalog: &Catalog,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Vec<DockerSaveEntry> {
    let bytes = match catalog.document("manifest.json", DocumentKind::DockerManifest) {
        Ok(b) => b,
        Err(e) => {
            problems.push(Problem::error(e.kind(), e.to_string()).member("manifest.json"));
            return Vec::new();
        }
    };
    match parse_docker_manifest(&bytes, &limits.json) {
        Ok(v) => v,
        Err(e) => {
            let kind = crate::walk::spec_error_kind(&e);
            problems
                .push(Problem::error(kind, format!("manifest.json: {e}")).member("manifest.json"));
            Vec::new()
        }
    }
}

/// The RepoTags of an entry as references, and the runtimes that refuse the archive for a
/// bad one. docker (moby `image/tarexport/load.go`) and podman (containers/image
/// `docker/internal/tarfile/reader.go`) parse each with the docker reference grammar and
/// require a tag: an archive with any other entry is refused by both, so it is an error here
/// too. containerd (`images/archive/importer.go`) takes a name without a tag as `:latest`
/// and refuses one that does not parse.
fn checked_names(
    i: usize,
    e: &DockerSaveEntry,
    problems: &mut Vec<Problem>,
) -> (Vec<Reference>, Vec<Refusal>) {
    let mut names = Vec::new();
    let mut refused_by: Vec<Refusal> = Vec::new();
    let mut refuse = |runtime: Runtime, reason: &str| {
        if !refused_by.iter().any(|r| r.runtime == runtime) {
            refused_by.push(Refusal { runtime, reason: reason.to_owned(), announced: true });
        }
    };
    for t in e.repo_tags.iter().flatten() {
        let parsed = if uppercase_repository(t) {
            Err("repository name must be lowercase".to_owned())
        } else {
            Reference::parse_normalized(t).map_err(|e| e.to_string())
        };
        let why = match parsed {
            Ok(r) if r.tag().is_some() => {
                push_unique(&mut names, r);
                continue;
            }
            Ok(_) => {
                refuse(Runtime::Podman, "podman load refuses a RepoTags entry without a tag");
                "has no tag".to_owned()
            }
            Err(err) => {
                refuse(
                    Runtime::Podman,
                    "podman load refuses a RepoTags entry that is not a reference",
                );
                refuse(
                    Runtime::Containerd,
                    "ctr images import refuses a RepoTags entry that is not a reference",
                );
                format!("is not a valid reference ({err})")
            }
        };
        problems.push(
            Problem::error(
                ProblemKind::InvalidName,
                format!(
                    "manifest.json entry {i}: RepoTags entry {t:?} {why}; docker load and podman load both refuse the archive"
                ),
            )
            .member("manifest.json"),
        );
    }
    (names, refused_by)
}

/// Whether a name's first component would be taken as a repository with capitals. The
/// reference parsers of docker 20.10 and podman 4 (distribution/reference before v0.5,
/// `splitDockerDomain`) take a first component without `.` or `:` that is not `localhost`
/// as part of the repository, which must be lowercase; later parsers take a first component
/// with capitals as a registry host instead.
fn uppercase_repository(name: &str) -> bool {
    let without_digest = name.split('@').next().unwrap_or(name);
    let repo = match without_digest.rfind(':') {
        Some(i) if !without_digest[i..].contains('/') => &without_digest[..i],
        _ => without_digest,
    };
    let first = repo.split('/').next().unwrap_or(repo);
    let is_host = repo.contains('/') && (first.contains(['.', ':']) || first == "localhost");
    let path = if is_host { &repo[first.len()..] } else { repo };
    path.chars().any(|c| c.is_ascii_uppercase())
}

fn member(name: &str) -> String {
    clean(name, AtRoot::Refuse).unwrap_or_else(|| name.to_owned())
}

/// The digest a docker-archive member's name promises: `<hex>.json` (dockerd),
/// `sha256:<hex>` (crane), `blobs/sha256/<hex>` (docker ≥ 25), `<hex>.tar`.
pub fn digest_from_name(name: &str) -> Option<Digest> {
    let stem = name.strip_prefix("blobs/sha256/").unwrap_or(name);
    let stem = stem.strip_prefix("sha256:").unwrap_or(stem);
    let stem = stem.strip_suffix(".json").unwrap_or(stem);
    let stem = stem.strip_suffix(".tar").unwrap_or(stem);
    Digest::from_hex(Algorithm::Sha256, stem).ok()
}

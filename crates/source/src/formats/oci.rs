//! OCI image layouts (image-spec image-layout.md), as a directory or a tar: roots are the
//! entries of `index.json`, named by their annotations; every blob is `blobs/<alg>/<hex>`.

use ocisize_reference::Reference;
use ocisize_spec::{annotation, parse_layout_index, Descriptor, DocumentKind};

use crate::model::{Root, RootTarget, Roots};
use crate::{Catalog, Limits, Problem};

/// The entries of `index.json`, with the names their annotations give.
pub(crate) fn roots(catalog: &Catalog, limits: &Limits) -> Roots {
    let mut out = Roots::default();
    for (i, d) in index_entries(catalog, limits, &mut out.problems).into_iter().enumerate() {
        let mut root = Root {
            target: RootTarget::Descriptor(d.clone()),
            names: Vec::new(),
            tags: Vec::new(),
            origin: format!("index.json manifests[{i}]"),
            refused_by: Vec::new(),
        };
        names_from_annotations(&d, &mut root);
        out.roots.push(root);
    }
    if catalog.contains("manifest.json") {
        // `ctr export` (and docker >= 25) keep the names in a docker manifest.json as well.
        out.names_by_config =
            crate::formats::docker_archive::names_by_config(catalog, limits, &mut out.problems);
    }
    out
}

/// The descriptors `index.json` lists (none, with a problem, when it cannot be read).
pub(crate) fn index_entries(
    catalog: &Catalog,
    limits: &Limits,
    problems: &mut Vec<Problem>,
) -> Vec<Descriptor> {
    let bytes = match catalog.document("index.json", DocumentKind::Index) {
        Ok(b) => b,
        Err(e) => {
            problems.push(Problem::error(e.kind(), e.to_string()).member("index.json"));
            return Vec::new();
        }
    };
    match parse_layout_index(&bytes, &limits.json) {
        Ok(i) => i.manifests,
        Err(e) => {
            let kind = crate::walk::spec_error_kind(&e);
            problems.push(Problem::error(kind, format!("index.json: {e}")).member("index.json"));
            Vec::new()
        }
    }
}

/// Names from the annotations of an `index.json` entry: full names (podman's
/// `org.opencontainers.image.ref.name`, ctr's `io.containerd.image.name`) go to `names`,
/// bare tags (skopeo's, umoci's) to `tags`.
fn names_from_annotations(d: &Descriptor, root: &mut Root) {
    if let Some(n) = d.annotation(annotation::CONTAINERD_IMAGE_NAME) {
        if let Ok(r) = Reference::parse_normalized(n) {
            push_unique(&mut root.names, r.with_default_tag());
        }
    }
    if let Some(n) = d.annotation(annotation::REF_NAME) {
        match ocisize_reference::from_oci_ref_name(n) {
            Some(r) => push_unique(&mut root.names, r.with_default_tag()),
            None => push_unique(&mut root.tags, n.to_owned()),
        }
    }
}

pub(crate) fn push_unique<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

//! containers/image `dir:` layouts (`skopeo copy … dir:`, `podman save --format
//! docker-dir`): `manifest.json` is the root document; blobs are named by the encoded
//! digest alone, and the instances of a manifest list by `<hex>.manifest.json`
//! (containers/image `directory/directory_dest.go`).

use ocisize_spec::Descriptor;

use crate::model::{Role, Root, RootTarget, Roots};
use crate::Catalog;

/// The one root: `manifest.json`.
pub(crate) fn roots(_catalog: &Catalog) -> Roots {
    Roots {
        roots: vec![Root {
            target: RootTarget::Document { member: "manifest.json".into() },
            names: Vec::new(),
            tags: Vec::new(),
            origin: "manifest.json".into(),
            refused_by: Vec::new(),
        }],
        ..Roots::default()
    }
}

/// `<hex>` for a blob, `<hex>.manifest.json` for a manifest a list names.
pub(crate) fn member_for(d: &Descriptor, role: Role) -> String {
    match role {
        Role::Manifest { .. } => format!("{}.manifest.json", d.digest.hex()),
        _ => d.digest.hex(),
    }
}

//! A containerd namespace as an ocisize [`Source`]: the content store is `blobs/<alg>/<hex>`
//! like an OCI layout, and the roots are the namespace's image records in `meta.db`. The
//! source model's walk and verification then read any containerd root's images as they read
//! a layout (docker's graphdriver store and containers/storage keep layers unpacked, not as
//! blobs, so only containerd's store is a source of blobs).

use std::path::Path;

use ocisize_containerd::MetaDb;
use ocisize_digest::Digest;
use ocisize_reference::Reference;
use ocisize_source::{Catalog, Format, Limits, Role, Root, RootTarget, Roots, ScanOptions, Source};
use ocisize_spec::{Descriptor, MediaType};

use crate::Error;

/// The content store of a containerd root, rooted at one namespace's image records.
#[derive(Debug)]
pub struct ContainerdSource {
    catalog: Catalog,
    roots: Vec<Root>,
}

impl ContainerdSource {
    /// The images of `namespace` in the containerd root `root` (`/var/lib/containerd`).
    pub fn open(
        root: &Path,
        namespace: &str,
        options: &ScanOptions,
    ) -> Result<ContainerdSource, Error> {
        let meta_path = crate::containerd::meta_db_path(root)?;
        let ns = MetaDb::open(&meta_path)?.namespace(namespace)?;
        let content = root.join("io.containerd.content.v1.content");
        let catalog = ocisize_source::open_dir(&content, options).map_err(Box::new)?;
        let mut roots = Vec::new();
        for image in ns.map(|n| n.images).unwrap_or_default() {
            let t = &image.target;
            let mut d =
                Descriptor::new(Some(MediaType::from(t.media_type.as_str())), t.digest, t.size);
            d.annotations = t.annotations.clone();
            // The CRI's `sha256:<id>` records name no repository.
            let names = match image.name.parse::<Digest>() {
                Ok(_) => Vec::new(),
                Err(_) => Reference::parse_normalized(&image.name)
                    .map(|r| vec![r.with_default_tag()])
                    .unwrap_or_default(),
            };
            roots.push(Root {
                target: RootTarget::Descriptor(d),
                names,
                tags: Vec::new(),
                origin: format!("meta.db v1/{namespace}/images/{}", image.name),
                // The images are in containerd already: no import rule applies.
                refused_by: Vec::new(),
            });
        }
        Ok(ContainerdSource { catalog, roots })
    }
}

impl Source for ContainerdSource {
    fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The content store is laid out as an OCI layout's `blobs/`.
    fn format(&self) -> Format {
        Format::OciLayout
    }

    fn roots(&self, _limits: &Limits) -> Roots {
        Roots { roots: self.roots.clone(), ..Roots::default() }
    }

    fn member_for(&self, descriptor: &Descriptor, _role: Role) -> String {
        Catalog::blob_path(&descriptor.digest)
    }
}

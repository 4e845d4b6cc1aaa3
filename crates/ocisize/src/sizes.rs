//! Size models: how each runtime counts an image, computed from verified facts.
//!
//! See `docs/sizes.md` for the worked figures. In short:
//!
//! | figure | rule |
//! |---|---|
//! | `compressed` | Σ layer blob sizes, as stored in the source |
//! | `uncompressed` | Σ uncompressed layer tar sizes |
//! | `docker_vfs` | Σ of every tar header's size field (moby's `NaiveDiffDriver` counts what `UnpackLayer` read) |
//! | `docker_overlay2` | Σ apparent sizes of unpacked non-directory entries, once per inode |
//! | `podman` | Σ uncompressed tar sizes + the config + the manifest, which containers/storage keeps twice, + the index (if any); for a docker-archive the manifest containers/image writes, listing each layer by diffID and uncompressed size |
//! | `containerd` | the blobs containerd keeps after `ctr images import` of this file: index (if any) + manifest + config + layers |

use ocisize_digest::Digest;
/// Moved to `ocisize-spec`, which the content store shares; re-exported here.
pub use ocisize_spec::synthesized::{containerd_docker_manifest, containers_image_docker_manifest};
use ocisize_units as units;

use crate::report::{LayerReport, Printed, RuntimeDigests, Sizes};

/// Which import path a runtime takes for an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The image has a real manifest (OCI layouts and archives, `dir:`, docker ≥ 25).
    Oci,
    /// A legacy docker-archive: the runtime synthesizes the manifest.
    DockerArchive,
}

/// What the size models need about one image.
#[derive(Debug)]
pub struct SizeInputs<'a> {
    /// How the image would be imported.
    pub origin: Origin,
    /// The digest and size of the index that lists the manifest, if any.
    pub index: Option<(Digest, u64)>,
    /// The manifest's digest and size, when the source holds a manifest.
    pub manifest: Option<(Digest, u64)>,
    /// The config's digest and size.
    pub config: Option<(Digest, u64)>,
    /// The measured layers.
    pub layers: &'a [LayerReport],
    /// For a legacy docker-archive, the layers as containers/image lists them in the
    /// manifest it writes: diffID and the size it measured.
    pub podman_layers: Option<&'a [(Digest, u64)]>,
    /// podman refuses to load the image from this source: no podman figure.
    pub podman_refuses: bool,
    /// containerd refuses to import the image from this source: no containerd figure.
    pub containerd_refuses: bool,
    /// Whether the manifest could not be read (nothing is known).
    pub broken: bool,
}

fn sum(mut it: impl Iterator<Item = Option<u64>>) -> Option<u64> {
    it.try_fold(0u64, |acc, x| x.map(|x| acc.saturating_add(x)))
}

/// A manifest a runtime writes itself: its digest and size.
fn synthesized(json: &str) -> (Digest, u64) {
    (Digest::of(ocisize_digest::Algorithm::Sha256, json.as_bytes()), json.len() as u64)
}

/// Compute every total, its printed forms, and the digest each runtime lists the image by.
pub fn compute(i: &SizeInputs<'_>) -> (Sizes, Printed, RuntimeDigests) {
    if i.broken {
        return (Sizes::default(), Printed::default(), RuntimeDigests::default());
    }
    let compressed = sum(i.layers.iter().map(|l| l.compressed_size));
    let uncompressed = sum(i.layers.iter().map(|l| l.uncompressed_size));
    let docker_vfs = sum(i.layers.iter().map(|l| l.docker_vfs_size));
    let docker_overlay2 = sum(i.layers.iter().map(|l| l.docker_overlay2_size));
    let config_size = i.config.map(|c| c.1);
    let layer_triples: Option<Vec<(Digest, u64, bool)>> = i
        .layers
        .iter()
        .map(|l| {
            Some((
                l.digest?,
                l.compressed_size?,
                l.compression? != ocisize_layer::Compression::None,
            ))
        })
        .collect();
    // containerd keeps the manifest it was given, or writes its own for a docker-archive.
    let containerd_manifest = match i.origin {
        _ if i.containerd_refuses => None,
        Origin::Oci => i.manifest,
        Origin::DockerArchive => match (i.config, &layer_triples) {
            (Some(c), Some(l)) => Some(synthesized(&containerd_docker_manifest(c, l))),
            _ => None,
        },
    };
    // containers/storage keeps the manifest as containers/image produced it, twice: under
    // the "manifest" key and under "manifest-<digest>" (both are big-data items that
    // podman's image size adds to the layers' uncompressed sizes); an index that lists it is
    // kept once more, under its own "manifest-<digest>" (podman 4.3.1 on the corpus image
    // `multi`: 2,351,334 bytes = the amd64 figure + the 506-byte index).
    let podman_manifest = match i.origin {
        _ if i.podman_refuses => None,
        Origin::Oci => i.manifest,
        Origin::DockerArchive => match (i.config, i.podman_layers) {
            (Some(c), Some(l)) => Some(synthesized(&containers_image_docker_manifest(c, l))),
            _ => None,
        },
    };
    let index_size = i.index.map_or(0, |d| d.1);
    let containerd = match (containerd_manifest, config_size, compressed) {
        (Some(m), Some(c), Some(l)) => Some(index_size + m.1 + c + l),
        _ => None,
    };
    let podman = match (uncompressed, config_size, podman_manifest) {
        (Some(u), Some(c), Some(m)) => Some(u + c + 2 * m.1 + index_size),
        _ => None,
    };
    let sizes = Sizes { compressed, uncompressed, docker_vfs, docker_overlay2, podman, containerd };
    let printed = Printed {
        docker: docker_vfs.map(units::docker),
        docker_df: docker_vfs.map(units::docker_df),
        docker_df_v20: docker_vfs.map(units::docker_df_v20),
        podman: podman.map(units::podman),
        ctr: containerd.map(units::ctr),
        crictl: containerd.map(units::crictl),
    };
    // Both runtimes list an image by the top of what they stored: the index if one lists
    // the manifest, else the manifest (`ctr images ls` DIGEST, podman's `.Digest`).
    let top = |m: Option<(Digest, u64)>| i.index.or(m).map(|d| d.0);
    let digests =
        RuntimeDigests { containerd: top(containerd_manifest), podman: top(podman_manifest) };
    (sizes, printed, digests)
}

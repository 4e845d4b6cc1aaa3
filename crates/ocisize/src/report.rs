//! The report: plain serde structs, stable field names (documented in docs/json.md).

use ocisize_digest::Digest;
use ocisize_layer::Compression;
use ocisize_reference::Reference;
use ocisize_source::{Format, Problem, Severity, Wrapper};
use ocisize_spec::MediaType;
use serde::{Deserialize, Serialize};

/// Everything `inspect` found about a source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// The input.
    pub source: SourceReport,
    /// One entry per image reference × platform manifest.
    pub images: Vec<ImageReport>,
    /// OCI artifacts (signatures, attestations, SBOMs, Helm charts, …): verified blob by
    /// blob, never walked as layers.
    #[serde(default)]
    pub artifacts: Vec<ArtifactReport>,
    /// Verification failures and warnings, each naming the file, member and blob.
    pub problems: Vec<Problem>,
}

impl Report {
    /// True when no problem has error severity.
    pub fn verified(&self) -> bool {
        !self.problems.iter().any(|p| p.severity == Severity::Error)
    }
}

/// The input's path, format and outer compression.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceReport {
    /// The path as given (`-` for standard input).
    pub path: String,
    /// `oci-layout`, `oci-archive`, `docker-archive` or `dir`.
    pub format: Format,
    /// Compression around the archive: `none`, `gzip` or `zstd`.
    pub compression: Wrapper,
}

/// One image (one platform manifest of one reference).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageReport {
    /// Fully qualified names (`docker.io/library/x:tag`).
    pub names: Vec<Reference>,
    /// The same names as docker shows them (`x:tag`).
    pub familiar_names: Vec<String>,
    /// Tags from `org.opencontainers.image.ref.name` that are not full names (`latest`).
    pub ref_names: Vec<String>,
    /// The image ID: the digest of the config bytes exactly as stored.
    pub image_id: Option<Digest>,
    /// The manifest's digest, when the source holds the manifest.
    pub manifest_digest: Option<Digest>,
    /// The manifest's media type.
    pub manifest_media_type: Option<MediaType>,
    /// The digest of the index that lists this manifest, if any.
    pub index_digest: Option<Digest>,
    /// `os/arch[/variant]`, from the index entry or the config.
    pub platform: Option<String>,
    /// Layers, base first.
    pub layers: Vec<LayerReport>,
    /// Totals in bytes; `null` where a missing blob leaves the figure unknown.
    pub sizes: Sizes,
    /// Totals as each tool prints them.
    pub printed: Printed,
    /// The digest each runtime lists the image by after importing this very file.
    pub runtime_digests: RuntimeDigests,
    /// True when every blob of this image was present and matched its digest, size and
    /// diffID.
    pub verified: bool,
    /// What the layers waste on each other (`inspect --files`, [`crate::Options::files`]);
    /// absent when not asked for or when a layer's entries are unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<FileWaste>,
}

/// Bytes that later layers hide, path by path (see `docs/waste.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileWaste {
    /// Bytes of every copy of a file that a later layer overwrote, whited out or hid under an
    /// opaque directory: what squashing the image would free. The surviving copy never
    /// counts. Sizes are tar header sizes of regular files (links and directories count 0).
    pub wasted_bytes: u64,
    /// dive's efficiency score (`dive/filetree/efficiency.go`): Σ of each path's smallest
    /// copy / Σ of all its copies, 1 when there is nothing.
    pub efficiency: Efficiency,
    /// dive's "wasted space": Σ of every copy of each path seen more than once, the surviving
    /// copy included.
    pub dive_wasted_bytes: u64,
    /// Entries that do not survive (a directory merged into a directory above is not one).
    pub hidden_copies: u64,
    /// Bytes of every regular file the layers write.
    pub written_bytes: u64,
    /// The paths that waste the most, most first (20 unless [`crate::Options::files_top`]).
    pub top: Vec<WastedPath>,
}

/// One of the paths that waste the most.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WastedPath {
    /// The path inside the image (no leading `/`).
    pub path: String,
    /// Bytes of its hidden copies.
    pub wasted_bytes: u64,
    /// How many times the layers wrote it: hidden copies and the surviving one.
    pub copies: u64,
}

/// A ratio in [0, 1] (never NaN), so it compares and hashes like the integers around it.
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Efficiency(pub f64);

impl Eq for Efficiency {}

/// One layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerReport {
    /// The blob's digest (the descriptor's, or for a docker-archive the digest of the bytes).
    pub digest: Option<Digest>,
    /// The media type the manifest declares (docker-archive: none).
    pub media_type: Option<MediaType>,
    /// Compression detected from the blob's magic bytes.
    pub compression: Option<Compression>,
    /// Blob size in bytes.
    pub compressed_size: Option<u64>,
    /// Uncompressed tar size in bytes.
    pub uncompressed_size: Option<u64>,
    /// Digest of the uncompressed tar.
    pub diff_id: Option<Digest>,
    /// Chain ID (from the config's diffIDs).
    pub chain_id: Option<Digest>,
    /// What dockerd's vfs driver records for this layer (sum of tar header sizes).
    pub docker_vfs_size: Option<u64>,
    /// What dockerd's overlay2 driver reports (apparent size once per inode).
    pub docker_overlay2_size: Option<u64>,
    /// Entry counts.
    pub files: Option<FileCounts>,
    /// The archive member or layout file the blob was read from.
    pub path: Option<String>,
}

/// Entry counts of a layer tar.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileCounts {
    /// All entries.
    pub entries: u64,
    /// Regular files.
    pub files: u64,
    /// Directories.
    pub dirs: u64,
    /// Symbolic links.
    pub symlinks: u64,
    /// Hard links.
    pub hardlinks: u64,
    /// `.wh.` whiteouts.
    pub whiteouts: u64,
    /// `.wh..wh..opq` opaque-directory markers.
    pub opaque_dirs: u64,
    /// Devices and FIFOs.
    pub other: u64,
    /// Whether the tar has its end-of-archive blocks (umoci 0.4.7 omits them).
    pub end_of_archive: bool,
}

/// Size totals in bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sizes {
    /// Σ layer blob sizes: what a registry transfers for the layers.
    pub compressed: Option<u64>,
    /// Σ uncompressed tar sizes.
    pub uncompressed: Option<u64>,
    /// `docker image inspect .Size` with the vfs driver.
    pub docker_vfs: Option<u64>,
    /// `docker image inspect .Size` with the overlay2 driver.
    pub docker_overlay2: Option<u64>,
    /// `podman image inspect .Size`.
    pub podman: Option<u64>,
    /// containerd's image size (`ctr images ls`, the CRI size crictl shows).
    pub containerd: Option<u64>,
}

/// Totals as each tool prints them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Printed {
    /// `docker images` SIZE (vfs figure).
    pub docker: Option<String>,
    /// `docker system df -v` SIZE, as docker/cli 24.0 and later print it (3 significant
    /// digits, like `docker images`).
    pub docker_df: Option<String>,
    /// `docker system df -v` SIZE as docker/cli 20.10 to 23.0 printed it (4 significant
    /// digits).
    pub docker_df_v20: Option<String>,
    /// `podman images` SIZE.
    pub podman: Option<String>,
    /// `ctr images ls` SIZE.
    pub ctr: Option<String>,
    /// `crictl images` SIZE.
    pub crictl: Option<String>,
}

/// The digest a runtime lists an image by after importing it: the top of what it stored.
/// For a legacy docker-archive that is a Docker schema 2 manifest the runtime writes itself,
/// so it is in no file of the source; ocisize writes the same bytes and hashes them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeDigests {
    /// `ctr images ls` DIGEST after `ctr images import` (containerd 1.6): the index that
    /// lists the manifest, else the manifest, else the manifest containerd writes.
    pub containerd: Option<Digest>,
    /// `podman image inspect` `.Digest` after `podman load` (podman 4): the index that lists
    /// the manifest, else the manifest, else the manifest containers/image writes.
    pub podman: Option<Digest>,
}

/// An OCI artifact: a manifest that is not a container image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactReport {
    /// Fully qualified names.
    pub names: Vec<Reference>,
    /// Bare tags from `org.opencontainers.image.ref.name`.
    pub ref_names: Vec<String>,
    /// The manifest's digest.
    pub manifest_digest: Digest,
    /// The manifest's media type.
    pub manifest_media_type: Option<MediaType>,
    /// `artifactType`, else the config's media type (`application/vnd.cncf.helm.config.v1+json`,
    /// `application/vnd.oci.empty.v1+json`, …).
    pub artifact_type: Option<MediaType>,
    /// The manifest its `subject` names.
    pub subject: Option<Digest>,
    /// The manifest it refers to: the subject, or a buildx attestation's
    /// `vnd.docker.reference.digest`.
    pub refers_to: Option<Digest>,
    /// The image ID of the image in this source it refers to, if that image is here.
    pub refers_to_image: Option<Digest>,
    /// The digest of the index that lists it, if any.
    pub index_digest: Option<Digest>,
    /// The platform its index entry gives (`unknown/unknown` for buildx attestations).
    pub platform: Option<String>,
    /// Its blobs, config first.
    pub blobs: Vec<ArtifactBlob>,
    /// Σ blob sizes plus the manifest.
    pub size: Option<u64>,
    /// True when the manifest and every blob were present and matched digest and size.
    pub verified: bool,
}

/// One blob of an artifact.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactBlob {
    /// Its digest.
    pub digest: Digest,
    /// Its media type.
    pub media_type: Option<MediaType>,
    /// Its size as declared.
    pub size: u64,
    /// The member it was read from.
    pub path: String,
}

//! Media types of OCI and Docker image documents and layers.

/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image config.
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
/// OCI layer, plain tar.
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
/// OCI layer, gzip.
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
/// OCI layer, zstd.
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
/// Docker manifest list.
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// Docker schema 2 manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 1 manifest (unsupported).
pub const DOCKER_MANIFEST_V1: &str = "application/vnd.docker.distribution.manifest.v1+json";
/// Docker schema 1 signed manifest (unsupported).
pub const DOCKER_MANIFEST_V1_SIGNED: &str =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
/// Docker image config.
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// Docker layer, gzip.
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/// Docker layer, plain tar (what containerd stores after importing a docker-archive).
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
/// Docker foreign layer.
pub const DOCKER_FOREIGN_LAYER: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Whether a media type names an index or manifest list.
pub fn is_index(mt: &str) -> bool {
    mt == OCI_INDEX || mt == DOCKER_LIST
}

/// Whether a media type names an image manifest (OCI or Docker schema 2).
pub fn is_manifest(mt: &str) -> bool {
    mt == OCI_MANIFEST || mt == DOCKER_MANIFEST
}

/// Whether a media type names a Docker schema 1 manifest.
pub fn is_schema1(mt: &str) -> bool {
    mt == DOCKER_MANIFEST_V1 || mt == DOCKER_MANIFEST_V1_SIGNED
}

/// The compression a layer media type declares: `Some("gzip")`, `Some("zstd")`,
/// `Some("none")` for plain tar, `None` for a media type that is not a known layer type.
pub fn declared_layer_compression(mt: &str) -> Option<&'static str> {
    // OCI allows any `+gzip` / `+zstd` suffix (image-spec media-types.md); the
    // nondistributable variants share the suffixes.
    if mt == DOCKER_LAYER_GZIP || mt == DOCKER_FOREIGN_LAYER || mt.ends_with("+gzip") {
        Some("gzip")
    } else if mt.ends_with("+zstd") {
        Some("zstd")
    } else if mt == DOCKER_LAYER
        || mt == OCI_LAYER
        || mt == "application/vnd.oci.image.layer.nondistributable.v1.tar"
    {
        Some("none")
    } else {
        None
    }
}

//! The Docker schema 2 manifests runtimes write themselves when they import a legacy
//! docker-archive (which has none): containerd's and containers/image's, byte for byte.
//!
//! These are the one place the project generates JSON rather than reading it: the bytes are
//! those the runtime would store, so their digest is the one the runtime lists the image by
//! (`ctr images ls`, podman's `.Digest`). The facade measures them to predict the runtimes'
//! figures; the content store writes containerd's as the manifest of an imported
//! docker-archive image.

use ocisize_digest::Digest;

use crate::media_type;

/// The Docker schema 2 manifest containerd 1.6 writes when it imports a legacy
/// docker-archive (`images/archive/importer.go`): compact JSON, in this field order, with
/// each layer's media type chosen from its compression. Verified byte for byte against the
/// manifest containerd stored for the corpus image `tiny` (sha256:cd325522…, 893 bytes).
pub fn containerd_docker_manifest(config: (Digest, u64), layers: &[(Digest, u64, bool)]) -> String {
    let mut s = String::with_capacity(256 + layers.len() * 160);
    s.push_str(r#"{"schemaVersion":2,"mediaType":""#);
    s.push_str(media_type::DOCKER_MANIFEST);
    s.push_str(r#"","config":{"mediaType":""#);
    s.push_str(media_type::DOCKER_CONFIG);
    s.push_str(&format!(r#"","digest":"{}","size":{}}},"layers":["#, config.0, config.1));
    for (i, (d, size, compressed)) in layers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let mt = if *compressed { media_type::DOCKER_LAYER_GZIP } else { media_type::DOCKER_LAYER };
        s.push_str(&format!(r#"{{"mediaType":"{mt}","digest":"{d}","size":{size}}}"#));
    }
    s.push_str("]}");
    s
}

/// The Docker schema 2 manifest containers/image (podman 4, skopeo) synthesizes for an image
/// read from a docker-archive (`docker/internal/tarfile`): compact JSON like containerd's,
/// but descriptors list `size` before `digest`, and every layer is labelled
/// `…diff.tar.gzip` whatever its real compression. Layers are given by diffID and the size
/// containers/image measured (uncompressed; 0 for a member that is a link). Verified byte for byte against the
/// manifest podman stored for the corpus image `tiny` (its inspect `Digest`,
/// sha256:aae5d4ab…, 913 bytes).
pub fn containers_image_docker_manifest(config: (Digest, u64), layers: &[(Digest, u64)]) -> String {
    let mut s = String::with_capacity(256 + layers.len() * 160);
    s.push_str(r#"{"schemaVersion":2,"mediaType":""#);
    s.push_str(media_type::DOCKER_MANIFEST);
    s.push_str(r#"","config":{"mediaType":""#);
    s.push_str(media_type::DOCKER_CONFIG);
    s.push_str(&format!(r#"","size":{},"digest":"{}"}},"layers":["#, config.1, config.0));
    for (i, (d, size)) in layers.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let mt = media_type::DOCKER_LAYER_GZIP;
        s.push_str(&format!(r#"{{"mediaType":"{mt}","size":{size},"digest":"{d}"}}"#));
    }
    s.push_str("]}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use ocisize_digest::Algorithm;

    #[test]
    fn synthesized_manifests_are_byte_exact() {
        let d = |s: &str| s.parse::<Digest>().unwrap();
        let m = containerd_docker_manifest(
            (d("sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c"), 1164),
            &[
                (
                    d("sha256:1e510dd8f8b50ee0b31f3073a79574a805a37375d0a5b39710a6c855a7a4e1f9"),
                    1996288,
                    false,
                ),
                (
                    d("sha256:6e948e787a1916ff66111498fca623e08bd34c899f76372963669c8e163e4159"),
                    347136,
                    false,
                ),
                (
                    d("sha256:2fc9fd4b640ce87668ab6a8b1ac19149719315cfc90dfade58c6507df29c2755"),
                    3072,
                    false,
                ),
                (
                    d("sha256:c00e14bba28f4f4380acd2e0337c57886a0592283af30615c5836b055132a258"),
                    1540,
                    false,
                ),
            ],
        );
        assert_eq!(m.len(), 893);
        let p = containers_image_docker_manifest(
            (d("sha256:60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c"), 1164),
            &[
                (
                    d("sha256:1e510dd8f8b50ee0b31f3073a79574a805a37375d0a5b39710a6c855a7a4e1f9"),
                    1996288,
                ),
                (
                    d("sha256:6e948e787a1916ff66111498fca623e08bd34c899f76372963669c8e163e4159"),
                    347136,
                ),
                (
                    d("sha256:2fc9fd4b640ce87668ab6a8b1ac19149719315cfc90dfade58c6507df29c2755"),
                    3072,
                ),
                (
                    d("sha256:c00e14bba28f4f4380acd2e0337c57886a0592283af30615c5836b055132a258"),
                    1540,
                ),
            ],
        );
        assert_eq!(
            Digest::of(Algorithm::Sha256, p.as_bytes()).to_string(),
            "sha256:aae5d4ab038508ec423794b687f8fdc15293c75f7250c8c445e23c64fd573a45"
        );
        assert_eq!(
            Digest::of(Algorithm::Sha256, m.as_bytes()).to_string(),
            "sha256:cd325522cedae11344923cea5eb09c331ece9c4d614111bc1686a32e5b036451"
        );
    }
}

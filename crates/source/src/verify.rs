//! Verification: every blob against whatever references it — the descriptor's size and
//! digest, the digest a docker-archive member's name promises, and a layer's diffID.

use std::sync::Arc;

use ocisize_digest::Digest;
use ocisize_layer::{Compression, LayerFacts};
use ocisize_spec::{parse_json, DocumentKind, ImageConfig};

use crate::model::BlobRef;
use crate::{Catalog, Measured, MemberError, Problem, ProblemKind, Problems};

/// Measure a blob and check it against its descriptor (or the digest its name promises).
/// Returns the measurement even when it does not match: a report still shows what is there.
pub fn check(
    catalog: &Catalog,
    r: &BlobRef,
    what: &str,
    problems: &mut Problems,
) -> Option<Arc<Measured>> {
    let expected = r.expected_digest();
    let m = match catalog.measured(&r.member) {
        Ok(m) => m,
        Err(e) => {
            problems.push(member_problem(catalog, &e, expected));
            return None;
        }
    };
    let at = |p: Problem| p.member(&r.member).digest(expected);
    if let Some(d) = &r.descriptor {
        if d.size != m.size {
            problems.push(at(Problem::error(
                ProblemKind::SizeMismatch,
                format!(
                    "size mismatch for {what} blob {}: expected {} bytes, found {}",
                    d.digest, d.size, m.size
                ),
            )));
        }
        if d.digest.algorithm() != m.digest.algorithm() {
            problems.push(at(Problem::error(
                ProblemKind::UnsupportedAlgorithm,
                format!(
                    "{what} blob {} is stored where {} digests are expected; it cannot be verified",
                    d.digest,
                    m.digest.algorithm()
                ),
            )));
        } else if d.digest != m.digest {
            problems.push(at(Problem::error(
                ProblemKind::DigestMismatch,
                format!("digest mismatch for {what} blob {}: found {}", d.digest, m.digest),
            )));
        }
    } else if let Some(named) = r.named_digest.filter(|n| *n != m.digest) {
        // docker (moby `image/tarexport/load.go`), podman and ctr hash the config bytes for
        // the image ID and never compare the member's name with it.
        problems.push(at(Problem::warning(
            ProblemKind::NamedDigestMismatch,
            format!(
                "{what} member {} is named for {named} but its bytes hash to {}; docker, podman and ctr load it anyway, with image ID {}",
                r.member, m.digest, m.digest
            ),
        )));
    }
    Some(m)
}

/// Parse a config blob that has been measured (see [`check`]): its diffIDs and platform.
/// A member that cannot be read as a document, or JSON that is not a config, is a problem.
pub fn config(catalog: &Catalog, r: &BlobRef, problems: &mut Problems) -> Option<ImageConfig> {
    let bytes = match catalog.document(&r.member, DocumentKind::Config) {
        Ok(b) => b,
        Err(e) => {
            problems.push(member_problem(catalog, &e, r.expected_digest()));
            return None;
        }
    };
    match parse_json::<ImageConfig>(&bytes, DocumentKind::Config, &catalog.options().limits.json) {
        Ok(cfg) => Some(cfg),
        Err(e) => {
            let kind = crate::walk::spec_error_kind(&e);
            problems.push(
                Problem::error(kind, format!("{}: {e}", r.member))
                    .member(&r.member)
                    .digest(r.expected_digest()),
            );
            None
        }
    }
}

/// The problem a member that cannot be read is.
pub fn member_problem(catalog: &Catalog, e: &MemberError, digest: Option<Digest>) -> Problem {
    let p = Problem::error(e.kind(), e.to_string()).digest(digest);
    let p = match e.member() {
        Some(m) => p.member(m),
        None => p,
    };
    Problem { file: Some(catalog.path().to_owned()), ..p }
}

/// What checking a layer found.
#[derive(Clone, Debug, Default)]
pub struct CheckedLayer {
    /// The blob's digest: the descriptor's, else the measured one (or, unread in a
    /// docker-archive, the diffID of a plain layer).
    pub digest: Option<Digest>,
    /// The blob's size in bytes.
    pub size: Option<u64>,
    /// Compression, from the magic bytes.
    pub compression: Option<Compression>,
    /// The diffID: measured, or (unread) the config's.
    pub diff_id: Option<Digest>,
    /// The uncompressed size: measured, or (unread) the size of a plain layer.
    pub uncompressed_size: Option<u64>,
    /// The full measurement, when the layer was read and decompressed.
    pub facts: Option<LayerFacts>,
}

/// Check a layer: read it (unless `read` is false and it was not read already), check it
/// against its descriptor and the config's diffID, its compression against its media type,
/// and that it is a valid tar.
pub fn check_layer(
    catalog: &Catalog,
    l: &BlobRef,
    expected_diff: Option<Digest>,
    read: bool,
    problems: &mut Problems,
) -> CheckedLayer {
    let mut out =
        CheckedLayer { digest: l.descriptor.as_ref().map(|d| d.digest), ..Default::default() };
    if !read && !catalog.is_measured(&l.member) {
        // Metadata only: what the documents and the archive's own index say, no layer bytes.
        match catalog.size_of(&l.member) {
            Ok(size) => {
                out.size = Some(size);
                out.compression = catalog.peek(&l.member, 4).ok().map(|h| Compression::sniff(&h));
                out.diff_id = expected_diff;
                if out.compression == Some(Compression::None) {
                    // A plain layer is its own uncompressed tar, and (in a docker-archive,
                    // which has no descriptors) its digest is its diffID.
                    out.uncompressed_size = Some(size);
                    out.digest = out.digest.or(expected_diff);
                }
                if let Some(d) = l.descriptor.as_ref().filter(|d| d.size != size) {
                    problems.push(
                        Problem::error(
                            ProblemKind::SizeMismatch,
                            format!(
                                "size mismatch for layer blob {}: expected {} bytes, found {size}",
                                d.digest, d.size
                            ),
                        )
                        .member(&l.member)
                        .digest(Some(d.digest)),
                    );
                }
            }
            Err(e) => problems.push(member_problem(catalog, &e, out.digest)),
        }
        return out;
    }
    let Some(m) = check(catalog, l, "layer", problems) else {
        return out;
    };
    let digest = out.digest.unwrap_or(m.digest);
    out.digest = Some(digest);
    out.size = Some(m.size);
    let at = |p: Problem| p.member(&l.member).digest(Some(digest));
    let facts = match &m.layer {
        Ok(f) => f.clone(),
        Err(e) => {
            problems.push(at(Problem::error(
                ProblemKind::CorruptLayer,
                format!("layer blob {} cannot be read: {e}", m.digest),
            )));
            return out;
        }
    };
    out.compression = Some(facts.compression);
    if let Some(mt) = l.descriptor.as_ref().and_then(|d| d.media_type.as_ref()) {
        if let Some(declared) = mt.declared_compression().filter(|c| *c != facts.compression) {
            let holds = match facts.compression {
                Compression::Gzip => "gzip data",
                Compression::Zstd => "zstd data",
                Compression::None if facts.tar.is_ok() => "a plain tar",
                Compression::None => "data that is neither gzip, zstd nor a tar",
            };
            problems.push(at(Problem::warning(
                ProblemKind::CompressionMislabelled,
                format!(
                    "layer blob {} is labelled {mt} ({declared}) but holds {holds}; figures use what the bytes are",
                    m.digest
                ),
            )));
        }
    }
    out.uncompressed_size = Some(facts.uncompressed_size);
    out.diff_id = Some(facts.diff_id);
    if let Err(e) = &facts.tar {
        problems.push(at(Problem::error(
            ProblemKind::CorruptLayer,
            format!("layer blob {} is not a valid tar: {e}", m.digest),
        )));
    }
    if let Some(exp) = expected_diff {
        if exp.algorithm() != facts.diff_id.algorithm() {
            problems.push(at(Problem::error(
                ProblemKind::UnsupportedAlgorithm,
                format!("diffID {exp} uses {}, which ocisize cannot verify", exp.algorithm()),
            )));
        } else if exp != facts.diff_id {
            problems.push(at(Problem::error(
                ProblemKind::DiffIdMismatch,
                format!(
                    "diffID mismatch for layer blob {}: config says {exp}, uncompressed content is {}",
                    m.digest, facts.diff_id
                ),
            )));
        }
    }
    out.facts = Some(facts);
    out
}

//! Measuring one member: raw digest and size, kept JSON bytes, and layer facts, in one pass;
//! and the tee that hands the same bytes to a caller as they pass.

use std::io::{self, Read, Write};
use std::sync::Arc;

use ocisize_digest::{Algorithm, Digest};
use ocisize_layer::{LayerError, LayerFacts, Limits as LayerLimits, Pipeline};

/// What one pass over a member's bytes found.
#[derive(Debug, Clone)]
pub struct Measured {
    /// Bytes read.
    pub size: u64,
    /// Digest of the bytes as read, in the algorithm the member's path implies.
    pub digest: Digest,
    /// The whole content, when it looks like a JSON document and is within the keep limit.
    pub data: Option<Arc<[u8]>>,
    /// The layer measurement: decompression, diffID and tar walk. For a member that is not a
    /// layer this still succeeds (with a tar error inside) or fails harmlessly.
    pub layer: Result<LayerFacts, Arc<LayerError>>,
}

/// Receives every member's bytes while they are measured, so a caller can keep them (the
/// content store writes each blob while it is hashed) without reading the source twice.
///
/// For a streamed archive every regular member passes once, in archive order; for a layout
/// or an archive file, a member passes when it is first measured (only those an image
/// needs). The bytes are the member's raw bytes, exactly as read.
pub trait Tee: Send + Sync {
    /// A member of `size` bytes is about to be read: return where its bytes should go, or
    /// `None` to let it pass. An error stops the read.
    fn open(&self, member: &str, size: u64) -> io::Result<Option<Box<dyn Write + Send>>>;

    /// The member has been read and measured: the writer returned by [`Tee::open`], back.
    fn close(
        &self,
        member: &str,
        writer: Box<dyn Write + Send>,
        measured: &Measured,
    ) -> io::Result<()>;
}

/// Keeps the bytes while they may be a small JSON document, copies them to the tee, and
/// reports progress.
struct Capture<'a, R> {
    inner: R,
    keep: Option<Vec<u8>>,
    limit: u64,
    decided: bool,
    /// The member's declared size.
    size: u64,
    tee: Option<Box<dyn Write + Send>>,
    progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
}

/// Members this short are kept whatever they start with, so that `null` or `3` is reported
/// as the wrong JSON rather than as no JSON at all.
const TINY: u64 = 16;

impl<R: Read> Read for Capture<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = &buf[..n];
        if let Some(t) = self.tee.as_mut() {
            t.write_all(chunk)?;
        }
        if let Some(p) = self.progress {
            p(n as u64);
        }
        if let Some(k) = self.keep.as_mut() {
            if (k.len() + n) as u64 > self.limit {
                self.keep = None;
            } else {
                k.extend_from_slice(chunk);
            }
        }
        if !self.decided {
            if let Some(k) = &self.keep {
                if let Some(&first) = k.iter().find(|b| !b.is_ascii_whitespace()) {
                    self.decided = true;
                    if first != b'{' && first != b'[' && self.size > TINY {
                        self.keep = None;
                    }
                }
            }
        }
        Ok(n)
    }
}

/// How a member is measured: the limits, the pipeline, and who else sees its bytes.
#[derive(Clone, Copy)]
pub struct MeasureWith<'a> {
    /// Keep the bytes of a JSON-looking member up to this many bytes.
    pub keep: u64,
    /// Layer decompression limits.
    pub limits: &'a LayerLimits,
    /// How the measurement is spread over threads.
    pub pipeline: Pipeline,
    /// Called with each chunk's length as it is read.
    pub progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
    /// Receives the member's bytes.
    pub tee: Option<&'a dyn Tee>,
}

/// Measure a member: hash its bytes with `algorithm`, keep it if it is a JSON document of at
/// most `with.keep` bytes, hand the bytes to the tee, and run [`ocisize_layer::measure_blob`]
/// over it, all in one pass. This is the one measuring path: every source, bench and fuzz
/// target goes through it.
///
/// An error is returned only when reading `reader` itself (or the tee) fails; a member that
/// is not a valid layer yields a [`Measured`] whose `layer` is an error.
pub fn measure_reader<R: Read>(
    reader: R,
    member: &str,
    size: u64,
    algorithm: Algorithm,
    with: MeasureWith<'_>,
) -> io::Result<Measured> {
    let sink = match with.tee {
        Some(t) => t.open(member, size)?,
        None => None,
    };
    let mut cap = Capture {
        inner: reader,
        keep: Some(Vec::new()),
        limit: with.keep,
        decided: false,
        size,
        tee: sink,
        progress: with.progress,
    };
    let m = ocisize_layer::measure_blob(&mut cap, algorithm, with.limits, with.pipeline)?;
    let data = if cap.decided { cap.keep.take().map(Arc::from) } else { None };
    let measured =
        Measured { size: m.size, digest: m.digest, data, layer: m.layer.map_err(Arc::new) };
    if let (Some(t), Some(s)) = (with.tee, cap.tee.take()) {
        t.close(member, s, &measured)?;
    }
    Ok(measured)
}

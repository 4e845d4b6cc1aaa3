//! Measuring one member: raw digest and size, kept JSON bytes, and layer facts, in one pass.

use std::io::{self, Read};
use std::sync::Arc;

use ocisize_digest::{Algorithm, Digest};
use ocisize_layer::{LayerError, LayerFacts, Limits, Pipeline};

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

/// Keeps the bytes while they may be a small JSON document, and reports progress.
struct Capture<'a, R> {
    inner: R,
    keep: Option<Vec<u8>>,
    limit: u64,
    decided: bool,
    progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
}

impl<R: Read> Read for Capture<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(p) = self.progress {
            p(n as u64);
        }
        let chunk = &buf[..n];
        if !self.decided {
            if let Some(&first) = chunk.iter().find(|b| !b.is_ascii_whitespace()) {
                self.decided = true;
                if first != b'{' && first != b'[' {
                    self.keep = None;
                }
            }
        }
        if let Some(k) = self.keep.as_mut() {
            if (k.len() + n) as u64 > self.limit {
                self.keep = None;
            } else {
                k.extend_from_slice(chunk);
            }
        }
        Ok(n)
    }
}

/// Measure a member: hash its bytes with `algorithm`, keep it if it is a JSON document of at
/// most `keep` bytes, and run [`ocisize_layer::measure_blob_with`] over it, all in one pass.
///
/// An error is returned only when reading `reader` itself fails; a member that is not a
/// valid layer yields a [`Measured`] whose `layer` is an error.
pub fn measure_reader<R: Read>(
    reader: R,
    algorithm: Algorithm,
    keep: u64,
    limits: &Limits,
    pipeline: Pipeline,
    progress: Option<&(dyn Fn(u64) + Send + Sync)>,
) -> io::Result<Measured> {
    let mut cap =
        Capture { inner: reader, keep: Some(Vec::new()), limit: keep, decided: false, progress };
    let m = ocisize_layer::measure_blob_with(&mut cap, algorithm, limits, pipeline)?;
    let data = if cap.decided { cap.keep.take().map(Arc::from) } else { None };
    Ok(Measured { size: m.size, digest: m.digest, data, layer: m.layer.map_err(Arc::new) })
}

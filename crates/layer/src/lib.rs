//! Measure an image layer in one streaming pass.
//!
//! [`measure_blob`] reads a layer blob once: its own size and digest, and it detects the compression from the magic bytes (not
//! from the media type, which real tools get wrong: skopeo and podman label plain tar blobs
//! `+gzip`), decompresses every gzip member and every zstd frame, hashes the uncompressed
//! stream into the diffID, counts its bytes, and walks the tar headers ([`TarWalker`]) for
//! entry counts and the sizes docker's storage drivers record. Memory use does not depend on
//! the layer's size: one aligned buffer, plus a path map for the overlay2 figure.
//!
//! ```
//! use ocisize_layer::{measure_blob, Algorithm, Compression, Limits, Pipeline};
//!
//! // A tar with one 5-byte file "hello", built by hand: header, body, padding, end blocks.
//! let mut tar = vec![0u8; 512];
//! tar[..5].copy_from_slice(b"hello");
//! tar[100..107].copy_from_slice(b"0000644");
//! tar[124..135].copy_from_slice(b"00000000005");
//! tar[156] = b'0';
//! tar[257..263].copy_from_slice(b"ustar\0");
//! tar[263..265].copy_from_slice(b"00");
//! tar[148..156].copy_from_slice(b"        ");
//! let sum: u32 = tar.iter().map(|&b| u32::from(b)).sum();
//! tar[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
//! tar.extend_from_slice(b"world");
//! tar.resize(512 * 4, 0);
//!
//! let m = measure_blob(&tar[..], Algorithm::Sha256, &Limits::default(), Pipeline::Serial)
//!     .unwrap();
//! let facts = m.layer.unwrap();
//! assert_eq!(m.digest, facts.diff_id, "a plain tar is its own uncompressed layer");
//! assert_eq!(facts.compression, Compression::None);
//! assert_eq!(facts.uncompressed_size, 2048);
//! let stats = facts.tar.unwrap();
//! assert_eq!((stats.files, stats.docker_vfs_size), (1, 5));
//! ```
#![deny(missing_docs)]

mod decode;
pub mod files;
mod header;
mod pipeline;
mod tar;

use std::io::{self, Read};

pub use decode::{decoder, sniff, Sniffed};
use ocisize_digest::{read_retry, Hasher};
pub use ocisize_digest::{Algorithm, Digest};
pub use ocisize_spec::Compression;
use pipeline::{pump_serial, read_for_inflater, Sink, Stop};
use serde::Serialize;
pub use tar::{TarError, TarStats, TarWalker};

/// What measuring one layer may cost, and what it records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Stop decompressing after this many bytes (a decompression bomb guard). Default 64 GiB.
    pub max_uncompressed_bytes: u64,
    /// Most tar entries in one layer. Default 10,000,000.
    pub max_entries: u64,
    /// Also record every entry's path, kind and size ([`LayerFacts::files`]) for the
    /// cross-layer accounting of [`files`]. Off by default: the walk then keeps nothing per
    /// entry beyond the overlay2 path map.
    pub files: bool,
    /// Bytes of a layer's file list kept in memory before sorted runs of it spill to an
    /// unlinked temporary file. Default 32 MiB.
    pub max_file_list_memory: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_uncompressed_bytes: 64 << 30,
            max_entries: 10_000_000,
            files: false,
            max_file_list_memory: 32 << 20,
        }
    }
}

/// Facts about one layer blob.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LayerFacts {
    /// Compression detected from the magic bytes.
    pub compression: Compression,
    /// All decompressed bytes: every gzip member, every zstd frame, and the tar padding
    /// after the end-of-archive blocks.
    pub uncompressed_size: u64,
    /// sha256 of all decompressed bytes (image-spec config.md: "the digest over the
    /// layer's uncompressed tar archive").
    pub diff_id: Digest,
    /// The tar walk's outcome. A blob that is not a tar (a config, say) is `Err` here,
    /// which is not an error of [`measure_blob`].
    pub tar: Result<TarStats, TarError>,
    /// Every entry of the tar, when [`Limits::files`] asked for it and the tar is valid; an
    /// error when its temporary file failed.
    #[serde(skip)]
    pub files: Option<Result<files::FileList, files::FilesError>>,
}

/// Why a layer could not be measured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// Reading the raw blob failed.
    #[error("cannot read layer: {0}")]
    Io(#[source] io::Error),
    /// The compressed stream is corrupt or truncated.
    #[error("{compression} stream is corrupt after {offset} uncompressed bytes: {source}")]
    Decompress {
        /// The compression.
        compression: Compression,
        /// Uncompressed bytes produced before the failure.
        offset: u64,
        /// The decoder's finding.
        #[source]
        source: io::Error,
    },
    /// The gzip trailer's length (ISIZE, the uncompressed size mod 2^32) differs from what
    /// the stream inflates to (RFC 1952 §2.3.1).
    #[error(
        "gzip trailer records an uncompressed length of {recorded} bytes (mod 2^32), but the stream inflates to {inflated}"
    )]
    GzipLength {
        /// ISIZE as the trailer records it.
        recorded: u32,
        /// Bytes the stream inflated to.
        inflated: u64,
    },
    /// The gzip trailer's CRC-32 does not match the inflated bytes (RFC 1952 §2.3.1).
    #[error("gzip trailer's CRC-32 does not match the {inflated} inflated bytes")]
    GzipCrc {
        /// Bytes the stream inflated to.
        inflated: u64,
    },
    /// The layer decompresses to more than the limit: stopped early.
    #[error("layer decompresses to more than {limit} bytes (raise the limit to measure it)")]
    TooLarge {
        /// The limit in force.
        limit: u64,
    },
}

/// How one blob's measurement is spread over threads.
///
/// A compressed layer's work is inflate, then hash and walk the output, and hash the raw
/// bytes. [`Pipeline::Staged`] gives inflate a thread of its own (the slowest stage, so a
/// layer costs about its inflate time); [`Pipeline::Serial`] does all of it on the calling
/// thread. When as many layers are measured at once as there are cores, serial measurements
/// keep every core busy without the hand-offs between stages, and finish sooner.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pipeline {
    /// Everything on the calling thread.
    #[default]
    Serial,
    /// For a compressed blob: the calling thread reads, a second thread inflates and does
    /// nothing else, a third hashes both streams and walks the tar. Plain tar blobs are
    /// always measured serially (reading costs little).
    Staged,
}

impl Pipeline {
    fn staged(self) -> bool {
        self == Pipeline::Staged
    }
}

/// One pass over a blob: its own size and digest, and what it holds as a layer.
#[derive(Debug)]
pub struct BlobMeasurement {
    /// Bytes in the blob.
    pub size: u64,
    /// Digest of the blob's bytes as read.
    pub digest: Digest,
    /// The layer measurement. A blob that is not a layer (a config, say) gives a
    /// [`LayerFacts`] whose `tar` is an error, or a [`LayerError`] if it looked compressed.
    pub layer: Result<LayerFacts, LayerError>,
}

/// Counts the raw blob and hashes it; remembers a failure of the raw reader so that it is not
/// mistaken for a corrupt layer.
struct RawReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    count: u64,
    failed: Option<io::Error>,
    /// The last 8 bytes read: a single-member gzip blob's trailer (CRC-32, ISIZE).
    tail: [u8; 8],
}

impl<R> RawReader<R> {
    fn keep_tail(&mut self, chunk: &[u8]) {
        if chunk.len() >= 8 {
            self.tail.copy_from_slice(&chunk[chunk.len() - 8..]);
        } else {
            self.tail.rotate_left(chunk.len());
            self.tail[8 - chunk.len()..].copy_from_slice(chunk);
        }
    }

    /// flate2 reports a bad CRC-32 and a bad ISIZE with one message; the trailer says which
    /// it was (for a single-member stream, whose trailer ends the blob).
    fn name_trailer_failure(
        &self,
        layer: Result<LayerFacts, LayerError>,
    ) -> Result<LayerFacts, LayerError> {
        match layer {
            Err(LayerError::Decompress { compression: Compression::Gzip, offset, source })
                if self.count >= 18 && source.to_string().contains("matching checksum") =>
            {
                let recorded =
                    u32::from_le_bytes([self.tail[4], self.tail[5], self.tail[6], self.tail[7]]);
                // ISIZE is the length modulo 2^32: the truncation is the format's.
                if recorded != offset as u32 {
                    Err(LayerError::GzipLength { recorded, inflated: offset })
                } else {
                    Err(LayerError::GzipCrc { inflated: offset })
                }
            }
            other => other,
        }
    }
}

impl<R: Read> Read for RawReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&buf[..n]);
                }
                self.keep_tail(&buf[..n]);
                self.count += n as u64;
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Err(e),
            Err(e) => {
                let copy = io::Error::new(e.kind(), e.to_string());
                self.failed = Some(e);
                Err(copy)
            }
        }
    }
}

/// Read a whole blob from `raw` (to its end): its size and digest (with `algorithm`), and its
/// layer facts, in one pass.
///
/// A plain-tar blob hashed with sha256 is hashed once: its digest is its diffID. A compressed
/// blob's own digest is taken on the thread that hashes the inflated bytes, so the
/// decompressing thread does nothing else (see [`Pipeline`]). An error is returned only when
/// reading `raw` fails; a blob that does not decompress still gets its size and digest (the
/// rest of it is read after the decoder gives up).
pub fn measure_blob<R: Read>(
    raw: R,
    algorithm: Algorithm,
    limits: &Limits,
    pipeline: Pipeline,
) -> io::Result<BlobMeasurement> {
    let mut reader = RawReader { inner: raw, hasher: None, count: 0, failed: None, tail: [0; 8] };
    let head = sniff_head(&mut reader).map_err(|e| reader.failed.take().unwrap_or(e))?;
    let compression = Compression::sniff(&head);
    if compression == Compression::None && algorithm == Algorithm::Sha256 {
        let layer = measure_sniffed(head, compression, &mut reader, limits);
        if let Some(e) = reader.failed.take() {
            return Err(e);
        }
        return match layer {
            Ok(f) => {
                Ok(BlobMeasurement { size: f.uncompressed_size, digest: f.diff_id, layer: Ok(f) })
            }
            // Only a read failure stops a plain tar early, and that returned above.
            Err(e) => Err(io::Error::other(format!("plain layer stopped before its end: {e}"))),
        };
    }
    let (layer, hasher) = if compression != Compression::None && pipeline.staged() {
        read_for_inflater(&mut reader, Hasher::new(algorithm), head, compression, limits)
    } else {
        let mut raw_hasher = Hasher::new(algorithm);
        raw_hasher.update(&head);
        reader.hasher = Some(raw_hasher);
        let layer = measure_sniffed(head, compression, &mut reader, limits);
        let drained = io::copy(&mut reader, &mut io::sink());
        let hasher = reader.hasher.take().ok_or_else(|| io::Error::other("no hasher"));
        (layer, drained.and(hasher))
    };
    if let Some(e) = reader.failed.take() {
        return Err(e);
    }
    let layer = reader.name_trailer_failure(layer);
    Ok(BlobMeasurement { size: reader.count, digest: hasher?.finalize(), layer })
}

fn sniff_head<R: Read>(raw: &mut R) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(8);
    while head.len() < 4 {
        let mut b = [0u8; 4];
        let n = read_retry(raw, &mut b[..4 - head.len()])?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&b[..n]);
    }
    Ok(head)
}

fn measure_sniffed<R: Read>(
    head: Vec<u8>,
    compression: Compression,
    raw: R,
    limits: &Limits,
) -> Result<LayerFacts, LayerError> {
    let chained = io::Cursor::new(head).chain(raw);
    // The staged pipeline never comes here (see `read_for_inflater`): serial it is.
    let pump = |r: &mut dyn Read| pump_serial(r, limits);
    // A plain tar cannot be a decompression bomb: the limit is on what decompression adds.
    let plain_limits = Limits { max_uncompressed_bytes: u64::MAX, ..limits.clone() };
    let result = match compression {
        Compression::None => {
            let mut r = chained;
            pump_serial(&mut r, &plain_limits)
        }
        Compression::Gzip => {
            let mut r = flate2::read::MultiGzDecoder::new(chained);
            pump(&mut r)
        }
        Compression::Zstd => match zstd::stream::read::Decoder::new(chained) {
            Ok(mut r) => pump(&mut r),
            Err(e) => Err(Stop::Read(e, 0)),
        },
    };
    facts(result, compression, limits)
}

fn facts(
    result: Result<(Sink, u64), Stop>,
    compression: Compression,
    limits: &Limits,
) -> Result<LayerFacts, LayerError> {
    match result {
        Ok((sink, total)) => {
            let (tar, files) = sink.walker.finish_with_files();
            Ok(LayerFacts {
                compression,
                uncompressed_size: total,
                diff_id: sink.hasher.finalize(),
                tar,
                files,
            })
        }
        Err(Stop::TooLarge) => Err(LayerError::TooLarge { limit: limits.max_uncompressed_bytes }),
        Err(Stop::Worker) => {
            Err(LayerError::Io(io::Error::other("the hashing thread stopped unexpectedly")))
        }
        Err(Stop::Read(e, offset)) => Err(if compression == Compression::None {
            LayerError::Io(e)
        } else {
            LayerError::Decompress { compression, offset, source: e }
        }),
    }
}

#[cfg(test)]
mod tests;

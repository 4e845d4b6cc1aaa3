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

mod tar;

use std::io::{self, Read};

use ocisize_digest::Hasher;
pub use ocisize_digest::{Algorithm, Digest};
pub use ocisize_spec::Compression;
use serde::Serialize;
pub use tar::{TarError, TarStats, TarWalker};

/// Resource limits for one layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Stop decompressing after this many bytes (a decompression bomb guard). Default 64 GiB.
    pub max_uncompressed_bytes: u64,
    /// Most tar entries in one layer. Default 10,000,000.
    pub max_entries: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_uncompressed_bytes: 64 << 30, max_entries: 10_000_000 }
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
    /// which is not an error of [`measure`].
    pub tar: Result<TarStats, TarError>,
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
    /// The layer decompresses to more than the limit: stopped early.
    #[error("layer decompresses to more than {limit} bytes (raise the limit to measure it)")]
    TooLarge {
        /// The limit in force.
        limit: u64,
    },
}

const BUF: usize = 256 * 1024;
const ALIGN: usize = 4096;

/// A page-aligned read buffer. A large `Vec` is served by mmap at page+16, and `read()` into
/// such an address was measured 4x slower than into an aligned one.
struct AlignedBuf {
    storage: Vec<u8>,
    offset: usize,
}

impl AlignedBuf {
    fn new() -> Self {
        let storage = vec![0u8; BUF + ALIGN];
        let offset = storage.as_ptr().align_offset(ALIGN).min(ALIGN);
        AlignedBuf { storage, offset }
    }

    fn get(&mut self) -> &mut [u8] {
        &mut self.storage[self.offset..self.offset + BUF]
    }

    fn bytes(&self) -> &[u8] {
        &self.storage[self.offset..self.offset + BUF]
    }
}

/// What the inflating thread hands the hashing thread: a compressed buffer it has finished
/// with (for the blob's digest) or a buffer of inflated bytes (for the diffID and the tar
/// walk). Each kind arrives in stream order.
enum ToHasher {
    Raw(AlignedBuf, usize),
    Tar(AlignedBuf, usize),
}

/// The compressed side of the staged pipeline, as the inflating thread sees it: buffers filled
/// by the reading thread, served in place to a `bufread` decoder, so the inflating thread
/// copies nothing; each emptied buffer goes on to the hashing thread, which hashes it and
/// returns it to be filled again.
struct ChannelReader {
    full: std::sync::mpsc::Receiver<(AlignedBuf, usize)>,
    forward: std::sync::mpsc::SyncSender<ToHasher>,
    current: Option<(AlignedBuf, usize)>,
    pos: usize,
}

impl ChannelReader {
    fn available(&self) -> usize {
        self.current.as_ref().map_or(0, |(_, n)| n.saturating_sub(self.pos))
    }

    fn pass_on(&mut self) {
        if let Some((buf, n)) = self.current.take() {
            // The hashing thread only stops early if it panicked; its join reports that.
            let _ = self.forward.send(ToHasher::Raw(buf, n));
        }
    }

    /// Pass every remaining buffer on unread, to the end of the blob: the blob's digest
    /// covers bytes after the compressed stream and after a point where the decoder gave up.
    fn drain(&mut self) {
        self.pass_on();
        while let Ok(chunk) = self.full.recv() {
            self.current = Some(chunk);
            self.pass_on();
        }
    }
}

impl io::BufRead for ChannelReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.available() == 0 {
            self.pass_on();
            match self.full.recv() {
                Ok(chunk) => {
                    self.current = Some(chunk);
                    self.pos = 0;
                }
                // The reading thread is done: end of the blob.
                Err(_) => return Ok(&[]),
            }
        }
        let pos = self.pos;
        Ok(self.current.as_ref().map_or(&[][..], |(buf, n)| &buf.bytes()[pos..*n]))
    }

    fn consume(&mut self, amt: usize) {
        self.pos = (self.pos + amt).min(self.current.as_ref().map_or(0, |(_, n)| *n));
    }
}

impl Read for ChannelReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let avail = io::BufRead::fill_buf(self)?;
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        io::BufRead::consume(self, n);
        Ok(n)
    }
}

use ocisize_digest::read_retry;

/// How a pump stopped early.
enum Stop {
    Read(io::Error, u64),
    TooLarge,
    Worker,
}

/// Read the next chunk of the decompressed stream into `buf`, adding it to `total` and
/// stopping at the limit; 0 at the end of the stream.
fn read_counted(
    r: &mut dyn Read,
    buf: &mut [u8],
    total: &mut u64,
    limits: &Limits,
) -> Result<usize, Stop> {
    let n = read_retry(r, buf).map_err(|e| Stop::Read(e, *total))?;
    *total += n as u64;
    if *total > limits.max_uncompressed_bytes {
        return Err(Stop::TooLarge);
    }
    Ok(n)
}

/// The hashing and tar-walking half of the pipeline.
struct Sink {
    hasher: Hasher,
    walker: TarWalker,
}

impl Sink {
    fn new(limits: &Limits) -> Self {
        Sink { hasher: Hasher::new(Algorithm::Sha256), walker: TarWalker::new(limits.max_entries) }
    }

    fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.walker.update(chunk);
    }
}

/// Read, hash and walk on one thread.
fn pump_serial(r: &mut dyn Read, limits: &Limits) -> Result<(Sink, u64), Stop> {
    let mut buf = AlignedBuf::new();
    let mut sink = Sink::new(limits);
    let mut total: u64 = 0;
    loop {
        let b = buf.get();
        let n = read_counted(r, b, &mut total, limits)?;
        if n == 0 {
            return Ok((sink, total));
        }
        sink.update(&b[..n]);
    }
}

/// Uncompressed buffers in flight between the inflating and the hashing thread.
const IN_FLIGHT: usize = 4;

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
}

impl<R: Read> Read for RawReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                if let Some(h) = self.hasher.as_mut() {
                    h.update(&buf[..n]);
                }
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
    let mut reader = RawReader { inner: raw, hasher: None, count: 0, failed: None };
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
    Ok(BlobMeasurement { size: reader.count, digest: hasher?.finalize(), layer })
}

/// Compressed buffers in flight between the reading and the inflating thread.
const RAW_IN_FLIGHT: usize = 4;

/// The staged pipeline for a compressed blob, on three threads. This one reads the raw blob
/// (and reports progress, through `reader`) and does nothing else; a second does nothing but
/// inflate, straight from this thread's buffers; a third hashes both streams (the blob's
/// digest and the diffID) and walks the tar. Reading costs little, so two threads are busy:
/// on two cores inflate keeps a core to itself, and a layer costs about its inflate time.
/// When the decoder stops early (a corrupt stream, the size limit) the rest of the blob is
/// still read and hashed: the blob's digest covers all of it.
fn read_for_inflater<R: Read>(
    reader: &mut RawReader<R>,
    raw_hasher: Hasher,
    head: Vec<u8>,
    compression: Compression,
    limits: &Limits,
) -> (Result<LayerFacts, LayerError>, io::Result<Hasher>) {
    use std::sync::mpsc::sync_channel;
    let (full_tx, full_rx) = sync_channel::<(AlignedBuf, usize)>(RAW_IN_FLIGHT);
    let (raw_empty_tx, raw_empty_rx) = sync_channel::<AlignedBuf>(RAW_IN_FLIGHT);
    let (tar_empty_tx, tar_empty_rx) = sync_channel::<AlignedBuf>(IN_FLIGHT);
    // Room for every buffer there is, so the inflating thread never waits on the hasher's
    // queue, only on the hasher's returning a buffer.
    let (hash_tx, hash_rx) = sync_channel::<ToHasher>(RAW_IN_FLIGHT + IN_FLIGHT);
    for _ in 0..RAW_IN_FLIGHT {
        // The channels have room for every buffer, so these cannot block or fail.
        let _ = raw_empty_tx.send(AlignedBuf::new());
    }
    for _ in 0..IN_FLIGHT {
        let _ = tar_empty_tx.send(AlignedBuf::new());
    }
    std::thread::scope(|s| {
        let hasher = s.spawn(move || {
            let mut raw_hasher = raw_hasher;
            let mut sink = Sink::new(limits);
            for msg in hash_rx {
                // A buffer nobody wants any more (its stage has stopped) is simply dropped.
                match msg {
                    ToHasher::Raw(buf, n) => {
                        raw_hasher.update(&buf.bytes()[..n]);
                        let _ = raw_empty_tx.send(buf);
                    }
                    ToHasher::Tar(buf, n) => {
                        sink.update(&buf.bytes()[..n]);
                        let _ = tar_empty_tx.send(buf);
                    }
                }
            }
            (raw_hasher, sink)
        });
        let inflater = s.spawn(move || {
            let mut source =
                ChannelReader { full: full_rx, forward: hash_tx.clone(), current: None, pos: 0 };
            let result = inflate(compression, &mut source, &hash_tx, &tar_empty_rx, limits);
            source.drain();
            result
        });
        let mut head = Some(head);
        loop {
            // Every buffer comes back from the hasher; a fresh one if it has stopped.
            let mut buf = raw_empty_rx.recv().unwrap_or_else(|_| AlignedBuf::new());
            let start = match head.take() {
                Some(h) => {
                    // `head` holds at most the 4 sniffed bytes, already counted.
                    let k = h.len().min(BUF);
                    buf.get()[..k].copy_from_slice(&h[..k]);
                    k
                }
                None => 0,
            };
            let n = match read_retry(reader, &mut buf.get()[start..]) {
                Ok(n) => n,
                // Recorded in `reader.failed`; the inflater sees the end of its input.
                Err(_) => break,
            };
            if start + n == 0 || full_tx.send((buf, start + n)).is_err() {
                break;
            }
        }
        drop(full_tx);
        let inflated = inflater.join().map_err(|_| Stop::Worker).and_then(|r| r);
        match hasher.join() {
            Ok((raw_hasher, sink)) => {
                (facts(inflated.map(|total| (sink, total)), compression, limits), Ok(raw_hasher))
            }
            Err(_) => (
                facts(Err(Stop::Worker), compression, limits),
                Err(io::Error::other("the hashing thread stopped unexpectedly")),
            ),
        }
    })
}

/// Inflate a whole stream from `source` into recycled buffers for the hashing thread; the
/// count of inflated bytes.
fn inflate(
    compression: Compression,
    source: &mut ChannelReader,
    out: &std::sync::mpsc::SyncSender<ToHasher>,
    empty: &std::sync::mpsc::Receiver<AlignedBuf>,
    limits: &Limits,
) -> Result<u64, Stop> {
    let mut gzip;
    let mut zstd;
    let r: &mut dyn Read = match compression {
        Compression::Gzip => {
            gzip = flate2::bufread::MultiGzDecoder::new(source);
            &mut gzip
        }
        Compression::Zstd => match zstd::stream::read::Decoder::with_buffer(source) {
            Ok(d) => {
                zstd = d;
                &mut zstd
            }
            Err(e) => return Err(Stop::Read(e, 0)),
        },
        // Not reached (plain blobs are measured serially); served as it is.
        Compression::None => source,
    };
    let mut total: u64 = 0;
    while let Ok(mut buf) = empty.recv() {
        let n = read_counted(r, buf.get(), &mut total, limits)?;
        if n == 0 {
            return Ok(total);
        }
        if out.send(ToHasher::Tar(buf, n)).is_err() {
            break;
        }
    }
    Err(Stop::Worker)
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
        Ok((sink, total)) => Ok(LayerFacts {
            compression,
            uncompressed_size: total,
            diff_id: sink.hasher.finalize(),
            tar: sink.walker.finish(),
        }),
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

//! The staged pipeline for a compressed blob (reader, inflater, hasher and tar walker on
//! three threads, recycled page-aligned buffers over bounded channels) and the serial pump.

use std::io::{self, Read};

use ocisize_digest::{read_retry, Algorithm, Hasher};

use crate::{facts, Compression, LayerError, LayerFacts, Limits, RawReader, TarWalker};

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

/// How a pump stopped early.
pub(crate) enum Stop {
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
pub(crate) struct Sink {
    pub(crate) hasher: Hasher,
    pub(crate) walker: TarWalker,
}

impl Sink {
    fn new(limits: &Limits) -> Self {
        let walker = TarWalker::new(limits.max_entries);
        let walker =
            if limits.files { walker.record_files(limits.max_file_list_memory) } else { walker };
        Sink { hasher: Hasher::new(Algorithm::Sha256), walker }
    }

    fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.walker.update(chunk);
    }
}

/// Read, hash and walk on one thread.
pub(crate) fn pump_serial(r: &mut dyn Read, limits: &Limits) -> Result<(Sink, u64), Stop> {
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

/// Compressed buffers in flight between the reading and the inflating thread.
const RAW_IN_FLIGHT: usize = 4;

/// The staged pipeline for a compressed blob, on three threads. This one reads the raw blob
/// (and reports progress, through `reader`) and does nothing else; a second does nothing but
/// inflate, straight from this thread's buffers; a third hashes both streams (the blob's
/// digest and the diffID) and walks the tar. Reading costs little, so two threads are busy:
/// on two cores inflate keeps a core to itself, and a layer costs about its inflate time.
/// When the decoder stops early (a corrupt stream, the size limit) the rest of the blob is
/// still read and hashed: the blob's digest covers all of it.
pub(crate) fn read_for_inflater<R: Read>(
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

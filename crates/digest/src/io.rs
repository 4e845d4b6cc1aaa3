//! Streaming adapters: hash while reading or writing, and verify a blob against its
//! descriptor while it streams.

use std::io::{self, Read, Write};

use crate::{Algorithm, Digest, Hasher};

/// One `read`, retried while it fails with [`io::ErrorKind::Interrupted`] (which
/// `std::io::Read` allows any reader to return, and which means "try again"). Every read
/// loop of ocisize goes through this.
pub fn read_retry<R: Read + ?Sized>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    retry(|| r.read(buf))
}

/// Run an I/O operation again while it fails with [`io::ErrorKind::Interrupted`].
pub fn retry<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A reader that hashes and counts every byte read through it.
///
/// Exactly the bytes returned to the caller are hashed (`&buf[..n]`), so partial reads and
/// `Interrupted` errors cannot desynchronise the digest from the data.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wrap `inner`, hashing with `algorithm`.
    pub fn new(inner: R, algorithm: Algorithm) -> Self {
        HashingReader { inner, hasher: Hasher::new(algorithm), count: 0 }
    }

    /// Bytes read so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The wrapped reader.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The wrapped reader, mutably. Bytes read from it directly are not hashed.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The digest of everything read so far, and the byte count, and the inner reader.
    pub fn finish(self) -> (Digest, u64, R) {
        (self.hasher.finalize(), self.count, self.inner)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// A writer that hashes and counts every byte written through it.
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    /// Wrap `inner`, hashing with `algorithm`.
    pub fn new(inner: W, algorithm: Algorithm) -> Self {
        HashingWriter { inner, hasher: Hasher::new(algorithm), count: 0 }
    }

    /// Bytes written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The wrapped writer.
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The digest of everything written, the byte count, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        (self.hasher.finalize(), self.count, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A blob did not match its descriptor.
///
/// Carried inside an [`io::Error`] of kind [`io::ErrorKind::InvalidData`] by
/// [`VerifyingReader`]; recover it with [`VerifyError::from_io`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The blob ended before the descriptor's size.
    #[error("blob {digest} is truncated: expected {expected} bytes, found {found}")]
    TooShort {
        /// The descriptor's digest.
        digest: Digest,
        /// The descriptor's size.
        expected: u64,
        /// Bytes actually available.
        found: u64,
    },
    /// The blob has more bytes than the descriptor's size.
    #[error("blob {digest} is longer than its descriptor's size of {expected} bytes")]
    TooLong {
        /// The descriptor's digest.
        digest: Digest,
        /// The descriptor's size.
        expected: u64,
    },
    /// The bytes hash to a different digest.
    #[error("digest mismatch for blob {expected}: found {found}")]
    Mismatch {
        /// The descriptor's digest.
        expected: Digest,
        /// The digest of the bytes read.
        found: Digest,
    },
}

impl VerifyError {
    /// The verification failure inside an I/O error produced by [`VerifyingReader`].
    pub fn from_io(err: &io::Error) -> Option<&VerifyError> {
        err.get_ref().and_then(|e| e.downcast_ref::<VerifyError>())
    }
}

/// A reader bounded by a descriptor: it yields at most `size` bytes, then probes the inner
/// reader for one more byte and checks the digest before it reports end of file.
///
/// A short, long or altered blob turns into an [`io::Error`] carrying a [`VerifyError`]
/// instead of a clean end of file, so no caller can mistake bad data for good.
#[derive(Debug)]
pub struct VerifyingReader<R> {
    inner: R,
    hasher: Option<Hasher>,
    expected: Digest,
    size: u64,
    read: u64,
}

impl<R: Read> VerifyingReader<R> {
    /// Verify `inner` against a descriptor's digest and size.
    pub fn new(inner: R, expected: Digest, size: u64) -> Self {
        VerifyingReader {
            inner,
            hasher: Some(Hasher::new(expected.algorithm())),
            expected,
            size,
            read: 0,
        }
    }

    /// Bytes delivered so far.
    pub fn count(&self) -> u64 {
        self.read
    }

    /// The wrapped reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn check_end(&mut self) -> io::Result<()> {
        let Some(hasher) = self.hasher.take() else {
            return Ok(());
        };
        let mut probe = [0u8; 1];
        let extra = match read_retry(&mut self.inner, &mut probe) {
            Ok(n) => n,
            Err(e) => {
                self.hasher = Some(hasher);
                return Err(e);
            }
        };
        if extra != 0 {
            return Err(invalid(VerifyError::TooLong {
                digest: self.expected,
                expected: self.size,
            }));
        }
        let found = hasher.finalize();
        if found != self.expected {
            return Err(invalid(VerifyError::Mismatch { expected: self.expected, found }));
        }
        Ok(())
    }
}

fn invalid(e: VerifyError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.size - self.read;
        if remaining == 0 {
            self.check_end()?;
            return Ok(0);
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let want = buf.len().min(usize::try_from(remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            return Err(invalid(VerifyError::TooShort {
                digest: self.expected,
                expected: self.size,
                found: self.read,
            }));
        }
        if let Some(h) = self.hasher.as_mut() {
            h.update(&buf[..n]);
        }
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all<R: Read>(mut r: R) -> io::Result<Vec<u8>> {
        let mut v = Vec::new();
        r.read_to_end(&mut v)?;
        Ok(v)
    }

    #[test]
    fn verifying_reader_accepts_exact_blob() {
        let data = b"hello world".to_vec();
        let d = Digest::of(Algorithm::Sha256, &data);
        let out = read_all(VerifyingReader::new(&data[..], d, data.len() as u64)).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn verifying_reader_reports_each_failure() {
        let data = b"hello world".to_vec();
        let d = Digest::of(Algorithm::Sha256, &data);
        let short = read_all(VerifyingReader::new(&data[..5], d, 11)).unwrap_err();
        assert!(matches!(
            VerifyError::from_io(&short),
            Some(VerifyError::TooShort { expected: 11, found: 5, .. })
        ));
        let long = read_all(VerifyingReader::new(&data[..], d, 5)).unwrap_err();
        assert!(matches!(VerifyError::from_io(&long), Some(VerifyError::TooLong { .. })));
        let mut flipped = data.clone();
        flipped[3] ^= 1;
        let bad = read_all(VerifyingReader::new(&flipped[..], d, 11)).unwrap_err();
        assert!(matches!(VerifyError::from_io(&bad), Some(VerifyError::Mismatch { .. })));
        assert!(bad.to_string().starts_with("digest mismatch for blob sha256:"));
    }

    #[test]
    fn hashing_reader_counts() {
        let data = vec![7u8; 10_000];
        let mut r = HashingReader::new(&data[..], Algorithm::Sha512);
        assert_eq!(read_all(&mut r).unwrap().len(), 10_000);
        let (d, n, _) = r.finish();
        assert_eq!(n, 10_000);
        assert_eq!(d, Digest::of(Algorithm::Sha512, &data));
    }
}

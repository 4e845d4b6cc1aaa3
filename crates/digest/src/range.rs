//! Reads of a byte range of a file by positioned reads.

use std::io::{self, Read};
use std::ops::Deref;
use std::os::unix::fs::FileExt;

use crate::retry;

/// A [`Read`] over the bytes `offset..offset + len` of a file, by positioned reads
/// (`pread(2)`, [`FileExt::read_at`]) that leave the file's own offset alone: several
/// readers may share one file (`&File`, `Arc<File>`), each at its own range, from several
/// threads. Each read is retried while it fails with [`io::ErrorKind::Interrupted`] (through
/// [`retry`]); a file that ends before the range does is an error
/// ([`io::ErrorKind::UnexpectedEof`], naming both offsets), not a short range.
///
/// ```
/// use std::io::{Read, Write};
/// use ocisize_digest::RangeReader;
///
/// let mut file = tempfile::tempfile()?;
/// file.write_all(b"header|member|trailer")?;
/// let mut member = String::new();
/// RangeReader::new(&file, 7, 6).read_to_string(&mut member)?;
/// assert_eq!(member, "member");
///
/// let e = RangeReader::new(&file, 14, 100).read_to_end(&mut Vec::new()).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
/// assert_eq!(e.to_string(), "the file ends at byte 21, inside a range that ends at byte 114");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct RangeReader<F> {
    file: F,
    pos: u64,
    end: u64,
}

impl<F> RangeReader<F> {
    /// The `len` bytes of `file` from `offset` (a range past `u64::MAX` ends there).
    pub fn new(file: F, offset: u64, len: u64) -> Self {
        RangeReader { file, pos: offset, end: offset.saturating_add(len) }
    }

    /// The offset in the file of the next byte to read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The file.
    pub fn get_ref(&self) -> &F {
        &self.file
    }

    /// The file back.
    pub fn into_inner(self) -> F {
        self.file
    }
}

impl<F> Read for RangeReader<F>
where
    F: Deref,
    F::Target: FileExt,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.end.saturating_sub(self.pos);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let n = retry(|| self.file.read_at(&mut buf[..want], self.pos))?.min(want);
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the file ends at byte {}, inside a range that ends at byte {}",
                    self.pos, self.end
                ),
            ));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::cell::Cell;
    use std::io::Write;

    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// A file in memory whose positioned reads return at most the next of `sizes` bytes
    /// (cycling), and fail with `Interrupted` where the size is 0.
    struct Flaky {
        data: Vec<u8>,
        sizes: Vec<usize>,
        next: Cell<usize>,
    }

    impl FileExt for Flaky {
        fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
            let i = self.next.get();
            self.next.set(i + 1);
            let size = self.sizes.get(i % self.sizes.len().max(1)).copied().unwrap_or(usize::MAX);
            if size == 0 {
                return Err(io::ErrorKind::Interrupted.into());
            }
            let start = usize::try_from(offset).unwrap().min(self.data.len());
            let n = buf.len().min(size).min(self.data.len() - start);
            buf[..n].copy_from_slice(&self.data[start..start + n]);
            Ok(n)
        }

        fn write_at(&self, _: &[u8], _: u64) -> io::Result<usize> {
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    /// Read `r` to its end with buffers of the next of `chunks` bytes (cycling; 0 as 1).
    fn read_in<R: Read>(r: &mut R, chunks: &[usize]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        for size in chunks.iter().cycle() {
            let mut buf = vec![0u8; (*size).max(1)];
            let n = r.read(&mut buf)?;
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        Ok(out)
    }

    proptest! {
        /// Any range of a file, read in any buffer sizes, from a file that returns short
        /// reads and `Interrupted`, is the slice; past the file's end it is the bytes there
        /// are, then `UnexpectedEof`.
        #[test]
        fn any_range_in_any_chunks_is_the_slice(
            data in vec(any::<u8>(), 0..2048),
            start in 0usize..2100,
            len in 0usize..2100,
            chunks in vec(0usize..300, 1..8),
            sizes in vec(0usize..300, 1..8),
        ) {
            prop_assume!(sizes.iter().any(|&s| s > 0));
            let file = Flaky { data: data.clone(), sizes, next: Cell::new(0) };
            let mut r = RangeReader::new(&file, start as u64, len as u64);
            let end = start + len;
            match read_in(&mut r, &chunks) {
                Ok(got) => {
                    let expected = if len == 0 { &[][..] } else { &data[start..end] };
                    prop_assert_eq!(&got[..], expected);
                    prop_assert_eq!(r.position(), end as u64);
                }
                Err(e) => {
                    prop_assert!(len > 0 && end > data.len());
                    prop_assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
                    prop_assert_eq!(r.position(), data.len().max(start) as u64);
                }
            }
        }
    }

    #[test]
    fn ranges_of_a_real_file_shared_by_readers() {
        let mut f = tempfile::tempfile().unwrap();
        let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
        f.write_all(&data).unwrap();
        let f = std::sync::Arc::new(f);
        // Interleaved reads of two ranges of one file: each keeps its own position.
        let mut a = RangeReader::new(f.clone(), 10, 50_000);
        let mut b = RangeReader::new(&*f, 60_000, 40_000);
        let (mut ga, mut gb) = (Vec::new(), Vec::new());
        let mut buf = [0u8; 4096];
        loop {
            let na = a.read(&mut buf).unwrap();
            ga.extend_from_slice(&buf[..na]);
            let nb = b.read(&mut buf).unwrap();
            gb.extend_from_slice(&buf[..nb]);
            if na == 0 && nb == 0 {
                break;
            }
        }
        assert_eq!(ga, &data[10..50_010]);
        assert_eq!(gb, &data[60_000..]);
        // An empty range; one past the end of the file; one that would end past u64::MAX
        // (saturated; the OS refuses an offset past i64::MAX).
        assert_eq!(RangeReader::new(&*f, 5, 0).read(&mut buf).unwrap(), 0);
        let e = RangeReader::new(&*f, 200_000, 10).read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(
            e.to_string(),
            "the file ends at byte 200000, inside a range that ends at byte 200010"
        );
        assert!(RangeReader::new(&*f, u64::MAX - 1, 10).read(&mut buf).is_err());
    }
}

//! A blob's uncompressed bytes as a reader, for a caller that needs the tar itself rather
//! than its measurement (an export that turns a zstd layer into the plain tar an older
//! runtime reads).

use std::io::{self, Read};

use ocisize_spec::Compression;

use crate::sniff_head;

/// A blob whose first bytes have been read to learn its compression: the same bytes, whole.
pub type Sniffed<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Read the first bytes of `raw` to learn its compression (from the magic bytes, as
/// [`measure_blob`](crate::measure_blob) does); returns it with a reader of all of `raw`'s
/// bytes, the sniffed ones included.
pub fn sniff<R: Read>(mut raw: R) -> io::Result<(Compression, Sniffed<R>)> {
    let head = sniff_head(&mut raw)?;
    let compression = Compression::sniff(&head);
    Ok((compression, io::Cursor::new(head).chain(raw)))
}

/// A reader of `raw`'s uncompressed bytes: every gzip member, every zstd frame, or `raw`
/// itself when it is not compressed.
pub fn decoder<'a, R: Read + Send + 'a>(
    compression: Compression,
    raw: R,
) -> io::Result<Box<dyn Read + Send + 'a>> {
    Ok(match compression {
        Compression::None => Box::new(raw),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(raw)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(raw)?),
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use proptest::prelude::*;

    use super::*;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    proptest! {
        #[test]
        fn every_compression_decodes_to_its_input(
            data in proptest::collection::vec(any::<u8>(), 0..5_000),
            kind in 0..3usize,
        ) {
            let (blob, want) = match kind {
                0 => (data.clone(), Compression::None),
                1 => (gzip(&data), Compression::Gzip),
                _ => (zstd::encode_all(&data[..], 1).unwrap(), Compression::Zstd),
            };
            let (found, raw) = sniff(&blob[..]).unwrap();
            // A plain input that happens to start with a magic number is no concern here.
            prop_assume!(kind != 0 || found == Compression::None);
            prop_assert_eq!(found, want);
            let mut whole = Vec::new();
            let mut raw = raw;
            raw.read_to_end(&mut whole).unwrap();
            prop_assert_eq!(&whole, &blob, "sniffing keeps every byte");
            let mut out = Vec::new();
            decoder(found, &blob[..]).unwrap().read_to_end(&mut out).unwrap();
            prop_assert_eq!(out, data);
        }
    }

    #[test]
    fn a_truncated_zstd_blob_is_an_error() {
        let blob = zstd::encode_all(&[7u8; 10_000][..], 3).unwrap();
        let mut out = Vec::new();
        let cut = &blob[..blob.len() - 3];
        assert!(decoder(Compression::Zstd, cut).unwrap().read_to_end(&mut out).is_err());
    }
}

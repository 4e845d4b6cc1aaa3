//! Compression sniffing, decoders and the tar walk over arbitrary blob bytes, with small
//! limits so bombs stop early; the blob pipeline gives the same answer serial and staged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_layer::{measure, measure_blob_with, Algorithm, Compression, Digest, Limits, Pipeline};

fuzz_target!(|data: &[u8]| {
    let _ = Compression::sniff(data);
    let limits = Limits { max_uncompressed_bytes: 16 << 20, max_entries: 10_000 };
    let facts = measure(data, &limits);
    if let Ok(f) = &facts {
        if f.compression == Compression::None {
            assert_eq!(f.uncompressed_size, data.len() as u64);
        }
    }
    let whole = Digest::of(Algorithm::Sha256, data);
    for pipeline in [Pipeline::Serial, Pipeline::Staged] {
        let m = measure_blob_with(data, Algorithm::Sha256, &limits, pipeline)
            .expect("reading a slice cannot fail");
        // The blob's own size and digest cover every byte, whatever the decoder thought.
        assert_eq!((m.size, m.digest), (data.len() as u64, whole));
        match (&m.layer, &facts) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{pipeline:?}: measure_blob {a:?}, measure {b:?}"),
        }
    }
});

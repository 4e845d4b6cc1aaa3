//! Compression sniffing, decoders and the tar walk over arbitrary blob bytes, with small
//! limits so bombs stop early.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_layer::{measure, Compression, Limits};

fuzz_target!(|data: &[u8]| {
    let _ = Compression::sniff(data);
    let limits = Limits { max_uncompressed_bytes: 16 << 20, max_entries: 10_000 };
    if let Ok(f) = measure(data, &limits) {
        if f.compression == Compression::None {
            assert_eq!(f.uncompressed_size, data.len() as u64);
        }
    }
});

//! Archive reading and format detection from a stream (no resolution).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_source::{Catalog, ScanOptions};

fuzz_target!(|data: &[u8]| {
    let mut options = ScanOptions::default();
    options.layer.max_uncompressed_bytes = 16 << 20;
    if let Ok(c) = Catalog::from_reader(data, "fuzz", None, &options) {
        for name in c.names() {
            let _ = c.measured(name);
        }
    }
});

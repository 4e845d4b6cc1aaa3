//! Archive reading, format detection and the graph walk from a stream (no report).
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_source::{open_reader, walk, ScanOptions, Source};

fuzz_target!(|data: &[u8]| {
    let mut options = ScanOptions::default();
    options.limits.layer.max_uncompressed_bytes = 16 << 20;
    if let Ok(source) = open_reader(data, "fuzz", None, &options) {
        let names: Vec<String> = source.catalog().names().map(str::to_owned).collect();
        for name in names {
            let _ = source.catalog().measured(&name);
        }
        let _ = walk(&source, &options.limits);
    }
});

//! A whole inspect of arbitrary bytes as a stream (the stdin path).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut options = ocisize::Options::default();
    options.limits.layer.max_uncompressed_bytes = 16 << 20;
    let _ = ocisize::inspect_reader(data, "-", &options);
});

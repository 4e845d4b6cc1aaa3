//! Manifest / index / dir: manifest documents (the same sniffing parser serves all three).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ocisize_spec::parse_manifest_document(data);
});

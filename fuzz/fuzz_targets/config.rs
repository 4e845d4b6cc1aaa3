//! Image configs.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_spec::{parse_json, DocumentKind, ImageConfig, JsonLimits};

fuzz_target!(|data: &[u8]| {
    let _ = parse_json::<ImageConfig>(data, DocumentKind::Config, &JsonLimits::default());
});

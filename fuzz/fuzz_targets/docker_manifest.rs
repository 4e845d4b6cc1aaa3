//! docker-archive manifest.json.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = ocisize_spec::parse_docker_manifest(data, &Default::default());
});

//! Size formatting never panics and ocisize's own format never uses an exponent.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|n: u64| {
    let _ = ocisize_units::docker(n);
    let _ = ocisize_units::podman(n);
    let _ = ocisize_units::ctr(n);
    assert!(!ocisize_units::human(n).contains('e'));
});

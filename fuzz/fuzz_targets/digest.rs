//! Digest parsing: any string either fails or round-trips through Display.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_digest::Digest;

fuzz_target!(|s: &str| {
    if let Ok(d) = s.parse::<Digest>() {
        assert_eq!(d.to_string(), s);
        assert_eq!(d.to_string().parse::<Digest>().ok(), Some(d));
    }
});

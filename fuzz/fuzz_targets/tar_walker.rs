//! The push-style tar walker: the result does not depend on how the stream is chunked.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_layer::TarWalker;

fuzz_target!(|input: (u16, &[u8])| {
    let (chunk, data) = input;
    let chunk = usize::from(chunk).max(1);
    let mut a = TarWalker::new(100_000);
    a.update(data);
    let mut b = TarWalker::new(100_000);
    for c in data.chunks(chunk) {
        b.update(c);
    }
    assert_eq!(a.finish(), b.finish());
});

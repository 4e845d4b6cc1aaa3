//! A whole inspect of arbitrary bytes written to a file (the seekable, indexed path).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if std::io::Write::write_all(&mut f, data).is_err() {
        return;
    }
    let mut options = ocisize::Options::default();
    options.parallelism = ocisize::Parallelism::new(2);
    options.limits.layer.max_uncompressed_bytes = 16 << 20;
    let _ = ocisize::inspect(&ocisize::SourceArg::path(f.path()), &options);
});

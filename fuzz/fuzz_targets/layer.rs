//! Compression sniffing, decoders and the tar walk over arbitrary blob bytes, with small
//! limits so bombs stop early, through the one production measuring path; the blob pipeline
//! gives the same answer serial and staged, file list included.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_layer::{Algorithm, Compression, Digest, Limits, Pipeline};
use ocisize_source::{measure_reader, MeasureWith};

fuzz_target!(|data: &[u8]| {
    let _ = Compression::sniff(data);
    let limits = Limits {
        max_uncompressed_bytes: 16 << 20,
        max_entries: 10_000,
        files: true,
        max_file_list_memory: 4096,
    };
    let whole = Digest::of(Algorithm::Sha256, data);
    let mut first = None;
    for pipeline in [Pipeline::Serial, Pipeline::Staged] {
        let with =
            MeasureWith { keep: 1 << 20, limits: &limits, pipeline, progress: None, tee: None };
        let m = measure_reader(data, "blob", data.len() as u64, Algorithm::Sha256, with)
            .expect("reading a slice cannot fail");
        // The blob's own size and digest cover every byte, whatever the decoder thought.
        assert_eq!((m.size, m.digest), (data.len() as u64, whole));
        if let Ok(f) = &m.layer {
            if f.compression == Compression::None {
                assert_eq!(f.uncompressed_size, data.len() as u64);
            }
        }
        // The file list (spilled in runs of 4 KiB) stacks on itself without a panic: every
        // copy of the lower layer is hidden by the same path above, or merged.
        if let Some(Some(Ok(list))) = m.layer.as_ref().ok().map(|f| f.files.clone()) {
            let waste = ocisize_layer::files::Overlay::new(&[list.clone(), list], 8)
                .and_then(|o| o.finish())
                .expect("a list just written reads back");
            assert!(waste.wasted_bytes <= waste.written_bytes);
        }
        let facts = m.layer.as_ref().ok().cloned();
        match &first {
            None => first = Some(facts),
            Some(serial) => assert_eq!(serial, &facts, "{pipeline:?} differs from serial"),
        }
    }
});

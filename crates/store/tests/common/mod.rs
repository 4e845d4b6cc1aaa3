//! Helpers shared by the store's integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;

use ocisize_digest::{Algorithm, Digest};
use ocisize_reference::Reference;
use ocisize_store::{Committed, Store};

/// `len` deterministic pseudo-random bytes for `seed` (a 64-bit LCG, Knuth's MMIX constants).
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        out.extend_from_slice(&(state >> 16).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A pseudo-random number in `0..n` for `seed`.
pub fn pick(seed: u64, n: u64) -> u64 {
    let b = bytes(seed ^ 0x5eed, 8);
    u64::from_le_bytes(b.try_into().unwrap()) % n.max(1)
}

pub fn sha256(data: &[u8]) -> Digest {
    Digest::of(Algorithm::Sha256, data)
}

/// Write `data` through a writer with its expected digest and size, in `chunk`-byte writes,
/// from byte 0 (skipping what a resumed ingest holds), and commit.
pub fn write_blob(store: &Store, reference: &str, data: &[u8], chunk: usize) -> Committed {
    let expected = (sha256(data), data.len() as u64);
    let mut w = store.writer(reference, Some(expected)).unwrap();
    w.skip_written_prefix();
    for c in data.chunks(chunk.max(1)) {
        w.write_all(c).unwrap();
    }
    w.commit(None).unwrap()
}

pub fn name(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap()
}

/// The ingest directories left in the store (not counting removals in progress).
pub fn ingests(store: &Store) -> Vec<String> {
    match std::fs::read_dir(store.root().join("ingest")) {
        Ok(d) => d
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".tmp"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

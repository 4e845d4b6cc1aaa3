//! Helpers shared by the tests of the ocisize crates (a dev-dependency only; not published).
//!
//! - [`corpus`]: a path inside `testdata/corpus`, the real-tool images.
//! - [`Jittery`]: a reader that returns random short reads and `Interrupted` errors, as
//!   tar-rs's tests do, to check that every parser handles them.
//! - [`copy_dir`]: a recursive copy, for tests that damage a layout directory.
//! - [`layers`]: independent models of stacked layers (dive's trees, an unpack into a map).
//! - [`oci`]: hand-made layer tars with chosen bodies, and an OCI layout of one image.
//! - [`docker_root`]: a generated docker data-root (JSON and metadata files only), for the
//!   runtime store reader's tests and bench.
//! - [`daemons`]: real dockerd, containerd and podman on private sockets, each inside
//!   `unshare --mount` and stopped by its PID when dropped, for the tests that meet a
//!   runtime.
#![deny(missing_docs)]
#![allow(clippy::unwrap_used)]

pub mod daemons;
mod docker_root;
pub mod layers;
pub mod oci;

pub use docker_root::{docker_root, Generated, Shape};

use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// `testdata/corpus/<name>` in this checkout.
pub fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/corpus").join(name)
}

/// A reader over `data` that returns short reads of 1 to `max_chunk` bytes and, one read in
/// `interrupt_one_in`, an [`io::ErrorKind::Interrupted`] error; deterministic for a seed.
#[derive(Debug)]
pub struct Jittery<'a> {
    data: &'a [u8],
    state: u64,
    max_chunk: usize,
    interrupt_one_in: u64,
}

impl<'a> Jittery<'a> {
    /// A jittery reader over `data`.
    pub fn new(data: &'a [u8], seed: u64, max_chunk: usize, interrupt_one_in: u64) -> Self {
        Jittery { data, state: seed, max_chunk: max_chunk.max(1), interrupt_one_in }
    }
}

impl Read for Jittery<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // A 64-bit linear congruential generator (Knuth's MMIX constants).
        self.state = self.state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let r = self.state >> 33;
        if self.interrupt_one_in > 0 && r.is_multiple_of(self.interrupt_one_in) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "jitter"));
        }
        let n = (1 + (r as usize % self.max_chunk)).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// Copy the directory `src` to `dst`, recursively (files and directories only).
///
/// # Panics
/// On any I/O error: it is a test helper.
pub fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let t = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jittery_reads_everything_in_order() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let mut r = Jittery::new(&data, 7, 300, 5);
        let (mut out, mut interrupts) = (Vec::new(), 0);
        let mut buf = [0u8; 512];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    assert!(n <= 300);
                    out.extend_from_slice(&buf[..n]);
                }
                Err(e) => {
                    assert_eq!(e.kind(), io::ErrorKind::Interrupted);
                    interrupts += 1;
                }
            }
        }
        assert_eq!(out, data);
        assert!(interrupts > 0);
    }

    #[test]
    fn corpus_holds_the_reference() {
        assert!(corpus("reference.json").is_file());
    }
}

//! A digest of a regular file's body, taken as the body passes through the tar walk.

use std::fmt;

/// Bytes of a [`ContentDigest`]: the fixed width it is stored with in a file list.
pub const CONTENT_WIDTH: usize = 16;

/// The digest of a regular file's body (its bytes, not its metadata: mode, owner and mtime
/// do not enter it): XXH3-128 (see [`ContentDigest::ALGORITHM`]). It tells whether two
/// images hold the same bytes at a path; it is no proof against a crafted collision (layers
/// themselves are verified by sha256).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentDigest([u8; CONTENT_WIDTH]);

impl ContentDigest {
    /// The name of the hash, as the JSON prefixes a digest with it.
    pub const ALGORITHM: &'static str = "xxh3-128";

    /// The digest of `bytes` taken at once (the same as the walk takes piece by piece).
    pub fn of(bytes: &[u8]) -> ContentDigest {
        ContentDigest(xxhash_rust::xxh3::xxh3_128(bytes).to_be_bytes())
    }

    /// The digest from its bytes.
    pub fn from_bytes(bytes: [u8; CONTENT_WIDTH]) -> ContentDigest {
        ContentDigest(bytes)
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8; CONTENT_WIDTH] {
        &self.0
    }
}

/// `xxh3-128:` and the digest in lowercase hex.
impl fmt::Display for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Self::ALGORITHM)?;
        f.write_str(":")?;
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ContentDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Hashes one body after another, fed in pieces; [`ContentHasher::finish`] starts the next.
pub(crate) struct ContentHasher {
    state: xxhash_rust::xxh3::Xxh3Default,
}

impl fmt::Debug for ContentHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ContentHasher")
    }
}

impl ContentHasher {
    pub(crate) fn new() -> ContentHasher {
        ContentHasher { state: xxhash_rust::xxh3::Xxh3Default::new() }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.state.update(bytes);
    }

    /// The digest of the bytes fed since the last `finish`, and a fresh start.
    pub(crate) fn finish(&mut self) -> ContentDigest {
        let d = ContentDigest(self.state.digest128().to_be_bytes());
        self.state.reset();
        d
    }
}

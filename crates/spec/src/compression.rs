//! Compression of a layer blob (or of a whole archive), as its magic bytes say.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A blob's compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// No compression (a plain tar, or anything else).
    None,
    /// gzip (RFC 1952), `1f 8b`.
    Gzip,
    /// zstd (RFC 8878), frame magic `28 b5 2f fd` or a skippable frame `5? 2a 4d 18`.
    Zstd,
}

impl Compression {
    /// Detect compression from the first bytes of a blob (4 are enough).
    pub fn sniff(prefix: &[u8]) -> Compression {
        match prefix {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [b, 0x2a, 0x4d, 0x18, ..] if b & 0xf0 == 0x50 => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// `none`, `gzip` or `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

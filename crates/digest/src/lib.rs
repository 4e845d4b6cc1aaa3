//! Typed OCI content digests.
//!
//! The [OCI image spec](https://github.com/opencontainers/image-spec/blob/main/descriptor.md#digests)
//! defines a digest as `algorithm ":" encoded`. This crate keeps a digest as the raw bytes of a
//! registered algorithm ([`Digest::Sha256`] or [`Digest::Sha512`]) so that two digests are
//! compared as bytes, never as strings, and an unsupported algorithm is an error at parse time
//! rather than a surprise later.
//!
//! It also provides the streaming adapters the rest of ocisize is built on:
//! [`Hasher`] (incremental hashing), [`HashingReader`] (hash and count while reading) and
//! [`VerifyingReader`] (bound a read by a descriptor's size and check its digest at the end),
//! [`RangeReader`] (a byte range of a file by positioned reads), the one `Interrupted` retry
//! ([`retry`], [`read_retry`]), plus [`chain_id`] for layer chain IDs.
//!
//! ```
//! use ocisize_digest::{Algorithm, Digest};
//!
//! let d: Digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
//!     .parse()
//!     .unwrap();
//! assert_eq!(d.algorithm(), Algorithm::Sha256);
//! assert_eq!(d, Digest::of(Algorithm::Sha256, b"foo"));
//! assert_eq!(d.short(), "2c26b46b68ff");
//! ```
#![deny(missing_docs)]

mod io;
#[cfg(unix)]
mod range;

use std::fmt;
use std::str::FromStr;

use sha2::Digest as _;

pub use io::{read_retry, retry, HashingReader, HashingWriter, VerifyError, VerifyingReader};
#[cfg(unix)]
pub use range::RangeReader;

/// A registered digest algorithm.
///
/// The OCI image spec registers `sha256` (REQUIRED for implementations) and `sha512`
/// (OPTIONAL). Other algorithms are rejected with [`ParseError::UnsupportedAlgorithm`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, 32 bytes, 64 hex characters.
    Sha256,
    /// SHA-512, 64 bytes, 128 hex characters.
    Sha512,
}

impl Algorithm {
    /// The algorithm's name as it appears in a digest string.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the raw digest in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    /// Length of the hex encoding.
    pub const fn hex_len(self) -> usize {
        self.digest_len() * 2
    }

    /// Look an algorithm up by its registered name.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    /// A fresh incremental hasher for this algorithm.
    pub fn hasher(self) -> Hasher {
        Hasher::new(self)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A content digest: the algorithm and its raw output bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Digest {
    /// A SHA-256 digest.
    Sha256([u8; 32]),
    /// A SHA-512 digest.
    Sha512([u8; 64]),
}

impl Digest {
    /// Hash `data` in one call.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Digest {
        let mut h = Hasher::new(algorithm);
        h.update(data);
        h.finalize()
    }

    /// The digest's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Digest::Sha256(_) => Algorithm::Sha256,
            Digest::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// The raw digest bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Digest::Sha256(b) => b,
            Digest::Sha512(b) => b,
        }
    }

    /// The lowercase hex encoding (the spec's "encoded" part).
    pub fn hex(&self) -> String {
        let mut s = String::with_capacity(self.algorithm().hex_len());
        for b in self.as_bytes() {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 0xf)] as char);
        }
        s
    }

    /// The first 12 hex characters, as `docker images` shows an image ID.
    pub fn short(&self) -> String {
        let mut h = self.hex();
        h.truncate(12);
        h
    }

    /// Parse the encoded (hex) part for a known algorithm.
    pub fn from_hex(algorithm: Algorithm, hex: &str) -> Result<Digest, ParseError> {
        let bytes = hex.as_bytes();
        if bytes.len() != algorithm.hex_len() {
            return Err(ParseError::Length {
                algorithm,
                expected: algorithm.hex_len(),
                found: bytes.len(),
            });
        }
        let mut out = [0u8; 64];
        for (i, pair) in bytes.chunks_exact(2).enumerate() {
            let hi = hex_val(pair[0]).ok_or(ParseError::Hex { position: i * 2 })?;
            let lo = hex_val(pair[1]).ok_or(ParseError::Hex { position: i * 2 + 1 })?;
            out[i] = (hi << 4) | lo;
        }
        Ok(match algorithm {
            Algorithm::Sha256 => {
                let mut a = [0u8; 32];
                a.copy_from_slice(&out[..32]);
                Digest::Sha256(a)
            }
            Algorithm::Sha512 => Digest::Sha512(out),
        })
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Only lowercase hex is accepted: the spec's registered algorithms define the encoded
/// portion as `/[a-f0-9]{64}/` and `/[a-f0-9]{128}/`.
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm(), self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a usable digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The string has no `:` separating algorithm and encoded part.
    #[error("digest has no ':' between algorithm and encoded part")]
    MissingSeparator,
    /// The string does not follow the OCI digest grammar.
    #[error("digest does not follow the OCI grammar algorithm:encoded")]
    Grammar,
    /// A well-formed digest whose algorithm ocisize cannot compute.
    #[error("unsupported digest algorithm {algorithm:?} (supported: sha256, sha512)")]
    UnsupportedAlgorithm {
        /// The algorithm as written.
        algorithm: String,
    },
    /// The encoded part has the wrong length for its algorithm.
    #[error("{algorithm} digest must have {expected} hex characters, found {found}")]
    Length {
        /// The algorithm.
        algorithm: Algorithm,
        /// The required number of hex characters.
        expected: usize,
        /// The number found.
        found: usize,
    },
    /// The encoded part holds a character that is not lowercase hex.
    #[error("digest has a character that is not lowercase hex at position {position}")]
    Hex {
        /// Offset into the encoded part.
        position: usize,
    },
}

impl FromStr for Digest {
    type Err = ParseError;

    /// Parse `algorithm:encoded` strictly.
    ///
    /// Grammar (image-spec descriptor.md):
    /// `algorithm ::= algorithm-component (algorithm-separator algorithm-component)*`,
    /// `algorithm-component ::= [a-z0-9]+`, `algorithm-separator ::= [+._-]`,
    /// `encoded ::= [a-zA-Z0-9=_-]+`.
    fn from_str(s: &str) -> Result<Digest, ParseError> {
        let (alg, enc) = s.split_once(':').ok_or(ParseError::MissingSeparator)?;
        if !valid_algorithm_grammar(alg)
            || enc.is_empty()
            || !enc.bytes().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'=' | b'_' | b'-'))
        {
            return Err(ParseError::Grammar);
        }
        let algorithm = Algorithm::from_name(alg)
            .ok_or_else(|| ParseError::UnsupportedAlgorithm { algorithm: alg.to_owned() })?;
        Digest::from_hex(algorithm, enc)
    }
}

fn valid_algorithm_grammar(alg: &str) -> bool {
    let b = alg.as_bytes();
    if b.is_empty() {
        return false;
    }
    let mut prev_sep = true; // a leading separator is invalid
    for &c in b {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            prev_sep = false;
        } else if matches!(c, b'+' | b'.' | b'_' | b'-') {
            if prev_sep {
                return false;
            }
            prev_sep = true;
        } else {
            return false;
        }
    }
    !prev_sep
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Digest;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an OCI digest string such as sha256:<64 hex>")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Digest, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(V)
    }
}

/// An incremental hasher that finishes into a typed [`Digest`].
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(sha2::Sha256),
    /// SHA-512 state.
    Sha512(sha2::Sha512),
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hasher({})", self.algorithm())
    }
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algorithm: Algorithm) -> Hasher {
        match algorithm {
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }

    /// The algorithm this hasher computes.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            Hasher::Sha256(_) => Algorithm::Sha256,
            Hasher::Sha512(_) => Algorithm::Sha512,
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    /// Finish into a digest.
    pub fn finalize(self) -> Digest {
        match self {
            Hasher::Sha256(h) => Digest::Sha256(h.finalize().into()),
            Hasher::Sha512(h) => Digest::Sha512(h.finalize().into()),
        }
    }
}

/// The chain ID of a layer, from its parent's chain ID and its own diffID.
///
/// image-spec config.md: `ChainID(L₀) = DiffID(L₀)` and
/// `ChainID(L₀|…|Lₙ) = Digest(ChainID(L₀|…|Lₙ₋₁) + " " + DiffID(Lₙ))`, where the digest
/// is taken over the two digest *strings*. The canonical algorithm (sha256) is used, as
/// every runtime does.
pub fn chain_id(parent: Option<&Digest>, diff_id: &Digest) -> Digest {
    match parent {
        None => *diff_id,
        Some(p) => {
            let mut h = Hasher::new(Algorithm::Sha256);
            h.update(p.to_string().as_bytes());
            h.update(b" ");
            h.update(diff_id.to_string().as_bytes());
            h.finalize()
        }
    }
}

/// All chain IDs of a layer stack, bottom first.
pub fn chain_ids(diff_ids: &[Digest]) -> Vec<Digest> {
    let mut out: Vec<Digest> = Vec::with_capacity(diff_ids.len());
    for d in diff_ids {
        let next = chain_id(out.last(), d);
        out.push(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FOO: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    #[test]
    fn parses_and_displays() {
        let d: Digest = FOO.parse().unwrap();
        assert_eq!(d.to_string(), FOO);
        assert_eq!(d, Digest::of(Algorithm::Sha256, b"foo"));
    }

    #[test]
    fn rejects_bad_digests() {
        assert_eq!("sha256".parse::<Digest>(), Err(ParseError::MissingSeparator));
        assert_eq!("sha256:".parse::<Digest>(), Err(ParseError::Grammar));
        assert_eq!(":abc".parse::<Digest>(), Err(ParseError::Grammar));
        assert_eq!("SHA256:abc".parse::<Digest>(), Err(ParseError::Grammar));
        assert!(matches!(
            "md5:d41d8cd98f00b204e9800998ecf8427e".parse::<Digest>(),
            Err(ParseError::UnsupportedAlgorithm { .. })
        ));
        assert!(matches!(
            "sha256:abc".parse::<Digest>(),
            Err(ParseError::Length { expected: 64, found: 3, .. })
        ));
        let upper = FOO.to_uppercase().replace("SHA256", "sha256");
        assert!(matches!(upper.parse::<Digest>(), Err(ParseError::Hex { .. })));
        assert_eq!("sha256+:ab".parse::<Digest>(), Err(ParseError::Grammar));
        assert_eq!("sha256:ab cd".parse::<Digest>(), Err(ParseError::Grammar));
    }

    #[test]
    fn sha512_round_trip() {
        let d = Digest::of(Algorithm::Sha512, b"foo");
        assert_eq!(d.hex().len(), 128);
        assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
    }

    #[test]
    fn serde_goes_through_from_str() {
        let d: Digest = serde_json::from_str(&format!("\"{FOO}\"")).unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), format!("\"{FOO}\""));
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }

    #[test]
    fn chain_ids_match_runtime_values() {
        // tiny image of the corpus: docker's layerdb lists chain ID
        // sha256:0fe02ed9… for the second layer (reference.json).
        let diff: Vec<Digest> = [
            "sha256:1e510dd8f8b50ee0b31f3073a79574a805a37375d0a5b39710a6c855a7a4e1f9",
            "sha256:6e948e787a1916ff66111498fca623e08bd34c899f76372963669c8e163e4159",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let c = chain_ids(&diff);
        assert_eq!(c[0], diff[0]);
        assert_eq!(
            c[1].to_string(),
            "sha256:0fe02ed9f17d17e848cca4c913feb2e435f7723faedfd1586a7067bdf6194414"
        );
    }

    proptest::proptest! {
        #[test]
        fn display_from_str_round_trip(bytes in proptest::collection::vec(proptest::num::u8::ANY, 32)) {
            let mut a = [0u8; 32];
            a.copy_from_slice(&bytes);
            let d = Digest::Sha256(a);
            proptest::prop_assert_eq!(d.to_string().parse::<Digest>().unwrap(), d);
        }

        #[test]
        fn chunked_equals_one_shot(data in proptest::collection::vec(proptest::num::u8::ANY, 0..4096), cut in 0usize..4096) {
            let cut = cut.min(data.len());
            let mut h = Hasher::new(Algorithm::Sha256);
            h.update(&data[..cut]);
            h.update(&data[cut..]);
            proptest::prop_assert_eq!(h.finalize(), Digest::of(Algorithm::Sha256, &data));
        }
    }
}

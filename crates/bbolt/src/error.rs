//! Typed errors: every one names the file, and a corruption names the page.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// Why a bbolt database could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the file failed.
    #[error("reading bbolt database {}: {source}", .path.display())]
    Io {
        /// The database file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Neither meta page is valid: the file is not a bbolt database, or both of its meta
    /// pages are damaged.
    #[error(
        "{} is not a readable bbolt database: meta page 0: {meta0}; meta page 1: {meta1}",
        .path.display()
    )]
    NoValidMeta {
        /// The database file.
        path: PathBuf,
        /// What is wrong with meta page 0.
        meta0: MetaProblem,
        /// What is wrong with meta page 1.
        meta1: MetaProblem,
    },
    /// A page reachable from the chosen meta page is damaged.
    #[error("corrupt bbolt database {}: page {page}: {reason}", .path.display())]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// The page where the damage was found (for an inline bucket, the page that holds
        /// the bucket's value).
        page: u64,
        /// What is wrong.
        reason: Corruption,
    },
    /// A writer committed over the pages being read on every attempt.
    #[error(
        "bbolt database {} changed while being read ({attempts} attempts, last at txid {txid})",
        .path.display()
    )]
    Changed {
        /// The database file.
        path: PathBuf,
        /// How many read transactions were tried.
        attempts: u32,
        /// The transaction id the last attempt read.
        txid: u64,
    },
}

/// What is wrong with a meta page.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetaProblem {
    /// The file ends before the meta page does.
    Short {
        /// Bytes available where the meta page should be.
        len: u64,
    },
    /// The magic number is not bbolt's `0xED0CDAED`.
    Magic {
        /// The number found (read little-endian).
        found: u32,
    },
    /// The magic number is bbolt's, byte-swapped: the file was written by a big-endian
    /// machine (bbolt writes its native byte order); only little-endian files are read.
    BigEndian,
    /// The format version is not 2.
    Version {
        /// The version found.
        found: u32,
    },
    /// The FNV-1a checksum over the meta fields does not match the stored one.
    Checksum {
        /// The checksum stored in the page.
        stored: u64,
        /// The checksum of the fields as read.
        computed: u64,
    },
    /// The page size is not a power of two in 512..=65536.
    PageSize {
        /// The page size found.
        found: u32,
    },
    /// The page size differs from the one the database was opened with.
    PageSizeChanged {
        /// The page size the database was opened with.
        expected: u32,
        /// The page size found.
        found: u32,
    },
    /// The root bucket's page is not below the high-water mark.
    RootOutOfRange {
        /// The root page id.
        root: u64,
        /// The high-water mark (pages in use).
        high_water: u64,
    },
    /// No meta page was found at any page size bbolt can use.
    NotFound,
}

impl fmt::Display for MetaProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetaProblem::Short { len } => write!(f, "file ends {len} bytes into the meta page"),
            MetaProblem::Magic { found } => {
                write!(f, "magic 0x{found:08X}, expected 0xED0CDAED")
            }
            MetaProblem::BigEndian => {
                f.write_str("written by a big-endian machine, only little-endian files are read")
            }
            MetaProblem::Version { found } => write!(f, "version {found}, expected 2"),
            MetaProblem::Checksum { stored, computed } => {
                write!(f, "checksum 0x{stored:016x} stored, 0x{computed:016x} computed")
            }
            MetaProblem::PageSize { found } => {
                write!(f, "page size {found} is not a power of two in 512..=65536")
            }
            MetaProblem::PageSizeChanged { expected, found } => {
                write!(f, "page size {found}, the database was opened with {expected}")
            }
            MetaProblem::RootOutOfRange { root, high_water } => {
                write!(f, "root page {root} is not below the high-water mark {high_water}")
            }
            MetaProblem::NotFound => f.write_str("no valid meta page at any page size"),
        }
    }
}

/// What is wrong with a page.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// A reference to a page at or above the high-water mark.
    OutOfRange {
        /// The page referred to.
        target: u64,
        /// The high-water mark (pages in use).
        high_water: u64,
    },
    /// A reference to meta page 0 or 1 where a tree page belongs.
    MetaReference {
        /// The page referred to.
        target: u64,
    },
    /// A page (with its overflow pages) that ends past the end of the file.
    BeyondFile {
        /// Where the page ends.
        end: u64,
        /// The file's length.
        file_len: u64,
    },
    /// The page's header names another page id.
    IdMismatch {
        /// The id in the header.
        found: u64,
    },
    /// The page is not a branch or leaf page.
    PageType {
        /// The page's flags.
        flags: u16,
    },
    /// The element headers run past the end of the page.
    ElementsOverflow {
        /// The element count in the header.
        count: u16,
        /// The page's length in bytes.
        len: usize,
    },
    /// An element's key or value lies outside the page.
    ElementOutOfBounds {
        /// The element's index.
        index: u16,
    },
    /// A branch page with no elements.
    EmptyBranch,
    /// A bucket value shorter than its 16-byte header.
    BucketHeader {
        /// The key of the bucket entry.
        key: Vec<u8>,
        /// The value's length.
        len: usize,
    },
    /// An inline bucket whose page is not a well-formed leaf page.
    InlinePage {
        /// The key of the bucket entry.
        key: Vec<u8>,
    },
    /// A page or bucket that is its own ancestor.
    Cycle {
        /// The page reached again.
        target: u64,
    },
    /// A tree deeper, or buckets nested deeper, than any real database.
    TooDeep {
        /// The limit.
        limit: usize,
    },
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Corruption::OutOfRange { target, high_water } => {
                write!(f, "refers to page {target}, not below the high-water mark {high_water}")
            }
            Corruption::MetaReference { target } => write!(f, "refers to meta page {target}"),
            Corruption::BeyondFile { end, file_len } => {
                write!(f, "ends at byte {end}, past the end of the file ({file_len} bytes)")
            }
            Corruption::IdMismatch { found } => write!(f, "header names page {found}"),
            Corruption::PageType { flags } => {
                write!(f, "flags 0x{flags:02x}, expected a branch (0x01) or leaf (0x02) page")
            }
            Corruption::ElementsOverflow { count, len } => {
                write!(f, "{count} element headers do not fit in {len} bytes")
            }
            Corruption::ElementOutOfBounds { index } => {
                write!(f, "element {index} lies outside the page")
            }
            Corruption::EmptyBranch => f.write_str("branch page without elements"),
            Corruption::BucketHeader { key, len } => write!(
                f,
                "bucket {:?}: value of {len} bytes is shorter than the 16-byte bucket header",
                String::from_utf8_lossy(key)
            ),
            Corruption::InlinePage { key } => {
                write!(f, "inline bucket {:?}: malformed leaf page", String::from_utf8_lossy(key))
            }
            Corruption::Cycle { target } => write!(f, "page {target} is its own ancestor"),
            Corruption::TooDeep { limit } => write!(f, "nested deeper than {limit} levels"),
        }
    }
}

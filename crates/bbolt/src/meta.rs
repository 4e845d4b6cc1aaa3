//! The two meta pages: layout, validation, and the choice between them.
//!
//! A meta page is a 16-byte page header followed by (etcd-io/bbolt
//! `internal/common/meta.go`, all fields little-endian on the machines we read):
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `u32` = `0xED0CDAED` |
//! | 4 | version `u32` = 2 |
//! | 8 | page size `u32` |
//! | 12 | flags `u32` |
//! | 16 | root bucket: root page `u64`, sequence `u64` |
//! | 32 | freelist page `u64` |
//! | 40 | high-water mark `u64` (first page id not in use) |
//! | 48 | txid `u64` |
//! | 56 | checksum `u64`: FNV-1a 64 of bytes 0..56 |
//!
//! Page 0 and page 1 are both meta pages; a commit with txid `t` writes page `t % 2`, so the
//! valid one with the higher txid is the current state (bbolt `db.go`, `DB.meta`).

use crate::error::MetaProblem;
use crate::page::{le_u32, le_u64, PAGE_HEADER_SIZE};

/// bbolt's magic number.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The only format version bbolt has written since 2014.
pub const VERSION: u32 = 2;
/// Length of the meta fields, checksum included.
pub const META_SIZE: usize = 64;
/// Bytes of a meta page that are read: its header and the meta fields.
pub const META_PAGE_BYTES: usize = PAGE_HEADER_SIZE + META_SIZE;
/// Smallest page size accepted.
pub const MIN_PAGE_SIZE: u32 = 512;
/// Largest page size accepted.
pub const MAX_PAGE_SIZE: u32 = 65536;

/// A validated meta page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Meta {
    /// The page size.
    pub page_size: u32,
    /// The root bucket's page.
    pub root: u64,
    /// The root bucket's sequence.
    pub sequence: u64,
    /// The freelist's page (`u64::MAX` when the freelist is not synced).
    pub freelist: u64,
    /// The high-water mark: every page in use has a smaller id.
    pub high_water: u64,
    /// The transaction id that wrote this meta page.
    pub txid: u64,
}

/// FNV-1a, 64 bits (Go's `hash/fnv` `New64a`, which bbolt's `Meta.Sum64` uses).
pub fn fnv1a64(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in data {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Whether a page size is one this reader accepts.
pub fn page_size_ok(size: u32) -> bool {
    size.is_power_of_two() && (MIN_PAGE_SIZE..=MAX_PAGE_SIZE).contains(&size)
}

/// Validate the meta page whose first bytes (header included) are `page`.
///
/// `expected_page_size` is the database's page size once known; `None` while it is being
/// discovered.
pub fn parse(page: &[u8], expected_page_size: Option<u32>) -> Result<Meta, MetaProblem> {
    let m = match page.get(PAGE_HEADER_SIZE..META_PAGE_BYTES) {
        Some(m) => m,
        None => return Err(MetaProblem::Short { len: page.len() as u64 }),
    };
    let magic = le_u32(m, 0);
    if magic != MAGIC {
        if magic.swap_bytes() == MAGIC {
            return Err(MetaProblem::BigEndian);
        }
        return Err(MetaProblem::Magic { found: magic });
    }
    let version = le_u32(m, 4);
    if version != VERSION {
        return Err(MetaProblem::Version { found: version });
    }
    let stored = le_u64(m, 56);
    let computed = fnv1a64(&m[..56]);
    if stored != computed {
        return Err(MetaProblem::Checksum { stored, computed });
    }
    let page_size = le_u32(m, 8);
    if !page_size_ok(page_size) {
        return Err(MetaProblem::PageSize { found: page_size });
    }
    if let Some(expected) = expected_page_size {
        if expected != page_size {
            return Err(MetaProblem::PageSizeChanged { expected, found: page_size });
        }
    }
    let meta = Meta {
        page_size,
        root: le_u64(m, 16),
        sequence: le_u64(m, 24),
        freelist: le_u64(m, 32),
        high_water: le_u64(m, 40),
        txid: le_u64(m, 48),
    };
    if meta.root >= meta.high_water {
        return Err(MetaProblem::RootOutOfRange { root: meta.root, high_water: meta.high_water });
    }
    Ok(meta)
}

/// The meta page to read from, of the two: the valid one with the higher txid, and which
/// page it is.
pub fn choose(
    meta0: Result<Meta, MetaProblem>,
    meta1: Result<Meta, MetaProblem>,
) -> Result<(Meta, u8), (MetaProblem, MetaProblem)> {
    match (meta0, meta1) {
        (Ok(a), Ok(b)) if b.txid > a.txid => Ok((b, 1)),
        (Ok(a), _) => Ok((a, 0)),
        (Err(_), Ok(b)) => Ok((b, 1)),
        (Err(p0), Err(p1)) => Err((p0, p1)),
    }
}

/// Whether the state read at `meta` (from meta page `slot`) is still intact, given both
/// meta pages as they are now.
///
/// bbolt never writes into a page reachable from the current meta page, and frees the
/// pages a commit replaced only when the *next* write transaction begins (bbolt `db.go`
/// `beginRWTx` → `freePages`; `internal/freelist/shared.go` `ReleasePendingPages`: a page
/// freed by txid `t` is pending until a later transaction releases it). So the pages of
/// txid `T` can be overwritten only by txid `T + 2` or later, and `T + 2` begins only after
/// `T + 1` has committed, that is after a valid meta page with txid `T + 1` is on disk.
/// The read is intact if, after it, no meta page is valid with a txid above `T` and
/// `T`'s own meta page still says `T` (bbolt writes `T + 2`'s meta page over it).
pub fn still_current(
    meta: &Meta,
    slot: u8,
    now0: Result<Meta, MetaProblem>,
    now1: Result<Meta, MetaProblem>,
) -> bool {
    let (own, other) = if slot == 0 { (now0, now1) } else { (now1, now0) };
    let own_same = matches!(own, Ok(m) if m.txid == meta.txid);
    let other_newer = matches!(other, Ok(m) if m.txid > meta.txid);
    own_same && !other_newer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(txid: u64, page_size: u32) -> Vec<u8> {
        let mut p = vec![0u8; META_PAGE_BYTES];
        let m = &mut p[PAGE_HEADER_SIZE..];
        m[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        m[4..8].copy_from_slice(&VERSION.to_le_bytes());
        m[8..12].copy_from_slice(&page_size.to_le_bytes());
        m[16..24].copy_from_slice(&3u64.to_le_bytes());
        m[32..40].copy_from_slice(&2u64.to_le_bytes());
        m[40..48].copy_from_slice(&4u64.to_le_bytes());
        m[48..56].copy_from_slice(&txid.to_le_bytes());
        let sum = fnv1a64(&m[..56]);
        m[56..64].copy_from_slice(&sum.to_le_bytes());
        p
    }

    #[test]
    fn fnv1a64_matches_go_hash_fnv() {
        // Go: fnv.New64a() of "" and of "a".
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
    }

    #[test]
    fn parse_checks_every_field() {
        let good = page(7, 4096);
        let m = parse(&good, None).unwrap();
        assert_eq!((m.txid, m.root, m.high_water, m.page_size), (7, 3, 4, 4096));
        assert_eq!(parse(&good[..40], None), Err(MetaProblem::Short { len: 40 }));
        let mut bad = good.clone();
        bad[PAGE_HEADER_SIZE + 60] ^= 1;
        assert!(matches!(parse(&bad, None), Err(MetaProblem::Checksum { .. })));
        let mut be = good.clone();
        be[PAGE_HEADER_SIZE..PAGE_HEADER_SIZE + 4].reverse();
        assert_eq!(parse(&be, None), Err(MetaProblem::BigEndian));
        assert_eq!(parse(&page(7, 3000), None), Err(MetaProblem::PageSize { found: 3000 }));
        assert_eq!(
            parse(&good, Some(8192)),
            Err(MetaProblem::PageSizeChanged { expected: 8192, found: 4096 })
        );
    }

    #[test]
    fn choose_prefers_the_valid_higher_txid() {
        let a = parse(&page(4, 4096), None);
        let b = parse(&page(5, 4096), None);
        assert_eq!(choose(a.clone(), b.clone()).unwrap().1, 1);
        assert_eq!(choose(b.clone(), a.clone()).unwrap().1, 0);
        assert_eq!(choose(Err(MetaProblem::NotFound), a.clone()).unwrap().1, 1);
        assert!(choose(Err(MetaProblem::NotFound), Err(MetaProblem::NotFound)).is_err());
    }

    #[test]
    fn still_current_allows_only_a_torn_or_older_other_page() {
        let m4 = parse(&page(4, 4096), None).unwrap();
        let at = |t| parse(&page(t, 4096), None);
        // Read at txid 4 from page 0; page 1 holds 3.
        assert!(still_current(&m4, 0, at(4), at(3)));
        // txid 5 being written to page 1 (torn): still intact.
        assert!(still_current(&m4, 0, at(4), Err(MetaProblem::NotFound)));
        // txid 5 committed: txid 6 may be overwriting our pages.
        assert!(!still_current(&m4, 0, at(4), at(5)));
        // txid 6 written over page 0.
        assert!(!still_current(&m4, 0, at(6), at(5)));
        assert!(!still_current(&m4, 0, Err(MetaProblem::NotFound), at(5)));
    }
}

//! Tree pages: the header, branch and leaf elements, every offset checked.
//!
//! Layout (etcd-io/bbolt `internal/common/page.go`): a 16-byte header — id `u64`, flags
//! `u16` (branch 0x01, leaf 0x02, meta 0x04, freelist 0x10), element count `u16`, overflow
//! `u32` (the page spans `1 + overflow` pages) — then `count` 16-byte elements, then the
//! keys and values they point at. A branch element is pos `u32`, key size `u32`, child
//! page `u64`; a leaf element is flags `u32` (0x01: the value is a bucket), pos `u32`, key
//! size `u32`, value size `u32`. `pos` is relative to the element's own offset, and a
//! leaf's value follows its key.

use std::ops::Range;
use std::sync::Arc;

use crate::error::Corruption;

/// Length of the page header.
pub const PAGE_HEADER_SIZE: usize = 16;
/// Length of a branch or leaf element.
pub const ELEMENT_SIZE: usize = 16;
/// Page flag of a branch page.
pub const BRANCH: u16 = 0x01;
/// Page flag of a leaf page.
pub const LEAF: u16 = 0x02;
/// Leaf element flag of a nested bucket.
pub const BUCKET_LEAF: u32 = 0x01;

/// The little-endian `u32` at `at`; `data` must hold it (callers check lengths first).
pub fn le_u32(data: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    if let Some(s) = data.get(at..at + 4) {
        b.copy_from_slice(s);
    }
    u32::from_le_bytes(b)
}

/// The little-endian `u64` at `at`; `data` must hold it (callers check lengths first).
pub fn le_u64(data: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(s) = data.get(at..at + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}

/// A branch or leaf page whose element headers are known to lie inside it.
#[derive(Clone, Debug)]
pub struct Page {
    /// The page id on disk (for an inline bucket, the page holding the bucket's value).
    pub id: u64,
    /// Whether this is a branch page (else a leaf page).
    pub branch: bool,
    /// The element count.
    pub count: u16,
    /// The page's bytes, header included.
    pub data: Arc<[u8]>,
}

/// A leaf element: its flags and where its key and value are in the page.
#[derive(Clone, Debug)]
pub struct LeafElement {
    /// The element flags.
    pub flags: u32,
    /// The key's bytes in the page.
    pub key: Range<usize>,
    /// The value's bytes in the page.
    pub value: Range<usize>,
}

/// A branch element: where its key is and which page it points at.
#[derive(Clone, Debug)]
pub struct BranchElement {
    /// The key's bytes in the page (the first key of the child).
    pub key: Range<usize>,
    /// The child page.
    pub child: u64,
}

impl Page {
    /// Check a page's header and the extent of its element headers.
    pub fn new(id: u64, data: Arc<[u8]>) -> Result<Page, Corruption> {
        if data.len() < PAGE_HEADER_SIZE {
            return Err(Corruption::ElementsOverflow { count: 0, len: data.len() });
        }
        let flags = u16::from_le_bytes([data[8], data[9]]);
        let count = u16::from_le_bytes([data[10], data[11]]);
        let branch = match flags {
            BRANCH => true,
            LEAF => false,
            _ => return Err(Corruption::PageType { flags }),
        };
        let end = PAGE_HEADER_SIZE + usize::from(count) * ELEMENT_SIZE;
        if end > data.len() {
            return Err(Corruption::ElementsOverflow { count, len: data.len() });
        }
        if branch && count == 0 {
            return Err(Corruption::EmptyBranch);
        }
        Ok(Page { id, branch, count, data })
    }

    fn element(&self, index: u16, first: usize, second: usize) -> Result<Range<usize>, Corruption> {
        let at = PAGE_HEADER_SIZE + usize::from(index) * ELEMENT_SIZE;
        let pos = le_u32(&self.data, at + first) as usize;
        let len = le_u32(&self.data, at + second) as usize;
        let start = at.checked_add(pos);
        match start.and_then(|s| s.checked_add(len).map(|e| s..e)) {
            Some(r) if r.end <= self.data.len() => Ok(r),
            _ => Err(Corruption::ElementOutOfBounds { index }),
        }
    }

    /// Leaf element `index` (< `count`).
    pub fn leaf(&self, index: u16) -> Result<LeafElement, Corruption> {
        let at = PAGE_HEADER_SIZE + usize::from(index) * ELEMENT_SIZE;
        let key = self.element(index, 4, 8)?;
        let vsize = le_u32(&self.data, at + 12) as usize;
        let value = match key.end.checked_add(vsize) {
            Some(end) if end <= self.data.len() => key.end..end,
            _ => return Err(Corruption::ElementOutOfBounds { index }),
        };
        Ok(LeafElement { flags: le_u32(&self.data, at), key, value })
    }

    /// Branch element `index` (< `count`).
    pub fn branch(&self, index: u16) -> Result<BranchElement, Corruption> {
        let at = PAGE_HEADER_SIZE + usize::from(index) * ELEMENT_SIZE;
        let key = self.element(index, 0, 4)?;
        Ok(BranchElement { key, child: le_u64(&self.data, at + 8) })
    }

    /// The bytes in `range` (a range returned by [`Page::leaf`] or [`Page::branch`]).
    pub fn bytes(&self, range: Range<usize>) -> &[u8] {
        self.data.get(range).unwrap_or(&[])
    }

    /// The index of the branch element to descend into for `key`: the last element whose
    /// key is not above `key`, or the first (bbolt `cursor.go`, `searchPage`).
    pub fn branch_index(&self, key: &[u8]) -> Result<u16, Corruption> {
        let (mut lo, mut hi) = (0u16, self.count);
        // Invariant: elements before lo have keys <= key; elements from hi on have keys > key.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.branch(mid)?;
            if self.bytes(e.key) <= key {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        Ok(lo.saturating_sub(1))
    }

    /// The leaf element whose key is `key`.
    pub fn leaf_find(&self, key: &[u8]) -> Result<Option<LeafElement>, Corruption> {
        let (mut lo, mut hi) = (0u16, self.count);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let e = self.leaf(mid)?;
            match self.bytes(e.key.clone()).cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(Some(e)),
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A leaf page with the given (key, value) elements.
    fn leaf(entries: &[(&[u8], &[u8])]) -> Page {
        let mut data = vec![0u8; PAGE_HEADER_SIZE + entries.len() * ELEMENT_SIZE];
        data[8..10].copy_from_slice(&LEAF.to_le_bytes());
        data[10..12].copy_from_slice(&(entries.len() as u16).to_le_bytes());
        for (i, (k, v)) in entries.iter().enumerate() {
            let at = PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
            let pos = (data.len() - at) as u32;
            data[at + 4..at + 8].copy_from_slice(&pos.to_le_bytes());
            data[at + 8..at + 12].copy_from_slice(&(k.len() as u32).to_le_bytes());
            data[at + 12..at + 16].copy_from_slice(&(v.len() as u32).to_le_bytes());
            data.extend_from_slice(k);
            data.extend_from_slice(v);
        }
        Page::new(9, data.into()).unwrap()
    }

    #[test]
    fn leaf_elements_and_lookup() {
        let p = leaf(&[(b"a", b"1"), (b"c", b"333"), (b"e", b"")]);
        let e = p.leaf(1).unwrap();
        assert_eq!((p.bytes(e.key), p.bytes(e.value)), (&b"c"[..], &b"333"[..]));
        assert!(p.leaf_find(b"e").unwrap().is_some());
        assert!(p.leaf_find(b"b").unwrap().is_none());
        assert!(p.leaf_find(b"z").unwrap().is_none());
    }

    #[test]
    fn out_of_bounds_elements_are_errors() {
        let p = leaf(&[(b"a", b"1")]);
        let mut data = p.data.to_vec();
        data[PAGE_HEADER_SIZE + 12..PAGE_HEADER_SIZE + 16].copy_from_slice(&u32::MAX.to_le_bytes());
        let bad = Page::new(9, data.into()).unwrap();
        assert_eq!(bad.leaf(0).unwrap_err(), Corruption::ElementOutOfBounds { index: 0 });
        let mut data = p.data.to_vec();
        data[10..12].copy_from_slice(&500u16.to_le_bytes());
        assert!(matches!(
            Page::new(9, data.into()),
            Err(Corruption::ElementsOverflow { count: 500, .. })
        ));
        let mut data = p.data.to_vec();
        data[8] = 0x10;
        assert_eq!(Page::new(9, data.into()).unwrap_err(), Corruption::PageType { flags: 0x10 });
    }
}

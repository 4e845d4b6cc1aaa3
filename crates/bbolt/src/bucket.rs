//! Buckets: lookups, nested buckets, and in-order iteration.
//!
//! A bucket is a B+tree of pages, or, when small, an *inline* bucket: its leaf page is
//! stored in its parent's value. A nested bucket's value starts with a 16-byte header —
//! root page `u64`, sequence `u64` — and when the root is 0 the inline page follows
//! (etcd-io/bbolt `bucket.go`, `openBucket`; `internal/common/inbucket.go`).

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::{Corruption, Error};
use crate::page::{self, LeafElement, Page, BUCKET_LEAF};
use crate::{Tx, MAX_NESTING, MAX_TREE_DEPTH};

/// Length of the bucket header in a nested bucket's value.
const BUCKET_HEADER_SIZE: usize = 16;

/// A bucket in a read transaction.
#[derive(Clone, Debug)]
pub struct Bucket<'tx> {
    tx: &'tx Tx<'tx>,
    root: Root,
    sequence: u64,
    /// The page that holds this bucket's entry (for the root bucket, the meta page).
    from: u64,
    /// Nesting depth: 0 for the root bucket.
    depth: usize,
    /// The root pages of this bucket and its ancestors, to refuse a bucket inside itself.
    ancestors: Arc<[u64]>,
}

#[derive(Clone, Debug)]
enum Root {
    Page(u64),
    Inline(Page),
}

/// A value in a bucket: bytes, or a nested bucket.
#[derive(Clone, Debug)]
pub enum Value<'tx> {
    /// A plain value.
    Data(Vec<u8>),
    /// A nested bucket.
    Bucket(Bucket<'tx>),
}

impl<'tx> Bucket<'tx> {
    pub(crate) fn page_root(tx: &'tx Tx<'tx>, root: u64, sequence: u64, from: u64) -> Self {
        let ancestors = Arc::from([root]);
        Bucket { tx, root: Root::Page(root), sequence, from, depth: 0, ancestors }
    }

    /// The bucket's sequence number (bbolt's `NextSequence` counter).
    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    /// The bucket's root page, or `None` for an inline bucket.
    pub fn root_page(&self) -> Option<u64> {
        match self.root {
            Root::Page(id) => Some(id),
            Root::Inline(_) => None,
        }
    }

    /// Whether the bucket is stored inline in its parent's value.
    pub fn is_inline(&self) -> bool {
        matches!(self.root, Root::Inline(_))
    }

    /// The value at `key`, if it is a plain value (`None` if missing or a bucket).
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, Error> {
        Ok(match self.entry(key)? {
            Some(Value::Data(v)) => Some(v),
            _ => None,
        })
    }

    /// The nested bucket at `name`, if there is one (`None` if missing or a plain value).
    pub fn bucket(&self, name: &[u8]) -> Result<Option<Bucket<'tx>>, Error> {
        Ok(match self.entry(name)? {
            Some(Value::Bucket(b)) => Some(b),
            _ => None,
        })
    }

    /// The entry at `key`, value or bucket.
    pub fn entry(&self, key: &[u8]) -> Result<Option<Value<'tx>>, Error> {
        let mut page = self.load_root()?;
        let mut depth = 1;
        while page.branch {
            if depth >= MAX_TREE_DEPTH {
                return Err(self.corrupt(page.id, Corruption::TooDeep { limit: MAX_TREE_DEPTH }));
            }
            let index = page.branch_index(key).map_err(|r| self.corrupt(page.id, r))?;
            let child = page.branch(index).map_err(|r| self.corrupt(page.id, r))?.child;
            page = self.tx.read_page(child, page.id)?;
            depth += 1;
        }
        match page.leaf_find(key).map_err(|r| self.corrupt(page.id, r))? {
            Some(e) => self.value(&page, &e).map(Some),
            None => Ok(None),
        }
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> Iter<'tx> {
        Iter {
            bucket: self.clone(),
            stack: Vec::new(),
            seen: HashSet::new(),
            started: false,
            done: false,
        }
    }

    fn corrupt(&self, page: u64, reason: Corruption) -> Error {
        self.tx.corrupt(page, reason)
    }

    fn load_root(&self) -> Result<Page, Error> {
        match &self.root {
            Root::Page(id) => self.tx.read_page(*id, self.from),
            Root::Inline(p) => Ok(p.clone()),
        }
    }

    /// The value of leaf element `e` of `page`.
    fn value(&self, page: &Page, e: &LeafElement) -> Result<Value<'tx>, Error> {
        let v = page.bytes(e.value.clone());
        if e.flags & BUCKET_LEAF == 0 {
            return Ok(Value::Data(v.to_vec()));
        }
        let key = || page.bytes(e.key.clone()).to_vec();
        if v.len() < BUCKET_HEADER_SIZE {
            let reason = Corruption::BucketHeader { key: key(), len: v.len() };
            return Err(self.corrupt(page.id, reason));
        }
        if self.depth + 1 >= MAX_NESTING {
            return Err(self.corrupt(page.id, Corruption::TooDeep { limit: MAX_NESTING }));
        }
        let (root, sequence) = (page::le_u64(v, 0), page::le_u64(v, 8));
        let (root, ancestors) = if root == 0 {
            let bytes: Arc<[u8]> = Arc::from(&v[BUCKET_HEADER_SIZE..]);
            let inline = match Page::new(page.id, bytes) {
                Ok(p) if !p.branch => p,
                _ => return Err(self.corrupt(page.id, Corruption::InlinePage { key: key() })),
            };
            (Root::Inline(inline), self.ancestors.clone())
        } else {
            if self.ancestors.contains(&root) {
                return Err(self.corrupt(page.id, Corruption::Cycle { target: root }));
            }
            let mut chain = self.ancestors.to_vec();
            chain.push(root);
            (Root::Page(root), Arc::from(chain))
        };
        Ok(Value::Bucket(Bucket {
            tx: self.tx,
            root,
            sequence,
            from: page.id,
            depth: self.depth + 1,
            ancestors,
        }))
    }
}

/// The entries of a bucket in key order: `(key, value)`, or the error that ended the walk
/// (after which the iterator yields nothing).
#[derive(Debug)]
pub struct Iter<'tx> {
    bucket: Bucket<'tx>,
    /// The pages from the root to the current leaf, with the next element of each.
    stack: Vec<(Page, u16)>,
    /// Every page of this tree reached so far: a page reached twice is a cycle.
    seen: HashSet<u64>,
    started: bool,
    done: bool,
}

impl<'tx> Iter<'tx> {
    fn step(&mut self) -> Result<Option<(Vec<u8>, Value<'tx>)>, Error> {
        if !self.started {
            self.started = true;
            let root = self.bucket.load_root()?;
            if let Root::Page(id) = self.bucket.root {
                self.seen.insert(id);
            }
            self.stack.push((root, 0));
        }
        loop {
            let Some((page, next)) = self.stack.last_mut() else { return Ok(None) };
            if *next >= page.count {
                self.stack.pop();
                continue;
            }
            let index = *next;
            *next += 1;
            let page = page.clone();
            if page.branch {
                let child = page.branch(index).map_err(|r| self.bucket.corrupt(page.id, r))?.child;
                if self.stack.len() >= MAX_TREE_DEPTH {
                    let reason = Corruption::TooDeep { limit: MAX_TREE_DEPTH };
                    return Err(self.bucket.corrupt(page.id, reason));
                }
                if !self.seen.insert(child) {
                    return Err(self.bucket.corrupt(page.id, Corruption::Cycle { target: child }));
                }
                let child = self.bucket.tx.read_page(child, page.id)?;
                self.stack.push((child, 0));
            } else {
                let e = page.leaf(index).map_err(|r| self.bucket.corrupt(page.id, r))?;
                let value = self.bucket.value(&page, &e)?;
                return Ok(Some((page.bytes(e.key).to_vec(), value)));
            }
        }
    }
}

impl<'tx> Iterator for Iter<'tx> {
    type Item = Result<(Vec<u8>, Value<'tx>), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.step() {
            Ok(Some(entry)) => Some(Ok(entry)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl std::iter::FusedIterator for Iter<'_> {}

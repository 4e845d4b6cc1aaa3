//! A read-only reader of [bbolt](https://github.com/etcd-io/bbolt) database files that
//! takes no lock, so it reads a database its owner (containerd, say) has open and is
//! writing.
//!
//! bbolt itself, and the `bbolt-rs` port, take a shared `flock` to read, which blocks while
//! the writer holds its exclusive one. This crate instead opens the file plainly and reads
//! the pages it needs with positioned reads (`pread`): no lock, no `mmap`, and never the
//! whole file in memory.
//!
//! **Consistency.** bbolt is copy-on-write: a commit writes new pages, then one of the two
//! meta pages. A read transaction ([`Db::begin`], [`Db::view`]) starts from the valid meta
//! page with the highest txid, and when it is done checks both meta pages again: bbolt
//! reuses the pages of txid `T` only in txid `T + 2`, which starts after `T + 1` has
//! written its meta page, so if no newer meta page is valid the pages read were intact
//! (the reasoning, with bbolt's sources, is on `meta::still_current`). [`Db::view`] runs
//! its closure again when they were not, and gives up after [`ATTEMPTS`] tries with
//! [`Error::Changed`].
//!
//! **Robustness.** Every page id is checked against the high-water mark and the file's
//! length, every element's key and value against its page, trees against cycles and depth;
//! damage is a typed [`Error::Corrupt`] naming the file and page, never a panic.
//!
//! ```
//! use ocisize_bbolt::{Db, Value};
//!
//! let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/bbolt/meta.db");
//! let db = Db::open(path)?;
//! let names = db.view(|tx| {
//!     let mut names = Vec::new();
//!     if let Some(images) = tx.bucket(&["v1", "default", "images"])? {
//!         for entry in images.iter() {
//!             let (name, value) = entry?;
//!             assert!(matches!(value, Value::Bucket(_)));
//!             names.push(String::from_utf8_lossy(&name).into_owned());
//!         }
//!     }
//!     Ok::<_, ocisize_bbolt::Error>(names)
//! })?;
//! assert_eq!(names, ["docker.io/ocisize/tiny:latest"]);
//! # Ok::<(), ocisize_bbolt::Error>(())
//! ```
//!
//! Only little-endian files are read (bbolt writes its machine's byte order; a big-endian
//! file is refused with [`MetaProblem::BigEndian`]), with page sizes 512..=65536.
#![deny(missing_docs)]

mod bucket;
mod error;
mod meta;
mod page;

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub use bucket::{Bucket, Iter, Value};
pub use error::{Corruption, Error, MetaProblem};

use meta::{Meta, MAX_PAGE_SIZE, META_PAGE_BYTES, MIN_PAGE_SIZE};
use page::Page;

/// How many read transactions [`Db::view`] tries before it returns [`Error::Changed`].
pub const ATTEMPTS: u32 = 8;
/// The deepest B+tree accepted (a real one is a handful of levels deep).
pub const MAX_TREE_DEPTH: usize = 32;
/// The deepest bucket nesting accepted (containerd's schema nests seven deep).
pub const MAX_NESTING: usize = 64;

/// An open bbolt database file (no lock is taken).
#[derive(Debug)]
pub struct Db {
    file: File,
    path: PathBuf,
    page_size: u32,
}

impl Db {
    /// Open the database at `path` and find its page size from its meta pages.
    pub fn open(path: impl AsRef<Path>) -> Result<Db, Error> {
        let path = path.as_ref().to_path_buf();
        let file = File::open(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        let mut db = Db { file, path, page_size: 0 };
        let mut buf = [0u8; META_PAGE_BYTES];
        let n = db.read_up_to(0, &mut buf)?;
        db.page_size = match meta::parse(&buf[..n], None) {
            Ok(m) => m.page_size,
            Err(meta0) => {
                // Meta page 0 is damaged: look for meta page 1 at every page size, as bbolt's
                // `getPageSizeFromSecondMeta` does.
                let mut size = MIN_PAGE_SIZE;
                loop {
                    let n = db.read_up_to(u64::from(size), &mut buf)?;
                    if matches!(meta::parse(&buf[..n], None), Ok(m) if m.page_size == size) {
                        break size;
                    }
                    if size == MAX_PAGE_SIZE {
                        return Err(Error::NoValidMeta {
                            path: db.path,
                            meta0,
                            meta1: MetaProblem::NotFound,
                        });
                    }
                    size *= 2;
                }
            }
        };
        db.begin()?;
        Ok(db)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The page size.
    pub fn page_size(&self) -> u32 {
        self.page_size
    }

    /// Start a read transaction at the current meta page.
    ///
    /// The transaction is not checked afterwards by itself: call [`Tx::is_current`] once
    /// done reading, or use [`Db::view`], which does and retries.
    pub fn begin(&self) -> Result<Tx<'_>, Error> {
        let (meta0, meta1) = self.read_metas()?;
        let (meta, slot) = meta::choose(meta0, meta1).map_err(|(meta0, meta1)| {
            Error::NoValidMeta { path: self.path.clone(), meta0, meta1 }
        })?;
        let file_len = self.file.metadata().map_err(|e| self.io(e))?.len();
        Ok(Tx { db: self, meta, slot, file_len })
    }

    /// Run `f` in a read transaction; if a writer committed over the pages it read, run
    /// it again in a new one (up to [`ATTEMPTS`] times, then [`Error::Changed`]).
    ///
    /// The result of a run whose pages were intact is returned, error or not; an error
    /// from a run whose pages changed under it (a torn read can look like corruption) is
    /// not.
    pub fn view<T, E, F>(&self, mut f: F) -> Result<T, E>
    where
        F: FnMut(&Tx<'_>) -> Result<T, E>,
        E: From<Error>,
    {
        let mut txid = 0;
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(1 << attempt));
            }
            let tx = self.begin()?;
            let result = f(&tx);
            if tx.is_current()? {
                return result;
            }
            txid = tx.txid();
        }
        Err(Error::Changed { path: self.path.clone(), attempts: ATTEMPTS, txid }.into())
    }

    fn io(&self, source: io::Error) -> Error {
        Error::Io { path: self.path.clone(), source }
    }

    /// Fill `buf` from `offset` as far as the file goes; the number of bytes read.
    fn read_up_to(&self, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let mut done = 0;
        while done < buf.len() {
            match self.file.read_at(&mut buf[done..], offset + done as u64) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.io(e)),
            }
        }
        Ok(done)
    }

    fn read_metas(&self) -> Result<MetaPair, Error> {
        let mut buf = [0u8; META_PAGE_BYTES];
        let n = self.read_up_to(0, &mut buf)?;
        let meta0 = meta::parse(&buf[..n], Some(self.page_size));
        let n = self.read_up_to(u64::from(self.page_size), &mut buf)?;
        let meta1 = meta::parse(&buf[..n], Some(self.page_size));
        Ok((meta0, meta1))
    }
}

type MetaPair = (Result<Meta, MetaProblem>, Result<Meta, MetaProblem>);

/// A read transaction: the state of the database at one txid.
#[derive(Debug)]
pub struct Tx<'db> {
    db: &'db Db,
    meta: Meta,
    slot: u8,
    file_len: u64,
}

impl<'db> Tx<'db> {
    /// The transaction id of the state being read.
    pub fn txid(&self) -> u64 {
        self.meta.txid
    }

    /// Which meta page (0 or 1) the transaction started from.
    pub fn meta_page(&self) -> u8 {
        self.slot
    }

    /// The high-water mark: every page in use has a smaller id.
    pub fn high_water(&self) -> u64 {
        self.meta.high_water
    }

    /// The database.
    pub fn db(&self) -> &'db Db {
        self.db
    }

    /// The root bucket, whose keys are the top-level buckets.
    pub fn root(&self) -> Bucket<'_> {
        Bucket::page_root(self, self.meta.root, self.meta.sequence, u64::from(self.slot))
    }

    /// The bucket at `path` (each element a nested bucket's name), if every bucket on the
    /// way exists.
    pub fn bucket<K: AsRef<[u8]>>(&self, path: &[K]) -> Result<Option<Bucket<'_>>, Error> {
        let mut b = self.root();
        for name in path {
            match b.bucket(name.as_ref())? {
                Some(child) => b = child,
                None => return Ok(None),
            }
        }
        Ok(Some(b))
    }

    /// Whether the pages of this transaction are still intact: no writer has committed
    /// past the transaction after it began (see the crate overview).
    pub fn is_current(&self) -> Result<bool, Error> {
        let (now0, now1) = self.db.read_metas()?;
        Ok(meta::still_current(&self.meta, self.slot, now0, now1))
    }

    fn corrupt(&self, page: u64, reason: Corruption) -> Error {
        Error::Corrupt { path: self.db.path.clone(), page, reason }
    }

    /// Read page `id`, referred to from page `from`, with its overflow pages.
    fn read_page(&self, id: u64, from: u64) -> Result<Page, Error> {
        if id < 2 {
            return Err(self.corrupt(from, Corruption::MetaReference { target: id }));
        }
        let high_water = self.meta.high_water;
        if id >= high_water {
            return Err(self.corrupt(from, Corruption::OutOfRange { target: id, high_water }));
        }
        let size = u64::from(self.db.page_size);
        let beyond = |end| Corruption::BeyondFile { end, file_len: self.file_len };
        // id < high_water <= u64::MAX / size is not given: check the arithmetic.
        let offset = id.checked_mul(size).ok_or_else(|| self.corrupt(id, beyond(u64::MAX)))?;
        let first_end = offset.saturating_add(size);
        if first_end > self.file_len {
            return Err(self.corrupt(id, beyond(first_end)));
        }
        let mut data = vec![0u8; self.db.page_size as usize];
        self.db.file.read_exact_at(&mut data, offset).map_err(|e| self.db.io(e))?;
        let found = page::le_u64(&data, 0);
        if found != id {
            return Err(self.corrupt(id, Corruption::IdMismatch { found }));
        }
        let overflow = u64::from(page::le_u32(&data, 12));
        if overflow > 0 {
            let last = id.saturating_add(overflow);
            if last >= high_water {
                return Err(self.corrupt(id, Corruption::OutOfRange { target: last, high_water }));
            }
            let end = offset.saturating_add(size.saturating_mul(overflow + 1));
            if end > self.file_len {
                return Err(self.corrupt(id, beyond(end)));
            }
            // end <= file_len, so the page fits in memory as the file does.
            let total = usize::try_from(end - offset).map_err(|_| self.corrupt(id, beyond(end)))?;
            data.resize(total, 0);
            let rest = &mut data[size as usize..];
            self.db.file.read_exact_at(rest, first_end).map_err(|e| self.db.io(e))?;
        }
        Page::new(id, Arc::from(data)).map_err(|reason| self.corrupt(id, reason))
    }
}

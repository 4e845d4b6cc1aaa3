//! The tee of an import: every member of the source goes to an ingest of its own while it
//! is measured, and waits there, uncommitted, until the walk and the verification have said
//! whether it is a blob the images need.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{SystemTime, UNIX_EPOCH};

use ocisize_digest::{Algorithm, Digest};
use ocisize_source::{Measured, Tee};

use crate::sweep::IMPORT_REF_PREFIX;
use crate::{Store, StoreError, Writer};

/// A member's bytes in an ingest, and what measuring them found.
#[derive(Debug)]
pub(crate) struct Teed {
    pub(crate) member: String,
    pub(crate) writer: Writer,
    /// Digest and size of the bytes, once the member has been measured whole.
    pub(crate) measured: Option<(Digest, u64)>,
}

/// The [`Tee`] that writes members to ingests.
pub(crate) struct Ingests {
    store: Store,
    /// Unique to this import, so that no two imports (threads, processes) share an ingest:
    /// an import holds its ingests until its end, and two imports waiting on each other's
    /// ingest locks would wait forever. A killed import's ingests are left to gc.
    prefix: String,
    count: AtomicU64,
    /// Digests promised for members whose names do not say them (a legacy docker-archive
    /// layer: its diffID, when it is a plain tar), set after the walk for a source whose
    /// members are read on demand.
    hints: Mutex<HashMap<String, Digest>>,
    done: Arc<Mutex<Vec<Teed>>>,
}

impl Ingests {
    pub(crate) fn new(store: &Store) -> Ingests {
        static IMPORTS: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let n = IMPORTS.fetch_add(1, Ordering::Relaxed);
        Ingests {
            store: store.clone(),
            prefix: format!("{IMPORT_REF_PREFIX}{}-{nanos}-{n}", std::process::id()),
            count: AtomicU64::new(0),
            hints: Mutex::default(),
            done: Arc::default(),
        }
    }

    pub(crate) fn hint(&self, member: String, digest: Digest) {
        self.hints.lock().unwrap_or_else(PoisonError::into_inner).insert(member, digest);
    }

    /// Every member written so far, measured or not.
    pub(crate) fn take(&self) -> Vec<Teed> {
        std::mem::take(&mut *self.done.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// A fresh ingest ref for one more write under this import.
    pub(crate) fn reference(&self, member: &str) -> String {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        format!("{}/{n}/{member}", self.prefix)
    }

    fn expected(&self, member: &str) -> Option<Digest> {
        let hinted = self.hints.lock().unwrap_or_else(PoisonError::into_inner).get(member).copied();
        hinted.or_else(|| named_digest(member))
    }
}

/// The digest a member's name promises, in the formats that name blobs by digest:
/// `blobs/<alg>/<hex>` (OCI, docker ≥ 25), `<hex>.json` (a docker-archive's config),
/// `<hex>.tar` (a containers/image docker-archive's layer, uncompressed and named by its
/// digest: `docker/internal/tarfile/writer.go`), `sha256:<hex>`, and `<hex>` (a `dir:`).
pub(crate) fn named_digest(member: &str) -> Option<Digest> {
    let mut parts = member.split('/');
    if let (Some("blobs"), Some(alg), Some(hex), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    {
        return format!("{alg}:{hex}").parse().ok();
    }
    if member.contains('/') {
        return None;
    }
    if member.starts_with("sha256:") {
        return member.parse().ok();
    }
    let hex =
        member.strip_suffix(".json").or_else(|| member.strip_suffix(".tar")).unwrap_or(member);
    if hex.len() == 64 {
        return format!("{}:{hex}", Algorithm::Sha256).parse().ok();
    }
    None
}

/// Members no format stores a blob in, by name: the archive's own documents. They are
/// small JSON and kept by the measuring pass, so one that turns out to be a blob (a `dir:`
/// layout's `manifest.json`) is read from what was kept. Not teeing them saves each an
/// ingest (and the fsyncs of its timestamp files).
fn is_document(member: &str) -> bool {
    let base = member.rsplit('/').next().unwrap_or(member);
    matches!(member, "manifest.json" | "repositories" | "index.json" | "oci-layout" | "version")
        || (member.contains('/')
            && !member.starts_with("blobs/")
            && matches!(base, "json" | "VERSION"))
}

/// A writer on its way through the measuring pass; when the pass is done with it (dropped
/// by [`Tee::close`], or by a read that failed), it goes to the import's list.
struct Slot {
    teed: Option<Teed>,
    held: bool,
    home: Arc<Mutex<Vec<Teed>>>,
}

impl Write for Slot {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.teed {
            Some(t) if !self.held => t.writer.write(buf),
            _ => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.teed {
            Some(t) => t.writer.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(mut t) = self.teed.take() {
            // Many members may wait for their commit at once: keep no buffer for each.
            let _ = t.writer.release_buffer();
            self.home.lock().unwrap_or_else(PoisonError::into_inner).push(t);
        }
    }
}

fn to_io(e: StoreError) -> io::Error {
    io::Error::other(e)
}

impl Tee for Ingests {
    fn open(&self, member: &str, size: u64) -> io::Result<Option<Box<dyn Write + Send>>> {
        if is_document(member) {
            return Ok(None);
        }
        let expected = self.expected(member).map(|d| (d, size));
        let mut writer = self.store.writer(&self.reference(member), expected).map_err(to_io)?;
        // The measuring pass hashes every byte: the writer need not hash them again. A
        // writer of a blob the store holds gets no bytes at all (they are verified by the
        // measurement, and nothing would be written).
        let held = writer.is_stored_already();
        if !held {
            writer.hash_elsewhere();
        }
        let teed = Teed { member: member.to_owned(), writer, measured: None };
        Ok(Some(Box::new(Slot { teed: Some(teed), held, home: self.done.clone() })))
    }

    fn close(
        &self,
        member: &str,
        writer: Box<dyn Write + Send>,
        measured: &Measured,
    ) -> io::Result<()> {
        drop(writer);
        let mut done = self.done.lock().unwrap_or_else(PoisonError::into_inner);
        // The slot just dropped is the last unmeasured one of this member.
        if let Some(t) = done.iter_mut().rev().find(|t| t.member == member && t.measured.is_none())
        {
            t.measured = Some((measured.digest, measured.size));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_promise_digests() {
        let hex = "60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c";
        let d: Digest = format!("sha256:{hex}").parse().unwrap();
        assert_eq!(named_digest(&format!("blobs/sha256/{hex}")), Some(d));
        assert_eq!(named_digest(&format!("{hex}.json")), Some(d));
        assert_eq!(named_digest(&format!("sha256:{hex}")), Some(d));
        assert_eq!(named_digest(hex), Some(d));
        assert_eq!(named_digest(&format!("{hex}.tar")), Some(d));
        assert_eq!(named_digest(&format!("{hex}/layer.tar")), None);
        assert_eq!(named_digest("manifest.json"), None);
        assert_eq!(named_digest("blobs/sha256/nothex"), None);
        assert!(is_document("manifest.json") && is_document(&format!("{hex}/json")));
        assert!(
            !is_document(&format!("{hex}/layer.tar"))
                && !is_document(&format!("blobs/sha256/{hex}"))
        );
    }
}

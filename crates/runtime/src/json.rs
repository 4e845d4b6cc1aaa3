//! Store files read whole, bounded: read, parse, and on failure read and parse once more
//! (the runtimes replace their files by rename, so a second read sees a whole file), then
//! a typed error.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::Error;

/// The bytes of `path`, at most `limit` of them; `Ok(None)` if it does not exist.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> Result<Option<Vec<u8>>, Error> {
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut buf = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut buf).map_err(|e| Error::io(path, e))?;
    if buf.len() as u64 > limit {
        let found = fs::metadata(path).map(|m| m.len()).unwrap_or(buf.len() as u64);
        return Err(Error::TooLarge { path: path.to_path_buf(), limit, found });
    }
    Ok(Some(buf))
}

/// Parse `bytes` read from `path`.
pub(crate) fn parse<T: DeserializeOwned>(path: &Path, bytes: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(bytes).map_err(|source| Error::Json { path: path.to_path_buf(), source })
}

/// Read and parse the JSON file `path` (at most `limit` bytes), retrying once; `Ok(None)`
/// if it does not exist.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path, limit: u64) -> Result<Option<T>, Error> {
    let once = || -> Result<Option<T>, Error> {
        match read_bounded(path, limit)? {
            Some(bytes) => parse(path, &bytes).map(Some),
            None => Ok(None),
        }
    };
    match once() {
        Ok(v) => Ok(v),
        Err(Error::TooLarge { .. }) | Err(Error::Json { .. }) | Err(Error::Io { .. }) => once(),
        Err(e) => Err(e),
    }
}

/// A small text file (`size`, `parent`, `cache-id`), trimmed; `Ok(None)` if it does not
/// exist.
pub(crate) fn read_text(path: &Path, limit: u64) -> Result<Option<String>, Error> {
    match read_bounded(path, limit)? {
        Some(b) => match String::from_utf8(b) {
            Ok(s) => Ok(Some(s.trim().to_owned())),
            Err(e) => Err(Error::invalid(path, "contents", "text", format!("{e}"))),
        },
        None => Ok(None),
    }
}

/// Run a whole read of a store, and once more if it fails: a store changed between two of
/// its files' reads is seen whole the second time, or the second error is reported.
pub(crate) fn twice<T>(mut read: impl FnMut() -> Result<T, Error>) -> Result<T, Error> {
    match read() {
        Ok(v) => Ok(v),
        Err(Error::NotAStore { path, kind, reason }) => {
            Err(Error::NotAStore { path, kind, reason })
        }
        Err(_) => read(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn missing_limited_invalid_and_valid_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.json");
        assert!(read_json::<serde_json::Value>(&p, 100).unwrap().is_none());
        fs::write(&p, br#"{"a": 1}"#).unwrap();
        let v: serde_json::Value = read_json(&p, 100).unwrap().unwrap();
        assert_eq!(v["a"], 1);
        let e = read_json::<serde_json::Value>(&p, 3).unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 3, found: 8, .. }), "{e}");
        fs::write(&p, br#"{"a": "#).unwrap();
        let e = read_json::<serde_json::Value>(&p, 100).unwrap_err();
        assert!(matches!(e, Error::Json { .. }));
        assert!(e.to_string().starts_with(&format!("{}: invalid json: ", p.display())));
    }

    #[test]
    fn twice_reads_again_once() {
        let mut calls = 0;
        let r: Result<u32, Error> = twice(|| {
            calls += 1;
            if calls == 1 {
                Err(Error::Inconsistent { path: "/x".into(), reason: "torn".into() })
            } else {
                Ok(7)
            }
        });
        assert_eq!(r.unwrap(), 7);
        assert_eq!(calls, 2);
        let mut calls = 0;
        let r: Result<u32, Error> = twice(|| {
            calls += 1;
            Err(Error::Inconsistent { path: "/x".into(), reason: format!("read {calls}") })
        });
        assert_eq!(r.unwrap_err().to_string(), "/x: read 2 (read twice)");
    }
}

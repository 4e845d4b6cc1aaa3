//! A bucket with its path, for reading containerd's fields with errors that name the key.

use std::collections::BTreeMap;
use std::path::Path;

use ocisize_bbolt::{Bucket, Value};

use crate::decode::{self, DecodeError, Timestamp};
use crate::Error;

/// A bucket, the names that lead to it, and the file it is in.
#[derive(Clone)]
pub(crate) struct Node<'t> {
    bucket: Bucket<'t>,
    path: String,
    file: &'t Path,
}

impl<'t> Node<'t> {
    /// The bucket at `names` from the root bucket of `tx`, if it exists.
    pub fn at(
        tx: &'t ocisize_bbolt::Tx<'t>,
        file: &'t Path,
        names: &[&str],
    ) -> Result<Option<Node<'t>>, Error> {
        let mut node = Node { bucket: tx.root(), path: String::new(), file };
        for name in names {
            match node.child(name)? {
                Some(n) => node = n,
                None => return Ok(None),
            }
        }
        Ok(Some(node))
    }

    /// The error for field `key` of this bucket.
    pub fn err(&self, key: &str, reason: DecodeError) -> Error {
        let key =
            if self.path.is_empty() { key.to_string() } else { format!("{}/{key}", self.path) };
        Error::Decode { path: self.file.to_path_buf(), key, reason }
    }

    fn join(&self, name: &str, bucket: Bucket<'t>) -> Node<'t> {
        let path =
            if self.path.is_empty() { name.to_string() } else { format!("{}/{name}", self.path) };
        Node { bucket, path, file: self.file }
    }

    /// The nested bucket `name`, if there is one; a plain value there is an error.
    pub fn child(&self, name: &str) -> Result<Option<Node<'t>>, Error> {
        match self.bucket.entry(name.as_bytes())? {
            Some(Value::Bucket(b)) => Ok(Some(self.join(name, b))),
            Some(Value::Data(_)) => {
                Err(self.err(name, DecodeError::Shape { expected: "bucket", found: "value" }))
            }
            None => Ok(None),
        }
    }

    /// The value `name`, if there is one; a bucket there is an error.
    pub fn value(&self, name: &str) -> Result<Option<Vec<u8>>, Error> {
        match self.bucket.entry(name.as_bytes())? {
            Some(Value::Data(v)) => Ok(Some(v)),
            Some(Value::Bucket(_)) => {
                Err(self.err(name, DecodeError::Shape { expected: "value", found: "bucket" }))
            }
            None => Ok(None),
        }
    }

    /// The value `name`, which containerd always writes.
    pub fn required(&self, name: &str) -> Result<Vec<u8>, Error> {
        self.value(name)?.ok_or_else(|| self.err(name, DecodeError::Missing))
    }

    /// The UTF-8 value `name`.
    pub fn string(&self, name: &str) -> Result<Option<String>, Error> {
        match self.value(name)? {
            Some(v) => utf8(v).map(Some).map_err(|e| self.err(name, e)),
            None => Ok(None),
        }
    }

    /// The non-negative varint `name` (containerd's `encodeSize`/`encodeInt`).
    pub fn size(&self, name: &str) -> Result<u64, Error> {
        decode::size(&self.required(name)?).map_err(|e| self.err(name, e))
    }

    /// The Go binary timestamp `name` (boltutil's `createdat`/`updatedat`).
    pub fn timestamp(&self, name: &str) -> Result<Option<Timestamp>, Error> {
        match self.value(name)? {
            Some(v) => Timestamp::from_go_binary(&v).map(Some).map_err(|e| self.err(name, e)),
            None => Ok(None),
        }
    }

    /// The string map in the nested bucket `name` (boltutil's `labels`, `annotations`);
    /// empty when the bucket is absent, as containerd writes none for an empty map.
    pub fn string_map(&self, name: &str) -> Result<BTreeMap<String, String>, Error> {
        let mut map = BTreeMap::new();
        if let Some(b) = self.child(name)? {
            for (k, v) in b.values()? {
                let v = utf8(v).map_err(|e| b.err(&k, e))?;
                map.insert(k, v);
            }
        }
        Ok(map)
    }

    /// Every entry of this bucket that is a plain value, by name.
    pub fn values(&self) -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut out = Vec::new();
        for entry in self.bucket.iter() {
            let (k, v) = entry?;
            let k = self.name(k)?;
            match v {
                Value::Data(v) => out.push((k, v)),
                Value::Bucket(_) => {
                    return Err(
                        self.err(&k, DecodeError::Shape { expected: "value", found: "bucket" })
                    )
                }
            }
        }
        Ok(out)
    }

    /// Every key of this bucket (values and buckets), in order.
    pub fn keys(&self) -> Result<Vec<String>, Error> {
        let mut out = Vec::new();
        for entry in self.bucket.iter() {
            let (k, _) = entry?;
            out.push(self.name(k)?);
        }
        Ok(out)
    }

    /// Every nested bucket of this bucket, by name; plain values are skipped, as
    /// containerd's `ForEach` loops skip them (`if v != nil { continue }`).
    pub fn children(&self) -> Result<Vec<(String, Node<'t>)>, Error> {
        let mut out = Vec::new();
        for entry in self.bucket.iter() {
            let (k, v) = entry?;
            if let Value::Bucket(b) = v {
                let k = self.name(k)?;
                let node = self.join(&k, b);
                out.push((k, node));
            }
        }
        Ok(out)
    }
}

impl Node<'_> {
    /// A key of this bucket as a string.
    fn name(&self, key: Vec<u8>) -> Result<String, Error> {
        String::from_utf8(key)
            .map_err(|e| self.err(&String::from_utf8_lossy(e.as_bytes()), DecodeError::Utf8))
    }
}

fn utf8(v: Vec<u8>) -> Result<String, DecodeError> {
    String::from_utf8(v).map_err(|_| DecodeError::Utf8)
}

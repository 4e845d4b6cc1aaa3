//! Reading a source's files: the one-pass scan of a streamed archive, the header index of an
//! archive file, and the listing of a directory. What the files mean is for `formats`.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ocisize_digest::RangeReader;
use ocisize_layer::Compression;
use ocisize_spec::path::{clean, join_link, AtRoot};

use crate::catalog::{algorithm_for, Content, Location, Member};
use crate::measure::measure_reader;
use crate::{Catalog, Input, Problem, ProblemKind, ScanOptions, SourceError, Wrapper};

/// Read the files of a source: a directory is listed, a plain tar file indexed, anything
/// else (a compressed archive, a pipe, standard input) read once as a stream.
pub(crate) fn read(input: &Input, options: &ScanOptions) -> Result<Catalog, SourceError> {
    let display = input.to_string();
    match input {
        Input::Stdin => stream(io::stdin().lock(), display, options),
        Input::Path(p) => {
            let meta = fs::metadata(p)
                .map_err(|source| SourceError::Io { path: display.clone(), source })?;
            if meta.is_dir() {
                return list_dir(p, display, options);
            }
            let f = fs::File::open(p)
                .map_err(|source| SourceError::Io { path: display.clone(), source })?;
            // A pipe (`<(docker save x)`, a FIFO) or a device cannot be read at an offset:
            // it is a stream, whatever it holds.
            if !meta.is_file() {
                return stream(f, display, options);
            }
            let mut head = [0u8; 8];
            let n = {
                use std::os::unix::fs::FileExt;
                ocisize_digest::retry(|| f.read_at(&mut head, 0))
                    .map_err(|source| SourceError::Io { path: display.clone(), source })?
            };
            // A plain tar in a regular file is indexed (headers only, bodies skipped by
            // seeking) and its members are measured on demand, in parallel; a compressed one
            // is read once as a stream.
            if Compression::sniff(&head[..n]) == Compression::None {
                index_file(Arc::new(f), meta.len(), display, options)
            } else {
                stream(f, display, options)
            }
        }
    }
}

/// Counts raw input bytes for the progress callback and the position of a truncation, and
/// retries reads that were interrupted (the tar crate passes `Interrupted` on).
struct Counted<R> {
    inner: R,
    cb: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    count: Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = ocisize_digest::read_retry(&mut self.inner, buf)?;
        if let Some(cb) = &self.cb {
            cb(n as u64);
        }
        self.count.fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Whether bytes look like a JSON document rather than a tar.
fn looks_like_json(head: &[u8]) -> bool {
    matches!(head.iter().find(|b| !b.is_ascii_whitespace()), Some(b'{' | b'['))
}

pub(crate) fn stream<R: Read>(
    raw: R,
    path: String,
    options: &ScanOptions,
) -> Result<Catalog, SourceError> {
    let mut buffered = BufReader::with_capacity(
        256 * 1024,
        Counted { inner: raw, cb: options.progress.clone(), count: Default::default() },
    );
    ocisize_digest::retry(|| buffered.fill_buf().map(|_| ()))
        .map_err(|source| SourceError::Io { path: path.clone(), source })?;
    let head = buffered.buffer();
    if looks_like_json(head) {
        return Err(SourceError::JsonDocument { path });
    }
    // Position in the uncompressed archive, for truncation messages.
    let unpacked = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let (wrapper, decoded): (Wrapper, Box<dyn Read + '_>) = match Compression::sniff(head) {
        Compression::Gzip => (Wrapper::Gzip, Box::new(flate2::read::MultiGzDecoder::new(buffered))),
        Compression::Zstd => {
            let d = zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|source| SourceError::Io { path: path.clone(), source })?;
            (Wrapper::Zstd, Box::new(d))
        }
        Compression::None => (Wrapper::None, Box::new(buffered)),
    };
    let reader = Counted { inner: decoded, cb: None, count: unpacked.clone() };
    let at = || unpacked.load(std::sync::atomic::Ordering::Relaxed);
    let mut files = Files::new(path.clone(), options);
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|source| SourceError::NotAnArchive { path: path.clone(), source })?;
    for entry in entries {
        let mut entry = files.next_entry(entry, at())?;
        let Some(name) = files.member_name(&entry) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let member = if kind.is_file() || kind == tar::EntryType::Continuous {
            let declared = entry.header().entry_size().unwrap_or(0);
            let start = at();
            let truncated = |found: u64| SourceError::Truncated {
                path: path.clone(),
                member: Some(name.clone()),
                at: start + found,
                expected: declared,
                found,
            };
            let mut counted = CountingReader { inner: &mut entry, count: 0 };
            let m = match measure_reader(
                &mut counted,
                &name,
                declared,
                algorithm_for(&name),
                files.catalog.measure_with(),
            ) {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(truncated(counted.count))
                }
                Err(source) => {
                    return Err(SourceError::Member { path, member: name, source });
                }
            };
            if m.size < declared {
                return Err(truncated(m.size));
            }
            Member { size: m.size, content: Content::Measured(Arc::new(m)) }
        } else if let Some(m) = files.link_member(&entry, &name) {
            m
        } else {
            continue;
        };
        files.insert(name, member, |m| match &m.content {
            Content::Measured(x) => Some((x.digest, x.size)),
            _ => None,
        });
    }
    // Read what follows the end-of-archive blocks: for a gzip or zstd wrapper this checks the
    // trailer (CRC and length), so a damaged wrapper is not silently accepted.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink())
        .map_err(|source| SourceError::Io { path: path.clone(), source })?;
    let mut catalog = files.catalog;
    catalog.wrapper = wrapper;
    Ok(catalog)
}

/// Counts what a member's reader delivered, to say where a truncated member ends.
struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Index a plain tar file: read the headers, seek past the bodies, and leave every member to
/// be measured on demand with positioned reads.
fn index_file(
    file: Arc<fs::File>,
    file_len: u64,
    path: String,
    options: &ScanOptions,
) -> Result<Catalog, SourceError> {
    {
        // Within the file: a range past its end is an error, which would hide a short JSON
        // document.
        let mut head = [0u8; 64];
        let mut r = RangeReader::new(&*file, 0, file_len.min(64));
        let n = crate::catalog::read_full(&mut r, &mut head).unwrap_or(0);
        if looks_like_json(&head[..n]) {
            return Err(SourceError::JsonDocument { path });
        }
    }
    let mut files = Files::new(path.clone(), options);
    let mut archive = tar::Archive::new(&*file);
    let entries = archive
        .entries_with_seek()
        .map_err(|source| SourceError::NotAnArchive { path: path.clone(), source })?;
    let mut last_end = 0u64;
    let mut last_member: Option<(String, u64)> = None;
    for entry in entries {
        let entry = files.next_entry(entry, last_end)?;
        let Some(name) = files.member_name(&entry) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let member = if kind.is_file() || kind == tar::EntryType::Continuous {
            let len = entry.size();
            let offset = entry.raw_file_position();
            last_end = offset.saturating_add(len);
            if last_end > file_len {
                return Err(SourceError::Truncated {
                    path,
                    member: Some(name),
                    at: file_len,
                    expected: len,
                    found: file_len.saturating_sub(offset),
                });
            }
            last_member = Some((name.clone(), len));
            let at = Location::Range { file: file.clone(), offset, len };
            Member { size: len, content: Content::Lazy { at, cell: OnceLock::new() } }
        } else if let Some(m) = files.link_member(&entry, &name) {
            m
        } else {
            continue;
        };
        // Only the digest is wanted: no file list.
        let limits = ocisize_layer::Limits { files: false, ..options.limits.layer.clone() };
        files.insert(name, member, |m| {
            // Comparing a duplicate needs its digest: measure both now (not teed).
            match &m.content {
                Content::Lazy { at: Location::Range { file, offset, len }, .. } => {
                    let r = RangeReader::new(&**file, *offset, *len);
                    let with = crate::measure::MeasureWith {
                        keep: 0,
                        limits: &limits,
                        pipeline: ocisize_layer::Pipeline::Serial,
                        progress: None,
                        tee: None,
                    };
                    measure_reader(r, "", *len, algorithm_for(""), with)
                        .ok()
                        .map(|x| (x.digest, x.size))
                }
                Content::Measured(x) => Some((x.digest, x.size)),
                _ => None,
            }
        });
    }
    // Seeking past the last member's padding never fails; reading it as a stream does (and
    // Go's archive/tar, which docker and podman use, refuses such an archive too).
    if let Some((member, len)) = last_member {
        if file_len < last_end.div_ceil(512) * 512 {
            return Err(SourceError::Truncated {
                path,
                member: Some(member),
                at: file_len,
                expected: len,
                found: len,
            });
        }
    }
    Ok(files.catalog)
}

/// The catalog being filled, with the member count.
struct Files {
    catalog: Catalog,
    count: u64,
}

impl Files {
    fn new(path: String, options: &ScanOptions) -> Files {
        Files {
            catalog: Catalog {
                path,
                wrapper: Wrapper::None,
                is_dir: false,
                members: BTreeMap::new(),
                refused: BTreeMap::new(),
                notices: Vec::new(),
                options: options.clone(),
            },
            count: 0,
        }
    }

    /// The next entry of an archive, counted against the member limit. A failure on the
    /// first header means the input is not a tar at all; a later one that the input ended
    /// is a truncation.
    fn next_entry<T>(&mut self, entry: io::Result<T>, at: u64) -> Result<T, SourceError> {
        let path = &self.catalog.path;
        let entry = entry.map_err(|source| {
            if self.count == 0 {
                SourceError::NotAnArchive { path: path.clone(), source }
            } else if source.kind() == io::ErrorKind::UnexpectedEof
                || source.to_string().contains("failed to read entire block")
            {
                SourceError::Truncated {
                    path: path.clone(),
                    member: None,
                    at,
                    expected: 0,
                    found: 0,
                }
            } else {
                SourceError::Io { path: path.clone(), source }
            }
        })?;
        self.count += 1;
        let limit = self.catalog.options.limits.max_members;
        if self.count > limit {
            return Err(SourceError::TooManyMembers { path: path.clone(), limit });
        }
        Ok(entry)
    }

    /// The member's normalized name, or a notice when it escapes the archive root.
    fn member_name<R: Read>(&mut self, entry: &tar::Entry<'_, R>) -> Option<String> {
        let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        match clean(&raw_name, AtRoot::Refuse) {
            Some(n) if n.is_empty() => None,
            Some(n) => Some(n),
            None => {
                self.catalog.notices.push(
                    Problem::error(
                        ProblemKind::UnsafePath,
                        format!("member {raw_name:?} escapes the archive root; ignored"),
                    )
                    .member(raw_name.clone()),
                );
                None
            }
        }
    }

    /// A symlink or hard link member, resolved to the member it names.
    fn link_member<R: Read>(&mut self, entry: &tar::Entry<'_, R>, name: &str) -> Option<Member> {
        let kind = entry.header().entry_type();
        if !(kind.is_symlink() || kind.is_hard_link()) {
            return None;
        }
        let target = entry
            .link_name_bytes()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        // A symlink is relative to its own directory; a hard link names a member.
        let resolved = if kind.is_symlink() {
            join_link(name, &target, AtRoot::Refuse)
        } else {
            clean(&target, AtRoot::Refuse)
        };
        match resolved {
            Some(t) => Some(Member { size: 0, content: Content::Link(t) }),
            None => {
                let reason = format!("is a link to {target}, which escapes the archive root");
                self.catalog.notices.push(
                    Problem::error(ProblemKind::UnsafePath, format!("{name} {reason}"))
                        .member(name),
                );
                self.catalog.refused.insert(name.to_owned(), reason);
                None
            }
        }
    }

    /// Insert a member; a second member of the same name with different content is an error
    /// (the last one wins, as tar extraction would have it).
    fn insert(
        &mut self,
        name: String,
        member: Member,
        identity: impl Fn(&Member) -> Option<(ocisize_digest::Digest, u64)>,
    ) {
        if let Some(old) = self.catalog.members.get(&name) {
            let same = match (&old.content, &member.content) {
                (Content::Link(x), Content::Link(y)) => x == y,
                (Content::Link(_), _) | (_, Content::Link(_)) => false,
                _ => {
                    let (a, b) = (identity(old), identity(&member));
                    a.is_some() && a == b
                }
            };
            if !same {
                self.catalog.notices.push(
                    Problem::error(
                        ProblemKind::DuplicateMember,
                        format!(
                            "archive holds two different members named {name}; the last one is used, as tar extraction would"
                        ),
                    )
                    .member(name.clone()),
                );
            }
        }
        self.catalog.members.insert(name, member);
    }
}

/// List a layout directory. Files are opened only when an image needs them.
pub(crate) fn list_dir(
    root: &Path,
    path: String,
    options: &ScanOptions,
) -> Result<Catalog, SourceError> {
    let canonical_root =
        fs::canonicalize(root).map_err(|source| SourceError::Io { path: path.clone(), source })?;
    let mut files = Files::new(path, options);
    files.catalog.is_dir = true;
    let mut stack: Vec<(PathBuf, String, u32)> = vec![(root.to_path_buf(), String::new(), 0)];
    let limit = options.limits.max_members;
    while let Some((dir, prefix, depth)) = stack.pop() {
        let rd = fs::read_dir(&dir)
            .map_err(|source| SourceError::Io { path: dir.display().to_string(), source })?;
        for ent in rd {
            let ent =
                ent.map_err(|source| SourceError::Io { path: dir.display().to_string(), source })?;
            let fname = ent.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() { fname.clone() } else { format!("{prefix}/{fname}") };
            let p = ent.path();
            let meta = fs::symlink_metadata(&p)
                .map_err(|source| SourceError::Io { path: p.display().to_string(), source })?;
            let (file_path, meta) = if meta.file_type().is_symlink() {
                // A symlink is followed only when it stays inside the layout: a blob path that
                // escapes the layout is refused.
                match fs::canonicalize(&p) {
                    Ok(t) if t.starts_with(&canonical_root) => match fs::metadata(&t) {
                        Ok(m) => (t, m),
                        Err(_) => continue,
                    },
                    _ => {
                        let reason = "is a symbolic link that leaves the layout directory";
                        files.catalog.notices.push(
                            Problem::error(
                                ProblemKind::UnsafePath,
                                format!("{rel} {reason}; refused"),
                            )
                            .member(rel.clone()),
                        );
                        files.catalog.refused.insert(rel, reason.into());
                        continue;
                    }
                }
            } else {
                (p, meta)
            };
            if meta.is_dir() {
                if depth < 4 {
                    stack.push((file_path, rel, depth + 1));
                }
            } else if meta.is_file() {
                if files.catalog.members.len() as u64 >= limit {
                    return Err(SourceError::TooManyMembers { path: files.catalog.path, limit });
                }
                let content =
                    Content::Lazy { at: Location::File(file_path), cell: OnceLock::new() };
                files.catalog.members.insert(rel, Member { size: meta.len(), content });
            }
        }
    }
    Ok(files.catalog)
}

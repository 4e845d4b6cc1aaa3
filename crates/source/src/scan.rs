//! Opening sources: format detection, the one-pass archive scan and the directory listing.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use ocisize_layer::Compression;

use crate::{
    algorithm_for, join_link, measure_reader, normalize, Catalog, Content, Format, Input, Location,
    Member, Notice, ScanOptions, SourceArg, SourceError, Wrapper,
};

pub(crate) fn open(arg: &SourceArg, options: &ScanOptions) -> Result<Catalog, SourceError> {
    let display = arg.input.to_string();
    match &arg.input {
        Input::Stdin => {
            let stdin = io::stdin().lock();
            scan_stream(stdin, display, arg, options)
        }
        Input::Path(p) => {
            let meta = fs::metadata(p)
                .map_err(|source| SourceError::Io { path: display.clone(), source })?;
            if meta.is_dir() {
                return open_dir(p, display, arg, options);
            }
            let f = fs::File::open(p)
                .map_err(|source| SourceError::Io { path: display.clone(), source })?;
            let mut head = [0u8; 8];
            let n = {
                use std::os::unix::fs::FileExt;
                f.read_at(&mut head, 0)
                    .map_err(|source| SourceError::Io { path: display.clone(), source })?
            };
            // A plain tar in a regular file is indexed (headers only, bodies skipped by
            // seeking) and its members are measured on demand, in parallel; anything else
            // (a compressed archive, a pipe) is read once as a stream.
            if meta.is_file() && Compression::sniff(&head[..n]) == Compression::None {
                index_file(Arc::new(f), display, arg, options)
            } else {
                scan_stream(f, display, arg, options)
            }
        }
    }
}

/// Counts raw input bytes for the progress callback, and retries reads that were
/// interrupted (not every reader above it does: the tar crate passes `Interrupted` on).
struct Progress<R> {
    inner: R,
    cb: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

impl<R: Read> Read for Progress<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = loop {
            match self.inner.read(buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        if let Some(cb) = &self.cb {
            cb(n as u64);
        }
        Ok(n)
    }
}

pub(crate) fn scan_stream<R: Read>(
    raw: R,
    path: String,
    arg: &SourceArg,
    options: &ScanOptions,
) -> Result<Catalog, SourceError> {
    let mut buffered =
        BufReader::with_capacity(256 * 1024, Progress { inner: raw, cb: options.progress.clone() });
    let head = loop {
        match buffered.fill_buf() {
            Ok(h) => break h,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(SourceError::Io { path, source }),
        }
    };
    let (wrapper, reader): (Wrapper, Box<dyn Read + '_>) = match Compression::sniff(head) {
        Compression::Gzip => (Wrapper::Gzip, Box::new(flate2::read::MultiGzDecoder::new(buffered))),
        Compression::Zstd => {
            let d = zstd::stream::read::Decoder::with_buffer(buffered)
                .map_err(|source| SourceError::Io { path: path.clone(), source })?;
            (Wrapper::Zstd, Box::new(d))
        }
        Compression::None => (Wrapper::None, Box::new(buffered)),
    };
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    let mut notices = Vec::new();
    let keep = options.json.manifest.max(options.json.config).max(options.json.metadata);
    let mut archive = tar::Archive::new(reader);
    let entries = archive
        .entries()
        .map_err(|source| SourceError::NotAnArchive { path: path.clone(), source })?;
    let mut count: u64 = 0;
    for entry in entries {
        let mut entry = checked_entry(entry, &mut count, &path, options)?;
        let Some(name) = member_name(&entry, &mut notices) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let member = if kind.is_file() || kind == tar::EntryType::Continuous {
            let declared = entry.header().entry_size().unwrap_or(0);
            let m = measure_reader(
                &mut entry,
                algorithm_for(&name),
                keep,
                &options.layer,
                options.pipeline,
                None,
            )
            .map_err(|source| {
                if source.kind() == io::ErrorKind::UnexpectedEof {
                    SourceError::Truncated {
                        path: path.clone(),
                        member: name.clone(),
                        expected: declared,
                        found: 0,
                    }
                } else {
                    SourceError::Member { path: path.clone(), member: name.clone(), source }
                }
            })?;
            if m.size < declared {
                return Err(SourceError::Truncated {
                    path,
                    member: name,
                    expected: declared,
                    found: m.size,
                });
            }
            Member { size: m.size, content: Content::Measured(Arc::new(m)) }
        } else if let Some(m) = link_member(&entry, &name, &mut notices) {
            m
        } else {
            continue;
        };
        insert_member(&mut members, &mut notices, name, member, |m| match &m.content {
            Content::Measured(x) => Some((x.digest, x.size)),
            _ => None,
        });
    }
    // Read what follows the end-of-archive blocks: for a gzip or zstd wrapper this checks the
    // trailer (CRC and length), so a damaged wrapper is not silently accepted.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink())
        .map_err(|source| SourceError::Io { path: path.clone(), source })?;

    finish_archive(path, arg, options, wrapper, members, notices, count)
}

/// Index a plain tar file: read the headers, seek past the bodies, and leave every member to
/// be measured on demand with positioned reads.
fn index_file(
    file: Arc<fs::File>,
    path: String,
    arg: &SourceArg,
    options: &ScanOptions,
) -> Result<Catalog, SourceError> {
    let mut members: BTreeMap<String, Member> = BTreeMap::new();
    let mut notices = Vec::new();
    let mut archive = tar::Archive::new(&*file);
    let entries = archive
        .entries_with_seek()
        .map_err(|source| SourceError::NotAnArchive { path: path.clone(), source })?;
    let mut count: u64 = 0;
    for entry in entries {
        let entry = checked_entry(entry, &mut count, &path, options)?;
        let Some(name) = member_name(&entry, &mut notices) else {
            continue;
        };
        let kind = entry.header().entry_type();
        let member = if kind.is_file() || kind == tar::EntryType::Continuous {
            let len = entry.size();
            let at = Location::Range { file: file.clone(), offset: entry.raw_file_position(), len };
            Member { size: len, content: Content::Lazy { at, cell: OnceLock::new() } }
        } else if let Some(m) = link_member(&entry, &name, &mut notices) {
            m
        } else {
            continue;
        };
        insert_member(&mut members, &mut notices, name, member, |m| {
            // Comparing a duplicate needs its digest: measure both now.
            match &m.content {
                Content::Lazy { at: Location::Range { file, offset, len }, .. } => {
                    let r = crate::RangeReader { file, pos: *offset, end: offset + len };
                    measure_reader(r, algorithm_for(""), 0, &options.layer, options.pipeline, None)
                        .ok()
                        .map(|x| (x.digest, x.size))
                }
                Content::Measured(x) => Some((x.digest, x.size)),
                _ => None,
            }
        });
    }
    finish_archive(path, arg, options, Wrapper::None, members, notices, count)
}

/// The next entry of an archive, counted against the member limit. A failure on the first
/// header means the input is not a tar at all.
fn checked_entry<T>(
    entry: io::Result<T>,
    count: &mut u64,
    path: &str,
    options: &ScanOptions,
) -> Result<T, SourceError> {
    let entry = entry.map_err(|source| {
        if *count == 0 {
            SourceError::NotAnArchive { path: path.to_owned(), source }
        } else {
            SourceError::Io { path: path.to_owned(), source }
        }
    })?;
    *count += 1;
    if *count > options.member_limit() {
        return Err(SourceError::TooManyMembers {
            path: path.to_owned(),
            limit: options.member_limit(),
        });
    }
    Ok(entry)
}

/// The member's normalized name, or a notice when it escapes the archive root.
fn member_name<R: Read>(entry: &tar::Entry<'_, R>, notices: &mut Vec<Notice>) -> Option<String> {
    let raw_name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
    match normalize(&raw_name) {
        Some(n) if n.is_empty() => None,
        Some(n) => Some(n),
        None => {
            notices.push(Notice {
                error: true,
                member: Some(raw_name.clone()),
                message: format!("member {raw_name:?} escapes the archive root; ignored"),
            });
            None
        }
    }
}

/// A symlink or hard link member, resolved to the member it names.
fn link_member<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
    notices: &mut Vec<Notice>,
) -> Option<Member> {
    let kind = entry.header().entry_type();
    if !(kind.is_symlink() || kind.is_hard_link()) {
        return None;
    }
    let target = entry
        .link_name_bytes()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    // A symlink is relative to its own directory; a hard link names a member.
    let resolved = if kind.is_symlink() { join_link(name, &target) } else { normalize(&target) };
    match resolved {
        Some(t) => Some(Member { size: 0, content: Content::Link(t) }),
        None => {
            notices.push(Notice {
                error: true,
                member: Some(name.to_owned()),
                message: format!("link {name} -> {target} escapes the archive root"),
            });
            None
        }
    }
}

/// Insert a member; a second member of the same name with different content is an error
/// (the last one wins, as tar extraction would have it).
fn insert_member(
    members: &mut BTreeMap<String, Member>,
    notices: &mut Vec<Notice>,
    name: String,
    member: Member,
    identity: impl Fn(&Member) -> Option<(ocisize_digest::Digest, u64)>,
) {
    if let Some(old) = members.get(&name) {
        let same = match (&old.content, &member.content) {
            (Content::Link(x), Content::Link(y)) => x == y,
            (Content::Link(_), _) | (_, Content::Link(_)) => false,
            _ => {
                let (a, b) = (identity(old), identity(&member));
                a.is_some() && a == b
            }
        };
        if !same {
            notices.push(Notice {
                error: true,
                member: Some(name.clone()),
                message: format!(
                    "archive holds two different members named {name}; the last one is used, as tar extraction would"
                ),
            });
        }
    }
    members.insert(name, member);
}

fn finish_archive(
    path: String,
    arg: &SourceArg,
    options: &ScanOptions,
    wrapper: Wrapper,
    members: BTreeMap<String, Member>,
    notices: Vec<Notice>,
    count: u64,
) -> Result<Catalog, SourceError> {
    let has = |n: &str| members.contains_key(n);
    let detected = match (has("index.json"), has("manifest.json")) {
        (true, false) => Some(Format::OciArchive),
        (false, true) => Some(Format::DockerArchive),
        // docker >= 25 writes an OCI layout plus manifest.json and repositories; ctr export
        // writes an OCI layout plus manifest.json only.
        (true, true) if has("repositories") => Some(Format::DockerArchive),
        (true, true) => Some(Format::OciArchive),
        (false, false) => None,
    };
    let format = match (arg.format, detected) {
        (Some(Format::OciArchive | Format::OciLayout), _) if has("index.json") => {
            Format::OciArchive
        }
        (Some(Format::DockerArchive), _) if has("manifest.json") => Format::DockerArchive,
        (Some(f), _) => {
            return Err(SourceError::WrongFormat {
                path,
                expected: f,
                reason: if f == Format::DockerArchive {
                    "the archive has no manifest.json".into()
                } else {
                    "the archive has no index.json".into()
                },
            })
        }
        (None, Some(f)) => f,
        (None, None) => {
            return Err(SourceError::UnknownFormat {
                path,
                reason: format!(
                    "the archive has neither index.json nor manifest.json ({count} members)"
                ),
            })
        }
    };
    Ok(Catalog {
        format,
        wrapper,
        path,
        members,
        notices,
        options: options.clone(),
        reference: arg.reference.clone(),
    })
}

/// List a layout directory. Files are opened only when an image needs them.
fn open_dir(
    root: &Path,
    path: String,
    arg: &SourceArg,
    options: &ScanOptions,
) -> Result<Catalog, SourceError> {
    let canonical_root =
        fs::canonicalize(root).map_err(|source| SourceError::Io { path: path.clone(), source })?;
    let mut members = BTreeMap::new();
    let mut notices = Vec::new();
    let mut stack: Vec<(PathBuf, String, u32)> = vec![(root.to_path_buf(), String::new(), 0)];
    let limit = options.member_limit();
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
                        notices.push(Notice {
                            error: true,
                            member: Some(rel.clone()),
                            message: format!(
                                "{rel} is a symbolic link that leaves the layout directory; refused"
                            ),
                        });
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
                if members.len() as u64 >= limit {
                    return Err(SourceError::TooManyMembers { path, limit });
                }
                members.insert(
                    rel,
                    Member {
                        size: meta.len(),
                        content: Content::Lazy {
                            at: Location::File(file_path),
                            cell: OnceLock::new(),
                        },
                    },
                );
            }
        }
    }
    let has = |n: &str| members.contains_key(n);
    let is_oci = has("index.json");
    let is_dir = has("manifest.json") && !is_oci;
    let format = match arg.format {
        Some(Format::OciLayout | Format::OciArchive) if is_oci => Format::OciLayout,
        Some(Format::Dir) if has("manifest.json") => Format::Dir,
        Some(f @ (Format::OciLayout | Format::OciArchive)) => {
            return Err(SourceError::WrongFormat {
                path,
                expected: f,
                reason: "the directory has no index.json".into(),
            })
        }
        Some(f) if f != Format::Dir => {
            return Err(SourceError::WrongFormat {
                path,
                expected: f,
                reason: "a directory is not an archive".into(),
            })
        }
        Some(f) => {
            return Err(SourceError::WrongFormat {
                path,
                expected: f,
                reason: "the directory has no manifest.json".into(),
            })
        }
        None if is_oci => Format::OciLayout,
        None if is_dir => Format::Dir,
        None => return Err(SourceError::UnknownFormat {
            path,
            reason:
                "the directory has neither index.json (OCI layout) nor manifest.json (dir: layout)"
                    .into(),
        }),
    };
    if format == Format::OciLayout && !has("oci-layout") {
        notices.push(Notice {
            error: false,
            member: Some("oci-layout".into()),
            message: "the OCI layout has no oci-layout file (the spec requires one)".into(),
        });
    }
    Ok(Catalog {
        format,
        wrapper: Wrapper::None,
        path,
        members,
        notices,
        options: options.clone(),
        reference: arg.reference.clone(),
    })
}

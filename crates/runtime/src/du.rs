//! Bytes on disk, as `du -B1` counts them: `st_blocks × 512` of every file, directory and
//! symlink, each (device, inode) once however many names it has.
//!
//! One [`DiskUsage`] accumulates over several trees, so a file hardlinked into two of them
//! counts once, and so does a path given twice. Only what can be met twice is remembered
//! (the paths given, directories, files with more than one link), so memory grows with
//! those, not with the number of files (a single-link file given as a path after a tree
//! that holds it would count twice: give trees that do not overlap). A tree is not left for another filesystem (as `du -x`):
//! the `merged` mount of a running container would count its image again. A file removed
//! while the walk runs is skipped.

use std::collections::HashSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A running total of bytes on disk over one or more trees.
#[derive(Debug, Default)]
pub struct DiskUsage {
    bytes: u64,
    seen: HashSet<(u64, u64)>,
}

impl DiskUsage {
    /// An empty total.
    pub fn new() -> DiskUsage {
        DiskUsage::default()
    }

    /// The bytes counted so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Add `path`: a file, or a directory and everything under it. A path that does not
    /// exist adds nothing.
    pub fn add(&mut self, path: &Path) -> io::Result<()> {
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let dev = meta.dev();
        // A path given twice (a blob two images use) counts once: every root is
        // remembered.
        if !self.seen.insert((dev, meta.ino())) {
            return Ok(());
        }
        self.bytes = self.bytes.saturating_add(meta.blocks().saturating_mul(512));
        if !meta.is_dir() {
            return Ok(());
        }
        let mut stack: Vec<PathBuf> = vec![path.to_path_buf()];
        while let Some(dir) = stack.pop() {
            let entries = match fs::read_dir(&dir) {
                Ok(e) => e,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io::Error::new(e.kind(), format!("{}: {e}", dir.display()))),
            };
            for entry in entries {
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                // DirEntry::metadata does not follow symlinks (lstat).
                let meta = match entry.metadata() {
                    Ok(m) => m,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if self.count(&meta) && meta.is_dir() && meta.dev() == dev {
                    stack.push(entry.path());
                }
            }
        }
        Ok(())
    }

    /// Count one inode unless it was counted before; whether it was new.
    fn count(&mut self, meta: &fs::Metadata) -> bool {
        let remember = meta.is_dir() || meta.nlink() > 1;
        if remember && !self.seen.insert((meta.dev(), meta.ino())) {
            return false;
        }
        self.bytes = self.bytes.saturating_add(meta.blocks().saturating_mul(512));
        true
    }
}

/// The bytes on disk of the trees `paths` together.
pub fn disk_usage<'a>(paths: impl IntoIterator<Item = &'a Path>) -> io::Result<u64> {
    let mut du = DiskUsage::new();
    for p in paths {
        du.add(p)?;
    }
    Ok(du.bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::{Seek, SeekFrom, Write};
    use std::process::Command;

    fn du_b1(paths: &[&Path]) -> u64 {
        let out = Command::new("du").args(["-s", "-c", "-B1"]).args(paths).output().unwrap();
        assert!(out.status.success(), "du: {}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8(out.stdout).unwrap();
        let total = text.lines().last().unwrap();
        total.split_whitespace().next().unwrap().parse().unwrap()
    }

    fn tree(root: &Path) {
        fs::create_dir_all(root.join("a/b/c")).unwrap();
        fs::create_dir_all(root.join("empty")).unwrap();
        fs::write(root.join("a/small"), b"x").unwrap();
        fs::write(root.join("a/b/4k"), vec![7u8; 4096]).unwrap();
        fs::write(root.join("a/b/c/big"), vec![1u8; 300_000]).unwrap();
        fs::write(root.join("empty-file"), b"").unwrap();
        fs::hard_link(root.join("a/b/c/big"), root.join("big-link")).unwrap();
        std::os::unix::fs::symlink("/a/very/long/target/that/needs/no/block", root.join("sym"))
            .unwrap();
        let long: String = "t".repeat(200);
        std::os::unix::fs::symlink(&long, root.join("long-sym")).unwrap();
        // A sparse file: 1 MiB long, one block written.
        let mut f = fs::File::create(root.join("sparse")).unwrap();
        f.seek(SeekFrom::Start(1 << 20)).unwrap();
        f.write_all(b"end").unwrap();
        for i in 0..50 {
            fs::write(root.join(format!("a/b/f{i}")), vec![b'x'; i * 100]).unwrap();
        }
    }

    #[test]
    fn matches_du_b1_on_a_tree_with_hardlinks_symlinks_and_holes() {
        let dir = tempfile::tempdir().unwrap();
        tree(dir.path());
        let ours = disk_usage([dir.path()]).unwrap();
        assert_eq!(ours, du_b1(&[dir.path()]));
        assert!(ours > 300_000);
    }

    #[test]
    fn several_trees_count_a_shared_inode_once_like_du() {
        let dir = tempfile::tempdir().unwrap();
        let (x, y) = (dir.path().join("x"), dir.path().join("y"));
        tree(&x);
        fs::create_dir_all(&y).unwrap();
        fs::hard_link(x.join("a/b/c/big"), y.join("big")).unwrap();
        let ours = disk_usage([x.as_path(), y.as_path()]).unwrap();
        assert_eq!(ours, du_b1(&[&x, &y]));
        // The same tree twice counts once.
        assert_eq!(disk_usage([x.as_path(), x.as_path()]).unwrap(), du_b1(&[&x]));
    }

    #[test]
    fn a_single_file_and_a_missing_path() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, vec![0u8; 10_000]).unwrap();
        assert_eq!(disk_usage([f.as_path()]).unwrap(), du_b1(&[&f]));
        assert_eq!(disk_usage([dir.path().join("none").as_path()]).unwrap(), 0);
    }
}

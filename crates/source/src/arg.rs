//! Source arguments: a path, `-`, or a skopeo-style `transport:path[:reference]`.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use ocisize_reference::Reference;

use crate::Format;

/// Which images of a source the argument asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selection {
    /// `oci:DIR:REF`, `docker-archive:FILE:REF`: images whose name is REF (normalized, as
    /// docker and skopeo normalize it) or whose `org.opencontainers.image.ref.name` is REF as
    /// written (a bare tag, for skopeo's and umoci's layouts).
    Name {
        /// REF as written.
        raw: String,
        /// REF as a reference, when it is one.
        reference: Option<Reference>,
    },
    /// `docker-archive:FILE:@N`: the N-th entry of `manifest.json`, counted from 0 (skopeo's
    /// source index).
    Position(usize),
}

impl Selection {
    /// Parse the part after the path.
    pub fn parse(s: &str) -> Selection {
        if let Some(n) = s.strip_prefix('@').and_then(|n| n.parse::<usize>().ok()) {
            return Selection::Position(n);
        }
        Selection::Name { raw: s.to_owned(), reference: Reference::parse_normalized(s).ok() }
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Selection::Name { raw, .. } => f.write_str(raw),
            Selection::Position(n) => write!(f, "@{n}"),
        }
    }
}

/// Where the bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// A file or directory.
    Path(PathBuf),
    /// Standard input (`-`).
    Stdin,
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Path(p) => write!(f, "{}", p.display()),
            Input::Stdin => f.write_str("-"),
        }
    }
}

/// A parsed source argument.
///
/// | argument | meaning |
/// |---|---|
/// | `PATH` | detect the format |
/// | `-` | read an archive (possibly gzip or zstd compressed) from standard input |
/// | `oci:DIR[:REF]` | OCI layout directory; REF selects by `org.opencontainers.image.ref.name` |
/// | `oci-archive:FILE[:REF]` | tar of an OCI layout |
/// | `docker-archive:FILE[:REF]` | `docker save` tarball; REF selects a RepoTag, `@N` the N-th image (from 0) |
/// | `dir:DIR` | containers/image `dir:` layout |
///
/// As in skopeo, the path ends at the first `:` after the transport name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceArg {
    /// The input.
    pub input: Input,
    /// A format forced by a transport prefix.
    pub format: Option<Format>,
    /// Which images within the source.
    pub selection: Option<Selection>,
}

impl SourceArg {
    /// A plain path with format detection.
    pub fn path(p: impl Into<PathBuf>) -> SourceArg {
        SourceArg { input: Input::Path(p.into()), format: None, selection: None }
    }
}

/// A source argument that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ArgError {
    /// Nothing was given.
    #[error("empty source argument")]
    Empty,
    /// A transport prefix with no path.
    #[error("source {arg:?} names no path after the transport")]
    NoPath {
        /// The argument.
        arg: String,
    },
    /// `@N` selects by position only in a docker-archive.
    #[error("source {arg:?}: only docker-archive: selects an image by position (@N)")]
    Position {
        /// The argument.
        arg: String,
    },
    /// `dir:` takes no reference.
    #[error("source {arg:?}: the dir: transport takes no reference")]
    DirReference {
        /// The argument.
        arg: String,
    },
}

impl FromStr for SourceArg {
    type Err = ArgError;

    fn from_str(s: &str) -> Result<SourceArg, ArgError> {
        if s.is_empty() {
            return Err(ArgError::Empty);
        }
        if s == "-" {
            return Ok(SourceArg { input: Input::Stdin, format: None, selection: None });
        }
        let transports = [
            ("oci-archive:", Format::OciArchive),
            ("docker-archive:", Format::DockerArchive),
            ("oci:", Format::OciLayout),
            ("dir:", Format::Dir),
        ];
        for (prefix, format) in transports {
            if let Some(rest) = s.strip_prefix(prefix) {
                let (path, selection) = match rest.split_once(':') {
                    Some((p, r)) if !r.is_empty() => (p, Some(Selection::parse(r))),
                    Some((p, _)) => (p, None),
                    None => (rest, None),
                };
                if path.is_empty() {
                    return Err(ArgError::NoPath { arg: s.to_owned() });
                }
                if format == Format::Dir && selection.is_some() {
                    return Err(ArgError::DirReference { arg: s.to_owned() });
                }
                let input = if path == "-" { Input::Stdin } else { Input::Path(path.into()) };
                if format != Format::DockerArchive
                    && matches!(selection, Some(Selection::Position(_)))
                {
                    return Err(ArgError::Position { arg: s.to_owned() });
                }
                return Ok(SourceArg { input, format: Some(format), selection });
            }
        }
        Ok(SourceArg::path(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        let a: SourceArg = "oci:/x/y:latest".parse().unwrap();
        assert_eq!(a.input, Input::Path("/x/y".into()));
        assert_eq!(a.format, Some(Format::OciLayout));
        assert_eq!(a.selection.map(|s| s.to_string()).as_deref(), Some("latest"));
        let a: SourceArg = "docker-archive:img.tar:ocisize/tiny:latest".parse().unwrap();
        assert_eq!(a.selection.map(|s| s.to_string()).as_deref(), Some("ocisize/tiny:latest"));
        let a: SourceArg = "docker-archive:img.tar:@1".parse().unwrap();
        assert_eq!(a.selection, Some(Selection::Position(1)));
        assert!(matches!("oci:x:@1".parse::<SourceArg>(), Err(ArgError::Position { .. })));
        let a: SourceArg = "img.tar".parse().unwrap();
        assert_eq!(a, SourceArg::path("img.tar"));
        let a: SourceArg = "-".parse().unwrap();
        assert_eq!(a.input, Input::Stdin);
        assert_eq!("oci:".parse::<SourceArg>(), Err(ArgError::NoPath { arg: "oci:".into() }));
        assert!(matches!("dir:x:y".parse::<SourceArg>(), Err(ArgError::DirReference { .. })));
    }
}

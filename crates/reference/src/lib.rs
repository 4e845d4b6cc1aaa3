//! Image references, as Docker and the distribution `reference` grammar define them.
//!
//! The same image is `nginx:1.0` in `docker images` and `docker.io/library/nginx:1.0` in
//! `crictl images`, `ctr images ls` and `podman images`. [`Reference::parse_normalized`]
//! accepts either, [`Reference::normalized`] prints the fully qualified form and
//! [`Reference::familiar`] the short one.
//!
//! ```
//! use ocisize_reference::Reference;
//!
//! let r = Reference::parse_normalized("nginx:1.0").unwrap();
//! assert_eq!(r.normalized(), "docker.io/library/nginx:1.0");
//! assert_eq!(r.familiar(), "nginx:1.0");
//! let r = Reference::parse_normalized("quay.io/podman/stable").unwrap().with_default_tag();
//! assert_eq!(r.to_string(), "quay.io/podman/stable:latest");
//! ```
#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;

use ocisize_digest::Digest;

/// Docker Hub's canonical domain.
pub const DEFAULT_DOMAIN: &str = "docker.io";
/// The namespace of official images on Docker Hub.
pub const OFFICIAL_REPO_PREFIX: &str = "library/";
/// Longest name (domain and path) the grammar allows (`NameTotalLengthMax`).
pub const NAME_TOTAL_LENGTH_MAX: usize = 255;

/// A parsed, normalized image reference.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a string is not an image reference.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// The string is empty.
    #[error("empty image reference")]
    Empty,
    /// The string does not follow the reference grammar.
    #[error("invalid image reference {input:?}")]
    InvalidFormat {
        /// The input.
        input: String,
    },
    /// The name is longer than 255 characters.
    #[error("image name is {length} characters, longer than 255")]
    NameTooLong {
        /// The name's length.
        length: usize,
    },
    /// The repository has uppercase letters.
    #[error("repository name must be lowercase in {input:?}")]
    UppercaseRepository {
        /// The input.
        input: String,
    },
    /// The tag does not follow `[\w][\w.-]{0,127}`.
    #[error("invalid tag {tag:?}")]
    InvalidTag {
        /// The tag.
        tag: String,
    },
    /// The digest part does not parse.
    #[error("invalid digest in reference {input:?}")]
    InvalidDigest {
        /// The input.
        input: String,
    },
    /// A 64-hex string alone, which docker treats as an image ID, not a name.
    #[error("{input:?} is an image ID, not a repository name")]
    HexId {
        /// The input.
        input: String,
    },
}

fn is_alnum_lower(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// A path component: `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
fn valid_component(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0] as char) || !is_alnum_lower(b[b.len() - 1] as char) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i] as char;
        if is_alnum_lower(c) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__", or one or more "-".
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i] as char) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// A domain: host name labels (`[a-zA-Z0-9]` with inner `-`), dots, optional `:port`, or a
/// bracketed IPv6 address.
fn valid_domain(s: &str) -> bool {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(end) => (&s[..=end], &s[end + 1..]),
            None => return false,
        }
    } else {
        match s.find(':') {
            Some(i) => (&s[..i], &s[i..]),
            None => (s, ""),
        }
    };
    let port_ok = port.is_empty()
        || port
            .strip_prefix(':')
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    let host_ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(ip) => !ip.is_empty() && ip.chars().all(|c| c.is_ascii_hexdigit() || c == ':'),
        None => {
            !host.is_empty()
                && host.split('.').all(|label| {
                    let b = label.as_bytes();
                    !b.is_empty()
                        && b[0].is_ascii_alphanumeric()
                        && b[b.len() - 1].is_ascii_alphanumeric()
                        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
                })
        }
    };
    port_ok && host_ok
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

impl Reference {
    /// Parse a reference the way `docker pull` does (distribution's `ParseNormalizedNamed`):
    /// a name without a domain is on `docker.io`, and a one-component Docker Hub name is
    /// in `library/`.
    pub fn parse_normalized(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        if input.len() == 64
            && input.bytes().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        {
            return Err(ReferenceError::HexId { input: input.to_owned() });
        }
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (
                r,
                Some(
                    d.parse::<Digest>()
                        .map_err(|_| ReferenceError::InvalidDigest { input: input.to_owned() })?,
                ),
            ),
            None => (input, None),
        };
        // The tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::InvalidTag { tag: t.to_owned() });
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, remainder))
                if first.contains('.')
                    || first.contains(':')
                    || first == "localhost"
                    || first.chars().any(|c| c.is_ascii_uppercase()) =>
            {
                (first.to_owned(), remainder.to_owned())
            }
            _ => (DEFAULT_DOMAIN.to_owned(), name.to_owned()),
        };
        let domain = if domain == "index.docker.io" { DEFAULT_DOMAIN.to_owned() } else { domain };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            format!("{OFFICIAL_REPO_PREFIX}{path}")
        } else {
            path
        };
        if !valid_domain(&domain) {
            return Err(ReferenceError::InvalidFormat { input: input.to_owned() });
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::UppercaseRepository { input: input.to_owned() });
        }
        if !path.split('/').all(valid_component) {
            return Err(ReferenceError::InvalidFormat { input: input.to_owned() });
        }
        let length = domain.len() + 1 + path.len();
        if length > NAME_TOTAL_LENGTH_MAX {
            return Err(ReferenceError::NameTooLong { length });
        }
        Ok(Reference { domain, path, tag: tag.map(str::to_owned), digest })
    }

    /// The registry domain (`docker.io`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path (`library/nginx`).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tag, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if any.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Add the `latest` tag when there is neither a tag nor a digest, as docker does.
    pub fn with_default_tag(mut self) -> Reference {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some("latest".to_owned());
        }
        self
    }

    fn suffix(&self) -> String {
        let mut s = String::new();
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(&d.to_string());
        }
        s
    }

    /// The fully qualified form: `docker.io/library/nginx:1.0`.
    pub fn normalized(&self) -> String {
        format!("{}/{}{}", self.domain, self.path, self.suffix())
    }

    /// The form docker prints: `nginx:1.0`, `foo/bar:1`, `quay.io/x/y:1`.
    ///
    /// Like docker's (distribution/reference `FamiliarString`), it drops `docker.io/` even
    /// when the first path component looks like a registry: `docker.io/a.b/c` prints as
    /// `a.b/c`, which parses back as the registry `a.b` (and `docker.io/a_b.c/d` as `a_b.c/d`,
    /// which does not parse at all; so does a 64-hex name, which reads as an image ID).
    /// [`Reference::is_familiar_ambiguous`] tells; [`Reference::normalized`] is never
    /// ambiguous.
    pub fn familiar(&self) -> String {
        format!("{}{}", self.familiar_name(), self.suffix())
    }

    fn familiar_name(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
                Some(rest) if !rest.contains('/') => rest.to_owned(),
                _ => self.path.clone(),
            }
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    /// Whether [`Reference::familiar`] names another image, or none, when parsed back: a
    /// `docker.io` name whose first path component holds a `.` or is `localhost` (docker's
    /// rule for telling a registry from a path component), or a familiar form of 64 hex digits
    /// and no tag (docker refuses it as a name: it reads as an image ID).
    pub fn is_familiar_ambiguous(&self) -> bool {
        if self.domain != DEFAULT_DOMAIN {
            return false;
        }
        let first = self.path.split('/').next().unwrap_or("");
        let familiar = self.familiar();
        (self.path.contains('/') && (first.contains('.') || first == "localhost"))
            || (familiar.len() == 64
                && familiar.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
    }
}

/// Read an `org.opencontainers.image.ref.name` annotation.
///
/// image-spec annotations.md allows any reference here; in practice skopeo and umoci write a
/// bare tag (`latest`), podman a full name (`docker.io/ocisize/tiny:latest`). A value with a
/// `/`, `:` or `@` is a reference (a tag can contain none of them); anything else is a tag
/// and gives `None`.
pub fn from_oci_ref_name(annotation: &str) -> Option<Reference> {
    if annotation.contains(['/', ':', '@']) {
        Reference::parse_normalized(annotation).ok()
    } else {
        None
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized())
    }
}

/// A reference equals a string that is its normalized form (`docker.io/library/x:1`).
impl PartialEq<str> for Reference {
    fn eq(&self, other: &str) -> bool {
        self.normalized() == other
    }
}

impl PartialEq<&str> for Reference {
    fn eq(&self, other: &&str) -> bool {
        self.normalized() == *other
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse_normalized(s)
    }
}

impl serde::Serialize for Reference {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Reference, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_like_docker() {
        for (input, full, familiar) in [
            ("nginx", "docker.io/library/nginx", "nginx"),
            ("nginx:1.0", "docker.io/library/nginx:1.0", "nginx:1.0"),
            ("library/nginx:1.0", "docker.io/library/nginx:1.0", "nginx:1.0"),
            ("docker.io/library/nginx:1.0", "docker.io/library/nginx:1.0", "nginx:1.0"),
            ("index.docker.io/nginx", "docker.io/library/nginx", "nginx"),
            ("ocisize/tiny:latest", "docker.io/ocisize/tiny:latest", "ocisize/tiny:latest"),
            ("localhost/x", "localhost/x", "localhost/x"),
            ("localhost:5000/a/b:c", "localhost:5000/a/b:c", "localhost:5000/a/b:c"),
            ("quay.io/podman/stable:v4", "quay.io/podman/stable:v4", "quay.io/podman/stable:v4"),
            ("docker.io/library/a/b", "docker.io/library/a/b", "library/a/b"),
            ("a-b__c/d.e_f--g", "docker.io/a-b__c/d.e_f--g", "a-b__c/d.e_f--g"),
            ("[::1]:5000/x:y", "[::1]:5000/x:y", "[::1]:5000/x:y"),
        ] {
            let r = Reference::parse_normalized(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(r.normalized(), full, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
        let d = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        let r = Reference::parse_normalized(&format!("busybox@{d}")).unwrap();
        assert_eq!(r.normalized(), format!("docker.io/library/busybox@{d}"));
        assert_eq!(r.clone().with_default_tag(), r);
    }

    #[test]
    fn rejects_invalid() {
        assert_eq!(Reference::parse_normalized(""), Err(ReferenceError::Empty));
        assert!(matches!(
            Reference::parse_normalized("Nginx"),
            Err(ReferenceError::UppercaseRepository { .. })
        ));
        assert!(matches!(
            Reference::parse_normalized("a//b"),
            Err(ReferenceError::InvalidFormat { .. })
        ));
        assert!(matches!(
            Reference::parse_normalized("a:"),
            Err(ReferenceError::InvalidTag { .. })
        ));
        assert!(matches!(
            Reference::parse_normalized("a:-x"),
            Err(ReferenceError::InvalidTag { .. })
        ));
        assert!(matches!(
            Reference::parse_normalized("a@sha256:zz"),
            Err(ReferenceError::InvalidDigest { .. })
        ));
        let hex = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        assert!(matches!(Reference::parse_normalized(hex), Err(ReferenceError::HexId { .. })));
        let long = format!("x/{}", "a".repeat(300));
        assert!(matches!(
            Reference::parse_normalized(&long),
            Err(ReferenceError::NameTooLong { .. })
        ));
        assert!(matches!(
            Reference::parse_normalized(&format!("a:{}", "t".repeat(129))),
            Err(ReferenceError::InvalidTag { .. })
        ));
    }

    #[test]
    fn oci_ref_names() {
        assert_eq!(from_oci_ref_name("latest"), None);
        assert_eq!(from_oci_ref_name("v1.0"), None);
        assert_eq!(
            from_oci_ref_name("docker.io/ocisize/tiny:latest").map(|r| r.normalized()),
            Some("docker.io/ocisize/tiny:latest".into())
        );
    }

    #[test]
    fn familiar_form_is_ambiguous_where_dockers_is() {
        // Found by the `reference` fuzz target: docker's FamiliarString has the same property.
        let r = Reference::parse_normalized("docker.io/ocker.io/x").unwrap();
        assert_eq!(
            (r.normalized().as_str(), r.familiar().as_str()),
            ("docker.io/ocker.io/x", "ocker.io/x")
        );
        assert!(r.is_familiar_ambiguous());
        assert_eq!(Reference::parse_normalized(&r.familiar()).unwrap().domain, "ocker.io");
        for plain in ["nginx", "a/b", "quay.io/a.b/c", "docker.io/library/a.b"] {
            assert!(
                !Reference::parse_normalized(plain).unwrap().is_familiar_ambiguous(),
                "{plain}"
            );
        }
        assert!(Reference::parse_normalized("docker.io/localhost/x")
            .unwrap()
            .is_familiar_ambiguous());
    }

    proptest::proptest! {
        #[test]
        fn normalization_is_idempotent(
            domain in proptest::option::of("[a-z][a-z0-9]{0,8}\\.(io|com)(:[0-9]{2,5})?"),
            path in "[a-z0-9]{1,8}((__|[._-]|-+)[a-z0-9]{1,8}){0,2}(/[a-z0-9]{1,8}){0,2}",
            tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        ) {
            let mut s = String::new();
            match &domain { Some(d) => s.push_str(d), None => s.push_str("ns") }
            s.push('/');
            s.push_str(&path);
            if let Some(t) = &tag { s.push(':'); s.push_str(t); }
            if s.len() == 64 { return Ok(()); }
            let r = Reference::parse_normalized(&s).unwrap();
            let again = Reference::parse_normalized(&r.normalized()).unwrap();
            proptest::prop_assert_eq!(&again, &r);
            let fam = Reference::parse_normalized(&r.familiar()).unwrap();
            proptest::prop_assert_eq!(&fam, &r);
        }
    }
}

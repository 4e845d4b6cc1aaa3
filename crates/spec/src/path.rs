//! Paths inside archives, layouts and layers: one normalization for all of them.
//!
//! `./a//b/`, `a/b` and `/a/b` name the same file. What `..` may do differs by context, so it
//! is a parameter: an archive member or a layout file that climbs out of the root is refused
//! (docker and podman refuse such archives), while inside a layer tar `..` stops at the root,
//! as moby's `archive.Unpack` resolves entry names (`filepath.Clean` of `/` + name).

/// What `..` at the root means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtRoot {
    /// The path escapes the root: no path ([`clean`] returns `None`).
    Refuse,
    /// `..` at the root stays at the root.
    Clamp,
}

/// Normalize a relative path: drop empty and `.` components and a leading `/`, resolve `..`.
/// Returns `None` when `..` climbs out of the root and `at_root` is [`AtRoot::Refuse`].
pub fn clean(path: &str, at_root: AtRoot) -> Option<String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && at_root == AtRoot::Refuse {
                    return None;
                }
            }
            c => parts.push(c),
        }
    }
    Some(parts.join("/"))
}

/// Resolve a symbolic link's target against the directory of the link, normalized; an
/// absolute target is relative to the root.
pub fn join_link(link: &str, target: &str, at_root: AtRoot) -> Option<String> {
    if target.starts_with('/') {
        return clean(target, at_root);
    }
    let dir = link.rfind('/').map_or("", |i| &link[..i]);
    clean(&format!("{dir}/{target}"), at_root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_both_ways() {
        assert_eq!(
            clean("./blobs//sha256/ab/", AtRoot::Refuse).as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(clean("a/../b", AtRoot::Refuse).as_deref(), Some("b"));
        assert_eq!(clean("../x", AtRoot::Refuse), None);
        assert_eq!(clean("../x", AtRoot::Clamp).as_deref(), Some("x"));
        assert_eq!(
            join_link("id/layer.tar", "../abc.tar", AtRoot::Refuse).as_deref(),
            Some("abc.tar")
        );
        assert_eq!(join_link("id/layer.tar", "../../abc.tar", AtRoot::Refuse), None);
        assert_eq!(join_link("a/l", "/b", AtRoot::Refuse).as_deref(), Some("b"));
    }
}

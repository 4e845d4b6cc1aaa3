//! containerd 1.6's default platform matcher (`platforms.Default()`, `platforms.Only`):
//! which manifest of an index `images.Size` walks.
//!
//! `Only(host)` matches, in order of preference, the host platform and the ones it can run
//! (`platformVector` in `platforms/compare.go`: amd64 runs 386; arm64 runs arm v8 to v5;
//! arm vN runs v(N-1) down to v5), each compared after `Normalize` (`platforms/database.go`)
//! on OS, architecture and variant.

use ocisize_spec::Platform;

/// A normalized (os, architecture, variant).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Norm {
    os: String,
    arch: String,
    variant: String,
}

/// containerd's `Normalize`.
pub(crate) fn normalize(os: &str, arch: &str, variant: &str) -> Norm {
    let os = match os.to_ascii_lowercase().as_str() {
        "macos" => "darwin".to_owned(),
        o => o.to_owned(),
    };
    let (arch, variant) = match (arch.to_ascii_lowercase().as_str(), variant) {
        ("i386", v) => ("386".to_owned(), v.to_owned()),
        ("x86_64" | "x86-64" | "amd64", "v1") => ("amd64".to_owned(), String::new()),
        ("x86_64" | "x86-64" | "amd64", v) => ("amd64".to_owned(), v.to_owned()),
        ("aarch64" | "arm64", "8" | "v8") => ("arm64".to_owned(), String::new()),
        ("aarch64" | "arm64", v) => ("arm64".to_owned(), v.to_owned()),
        ("armhf", _) => ("arm".to_owned(), "v7".to_owned()),
        ("armel", _) => ("arm".to_owned(), "v6".to_owned()),
        ("arm", "" | "7") => ("arm".to_owned(), "v7".to_owned()),
        ("arm", v @ ("5" | "6" | "8")) => ("arm".to_owned(), format!("v{v}")),
        (a, v) => (a.to_owned(), v.to_owned()),
    };
    Norm { os, arch, variant }
}

/// The platforms `Only(host)` accepts, best first.
pub(crate) fn host_vector() -> Vec<Norm> {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    };
    vector(normalize(std::env::consts::OS, arch, ""))
}

fn vector(p: Norm) -> Vec<Norm> {
    let mut out = vec![p.clone()];
    match p.arch.as_str() {
        "amd64" => out.push(Norm { arch: "386".into(), variant: p.variant.clone(), ..p }),
        "arm64" => out.extend(vector(Norm { arch: "arm".into(), variant: "v8".into(), ..p })),
        "arm" => {
            if let Ok(n) = p.variant.trim_start_matches('v').parse::<u32>() {
                for v in (5..n).rev() {
                    out.push(Norm { variant: format!("v{v}"), ..p.clone() });
                }
            }
        }
        _ => {}
    }
    out
}

/// Where `p` ranks among `vector` (`None`: not matched).
pub(crate) fn rank(vector: &[Norm], p: &Platform) -> Option<usize> {
    let n = normalize(&p.os, &p.architecture, p.variant.as_deref().unwrap_or(""));
    vector.iter().position(|m| *m == n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(os: &str, arch: &str, variant: Option<&str>) -> Platform {
        Platform {
            os: os.into(),
            architecture: arch.into(),
            variant: variant.map(str::to_owned),
            os_version: None,
        }
    }

    #[test]
    fn amd64_prefers_itself_then_386() {
        let v = vector(normalize("linux", "amd64", ""));
        assert_eq!(rank(&v, &p("linux", "amd64", None)), Some(0));
        assert_eq!(rank(&v, &p("Linux", "x86_64", Some("v1"))), Some(0));
        assert_eq!(rank(&v, &p("linux", "386", None)), Some(1));
        assert_eq!(rank(&v, &p("linux", "arm64", None)), None);
        assert_eq!(rank(&v, &p("unknown", "unknown", None)), None);
        assert_eq!(rank(&v, &p("windows", "amd64", None)), None);
    }

    #[test]
    fn arm64_runs_arm_v8_down_to_v5() {
        let v = vector(normalize("linux", "aarch64", "v8"));
        assert_eq!(rank(&v, &p("linux", "arm64", None)), Some(0));
        assert_eq!(rank(&v, &p("linux", "arm", Some("v8"))), Some(1));
        assert_eq!(rank(&v, &p("linux", "arm", None)), Some(2), "arm alone is v7");
        assert_eq!(rank(&v, &p("linux", "arm", Some("v5"))), Some(4));
    }
}

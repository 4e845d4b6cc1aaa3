//! The `oci-spec` feature against every JSON document of the real-tool corpus: each is parsed
//! by ocisize, converted to oci-spec and back (the value must come back unchanged), and
//! parsed by oci-spec from the same bytes (where oci-spec accepts it, its value converted to
//! ocisize must equal ocisize's own parse, and digests, sizes, media types, platforms,
//! annotations and diffIDs are compared field by field). Which documents oci-spec rejects,
//! and why, is pinned in `EXPECTED_REJECTIONS` (none, for this corpus).
#![cfg(feature = "oci-spec")]
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image as oci;
use ocisize_spec::{
    parse_docker_manifest, parse_json, parse_manifest_document, Descriptor, DocumentKind,
    ImageConfig, ImageIndex, ImageManifest, JsonLimits, ManifestDocument, Platform,
};

/// One JSON document: `<source>:<path inside it>`, with 64-hex names shortened to 12.
struct Doc {
    name: String,
    path: String,
    bytes: Vec<u8>,
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

fn short(s: &str) -> String {
    let mut out = String::new();
    let mut run = String::new();
    for c in s.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() && c.is_ascii_lowercase() || c.is_ascii_digit() {
            run.push(c);
            continue;
        }
        if run.len() == 64 {
            run.truncate(12);
        }
        out.push_str(&run);
        run.clear();
        out.push(c);
    }
    out.pop();
    out
}

fn looks_like_json(bytes: &[u8]) -> bool {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    matches!(first, Some(b'{' | b'[')) && serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
}

fn files_under(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            files_under(&e.path(), base, out);
        } else if t.is_file() && e.metadata().unwrap().len() <= 4 << 20 {
            let rel = e.path().strip_prefix(base).unwrap().to_string_lossy().into_owned();
            out.push((rel, std::fs::read(e.path()).unwrap()));
        }
    }
}

fn archive_members(file: &Path) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(std::fs::File::open(file).unwrap());
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type() != tar::EntryType::Regular || e.size() > 4 << 20 {
            continue;
        }
        let name = e.path().unwrap().to_string_lossy().trim_start_matches("./").to_owned();
        let mut bytes = Vec::new();
        e.read_to_end(&mut bytes).unwrap();
        out.push((name, bytes));
    }
    out
}

/// Every image source of testdata/corpus and testdata/edge with its JSON documents.
fn sources() -> Vec<(String, Vec<Doc>)> {
    let mut out = Vec::new();
    for set in ["corpus", "edge"] {
        let dir = testdata().join(set);
        let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = format!("{set}/{}", e.file_name().to_string_lossy());
            let files = if e.file_type().unwrap().is_dir() {
                let mut v = Vec::new();
                files_under(&e.path(), &e.path(), &mut v);
                v
            } else if name.ends_with(".tar") {
                archive_members(&e.path())
            } else {
                continue;
            };
            let docs = files
                .into_iter()
                .filter(|(_, b)| looks_like_json(b))
                .map(|(path, bytes)| Doc { name: short(&format!("{name}:{path}")), path, bytes })
                .collect();
            out.push((name, docs));
        }
    }
    out
}

/// What a document is, decided as ocisize decides it.
enum Kind {
    Manifest(Box<ImageManifest>),
    Index(Box<ImageIndex>),
    Config(ImageConfig),
    /// `oci-layout`, compared with oci-spec's `OciLayout` directly.
    Layout,
    /// A document oci-spec has no type for (docker-archive `manifest.json`, `repositories`,
    /// a legacy `<v1 id>/json`).
    NoCounterpart(&'static str),
}

fn base_hex(path: &str) -> String {
    let base = path.rsplit('/').next().unwrap_or(path);
    base.trim_start_matches("sha256:").trim_end_matches(".json").to_owned()
}

fn classify(docs: &[Doc]) -> Vec<Kind> {
    let limits = JsonLimits::default();
    let mut configs = BTreeSet::new();
    let mut kinds: Vec<Option<Kind>> = Vec::new();
    for d in docs {
        let kind = if d.path == "oci-layout" {
            Some(Kind::Layout)
        } else if d.path == "repositories" {
            Some(Kind::NoCounterpart("legacy docker-archive repositories"))
        } else if d.path.ends_with("/json") {
            Some(Kind::NoCounterpart("legacy docker-archive <v1 id>/json"))
        } else if d.path == "manifest.json" && d.bytes.trim_ascii_start().starts_with(b"[") {
            for e in parse_docker_manifest(&d.bytes, &limits).unwrap() {
                configs.insert(base_hex(&e.config));
            }
            Some(Kind::NoCounterpart("docker-archive manifest.json"))
        } else {
            match parse_manifest_document(&d.bytes) {
                Ok(ManifestDocument::Image(m)) => {
                    configs.insert(m.config.digest.hex());
                    Some(Kind::Manifest(m))
                }
                Ok(ManifestDocument::Index(i)) => Some(Kind::Index(i)),
                Err(_) => None,
            }
        };
        kinds.push(kind);
    }
    docs.iter()
        .zip(kinds)
        .map(|(d, k)| {
            k.unwrap_or_else(|| {
                assert!(configs.contains(&base_hex(&d.path)), "{}: unclassified JSON", d.name);
                Kind::Config(parse_json(&d.bytes, DocumentKind::Config, &limits).unwrap())
            })
        })
        .collect()
}

fn map(m: &Option<HashMap<String, String>>) -> BTreeMap<String, String> {
    m.iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn same_platform(name: &str, ours: &Platform, theirs: &oci::Platform) {
    assert_eq!(ours.architecture, theirs.architecture().to_string(), "{name} architecture");
    assert_eq!(ours.os, theirs.os().to_string(), "{name} os");
    assert_eq!(&ours.variant, theirs.variant(), "{name} variant");
    assert_eq!(&ours.os_version, theirs.os_version(), "{name} os.version");
}

fn same_descriptor(name: &str, ours: &Descriptor, theirs: &oci::Descriptor) {
    assert_eq!(ours.digest.to_string(), theirs.digest().to_string(), "{name} digest");
    assert_eq!(ours.size, theirs.size(), "{name} size");
    assert_eq!(
        ours.media_type.as_ref().map(|m| m.to_string()),
        Some(theirs.media_type().to_string()),
        "{name} mediaType"
    );
    assert_eq!(ours.annotations, map(theirs.annotations()), "{name} annotations");
    assert_eq!(ours.urls, theirs.urls().clone().unwrap_or_default(), "{name} urls");
    match (&ours.platform, theirs.platform()) {
        (Some(p), Some(q)) => same_platform(name, p, q),
        (None, None) => {}
        _ => panic!("{name}: platform present on one side only"),
    }
}

fn same_descriptors(name: &str, ours: &[Descriptor], theirs: &[oci::Descriptor]) {
    assert_eq!(ours.len(), theirs.len(), "{name} count");
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        same_descriptor(&format!("{name}[{i}]"), a, b);
    }
}

/// `<document>: <reason>` for each document oci-spec's parser rejects. None, with oci-spec
/// 0.10: every corpus document has the fields oci-spec requires, and oci-spec takes Docker's
/// media types as `MediaType::Other`. Where it is stricter is shown in `oci_spec_strict.rs`.
const EXPECTED_REJECTIONS: &[&str] = &[];

/// `<document>: <reason>` for each ocisize value that does not convert to oci-spec (none).
const EXPECTED_CONVERSION_ERRORS: &[&str] = &[];

/// How many documents of each kind the corpus and edge sets hold (JSON files of the layout
/// and `dir:` directories, JSON members of the archives).
const EXPECTED_COUNTS: &[&str] = &[
    "config: 40",
    "docker-archive manifest.json: 9",
    "index: 22",
    "legacy docker-archive <v1 id>/json: 17",
    "legacy docker-archive repositories: 5",
    "manifest: 35",
    "oci-layout: 18",
];

#[test]
fn every_corpus_document_converts_and_agrees_with_oci_spec() {
    let mut rejected = Vec::new();
    let mut not_converted = Vec::new();
    let mut counted: BTreeMap<&str, usize> = BTreeMap::new();
    for (source, docs) in sources() {
        assert!(!docs.is_empty(), "{source}: no JSON document found");
        for (d, kind) in docs.iter().zip(classify(&docs)) {
            let n = &d.name;
            let reject = |e: &dyn std::fmt::Display| format!("{n}: {e}");
            match kind {
                Kind::Manifest(m) => {
                    *counted.entry("manifest").or_default() += 1;
                    match oci::ImageManifest::try_from(&*m) {
                        Ok(o) => assert_eq!(ImageManifest::try_from(&o).unwrap(), *m, "{n}"),
                        Err(e) => not_converted.push(reject(&e)),
                    }
                    match serde_json::from_slice::<oci::ImageManifest>(&d.bytes) {
                        Ok(o) => {
                            assert_eq!(ImageManifest::try_from(&o).unwrap(), *m, "{n}");
                            same_descriptor(&format!("{n} config"), &m.config, o.config());
                            same_descriptors(&format!("{n} layers"), &m.layers, o.layers());
                            assert_eq!(m.annotations, map(o.annotations()), "{n}");
                        }
                        Err(e) => rejected.push(reject(&e)),
                    }
                }
                Kind::Index(i) => {
                    let i = *i;
                    *counted.entry("index").or_default() += 1;
                    match oci::ImageIndex::try_from(&i) {
                        Ok(o) => assert_eq!(ImageIndex::try_from(&o).unwrap(), i, "{n}"),
                        Err(e) => not_converted.push(reject(&e)),
                    }
                    match serde_json::from_slice::<oci::ImageIndex>(&d.bytes) {
                        Ok(o) => {
                            assert_eq!(ImageIndex::try_from(&o).unwrap(), i, "{n}");
                            same_descriptors(
                                &format!("{n} manifests"),
                                &i.manifests,
                                o.manifests(),
                            );
                            assert_eq!(i.annotations, map(o.annotations()), "{n}");
                        }
                        Err(e) => rejected.push(reject(&e)),
                    }
                }
                Kind::Config(c) => {
                    *counted.entry("config").or_default() += 1;
                    match oci::ImageConfiguration::try_from(&c) {
                        Ok(o) => assert_eq!(ImageConfig::try_from(&o).unwrap(), c, "{n}"),
                        Err(e) => not_converted.push(reject(&e)),
                    }
                    match serde_json::from_slice::<oci::ImageConfiguration>(&d.bytes) {
                        Ok(o) => {
                            assert_eq!(ImageConfig::try_from(&o).unwrap(), c, "{n}");
                            let ids: Vec<String> =
                                c.rootfs.diff_ids.iter().map(ToString::to_string).collect();
                            assert_eq!(&ids, o.rootfs().diff_ids(), "{n} diffIDs");
                            assert_eq!(c.architecture, o.architecture().to_string(), "{n}");
                            assert_eq!(c.os, o.os().to_string(), "{n}");
                        }
                        Err(e) => rejected.push(reject(&e)),
                    }
                }
                Kind::Layout => {
                    *counted.entry("oci-layout").or_default() += 1;
                    let o: oci::OciLayout = serde_json::from_slice(&d.bytes).unwrap();
                    let ours: ocisize_spec::OciLayout =
                        parse_json(&d.bytes, DocumentKind::OciLayout, &JsonLimits::default())
                            .unwrap();
                    assert_eq!(&ours.image_layout_version, o.image_layout_version(), "{n}");
                }
                Kind::NoCounterpart(what) => *counted.entry(what).or_default() += 1,
            }
        }
    }
    assert_eq!(rejected, EXPECTED_REJECTIONS, "documents oci-spec rejects");
    assert_eq!(not_converted, EXPECTED_CONVERSION_ERRORS, "values that do not convert");
    let counted: Vec<String> = counted.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    assert_eq!(counted, EXPECTED_COUNTS, "documents of each kind");
}

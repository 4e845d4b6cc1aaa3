//! Where oci-spec 0.10 and ocisize disagree about what a document may be, shown on real corpus
//! documents with one change each; and, with proptest, that every ocisize value that
//! converts to oci-spec comes back unchanged.
#![cfg(feature = "oci-spec")]
#![allow(clippy::unwrap_used)]

use std::path::Path;

use oci_spec::image as oci;
use ocisize_digest::{Algorithm, Digest};
use ocisize_spec::interop::ConvertError;
use ocisize_spec::{
    parse_json, parse_manifest_document, Descriptor, DocumentKind, ImageConfig, ImageIndex,
    ImageManifest, JsonLimits, ManifestDocument, Platform, RootFs,
};
use serde_json::{json, Value};

fn corpus_json(path: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/corpus").join(path);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

/// podman's Docker manifest list (two platforms).
fn docker_list() -> Value {
    corpus_json("multi.podman.dir-v2s2list/manifest.json")
}

/// skopeo's Docker schema 2 manifest and its config.
fn docker_manifest() -> Value {
    corpus_json("tiny.skopeo.dir-v2s2/manifest.json")
}

fn docker_config() -> Value {
    corpus_json(
        "tiny.skopeo.dir-v2s2/60df9f5c591b293a99389c86b1bbf1295f18634847967b20dd54b32eab43c61c",
    )
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn index(v: &Value) -> ImageIndex {
    match parse_manifest_document(&bytes(v)).unwrap() {
        ManifestDocument::Index(i) => *i,
        ManifestDocument::Image(_) => panic!("not an index"),
    }
}

fn manifest(v: &Value) -> ImageManifest {
    match parse_manifest_document(&bytes(v)).unwrap() {
        ManifestDocument::Image(m) => *m,
        ManifestDocument::Index(_) => panic!("not a manifest"),
    }
}

fn config(v: &Value) -> ImageConfig {
    parse_json(&bytes(v), DocumentKind::Config, &JsonLimits::default()).unwrap()
}

fn oci_error<T: serde::de::DeserializeOwned + std::fmt::Debug>(v: &Value) -> String {
    serde_json::from_slice::<T>(&bytes(v)).unwrap_err().to_string()
}

#[test]
fn unchanged_documents_parse_in_both() {
    serde_json::from_slice::<oci::ImageIndex>(&bytes(&docker_list())).unwrap();
    serde_json::from_slice::<oci::ImageManifest>(&bytes(&docker_manifest())).unwrap();
    serde_json::from_slice::<oci::ImageConfiguration>(&bytes(&docker_config())).unwrap();
    // Docker's media types are not refused, only not known: `MediaType::Other`.
    let m: oci::ImageManifest = serde_json::from_slice(&bytes(&docker_manifest())).unwrap();
    let docker = "application/vnd.docker.container.image.v1+json";
    assert_eq!(m.config().media_type(), &oci::MediaType::Other(docker.into()));
}

#[test]
fn a_descriptor_without_media_type() {
    let mut v = docker_list();
    v["manifests"][1].as_object_mut().unwrap().remove("mediaType");
    let ours = index(&v);
    assert_eq!(ours.manifests[1].media_type, None);
    assert!(oci_error::<oci::ImageIndex>(&v).contains("missing field `mediaType`"));
    let e = oci::ImageIndex::try_from(&ours).unwrap_err();
    assert!(matches!(&e, ConvertError::Missing { field } if field == "manifests[1].mediaType"));
    assert_eq!(e.to_string(), "manifests[1].mediaType is empty, and oci-spec requires it");
}

#[test]
fn a_platform_without_os_or_architecture() {
    for (field, path) in
        [("os", "manifests[0].platform.os"), ("architecture", "manifests[0].platform.architecture")]
    {
        let mut v = docker_list();
        v["manifests"][0]["platform"].as_object_mut().unwrap().remove(field);
        let ours = index(&v);
        assert!(oci_error::<oci::ImageIndex>(&v).contains(&format!("missing field `{field}`")));
        let e = oci::ImageIndex::try_from(&ours).unwrap_err();
        assert!(matches!(&e, ConvertError::Missing { field } if field == path), "{e}");
    }
}

#[test]
fn an_index_without_manifests_or_a_manifest_without_layers() {
    let mut v = docker_list();
    v.as_object_mut().unwrap().remove("manifests");
    assert!(oci_error::<oci::ImageIndex>(&v).contains("missing field `manifests`"));
    // ocisize reads it as an empty list, which converts: absent and empty are one value here.
    let i = index(&json!({"schemaVersion": 2, "manifests": []}));
    assert_eq!(index(&v).manifests, i.manifests);
    assert!(oci::ImageIndex::try_from(&index(&v)).unwrap().manifests().is_empty());

    let mut v = docker_manifest();
    v.as_object_mut().unwrap().remove("layers");
    assert!(oci_error::<oci::ImageManifest>(&v).contains("missing field `layers`"));
    assert!(oci::ImageManifest::try_from(&manifest(&v)).unwrap().layers().is_empty());
}

#[test]
fn a_config_without_architecture_os_or_rootfs() {
    for (remove, field) in
        [("architecture", "architecture"), ("os", "os"), ("rootfs", "rootfs.type")]
    {
        let mut v = docker_config();
        v.as_object_mut().unwrap().remove(remove);
        let ours = config(&v);
        assert!(
            oci_error::<oci::ImageConfiguration>(&v).contains(&format!("missing field `{remove}`"))
        );
        let e = oci::ImageConfiguration::try_from(&ours).unwrap_err();
        assert!(matches!(&e, ConvertError::Missing { field: f } if f == field), "{e}");
    }
}

/// moby's `strslice.StrSlice` (api/types/strslice) takes `"Cmd": "/bin/sh"` as a one-element
/// list, so docker reads such a config; oci-spec wants a list. ocisize does not read `config`.
#[test]
fn a_config_with_cmd_as_a_string() {
    let mut v = docker_config();
    v["config"]["Cmd"] = json!("/bin/sh");
    assert_eq!(config(&v), config(&docker_config()));
    assert!(oci_error::<oci::ImageConfiguration>(&v).contains("invalid type: string"));
}

/// The other way: oci-spec registers sha384 and takes any well-formed algorithm, and keeps
/// diffIDs as unchecked strings; ocisize verifies only sha256 and sha512.
#[test]
fn digests_oci_spec_takes_and_ocisize_does_not() {
    let sha384 = format!("sha384:{}", "ab".repeat(48));
    let mut v = docker_manifest();
    v["config"]["digest"] = json!(sha384);
    assert!(parse_manifest_document(&bytes(&v)).unwrap_err().to_string().contains("sha384"));
    let o: oci::ImageManifest = serde_json::from_slice(&bytes(&v)).unwrap();
    let e = ImageManifest::try_from(&o).unwrap_err();
    assert!(matches!(&e, ConvertError::Digest { field, .. } if field == "config.digest"), "{e}");
    assert!(e.to_string().starts_with(&format!("config.digest: digest \"{sha384}\" is not")));

    let mut v = docker_config();
    v["rootfs"]["diff_ids"][2] = json!("not-a-digest");
    let o: oci::ImageConfiguration = serde_json::from_slice(&bytes(&v)).unwrap();
    let e = ImageConfig::try_from(&o).unwrap_err();
    assert!(matches!(&e, ConvertError::Digest { field, .. } if field == "rootfs.diff_ids[2]"));
}

/// `"annotations": null` is read by oci-spec (an `Option`) and by ocisize (an empty map), as Go reads it.
#[test]
fn null_annotations() {
    let mut v = docker_manifest();
    v["annotations"] = Value::Null;
    serde_json::from_slice::<oci::ImageManifest>(&bytes(&v)).unwrap();
    // As Go reads it (docker, containerd, containers/image): no annotations.
    match parse_manifest_document(&bytes(&v)).unwrap() {
        ManifestDocument::Image(m) => assert!(m.annotations.is_empty()),
        other => panic!("{other:?}"),
    }
    let mut ix = docker_list();
    ix["annotations"] = Value::Null;
    ix["manifests"][0]["annotations"] = Value::Null;
    let ours = index(&ix);
    assert!(ours.annotations.is_empty() && ours.manifests[0].annotations.is_empty());
}

/// oci-spec 0.10 reads the GOARCH `armbe` as `Arch::ARM64be`, which it prints `arm64be`;
/// the conversion keeps the string as written.
#[test]
fn architecture_strings_are_kept_verbatim() {
    let mut v = docker_list();
    v["manifests"][0]["platform"]["architecture"] = json!("armbe");
    let theirs: oci::ImageIndex = serde_json::from_slice(&bytes(&v)).unwrap();
    let arch = |i: &oci::ImageIndex| {
        i.manifests()[0].platform().as_ref().unwrap().architecture().to_string()
    };
    assert_eq!(arch(&theirs), "arm64be");
    let ours = index(&v);
    let converted = oci::ImageIndex::try_from(&ours).unwrap();
    assert_eq!(arch(&converted), "armbe");
    assert_eq!(ImageIndex::try_from(&converted).unwrap(), ours);
}

#[test]
fn schema_version_beyond_u32() {
    let mut m = manifest(&docker_manifest());
    m.schema_version = 1 << 32;
    let e = oci::ImageManifest::try_from(&m).unwrap_err();
    assert_eq!(e.to_string(), "schemaVersion is 4294967296, larger than oci-spec's u32 allows");
}

/// Digests are taken over the bytes as read: serializing the converted value gives other
/// bytes, and another digest, than the document the runtimes hashed.
#[test]
fn reserialized_json_has_another_digest() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/corpus/tiny.skopeo.dir-v2s2/manifest.json");
    let original = std::fs::read(path).unwrap();
    let ours = manifest(&serde_json::from_slice(&original).unwrap());
    let reserialized = serde_json::to_vec(&oci::ImageManifest::try_from(&ours).unwrap()).unwrap();
    assert_ne!(reserialized, original);
    assert_ne!(
        Digest::of(Algorithm::Sha256, &reserialized),
        Digest::of(Algorithm::Sha256, &original)
    );
    // The meaning is the same.
    assert_eq!(manifest(&serde_json::from_slice(&reserialized).unwrap()), ours);
}

mod strategies;

mod round_trip {
    use super::strategies::{digest, history};
    use super::*;
    use proptest::collection::{btree_map, vec};
    use proptest::prelude::*;

    /// Known names (OCI, Docker, GOARCH/GOOS incl. `armbe`) and arbitrary non-empty text.
    fn name(known: &'static [&'static str]) -> impl Strategy<Value = String> {
        prop_oneof![proptest::sample::select(known).prop_map(String::from), ".{1,24}"]
    }

    const MEDIA_TYPES: &[&str] = &[
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "application/vnd.oci.image.config.v1+json",
        "application/vnd.oci.empty.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ];
    const ARCHES: &[&str] = &["amd64", "arm64", "arm", "armbe", "386", "ppc64le", "s390x", "wasm"];
    const OSES: &[&str] = &["linux", "windows", "darwin", "zos", "ios", "dragonfly"];

    fn platform() -> impl Strategy<Value = Platform> {
        (name(ARCHES), name(OSES), proptest::option::of(".{0,8}"), proptest::option::of(".{0,8}"))
            .prop_map(|(architecture, os, variant, os_version)| Platform {
                architecture,
                os,
                variant,
                os_version,
            })
    }

    fn descriptor() -> impl Strategy<Value = Descriptor> {
        (
            name(MEDIA_TYPES),
            digest(),
            any::<u64>(),
            vec(".{0,12}", 0..3),
            btree_map(".{0,12}", ".{0,12}", 0..3),
            proptest::option::of(platform()),
            proptest::option::of(name(MEDIA_TYPES)),
        )
            .prop_map(
                |(media_type, digest, size, urls, annotations, platform, artifact_type)| {
                    Descriptor {
                        media_type: Some(ocisize_spec::MediaType::from(media_type.as_str())),
                        digest,
                        size,
                        urls,
                        annotations,
                        platform,
                        artifact_type: artifact_type
                            .map(|a| ocisize_spec::MediaType::from(a.as_str())),
                    }
                },
            )
    }

    proptest! {
        #[test]
        fn descriptor_and_platform(d in descriptor(), p in platform()) {
            let o = oci::Descriptor::try_from(&d).unwrap();
            prop_assert_eq!(Descriptor::try_from(&o).unwrap(), d);
            prop_assert_eq!(Platform::from(&oci::Platform::try_from(&p).unwrap()), p);
        }

        #[test]
        fn index_and_manifest(
            v in any::<u32>(),
            mt in proptest::option::of(name(MEDIA_TYPES)),
            ds in vec(descriptor(), 0..4),
            config in descriptor(),
            annotations in btree_map(".{0,12}", ".{0,12}", 0..3),
        ) {
            let mt = mt.map(|m| ocisize_spec::MediaType::from(m.as_str()));
            let i = ImageIndex {
                schema_version: u64::from(v),
                media_type: mt.clone(),
                artifact_type: None,
                manifests: ds.clone(),
                subject: None,
                annotations: annotations.clone(),
            };
            let o = oci::ImageIndex::try_from(&i).unwrap();
            prop_assert_eq!(ImageIndex::try_from(&o).unwrap(), i);
            let m = ImageManifest {
                schema_version: u64::from(v),
                media_type: mt,
                artifact_type: None,
                config,
                layers: ds,
                subject: None,
                annotations,
            };
            let o = oci::ImageManifest::try_from(&m).unwrap();
            prop_assert_eq!(ImageManifest::try_from(&o).unwrap(), m);
        }

        #[test]
        fn config(
            p in platform(),
            created in proptest::option::of(".{0,12}"),
            kind in ".{1,8}",
            diff_ids in vec(digest(), 0..4),
            history in vec(history(), 0..4),
        ) {
            let c = ImageConfig {
                architecture: p.architecture,
                os: p.os,
                variant: p.variant,
                created,
                rootfs: RootFs { kind, diff_ids },
                history,
            };
            let o = oci::ImageConfiguration::try_from(&c).unwrap();
            prop_assert_eq!(ImageConfig::try_from(&o).unwrap(), c);
        }
    }
}

/// Go's `encoding/json` reads `null` as absent, so docker, containerd and containers/image
/// read these configs, and ocisize does; oci-spec refuses some of them.
#[test]
fn config_nulls() {
    for (path, oci_accepts) in [
        (&["history"][..], true),
        (&["config", "Env"], true),
        (&["rootfs", "diff_ids"], false),
        (&["rootfs"], false),
        (&["architecture"], false),
    ] {
        let mut v = docker_config();
        let (last, parent) = path.split_last().unwrap();
        let mut at = &mut v;
        for p in parent {
            at = &mut at[*p];
        }
        at[*last] = Value::Null;
        let ours = config(&v);
        let theirs = serde_json::from_slice::<oci::ImageConfiguration>(&bytes(&v));
        assert_eq!(theirs.is_ok(), oci_accepts, "{path:?}");
        let mut absent = docker_config();
        let mut at = &mut absent;
        for p in parent {
            at = &mut at[*p];
        }
        at.as_object_mut().unwrap().remove(*last);
        assert_eq!(ours, config(&absent), "{path:?}");
    }
}

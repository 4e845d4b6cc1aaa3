//! Unit tests of the document types and parsers.

use super::*;

#[test]
fn detects_schema1() {
    let s1 = br#"{"schemaVersion":1,"name":"x","tag":"y","fsLayers":[]}"#;
    assert!(matches!(parse_manifest_document(s1), Err(SpecError::Schema1)));
}

#[test]
fn index_without_media_type() {
    let idx = br#"{"schemaVersion":2,"manifests":[]}"#;
    assert!(matches!(parse_manifest_document(idx), Ok(ManifestDocument::Index(_))));
}

#[test]
fn rejects_negative_size_and_bad_digest() {
    let neg = br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","size":-1},"layers":[]}"#;
    let e = parse_manifest_document(neg).unwrap_err();
    assert!(e.to_string().contains("invalid value: integer `-1`"), "{e}");
    let bad =
        br#"{"schemaVersion":2,"config":{"mediaType":"x","digest":"md5:00","size":1},"layers":[]}"#;
    let e = parse_manifest_document(bad).unwrap_err();
    assert!(e.to_string().contains("unsupported digest algorithm"), "{e}");
}

#[test]
fn enforces_size_limit() {
    let limits = JsonLimits { manifest: 10, ..JsonLimits::default() };
    let e = parse_manifest_document_with(br#"{"schemaVersion":2,"manifests":[]}"#, &limits)
        .unwrap_err();
    assert_eq!(e.to_string(), "image manifest is 34 bytes, over the limit of 10 bytes");
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    for close in [false, true] {
        let mut s = String::from(r#"{"schemaVersion":2,"annotations":"#);
        s.push_str(&"[".repeat(100_000));
        if close {
            s.push_str(&"]".repeat(100_000));
            s.push('}');
        }
        let e = parse_manifest_document(s.as_bytes()).unwrap_err();
        assert!(matches!(e, SpecError::Json { .. } | SpecError::NotAManifest { .. }), "{e}");
    }
}

#[test]
fn platform_display() {
    let p = Platform {
        architecture: "arm64".into(),
        os: "linux".into(),
        variant: Some("v8".into()),
        os_version: None,
    };
    assert_eq!(p.to_string(), "linux/arm64/v8");
}

#[test]
fn docker_manifest_json() {
    let b = br#"[{"Config":"a.json","RepoTags":null,"Layers":["x/layer.tar"]}]"#;
    let v = parse_docker_manifest(b, &JsonLimits::default()).unwrap();
    assert_eq!(v[0].layers, vec!["x/layer.tar".to_string()]);
    assert_eq!(v[0].repo_tags, None);
}

/// As Go reads moby's tagless `manifestItem`: keys in any case, the last of two equal keys,
/// unknown keys ignored, `null` layers none; `Config` required.
#[test]
fn docker_manifest_json_keys_as_go_reads_them() {
    let limits = JsonLimits::default();
    let b = br#"[{"config":"a.json","repotags":["x:1"],"LAYERS":["l.tar"],"Extra":{"k":[1]},
                  "Layers":["m.tar"]}]"#;
    let v = parse_docker_manifest(b, &limits).unwrap();
    assert_eq!(v[0].config, "a.json");
    assert_eq!(v[0].repo_tags, Some(vec!["x:1".to_string()]));
    assert_eq!(v[0].layers, vec!["m.tar".to_string()], "the last Layers wins");
    let v = parse_docker_manifest(br#"[{"Config":"a.json","Layers":null}]"#, &limits).unwrap();
    assert!(v[0].layers.is_empty() && v[0].repo_tags.is_none());
    for bad in [
        &br#"[{"Layers":[]}]"#[..],
        br#"[{"Config":null}]"#,
        br#"[{"Config":1}]"#,
        br#"[["a.json"]]"#,
        br#"[{"Config":"a","Layers":"l.tar"}]"#,
    ] {
        let e = parse_docker_manifest(bad, &limits).unwrap_err();
        assert!(matches!(e, SpecError::Json { .. }), "{}", String::from_utf8_lossy(bad));
    }
    let e = parse_docker_manifest(br#"[{"Layers":[]}]"#, &limits).unwrap_err();
    assert!(e.to_string().contains("missing field `Config`"), "{e}");
    // What serializes is what reads back.
    let entry = &parse_docker_manifest(b, &limits).unwrap()[0];
    let again = serde_json::to_vec(&[entry]).unwrap();
    assert_eq!(&parse_docker_manifest(&again, &limits).unwrap()[0], entry);
}

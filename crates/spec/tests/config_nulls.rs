//! `null` in an image config reads as the field absent, as Go's `encoding/json` (so docker,
//! containerd and containers/image) reads it; what was refused for a reason stays refused.
#![allow(clippy::unwrap_used, missing_docs)]

mod strategies;

use ocisize_spec::{parse_json, DocumentKind, History, ImageConfig, JsonLimits, RootFs, SpecError};
use proptest::collection::vec;
use proptest::prelude::*;
use serde_json::Value;
use strategies::{digest, history};

fn config(json: &str) -> Result<ImageConfig, SpecError> {
    parse_json(json.as_bytes(), DocumentKind::Config, &JsonLimits::default())
}

const D1: &str = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

/// docker and containerd write `null` for empty lists and maps (moby's `"history": null`,
/// `"Env": null`); Go's `encoding/json` reads `null` as absent, and so does ocisize.
#[test]
fn config_nulls_read_as_absent() {
    let docker = r#"{"architecture":"amd64","os":"linux","variant":null,"created":null,
        "author":null,"container_config":null,
        "config":{"Env":null,"Cmd":null,"Entrypoint":null,"Labels":null,"Volumes":null,
            "OnBuild":null,"Healthcheck":null,"ExposedPorts":null},
        "rootfs":{"type":"layers","diff_ids":null},"history":null}"#;
    let c = config(docker).unwrap();
    let expected = ImageConfig {
        architecture: "amd64".into(),
        os: "linux".into(),
        rootfs: RootFs { kind: "layers".into(), diff_ids: Vec::new() },
        ..ImageConfig::default()
    };
    assert_eq!(c, expected);

    let all_null = r#"{"architecture":null,"os":null,"variant":null,"created":null,
        "rootfs":null,"history":null,"config":null}"#;
    assert_eq!(config(all_null).unwrap(), ImageConfig::default());
    assert_eq!(
        config(r#"{"rootfs":{"type":null,"diff_ids":null}}"#).unwrap().rootfs,
        RootFs::default()
    );

    // A `null` history entry is Go's zero value: one empty entry, which podman's
    // parent/child rule counts.
    let h = format!(
        r#"{{"rootfs":{{"type":"layers","diff_ids":["{D1}"]}},
        "history":[null,{{"created_by":"RUN x","author":null,"comment":null,"created":null,
        "empty_layer":null}}]}}"#
    );
    let c = config(&h).unwrap();
    let run = History { created_by: Some("RUN x".into()), ..History::default() };
    assert_eq!(c.history, vec![History::default(), run]);
    assert_eq!(c.rootfs.diff_ids.len(), 1);
}

/// What was refused for a reason stays refused: a diffID that is not a verifiable digest
/// (a `null` one too: Go would read `""`, which no runtime can match a layer against), a
/// value of the wrong JSON type, a document that is `null`, a string, a number or an array
/// (serde's derive would read a struct from an array of its fields, `[]` or `"rootfs": []`;
/// Go reads structs from objects only).
#[test]
fn config_refusals_stay() {
    let refused = [
        "null",
        r#""x""#,
        "1",
        r#"{"rootfs":{"diff_ids":[null]}}"#,
        r#"{"rootfs":{"diff_ids":[""]}}"#,
        r#"{"rootfs":{"diff_ids":["sha256:00"]}}"#,
        r#"{"rootfs":{"diff_ids":["md5:d41d8cd98f00b204e9800998ecf8427e"]}}"#,
        &format!(r#"{{"rootfs":{{"diff_ids":"{D1}"}}}}"#),
        r#"{"rootfs":{"type":1}}"#,
        r#"{"architecture":1}"#,
        r#"{"os":[]}"#,
        r#"{"history":{}}"#,
        r#"{"history":[1]}"#,
        r#"{"history":[{"empty_layer":"true"}]}"#,
        r#"{"history":[{"created_by":7}]}"#,
        "[]",
        r#"["amd64", "linux"]"#,
        r#"{"rootfs":[]}"#,
        r#"{"rootfs":["layers", []]}"#,
    ];
    for json in refused {
        let Err(e) = config(json) else { panic!("{json} accepted") };
        assert!(matches!(e, SpecError::Json { kind: DocumentKind::Config, .. }), "{json}: {e}");
    }
    let limits = JsonLimits { config: 8, ..JsonLimits::default() };
    let e = parse_json::<ImageConfig>(br#"{"history":null}"#, DocumentKind::Config, &limits)
        .unwrap_err();
    assert_eq!(e.to_string(), "image config is 16 bytes, over the limit of 8 bytes");
}

fn text() -> impl Strategy<Value = Option<String>> {
    proptest::option::of(".{0,8}")
}

fn image_config() -> impl Strategy<Value = ImageConfig> {
    (".{0,8}", ".{0,8}", text(), text(), ".{0,8}", vec(digest(), 0..4), vec(history(), 0..4))
        .prop_map(|(architecture, os, variant, created, kind, diff_ids, history)| ImageConfig {
            architecture,
            os,
            variant,
            created,
            rootfs: RootFs { kind, diff_ids },
            history,
        })
}

/// Set the field at the JSON pointer `at` to `null` in `nulled` and remove it from `removed`
/// (a history entry, which cannot be removed, becomes `{}`: Go's zero value).
fn edit(nulled: &mut Value, removed: &mut Value, at: &str) {
    let Some((parent, last)) = at.rsplit_once('/') else { return };
    let (Some(n), Some(r)) = (nulled.pointer_mut(parent), removed.pointer_mut(parent)) else {
        return;
    };
    if let (Some(n), Some(r)) = (n.as_object_mut(), r.as_object_mut()) {
        if n.contains_key(last) {
            n.insert(last.to_owned(), Value::Null);
            r.remove(last);
        }
    } else if let (Ok(i), Some(n), Some(r)) =
        (last.parse::<usize>(), n.as_array_mut(), r.as_array_mut())
    {
        if let (Some(n), Some(r)) = (n.get_mut(i), r.get_mut(i)) {
            *n = Value::Null;
            *r = Value::Object(serde_json::Map::new());
        }
    }
}

proptest! {
    /// A config serialized and parsed is the config; and any of its fields (any history
    /// entry, any field of one) set to `null` reads as the field absent.
    #[test]
    fn round_trip_and_null_as_absent(c in image_config(), mask in any::<u64>()) {
        let v = serde_json::to_value(&c).unwrap();
        let parse = |v: &Value| serde_json::from_value::<ImageConfig>(v.clone());
        prop_assert_eq!(&parse(&v).unwrap(), &c);

        // Deepest first: a field of an entry, the entry, the list.
        let mut fields = Vec::new();
        for i in 0..c.history.len() {
            for f in ["created", "created_by", "author", "comment", "empty_layer"] {
                fields.push(format!("/history/{i}/{f}"));
            }
            fields.push(format!("/history/{i}"));
        }
        for f in ["/history", "/rootfs/type", "/rootfs/diff_ids", "/rootfs", "/architecture",
            "/os", "/variant", "/created"]
        {
            fields.push(f.to_owned());
        }
        let (mut nulled, mut removed) = (v.clone(), v.clone());
        for (bit, at) in fields.iter().enumerate() {
            if mask.rotate_right(bit as u32) & 1 == 1 {
                edit(&mut nulled, &mut removed, at);
            }
        }
        let (n, r) = (parse(&nulled), parse(&removed));
        prop_assert!(n.is_ok() && r.is_ok(), "{nulled} / {removed}");
        prop_assert_eq!(n.unwrap(), r.unwrap());
    }
}

//! Image references: parsing never panics, normalization is idempotent, and the familiar
//! form names the same image unless it is ambiguous exactly as docker's is.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_reference::Reference;

fuzz_target!(|s: &str| {
    if let Ok(r) = Reference::parse_normalized(s) {
        let again = Reference::parse_normalized(&r.normalized()).expect("normalized form parses");
        assert_eq!(again, r);
        // An ambiguous familiar form (docker.io/a.b/c → a.b/c) names another registry, or no
        // valid reference at all (docker.io/a_b.c/d → a_b.c/d: `_` cannot be in a host name).
        let fam = Reference::parse_normalized(&r.familiar());
        if r.is_familiar_ambiguous() {
            assert!(fam.map_or(true, |f| f != r), "{r:?}");
        } else {
            assert_eq!(fam.expect("familiar form parses"), r);
        }
    }
    let _ = ocisize_reference::from_oci_ref_name(s);
});

//! Image references: parsing never panics, normalization is idempotent, and the familiar
//! form names the same image unless it is ambiguous exactly as docker's is.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_reference::Reference;

fuzz_target!(|s: &str| {
    if let Ok(r) = Reference::parse_normalized(s) {
        let again = Reference::parse_normalized(&r.normalized()).expect("normalized form parses");
        assert_eq!(again, r);
        let fam = Reference::parse_normalized(&r.familiar()).expect("familiar form parses");
        assert_eq!(fam == r, !r.is_familiar_ambiguous(), "{r:?}");
    }
    let _ = ocisize_reference::from_oci_ref_name(s);
});

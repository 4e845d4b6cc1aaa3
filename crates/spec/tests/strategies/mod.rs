//! proptest strategies the spec's test files share.

use ocisize_digest::Digest;
use ocisize_spec::History;
use proptest::collection::vec;
use proptest::prelude::*;

/// Any sha256 or sha512 digest.
pub fn digest() -> impl Strategy<Value = Digest> {
    prop_oneof![
        any::<[u8; 32]>().prop_map(Digest::Sha256),
        vec(any::<u8>(), 64).prop_map(|b| {
            let mut a = [0u8; 64];
            a.copy_from_slice(&b);
            Digest::Sha512(a)
        }),
    ]
}

/// Any history entry.
pub fn history() -> impl Strategy<Value = History> {
    let text = || proptest::option::of(".{0,12}");
    (text(), text(), text(), text(), any::<bool>()).prop_map(
        |(created, created_by, author, comment, empty_layer)| History {
            created,
            created_by,
            author,
            comment,
            empty_layer,
        },
    )
}

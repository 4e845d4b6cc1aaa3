//! What every reader's images hold: each unit once, and `frees` the sum of those no other
//! image of the store's domain holds.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ocisize_runtime::{RuntimeStore, Unit};

/// Check the units of every image of `stores` (all the stores of the domains read) against
/// its `frees`, and that each store's domain is `domain(store)`.
pub fn check_units(stores: &[RuntimeStore], domain: impl Fn(&RuntimeStore) -> PathBuf) {
    let mut holders: HashMap<(&Path, &Unit), usize> = HashMap::new();
    for s in stores {
        assert_eq!(s.domain, domain(s), "the domain of {} {:?}", s.path.display(), s.namespace);
        for i in &s.images {
            let mut units: Vec<&Unit> = i.units.iter().map(|u| &u.0).collect();
            units.sort();
            units.dedup();
            assert_eq!(units.len(), i.units.len(), "{}: each unit once", i.image_id);
            for u in units {
                *holders.entry((s.domain.as_path(), u)).or_default() += 1;
            }
        }
    }
    for s in stores {
        for i in &s.images {
            let own: u64 = i
                .units
                .iter()
                .filter(|(u, _)| holders[&(s.domain.as_path(), u)] == 1)
                .map(|u| u.1)
                .sum();
            assert_eq!(own, i.frees, "{}: frees is its units no other image holds", i.image_id);
        }
    }
}

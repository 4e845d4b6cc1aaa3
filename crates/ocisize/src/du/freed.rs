//! What removing several copies together frees.
//!
//! Every runtime removes a unit of its store (a docker layer, a containerd blob or
//! snapshot, a containers/storage layer, a layout's blob) with the last image that holds
//! it, counting the holders over the whole refcount domain: a containerd root's content
//! store serves all its namespaces. So a set of copies frees each unit, once, whose every
//! holder in the domain is in the set. A copy alone frees its `frees`; two copies that share
//! a unit no one else holds free it together though neither frees it alone. Removing any
//! image of an archive is removing the file: its bytes count once per file.
//!
//! Memory: one entry per distinct unit of the stores (a layer or a blob), never per file.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use ocisize_runtime::Unit;

use super::{DuStore, StoreKind};

/// One image of one store: (index of the store, index of the image in it).
pub(super) type At = (usize, usize);

/// Who holds each unit, over every store of a report.
pub(super) struct Holders<'a> {
    stores: &'a [DuStore],
    /// The domain (by index) of each store, `None` for one that repeats an earlier store.
    domain: Vec<Option<usize>>,
    /// Per unit of a domain: its size (as the first holder gives it) and how many images
    /// hold it.
    holders: HashMap<(usize, &'a Unit), (u64, u32)>,
}

impl<'a> Holders<'a> {
    /// Count the holders of every unit of `stores`. A store that repeats an earlier one
    /// (the same path and namespace: a root given twice) adds none: it is the same store.
    pub(super) fn new(stores: &'a [DuStore]) -> Holders<'a> {
        let mut domains: HashMap<&Path, usize> = HashMap::new();
        let mut seen: HashSet<(&Path, Option<&str>)> = HashSet::new();
        let mut domain = Vec::with_capacity(stores.len());
        let mut holders: HashMap<(usize, &Unit), (u64, u32)> = HashMap::new();
        for s in stores {
            let next = domains.len();
            let d = *domains.entry(s.domain.as_path()).or_insert(next);
            if !seen.insert((s.path.as_path(), s.namespace.as_deref())) {
                domain.push(None);
                continue;
            }
            domain.push(Some(d));
            for (unit, size) in s.images.iter().flat_map(|i| &i.units) {
                let e = holders.entry((d, unit)).or_insert((*size, 0));
                e.1 = e.1.saturating_add(1);
            }
        }
        Holders { stores, domain, holders }
    }

    /// The bytes removing the images `copies` together frees (each image once however
    /// often it is given; one of a store that repeats an earlier one frees nothing more).
    pub(super) fn freed(&self, copies: impl IntoIterator<Item = At>) -> u64 {
        let mut removed: HashMap<(usize, &Unit), u32> = HashMap::new();
        let mut files: HashSet<&Path> = HashSet::new();
        let mut seen: HashSet<At> = HashSet::new();
        let mut total = 0u64;
        for (s, i) in copies {
            let Some(&Some(d)) = self.domain.get(s) else { continue };
            let store = &self.stores[s];
            let Some(image) = store.images.get(i) else { continue };
            if !seen.insert((s, i)) {
                continue;
            }
            if store.kind == StoreKind::Archive {
                if files.insert(store.path.as_path()) {
                    total = total.saturating_add(image.frees);
                }
            } else if image.units.is_empty() {
                total = total.saturating_add(image.frees);
            } else {
                for (unit, _) in &image.units {
                    let n = removed.entry((d, unit)).or_default();
                    *n = n.saturating_add(1);
                }
            }
        }
        for (key, n) in removed {
            if let Some(&(size, all)) = self.holders.get(&key) {
                if n == all {
                    total = total.saturating_add(size);
                }
            }
        }
        total
    }
}

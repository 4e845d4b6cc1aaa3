//! A bbolt database from arbitrary bytes: open it, walk every bucket recursively and look
//! every key up again; typed errors only, no panic, bounded work.
#![no_main]
use libfuzzer_sys::fuzz_target;
use ocisize_bbolt::{Bucket, Db, Error, Value};

/// Entries visited per input at most: nested buckets may share subtrees in a damaged file,
/// and a walk of every path through them grows exponentially.
const BUDGET: usize = 20_000;

fn walk(bucket: &Bucket<'_>, budget: &mut usize) -> Result<(), Error> {
    for entry in bucket.iter() {
        if *budget == 0 {
            return Ok(());
        }
        *budget -= 1;
        let (key, value) = entry?;
        let _ = bucket.entry(&key)?;
        if let Value::Bucket(b) = value {
            let _ = (b.sequence(), b.is_inline(), b.root_page());
            walk(&b, budget)?;
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let Ok(mut f) = tempfile::NamedTempFile::new() else { return };
    if std::io::Write::write_all(&mut f, data).is_err() {
        return;
    }
    let Ok(db) = Db::open(f.path()) else { return };
    let mut budget = BUDGET;
    let result = db.view(|tx| {
        let _ = (tx.txid(), tx.high_water(), tx.meta_page());
        walk(&tx.root(), &mut budget)
    });
    if let Err(e) = result {
        // The file does not change under the fuzzer: never Changed, and the message names it.
        assert!(!matches!(e, Error::Changed { .. }), "{e}");
        let _ = e.to_string();
    }
});

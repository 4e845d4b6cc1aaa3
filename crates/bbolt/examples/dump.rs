//! Print every bucket and key of a bbolt database, indented by nesting:
//! `cargo run -p ocisize-bbolt --example dump -- FILE`.
#![allow(clippy::print_stdout)]

use ocisize_bbolt::{Bucket, Db, Error, Value};

fn walk(bucket: &Bucket<'_>, depth: usize) -> Result<(), Error> {
    for entry in bucket.iter() {
        let (key, value) = entry?;
        let key = show(&key);
        match value {
            Value::Data(v) => println!("{:w$}{key} = {}", "", show(&v), w = depth * 2),
            Value::Bucket(b) => {
                let inline = if b.is_inline() { " (inline)" } else { "" };
                println!("{:w$}{key}/{inline} seq={}", "", b.sequence(), w = depth * 2);
                walk(&b, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn show(v: &[u8]) -> String {
    match std::str::from_utf8(v) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_string(),
        _ => format!("0x{}", v.iter().map(|b| format!("{b:02x}")).collect::<String>()),
    }
}

fn main() -> Result<(), Error> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "meta.db".into());
    let db = Db::open(path)?;
    db.view(|tx| {
        println!("txid {} (meta page {}), page size {}", tx.txid(), tx.meta_page(), db.page_size());
        walk(&tx.root(), 0)
    })
}

//! `inflate_bound FILE`: decompress a gzip or zstd file on one thread and discard the output,
//! with the same decoders and buffer size as ocisize. Its time is the bound ocisize's
//! pipeline is compared against in `benches/compare.sh`.
#![allow(clippy::print_stderr)]

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: inflate_bound FILE");
        return ExitCode::from(2);
    };
    let file = match std::fs::File::open(&path) {
        Ok(f) => std::io::BufReader::with_capacity(64 * 1024, f),
        Err(e) => {
            eprintln!("inflate_bound: {path}: {e}");
            return ExitCode::from(2);
        }
    };
    let mut head = [0u8; 4];
    let zstd = std::fs::File::open(&path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|()| head == [0x28, 0xb5, 0x2f, 0xfd])
        .unwrap_or(false);
    let mut decoder: Box<dyn Read> = if zstd {
        match zstd::stream::read::Decoder::new(file) {
            Ok(d) => Box::new(d),
            Err(e) => {
                eprintln!("inflate_bound: {path}: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    };
    let mut buf = vec![0u8; 256 * 1024];
    let mut total: u64 = 0;
    loop {
        match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n as u64,
            Err(e) => {
                eprintln!("inflate_bound: {path}: {e}");
                return ExitCode::from(1);
            }
        }
    }
    eprintln!("{total} bytes");
    ExitCode::SUCCESS
}

//! Layer compression throughput: gzip on 1 and 2 threads, zstd, on a file of your choice.
//!
//! `cargo bench -p builder-core --bench layer -- /path/to/input.tar` (default: 64 MiB of
//! generated mixed data). Prints MB/s of uncompressed input; no assertions.

use std::io::Read;
use std::num::NonZeroUsize;
use std::time::Instant;

use builder_core::layer::{Compression, LayerWriter};

fn generated() -> Vec<u8> {
    let mut data = Vec::with_capacity(64 << 20);
    let mut x = 0x9e37_79b9_7f4a_7c15_u64;
    let mut i = 0u64;
    while data.len() < 64 << 20 {
        data.extend_from_slice(format!("entry {i}: some text that repeats a little\n").as_bytes());
        for _ in 0..32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            data.push((x >> 56) as u8);
        }
        i += 1;
    }
    data
}

fn main() {
    let input = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|path| {
            let mut data = Vec::new();
            std::fs::File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            data
        })
        .unwrap_or_else(generated);
    let mb = input.len() as f64 / 1e6;
    println!("input: {mb:.1} MB");
    let cases = [
        ("gzip-6, 1 thread", Compression::gzip(), 1),
        ("gzip-6, 2 threads", Compression::gzip(), 2),
        ("zstd-3, 1 worker", Compression::zstd(), 1),
        ("zstd-3, 2 workers", Compression::zstd(), 2),
        ("none (hash only)", Compression::None, 1),
    ];
    for (name, compression, threads) in cases {
        let mut best = f64::MAX;
        let mut size = 0;
        for _ in 0..3 {
            let threads = NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN);
            let start = Instant::now();
            let mut w = LayerWriter::with_threads(std::io::sink(), compression, threads)
                .unwrap_or_else(|e| panic!("{e}"));
            for chunk in input.chunks(64 * 1024) {
                std::io::Write::write_all(&mut w, chunk).unwrap_or_else(|e| panic!("{e}"));
            }
            size = w.finish().unwrap_or_else(|e| panic!("{e}")).size;
            best = best.min(start.elapsed().as_secs_f64());
        }
        println!(
            "{name:20} {:7.1} MB/s  ratio {:.3}",
            mb / best,
            size as f64 / input.len() as f64
        );
    }
}

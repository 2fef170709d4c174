//! Layer export alone: one file streamed through `TarWriter` and `LayerWriter` into a blob file
//! (or nowhere), timed; what `bench/one-gib-layer` compares with `tar c | pigz` / `zstd`.
//!
//! ```text
//! cargo run --release -p builder-core --example layer_export -- FILE gzip|zstd|none [THREADS] [OUT]
//! ```
//!
//! Prints the wall time, the input rate, the blob's size, digest and diff_id. `OUT` defaults to
//! no output at all (the bytes are still compressed and hashed).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::num::NonZeroUsize;
use std::time::Instant;

use builder_core::layer::{Compression, Entry, LayerWriter, TarWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [file, compression, rest @ ..] = args.as_slice() else {
        eprintln!("usage: layer_export FILE gzip|zstd|none [THREADS] [OUT]");
        std::process::exit(2);
    };
    let compression = match compression.as_str() {
        "gzip" => Compression::gzip(),
        "zstd" => Compression::zstd(),
        "none" => Compression::None,
        other => return Err(format!("unknown compression {other}").into()),
    };
    let threads = match rest.first() {
        Some(n) => n.parse()?,
        None => std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
    };
    let out: Box<dyn Write> = match rest.get(1) {
        Some(path) => Box::new(BufWriter::with_capacity(256 * 1024, File::create(path)?)),
        None => Box::new(io::sink()),
    };
    let start = Instant::now();
    let mut input = File::open(file)?;
    let size = input.metadata()?.len();
    let layer = LayerWriter::with_threads(out, compression, threads)?;
    let mut tar = TarWriter::new(layer).mtime_clamp(Some(0));
    tar.append(&Entry::file("big", size, 0o644), Some(&mut input))?;
    let blob = tar.finish()?.finish()?;
    let secs = start.elapsed().as_secs_f64();
    println!(
        "{secs:.2} s  {:.0} MiB/s  size {} ({:.3})  digest {}  diff_id {}",
        size as f64 / secs / 1_048_576.0,
        blob.size,
        blob.size as f64 / size as f64,
        blob.digest,
        blob.diff_id
    );
    Ok(())
}

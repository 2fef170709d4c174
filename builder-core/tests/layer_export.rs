//! Layer export speed-ups keep the bytes: incompressible input becomes stored deflate blocks
//! chosen from the data alone, zstd's bounded jobs, and neither depends on the thread count;
//! the system's gzip and zstd read every blob back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod noise_support;

use std::io::Write;
use std::num::NonZeroUsize;
use std::process::{Command, Stdio};

use builder_core::layer::{Compression, LayerWriter};
use noise_support::noise;

fn text(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 64);
    let mut i = 0u64;
    while out.len() < len {
        out.extend_from_slice(format!("line {i}: a layer of ordinary text\n").as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

fn compress(data: &[u8], compression: Compression, threads: usize) -> Vec<u8> {
    let mut blob = Vec::new();
    let threads = NonZeroUsize::new(threads).unwrap();
    let mut w = LayerWriter::with_threads(&mut blob, compression, threads).unwrap();
    for piece in data.chunks(100_003) {
        w.write_all(piece).unwrap();
    }
    let info = w.finish().unwrap();
    assert_eq!(info.size, blob.len() as u64);
    blob
}

/// `tool -dc` of `input`.
fn decompress(tool: &str, input: &[u8]) -> Vec<u8> {
    let mut child = Command::new(tool)
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    assert!(out.status.success(), "{tool} -dc failed");
    out.stdout
}

#[test]
fn random_data_is_stored_the_same_way_on_any_thread_count() {
    let data = noise(6 << 20, 7);
    let one = compress(&data, Compression::gzip(), 1);
    for threads in [2, 3] {
        assert!(
            compress(&data, Compression::gzip(), threads) == one,
            "{threads} threads"
        );
    }
    // Stored blocks: 5 bytes per 64 KiB piece plus the gzip header and trailer, no more.
    let overhead = one.len() - data.len();
    assert!(
        overhead <= 5 * (data.len() / 65_535 + 64) + 18,
        "{overhead}"
    );
    assert!(decompress("gzip", &one) == data);
}

#[test]
fn mixed_data_compresses_text_and_stores_noise_deterministically() {
    let mut data = text(3 << 20);
    data.extend_from_slice(&noise(3 << 20, 11));
    data.extend_from_slice(&text(1 << 20));
    data.extend_from_slice(&noise(100_000, 13));
    let one = compress(&data, Compression::gzip(), 1);
    assert!(compress(&data, Compression::gzip(), 2) == one);
    assert!(one.len() < (3 << 20) + 100_000 + (1 << 20));
    assert!(decompress("gzip", &one) == data);
}

#[test]
fn zstd_jobs_do_not_depend_on_the_worker_count() {
    let mut data = text(5 << 20);
    data.extend_from_slice(&noise(3 << 20, 17));
    data.extend_from_slice(&text(1 << 20));
    let one = compress(&data, Compression::zstd(), 1);
    for threads in [2, 3] {
        assert!(
            compress(&data, Compression::zstd(), threads) == one,
            "{threads} workers"
        );
    }
    assert!(decompress("zstd", &one) == data);
}

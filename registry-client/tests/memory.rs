//! Memory stays flat when a large (128 MiB; 1 GiB with `--ignored`) blob is pushed from a file and pulled back to a file (its
//! own test binary, so no other test shares the process's peak-memory counter).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::{Registry, client_builder};
use registry_client::{BlobPush, Descriptor, Digest, media_type};

const GIB: u64 = 1 << 30;

/// The process's peak resident set (VmHWM) in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_128_mib_blob_streams_with_flat_memory() {
    streams_with_flat_memory(128 << 20).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "1 GiB through a debug build takes minutes: run with --ignored"]
async fn one_gib_blob_streams_with_flat_memory() {
    streams_with_flat_memory(GIB).await;
}

async fn streams_with_flat_memory(size: u64) {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big");
    // A sparse 1 GiB file with some non-zero bytes; `sha256sum` digests it quickly.
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(size).unwrap();
    drop(f);
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        for i in 0..16u64 {
            f.seek(SeekFrom::Start(i * (size / 16) + 12345)).unwrap();
            f.write_all(format!("marker {i}").as_bytes()).unwrap();
        }
    }
    let out = std::process::Command::new("sha256sum")
        .arg(&path)
        .output()
        .unwrap();
    let hex = String::from_utf8(out.stdout).unwrap();
    let digest = Digest::parse(&format!("sha256:{}", &hex[..64])).unwrap();
    let descriptor = Descriptor::new(media_type::OCI_LAYER_GZIP, digest, size);

    let client = client_builder().build().unwrap();
    let target = reg.reference("test/big:1");
    let before = peak_rss();
    let started = std::time::Instant::now();
    let pushed = client
        .push_blob_file(&target, &descriptor, &path, None)
        .await
        .unwrap();
    assert_eq!(pushed, BlobPush::Uploaded);
    let after_push = peak_rss();
    let push_time = started.elapsed();
    let back = tmp.path().join("back");
    client
        .fetch_blob_to_file(&target, &descriptor, &back)
        .await
        .unwrap();
    let after_pull = peak_rss();
    assert_eq!(std::fs::metadata(&back).unwrap().len(), size);
    let growth = after_pull.saturating_sub(before);
    println!(
        "{} MiB blob: peak RSS {} MiB before, {} MiB after push ({push_time:?}), {} MiB after pull ({:?})",
        size >> 20,
        before >> 20,
        after_push >> 20,
        after_pull >> 20,
        started.elapsed() - push_time
    );
    assert!(
        growth < 64 << 20,
        "peak memory grew by {} MiB",
        growth >> 20
    );
}

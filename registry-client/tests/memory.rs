//! Memory stays flat whatever the blob size: a 64 MiB blob is pushed from a file and pulled
//! back to a file while the peak resident set grows by far less than the blob. (Its own test
//! binary, so no other test shares the process's peak-memory counter. The 1 GiB run, with
//! throughput next to curl's, is the release-mode benchmark: `registry-client/bench/run.sh`.)

mod harness;

use harness::Registry;
use harness::client::{client_builder, peak_rss, reference, reset_peak_rss};
use registry_client::{BlobPush, Descriptor, Digest, media_type};

const BLOB: usize = 64 << 20;
/// Allowed growth of the peak resident set per phase: a few chunks and buffers, not the blob.
const BUDGET: u64 = 24 << 20;

/// A sparse file of `size` bytes with a few markers, described with `sha256sum`'s digest (a
/// debug-build hasher would dominate the test's time).
fn sparse_blob(path: &std::path::Path, size: u64) -> Descriptor {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let mut file = std::fs::File::create(path).expect("create blob");
    file.set_len(size).expect("set_len");
    for i in 0..16u64 {
        file.seek(SeekFrom::Start(i * (size / 16) + 12345))
            .expect("seek");
        file.write_all(format!("marker {i}").as_bytes())
            .expect("write");
    }
    drop(file);
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("run sha256sum");
    let hex = String::from_utf8_lossy(&out.stdout);
    let digest = Digest::parse(&format!("sha256:{}", &hex[..64])).expect("digest");
    Descriptor::new(media_type::OCI_LAYER_GZIP, digest, size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_blob_streams_with_flat_memory() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = tmp.path().join("big");
    let descriptor = sparse_blob(&path, BLOB as u64);
    let client = client_builder().build().expect("client");
    let target = reference(&registry.host_port(), "test/big:1");

    let resettable = reset_peak_rss();
    let before_push = peak_rss();
    let pushed = client
        .push_blob_file(&target, &descriptor, &path, None)
        .await
        .expect("push");
    assert_eq!(pushed, BlobPush::Uploaded);
    let push_growth = peak_rss().saturating_sub(before_push);

    reset_peak_rss();
    let before_pull = peak_rss();
    let back = tmp.path().join("back");
    client
        .fetch_blob_to_file(&target, &descriptor, &back)
        .await
        .expect("pull");
    let pull_growth = peak_rss().saturating_sub(before_pull);
    assert_eq!(std::fs::metadata(&back).expect("stat").len(), BLOB as u64);
    println!(
        "{} MiB blob: peak RSS grew {} KiB on push, {} KiB on pull (phases measured apart: {resettable})",
        BLOB >> 20,
        push_growth >> 10,
        pull_growth >> 10,
    );
    assert!(
        push_growth < BUDGET,
        "push grew the peak RSS by {} MiB",
        push_growth >> 20
    );
    assert!(
        pull_growth < BUDGET,
        "pull grew the peak RSS by {} MiB",
        pull_growth >> 20
    );
}

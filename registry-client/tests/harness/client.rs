//! The library side of the tests: a hermetic client builder, test images written to files as
//! the client pushes them, and the process's peak memory.

use std::path::Path;
use std::time::Duration;

use registry_client::{
    BlobFile, Client, ClientBuilder, Descriptor, Digest, ImagePush, Reference, RetryPolicy,
};

use super::image::{Blob, TestImage};

/// The retry policy of the tests: four attempts, short backoffs (Retry-After still honoured).
pub fn quick_retries() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        ..RetryPolicy::default()
    }
}

/// A hermetic client builder: no keychain from the environment, no system certs dirs, quick
/// retries.
pub fn client_builder() -> ClientBuilder {
    Client::builder()
        .default_keychain(false)
        .certs_dirs(Vec::new())
        .retry_policy(quick_retries())
}

/// `host/repository:tag` parsed.
pub fn reference(host: &str, repository_and_tag: &str) -> Reference {
    Reference::parse(&format!("{host}/{repository_and_tag}")).expect("valid reference")
}

/// Writes `bytes` to `dir/name` and describes it.
pub fn blob_file(dir: &Path, name: &str, media_type: &str, bytes: &[u8]) -> BlobFile {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write blob file");
    BlobFile {
        descriptor: Descriptor::new(media_type, Digest::sha256_of(bytes), bytes.len() as u64),
        path,
    }
}

/// Writes a harness blob to `dir` (named by its digest's hex).
pub fn harness_blob_file(dir: &Path, blob: &Blob) -> BlobFile {
    let name = blob.digest.trim_start_matches("sha256:");
    blob_file(dir, name, &blob.media_type, &blob.bytes)
}

/// A [`TestImage`] as the client pushes it: blobs in files under `dir`, the manifest's bytes.
pub fn image_push(dir: &Path, image: &TestImage) -> ImagePush {
    ImagePush {
        layers: image
            .layers
            .iter()
            .map(|l| harness_blob_file(dir, l))
            .collect(),
        config: harness_blob_file(dir, &image.config),
        manifest_media_type: image.manifest.media_type.clone(),
        manifest: image.manifest.bytes.clone(),
    }
}

/// A multi-layer [`TestImage`]: one tar layer per size, each holding `data.bin` of that many
/// pseudo-random bytes.
pub fn layered_image(seed: u64, sizes: &[usize]) -> TestImage {
    let layers = sizes
        .iter()
        .enumerate()
        .map(|(i, size)| {
            let content = super::random_blob(seed * 1000 + i as u64, *size);
            Blob::new(
                "application/vnd.oci.image.layer.v1.tar",
                super::image::tar_with_file("data.bin", &content),
            )
        })
        .collect();
    TestImage::from_layers(layers)
}

/// Parses a digest string of the harness (`sha256:<hex>`).
pub fn digest(s: &str) -> Digest {
    Digest::parse(s).expect("valid digest")
}

/// The descriptor of a harness blob.
pub fn descriptor(blob: &Blob) -> Descriptor {
    Descriptor::new(
        blob.media_type.clone(),
        digest(&blob.digest),
        blob.bytes.len() as u64,
    )
}

/// The process's peak resident set (`VmHWM`) in bytes.
pub fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("VmHWM value");
    kib * 1024
}

/// Resets the peak resident set to the current one (`echo 5 > /proc/self/clear_refs`), so the
/// next [`peak_rss`] measures one phase; `false` where the kernel does not allow it.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

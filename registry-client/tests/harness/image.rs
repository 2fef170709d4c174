//! A small, deterministic, valid OCI image (one uncompressed tar layer) for tests.

use serde_json::json;

use super::{random_blob, sha256_digest};

/// A blob and what describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// The media type its descriptor carries.
    pub media_type: String,
    /// The content.
    pub bytes: Vec<u8>,
    /// `sha256:<hex>` of the content.
    pub digest: String,
}

impl Blob {
    /// A blob with its digest computed.
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Blob {
        let digest = sha256_digest(&bytes);
        Blob {
            media_type: media_type.to_string(),
            bytes,
            digest,
        }
    }

    /// The OCI descriptor JSON.
    pub fn descriptor(&self) -> serde_json::Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.bytes.len()})
    }
}

/// An OCI image: a config, one layer (a tar holding `data.bin`), and its manifest.
#[derive(Debug, Clone)]
pub struct TestImage {
    /// The image config blob.
    pub config: Blob,
    /// The layers, bottom first.
    pub layers: Vec<Blob>,
    /// The manifest (`application/vnd.oci.image.manifest.v1+json`).
    pub manifest: Blob,
}

impl TestImage {
    /// An image whose layer holds `data.bin` of `file_size` bytes from `seed`.
    pub fn new(seed: u64, file_size: usize) -> TestImage {
        let layer = Blob::new(
            "application/vnd.oci.image.layer.v1.tar",
            tar_with_file("data.bin", &random_blob(seed, file_size)),
        );
        TestImage::from_layers(vec![layer])
    }

    /// An image over the given layers (uncompressed tars: their digest is their diff_id).
    pub fn from_layers(layers: Vec<Blob>) -> TestImage {
        let diff_ids: Vec<&str> = layers.iter().map(|l| l.digest.as_str()).collect();
        let config = json!({
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["/bin/true"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "hoist test harness"}],
        });
        let config = Blob::new(
            "application/vnd.oci.image.config.v1+json",
            config.to_string().into_bytes(),
        );
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config.descriptor(),
            "layers": layers.iter().map(Blob::descriptor).collect::<Vec<_>>(),
        });
        let manifest = Blob::new(
            "application/vnd.oci.image.manifest.v1+json",
            manifest.to_string().into_bytes(),
        );
        TestImage {
            config,
            layers,
            manifest,
        }
    }

    /// Config and layers: every blob to upload before the manifest.
    pub fn blobs(&self) -> Vec<&Blob> {
        std::iter::once(&self.config).chain(&self.layers).collect()
    }
}

/// A ustar archive with one regular file (mode 0644, uid/gid 0, mtime 0).
pub fn tar_with_file(name: &str, content: &[u8]) -> Vec<u8> {
    assert!(name.len() < 100, "tar name too long");
    let mut header = [0u8; 512];
    header[..name.len()].copy_from_slice(name.as_bytes());
    let mut field = |at: usize, width: usize, value: u64| {
        let text = format!("{value:0w$o}\0", w = width - 1);
        header[at..at + width].copy_from_slice(text.as_bytes());
    };
    field(100, 8, 0o644);
    field(108, 8, 0);
    field(116, 8, 0);
    field(124, 12, content.len() as u64);
    field(136, 12, 0);
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut out = header.to_vec();
    out.extend_from_slice(content);
    out.resize(out.len().div_ceil(512) * 512 + 1024, 0);
    out
}

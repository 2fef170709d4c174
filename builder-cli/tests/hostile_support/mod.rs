//! Hostile inputs made by hand: tar streams with any name, link, type and size (the `tar` crate
//! refuses most of what an attacker writes), OCI layouts with any manifest and config, and the
//! checks that nothing escaped.
// Each test binary uses a different subset.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// `sha256:<hex>` of `bytes`.
pub fn sha256(bytes: &[u8]) -> String {
    format!("sha256:{}", hex(&Sha256::digest(bytes)))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a tar entry is.
#[derive(Debug, Clone)]
pub enum Kind {
    File(Vec<u8>),
    Dir,
    Symlink(String),
    Hardlink(String),
    Char(u32, u32),
    Block(u32, u32),
    Fifo,
}

/// A raw tar stream, written header by header (ustar; names up to 100 bytes).
#[derive(Default)]
pub struct Tar {
    bytes: Vec<u8>,
}

impl Tar {
    pub fn new() -> Tar {
        Tar::default()
    }

    /// Appends an entry with mode 0755 (dirs) or 0644, owner 0:0.
    pub fn entry(self, name: &str, kind: Kind) -> Tar {
        self.entry_with_mode(name, kind, None)
    }

    /// Appends an entry with `mode` (default: 0755 for dirs, 0644 for files), owner 0:0.
    pub fn entry_with_mode(mut self, name: &str, kind: Kind, mode: Option<u32>) -> Tar {
        let (flag, size, link, dev, default_mode) = match &kind {
            Kind::File(data) => (b'0', data.len() as u64, "", (0, 0), 0o644),
            Kind::Dir => (b'5', 0, "", (0, 0), 0o755),
            Kind::Symlink(t) => (b'2', 0, t.as_str(), (0, 0), 0o777),
            Kind::Hardlink(t) => (b'1', 0, t.as_str(), (0, 0), 0o644),
            Kind::Char(a, b) => (b'3', 0, "", (*a, *b), 0o666),
            Kind::Block(a, b) => (b'4', 0, "", (*a, *b), 0o666),
            Kind::Fifo => (b'6', 0, "", (0, 0), 0o644),
        };
        let mode = mode.unwrap_or(default_mode);
        let header = header(name, flag, SizeField::Octal(size), link, dev, mode);
        self.bytes.extend_from_slice(&header);
        if let Kind::File(data) = kind {
            self.bytes.extend_from_slice(&data);
            self.pad();
        }
        self
    }

    /// Appends a regular file's header claiming `size` bytes (base-256 when it does not fit the
    /// octal field) followed by only `actual` bytes of content.
    pub fn lying_file(mut self, name: &str, size: u64, actual: &[u8]) -> Tar {
        let field = if size < 0o77777777777 {
            SizeField::Octal(size)
        } else {
            SizeField::Binary(size)
        };
        self.bytes
            .extend_from_slice(&header(name, b'0', field, "", (0, 0), 0o644));
        self.bytes.extend_from_slice(actual);
        self
    }

    fn pad(&mut self) {
        let rem = self.bytes.len() % 512;
        if rem != 0 {
            self.bytes.resize(self.bytes.len() + 512 - rem, 0);
        }
    }

    /// The stream with its two end-of-archive blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.pad();
        self.bytes.resize(self.bytes.len() + 1024, 0);
        self.bytes
    }

    /// The stream as it is, no end-of-archive blocks (a truncated layer).
    pub fn unfinished(self) -> Vec<u8> {
        self.bytes
    }
}

enum SizeField {
    Octal(u64),
    Binary(u64),
}

fn octal(field: &mut [u8], value: u64) {
    let width = field.len() - 1;
    let text = format!("{value:0width$o}");
    assert!(
        text.len() <= width,
        "{value} does not fit {width} octal digits"
    );
    field[..width].copy_from_slice(text.as_bytes());
    field[width] = 0;
}

fn header(
    name: &str,
    flag: u8,
    size: SizeField,
    link: &str,
    dev: (u32, u32),
    mode: u32,
) -> [u8; 512] {
    let mut h = [0u8; 512];
    assert!(
        name.len() <= 100 && link.len() <= 100,
        "ustar names are 100 bytes at most"
    );
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    match size {
        SizeField::Octal(n) => octal(&mut h[124..136], n),
        SizeField::Binary(n) => {
            h[124] = 0x80;
            h[128..136].copy_from_slice(&n.to_be_bytes());
        }
    }
    octal(&mut h[136..148], 1_700_000_000);
    h[156] = flag;
    h[157..157 + link.len()].copy_from_slice(link.as_bytes());
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], u64::from(dev.0));
    octal(&mut h[337..345], u64::from(dev.1));
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let text = format!("{sum:06o}\0 ");
    h[148..156].copy_from_slice(text.as_bytes());
    h
}

/// `bytes` gzip-compressed by the `gzip` binary (level 1: fast on the big ones).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .args(["-1", "-c", "-n"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// A layer for an OCI layout: the blob as stored and its uncompressed digest.
pub struct Layer {
    pub blob: Vec<u8>,
    pub media_type: &'static str,
    pub diff_id: String,
    /// The size the manifest states (default: the blob's).
    pub declared_size: Option<u64>,
}

impl Layer {
    /// An uncompressed tar layer.
    pub fn tar(tar: Vec<u8>) -> Layer {
        Layer {
            diff_id: sha256(&tar),
            blob: tar,
            media_type: "application/vnd.oci.image.layer.v1.tar",
            declared_size: None,
        }
    }

    /// A gzip layer of `tar`.
    pub fn gzip(tar: &[u8]) -> Layer {
        Layer {
            diff_id: sha256(tar),
            blob: gzip(tar),
            media_type: "application/vnd.oci.image.layer.v1.tar+gzip",
            declared_size: None,
        }
    }
}

/// The static busybox as a layer: `/bin/busybox` and links for the applets the tests use.
pub fn busybox_layer() -> Layer {
    let mut tar = Tar::new().entry("bin/", Kind::Dir).entry_with_mode(
        "bin/busybox",
        Kind::File(fs::read("/bin/busybox").unwrap()),
        Some(0o755),
    );
    for applet in [
        "sh", "cat", "test", "ls", "head", "echo", "mknod", "stat", "dd", "wc", "od", "true", "id",
        "ln", "touch",
    ] {
        tar = tar.entry(&format!("bin/{applet}"), Kind::Symlink("busybox".into()));
    }
    tar = tar.entry("tmp/", Kind::Dir).entry("etc/", Kind::Dir);
    Layer::tar(tar.finish())
}

/// An OCI image layout under construction.
pub struct LayoutDir {
    pub dir: PathBuf,
}

impl LayoutDir {
    pub fn new(dir: &Path) -> LayoutDir {
        fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        LayoutDir {
            dir: dir.to_owned(),
        }
    }

    /// Stores `bytes` under their digest; returns the digest.
    pub fn blob(&self, bytes: &[u8]) -> String {
        let digest = sha256(bytes);
        self.blob_at(&digest, bytes);
        digest
    }

    /// Stores `bytes` under `digest`, whatever their content (a lying blob).
    pub fn blob_at(&self, digest: &str, bytes: &[u8]) {
        let hex = digest.strip_prefix("sha256:").unwrap();
        fs::write(self.dir.join("blobs/sha256").join(hex), bytes).unwrap();
    }

    /// A config for `diff_ids` (PATH=/bin), as JSON.
    pub fn config(diff_ids: &[String]) -> Value {
        json!({
            "architecture": host_arch(),
            "os": "linux",
            "config": {"Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        })
    }

    /// Stores the layers, a config (`config`, or the default for their diff_ids) and a
    /// manifest; returns the manifest's bytes.
    pub fn manifest(&self, layers: &[Layer], config: Option<Value>) -> Vec<u8> {
        let diff_ids: Vec<String> = layers.iter().map(|l| l.diff_id.clone()).collect();
        let config = config.unwrap_or_else(|| LayoutDir::config(&diff_ids));
        let config = serde_json::to_vec(&config).unwrap();
        let config_digest = self.blob(&config);
        let layer_descriptors: Vec<Value> = layers
            .iter()
            .map(|l| {
                json!({
                    "mediaType": l.media_type,
                    "digest": self.blob(&l.blob),
                    "size": l.declared_size.unwrap_or(l.blob.len() as u64),
                })
            })
            .collect();
        serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config_digest,
                "size": config.len(),
            },
            "layers": layer_descriptors,
        }))
        .unwrap()
    }

    /// Writes `index.json` naming the document `bytes` (stored as a blob) of `media_type`.
    pub fn index(&self, media_type: &str, bytes: &[u8]) {
        let digest = self.blob(bytes);
        let index = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [{"mediaType": media_type, "digest": digest, "size": bytes.len()}],
        });
        fs::write(self.dir.join("index.json"), index.to_string()).unwrap();
    }

    /// A whole image: layers, config, manifest, index.json.
    pub fn image(dir: &Path, layers: &[Layer]) -> LayoutDir {
        let layout = LayoutDir::new(dir);
        let manifest = layout.manifest(layers, None);
        layout.index("application/vnd.oci.image.manifest.v1+json", &manifest);
        layout
    }

    /// `base=oci-layout://DIR`, the `--build-context` value.
    pub fn context_arg(&self, name: &str) -> String {
        format!("{name}=oci-layout://{}", self.dir.display())
    }
}

pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// Every entry under `dir`, recursively, as paths relative to it (symlinks not followed).
pub fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            out.push(path.strip_prefix(base).unwrap().display().to_string());
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                walk(base, &path, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Runs `cmd` under GNU time; returns its output and peak RSS in KiB.
pub fn with_peak_rss(cmd: &mut Command) -> (Output, u64) {
    let rss = tempfile::NamedTempFile::new().unwrap();
    let program = cmd.get_program().to_owned();
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(rss.path())
        .arg(program);
    timed.args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => timed.env(k, v),
            None => timed.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        timed.current_dir(dir);
    }
    let out = timed
        .stdin(Stdio::null())
        .output()
        .expect("GNU time (apt-get install time)");
    let text = fs::read_to_string(rss.path()).unwrap();
    let kib = text
        .lines()
        .filter_map(|l| l.trim().parse::<u64>().ok())
        .next_back()
        .unwrap_or_else(|| panic!("no RSS in {text:?}"));
    (out, kib)
}

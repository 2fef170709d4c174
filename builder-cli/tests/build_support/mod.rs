//! Helpers shared by the `hoist build` end-to-end tests (build.rs, build_add.rs): run `hoist`, read
//! images back with skopeo, umoci and GNU tar, validate them.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use builder_core::image::ConfigBlob;
use builder_core::image::validate::{BlobSource, SchemaValidator, validate_image};
use builder_core::snapshot::LayerReader;
use builder_core::store::Store;
use registry_client::{Digest, ImageManifest};
use serde_json::Value;

/// Runs `hoist` with the store at `root` and no `SOURCE_DATE_EPOCH` unless `epoch`.
pub fn hoist(root: &Path, args: &[&str], epoch: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoist"));
    cmd.args(args)
        .env("HOIST_ROOT", root)
        .env_remove("SOURCE_DATE_EPOCH");
    if let Some(e) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", e);
    }
    cmd.output().expect("run hoist")
}

/// Builds `context` tagged `tag`, validates the image; returns the digest and the progress.
pub fn build(root: &Path, context: &Path, tag: &str, epoch: Option<&str>) -> (String, String) {
    let out = hoist(
        root,
        &["build", "-t", tag, context.to_str().unwrap()],
        epoch,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{stderr}");
    let digest = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    validate(root, tag);
    (digest, stderr)
}

/// Builds `context`, expecting failure; returns the error output.
pub fn build_fails(root: &Path, context: &Path) -> String {
    let out = hoist(root, &["build", context.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    stderr
}

/// The store as [`validate_image`] reads it.
struct StoreBlobs<'s>(&'s Store);

impl BlobSource for StoreBlobs<'_> {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + '_>> {
        let file = self.0.open_blob(digest).map_err(io::Error::other)?;
        Ok(Box::new(file))
    }

    fn decompress<'a>(
        &self,
        _media_type: &str,
        compressed: Box<dyn Read + 'a>,
    ) -> io::Result<Box<dyn Read + 'a>> {
        Ok(Box::new(LayerReader::new(compressed)?))
    }
}

fn read_blob(store: &Store, digest: &Digest) -> Vec<u8> {
    let mut bytes = Vec::new();
    store
        .open_blob(digest)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

/// Checks the image tagged `tag` with `builder_core::image::validate`: digests, sizes,
/// diff_ids, schemas.
pub fn validate(root: &Path, tag: &str) {
    let store = Store::open(root.to_owned()).unwrap();
    let name = if tag.contains(':') {
        tag.to_owned()
    } else {
        format!("{tag}:latest")
    };
    let descriptor = store.resolve(&name).unwrap().unwrap();
    let manifest: ImageManifest =
        serde_json::from_slice(&read_blob(&store, &descriptor.digest)).unwrap();
    let config = ConfigBlob::parse(read_blob(&store, &manifest.config.digest)).unwrap();
    validate_image(
        &SchemaValidator::new(),
        &manifest,
        &config,
        &StoreBlobs(&store),
    )
    .unwrap();
}

/// `skopeo inspect --config oci:<root>:<tag>` (skopeo's OCI view: Docker's own fields dropped).
pub fn skopeo_config(root: &Path, tag: &str) -> Value {
    skopeo_inspect(root, tag, &["--config"])
}

/// `skopeo inspect --config --raw oci:<root>:<tag>`: the config blob as stored.
pub fn skopeo_raw_config(root: &Path, tag: &str) -> Value {
    skopeo_inspect(root, tag, &["--config", "--raw"])
}

fn skopeo_inspect(root: &Path, tag: &str, flags: &[&str]) -> Value {
    let out = Command::new("skopeo")
        .arg("inspect")
        .args(flags)
        .arg(format!("oci:{}:{tag}", root.display()))
        .output()
        .expect("run skopeo");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `umoci unpack` of `tag` into `<dir>/bundle`; returns the rootfs.
pub fn umoci_rootfs(root: &Path, tag: &str, dir: &Path) -> PathBuf {
    let bundle = dir.join(format!("bundle-{}", tag.replace(':', "-")));
    common::umoci_unpack(root, tag, &bundle)
}

/// Extracts every layer of `tag` in order with GNU tar (xattrs kept) into `dest`.
pub fn tar_rootfs(root: &Path, tag: &str, dest: &Path) -> PathBuf {
    let store = Store::open(root.to_owned()).unwrap();
    let descriptor = store.resolve(&format!("{tag}:latest")).unwrap().unwrap();
    let manifest: ImageManifest =
        serde_json::from_slice(&read_blob(&store, &descriptor.digest)).unwrap();
    std::fs::create_dir_all(dest).unwrap();
    for layer in &manifest.layers {
        let blob = root.join("blobs/sha256").join(layer.digest.encoded());
        let out = Command::new("tar")
            .args(["--xattrs", "--xattrs-include=*", "--same-owner", "-xpf"])
            .arg(&blob)
            .arg("-C")
            .arg(dest)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dest.to_owned()
}

/// A new context directory `<dir>/ctx` holding `Dockerfile`.
pub fn context_with(dir: &Path, dockerfile: &str) -> PathBuf {
    let context = dir.join("ctx");
    std::fs::create_dir_all(&context).unwrap();
    std::fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    context
}

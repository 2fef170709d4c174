//! Exporting a built image: an OCI layout tar, a `docker load` tar, the root filesystem as a
//! directory or as a tar. Blobs are streamed from the store's files; nothing is held in memory
//! but manifests and configs.
//!
//! The archives are deterministic: entries in a fixed order, mode 0644/0755, owner 0:0, mtime 0.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use registry_client::{Descriptor, Digest};
use serde_json::json;

use super::{Layout, StoredImage, canonical_json, image_index};
use crate::error::Result;
use crate::exec::ExecError;
use crate::layer::{TarWriter, WalkOptions, write_tree};
use crate::snapshot::{ExtractOptions, LayerReader, extract_layer};
use crate::store::{REF_NAME, Store};

/// Which archive [`write_archive`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// An OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`), as a tar.
    Oci,
    /// What `docker save` writes (Docker 25+): the OCI layout plus `manifest.json` and
    /// `repositories`, so both `docker load` and OCI tools read it. Layers stay compressed;
    /// `docker load` and skopeo accept gzip and zstd layers.
    Docker,
}

/// Writes `image` (in `store`) as an archive of `format` to `out`. `names` are the image's
/// tags (`repo:tag`): `io.containerd.image.name` / `org.opencontainers.image.ref.name`
/// annotations in `index.json`, `RepoTags` in `manifest.json`.
pub fn write_archive(
    store: &Store,
    image: &StoredImage,
    format: ArchiveFormat,
    names: &[String],
    out: &mut dyn Write,
) -> Result<()> {
    let layout = Layout::of_store(store);
    let mut tar = tar::Builder::new(out);
    let io_err = |op| ExecError::io(op, Path::new("archive"));
    let dir = |tar: &mut tar::Builder<&mut dyn Write>, path: &str| {
        let mut h = header(tar::EntryType::Directory, 0, 0o755);
        tar.append_data(&mut h, path, io::empty())
    };
    let file = |tar: &mut tar::Builder<&mut dyn Write>, path: &str, bytes: &[u8]| {
        let mut h = header(tar::EntryType::Regular, bytes.len() as u64, 0o644);
        tar.append_data(&mut h, path, bytes)
    };
    dir(&mut tar, "blobs/").map_err(io_err("write"))?;
    dir(&mut tar, "blobs/sha256/").map_err(io_err("write"))?;
    let mut written = std::collections::BTreeSet::new();
    let blobs = image
        .manifest
        .layers
        .iter()
        .chain([&image.manifest.config, &image.descriptor]);
    for d in blobs {
        if !written.insert(d.digest.clone()) {
            continue;
        }
        let path = layout.blob_path(&d.digest);
        let blob = File::open(&path).map_err(ExecError::io("open", &path))?;
        let mut h = header(tar::EntryType::Regular, d.size, 0o644);
        tar.append_data(&mut h, blob_name(&d.digest), blob)
            .map_err(ExecError::io("archive", &path))?;
    }
    let index = canonical_json(&image_index(
        vec![index_entry(&image.descriptor, names)],
        None,
    ));
    file(&mut tar, "index.json", &index).map_err(io_err("write"))?;
    file(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#).map_err(io_err("write"))?;
    if format == ArchiveFormat::Docker {
        let (manifest, repositories) = docker_documents(image, names);
        file(&mut tar, "manifest.json", &manifest).map_err(io_err("write"))?;
        if let Some(repositories) = repositories {
            file(&mut tar, "repositories", &repositories).map_err(io_err("write"))?;
        }
    }
    tar.into_inner()
        .and_then(|out| out.flush())
        .map_err(io_err("write"))?;
    Ok(())
}

/// A tar header with Hoist's fixed metadata.
fn header(kind: tar::EntryType, size: u64, mode: u32) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn blob_name(digest: &Digest) -> String {
    format!("blobs/{}/{}", digest.algorithm().name(), digest.encoded())
}

/// The manifest's entry in `index.json`, named by the first tag.
fn index_entry(manifest: &Descriptor, names: &[String]) -> Descriptor {
    let mut entry = Descriptor::new(
        manifest.media_type.clone(),
        manifest.digest.clone(),
        manifest.size,
    );
    if let Some(name) = names.first() {
        let mut annotations = BTreeMap::new();
        annotations.insert("io.containerd.image.name".to_owned(), name.clone());
        let tag = name.rsplit_once(':').map_or("latest", |(_, t)| t);
        annotations.insert(REF_NAME.to_owned(), tag.to_owned());
        entry.annotations = Some(annotations.into_iter().collect());
    }
    entry
}

/// `manifest.json` and, when the image has names, `repositories`.
fn docker_documents(image: &StoredImage, names: &[String]) -> (Vec<u8>, Option<Vec<u8>>) {
    let layers: Vec<String> = image
        .manifest
        .layers
        .iter()
        .map(|l| blob_name(&l.digest))
        .collect();
    let manifest = json!([{
        "Config": blob_name(&image.manifest.config.digest),
        "RepoTags": names,
        "Layers": layers,
    }]);
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let top = image
        .manifest
        .layers
        .last()
        .map(|l| l.digest.encoded().to_owned());
    for name in names {
        if let (Some((repo, tag)), Some(top)) = (name.rsplit_once(':'), &top) {
            repositories
                .entry(repo.to_owned())
                .or_default()
                .insert(tag.to_owned(), top.clone());
        }
    }
    let repositories = (!repositories.is_empty()).then(|| canonical_json(&repositories));
    (canonical_json(&manifest), repositories)
}

/// Extracts `image`'s layers, in order, into `dest` (created when absent): its root filesystem
/// as a directory (`--output type=local`). Whiteouts are applied; owners kept when running as
/// root.
pub fn export_rootfs(store: &Store, image: &StoredImage, dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).map_err(ExecError::io("create directory", dest))?;
    for layer in &image.manifest.layers {
        let blob = store.open_blob(&layer.digest)?;
        let path = Path::new(layer.digest.as_str());
        let reader = LayerReader::new(blob).map_err(ExecError::io("read layer", path))?;
        extract_layer(reader, dest, ExtractOptions::default())?;
    }
    Ok(())
}

/// Writes `image`'s root filesystem as one uncompressed tar to `out` (`--output type=tar`):
/// the layers are extracted into a temporary directory of the store, then written sorted.
pub fn write_rootfs_tar(store: &Store, image: &StoredImage, out: &mut dyn Write) -> Result<()> {
    let tmp = store.tmp_dir();
    let dir = crate::store::LockedTempDir::new_in(&tmp, "export")
        .map_err(ExecError::io("create a directory in", &tmp))?;
    export_rootfs(store, image, dir.path())?;
    let mut tar = TarWriter::new(out);
    write_tree(&mut tar, dir.path(), WalkOptions::default())?;
    tar.finish()?
        .flush()
        .map_err(ExecError::io("write", Path::new("tar output")))?;
    dir.close().map_err(ExecError::io("remove", &tmp))?;
    Ok(())
}

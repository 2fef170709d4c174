//! Images in an OCI image layout on disk — the local store, or a directory another tool wrote
//! (`--build-context name=oci-layout://dir`): tags, manifests, configs, and copying an image's
//! blobs from one layout into the store.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use registry_client::{Descriptor, Digest, ImageIndex, ImageManifest, Manifest, Platform};

use super::{ConfigBlob, TransferError};
use crate::error::Result;
use crate::exec::ExecError;
use crate::store::{REF_NAME, Store};

/// Manifests, indexes and configs larger than this are refused (registries cap them at 4 MiB).
const MAX_DOCUMENT: u64 = 8 * 1024 * 1024;

/// Indexes of indexes deeper than this are refused (a chain of thousands would otherwise
/// recurse until the stack overflows).
const MAX_INDEX_DEPTH: usize = 8;

/// An image held in a layout: its manifest's descriptor, the manifest and the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredImage {
    /// The image manifest's descriptor (media type, digest, size).
    pub descriptor: Descriptor,
    /// The parsed manifest: config and layer descriptors.
    pub manifest: ImageManifest,
    /// The config, with its exact bytes.
    pub config: ConfigBlob,
}

impl StoredImage {
    /// The platform the config states.
    pub fn platform(&self) -> Platform {
        let c = self.config.config();
        let variant = Some(c.variant.as_str()).filter(|v| !v.is_empty());
        Platform::new(&c.os, &c.architecture, variant)
    }
}

/// A directory holding an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/`), read
/// only. Blobs are immutable once named, so reading them needs no lock.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout at `root` (nothing is read yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Layout { root: root.into() }
    }

    /// The layout of a store.
    pub fn of_store(store: &Store) -> Self {
        Layout::new(store.root())
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the blob named `digest` is (`blobs/<algorithm>/<hex>`).
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join(digest.algorithm().name())
            .join(digest.encoded())
    }

    /// Whether the layout holds the blob.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// Reads a small blob (manifest, index, config) and checks it against `digest`.
    pub fn read_document(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        let file = File::open(&path).map_err(ExecError::io("open", &path))?;
        let mut bytes = Vec::new();
        file.take(MAX_DOCUMENT + 1)
            .read_to_end(&mut bytes)
            .map_err(ExecError::io("read", &path))?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(invalid("document", digest, "larger than 8 MiB").into());
        }
        if Digest::sha256_of(&bytes) != *digest {
            return Err(invalid("document", digest, "content does not match its digest").into());
        }
        Ok(bytes)
    }

    /// The layout's `index.json`.
    pub fn index(&self) -> Result<ImageIndex> {
        let path = self.root.join("index.json");
        let bad = |reason: String| TransferError::InvalidLayout {
            dir: self.root.clone(),
            reason,
        };
        let mut bytes = Vec::new();
        File::open(&path)
            .and_then(|f| f.take(MAX_DOCUMENT + 1).read_to_end(&mut bytes))
            .map_err(|e| bad(format!("index.json: {e}")))?;
        if bytes.len() as u64 > MAX_DOCUMENT {
            return Err(bad("index.json: larger than 8 MiB".to_owned()).into());
        }
        Ok(serde_json::from_slice(&bytes).map_err(|e| bad(format!("index.json: {e}")))?)
    }

    /// The `index.json` entry tagged `tag` (its `org.opencontainers.image.ref.name`); with no
    /// tag, the only entry (an error when there are several).
    pub fn find(&self, tag: Option<&str>) -> Result<Descriptor> {
        let index = self.index()?;
        let place = || self.root.display().to_string();
        match tag {
            Some(tag) => index
                .manifests
                .into_iter()
                .find(|d| {
                    d.annotations
                        .as_ref()
                        .and_then(|a| a.get(REF_NAME))
                        .is_some_and(|n| n == tag)
                })
                .ok_or_else(|| {
                    TransferError::NotFound {
                        name: tag.to_owned(),
                        place: place(),
                    }
                    .into()
                }),
            None => match <[Descriptor; 1]>::try_from(index.manifests) {
                Ok([only]) => Ok(only),
                Err(all) => Err(TransferError::InvalidLayout {
                    dir: self.root.clone(),
                    reason: format!(
                        "index.json has {} entries: name one with oci-layout://DIR:TAG",
                        all.len()
                    ),
                }
                .into()),
            },
        }
    }

    /// The image `descriptor` names (a manifest, or an index from which the entry for
    /// `platform`, by default the host's, is taken). `None` when a blob is missing or a lone
    /// manifest's config is for another platform than the one asked for.
    pub fn image(
        &self,
        descriptor: &Descriptor,
        platform: Option<&Platform>,
    ) -> Result<Option<StoredImage>> {
        self.image_at_depth(descriptor, platform, 0)
    }

    fn image_at_depth(
        &self,
        descriptor: &Descriptor,
        platform: Option<&Platform>,
        depth: usize,
    ) -> Result<Option<StoredImage>> {
        if depth > MAX_INDEX_DEPTH {
            return Err(invalid(
                "index",
                &descriptor.digest,
                &format!("image indexes nested more than {MAX_INDEX_DEPTH} deep"),
            )
            .into());
        }
        if !self.has_blob(&descriptor.digest) {
            return Ok(None);
        }
        let bytes = self.read_document(&descriptor.digest)?;
        let manifest = Manifest::from_bytes(&bytes, Some(&descriptor.media_type))
            .map_err(|e| invalid("manifest", &descriptor.digest, &e.to_string()))?;
        let image = match manifest {
            Manifest::Index(index) => {
                let host = Platform::host();
                let wanted = platform.unwrap_or(&host);
                let Some(chosen) = index.select(wanted) else {
                    return Err(TransferError::NoMatchingPlatform {
                        reference: descriptor.digest.to_string(),
                        platform: wanted.to_string(),
                        offered: index.platforms().join(", "),
                    }
                    .into());
                };
                return self.image_at_depth(chosen, platform, depth + 1);
            }
            Manifest::Image(image) => image,
        };
        if !self.has_blob(&image.config.digest) {
            return Ok(None);
        }
        let config = ConfigBlob::parse(self.read_document(&image.config.digest)?)?;
        let diff_ids = config.config().rootfs.diff_ids.len();
        if diff_ids != image.layers.len() {
            let reason = format!(
                "has {} layers but its config lists {diff_ids} diff_ids",
                image.layers.len()
            );
            return Err(invalid("manifest", &descriptor.digest, &reason).into());
        }
        let found = StoredImage {
            descriptor: Descriptor::new(
                manifest_media_type(&image, &descriptor.media_type),
                descriptor.digest.clone(),
                bytes.len() as u64,
            ),
            manifest: image,
            config,
        };
        let stated = found.platform();
        if let Some(wanted) = platform
            && !stated.os.is_empty()
            && !wanted.matches(&stated)
        {
            return Ok(None);
        }
        Ok(Some(found))
    }

    /// Copies `image`'s blobs (layers, config, manifest) from this layout into `store`, each
    /// streamed and verified; blobs the store has are skipped.
    pub fn copy_into(&self, image: &StoredImage, store: &Store) -> Result<()> {
        let blobs = image
            .manifest
            .layers
            .iter()
            .chain([&image.manifest.config, &image.descriptor]);
        for d in blobs {
            if store.has_blob(&d.digest) {
                continue;
            }
            let path = self.blob_path(&d.digest);
            let mut file = File::open(&path).map_err(ExecError::io("open", &path))?;
            let mut writer = store.blob_writer()?;
            // One byte more than stated, to see a blob larger than its descriptor says.
            let copied = io::copy(&mut (&mut file).take(d.size.saturating_add(1)), &mut writer)
                .map_err(ExecError::io("copy", &path))?;
            if copied != d.size {
                let actual = if copied > d.size {
                    "more".to_owned()
                } else {
                    copied.to_string()
                };
                let reason = format!(
                    "the blob has {actual} bytes, its descriptor says size {}",
                    d.size
                );
                return Err(invalid("blob", &d.digest, &reason).into());
            }
            writer.commit(Some(&d.digest))?;
        }
        Ok(())
    }
}

/// The manifest's media type: the one it declares, else the descriptor's.
fn manifest_media_type(image: &ImageManifest, declared: &str) -> String {
    image
        .media_type
        .clone()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| {
            if declared.is_empty() {
                registry_client::media_type::OCI_MANIFEST.to_owned()
            } else {
                declared.to_owned()
            }
        })
}

fn invalid(what: &'static str, digest: &Digest, reason: &str) -> TransferError {
    TransferError::InvalidManifest {
        what,
        digest: digest.to_string(),
        reason: reason.to_owned(),
    }
}

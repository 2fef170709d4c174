//! Tags: `index.json`, an OCI index whose manifest descriptors carry their tag in the
//! `org.opencontainers.image.ref.name` annotation.
//!
//! The file is rewritten whole, atomically, under the exclusive `index.lock`; readers take the
//! lock shared. Entries are sorted by tag then digest and serialised with sorted annotation maps,
//! so the same tags give the same bytes. Descriptors without a tag (written by other tools) are
//! kept as they are.

use std::fs;
use std::path::PathBuf;

use registry_client::{Descriptor, ImageIndex, media_type};

use super::error::{StoreError, io_error};
use super::lock::LockMode;
use super::{Store, temp};
use crate::Result;

/// The annotation holding a tag.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub(super) const INDEX_LOCK: &str = "index.lock";

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations.as_ref()?.get(REF_NAME).map(String::as_str)
}

impl Store {
    /// Points tag `name` at `descriptor` (a manifest or index already in the store), replacing
    /// what the tag pointed at before.
    pub fn tag(&self, name: &str, descriptor: &Descriptor) -> Result<()> {
        if !self.has_blob(&descriptor.digest) {
            return Err(StoreError::BlobNotFound {
                digest: descriptor.digest.clone(),
            }
            .into());
        }
        let _lock = self.lock(INDEX_LOCK, LockMode::Exclusive)?;
        let mut index = self.read_index()?;
        index.manifests.retain(|d| ref_name(d) != Some(name));
        let mut entry = descriptor.clone();
        entry
            .annotations
            .get_or_insert_default()
            .insert(REF_NAME.to_owned(), name.to_owned());
        index.manifests.push(entry);
        self.write_index(index)
    }

    /// Removes tag `name`; returns whether it existed. The blobs stay (GC removes them).
    pub fn untag(&self, name: &str) -> Result<bool> {
        let _lock = self.lock(INDEX_LOCK, LockMode::Exclusive)?;
        let mut index = self.read_index()?;
        let before = index.manifests.len();
        index.manifests.retain(|d| ref_name(d) != Some(name));
        if index.manifests.len() == before {
            return Ok(false);
        }
        self.write_index(index)?;
        Ok(true)
    }

    /// The descriptor tag `name` points at (with its `ref.name` annotation), if any.
    pub fn resolve(&self, name: &str) -> Result<Option<Descriptor>> {
        let _lock = self.lock(INDEX_LOCK, LockMode::Shared)?;
        let index = self.read_index()?;
        Ok(index
            .manifests
            .into_iter()
            .find(|d| ref_name(d) == Some(name)))
    }

    /// Every tag and its descriptor, sorted by tag.
    pub fn tags(&self) -> Result<Vec<(String, Descriptor)>> {
        let _lock = self.lock(INDEX_LOCK, LockMode::Shared)?;
        let mut tags: Vec<(String, Descriptor)> = self
            .read_index()?
            .manifests
            .into_iter()
            .filter_map(|d| Some((ref_name(&d)?.to_owned(), d)))
            .collect();
        tags.sort_by(|a, b| (&a.0, &a.1.digest).cmp(&(&b.0, &b.1.digest)));
        Ok(tags)
    }

    /// Writes an empty `index.json` when there is none.
    pub(super) fn init_index(&self) -> Result<()> {
        let _lock = self.lock(INDEX_LOCK, LockMode::Exclusive)?;
        if self.index_path().exists() {
            return Ok(());
        }
        self.write_index(ImageIndex {
            schema_version: 2,
            media_type: Some(media_type::OCI_INDEX.to_owned()),
            manifests: Vec::new(),
            annotations: None,
        })
    }

    fn index_path(&self) -> PathBuf {
        self.root.join("index.json")
    }

    /// Reads `index.json`; the caller holds the index lock.
    pub(super) fn read_index(&self) -> Result<ImageIndex> {
        let path = self.index_path();
        let bytes = fs::read(&path).map_err(io_error("read", &path))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            StoreError::MalformedMetadata {
                path,
                message: e.to_string(),
            }
            .into()
        })
    }

    /// Sorts and atomically writes `index`; the caller holds the exclusive index lock.
    fn write_index(&self, mut index: ImageIndex) -> Result<()> {
        index.manifests.sort_by(|a, b| {
            (ref_name(a), &a.digest, &a.media_type).cmp(&(ref_name(b), &b.digest, &b.media_type))
        });
        let path = self.index_path();
        let bytes = serde_json::to_vec(&index).map_err(|e| StoreError::MalformedMetadata {
            path: path.clone(),
            message: e.to_string(),
        })?;
        temp::write_atomic(&self.tmp_dir(), &path, &bytes)
    }
}

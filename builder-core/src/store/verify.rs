//! `Store::verify`: re-hash every blob (streamed), check that every reference (tags, manifests,
//! indexes, configs, cache records) points at a present blob of the right size holding valid
//! JSON where JSON is expected, that every snapshot is complete, and list the leftovers of dead
//! processes (temporary files and directories, partial snapshots, mounts; see `recover.rs`).

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use registry_client::digest::{Algorithm, Hasher};
use registry_client::{Digest, ImageManifest, media_type};

use super::cache::CacheRecord;
use super::error::io_error;
use super::lock::LockMode;
use super::recover::Leftover;
use super::{STALE_TEMP_AGE, Store};
use crate::Result;

/// A reference to a blob the store does not hold (or holds with another size).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingBlob {
    /// What refers to it: `index.json tag <name>`, `manifest <digest>`, `cache <hex>`.
    pub referenced_by: String,
    /// The blob referred to.
    pub digest: Digest,
}

/// What [`Store::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifyReport {
    /// How many blobs were re-hashed.
    pub blobs_checked: u64,
    /// Blobs whose content does not hash to their name.
    pub corrupt_blobs: Vec<Digest>,
    /// Files under `blobs/sha256/` whose name is not a digest.
    pub stray_files: Vec<PathBuf>,
    /// Blobs `index.json` calls image manifests that do not parse as one.
    pub unreadable_manifests: Vec<Digest>,
    /// References (index, manifests, cache records) to absent blobs.
    pub missing_blobs: Vec<MissingBlob>,
    /// Cache records that do not parse or are not named by a cache key.
    pub bad_cache_records: Vec<PathBuf>,
    /// Image configs (named by a manifest) that are not a JSON object.
    pub unreadable_configs: Vec<Digest>,
    /// Entries under `hoist/snapshots/` that are neither a complete snapshot (a directory named
    /// by a digest) nor a snapshot being extracted (`.tmp-*`).
    pub bad_snapshots: Vec<PathBuf>,
    /// What dead processes left behind ([`Store::recover`] removes it).
    pub leftovers: Vec<Leftover>,
}

impl VerifyReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.corrupt_blobs.is_empty()
            && self.stray_files.is_empty()
            && self.unreadable_manifests.is_empty()
            && self.missing_blobs.is_empty()
            && self.bad_cache_records.is_empty()
            && self.unreadable_configs.is_empty()
            && self.bad_snapshots.is_empty()
            && self.leftovers.is_empty()
    }
}

impl Store {
    /// Re-hashes every blob and checks `index.json`, the manifests, indexes and configs it
    /// leads to, the cache records, the snapshots, and lists leftovers (unlocked temporary
    /// entries whose creator is gone or older than [`STALE_TEMP_AGE`]). Problems are
    /// reported, not returned as errors; errors are I/O failures. Memory does not grow with
    /// blob sizes (blobs are hashed in 256 KiB reads).
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        self.verify_blobs(&mut report)?;
        self.verify_index(&mut report)?;
        self.verify_cache(&mut report)?;
        self.verify_snapshots(&mut report)?;
        report.leftovers = self.leftovers(STALE_TEMP_AGE)?;
        Ok(report)
    }

    fn verify_snapshots(&self, report: &mut VerifyReport) -> Result<()> {
        for path in sorted_entries(&self.hoist_dir().join("snapshots"))? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with(".tmp-") {
                continue; // in progress, or a leftover (`leftovers` judges)
            }
            let named = Digest::parse(&format!("sha256:{name}")).is_ok();
            if !named || !path.symlink_metadata().is_ok_and(|m| m.is_dir()) {
                report.bad_snapshots.push(path);
            }
        }
        Ok(())
    }

    fn verify_blobs(&self, report: &mut VerifyReport) -> Result<()> {
        let dir = self.root.join("blobs").join("sha256");
        for path in sorted_entries(&dir)? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Ok(digest) = Digest::parse(&format!("sha256:{name}")) else {
                report.stray_files.push(path);
                continue;
            };
            report.blobs_checked += 1;
            if hash_file(&path)? != digest {
                report.corrupt_blobs.push(digest);
            }
        }
        Ok(())
    }

    fn verify_index(&self, report: &mut VerifyReport) -> Result<()> {
        let index = {
            let _lock = self.lock("index.lock", LockMode::Shared)?;
            self.read_index()?
        };
        for d in &index.manifests {
            let tag = d
                .annotations
                .as_ref()
                .and_then(|a| a.get(super::index::REF_NAME))
                .map_or("(untagged)", String::as_str);
            let by = format!("index.json tag {tag}");
            if !self.check_present(&by, &d.digest, d.size, report)? {
                continue;
            }
            self.verify_document(&d.media_type, &d.digest, report, 0)?;
        }
        Ok(())
    }

    /// Checks a present manifest or index (by `media_type`), recursively to `depth` 8.
    fn verify_document(
        &self,
        media: &str,
        digest: &Digest,
        report: &mut VerifyReport,
        depth: u32,
    ) -> Result<()> {
        let essence = media_type::essence(media);
        if essence == media_type::OCI_MANIFEST || essence == media_type::DOCKER_MANIFEST {
            return self.verify_manifest(digest, report);
        }
        if essence != media_type::OCI_INDEX && essence != media_type::DOCKER_MANIFEST_LIST {
            return Ok(());
        }
        let path = self.blob_path(digest);
        let bytes = fs::read(&path).map_err(io_error("read", &path))?;
        let Ok(index) = serde_json::from_slice::<registry_client::ImageIndex>(&bytes) else {
            report.unreadable_manifests.push(digest.clone());
            return Ok(());
        };
        // An index may name platforms that were not pulled: only present children are checked.
        for child in &index.manifests {
            let sha256 = child.digest.algorithm() == Algorithm::Sha256;
            if depth < 8 && sha256 && self.blob_size(&child.digest)?.is_some() {
                let by = format!("index {digest}");
                if self.check_present(&by, &child.digest, child.size, report)? {
                    self.verify_document(&child.media_type, &child.digest, report, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    fn verify_manifest(&self, digest: &Digest, report: &mut VerifyReport) -> Result<()> {
        let path = self.blob_path(digest);
        let bytes = fs::read(&path).map_err(io_error("read", &path))?;
        let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&bytes) else {
            report.unreadable_manifests.push(digest.clone());
            return Ok(());
        };
        let by = format!("manifest {digest}");
        for d in std::iter::once(&manifest.config).chain(&manifest.layers) {
            self.check_present(&by, &d.digest, d.size, report)?;
        }
        let config = self.blob_path(&manifest.config.digest);
        let sha256 = manifest.config.digest.algorithm() == Algorithm::Sha256;
        if sha256 && self.blob_size(&manifest.config.digest)? == Some(manifest.config.size) {
            let bytes = fs::read(&config).map_err(io_error("read", &config))?;
            let object =
                serde_json::from_slice::<serde_json::Value>(&bytes).is_ok_and(|v| v.is_object());
            if !object {
                report
                    .unreadable_configs
                    .push(manifest.config.digest.clone());
            }
        }
        Ok(())
    }

    fn verify_cache(&self, report: &mut VerifyReport) -> Result<()> {
        for path in sorted_entries(&self.cache_dir())? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let record = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<CacheRecord>(&b).ok());
            let (Ok(_), Some(record)) = (super::CacheKey::from_hex(name), record) else {
                report.bad_cache_records.push(path);
                continue;
            };
            if let Some(layer) = &record.layer {
                let by = format!("cache {name}");
                let d = &layer.descriptor;
                self.check_present(&by, &d.digest, d.size, report)?;
            }
        }
        Ok(())
    }

    /// Records a [`MissingBlob`] unless the blob is there with `size`; returns whether it is.
    fn check_present(
        &self,
        by: &str,
        digest: &Digest,
        size: u64,
        report: &mut VerifyReport,
    ) -> Result<bool> {
        let present =
            digest.algorithm() == Algorithm::Sha256 && self.blob_size(digest)? == Some(size);
        if !present {
            report.missing_blobs.push(MissingBlob {
                referenced_by: by.to_owned(),
                digest: digest.clone(),
            });
        }
        Ok(present)
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("read directory", dir))? {
        paths.push(entry.map_err(io_error("read directory", dir))?.path());
    }
    paths.sort();
    Ok(paths)
}

/// The SHA-256 of a file, streamed.
fn hash_file(path: &Path) -> Result<Digest> {
    let mut file = File::open(path).map_err(io_error("open", path))?;
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io_error("read", path))?;
        if n == 0 {
            return Ok(hasher.finish());
        }
        hasher.update(&buf[..n]);
    }
}

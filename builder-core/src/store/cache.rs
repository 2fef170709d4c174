//! The cache index: one small JSON record per cache key, under `hoist/cache/<hex>`.
//!
//! Records are written atomically (temp file, fsync, rename) under the exclusive `cache.lock`
//! and read under the shared one. A record that does not parse, or whose layer blob is missing
//! or has the wrong size, is a miss: the step is simply rebuilt.

use std::fmt;
use std::fs;
use std::path::PathBuf;

use registry_client::{Descriptor, Digest};
use serde::{Deserialize, Serialize};

use super::error::{StoreError, io_error};
use super::lock::LockMode;
use super::{Store, temp};
use crate::Result;

pub(super) const CACHE_LOCK: &str = "cache.lock";

/// The key of a cached step: the SHA-256 digest of the op's semantic inputs.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "Digest", into = "Digest")]
pub struct CacheKey(Digest);

impl CacheKey {
    /// The key whose digest is the SHA-256 of `canonical_bytes`.
    pub fn sha256_of(canonical_bytes: &[u8]) -> CacheKey {
        CacheKey(Digest::sha256_of(canonical_bytes))
    }

    /// The 64 lowercase hex digits.
    pub fn hex(&self) -> &str {
        self.0.encoded()
    }

    /// The key as a digest (`sha256:<hex>`).
    pub fn digest(&self) -> &Digest {
        &self.0
    }

    /// Parses 64 lowercase hex digits (the form used as a file name).
    pub fn from_hex(hex: &str) -> Result<CacheKey, StoreError> {
        Digest::parse(&format!("sha256:{hex}"))
            .map_err(|_| StoreError::InvalidCacheKey {
                key: hex.to_owned(),
            })
            .and_then(CacheKey::try_from)
    }
}

impl TryFrom<Digest> for CacheKey {
    type Error = StoreError;

    fn try_from(digest: Digest) -> Result<Self, StoreError> {
        match digest.algorithm() {
            registry_client::digest::Algorithm::Sha256 => Ok(CacheKey(digest)),
            _ => Err(StoreError::InvalidCacheKey {
                key: digest.to_string(),
            }),
        }
    }
}

impl From<CacheKey> for Digest {
    fn from(key: CacheKey) -> Digest {
        key.0
    }
}

impl fmt::Display for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for CacheKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CacheKey({})", self.0)
    }
}

/// A layer a cached step produced: its blob and the digest of its uncompressed tar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedLayer {
    /// The compressed layer blob.
    pub descriptor: Descriptor,
    /// The sha256 of the uncompressed tar.
    pub diff_id: Digest,
}

/// What a build needs to reuse a step without doing it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CacheRecord {
    /// The layer the step produced, if it produced one.
    pub layer: Option<CachedLayer>,
    /// Whatever else the executor needs (a config change, history): opaque to the store.
    pub payload: serde_json::Value,
    /// When the record was made, in seconds since the Unix epoch (set by the caller).
    pub created_at: u64,
}

impl Store {
    /// The record for `key`, or `None` on a miss (absent, unreadable, or its layer blob gone).
    pub fn cache_get(&self, key: &CacheKey) -> Result<Option<CacheRecord>> {
        let path = self.cache_path(key);
        let bytes = {
            let _lock = self.lock(CACHE_LOCK, LockMode::Shared)?;
            match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(io_error("read", &path)(e)),
            }
        };
        let Ok(record) = serde_json::from_slice::<CacheRecord>(&bytes) else {
            return Ok(None);
        };
        if !self.has_record_blobs(&record)? {
            return Ok(None);
        }
        Ok(Some(record))
    }

    /// Stores `record` under `key`, replacing any previous record.
    pub fn cache_put(&self, key: &CacheKey, record: &CacheRecord) -> Result<()> {
        let path = self.cache_path(key);
        let bytes = serde_json::to_vec(record).map_err(|e| StoreError::MalformedMetadata {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let _lock = self.lock(CACHE_LOCK, LockMode::Exclusive)?;
        temp::write_atomic(&self.tmp_dir(), &path, &bytes)
    }

    /// Whether every blob `record` refers to is present with its recorded size.
    pub(super) fn has_record_blobs(&self, record: &CacheRecord) -> Result<bool> {
        let Some(layer) = &record.layer else {
            return Ok(true);
        };
        if layer.descriptor.digest.algorithm() != registry_client::digest::Algorithm::Sha256 {
            return Ok(false);
        }
        Ok(self.blob_size(&layer.descriptor.digest)? == Some(layer.descriptor.size))
    }

    pub(super) fn cache_dir(&self) -> PathBuf {
        self.hoist_dir().join("cache")
    }

    fn cache_path(&self, key: &CacheKey) -> PathBuf {
        self.cache_dir().join(key.hex())
    }
}

//! File content digests remembered by stat data, so an unchanged context is not read again.
//!
//! A file's digest is reused when its path, size, mtime, ctime, inode and mode are all as they
//! were when it was hashed. ctime is in the key because it cannot be set from user space:
//! rewriting a file and restoring its mtime still changes it. A file modified less than
//! [`SETTLE_WINDOW_NS`] before it was hashed is not remembered (git's "racily clean" problem:
//! a second write in the same timestamp tick would leave every stat field unchanged).
//!
//! The cache is one JSON file, loaded once and rewritten atomically (temp file in the same
//! directory, fsync, rename, fsync of the directory). A missing or unreadable file is an empty
//! cache, never an error: the cache only saves work.

use std::collections::BTreeMap;
use std::fs::{File, Metadata};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use registry_client::Digest;
use serde::{Deserialize, Serialize};

use super::ContextError;

/// The cache file's name inside the cache directory.
const FILE_NAME: &str = "context-stat-cache.json";
/// Bumped when the key or the digest definition changes; other versions are ignored.
const VERSION: u32 = 1;
/// How long after its last change a file's stat data is trusted (covers coarse timestamps).
pub const SETTLE_WINDOW_NS: i64 = 2_000_000_000;

/// The stat data a cached digest is valid for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StatKey {
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
    ino: u64,
    mode: u32,
}

impl StatKey {
    /// The key of a file's current metadata.
    pub(crate) fn of(meta: &Metadata) -> StatKey {
        StatKey {
            size: meta.size(),
            mtime_ns: meta.mtime().saturating_mul(1_000_000_000) + meta.mtime_nsec(),
            ctime_ns: meta.ctime().saturating_mul(1_000_000_000) + meta.ctime_nsec(),
            ino: meta.ino(),
            mode: meta.mode(),
        }
    }

    /// Whether the file last changed long enough ago for its stat data to be trusted.
    pub(crate) fn is_settled(&self, now: SystemTime) -> bool {
        let now_ns = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
        // Any later write sets mtime to "now", so only a recent mtime can hide one; a restored
        // mtime changes ctime, which is part of the key.
        now_ns.saturating_sub(self.mtime_ns) >= SETTLE_WINDOW_NS
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedDigest {
    #[serde(flatten)]
    key: StatKey,
    digest: Digest,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    files: BTreeMap<String, CachedDigest>,
}

/// Content digests of files keyed by path and stat data, optionally persisted in a directory.
#[derive(Debug, Default)]
pub struct StatCache {
    dir: Option<PathBuf>,
    files: BTreeMap<String, CachedDigest>,
    dirty: bool,
}

impl StatCache {
    /// A cache that lives only as long as this value.
    pub fn in_memory() -> StatCache {
        StatCache::default()
    }

    /// Loads the cache kept in `dir` (empty when missing, unreadable or of another version).
    pub fn load(dir: &Path) -> StatCache {
        let files = std::fs::read(dir.join(FILE_NAME))
            .ok()
            .and_then(|bytes| serde_json::from_slice::<CacheFile>(&bytes).ok())
            .filter(|file| file.version == VERSION)
            .map(|file| file.files)
            .unwrap_or_default();
        StatCache {
            dir: Some(dir.to_path_buf()),
            files,
            dirty: false,
        }
    }

    /// How many file digests are cached.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The digest cached for `path` if its stat data is still `key`.
    pub(crate) fn lookup(&self, path: &str, key: &StatKey) -> Option<Digest> {
        self.files
            .get(path)
            .filter(|c| c.key == *key)
            .map(|c| c.digest.clone())
    }

    /// Remembers `digest` for `path` at stat data `key`.
    pub(crate) fn insert(&mut self, path: String, key: StatKey, digest: Digest) {
        self.files.insert(path, CachedDigest { key, digest });
        self.dirty = true;
    }

    /// Writes the cache to its directory if it changed (atomically; see the module docs).
    pub fn save(&mut self) -> Result<(), ContextError> {
        let Some(dir) = &self.dir else {
            return Ok(());
        };
        if !self.dirty {
            return Ok(());
        }
        std::fs::create_dir_all(dir).map_err(|e| ContextError::io(dir, &e))?;
        let file = CacheFile {
            version: VERSION,
            files: std::mem::take(&mut self.files),
        };
        let written = write_atomically(dir, &file);
        self.files = file.files;
        written?;
        self.dirty = false;
        Ok(())
    }
}

fn write_atomically(dir: &Path, file: &CacheFile) -> Result<(), ContextError> {
    let io_err = |e: &std::io::Error| ContextError::io(dir.join(FILE_NAME), e);
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| io_err(&e))?;
    let bytes = serde_json::to_vec(file).map_err(|e| io_err(&e.into()))?;
    tmp.write_all(&bytes).map_err(|e| io_err(&e))?;
    tmp.as_file().sync_all().map_err(|e| io_err(&e))?;
    tmp.persist(dir.join(FILE_NAME))
        .map_err(|e| io_err(&e.error))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ContextError::io(dir, &e))
}

//! The content checksum of a selection: what a COPY cache key depends on.
//!
//! For every root (its matched path) and every entry in order: the relative path, the kind,
//! the permission and special bits, the symlink target, the device number of devices, and for
//! regular files the sha256 of the content. Never mtime, ownership or inode numbers: touching
//! or re-cloning a file keeps the checksum. File digests come from the [`StatCache`] when the
//! file's stat data is unchanged.

use std::fs::File;
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use registry_client::Digest;
use registry_client::digest::{Algorithm, Hasher};

use super::entry::{EntryKind, SelectedEntry};
use super::stat_cache::StatKey;
use super::{Context, ContextError, Selection, StatCache};

/// The tag that versions the checksum definition.
const CHECKSUM_TAG: &[u8] = b"hoist.context-checksum.v1\0";
/// Read buffer for hashing file content.
const READ_BUFFER: usize = 64 * 1024;

/// How many file contents were read versus served from the stat cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChecksumStats {
    /// Files whose content was read and hashed.
    pub files_hashed: u64,
    /// Files whose digest came from the stat cache.
    pub files_from_cache: u64,
}

/// The live counters behind [`ChecksumStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    hashed: AtomicU64,
    cached: AtomicU64,
}

impl Context {
    /// The content digest of `selection` (see the module docs for what it covers).
    pub fn checksum(&self, selection: &Selection) -> Result<Digest, ContextError> {
        let mut hasher = Hasher::new(Algorithm::Sha256);
        hasher.update(CHECKSUM_TAG);
        for root in &selection.roots {
            field(&mut hasher, b'R', root.matched_path.as_bytes());
            self.hash_entry(&mut hasher, &root.entry)?;
            for entry in &root.entries {
                self.hash_entry(&mut hasher, entry)?;
            }
        }
        self.lock_cache().save()?;
        Ok(hasher.finish())
    }

    /// Files hashed and served from cache since this context was opened.
    pub fn checksum_stats(&self) -> ChecksumStats {
        ChecksumStats {
            files_hashed: self.stats.hashed.load(Ordering::Relaxed),
            files_from_cache: self.stats.cached.load(Ordering::Relaxed),
        }
    }

    /// The sha256 of a regular file's content, from the stat cache when unchanged.
    pub fn file_digest(&self, path: &Path) -> Result<Digest, ContextError> {
        self.file_digest_of(path, None)
    }

    /// [`file_digest`](Self::file_digest), refusing a file that is not the inode `expected`
    /// (`(dev, ino)` seen by the walk): a directory on the way swapped for a symlink between
    /// walk and hashing must not make us read outside the context.
    fn file_digest_of(
        &self,
        path: &Path,
        expected: Option<(u64, u64)>,
    ) -> Result<Digest, ContextError> {
        let meta = std::fs::symlink_metadata(path).map_err(|e| ContextError::io(path, &e))?;
        if expected.is_some_and(|e| e != (meta.dev(), meta.ino())) {
            return Err(changed(path));
        }
        let key = StatKey::of(&meta);
        let cache_key = path.to_str().map(str::to_string);
        if let Some(name) = &cache_key
            && let Some(digest) = self.lock_cache().lookup(name, &key)
        {
            self.stats.cached.fetch_add(1, Ordering::Relaxed);
            return Ok(digest);
        }
        let mut file = File::open(path).map_err(|e| ContextError::io(path, &e))?;
        let opened = file.metadata().map_err(|e| ContextError::io(path, &e))?;
        let identity = (opened.dev(), opened.ino());
        if !opened.is_file()
            || identity != (meta.dev(), meta.ino())
            || expected.is_some_and(|e| e != identity)
        {
            // Replaced between lstat and open (perhaps by a symlink): do not read it.
            return Err(changed(path));
        }
        let digest = hash_content(&mut file, path)?;
        self.stats.hashed.fetch_add(1, Ordering::Relaxed);
        let after = file.metadata().map_err(|e| ContextError::io(path, &e))?;
        if let Some(name) = cache_key
            && StatKey::of(&after) == key
            && key.is_settled(SystemTime::now())
        {
            self.lock_cache().insert(name, key, digest.clone());
        }
        Ok(digest)
    }

    fn hash_entry(&self, hasher: &mut Hasher, entry: &SelectedEntry) -> Result<(), ContextError> {
        field(hasher, b'P', entry.rel_path.as_os_str().as_bytes());
        hasher.update(&entry.mode.to_be_bytes());
        match &entry.kind {
            EntryKind::File => {
                let digest = self.file_digest_of(&entry.abs_path, Some((entry.dev, entry.ino)))?;
                field(hasher, b'F', digest.as_str().as_bytes());
            }
            EntryKind::Dir => field(hasher, b'D', b""),
            EntryKind::Symlink(target) => field(hasher, b'L', target.as_os_str().as_bytes()),
            EntryKind::Other => field(hasher, b'O', &entry.rdev.to_be_bytes()),
        }
        Ok(())
    }

    fn lock_cache(&self) -> std::sync::MutexGuard<'_, StatCache> {
        // A panic while holding the lock cannot leave the map inconsistent (single inserts).
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn changed(path: &Path) -> ContextError {
    ContextError::io(
        path,
        &std::io::Error::other("file changed while reading the build context"),
    )
}

/// A tagged, length-prefixed field: unambiguous however names and targets look.
fn field(hasher: &mut Hasher, tag: u8, bytes: &[u8]) {
    hasher.update(&[tag]);
    hasher.update(&(bytes.len() as u64).to_be_bytes());
    hasher.update(bytes);
}

/// Streams `file` through sha256 with a fixed buffer.
fn hash_content(file: &mut File, path: &Path) -> Result<Digest, ContextError> {
    let mut hasher = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        match file.read(&mut buf) {
            Ok(0) => return Ok(hasher.finish()),
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ContextError::io(path, &e)),
        }
    }
}

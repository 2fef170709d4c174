//! Temporary files under `hoist/tmp/`, atomic replacement of metadata files, and the removal of
//! temporary files left by dead processes.
//!
//! Every temporary file is locked (`flock`, exclusive) by the process writing it from creation
//! until it is renamed into place or removed. Recovery removes a temporary file only when it is
//! older than a threshold *and* its lock can be taken without waiting: a live writer always
//! holds the lock, and the kernel releases the lock of a killed one. The age threshold covers the
//! instant between a file's creation and its locking.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use rustix::fs::{FlockOperation, flock};

use super::error::io_error;
use crate::Result;

/// A temporary file under `hoist/tmp/`, locked by this process, removed on drop unless persisted.
#[derive(Debug)]
pub(crate) struct TempFile {
    file: File,
    path: PathBuf,
    /// Set once renamed into place: the drop then leaves the path alone.
    persisted: bool,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TempFile {
    /// Creates and locks a new, empty temporary file in `dir`, named after `prefix`.
    pub(crate) fn create(dir: &Path, prefix: &str) -> Result<TempFile> {
        loop {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}-{}-{n}-{nanos:08x}", std::process::id());
            let path = dir.join(name);
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => {
                    flock(&file, FlockOperation::NonBlockingLockExclusive)
                        .map_err(io_error("lock", &path))?;
                    return Ok(TempFile {
                        file,
                        path,
                        persisted: false,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(io_error("create", &path)(e)),
            }
        }
    }

    /// The open file.
    pub(crate) fn file(&mut self) -> &mut File {
        &mut self.file
    }

    /// The temporary path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Fsyncs the file's content.
    pub(crate) fn sync(&mut self) -> Result<()> {
        let path = self.path.clone();
        self.file().sync_all().map_err(io_error("fsync", &path))
    }

    /// Renames the file to `dest` (replacing it) and fsyncs `dest`'s directory.
    pub(crate) fn persist(mut self, dest: &Path) -> Result<()> {
        fs::rename(&self.path, dest).map_err(io_error("rename", dest))?;
        self.persisted = true;
        sync_dir_of(dest)
    }

    /// Renames the file to `dest` unless `dest` exists; returns whether it was renamed.
    ///
    /// Either way the temporary file is gone afterwards.
    pub(crate) fn persist_noclobber(mut self, dest: &Path) -> Result<bool> {
        use rustix::fs::{CWD, RenameFlags, renameat_with};
        let renamed = match renameat_with(CWD, &self.path, CWD, dest, RenameFlags::NOREPLACE) {
            Ok(()) => true,
            Err(rustix::io::Errno::EXIST) => false,
            // Filesystems without RENAME_NOREPLACE: check, then rename. Two writers racing here
            // hold the same verified bytes, so replacing one with the other is harmless.
            Err(rustix::io::Errno::INVAL) if !dest.exists() => {
                fs::rename(&self.path, dest).map_err(io_error("rename", dest))?;
                true
            }
            Err(rustix::io::Errno::INVAL) => false,
            Err(e) => return Err(io_error("rename", dest)(e)),
        };
        if renamed {
            self.persisted = true;
            sync_dir_of(dest)?;
        }
        Ok(renamed)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.persisted {
            // Best effort: recovery removes what this misses.
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// Fsyncs the directory holding `path`, so that a rename into it is durable.
pub(crate) fn sync_dir_of(path: &Path) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("fsync directory", dir))
}

/// Atomically replaces `dest` with `bytes`: a temp file in `tmp_dir`, fsync, rename, dir fsync.
pub(crate) fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> Result<()> {
    let mut temp = TempFile::create(tmp_dir, "meta")?;
    let path = temp.path().to_path_buf();
    temp.file()
        .write_all(bytes)
        .map_err(io_error("write", &path))?;
    temp.sync()?;
    temp.persist(dest)
}

/// Removes files in `tmp_dir` older than `min_age` whose lock nobody holds; returns how many.
pub(crate) fn remove_stale(tmp_dir: &Path, min_age: Duration, now: SystemTime) -> Result<usize> {
    let entries = fs::read_dir(tmp_dir).map_err(io_error("read directory", tmp_dir))?;
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(io_error("read directory", tmp_dir))?;
        let path = entry.path();
        let Ok(meta) = fs::symlink_metadata(&path) else {
            continue; // renamed away meanwhile
        };
        let age = meta
            .modified()
            .ok()
            .and_then(|m| now.duration_since(m).ok())
            .unwrap_or(Duration::ZERO);
        if !meta.is_file() || age < min_age {
            continue;
        }
        let Ok(file) = File::open(&path) else {
            continue;
        };
        if flock(&file, FlockOperation::NonBlockingLockExclusive).is_ok() {
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error("remove", &path)(e)),
            }
        }
    }
    Ok(removed)
}

//! Advisory `flock(2)` locks on files under `hoist/locks/`.
//!
//! `flock` locks belong to the open file description, so two `open`s in one process contend like
//! two processes do, and the kernel drops a lock when its holder exits, even by `SIGKILL`: a
//! killed `hoist` never leaves a stale lock behind, and no lock file ever needs deleting.

use std::fs::{File, OpenOptions};
use std::path::Path;

use rustix::fs::{FlockOperation, flock};

use super::error::io_error;
use crate::Result;

/// A held lock; dropping it (closing the file) releases it.
#[derive(Debug)]
pub(crate) struct LockGuard {
    _file: File,
}

/// Whether a lock excludes everyone or only writers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockMode {
    /// Many readers may hold it at once.
    Shared,
    /// One writer, no readers.
    Exclusive,
}

impl LockGuard {
    /// Blocks until the lock at `path` (created if absent) is held in `mode`.
    pub(crate) fn acquire(path: &Path, mode: LockMode) -> Result<LockGuard> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io_error("open lock", path))?;
        let op = match mode {
            LockMode::Shared => FlockOperation::LockShared,
            LockMode::Exclusive => FlockOperation::LockExclusive,
        };
        loop {
            match flock(&file, op) {
                Ok(()) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(io_error("lock", path)(e)),
            }
        }
        Ok(LockGuard { _file: file })
    }
}

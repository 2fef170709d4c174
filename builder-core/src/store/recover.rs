//! Leftovers of killed processes: temporary files and directories under `hoist/tmp/`, partial
//! snapshots (`hoist/snapshots/.tmp-*`), the mounts a killed `RUN` step left under them, and
//! old temporary files beside the context stat caches (`hoist/stat-cache/*/.tmp*`).
//!
//! **Liveness.** Every temporary entry is held by its creator with an exclusive `flock` from
//! just after its creation until it is renamed into place or removed ([`LockedTempDir`] for
//! directories, `TempFile` for files), and its name carries the creator's pid
//! (`<prefix>-<pid>-...`). An entry is a *leftover* when its lock is free and either its
//! creator is gone (no `/proc/<pid>`) or it is older than a threshold (which covers the instant
//! between creation and locking when the pid has been reused). The kernel releases the lock of
//! a killed process, so a `SIGKILL`ed build's entries are leftovers at once, while those of a
//! running build never are.
//!
//! **Locks** are `flock(2)` on files under `hoist/locks/`: the kernel drops them when their
//! holder dies, so a lock can never be stale and lock files are never removed.

use std::fs::{self, File};
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use rustix::fs::{FlockOperation, flock};

use super::Store;
use super::error::io_error;
use super::gc::entries;
use crate::Result;

/// What kind of leftover an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum LeftoverKind {
    /// A temporary file under `hoist/tmp/` (a blob or metadata file being written).
    TempFile,
    /// A temporary directory under `hoist/tmp/` (a build's scratch space, an export).
    TempDir,
    /// A snapshot being extracted (`hoist/snapshots/.tmp-*`), never renamed into place.
    PartialSnapshot,
    /// A mount (a `RUN` step's overlay or bind mount) below a leftover directory.
    Mount,
}

/// An entry a dead process left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leftover {
    /// What it is.
    pub kind: LeftoverKind,
    /// Where it is.
    pub path: PathBuf,
}

/// A temporary directory held (`flock`, exclusive) by this process and removed on drop, so that
/// recovery never takes it for a leftover; named `<prefix>-<pid>-<random>`.
#[derive(Debug)]
pub struct LockedTempDir {
    dir: Option<tempfile::TempDir>,
    _lock: File,
}

impl LockedTempDir {
    /// Creates and locks a new directory in `parent`, named after `prefix`.
    pub fn new_in(parent: &Path, prefix: &str) -> std::io::Result<LockedTempDir> {
        let dir = tempfile::Builder::new()
            .prefix(&format!("{prefix}-{}-", std::process::id()))
            .tempdir_in(parent)?;
        let lock = File::open(dir.path())?;
        flock(&lock, FlockOperation::NonBlockingLockExclusive)?;
        Ok(LockedTempDir {
            dir: Some(dir),
            _lock: lock,
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// Gives the directory up: it is no longer removed on drop (after a rename into place).
    pub fn keep(mut self) {
        if let Some(dir) = self.dir.take() {
            let _ = dir.keep();
        }
    }

    /// Removes the directory now, reporting failure.
    pub fn close(mut self) -> std::io::Result<()> {
        match self.dir.take() {
            Some(dir) => dir.close(),
            None => Ok(()),
        }
    }
}

impl Store {
    /// The leftovers of dead processes: unlocked temporary entries whose creator is gone or
    /// that are older than `min_age`, and the mounts below them. Removes nothing.
    pub fn leftovers(&self, min_age: Duration) -> Result<Vec<Leftover>> {
        let now = SystemTime::now();
        let mounts = mounts_under(&self.root);
        let mut out = Vec::new();
        for path in entries(&self.tmp_dir())? {
            let Some((is_dir, stale)) = judge(&path, min_age, now) else {
                continue;
            };
            if stale {
                push_with_mounts(&mut out, &mounts, path, is_dir, LeftoverKind::TempDir);
            }
        }
        for path in entries(&self.hoist_dir().join("snapshots"))? {
            let partial = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(".tmp-"));
            if !partial {
                continue;
            }
            if let Some((true, true)) = judge(&path, min_age, now) {
                push_with_mounts(&mut out, &mounts, path, true, LeftoverKind::PartialSnapshot);
            }
        }
        // A stat cache is replaced through an unlocked `.tmp*` sibling written in
        // milliseconds: one older than `min_age` belongs to a killed process.
        for dir in entries(&self.hoist_dir().join("stat-cache"))? {
            for path in entries(&dir).unwrap_or_default() {
                let temp = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(".tmp"));
                let old = fs::symlink_metadata(&path)
                    .ok()
                    .filter(fs::Metadata::is_file)
                    .and_then(|m| m.modified().ok())
                    .and_then(|m| now.duration_since(m).ok())
                    .is_some_and(|age| age >= min_age);
                if temp && old {
                    out.push(Leftover {
                        kind: LeftoverKind::TempFile,
                        path,
                    });
                }
            }
        }
        Ok(out)
    }

    /// Removes the leftovers [`Store::leftovers`] finds (unmounting mounts first, deepest
    /// first); returns what it removed. Entries that vanished meanwhile are skipped.
    pub fn recover(&self, min_age: Duration) -> Result<Vec<Leftover>> {
        let found = self.leftovers(min_age)?;
        for item in found.iter().filter(|l| l.kind == LeftoverKind::Mount) {
            use rustix::mount::{UnmountFlags, unmount};
            match unmount(&item.path, UnmountFlags::DETACH) {
                Ok(()) | Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOENT) => {}
                Err(e) => return Err(io_error("unmount", &item.path)(e)),
            }
        }
        for item in found.iter().filter(|l| l.kind != LeftoverKind::Mount) {
            let removed = match item.kind {
                LeftoverKind::TempFile => fs::remove_file(&item.path),
                _ => fs::remove_dir_all(&item.path),
            };
            match removed {
                Ok(()) => {}
                Err(e) if e.kind() == IoKind::NotFound => {}
                Err(e) => return Err(io_error("remove", &item.path)(e)),
            }
        }
        Ok(found)
    }
}

/// `(is_dir, stale)` of a temporary entry; `None` when it vanished or is neither file nor dir.
fn judge(path: &Path, min_age: Duration, now: SystemTime) -> Option<(bool, bool)> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.is_file() && !meta.is_dir() {
        return None;
    }
    let file = File::open(path).ok()?;
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        return Some((meta.is_dir(), false)); // a live process holds it
    }
    let age = meta
        .modified()
        .ok()
        .and_then(|m| now.duration_since(m).ok())
        .unwrap_or(Duration::ZERO);
    let creator_gone = creator_pid(path).is_some_and(|pid| !pid_alive(pid));
    Some((meta.is_dir(), creator_gone || age >= min_age))
}

fn push_with_mounts(
    out: &mut Vec<Leftover>,
    mounts: &[PathBuf],
    path: PathBuf,
    is_dir: bool,
    dir_kind: LeftoverKind,
) {
    if is_dir {
        // Deepest first, so that they can be unmounted in this order.
        let mut below: Vec<&PathBuf> = mounts.iter().filter(|m| m.starts_with(&path)).collect();
        below.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
        for m in below {
            out.push(Leftover {
                kind: LeftoverKind::Mount,
                path: m.clone(),
            });
        }
    }
    let kind = if is_dir {
        dir_kind
    } else {
        LeftoverKind::TempFile
    };
    out.push(Leftover { kind, path });
}

/// The pid in a name `<prefix>-<pid>-...` (the first all-digit `-`-separated part).
fn creator_pid(path: &Path) -> Option<u32> {
    let name = path.file_name()?.to_str()?;
    name.split('-')
        .skip(1)
        .find(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

fn pid_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists()
}

/// The mount points below `root`, from `/proc/self/mountinfo` (none when unreadable).
pub(crate) fn mounts_under(root: &Path) -> Vec<PathBuf> {
    let Ok(root) = fs::canonicalize(root) else {
        return Vec::new();
    };
    let Ok(info) = fs::read_to_string("/proc/self/mountinfo") else {
        return Vec::new();
    };
    info.lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
        .filter(|p| p.starts_with(&root) && p != &root)
        .collect()
}

/// Undoes mountinfo's octal escapes (`\040` for a space, ...).
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            let oct = std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pid_from_names() {
        assert_eq!(creator_pid(Path::new("/t/build-123-abc")), Some(123));
        assert_eq!(creator_pid(Path::new("/t/blob-77-0-0000abcd")), Some(77));
        assert_eq!(creator_pid(Path::new("/t/.tmp-9-xyz")), Some(9));
        assert_eq!(creator_pid(Path::new("/t/build-abc")), None);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/a\\040b"), "/a b");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn dead_creator_entries_are_leftovers_live_ones_are_not() {
        let root = tempfile::tempdir().unwrap();
        let store = Store::open(root.path()).unwrap();
        let held = LockedTempDir::new_in(&store.tmp_dir(), "build").unwrap();
        // A pid that cannot exist (above pid_max's ceiling).
        let dead = store.tmp_dir().join("build-4999999-x");
        fs::create_dir(&dead).unwrap();
        fs::write(dead.join("f"), b"x").unwrap();
        let partial = store.hoist_dir().join("snapshots").join(".tmp-4999999-y");
        fs::create_dir(&partial).unwrap();
        let found = store.leftovers(Duration::from_secs(3600)).unwrap();
        let paths: Vec<_> = found.iter().map(|l| l.path.clone()).collect();
        assert_eq!(paths, vec![dead.clone(), partial.clone()]);
        assert_eq!(found[1].kind, LeftoverKind::PartialSnapshot);
        store.recover(Duration::from_secs(3600)).unwrap();
        assert!(!dead.exists() && !partial.exists() && held.path().is_dir());
        held.close().unwrap();
    }
}

//! The naive (copy-and-compare) snapshotter, for hosts where overlayfs cannot be mounted: the
//! step runs on a full copy of its filesystem; a listing of every entry's metadata taken
//! before is compared with the tree after, and the difference is written as a diff tree in
//! overlay form (changed entries hard-linked in, deletions as 0/0 character devices), so the
//! layer writer treats it exactly as an overlay upper directory.
//!
//! A changed file is detected by its type, mode, owner, size, mtime, link target or xattrs
//! (contents are not compared: a rewrite within the same second and size that restores the
//! mtime is missed, as with every mtime-based snapshotter). A directory replaced wholesale
//! gives one whiteout per old child rather than overlay's opaque marker.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown};
use std::path::{Path, PathBuf};

use rustix::fs::{CWD, FileType, Mode, makedev, mknodat};

use super::SnapshotError;

/// What identifies an entry's state.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EntryState {
    mode: u32,
    uid: u32,
    gid: u32,
    size: u64,
    mtime: (i64, i64),
    rdev: u64,
    target: Option<PathBuf>,
    xattrs: Vec<(std::ffi::OsString, Vec<u8>)>,
}

fn entry_state(path: &Path, m: &fs::Metadata) -> EntryState {
    let mut xattrs = Vec::new();
    if let Ok(names) = xattr::list(path) {
        for name in names {
            if let Ok(Some(value)) = xattr::get(path, &name) {
                xattrs.push((name, value));
            }
        }
    }
    xattrs.sort();
    EntryState {
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        size: if m.is_dir() { 0 } else { m.len() },
        mtime: (m.mtime(), m.mtime_nsec()),
        rdev: m.rdev(),
        target: if m.file_type().is_symlink() {
            fs::read_link(path).ok()
        } else {
            None
        },
        xattrs,
    }
}

/// Every entry under `root` (relative paths) with its state.
fn listing(root: &Path) -> Result<BTreeMap<PathBuf, EntryState>, SnapshotError> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for item in fs::read_dir(&dir).map_err(SnapshotError::io("read directory", &dir))? {
            let item = item.map_err(SnapshotError::io("read directory", &dir))?;
            let child = rel.join(item.file_name());
            let path = root.join(&child);
            let m = fs::symlink_metadata(&path).map_err(SnapshotError::io("stat", &path))?;
            if m.is_dir() {
                stack.push(child.clone());
            }
            out.insert(child, entry_state(&path, &m));
        }
    }
    Ok(out)
}

/// A rootfs copy and the listing of its state before the step.
#[derive(Debug)]
pub struct NaiveSnapshot {
    rootfs: PathBuf,
    before: BTreeMap<PathBuf, EntryState>,
}

impl NaiveSnapshot {
    /// Records the state of `rootfs`, a full copy of the step's filesystem.
    pub fn record(rootfs: PathBuf) -> Result<Self, SnapshotError> {
        let before = listing(&rootfs)?;
        Ok(NaiveSnapshot { rootfs, before })
    }

    /// The step's rootfs.
    pub fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// Writes the difference between the recorded state and now into the empty directory
    /// `diff`, in overlay form.
    pub fn diff(&self, diff: &Path) -> Result<(), SnapshotError> {
        let after = listing(&self.rootfs)?;
        let mut dirs: Vec<(PathBuf, PathBuf)> = Vec::new();
        for (rel, state) in &after {
            if self.before.get(rel) == Some(state) {
                continue;
            }
            let is_dir = state.mode & 0o170000 == 0o040000;
            self.ensure_parents(rel, diff, &mut dirs)?;
            let from = self.rootfs.join(rel);
            let to = diff.join(rel);
            if is_dir {
                copy_dir(&from, &to, &mut dirs)?;
            } else {
                fs::hard_link(&from, &to).map_err(SnapshotError::io("link", &to))?;
            }
        }
        for rel in self.before.keys() {
            if after.contains_key(rel) {
                continue;
            }
            // Only the topmost deleted entry needs a whiteout.
            let parent = rel.parent().unwrap_or(Path::new(""));
            let parent_kept = parent.as_os_str().is_empty()
                || after
                    .get(parent)
                    .is_some_and(|s| s.mode & 0o170000 == 0o040000);
            if !parent_kept {
                continue;
            }
            self.ensure_parents(rel, diff, &mut dirs)?;
            if !parent.as_os_str().is_empty() && fs::symlink_metadata(diff.join(parent)).is_err() {
                copy_dir(&self.rootfs.join(parent), &diff.join(parent), &mut dirs)?;
            }
            let to = diff.join(rel);
            mknodat(
                CWD,
                &to,
                FileType::CharacterDevice,
                Mode::empty(),
                makedev(0, 0),
            )
            .map_err(SnapshotError::io("create whiteout", &to))?;
        }
        // Directory times last, deepest first: writing into a directory changes its mtime.
        dirs.sort_by_key(|(_, to)| std::cmp::Reverse(to.components().count()));
        for (from, to) in &dirs {
            copy_mtime(from, to)?;
        }
        Ok(())
    }

    fn ensure_parents(
        &self,
        rel: &Path,
        diff: &Path,
        dirs: &mut Vec<(PathBuf, PathBuf)>,
    ) -> Result<(), SnapshotError> {
        let mut prefix = PathBuf::new();
        let parts: Vec<_> = rel.components().collect();
        for c in &parts[..parts.len().saturating_sub(1)] {
            prefix.push(c);
            let to = diff.join(&prefix);
            if fs::symlink_metadata(&to).is_err() {
                copy_dir(&self.rootfs.join(&prefix), &to, dirs)?;
            }
        }
        Ok(())
    }
}

/// A directory at `to` with the owner, mode and xattrs of `from` (mtime set later).
fn copy_dir(
    from: &Path,
    to: &Path,
    dirs: &mut Vec<(PathBuf, PathBuf)>,
) -> Result<(), SnapshotError> {
    let m = fs::symlink_metadata(from).map_err(SnapshotError::io("stat", from))?;
    if fs::symlink_metadata(to).is_err() {
        fs::create_dir(to).map_err(SnapshotError::io("create directory", to))?;
    }
    lchown(to, Some(m.uid()), Some(m.gid())).map_err(SnapshotError::io("chown", to))?;
    fs::set_permissions(to, fs::Permissions::from_mode(m.mode() & 0o7777))
        .map_err(SnapshotError::io("chmod", to))?;
    if let Ok(names) = xattr::list(from) {
        for name in names {
            if let Ok(Some(value)) = xattr::get(from, &name) {
                xattr::set(to, &name, &value).map_err(SnapshotError::io("set xattr on", to))?;
            }
        }
    }
    dirs.push((from.to_owned(), to.to_owned()));
    Ok(())
}

fn copy_mtime(from: &Path, to: &Path) -> Result<(), SnapshotError> {
    use rustix::fs::{AtFlags, Timespec, Timestamps, utimensat};
    let m = fs::symlink_metadata(from).map_err(SnapshotError::io("stat", from))?;
    let time = Timespec {
        tv_sec: m.mtime(),
        tv_nsec: m.mtime_nsec() as _,
    };
    let times = Timestamps {
        last_access: time,
        last_modification: time,
    };
    utimensat(CWD, to, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(SnapshotError::io("set the modification time of", to))
}

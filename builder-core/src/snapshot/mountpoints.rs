//! Mount points the runtime creates in a rootfs (`/proc`, `/etc/resolv.conf`, ...) are not
//! part of a step's layer: the ones that did not exist before the step are recorded, and
//! removed from the step's tree after it (as BuildKit does), with the metadata of their parent
//! directories restored; an overlay upper directory that was copied up only for them goes too.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};

use super::SnapshotError;

/// Metadata of an existing directory, to compare with after the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirMeta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    mtime_nsec: i64,
}

fn dir_meta(m: &fs::Metadata) -> DirMeta {
    DirMeta {
        mode: m.mode(),
        uid: m.uid(),
        gid: m.gid(),
        mtime: m.mtime(),
        mtime_nsec: m.mtime_nsec(),
    }
}

/// The mount points of a step that did not exist in its rootfs.
#[derive(Debug, Clone, Default)]
pub struct Mountpoints {
    /// Missing paths (relative), each destination and its missing ancestors.
    created: Vec<PathBuf>,
    /// Existing ancestors of missing paths, with their metadata before the step.
    parents: Vec<(PathBuf, DirMeta)>,
}

impl Mountpoints {
    /// Looks at `rootfs` before the step for each mount `destination` (absolute paths).
    pub fn record(rootfs: &Path, destinations: &[String]) -> Self {
        let mut this = Mountpoints::default();
        for destination in destinations {
            let mut rel = PathBuf::new();
            for c in Path::new(destination).components() {
                let Component::Normal(name) = c else { continue };
                rel.push(name);
                match fs::symlink_metadata(rootfs.join(&rel)) {
                    Ok(m) if m.is_dir() => {
                        if !this.parents.iter().any(|(p, _)| *p == rel) {
                            this.parents.push((rel.clone(), dir_meta(&m)));
                        }
                    }
                    Ok(_) => break,
                    Err(_) => {
                        if !this.created.contains(&rel) {
                            this.created.push(rel.clone());
                        }
                    }
                }
            }
        }
        this
    }

    /// Removes from `tree` (the step's rootfs, or its overlay upper directory) what the
    /// runtime created, and restores the metadata of the parents. `is_upper`: `tree` holds only
    /// what changed, so a parent left empty and unchanged is removed too.
    pub fn remove_created(&self, tree: &Path, is_upper: bool) -> Result<(), SnapshotError> {
        let mut created = self.created.clone();
        created.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
        for rel in &created {
            let path = tree.join(rel);
            match fs::symlink_metadata(&path) {
                Ok(m)
                    if m.is_dir() && fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none()) =>
                {
                    fs::remove_dir(&path).map_err(SnapshotError::io("remove", &path))?;
                }
                Ok(m) if m.is_file() && m.len() == 0 => {
                    fs::remove_file(&path).map_err(SnapshotError::io("remove", &path))?;
                }
                _ => {}
            }
        }
        let mut parents = self.parents.clone();
        parents.sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (rel, before) in &parents {
            let path = tree.join(rel);
            let Ok(m) = fs::symlink_metadata(&path) else {
                continue;
            };
            if !m.is_dir() {
                continue;
            }
            set_mtime(&path, before.mtime, before.mtime_nsec)?;
            let empty = fs::read_dir(&path).is_ok_and(|mut d| d.next().is_none());
            let unchanged =
                m.mode() == before.mode && m.uid() == before.uid && m.gid() == before.gid;
            if is_upper && empty && unchanged && !is_opaque(&path) {
                fs::remove_dir(&path).map_err(SnapshotError::io("remove", &path))?;
            }
        }
        Ok(())
    }
}

fn is_opaque(path: &Path) -> bool {
    matches!(xattr::get(path, "trusted.overlay.opaque"), Ok(Some(v)) if v == b"y")
}

fn set_mtime(path: &Path, secs: i64, nsec: i64) -> Result<(), SnapshotError> {
    let time = Timespec {
        tv_sec: secs,
        tv_nsec: nsec as _,
    };
    let times = Timestamps {
        last_access: time,
        last_modification: time,
    };
    utimensat(CWD, path, &times, AtFlags::SYMLINK_NOFOLLOW)
        .map_err(SnapshotError::io("set the modification time of", path))
}

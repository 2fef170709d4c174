//! One file-system entry of the context, as the walk and a selection report it.

use std::fs::Metadata;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

use super::ContextError;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link and its target, as stored (never followed below a selected root).
    Symlink(PathBuf),
    /// A device, FIFO or socket (`rdev` in [`SelectedEntry::rdev`]).
    Other,
}

/// One entry of a walk or selection, with the metadata a layer needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelectedEntry {
    /// The path relative to the walk start or matched root (empty for the root itself).
    pub rel_path: PathBuf,
    /// Where it is on this machine.
    pub abs_path: PathBuf,
    /// File, directory, symlink or other.
    pub kind: EntryKind,
    /// Permission and special bits (`st_mode & 0o7777`).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Size in bytes (regular files; 0 otherwise is not guaranteed).
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    /// Device of the file system holding it (hardlink detection with `ino`).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Number of hard links.
    pub nlink: u64,
    /// Device number, for [`EntryKind::Other`] devices.
    pub rdev: u64,
}

impl SelectedEntry {
    /// Reads an entry's metadata without following a final symlink.
    pub(crate) fn lstat(rel_path: PathBuf, abs_path: PathBuf) -> Result<Self, ContextError> {
        let meta = std::fs::symlink_metadata(&abs_path)
            .map_err(|e| ContextError::io(abs_path.clone(), &e))?;
        Self::from_metadata(rel_path, abs_path, &meta)
    }

    /// Builds an entry from metadata already read (`lstat`).
    pub(crate) fn from_metadata(
        rel_path: PathBuf,
        abs_path: PathBuf,
        meta: &Metadata,
    ) -> Result<Self, ContextError> {
        let ft = meta.file_type();
        let kind = if ft.is_file() {
            EntryKind::File
        } else if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_symlink() {
            let target = std::fs::read_link(&abs_path)
                .map_err(|e| ContextError::io(abs_path.clone(), &e))?;
            EntryKind::Symlink(target)
        } else {
            debug_assert!(
                ft.is_block_device() || ft.is_char_device() || ft.is_fifo() || ft.is_socket()
            );
            EntryKind::Other
        };
        Ok(SelectedEntry {
            rel_path,
            abs_path,
            kind,
            mode: meta.mode() & 0o7777,
            uid: meta.uid(),
            gid: meta.gid(),
            size: meta.size(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            dev: meta.dev(),
            ino: meta.ino(),
            nlink: meta.nlink(),
            rdev: meta.rdev(),
        })
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }
}

/// Joins context-relative `/`-separated paths (`""` is the root).
pub(crate) fn join_rel(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

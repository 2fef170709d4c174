//! [`Entry`]: one file of a layer, as the tar writer sees it, and the order entries go in.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use super::LayerError;

/// One file of a layer: its path, kind, permissions, ownership, mtime and xattrs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `/`-separated path relative to the layer root, no leading `/`, no trailing `/` (even for
    /// directories: the tar writer adds it), no `.` or `..` segments.
    pub path: String,
    /// What the entry is.
    pub kind: EntryKind,
    /// Permission bits plus setuid (`0o4000`), setgid (`0o2000`) and sticky (`0o1000`).
    pub mode: u32,
    /// Owner user id.
    pub uid: u64,
    /// Owner group id.
    pub gid: u64,
    /// Modification time.
    pub mtime: Mtime,
    /// Extended attributes, written as PAX `SCHILY.xattr.<name>` records.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

/// The kind of a layer entry, with what each kind needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file of `size` bytes; its content is streamed separately.
    File {
        /// Content length in bytes.
        size: u64,
    },
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink {
        /// The link target, written as is.
        target: String,
    },
    /// A hard link to an earlier entry of the same layer.
    Hardlink {
        /// The path of that earlier entry (layer-relative, like [`Entry::path`]).
        target: String,
    },
    /// A character device.
    CharDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A block device.
    BlockDevice {
        /// Device major number.
        major: u32,
        /// Device minor number.
        minor: u32,
    },
    /// A named pipe.
    Fifo,
}

/// A modification time: seconds since the Unix epoch and nanoseconds.
///
/// Layers store whole seconds (see [`TarWriter`](super::TarWriter)); the nanoseconds are kept
/// so that the model matches the file it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Mtime {
    /// Seconds since 1970-01-01T00:00:00Z (negative before).
    pub secs: i64,
    /// Nanoseconds, `0..1_000_000_000`.
    pub nanos: u32,
}

impl Mtime {
    /// A time of whole seconds.
    pub fn from_secs(secs: i64) -> Self {
        Mtime { secs, nanos: 0 }
    }

    /// This time, no later than `limit` seconds (SOURCE_DATE_EPOCH clamping).
    #[must_use]
    pub fn clamped(self, limit: Option<i64>) -> Self {
        match limit {
            Some(limit) if self > Mtime::from_secs(limit) => Mtime::from_secs(limit),
            _ => self,
        }
    }
}

impl Entry {
    /// A directory entry with mode `mode`, owned by root, mtime 0, no xattrs.
    pub fn dir(path: impl Into<String>, mode: u32) -> Self {
        Self::new(path, EntryKind::Dir, mode)
    }

    /// A regular file entry of `size` bytes with mode `mode`, owned by root, mtime 0.
    pub fn file(path: impl Into<String>, size: u64, mode: u32) -> Self {
        Self::new(path, EntryKind::File { size }, mode)
    }

    /// An entry of `kind` with mode `mode`, owned by root, mtime 0, no xattrs.
    pub fn new(path: impl Into<String>, kind: EntryKind, mode: u32) -> Self {
        Entry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: Mtime::default(),
            xattrs: BTreeMap::new(),
        }
    }

    /// The OCI whiteout for `path`: an empty file `.wh.<name>` next to it, mode 0, owned by root.
    pub fn whiteout(path: &str) -> Self {
        let whiteout = match path.rsplit_once('/') {
            Some((dir, name)) => format!("{dir}/.wh.{name}"),
            None => format!(".wh.{path}"),
        };
        Self::file(whiteout, 0, 0)
    }

    /// The opaque-directory marker for `dir`: an empty file `<dir>/.wh..wh..opq`.
    pub fn opaque_marker(dir: &str) -> Self {
        let marker = if dir.is_empty() {
            ".wh..wh..opq".to_owned()
        } else {
            format!("{dir}/.wh..wh..opq")
        };
        Self::file(marker, 0, 0)
    }

    /// Content bytes this entry carries in the tar (files only; hardlinks carry none).
    pub fn content_size(&self) -> u64 {
        match self.kind {
            EntryKind::File { size } => size,
            _ => 0,
        }
    }

    /// Whether this entry is a directory.
    pub fn is_dir(&self) -> bool {
        matches!(self.kind, EntryKind::Dir)
    }
}

/// Checks that `path` is a clean layer path: relative, non-empty, no empty, `.` or `..` segment,
/// no NUL.
pub fn validate_path(path: &str) -> Result<(), LayerError> {
    let reason = if path.is_empty() {
        Some("empty")
    } else if path.starts_with('/') {
        Some("absolute")
    } else if path.contains('\0') {
        Some("contains NUL")
    } else if path
        .split('/')
        .any(|s| s.is_empty() || s == "." || s == "..")
    {
        Some("empty, `.` or `..` segment")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(LayerError::InvalidPath {
            path: path.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Layer order of two paths: segment by segment, each segment by bytes.
///
/// This is the byte order of the `/`-joined paths with `/` ranked below every other byte, which
/// is the order of a depth-first walk with each directory's names sorted (what containerd and
/// BuildKit emit): a directory comes right before its subtree, and a subtree is contiguous
/// (`a`, `a/b`, `a-b`; plain byte order would put `a-b` between `a` and `a/b`).
pub fn compare_paths(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Sorts entries into layer order ([`compare_paths`]); stable, so equal paths keep their order.
pub fn sort_entries(entries: &mut [Entry]) {
    entries.sort_by(|a, b| compare_paths(&a.path, &b.path));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_depth_first() {
        let mut v: Vec<Entry> = ["a-b", "a/b", "a", "b", "a/b/c", "A", ".wh.x"]
            .iter()
            .map(|p| Entry::dir(*p, 0o755))
            .collect();
        sort_entries(&mut v);
        let paths: Vec<&str> = v.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, [".wh.x", "A", "a", "a/b", "a/b/c", "a-b", "b"]);
    }

    #[test]
    fn paths_are_validated() {
        for bad in ["", "/a", "a//b", "a/./b", "../a", "a/", "a\0b"] {
            assert!(validate_path(bad).is_err(), "{bad:?}");
        }
        for good in ["a", "a/b", ".wh.a", "a/..b"] {
            assert!(validate_path(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn whiteouts_and_clamp() {
        assert_eq!(Entry::whiteout("a/b").path, "a/.wh.b");
        assert_eq!(Entry::whiteout("b").path, ".wh.b");
        assert_eq!(Entry::opaque_marker("d").path, "d/.wh..wh..opq");
        let t = Mtime { secs: 10, nanos: 5 };
        assert_eq!(t.clamped(Some(10)), Mtime::from_secs(10));
        assert_eq!(t.clamped(Some(11)), t);
        assert_eq!(t.clamped(None), t);
    }
}

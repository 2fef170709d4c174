//! [`entries_from_dir`]: a directory tree as layer entries, in layer order.
//!
//! The walk is depth-first with each directory's names sorted by bytes, which is
//! [`compare_paths`](super::compare_paths) order, so it streams: memory holds one sorted
//! directory listing per level plus the hardlink table, never file contents.
//!
//! - Hardlinks: a non-directory whose link count is above 1 is remembered by (device, inode);
//!   its first path is written as the file, later paths as [`EntryKind::Hardlink`] to it.
//! - xattrs are read without following symlinks; a filesystem without xattr support gives none.
//! - Sockets are skipped, as Docker and containerd skip them.
//! - [`WhiteoutMode::Overlay`] turns overlayfs markers (for RUN upperdirs) into OCI whiteouts.

use std::collections::{BTreeMap, HashMap};
use std::fs::{self, File, Metadata};
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{Entry, EntryKind, LayerError, Mtime, TarWriter};

/// How a walk treats overlayfs whiteout markers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhiteoutMode {
    /// Write every file as it is (a 0/0 character device stays a device).
    #[default]
    Keep,
    /// The tree is an overlayfs upperdir: a 0/0 character device `x` becomes the empty file
    /// `.wh.x`, a directory marked opaque (`trusted.overlay.opaque=y`, or `user.overlay.opaque=y`
    /// in `userxattr` mode) gets a `.wh..wh..opq` child, and overlay's own xattrs are dropped.
    Overlay,
}

/// Options of a tree walk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WalkOptions {
    /// How overlayfs whiteouts are written.
    pub whiteouts: WhiteoutMode,
}

/// The entries under `root` (not `root` itself) in layer order, each with the on-disk path of
/// its content for regular files. The iterator stops after the first error.
pub fn entries_from_dir(root: &Path, options: WalkOptions) -> TreeWalk {
    TreeWalk {
        options,
        stack: Vec::new(),
        pending_root: Some(root.to_owned()),
        links: HashMap::new(),
        failed: false,
    }
}

/// Walks `root` and appends every entry to `tar`, streaming file contents from disk.
/// Returns the number of entries written.
pub fn write_tree<W: Write>(
    tar: &mut TarWriter<W>,
    root: &Path,
    options: WalkOptions,
) -> Result<u64, LayerError> {
    let mut count = 0;
    for item in entries_from_dir(root, options) {
        let (entry, content) = item?;
        match content {
            Some(path) => {
                let mut file = File::open(&path).map_err(|e| LayerError::read(&path, e))?;
                tar.append(&entry, Some(&mut file))?;
            }
            None => tar.append(&entry, None)?,
        }
        count += 1;
    }
    Ok(count)
}

/// The iterator of [`entries_from_dir`].
#[derive(Debug)]
pub struct TreeWalk {
    options: WalkOptions,
    stack: Vec<DirFrame>,
    pending_root: Option<PathBuf>,
    /// First layer path of each multiply-linked inode, by (device, inode).
    links: HashMap<(u64, u64), String>,
    failed: bool,
}

/// One directory being walked: its layer path and its sorted, not yet visited children.
#[derive(Debug)]
struct DirFrame {
    path: String,
    children: std::vec::IntoIter<Child>,
}

/// A directory child: its name in the layer and where it is on disk.
#[derive(Debug)]
struct Child {
    name: String,
    disk: PathBuf,
    meta: Option<Metadata>,
    whiteout: bool,
}

impl Iterator for TreeWalk {
    type Item = Result<(Entry, Option<PathBuf>), LayerError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let result = self.step().transpose()?;
        self.failed = result.is_err();
        Some(result)
    }
}

impl TreeWalk {
    /// The next entry, descending into directories as they are yielded.
    fn step(&mut self) -> Result<Option<(Entry, Option<PathBuf>)>, LayerError> {
        if let Some(root) = self.pending_root.take() {
            let children = self.read_children(&root)?;
            self.stack.push(DirFrame {
                path: String::new(),
                children: children.into_iter(),
            });
        }
        loop {
            let Some(frame) = self.stack.last_mut() else {
                return Ok(None);
            };
            let Some(child) = frame.children.next() else {
                self.stack.pop();
                continue;
            };
            let path = if frame.path.is_empty() {
                child.name.clone()
            } else {
                format!("{}/{}", frame.path, child.name)
            };
            let Some(item) = self.visit(child, path)? else {
                continue;
            };
            return Ok(Some(item));
        }
    }

    /// The entry for `child` at layer path `path`; pushes a frame when it is a directory.
    fn visit(
        &mut self,
        child: Child,
        path: String,
    ) -> Result<Option<(Entry, Option<PathBuf>)>, LayerError> {
        let Some(meta) = child.meta else {
            // The synthetic opaque marker.
            return Ok(Some((Entry::file(path, 0, 0), None)));
        };
        let mut entry = Entry::new(path, EntryKind::Fifo, meta.mode() & 0o7777);
        entry.uid = u64::from(meta.uid());
        entry.gid = u64::from(meta.gid());
        entry.mtime = Mtime {
            secs: meta.mtime(),
            nanos: u32::try_from(meta.mtime_nsec()).unwrap_or(0),
        };
        if child.whiteout {
            entry.kind = EntryKind::File { size: 0 };
            entry.mode = 0;
            return Ok(Some((entry, None)));
        }
        let ft = meta.file_type();
        if ft.is_socket() {
            return Ok(None);
        }
        entry.xattrs = self.read_xattrs(&child.disk)?;
        if !ft.is_dir() && meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.links.get(&key) {
                entry.kind = EntryKind::Hardlink {
                    target: first.clone(),
                };
                return Ok(Some((entry, None)));
            }
            self.links.insert(key, entry.path.clone());
        }
        let mut content = None;
        entry.kind = if ft.is_dir() {
            let children = self.read_children(&child.disk)?;
            self.stack.push(DirFrame {
                path: entry.path.clone(),
                children: children.into_iter(),
            });
            EntryKind::Dir
        } else if ft.is_file() {
            content = Some(child.disk);
            EntryKind::File { size: meta.len() }
        } else {
            special_kind(&child.disk, &meta)?
        };
        Ok(Some((entry, content)))
    }

    /// The children of directory `dir`, with their layer names, sorted by name bytes.
    fn read_children(&self, dir: &Path) -> Result<Vec<Child>, LayerError> {
        let overlay = self.options.whiteouts == WhiteoutMode::Overlay;
        let mut children = Vec::new();
        let listing = fs::read_dir(dir).map_err(|e| LayerError::read(dir, e))?;
        for item in listing {
            let item = item.map_err(|e| LayerError::read(dir, e))?;
            let disk = item.path();
            let name = item
                .file_name()
                .into_string()
                .map_err(|_| LayerError::NonUtf8Path { path: disk.clone() })?;
            // Relative to the open directory (no path walk); never follows a symlink.
            let meta = item.metadata().map_err(|e| LayerError::read(&disk, e))?;
            let whiteout = overlay && meta.file_type().is_char_device() && meta.rdev() == 0;
            children.push(Child {
                name: if whiteout {
                    format!(".wh.{name}")
                } else {
                    name
                },
                disk,
                meta: Some(meta),
                whiteout,
            });
        }
        if overlay && is_opaque(dir)? {
            children.push(Child {
                name: ".wh..wh..opq".to_owned(),
                disk: dir.to_owned(),
                meta: None,
                whiteout: false,
            });
        }
        children.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        Ok(children)
    }

    /// The xattrs of `path` (not following symlinks), minus overlay's own in overlay mode.
    fn read_xattrs(&self, path: &Path) -> Result<BTreeMap<String, Vec<u8>>, LayerError> {
        let mut xattrs = BTreeMap::new();
        let names = match xattr::list(path) {
            Ok(names) => names,
            Err(e) if is_unsupported(&e) => return Ok(xattrs),
            Err(e) => return Err(LayerError::read(path, e)),
        };
        for name in names {
            let name = name
                .into_string()
                .map_err(|_| LayerError::NonUtf8Xattr { path: path.into() })?;
            if self.options.whiteouts == WhiteoutMode::Overlay && is_overlay_xattr(&name) {
                continue;
            }
            match xattr::get(path, &name) {
                Ok(Some(value)) => {
                    xattrs.insert(name, value);
                }
                Ok(None) => {}
                Err(e) if is_unsupported(&e) => {}
                Err(e) => return Err(LayerError::read(path, e)),
            }
        }
        Ok(xattrs)
    }
}

/// The kind of a symlink, device or fifo.
fn special_kind(disk: &Path, meta: &Metadata) -> Result<EntryKind, LayerError> {
    let ft = meta.file_type();
    Ok(if ft.is_symlink() {
        let target = fs::read_link(disk).map_err(|e| LayerError::read(disk, e))?;
        let target = target
            .into_os_string()
            .into_string()
            .map_err(|_| LayerError::NonUtf8Path { path: disk.into() })?;
        EntryKind::Symlink { target }
    } else if ft.is_char_device() {
        let (major, minor) = device_numbers(meta.rdev());
        EntryKind::CharDevice { major, minor }
    } else if ft.is_block_device() {
        let (major, minor) = device_numbers(meta.rdev());
        EntryKind::BlockDevice { major, minor }
    } else {
        EntryKind::Fifo
    })
}

/// Whether `dir` carries an overlayfs opaque marker.
fn is_opaque(dir: &Path) -> Result<bool, LayerError> {
    for name in ["trusted.overlay.opaque", "user.overlay.opaque"] {
        match xattr::get(dir, name) {
            Ok(Some(v)) if v == b"y" => return Ok(true),
            Ok(_) => {}
            Err(e) if is_unsupported(&e) => {}
            Err(e) => return Err(LayerError::read(dir, e)),
        }
    }
    Ok(false)
}

/// xattrs overlayfs uses for its own bookkeeping.
fn is_overlay_xattr(name: &str) -> bool {
    name.starts_with("trusted.overlay.") || name.starts_with("user.overlay.")
}

/// Errors meaning "this filesystem or file has no xattrs".
fn is_unsupported(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(code) if code == 95 /* EOPNOTSUPP */ || code == 61 /* ENODATA */)
}

/// Linux `major(dev)` and `minor(dev)` (glibc's encoding).
fn device_numbers(rdev: u64) -> (u32, u32) {
    let major = ((rdev >> 8) & 0xfff) | ((rdev >> 32) & !0xfff);
    let minor = (rdev & 0xff) | ((rdev >> 12) & !0xff);
    (
        u32::try_from(major).unwrap_or(u32::MAX),
        u32::try_from(minor).unwrap_or(u32::MAX),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_decode_glibc_encoding() {
        // makedev(1, 3) = 0x103 (/dev/null); makedev(259, 70000)
        assert_eq!(device_numbers(0x103), (1, 3));
        let (ma, mi) = (259u64, 70000u64);
        let dev = ((ma & 0xfff) << 8) | ((ma & !0xfff) << 32) | (mi & 0xff) | ((mi & !0xff) << 12);
        assert_eq!(device_numbers(dev), (259, 70000));
    }
}

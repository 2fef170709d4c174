//! A diff directory: the files one step adds, at their paths in the image, with the metadata
//! the layer records. Written fresh for each step, then turned into a layer.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{PermissionsExt, lchown, symlink};
use std::path::{Component, Path, PathBuf};

use rustix::fs::{
    AtFlags, CWD, Gid, Mode, OFlags, Timespec, Timestamps, Uid, fchmod, fchown, futimens, open,
    openat, utimensat,
};
use xattr::FileExt;

use super::ExecError;

/// The owner, mode and modification time an entry gets in the layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Meta {
    /// Permission bits (ignored for symlinks).
    pub mode: u32,
    /// Owner user id.
    pub uid: u32,
    /// Owner group id.
    pub gid: u32,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

/// What created parent directories get when the image has none at that path: 0755 root:root,
/// mtime 0 (deterministic; clamped further by `SOURCE_DATE_EPOCH`).
const NEW_PARENT: Meta = Meta {
    mode: 0o755,
    uid: 0,
    gid: 0,
    mtime_ns: 0,
};

/// A diff directory being filled for one step.
#[derive(Debug)]
pub(super) struct DiffDir {
    root: PathBuf,
    rootfs: PathBuf,
    dir_times: Vec<(PathBuf, i128)>,
    new_parent: Meta,
    /// Sources with several links, by (device, inode): where the first copy landed, so later
    /// ones become hard links to it (BuildKit's copy keeps hard links within one copy).
    links: BTreeMap<(u64, u64), PathBuf>,
    /// The diff directory the last file went into, open.
    parent: Option<(Vec<String>, OwnedFd)>,
    /// The directory the last source file came from, open.
    source_dir: Option<(PathBuf, OwnedFd)>,
}

/// A regular file to copy: where it is and the identity the context walk read.
#[derive(Debug, Clone, Copy)]
pub(super) struct FileSource<'a> {
    /// Where it is on this machine.
    pub path: &'a Path,
    /// Device and inode (hard links within one copy are kept).
    pub dev: u64,
    /// Inode number.
    pub ino: u64,
    /// Number of links.
    pub nlink: u64,
}

/// An absolute image path, cleaned (no `.`, `..` above the root, repeated slashes), as the
/// components below `/`.
pub(super) fn image_components(path: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => {
                parts.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    parts
}

/// The absolute image `path` with every symlink the stage's filesystem `rootfs` has on the way
/// followed inside it (the root as `/`, the last component too; at most 40 links), as BuildKit
/// resolves a copy's destination (`fs.RootPath`). Missing components are kept as written.
pub(super) fn resolve_in_image(rootfs: &Path, path: &str) -> Vec<String> {
    let mut queue: std::collections::VecDeque<String> = image_components(path).into();
    let mut current: Vec<String> = Vec::new();
    let mut hops = 0;
    while let Some(part) = queue.pop_front() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => {}
        }
        let mut host = rootfs.to_owned();
        host.extend(&current);
        host.push(&part);
        let target = match fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_symlink() && hops < 40 => fs::read_link(&host).ok(),
            _ => None,
        };
        let Some(target) = target else {
            current.push(part);
            continue;
        };
        hops += 1;
        let target = target.to_string_lossy().into_owned();
        if target.starts_with('/') {
            current.clear();
        }
        for p in target.split('/').rev() {
            queue.push_front(p.to_owned());
        }
    }
    current
}

impl DiffDir {
    /// A diff rooted at `root` (an empty directory) for a stage whose filesystem is `rootfs`.
    pub(super) fn new(root: PathBuf, rootfs: PathBuf) -> Self {
        DiffDir {
            root,
            rootfs,
            dir_times: Vec::new(),
            new_parent: NEW_PARENT,
            links: BTreeMap::new(),
            parent: None,
            source_dir: None,
        }
    }

    /// The owner of directories created where the image has none (`--chown`, `USER`): BuildKit's
    /// `MkdirAll` gives them the copy's owner; default `root:root`.
    pub(super) fn set_new_parent_owner(&mut self, (uid, gid): (u32, u32)) {
        self.new_parent = Meta {
            uid,
            gid,
            ..NEW_PARENT
        };
    }

    /// The stage's filesystem this diff goes onto (materialised when the diff is written).
    pub(super) fn rootfs(&self) -> &Path {
        &self.rootfs
    }

    /// Where `parts` is in the diff on the host (for writers that fill a subtree themselves).
    pub(super) fn host_path_of(&self, parts: &[String]) -> PathBuf {
        self.host_path(parts)
    }

    /// The directory holding the diff, where a step may make its own scratch directories.
    pub(super) fn scratch_dir(&self) -> &Path {
        self.root.parent().unwrap_or(&self.root)
    }

    /// Whether the diff already has an entry at `parts`.
    pub(super) fn has_entry(&self, parts: &[String]) -> bool {
        fs::symlink_metadata(self.host_path(parts)).is_ok()
    }

    fn host_path(&self, parts: &[String]) -> PathBuf {
        let mut p = self.root.clone();
        p.extend(parts);
        p
    }

    /// Creates the parents of `parts` that the diff lacks, with the metadata the stage's
    /// filesystem has for them, or [`NEW_PARENT`]'s.
    pub(super) fn ensure_parents(&mut self, parts: &[String]) -> Result<(), ExecError> {
        self.ensure_dirs(&parts[..parts.len().saturating_sub(1)])
    }

    /// Creates `parts` and its parents where the diff lacks them, as [`Self::ensure_parents`].
    pub(super) fn ensure_dirs(&mut self, parts: &[String]) -> Result<(), ExecError> {
        for depth in 1..=parts.len() {
            let here = self.host_path(&parts[..depth]);
            if fs::symlink_metadata(&here).is_ok() {
                continue;
            }
            let mut existing = self.rootfs.clone();
            existing.extend(&parts[..depth]);
            let meta = match fs::symlink_metadata(&existing) {
                Ok(m) if m.is_dir() => meta_of(&m),
                _ => self.new_parent,
            };
            self.put_dir(&parts[..depth], meta)?;
        }
        Ok(())
    }

    /// Whether the stage's filesystem has a directory at `parts`.
    pub(super) fn is_existing_dir(&self, parts: &[String]) -> bool {
        let mut existing = self.rootfs.clone();
        existing.extend(parts);
        fs::symlink_metadata(&existing).is_ok_and(|m| m.is_dir())
    }

    /// Makes way for a new entry at `path`: removes what is there unless both are directories.
    fn clear(&mut self, path: &Path, keep_dir: bool) -> Result<(), ExecError> {
        match fs::symlink_metadata(path) {
            Err(_) => Ok(()),
            Ok(m) if m.is_dir() && keep_dir => Ok(()),
            Ok(m) if m.is_dir() => {
                // The open parent may be this directory or below it.
                self.parent = None;
                fs::remove_dir_all(path).map_err(ExecError::io("remove", path))
            }
            Ok(_) => fs::remove_file(path).map_err(ExecError::io("remove", path)),
        }
    }

    /// A directory at `parts` (the root itself is never written: it is not in a layer).
    pub(super) fn put_dir(&mut self, parts: &[String], meta: Meta) -> Result<(), ExecError> {
        if parts.is_empty() {
            return Ok(());
        }
        let path = self.host_path(parts);
        self.clear(&path, true)?;
        if !path.is_dir() {
            fs::create_dir(&path).map_err(ExecError::io("create directory", &path))?;
        }
        set_owner_mode(&path, meta, false)?;
        self.dir_times.push((path, meta.mtime_ns));
        Ok(())
    }

    /// A regular file at `parts` with the content and xattrs of `source` (streamed); a hard
    /// link to an earlier copy of the same source inode. `source` is the context walk's entry:
    /// its stat is not read again. Every call is relative to open directories (the last parent
    /// of each side is kept open), so copying a tree costs no path walk per file.
    pub(super) fn put_file(
        &mut self,
        parts: &[String],
        source: &FileSource<'_>,
        meta: Meta,
    ) -> Result<(), ExecError> {
        let path = self.host_path(parts);
        if source.nlink > 1 {
            let inode = (source.dev, source.ino);
            if let Some(first) = self.links.get(&inode).cloned()
                && fs::symlink_metadata(&first).is_ok_and(|m| m.is_file())
            {
                self.clear(&path, false)?;
                return fs::hard_link(&first, &path).map_err(ExecError::io("link", &path));
            }
            self.links.insert(inode, path.clone());
        }
        let (dir_parts, name) = parts.split_at(parts.len().saturating_sub(1));
        let Some(name) = name.first() else {
            return Err(ExecError::io("copy", &path)(io::Error::from(
                io::ErrorKind::InvalidInput,
            )));
        };
        let mut from = self.open_source(source.path)?;
        let mut created = self.create_file(dir_parts, name)?;
        if matches!(created, Err(rustix::io::Errno::EXIST)) {
            self.clear(&path, false)?;
            created = self.create_file(dir_parts, name)?;
        }
        let mut to = fs::File::from(created.map_err(ExecError::io("create", &path))?);
        io::copy(&mut from, &mut to).map_err(ExecError::io("copy", source.path))?;
        // Owner first (chown clears setuid bits and file capabilities), then mode, then xattrs.
        fchown(
            &to,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        )
        .map_err(ExecError::io("chown", &path))?;
        fchmod(&to, Mode::from_raw_mode(meta.mode)).map_err(ExecError::io("chmod", &path))?;
        if let Ok(names) = from.list_xattr() {
            for name in names {
                if let Ok(Some(value)) = from.get_xattr(&name) {
                    to.set_xattr(&name, &value)
                        .map_err(ExecError::io("set an xattr on", &path))?;
                }
            }
        }
        futimens(&to, &layer_time(meta.mtime_ns))
            .map_err(ExecError::io("set the modification time of", &path))
    }

    /// `source` opened for reading, relative to its directory (kept open for the next file).
    fn open_source(&mut self, source: &Path) -> Result<fs::File, ExecError> {
        let (Some(dir), Some(name)) = (source.parent(), source.file_name()) else {
            return fs::File::open(source).map_err(ExecError::io("open", source));
        };
        let cached = self.source_dir.take().filter(|(open, _)| open == dir);
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
                let fd = open(dir, flags, Mode::empty()).map_err(ExecError::io("open", dir))?;
                (dir.to_owned(), fd)
            }
        };
        let fd = &self.source_dir.insert(entry).1;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(fd, name, flags, Mode::empty())
            .map(fs::File::from)
            .map_err(ExecError::io("open", source))
    }

    /// Creates the file `name` in the diff's directory `dir_parts` (an error if it exists).
    fn create_file(
        &mut self,
        dir_parts: &[String],
        name: &str,
    ) -> Result<rustix::io::Result<OwnedFd>, ExecError> {
        let dir = self.parent_dir(dir_parts)?;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW;
        Ok(openat(
            dir,
            name,
            flags | OFlags::CLOEXEC,
            Mode::RUSR | Mode::WUSR,
        ))
    }

    /// The diff's directory at `parts`, open (kept open for the next file). The directory
    /// itself is not followed if it is a symlink.
    fn parent_dir(&mut self, parts: &[String]) -> Result<&OwnedFd, ExecError> {
        let cached = self
            .parent
            .take()
            .filter(|(open, _)| open.as_slice() == parts);
        let entry = match cached {
            Some(entry) => entry,
            None => {
                let mut path = self.root.clone();
                path.extend(parts);
                let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let fd = open(&path, flags, Mode::empty()).map_err(ExecError::io("open", &path))?;
                (parts.to_vec(), fd)
            }
        };
        Ok(&self.parent.insert(entry).1)
    }

    /// A regular file at `parts` holding `bytes`.
    pub(super) fn put_bytes(
        &mut self,
        parts: &[String],
        bytes: &[u8],
        meta: Meta,
    ) -> Result<(), ExecError> {
        let path = self.host_path(parts);
        self.clear(&path, false)?;
        fs::write(&path, bytes).map_err(ExecError::io("write", &path))?;
        set_owner_mode(&path, meta, false)?;
        set_mtime(&path, meta.mtime_ns)
    }

    /// A symlink at `parts` pointing at `target` (stored as is).
    pub(super) fn put_symlink(
        &mut self,
        parts: &[String],
        target: &Path,
        meta: Meta,
    ) -> Result<(), ExecError> {
        let path = self.host_path(parts);
        self.clear(&path, false)?;
        symlink(target, &path).map_err(ExecError::io("create symlink", &path))?;
        set_owner_mode(&path, meta, true)?;
        set_mtime(&path, meta.mtime_ns)
    }

    /// Sets the directories' modification times, deepest first (writing into a directory
    /// changes its mtime, so this comes last).
    pub(super) fn finish(mut self) -> Result<(), ExecError> {
        self.dir_times
            .sort_by_key(|(p, _)| std::cmp::Reverse(p.components().count()));
        for (path, mtime) in &self.dir_times {
            set_mtime(path, *mtime)?;
        }
        Ok(())
    }
}

/// The metadata of an existing entry.
fn meta_of(m: &fs::Metadata) -> Meta {
    use std::os::unix::fs::MetadataExt;
    Meta {
        mode: m.mode() & 0o7777,
        uid: m.uid(),
        gid: m.gid(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    }
}

/// Owner first (chown clears setuid bits), then mode.
fn set_owner_mode(path: &Path, meta: Meta, is_symlink: bool) -> Result<(), ExecError> {
    lchown(path, Some(meta.uid), Some(meta.gid)).map_err(ExecError::io("chown", path))?;
    if !is_symlink {
        fs::set_permissions(path, fs::Permissions::from_mode(meta.mode))
            .map_err(ExecError::io("chmod", path))?;
    }
    Ok(())
}

/// `mtime_ns` as the layer records it: whole seconds, truncated (so adopting the diff as the
/// layer's snapshot has no time to change).
fn layer_time(mtime_ns: i128) -> Timestamps {
    let secs = mtime_ns.div_euclid(1_000_000_000);
    let time = Timespec {
        tv_sec: i64::try_from(secs).unwrap_or(0),
        tv_nsec: 0,
    };
    Timestamps {
        last_access: time,
        last_modification: time,
    }
}

fn set_mtime(path: &Path, mtime_ns: i128) -> Result<(), ExecError> {
    utimensat(CWD, path, &layer_time(mtime_ns), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(ExecError::io("set the modification time of", path))
}

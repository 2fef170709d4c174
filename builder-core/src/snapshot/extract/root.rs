//! The destination directory, and every path operation confined to it.
//!
//! Directories are opened with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)` relative to
//! the destination's file descriptor: the kernel resolves `..` and symlinks (absolute or
//! relative) as if the destination were `/`, so no path through a symlink can leave it. The last
//! component of an entry is always acted on with `*at` calls on its parent's descriptor, never
//! followed (`O_NOFOLLOW`, `AT_SYMLINK_NOFOLLOW`). Requires Linux 5.6 or later.

use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use rustix::fs::{
    AtFlags, CWD, Dir, FileType, Mode, OFlags, ResolveFlags, mkdirat, openat, openat2, statat,
    unlinkat,
};
use rustix::io::Errno;

use super::path::InnerPath;

/// Flags for opening a directory we will create entries in.
const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::CLOEXEC)
    .union(OFlags::NOCTTY);

/// Mode of directories created because an entry needs them and the layer does not list them.
const IMPLICIT_DIR_MODE: u32 = 0o755;

/// The destination, held open.
#[derive(Debug)]
pub(super) struct Root {
    fd: OwnedFd,
}

/// Why a directory could not be opened within the destination.
#[derive(Debug)]
pub(super) enum OpenDirError {
    /// A component is a symlink whose target does not exist, so no directory can be made there.
    DanglingSymlink,
    /// A component exists and is not a directory (nor a symlink to one).
    NotADirectory,
    /// Another system error.
    Sys(Errno),
}

impl From<Errno> for OpenDirError {
    fn from(e: Errno) -> Self {
        match e {
            Errno::NOTDIR => OpenDirError::NotADirectory,
            e => OpenDirError::Sys(e),
        }
    }
}

impl Root {
    /// Opens `dest`, which must be a directory.
    pub(super) fn open(dest: &Path) -> Result<Root, Errno> {
        Ok(Root {
            fd: openat(CWD, dest, DIR_FLAGS, Mode::empty())?,
        })
    }

    /// Opens the directory at `path` within the root; `Ok(None)` when it does not exist.
    pub(super) fn open_existing_dir(
        &self,
        path: &[std::ffi::OsString],
    ) -> Result<Option<OwnedFd>, OpenDirError> {
        let rel = InnerPath::from_components(path).to_relative();
        match openat2(&self.fd, &rel, DIR_FLAGS, Mode::empty(), in_root()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Opens the directory at `path` within the root, creating missing components (mode 0755).
    pub(super) fn create_dir_all(
        &self,
        path: &[std::ffi::OsString],
    ) -> Result<OwnedFd, OpenDirError> {
        if let Some(fd) = self.open_existing_dir(path)? {
            return Ok(fd);
        }
        let mut fd = openat(&self.fd, ".", DIR_FLAGS, Mode::empty())?;
        for n in 1..=path.len() {
            let prefix = InnerPath::from_components(&path[..n]).to_relative();
            fd = match openat2(&self.fd, &prefix, DIR_FLAGS, Mode::empty(), in_root()) {
                Ok(next) => next,
                Err(Errno::NOENT) => {
                    let name = path[n - 1].as_os_str();
                    match mkdirat(&fd, name, Mode::from_raw_mode(IMPLICIT_DIR_MODE)) {
                        Ok(()) => {}
                        // The name exists but does not resolve: a symlink to nowhere.
                        Err(Errno::EXIST) => return Err(OpenDirError::DanglingSymlink),
                        Err(e) => return Err(e.into()),
                    }
                    openat(&fd, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?
                }
                Err(e) => return Err(e.into()),
            };
        }
        Ok(fd)
    }

    /// The root's own descriptor.
    pub(super) fn fd(&self) -> &OwnedFd {
        &self.fd
    }
}

fn in_root() -> ResolveFlags {
    ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS
}

/// The type of `name` in `dir`, without following a symlink; `None` when absent.
pub(super) fn file_type_at(dir: impl AsFd, name: &OsStr) -> Result<Option<FileType>, Errno> {
    match statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(FileType::from_raw_mode(st.st_mode))),
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes `name` from `dir` whatever it is, recursively for directories, never following a
/// symlink. Absent is not an error.
pub(super) fn remove_all_at(dir: impl AsFd, name: &OsStr) -> Result<(), Errno> {
    match file_type_at(&dir, name)? {
        None => Ok(()),
        Some(FileType::Directory) => {
            let sub = openat(&dir, name, DIR_FLAGS | OFlags::NOFOLLOW, Mode::empty())?;
            remove_children(&sub, |_| false)?;
            unlinkat(&dir, name, AtFlags::REMOVEDIR)
        }
        Some(_) => unlinkat(&dir, name, AtFlags::empty()),
    }
}

/// Removes every child of the directory `dir` for which `keep` is false.
pub(super) fn remove_children(
    dir: &OwnedFd,
    mut keep: impl FnMut(&OsStr) -> bool,
) -> Result<(), Errno> {
    for name in child_names(dir)? {
        if !keep(&name) {
            remove_all_at(dir, &name)?;
        }
    }
    Ok(())
}

/// The names in directory `dir`, without `.` and `..`, sorted.
pub(super) fn child_names(dir: &OwnedFd) -> Result<Vec<std::ffi::OsString>, Errno> {
    use std::os::unix::ffi::OsStrExt;
    let mut names = Vec::new();
    for entry in Dir::read_from(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name != b"." && name != b".." {
            names.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    names.sort();
    Ok(names)
}

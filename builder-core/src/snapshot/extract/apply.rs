//! The extractor: one tar entry at a time, confined to the root.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;

use rustix::fs::{
    AtFlags, FileType, Mode, OFlags, Timestamps, XattrFlags, fsetxattr, futimens, linkat, makedev,
    mkdirat, mknodat, openat, symlinkat,
};
use rustix::io::Errno;
use tar::EntryType;

use super::meta::{self, EntryMeta, MetaWarnings};
use super::path::{InnerPath, Whiteout, whiteout_of};
use super::root::{OpenDirError, Root, child_names, file_type_at, remove_all_at};
use super::{ExtractError, ExtractOptions, ExtractStats, WhiteoutMode};
use crate::Result;

const COPY_BUFFER: usize = 128 * 1024;
const OVERLAY_OPAQUE_XATTR: &str = "trusted.overlay.opaque";

/// Extraction state across the entries of one layer.
#[derive(Debug)]
pub(super) struct Extractor {
    root: Root,
    options: ExtractOptions,
    stats: ExtractStats,
    warnings: MetaWarnings,
    /// Paths this layer wrote (with their ancestors): an opaque marker spares them.
    unpacked: BTreeSet<InnerPath>,
    /// Directory times, set at the end, once their content no longer changes.
    dir_times: Vec<(InnerPath, Timestamps)>,
    buffer: Vec<u8>,
}

/// The entry being applied, for error messages.
struct Ctx {
    name: String,
}

impl Ctx {
    fn sys(&self, op: &'static str) -> impl FnOnce(Errno) -> crate::Error + '_ {
        move |e| self.io(op, e)
    }

    fn io(&self, op: &'static str, e: impl Into<crate::store::IoCause>) -> crate::Error {
        ExtractError::Io {
            entry: self.name.clone(),
            op,
            source: e.into(),
        }
        .into()
    }

    fn op((op, e): (&'static str, Errno)) -> impl FnOnce(&Ctx) -> crate::Error {
        move |ctx| ctx.io(op, e)
    }

    fn open_dir(&self, e: OpenDirError) -> crate::Error {
        let entry = self.name.clone();
        match e {
            OpenDirError::DanglingSymlink => ExtractError::DanglingSymlink { entry }.into(),
            OpenDirError::NotADirectory => ExtractError::NotADirectory { entry }.into(),
            OpenDirError::Sys(e) => self.io("open parent directory", e),
        }
    }
}

impl Extractor {
    pub(super) fn new(root: Root, options: ExtractOptions) -> Extractor {
        Extractor {
            root,
            options,
            stats: ExtractStats::default(),
            warnings: MetaWarnings::default(),
            unpacked: BTreeSet::new(),
            dir_times: Vec::new(),
            buffer: vec![0; COPY_BUFFER],
        }
    }

    /// Applies one entry.
    pub(super) fn apply<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<()> {
        let raw_name = entry.path_bytes().into_owned();
        let ctx = Ctx {
            name: String::from_utf8_lossy(&raw_name).into_owned(),
        };
        let read_error = |e: std::io::Error| ExtractError::Read {
            entry: Some(ctx.name.clone()),
            source: e.into(),
        };
        self.stats.entries += 1;
        let mut kind = entry.header().entry_type();
        if kind == EntryType::Regular && raw_name.ends_with(b"/") {
            kind = EntryType::Directory; // pre-POSIX tars mark directories by the slash only
        }
        if matches!(kind, EntryType::XGlobalHeader) {
            self.stats.skipped_entries += 1;
            return Ok(());
        }
        let meta = EntryMeta::read(entry).map_err(read_error)?;
        let path = InnerPath::from_bytes(&raw_name);
        let Some((parent, name)) = path.split_last() else {
            return self.apply_root(&ctx, kind, &meta);
        };
        match whiteout_of(name) {
            Whiteout::None => {}
            Whiteout::Opaque => return self.opaque(&ctx, parent),
            Whiteout::Remove(target) => return self.whiteout(&ctx, parent, target),
            Whiteout::AufsMeta => {
                self.stats.skipped_entries += 1;
                return Ok(());
            }
            Whiteout::Invalid => {
                return Err(ExtractError::InvalidWhiteout { entry: ctx.name }.into());
            }
        }
        let dir = self
            .root
            .create_dir_all(parent)
            .map_err(|e| ctx.open_dir(e))?;
        self.unpacked.extend(path.with_ancestors());
        match kind {
            EntryType::Directory => self.make_dir(&ctx, &dir, &path, &meta),
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.write_file(&ctx, &dir, name, &meta, entry)
            }
            EntryType::Symlink => self.symlink(&ctx, &dir, name, &meta, entry),
            EntryType::Link => self.hardlink(&ctx, &dir, &path, entry),
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                self.node(&ctx, &dir, name, kind, &meta)
            }
            other => Err(ExtractError::UnsupportedEntryType {
                entry: ctx.name,
                type_byte: other.as_byte(),
            }
            .into()),
        }
    }

    /// Sets directory times (children first) and returns the statistics.
    pub(super) fn finish(mut self) -> Result<ExtractStats> {
        for (path, times) in self.dir_times.iter().rev() {
            // A directory removed by a later whiteout, or replaced by a non-directory, is skipped.
            if let Ok(Some(fd)) = self.root.open_existing_dir(path.components()) {
                let ctx = Ctx {
                    name: path.to_relative().to_string_lossy().into_owned(),
                };
                futimens(&fd, times).map_err(ctx.sys("set times"))?;
            }
        }
        self.stats.skipped_xattrs += self.warnings.skipped_xattrs;
        Ok(self.stats)
    }

    /// A directory entry naming the root itself updates the root's metadata.
    fn apply_root(&mut self, ctx: &Ctx, kind: EntryType, meta: &EntryMeta) -> Result<()> {
        if !kind.is_dir() {
            return Err(ExtractError::EntryIsRoot {
                entry: ctx.name.clone(),
            }
            .into());
        }
        meta::apply_to_fd(
            self.root.fd(),
            meta,
            self.options.same_owner,
            &mut self.warnings,
        )
        .map_err(|e| Ctx::op(e)(ctx))?;
        self.stats.directories += 1;
        self.dir_times
            .push((InnerPath::from_bytes(b""), timestamps(meta)));
        Ok(())
    }

    fn make_dir(
        &mut self,
        ctx: &Ctx,
        dir: &OwnedFd,
        path: &InnerPath,
        meta: &EntryMeta,
    ) -> Result<()> {
        let Some((_, name)) = path.split_last() else {
            return Ok(());
        };
        match file_type_at(dir, name).map_err(ctx.sys("stat"))? {
            Some(FileType::Directory) => {}
            existing => {
                if existing.is_some() {
                    remove_all_at(dir, name).map_err(ctx.sys("replace"))?;
                }
                mkdirat(dir, name, Mode::from_raw_mode(0o700))
                    .map_err(ctx.sys("create directory"))?;
            }
        }
        let fd =
            openat(dir, name, dir_flags(), Mode::empty()).map_err(ctx.sys("open directory"))?;
        meta::apply_to_fd(&fd, meta, self.options.same_owner, &mut self.warnings)
            .map_err(|e| Ctx::op(e)(ctx))?;
        self.dir_times.push((path.clone(), timestamps(meta)));
        self.stats.directories += 1;
        Ok(())
    }

    fn write_file<R: Read>(
        &mut self,
        ctx: &Ctx,
        dir: &OwnedFd,
        name: &OsStr,
        meta: &EntryMeta,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<()> {
        remove_all_at(dir, name).map_err(ctx.sys("replace"))?;
        let flags =
            OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd =
            openat(dir, name, flags, Mode::from_raw_mode(0o600)).map_err(ctx.sys("create file"))?;
        let mut file = File::from(fd);
        loop {
            let n = entry
                .read(&mut self.buffer)
                .map_err(|e| ExtractError::Read {
                    entry: Some(ctx.name.clone()),
                    source: e.into(),
                })?;
            if n == 0 {
                break;
            }
            file.write_all(&self.buffer[..n])
                .map_err(|e| ctx.io("write", e))?;
            self.stats.bytes += n as u64;
        }
        meta::apply_to_fd(&file, meta, self.options.same_owner, &mut self.warnings)
            .and_then(|()| meta::set_times_fd(&file, meta))
            .map_err(|e| Ctx::op(e)(ctx))?;
        self.stats.files += 1;
        Ok(())
    }

    fn symlink<R: Read>(
        &mut self,
        ctx: &Ctx,
        dir: &OwnedFd,
        name: &OsStr,
        meta: &EntryMeta,
        entry: &tar::Entry<'_, R>,
    ) -> Result<()> {
        let target = entry.link_name_bytes().unwrap_or_default();
        remove_all_at(dir, name).map_err(ctx.sys("replace"))?;
        // The target is stored as written: it is only ever resolved inside the root.
        symlinkat(target.as_ref(), dir, name).map_err(ctx.sys("create symlink"))?;
        meta::apply_at(
            dir,
            name,
            meta,
            true,
            self.options.same_owner,
            &mut self.warnings,
        )
        .map_err(|e| Ctx::op(e)(ctx))?;
        self.stats.symlinks += 1;
        Ok(())
    }

    fn hardlink<R: Read>(
        &mut self,
        ctx: &Ctx,
        dir: &OwnedFd,
        path: &InnerPath,
        entry: &tar::Entry<'_, R>,
    ) -> Result<()> {
        let raw_target = entry.link_name_bytes().unwrap_or_default().into_owned();
        let target = InnerPath::from_bytes(&raw_target);
        let missing = || -> crate::Error {
            ExtractError::HardlinkTargetMissing {
                entry: ctx.name.clone(),
                target: String::from_utf8_lossy(&raw_target).into_owned(),
            }
            .into()
        };
        let (Some((tparent, tname)), Some((_, name))) = (target.split_last(), path.split_last())
        else {
            return Err(missing());
        };
        if &target == path {
            return Ok(()); // a link to itself: already there
        }
        let tdir = match self.root.open_existing_dir(tparent) {
            Ok(Some(fd)) => fd,
            Ok(None) | Err(OpenDirError::NotADirectory | OpenDirError::DanglingSymlink) => {
                return Err(missing());
            }
            Err(e) => return Err(ctx.open_dir(e)),
        };
        if file_type_at(&tdir, tname)
            .map_err(ctx.sys("stat link target"))?
            .is_none()
        {
            return Err(missing());
        }
        remove_all_at(dir, name).map_err(ctx.sys("replace"))?;
        // Flags 0: a symlink target is linked itself, never followed.
        linkat(&tdir, tname, dir, name, AtFlags::empty()).map_err(ctx.sys("create hard link"))?;
        self.stats.hardlinks += 1;
        Ok(())
    }

    fn node(
        &mut self,
        ctx: &Ctx,
        dir: &OwnedFd,
        name: &OsStr,
        kind: EntryType,
        meta: &EntryMeta,
    ) -> Result<()> {
        let file_type = match kind {
            EntryType::Char => FileType::CharacterDevice,
            EntryType::Block => FileType::BlockDevice,
            _ => FileType::Fifo,
        };
        remove_all_at(dir, name).map_err(ctx.sys("replace"))?;
        let dev = makedev(meta.device.0, meta.device.1);
        match mknodat(dir, name, file_type, Mode::from_raw_mode(meta.mode), dev) {
            Ok(()) => {}
            Err(Errno::PERM) if file_type != FileType::Fifo => {
                self.stats.skipped_devices += 1;
                return Ok(());
            }
            Err(e) => return Err(ctx.io("create node", e)),
        }
        meta::apply_at(
            dir,
            name,
            meta,
            false,
            self.options.same_owner,
            &mut self.warnings,
        )
        .map_err(|e| Ctx::op(e)(ctx))?;
        self.stats.nodes += 1;
        Ok(())
    }

    /// `.wh..wh..opq` in `parent`.
    fn opaque(&mut self, ctx: &Ctx, parent: &[std::ffi::OsString]) -> Result<()> {
        self.stats.whiteouts += 1;
        let dir = self
            .root
            .create_dir_all(parent)
            .map_err(|e| ctx.open_dir(e))?;
        let parent_path = InnerPath::from_components(parent);
        self.unpacked.extend(parent_path.with_ancestors());
        match self.options.whiteouts {
            WhiteoutMode::Overlay => {
                fsetxattr(&dir, OVERLAY_OPAQUE_XATTR, b"y", XattrFlags::empty())
                    .map_err(ctx.sys("set opaque xattr"))
            }
            WhiteoutMode::Apply => self
                .clear_lower(&dir, &parent_path)
                .map_err(ctx.sys("clear opaque directory")),
        }
    }

    /// Removes what `dir` holds that this layer did not write, recursively.
    fn clear_lower(&self, dir: &OwnedFd, path: &InnerPath) -> std::result::Result<(), Errno> {
        for name in child_names(dir)? {
            let child = path.join(&name);
            if !self.unpacked.contains(&child) {
                remove_all_at(dir, &name)?;
            } else if file_type_at(dir, &name)? == Some(FileType::Directory) {
                let sub = openat(dir, &name, dir_flags() | OFlags::NOFOLLOW, Mode::empty())?;
                self.clear_lower(&sub, &child)?;
            }
        }
        Ok(())
    }

    /// `.wh.<target>` in `parent`.
    fn whiteout(&mut self, ctx: &Ctx, parent: &[std::ffi::OsString], target: &OsStr) -> Result<()> {
        self.stats.whiteouts += 1;
        if self.options.whiteouts == WhiteoutMode::Overlay {
            let dir = self
                .root
                .create_dir_all(parent)
                .map_err(|e| ctx.open_dir(e))?;
            remove_all_at(&dir, target).map_err(ctx.sys("replace"))?;
            return mknodat(
                &dir,
                target,
                FileType::CharacterDevice,
                Mode::empty(),
                makedev(0, 0),
            )
            .map_err(ctx.sys("create overlay whiteout"));
        }
        match self.root.open_existing_dir(parent) {
            Ok(Some(dir)) => remove_all_at(&dir, target).map_err(ctx.sys("remove whited-out path")),
            // Nothing below to hide.
            Ok(None) | Err(OpenDirError::NotADirectory | OpenDirError::DanglingSymlink) => Ok(()),
            Err(e) => Err(ctx.open_dir(e)),
        }
    }
}

fn dir_flags() -> OFlags {
    OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW
}

fn timestamps(meta: &EntryMeta) -> Timestamps {
    Timestamps {
        last_access: meta.mtime,
        last_modification: meta.mtime,
    }
}

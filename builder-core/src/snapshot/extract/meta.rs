//! An entry's metadata (owner, mode, times, xattrs, device numbers) and its application.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use rustix::fs::{
    AtFlags, Gid, Mode, Timespec, Timestamps, Uid, XattrFlags, chmodat, chownat, fchmod, fchown,
    fsetxattr, futimens, lsetxattr, utimensat,
};
use rustix::io::Errno;

/// The xattr namespace never taken from a layer (overlayfs and other kernel-trusted state).
const TRUSTED_PREFIX: &[u8] = b"trusted.";
/// PAX keys carrying xattrs.
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

/// What applies to an entry besides its content.
#[derive(Debug)]
pub(super) struct EntryMeta {
    pub(super) mode: u32,
    pub(super) uid: u32,
    pub(super) gid: u32,
    pub(super) mtime: Timespec,
    pub(super) xattrs: Vec<(OsString, Vec<u8>)>,
    pub(super) device: (u32, u32),
}

impl EntryMeta {
    /// Reads the header and PAX records of `entry`.
    pub(super) fn read<R: Read>(entry: &mut tar::Entry<'_, R>) -> std::io::Result<EntryMeta> {
        let header = entry.header();
        let mut meta = EntryMeta {
            mode: header.mode()? & 0o7777,
            uid: u32::try_from(header.uid()?).unwrap_or(u32::MAX),
            gid: u32::try_from(header.gid()?).unwrap_or(u32::MAX),
            mtime: Timespec {
                tv_sec: i64::try_from(header.mtime()?).unwrap_or(i64::MAX),
                tv_nsec: 0,
            },
            xattrs: Vec::new(),
            device: (0, 0),
        };
        // Only device entries must have device numbers: other writers leave the fields blank.
        if header.entry_type().is_character_special() || header.entry_type().is_block_special() {
            meta.device = (
                header.device_major()?.unwrap_or(0),
                header.device_minor()?.unwrap_or(0),
            );
        }
        if let Some(pax) = entry.pax_extensions()? {
            for ext in pax {
                let ext = ext?;
                let Ok(key) = ext.key() else { continue };
                if let Some(name) = key.strip_prefix(PAX_XATTR_PREFIX) {
                    meta.xattrs
                        .push((OsString::from(name), ext.value_bytes().to_vec()));
                } else if key == "mtime"
                    && let Some(t) = ext.value().ok().and_then(parse_pax_time)
                {
                    meta.mtime = t;
                }
            }
        }
        Ok(meta)
    }

    fn timestamps(&self) -> Timestamps {
        Timestamps {
            last_access: self.mtime,
            last_modification: self.mtime,
        }
    }
}

/// Parses a PAX time (`1700000000.123456789`, possibly negative).
fn parse_pax_time(s: &str) -> Option<Timespec> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let tv_sec: i64 = secs.parse().ok()?;
    let digits: String = frac.chars().take(9).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let nanos: i64 = format!("{digits:0<9}").parse().ok()?;
    if tv_sec < 0 && nanos > 0 {
        return Some(Timespec {
            tv_sec: tv_sec - 1,
            tv_nsec: (1_000_000_000 - nanos) as _,
        });
    }
    Some(Timespec {
        tv_sec,
        tv_nsec: nanos as _,
    })
}

/// Warnings counted while applying metadata.
#[derive(Debug, Default)]
pub(super) struct MetaWarnings {
    pub(super) skipped_xattrs: u64,
}

/// Applies owner, mode and xattrs to an open file or directory (in that order: `chown` clears
/// setuid bits and file capabilities). Times are set by the caller.
pub(super) fn apply_to_fd(
    fd: impl AsFd,
    meta: &EntryMeta,
    same_owner: bool,
    warnings: &mut MetaWarnings,
) -> Result<(), (&'static str, Errno)> {
    if same_owner {
        fchown(
            &fd,
            Some(Uid::from_raw(meta.uid)),
            Some(Gid::from_raw(meta.gid)),
        )
        .map_err(|e| ("chown", e))?;
    }
    fchmod(&fd, Mode::from_raw_mode(meta.mode)).map_err(|e| ("chmod", e))?;
    for (name, value) in &meta.xattrs {
        if is_skipped_xattr(name) {
            warnings.skipped_xattrs += 1;
            continue;
        }
        tolerate_refusal(fsetxattr(&fd, name, value, XattrFlags::empty()), warnings)?;
    }
    Ok(())
}

/// Sets a regular file's times through its descriptor.
pub(super) fn set_times_fd(fd: impl AsFd, meta: &EntryMeta) -> Result<(), (&'static str, Errno)> {
    futimens(fd, &meta.timestamps()).map_err(|e| ("set times", e))
}

/// Applies owner, mode (unless a symlink), xattrs and times to `name` in `dir`, never
/// following a symlink at `name`.
pub(super) fn apply_at(
    dir: impl AsFd,
    name: &OsStr,
    meta: &EntryMeta,
    is_symlink: bool,
    same_owner: bool,
    warnings: &mut MetaWarnings,
) -> Result<(), (&'static str, Errno)> {
    if same_owner {
        let (uid, gid) = (Uid::from_raw(meta.uid), Gid::from_raw(meta.gid));
        chownat(&dir, name, Some(uid), Some(gid), AtFlags::SYMLINK_NOFOLLOW)
            .map_err(|e| ("chown", e))?;
    }
    if !is_symlink {
        // The node was just created by us at this name; chmodat cannot refuse to follow.
        chmodat(&dir, name, Mode::from_raw_mode(meta.mode), AtFlags::empty())
            .map_err(|e| ("chmod", e))?;
    }
    if !meta.xattrs.is_empty() {
        // lsetxattr through the directory's /proc magic link: the last component is not followed.
        let fd = std::os::fd::AsRawFd::as_raw_fd(&dir.as_fd());
        let mut path = OsString::from(format!("/proc/self/fd/{fd}/"));
        path.push(name);
        for (xname, value) in &meta.xattrs {
            if is_skipped_xattr(xname) {
                warnings.skipped_xattrs += 1;
                continue;
            }
            tolerate_refusal(
                lsetxattr(&path, xname, value, XattrFlags::empty()),
                warnings,
            )?;
        }
    }
    utimensat(&dir, name, &meta.timestamps(), AtFlags::SYMLINK_NOFOLLOW)
        .map_err(|e| ("set times", e))
}

fn is_skipped_xattr(name: &OsStr) -> bool {
    name.as_bytes().starts_with(TRUSTED_PREFIX)
}

/// Counts an xattr the filesystem or our privileges refuse as a warning, not an error.
fn tolerate_refusal(
    result: Result<(), Errno>,
    warnings: &mut MetaWarnings,
) -> Result<(), (&'static str, Errno)> {
    match result {
        Ok(()) => Ok(()),
        Err(Errno::NOTSUP | Errno::PERM | Errno::ACCESS | Errno::INVAL | Errno::NOSPC) => {
            warnings.skipped_xattrs += 1;
            Ok(())
        }
        Err(e) => Err(("set xattr", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pax_times() {
        let t = parse_pax_time("1700000000.5").expect("time");
        assert_eq!((t.tv_sec, t.tv_nsec), (1_700_000_000, 500_000_000));
        let t = parse_pax_time("-1.25").expect("time");
        assert_eq!((t.tv_sec, t.tv_nsec), (-2, 750_000_000));
        assert!(parse_pax_time("x").is_none());
    }
}

//! User and group names resolved in a stage's `/etc/passwd` and `/etc/group`.
//!
//! Two sets of rules, both BuildKit's:
//! - **`--chown` and `WORKDIR` after `USER`** (`resolve_chown`, BuildKit's file op `readUser`):
//!   `user[:group]`; a numeric user is that uid and, without a group, the same gid; a name is
//!   looked up in `/etc/passwd` and, without a group, takes that user's primary gid; a group is
//!   numeric or looked up in `/etc/group`. An unknown name is an error naming it.
//! - **`USER` for a process** (`resolve_user`, runc's `GetExecUser`): a numeric uid missing from
//!   `/etc/passwd` gets gid 0; a known user gets its primary gid; without an explicit group, the
//!   additional gids are those of the groups in `/etc/group` listing the user as a member.
//!
//! The files are read from the stage's materialised filesystem; symlinks on the way are
//! resolved inside it (`/etc -> /x` means `<rootfs>/x`), never on the host.

use std::path::Path;

use super::diff::resolve_in_image;

/// Why a user or group could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OwnerError {
    /// A user name is not in the stage's `/etc/passwd`.
    #[error("unable to find user {name}: no matching entries in passwd file")]
    UnknownUser {
        /// The name.
        name: String,
    },
    /// A group name is not in the stage's `/etc/group`.
    #[error("unable to find group {name}: no matching entries in group file")]
    UnknownGroup {
        /// The name.
        name: String,
    },
    /// The user spec is empty or malformed (`:`, `a:b:c`).
    #[error("invalid user {spec:?}: expected user[:group]")]
    Invalid {
        /// The spec as given.
        spec: String,
    },
}

/// One line of `/etc/passwd` or `/etc/group` that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: String,
    id: u32,
    /// passwd: the primary gid; group: unused (0).
    gid: u32,
    /// group: the member names.
    members: Vec<String>,
}

/// The owner `--chown=<spec>` (or `WORKDIR` after `USER <spec>`) gives: `(uid, gid)`.
pub(crate) fn resolve_chown(rootfs: &Path, spec: &str) -> Result<(u32, u32), OwnerError> {
    let (user, group) = split(spec)?;
    let (uid, mut gid) = match user.parse::<u32>() {
        Ok(uid) => (uid, uid),
        Err(_) => {
            let passwd = read(rootfs, "etc/passwd", false);
            let entry = find(&passwd, user).ok_or_else(|| OwnerError::UnknownUser {
                name: user.to_owned(),
            })?;
            (entry.id, entry.gid)
        }
    };
    if let Some(group) = group {
        gid = resolve_group(rootfs, group)?;
    }
    Ok((uid, gid))
}

/// The user a process runs as for `USER <spec>`: `(uid, gid, additional gids)`.
pub(crate) fn resolve_user(rootfs: &Path, spec: &str) -> Result<(u32, u32, Vec<u32>), OwnerError> {
    let (user, group) = split(spec)?;
    let passwd = read(rootfs, "etc/passwd", false);
    let entry = match user.parse::<u32>() {
        Ok(uid) => passwd.into_iter().find(|e| e.id == uid),
        Err(_) => Some(
            find(&passwd, user)
                .cloned()
                .ok_or_else(|| OwnerError::UnknownUser {
                    name: user.to_owned(),
                })?,
        ),
    };
    let uid = match (&entry, user.parse::<u32>()) {
        (_, Ok(uid)) => uid,
        (Some(e), Err(_)) => e.id,
        (None, Err(_)) => 0,
    };
    let mut gid = entry.as_ref().map_or(0, |e| e.gid);
    let mut additional = Vec::new();
    match group {
        Some(group) => gid = resolve_group(rootfs, group)?,
        None => {
            if let Some(name) = entry.as_ref().map(|e| e.name.as_str()) {
                for g in read(rootfs, "etc/group", true) {
                    if g.members.iter().any(|m| m == name) && !additional.contains(&g.id) {
                        additional.push(g.id);
                    }
                }
            }
        }
    }
    Ok((uid, gid, additional))
}

fn resolve_group(rootfs: &Path, group: &str) -> Result<u32, OwnerError> {
    match group.parse::<u32>() {
        Ok(gid) => Ok(gid),
        Err(_) => find(&read(rootfs, "etc/group", true), group)
            .map(|e| e.id)
            .ok_or_else(|| OwnerError::UnknownGroup {
                name: group.to_owned(),
            }),
    }
}

fn split(spec: &str) -> Result<(&str, Option<&str>), OwnerError> {
    let invalid = || OwnerError::Invalid {
        spec: spec.to_owned(),
    };
    let (user, group) = match spec.split_once(':') {
        Some((_, g)) if g.contains(':') => return Err(invalid()),
        Some((u, g)) => (u, Some(g)),
        None => (spec, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(invalid());
    }
    Ok((user, group))
}

fn find<'e>(entries: &'e [Entry], name: &str) -> Option<&'e Entry> {
    entries.iter().find(|e| e.name == name)
}

/// The entries of `rel` (`etc/passwd`) in `rootfs`; none when the file is missing or unreadable,
/// as BuildKit treats a missing file as having no entries.
fn read(rootfs: &Path, rel: &str, is_group: bool) -> Vec<Entry> {
    let mut path = rootfs.to_owned();
    path.extend(resolve_in_image(rootfs, rel));
    let Ok(text) = std::fs::read(&path) else {
        return Vec::new();
    };
    String::from_utf8_lossy(&text)
        .lines()
        .filter_map(|line| parse_line(line, is_group))
        .collect()
}

/// `name:x:uid:gid:...` (passwd) or `name:x:gid:member,member` (group).
fn parse_line(line: &str, is_group: bool) -> Option<Entry> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return None;
    }
    let fields: Vec<&str> = line.split(':').collect();
    let name = (*fields.first()?).to_owned();
    let id = fields.get(2)?.trim().parse().ok()?;
    if is_group {
        let members = fields
            .get(3)
            .map(|m| {
                m.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        Some(Entry {
            name,
            id,
            gid: 0,
            members,
        })
    } else {
        let gid = fields.get(3)?.trim().parse().ok()?;
        Some(Entry {
            name,
            id,
            gid,
            members: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("real")).unwrap();
        std::os::unix::fs::symlink("/real", dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("real/passwd"),
            "root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1001::/home/app:/bin/sh\n\
             daemon:x:1:1::/:/bin/false\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("real/group"),
            "root:x:0:\ndaemon:x:1:\nappgrp:x:1001:\nstaff:x:50:app,other\nwheel:x:10:app\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn chown_follows_buildkit() {
        let root = rootfs();
        let r = |s| resolve_chown(root.path(), s);
        assert_eq!(r("app").unwrap(), (1000, 1001));
        assert_eq!(r("app:staff").unwrap(), (1000, 50));
        assert_eq!(r("10").unwrap(), (10, 10));
        assert_eq!(r("10:staff").unwrap(), (10, 50));
        assert_eq!(r("daemon:7").unwrap(), (1, 7));
        assert_eq!(
            r("nobody").unwrap_err(),
            OwnerError::UnknownUser {
                name: "nobody".into()
            }
        );
        assert_eq!(
            r("app:nogroup").unwrap_err(),
            OwnerError::UnknownGroup {
                name: "nogroup".into()
            }
        );
        assert!(r("a:b:c").is_err());
        assert!(r(":x").is_err());
    }

    #[test]
    fn process_users_follow_runc() {
        let root = rootfs();
        let r = |s| resolve_user(root.path(), s);
        assert_eq!(r("app").unwrap(), (1000, 1001, vec![50, 10]));
        assert_eq!(r("1000").unwrap(), (1000, 1001, vec![50, 10]));
        assert_eq!(r("4242").unwrap(), (4242, 0, vec![]));
        assert_eq!(r("app:root").unwrap(), (1000, 0, vec![]));
        assert!(r("ghost").is_err());
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(resolve_chown(empty.path(), "5:6").unwrap(), (5, 6));
        assert!(resolve_chown(empty.path(), "app").is_err());
    }
}

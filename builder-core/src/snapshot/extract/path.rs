//! Entry names made safe: split into plain components with `..` clamped at the root.
//!
//! This is what containerd (`filepath.Clean` of `"/" + name`) and umoci do: a name is resolved
//! as if the destination were `/`, so `../../etc/x` and `/etc/x` both mean `<dest>/etc/x`.
//! Clamping is lexical; symlinks met along the way are resolved later, inside the destination
//! (see `root.rs`).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// The prefix of a whiteout file name.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// The name of the opaque-directory marker.
const OPAQUE_MARKER: &[u8] = b".wh..wh..opq";
/// The prefix of aufs metadata names (`.wh..wh.plnk`, ...), which are skipped.
const AUFS_META_PREFIX: &[u8] = b".wh..wh.";

/// A path inside the destination: plain components, none empty, `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) struct InnerPath(Vec<OsString>);

impl InnerPath {
    /// Splits raw tar name bytes, dropping empty and `.` components and clamping `..` at the
    /// root.
    pub(super) fn from_bytes(name: &[u8]) -> InnerPath {
        let mut components: Vec<OsString> = Vec::new();
        for part in name.split(|&b| b == b'/') {
            match part {
                b"" | b"." => {}
                b".." => {
                    components.pop();
                }
                _ => components.push(OsStr::from_bytes(part).to_os_string()),
            }
        }
        InnerPath(components)
    }

    /// A path from components already known to be plain.
    pub(super) fn from_components(components: &[OsString]) -> InnerPath {
        InnerPath(components.to_vec())
    }

    /// The components.
    pub(super) fn components(&self) -> &[OsString] {
        &self.0
    }

    /// The parent directory and the last component; `None` for the root.
    pub(super) fn split_last(&self) -> Option<(&[OsString], &OsStr)> {
        self.0
            .split_last()
            .map(|(last, parent)| (parent, last.as_os_str()))
    }

    /// This path with `name` appended (`name` is one plain component).
    pub(super) fn join(&self, name: &OsStr) -> InnerPath {
        let mut v = self.0.clone();
        v.push(name.to_os_string());
        InnerPath(v)
    }

    /// This path and every ancestor (excluding the root).
    pub(super) fn with_ancestors(&self) -> impl Iterator<Item = InnerPath> + '_ {
        (1..=self.0.len()).map(|n| InnerPath(self.0[..n].to_vec()))
    }

    /// The path as bytes joined by `/`, relative to the destination (`.` for the root).
    pub(super) fn to_relative(&self) -> OsString {
        if self.0.is_empty() {
            return OsString::from(".");
        }
        let mut s = OsString::new();
        for (i, c) in self.0.iter().enumerate() {
            if i > 0 {
                s.push("/");
            }
            s.push(c);
        }
        s
    }
}

/// What a file name means for whiteout processing.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Whiteout<'a> {
    /// Not a whiteout: an ordinary entry.
    None,
    /// `.wh..wh..opq`: hide the directory's lower content.
    Opaque,
    /// `.wh.<name>`: remove `<name>`.
    Remove(&'a OsStr),
    /// `.wh..wh.*` aufs metadata: ignored.
    AufsMeta,
    /// `.wh.` followed by nothing, `.` or `..`: invalid.
    Invalid,
}

/// Classifies the last component of an entry name.
pub(super) fn whiteout_of(name: &OsStr) -> Whiteout<'_> {
    let bytes = name.as_bytes();
    if bytes == OPAQUE_MARKER {
        return Whiteout::Opaque;
    }
    if bytes.starts_with(AUFS_META_PREFIX) {
        return Whiteout::AufsMeta;
    }
    match bytes.strip_prefix(WHITEOUT_PREFIX) {
        None => Whiteout::None,
        Some(b"" | b"." | b"..") => Whiteout::Invalid,
        Some(target) => Whiteout::Remove(OsStr::from_bytes(target)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(name: &str) -> Vec<String> {
        InnerPath::from_bytes(name.as_bytes())
            .components()
            .iter()
            .map(|c| c.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn clamps_like_containerd() {
        assert_eq!(parts("../x"), ["x"]);
        assert_eq!(parts("/etc/passwd"), ["etc", "passwd"]);
        assert_eq!(parts("a/../../b/./c//"), ["b", "c"]);
        assert_eq!(parts("./"), Vec::<String>::new());
        assert!(InnerPath::from_bytes(b"..").components().is_empty());
    }

    #[test]
    fn classifies_whiteouts() {
        assert_eq!(whiteout_of(OsStr::new(".wh..wh..opq")), Whiteout::Opaque);
        assert_eq!(
            whiteout_of(OsStr::new(".wh.foo")),
            Whiteout::Remove(OsStr::new("foo"))
        );
        assert_eq!(whiteout_of(OsStr::new(".wh...")), Whiteout::Invalid);
        assert_eq!(whiteout_of(OsStr::new(".wh.")), Whiteout::Invalid);
        assert_eq!(whiteout_of(OsStr::new(".wh..wh.plnk")), Whiteout::AufsMeta);
        assert_eq!(whiteout_of(OsStr::new("foo.wh.")), Whiteout::None);
    }
}

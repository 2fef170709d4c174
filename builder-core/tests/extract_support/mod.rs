//! Shared by the extraction tests: a tar writer that takes raw (possibly hostile) names, and a
//! tree snapshot to compare directories.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use tar::{EntryType, Header};

/// The mtime every entry gets unless told otherwise.
pub const MTIME: u64 = 1_600_000_000;

/// Builds a layer tar entry by entry, with names written byte for byte.
pub struct LayerTar {
    builder: tar::Builder<Vec<u8>>,
}

impl Default for LayerTar {
    fn default() -> Self {
        LayerTar {
            builder: tar::Builder::new(Vec::new()),
        }
    }
}

/// A header with raw `name` (and `link`), mode, owner 0:0 and [`MTIME`].
pub fn raw_header(name: &[u8], kind: EntryType, mode: u32, size: u64, link: &[u8]) -> Header {
    let mut h = Header::new_ustar();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(MTIME);
    let old = h.as_old_mut();
    old.name[..name.len()].copy_from_slice(name);
    old.linkname[..link.len()].copy_from_slice(link);
    h.set_cksum();
    h
}

impl LayerTar {
    /// Appends an entry with a prepared header.
    pub fn entry(&mut self, mut header: Header, data: &[u8]) -> &mut Self {
        header.set_cksum();
        self.builder.append(&header, data).expect("append");
        self
    }

    /// A regular file.
    pub fn file(&mut self, name: &str, mode: u32, data: &[u8]) -> &mut Self {
        let h = raw_header(
            name.as_bytes(),
            EntryType::Regular,
            mode,
            data.len() as u64,
            b"",
        );
        self.entry(h, data)
    }

    /// A directory.
    pub fn dir(&mut self, name: &str, mode: u32) -> &mut Self {
        self.entry(
            raw_header(name.as_bytes(), EntryType::Directory, mode, 0, b""),
            b"",
        )
    }

    /// A symlink.
    pub fn symlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = raw_header(
            name.as_bytes(),
            EntryType::Symlink,
            0o777,
            0,
            target.as_bytes(),
        );
        self.entry(h, b"")
    }

    /// A hard link.
    pub fn hardlink(&mut self, name: &str, target: &str) -> &mut Self {
        let h = raw_header(
            name.as_bytes(),
            EntryType::Link,
            0o644,
            0,
            target.as_bytes(),
        );
        self.entry(h, b"")
    }

    /// PAX records for the next entry.
    pub fn pax(&mut self, records: &[(&str, &[u8])]) -> &mut Self {
        let mut data = Vec::new();
        for (key, value) in records {
            let body_len = 1 + key.len() + 1 + value.len() + 1;
            let mut len = body_len + 1;
            while len != body_len + len.to_string().len() {
                len = body_len + len.to_string().len();
            }
            data.extend_from_slice(format!("{len} {key}=").as_bytes());
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        let h = raw_header(
            b"PaxHeaders/entry",
            EntryType::XHeader,
            0o644,
            data.len() as u64,
            b"",
        );
        self.entry(h, &data)
    }

    /// The tar bytes.
    pub fn finish(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.builder, tar::Builder::new(Vec::new()));
        b.into_inner().expect("finish")
    }
}

/// What a path is, for comparing trees.
#[derive(Clone, PartialEq, Eq)]
pub struct Node {
    pub kind: &'static str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: i64,
    pub content: Vec<u8>,
    pub link: Option<PathBuf>,
    pub rdev: u64,
    pub nlink: u64,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("kind", &self.kind)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("owner", &(self.uid, self.gid))
            .field("mtime", &self.mtime)
            .field("content_len", &self.content.len())
            .field("link", &self.link)
            .field("rdev", &self.rdev)
            .field("nlink", &self.nlink)
            .finish()
    }
}

/// Every path under `root` (relative), with what it is.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, Node> {
    let mut out = BTreeMap::new();
    walk(root, Path::new(""), &mut out);
    out
}

fn walk(root: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, Node>) {
    let dir = root.join(rel);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    for name in names {
        let rel = rel.join(&name);
        let path = root.join(&rel);
        let m = std::fs::symlink_metadata(&path).expect("lstat");
        let ft = m.file_type();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else if ft.is_file() {
            "file"
        } else if ft.is_fifo() {
            "fifo"
        } else if ft.is_char_device() {
            "char"
        } else {
            "other"
        };
        out.insert(
            rel.clone(),
            Node {
                kind,
                mode: m.mode() & 0o7777,
                uid: m.uid(),
                gid: m.gid(),
                mtime: m.mtime(),
                content: if ft.is_file() {
                    std::fs::read(&path).expect("read")
                } else {
                    Vec::new()
                },
                link: ft
                    .is_symlink()
                    .then(|| std::fs::read_link(&path).expect("readlink")),
                rdev: m.rdev(),
                nlink: if ft.is_dir() { 0 } else { m.nlink() },
            },
        );
        if ft.is_dir() {
            walk(root, &rel, out);
        }
    }
}

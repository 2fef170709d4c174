//! Safe layer extraction: an uncompressed tar stream applied onto a directory.
//!
//! Entries are applied in order, with OCI whiteouts (`.wh.<name>` removes `<name>`,
//! `.wh..wh..opq` hides the directory's content from lower layers), hard links, symlinks,
//! xattrs, device nodes, fifos, ownership, modes (setuid included) and modification times (set
//! last for directories). File contents are streamed through a fixed buffer: memory grows with
//! the number of entries, never with their size.
//!
//! **Nothing is written outside the destination.** Names are made relative and their `..`
//! components clamped at the root, as containerd and umoci do (`../../x` and `/x` both mean
//! `<dest>/x`). Parent directories are opened with `openat2(RESOLVE_IN_ROOT)`, so a symlink in
//! an entry's path (`a -> /`, `a -> ../..`) is resolved as if the destination were `/` and stays
//! inside it. The last component is never followed: an existing file, symlink or directory at
//! that name is replaced. Hard-link targets are resolved the same way, inside the destination.
//!
//! ```no_run
//! # fn main() -> builder_core::Result<()> {
//! use builder_core::snapshot::{ExtractOptions, LayerReader, extract_layer};
//! let blob = std::fs::File::open("layer.tar.gz").expect("open");
//! let tar = LayerReader::new(blob).expect("read");
//! let stats = extract_layer(tar, "/tmp/rootfs".as_ref(), ExtractOptions::default())?;
//! println!("{} entries", stats.entries);
//! # Ok(()) }
//! ```

mod apply;
mod compress;
mod meta;
mod path;
mod root;

use std::io::Read;
use std::path::{Path, PathBuf};

pub use compress::{Compression, LayerReader};

use crate::store::IoCause;

/// What to do with whiteout entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum WhiteoutMode {
    /// Apply them to the destination: successive layers extracted into one directory.
    #[default]
    Apply,
    /// Convert them to overlayfs whiteouts (a 0:0 character device for `.wh.<name>`, the
    /// `trusted.overlay.opaque=y` xattr for `.wh..wh..opq`), for a layer extracted alone into
    /// a directory used as an overlay lower layer. Needs root.
    Overlay,
}

/// How to extract.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtractOptions {
    /// Give entries the owner recorded in the tar (`lchown`); needs root (or a user namespace).
    pub same_owner: bool,
    /// What to do with whiteouts.
    pub whiteouts: WhiteoutMode,
}

impl Default for ExtractOptions {
    /// Owners preserved, whiteouts applied.
    fn default() -> Self {
        ExtractOptions {
            same_owner: true,
            whiteouts: WhiteoutMode::Apply,
        }
    }
}

/// What an extraction did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExtractStats {
    /// Entries read from the tar.
    pub entries: u64,
    /// Regular files written.
    pub files: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Directories created or updated.
    pub directories: u64,
    /// Symlinks created.
    pub symlinks: u64,
    /// Hard links created.
    pub hardlinks: u64,
    /// Device nodes and fifos created.
    pub nodes: u64,
    /// Whiteouts and opaque markers processed.
    pub whiteouts: u64,
    /// Warnings: xattrs not set (`trusted.*`, or refused by the filesystem).
    pub skipped_xattrs: u64,
    /// Warnings: device nodes not created for lack of privilege.
    pub skipped_devices: u64,
    /// Entries ignored (aufs metadata, PAX global headers).
    pub skipped_entries: u64,
}

/// Why a layer could not be extracted. Each names the entry concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The destination cannot be opened as a directory.
    #[error("cannot open extraction destination {}: {source}", path.display())]
    Destination {
        /// The destination.
        path: PathBuf,
        /// The system error.
        #[source]
        source: IoCause,
    },
    /// The tar stream is unreadable (truncated, corrupt, bad compression).
    #[error("reading layer{}: {source}", entry_suffix(.entry))]
    Read {
        /// The entry being read, if one had started.
        entry: Option<String>,
        /// The read error.
        #[source]
        source: IoCause,
    },
    /// A file operation for an entry failed.
    #[error("layer entry {entry:?}: cannot {op}: {source}")]
    Io {
        /// The entry's name as written in the tar.
        entry: String,
        /// The operation.
        op: &'static str,
        /// The system error.
        #[source]
        source: IoCause,
    },
    /// A component of the entry's path exists and is not a directory.
    #[error("layer entry {entry:?}: a component of its path is not a directory")]
    NotADirectory {
        /// The entry's name.
        entry: String,
    },
    /// A component of the entry's path is a symlink to nothing.
    #[error("layer entry {entry:?}: a component of its path is a dangling symlink")]
    DanglingSymlink {
        /// The entry's name.
        entry: String,
    },
    /// A whiteout names nothing, `.` or `..`.
    #[error("layer entry {entry:?}: invalid whiteout")]
    InvalidWhiteout {
        /// The entry's name.
        entry: String,
    },
    /// A non-directory entry names the destination itself.
    #[error("layer entry {entry:?}: a non-directory entry names the root")]
    EntryIsRoot {
        /// The entry's name.
        entry: String,
    },
    /// A hard link's target is not in the destination.
    #[error("layer entry {entry:?}: hard link target {target:?} does not exist")]
    HardlinkTargetMissing {
        /// The entry's name.
        entry: String,
        /// The target as written in the tar.
        target: String,
    },
    /// The tar holds an entry type layers may not contain.
    #[error("layer entry {entry:?}: unsupported entry type {type_byte:#04x}")]
    UnsupportedEntryType {
        /// The entry's name.
        entry: String,
        /// The tar type flag.
        type_byte: u8,
    },
}

fn entry_suffix(entry: &Option<String>) -> String {
    entry
        .as_ref()
        .map(|e| format!(" at entry {e:?}"))
        .unwrap_or_default()
}

/// Applies the uncompressed layer tar read from `reader` onto the directory `dest`.
///
/// Wrap a compressed blob in [`LayerReader`] first. See the module documentation for the
/// safety rules.
pub fn extract_layer(
    reader: impl Read,
    dest: &Path,
    options: ExtractOptions,
) -> crate::Result<ExtractStats> {
    let root = root::Root::open(dest).map_err(|e| ExtractError::Destination {
        path: dest.to_path_buf(),
        source: e.into(),
    })?;
    let mut extractor = apply::Extractor::new(root, options);
    let mut archive = tar::Archive::new(reader);
    let entries = archive.entries().map_err(|e| ExtractError::Read {
        entry: None,
        source: e.into(),
    })?;
    // Reading an entry's header first skips what is left of the previous entry's content, so
    // a read error there (a header claiming more bytes than the stream holds) is named after
    // the previous entry.
    let mut previous: Option<String> = None;
    for entry in entries {
        let mut entry = entry.map_err(|e| ExtractError::Read {
            entry: previous.take(),
            source: e.into(),
        })?;
        previous = Some(String::from_utf8_lossy(&entry.path_bytes()).into_owned());
        extractor.apply(&mut entry)?;
    }
    extractor.finish()
}

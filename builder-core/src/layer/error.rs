//! [`LayerError`]: why a layer could not be written.

pub use crate::error::IoCause;
use std::io;
use std::path::PathBuf;

/// Why a layer could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayerError {
    /// An entry path is not a clean relative path (`/`-led, empty, `.` or `..` segments).
    #[error("invalid entry path {path:?}: {reason}")]
    InvalidPath {
        /// The offending path.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A file name on disk is not UTF-8; layer entries are UTF-8 strings.
    #[error("file name is not UTF-8: {path:?}")]
    NonUtf8Path {
        /// The file on disk.
        path: PathBuf,
    },
    /// An extended attribute name on disk is not UTF-8.
    #[error("extended attribute name is not UTF-8 on {path:?}")]
    NonUtf8Xattr {
        /// The file on disk.
        path: PathBuf,
    },
    /// A value does not fit the tar format (e.g. a device number above `0o7777777`).
    #[error("{path}: {field} cannot be represented in a tar header")]
    Unrepresentable {
        /// The entry path.
        path: String,
        /// Which field.
        field: &'static str,
    },
    /// A regular file's content source yielded a different number of bytes than its entry says
    /// (the file changed while the layer was written).
    #[error("{path}: expected {expected} bytes of content, the source had {actual}{more}",
        more = if *.actual > *.expected { " or more" } else { "" })]
    SizeMismatch {
        /// The entry path.
        path: String,
        /// The size in the entry.
        expected: u64,
        /// The bytes read (for a grown file, `expected + 1`).
        actual: u64,
    },
    /// A regular file with content was given no content source.
    #[error("{path}: a file of {size} bytes was given no content")]
    MissingContent {
        /// The entry path.
        path: String,
        /// The size in the entry.
        size: u64,
    },
    /// A PAX extended header would exceed its size limit (1 MiB), e.g. huge xattrs.
    #[error("{path}: extended header of {size} bytes exceeds the 1 MiB limit")]
    ExtendedHeaderTooLarge {
        /// The entry path.
        path: String,
        /// The header's size.
        size: usize,
    },
    /// Reading a file or directory on disk failed.
    #[error("reading {path:?}: {source}")]
    Read {
        /// The file on disk.
        path: PathBuf,
        /// The underlying error.
        source: IoCause,
    },
    /// Writing the layer stream (or compressing it) failed.
    #[error("writing the layer: {0}")]
    Write(IoCause),
    /// An invalid option (compression level, thread count).
    #[error("invalid layer option: {0}")]
    InvalidOption(&'static str),
}

impl LayerError {
    /// A read error on `path`.
    pub(crate) fn read(path: impl Into<PathBuf>, source: io::Error) -> Self {
        LayerError::Read {
            path: path.into(),
            source: IoCause::from(source),
        }
    }

    /// A write error on the layer stream.
    pub(crate) fn write(source: io::Error) -> Self {
        LayerError::Write(IoCause::from(source))
    }
}

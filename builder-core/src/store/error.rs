//! Errors of the local store, and [`IoCause`], the shared form of an operating-system error.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use registry_client::Digest;

/// An operating-system error kept so that errors stay `Clone + Eq`.
///
/// Two causes are equal when their [`io::ErrorKind`] and raw OS error number are equal.
#[derive(Debug, Clone)]
pub struct IoCause(Arc<io::Error>);

impl IoCause {
    /// The kind of the underlying error.
    pub fn kind(&self) -> io::ErrorKind {
        self.0.kind()
    }

    /// The errno, when the error came from a system call.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.0.raw_os_error()
    }
}

impl PartialEq for IoCause {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.raw_os_error() == other.raw_os_error()
    }
}

impl Eq for IoCause {}

impl fmt::Display for IoCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<io::Error> for IoCause {
    fn from(e: io::Error) -> Self {
        IoCause(Arc::new(e))
    }
}

impl From<rustix::io::Errno> for IoCause {
    fn from(e: rustix::io::Errno) -> Self {
        IoCause(Arc::new(e.into()))
    }
}

/// Why a store operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation on the store failed.
    #[error("store: cannot {op} {}: {source}", path.display())]
    Io {
        /// What was being done (`"create"`, `"rename"`, ...).
        op: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: IoCause,
    },
    /// Written content does not hash to the digest it was expected to have.
    #[error("blob digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// The digest the caller expected.
        expected: Digest,
        /// The digest of the bytes written.
        actual: Digest,
    },
    /// The store names blobs by SHA-256 only.
    #[error("unsupported digest algorithm for the local store: {digest}")]
    UnsupportedAlgorithm {
        /// The digest given.
        digest: Digest,
    },
    /// A blob the operation needs is not in the store.
    #[error("blob {digest} is not in the store")]
    BlobNotFound {
        /// The missing blob.
        digest: Digest,
    },
    /// `oci-layout` states a version this store does not know.
    #[error("{}: unsupported imageLayoutVersion {version:?} (expected \"1.0.0\")", path.display())]
    UnsupportedLayoutVersion {
        /// The `oci-layout` file.
        path: PathBuf,
        /// The version it states.
        version: String,
    },
    /// A store metadata file (`oci-layout`, `index.json`) is not the JSON it should be.
    #[error("{}: malformed store metadata: {message}", path.display())]
    MalformedMetadata {
        /// The file.
        path: PathBuf,
        /// The JSON parser's message.
        message: String,
    },
    /// A cache key is not 64 lowercase hex digits of SHA-256.
    #[error("invalid cache key {key:?}: expected a sha256 digest")]
    InvalidCacheKey {
        /// The text given.
        key: String,
    },
}

/// Maps an I/O error on `path` during `op` to the crate error.
pub(crate) fn io_error<E: Into<IoCause>>(
    op: &'static str,
    path: &Path,
) -> impl FnOnce(E) -> crate::Error {
    let path = path.to_path_buf();
    move |e| {
        crate::Error::new(StoreError::Io {
            op,
            path,
            source: e.into(),
        })
    }
}

//! Errors of the local store, and [`IoCause`], the shared form of an operating-system error.

use std::path::{Path, PathBuf};

use registry_client::Digest;

pub use crate::error::IoCause;

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

//! Why a snapshot could not be made, mounted or diffed.

use std::path::{Path, PathBuf};

use crate::store::IoCause;

/// An error of the snapshotters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SnapshotError {
    /// A file operation failed.
    #[error("cannot {operation} {path}: {cause}")]
    Io {
        /// What was being done.
        operation: &'static str,
        /// The path.
        path: PathBuf,
        /// The OS error.
        cause: IoCause,
    },
    /// A layer's uncompressed content does not have the diff_id its image config states.
    #[error(
        "layer {layer}: its content has diff_id {actual} but the image config says {expected} \
         (a corrupt or forged image; nothing of it was kept)"
    )]
    DiffIdMismatch {
        /// The layer blob's digest.
        layer: registry_client::Digest,
        /// The diff_id the config states.
        expected: registry_client::Digest,
        /// The digest of the uncompressed content.
        actual: registry_client::Digest,
    },
    /// overlayfs could not be mounted (the naive snapshotter works everywhere).
    #[error(
        "cannot mount overlayfs at {target}: {cause} (use --snapshotter naive where overlayfs \
         is not available)"
    )]
    Mount {
        /// The mount point.
        target: PathBuf,
        /// The OS error.
        cause: IoCause,
    },
}

impl SnapshotError {
    /// An [`SnapshotError::Io`] maker for `map_err`.
    pub(crate) fn io<E: Into<IoCause>>(
        operation: &'static str,
        path: &Path,
    ) -> impl FnOnce(E) -> SnapshotError + use<E> {
        let path = path.to_owned();
        move |e| SnapshotError::Io {
            operation,
            path,
            cause: e.into(),
        }
    }
}

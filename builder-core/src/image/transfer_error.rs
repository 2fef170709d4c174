//! [`TransferError`]: why an image could not be pulled, pushed, found, imported or exported.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::error::IoCause;

/// An error of `registry_client`, shared so that [`TransferError`] stays `Clone + Eq`.
#[derive(Debug, Clone)]
pub struct RegistryCause(Arc<registry_client::Error>);

impl RegistryCause {
    /// The registry client's error.
    pub fn error(&self) -> &registry_client::Error {
        &self.0
    }
}

impl From<registry_client::Error> for RegistryCause {
    fn from(e: registry_client::Error) -> Self {
        RegistryCause(Arc::new(e))
    }
}

impl PartialEq for RegistryCause {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_string() == other.to_string()
    }
}

impl Eq for RegistryCause {}

impl fmt::Display for RegistryCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The client's message already ends with its hint.
        write!(f, "{}", self.0)
    }
}

/// Why moving an image between a registry, the store, a layout or an archive failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The registry refused or could not be reached.
    #[error("cannot {operation} {reference}: {cause}")]
    Registry {
        /// What was being done (`pull`, `push`).
        operation: &'static str,
        /// The image reference.
        reference: String,
        /// The registry client's error, with its hint.
        cause: RegistryCause,
    },
    /// A reference does not parse.
    #[error("invalid image reference {reference:?}: {reason}")]
    InvalidReference {
        /// The reference as written.
        reference: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An image (an index) has no manifest for the platform asked for.
    #[error("{reference} has no image for platform {platform} (it offers: {offered})")]
    NoMatchingPlatform {
        /// The image.
        reference: String,
        /// The platform asked for.
        platform: String,
        /// The platforms it has.
        offered: String,
    },
    /// The image is not in the local store (or the layout).
    #[error("image {name} is not in {place}")]
    NotFound {
        /// The name or reference.
        name: String,
        /// Where it was looked for (`the local store`, a layout directory).
        place: String,
    },
    /// A manifest or index read from the store or a layout is not what it claims.
    #[error("{what} {digest}: {reason}")]
    InvalidManifest {
        /// `manifest` or `index`.
        what: &'static str,
        /// Its digest.
        digest: String,
        /// What is wrong.
        reason: String,
    },
    /// A directory given as an OCI layout is not one.
    #[error("{}: not an OCI image layout: {reason}", dir.display())]
    InvalidLayout {
        /// The directory.
        dir: PathBuf,
        /// What is missing or wrong.
        reason: String,
    },
    /// `--push` or `hoist push` was given a name that is not a registry reference.
    #[error("cannot push {name:?}: {reason}")]
    NotPushable {
        /// The tag.
        name: String,
        /// Why.
        reason: String,
    },
    /// The async runtime for registry I/O could not start.
    #[error("cannot start the runtime for registry I/O: {cause}")]
    Runtime {
        /// The OS error.
        cause: IoCause,
    },
}

impl TransferError {
    /// A [`TransferError::Registry`] maker for `map_err`.
    pub(crate) fn registry<R: fmt::Display>(
        operation: &'static str,
        reference: &R,
    ) -> impl FnOnce(registry_client::Error) -> TransferError + use<R> {
        let reference = reference.to_string();
        move |e| TransferError::Registry {
            operation,
            reference,
            cause: e.into(),
        }
    }
}

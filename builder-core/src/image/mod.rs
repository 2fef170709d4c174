//! The image model: config (Docker's fields kept), history, manifest and index assembly,
//! validation.
//!
//! - [`ImageConfig`] is our own serde type, not `oci-spec`'s: that one drops Docker's
//!   `Healthcheck`, `OnBuild`, `Shell` and `ArgsEscaped` and uses `HashMap`s, so its bytes change
//!   from run to run. Ours keeps every field, unknown ones included, in sorted maps.
//! - Bytes are written by [`canonical_json`]: compact, keys in a fixed order, strings escaped as
//!   Go's `encoding/json` escapes them. A config BuildKit wrote reads back to the same bytes.
//! - Bytes that were read are never re-serialised to compute a digest: [`ConfigBlob`] keeps them.
//! - Each Dockerfile instruction changes a config through a `with_*` method that returns a new
//!   value ([`ImageConfig::with_env`], ...); [`history_text`] gives the `created_by` text
//!   BuildKit records for it.

mod config;
mod history;
mod json;
mod manifest;
pub mod output;
mod ports;
mod remote;
mod stored;
mod transfer_error;
mod transfer_progress;
mod transform;
pub mod validate;

use registry_client::Digest;

pub use config::{ConfigBlob, ContainerConfig, Empty, Healthcheck, History, ImageConfig, RootFs};
pub use history::{HISTORY_COMMENT, creates_layer, history_text};
pub use json::canonical_json;
pub use manifest::{ManifestFormat, image_index, image_manifest};
pub use ports::parse_port_spec;
pub use remote::{Pulled, Remote};
pub use stored::{Layout, StoredImage};
pub use transfer_error::{RegistryCause, TransferError};
pub use transfer_progress::Reporter;
pub(crate) use transfer_progress::short_digest;
pub use transform::{DEFAULT_PATH_ENV, default_shell, normalize_workdir};

/// Why an image, config, manifest or index was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageError {
    /// The bytes are not JSON of the expected shape.
    #[error("invalid {document} JSON: {reason}")]
    InvalidJson {
        /// What was being read (`image config`, `manifest`, ...).
        document: &'static str,
        /// The JSON parser's message.
        reason: String,
    },
    /// The document breaks a rule of the OCI image-spec schema or its validator.
    #[error("{document} does not follow the OCI image spec at {path}: {reason}")]
    Schema {
        /// What was validated (`image config`, `image manifest`, ...).
        document: &'static str,
        /// A JSON pointer to the offending value (empty for the root).
        path: String,
        /// What is wrong there.
        reason: String,
    },
    /// An `EXPOSE` port is malformed.
    #[error("invalid port {spec:?}: {reason}")]
    InvalidPort {
        /// The port as written.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `VOLUME` was given an empty path.
    #[error("VOLUME specified can not be an empty string")]
    EmptyVolume,
    /// `STOPSIGNAL` names no known signal.
    #[error("invalid signal: {signal}")]
    InvalidSignal {
        /// The signal as written.
        signal: String,
    },
    /// A layer's media type has no Docker schema2 equivalent (zstd).
    #[error("media type {media_type} has no Docker schema2 equivalent")]
    NoDockerMediaType {
        /// The OCI media type.
        media_type: String,
    },
    /// A blob's content does not hash to the digest that names it.
    #[error("{what} digest mismatch: expected {expected}, got {actual}")]
    DigestMismatch {
        /// Which blob (`config`, `layer 2`, `layer 2 diff_id`).
        what: String,
        /// The digest the manifest or config states.
        expected: Digest,
        /// The digest of the content.
        actual: Digest,
    },
    /// A blob's length differs from the descriptor's size.
    #[error("{what} size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch {
        /// Which blob.
        what: String,
        /// The size the descriptor states.
        expected: u64,
        /// The blob's length.
        actual: u64,
    },
    /// The manifest lists a different number of layers than the config's `rootfs.diff_ids`.
    #[error("the manifest has {layers} layers but the config has {diff_ids} diff_ids")]
    LayerCountMismatch {
        /// Layers in the manifest.
        layers: usize,
        /// `rootfs.diff_ids` in the config.
        diff_ids: usize,
    },
    /// The history's non-empty entries do not match the layers.
    #[error("the history records {history} layers but the image has {layers}")]
    HistoryMismatch {
        /// History entries without `empty_layer`.
        history: usize,
        /// Layers in the image.
        layers: usize,
    },
    /// A blob could not be read.
    #[error("cannot read blob {digest}: {reason}")]
    BlobRead {
        /// The blob.
        digest: Digest,
        /// The I/O error's message.
        reason: String,
    },
}

//! [`TransferProgress`]: byte counts of blob uploads and downloads, as they happen.
//!
//! Design note: a plain callback on a [`Client`] clone ([`Client::with_progress`]) rather than
//! a parameter of every call, so the calls keep their signatures and a caller watches exactly
//! the transfers it starts. Uploads count bytes as they are read from the file into the
//! request (a retried chunk counts again from where the registry stood); downloads count the
//! bytes verified and written.

use std::sync::Arc;

use crate::client::Client;
use crate::digest::Digest;

/// Called as blob bytes move: the blob's digest, the bytes done so far and its size. Called
/// often (every 64 KiB or so): keep it cheap.
pub type TransferProgress = Arc<dyn Fn(&Digest, u64, u64) + Send + Sync>;

impl Client {
    /// A clone of this client (sharing its connections, tokens and limits) that reports the
    /// blob bytes its uploads and downloads move to `progress`.
    pub fn with_progress(&self, progress: TransferProgress) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            progress: Some(progress),
        }
    }

    /// Reports `done` of `total` bytes of `digest`, when someone listens.
    pub(crate) fn report(&self, digest: &Digest, done: u64, total: u64) {
        if let Some(progress) = &self.progress {
            progress(digest, done, total);
        }
    }
}

//! The local store: an OCI image layout that skopeo and umoci can read, plus Hoist's own state.
//!
//! ```text
//! <root>/oci-layout                 {"imageLayoutVersion":"1.0.0"}
//! <root>/index.json                 OCI index; tags are `org.opencontainers.image.ref.name`
//!                                   annotations on manifest descriptors
//! <root>/blobs/sha256/<hex>         blobs, named by their verified digest
//! <root>/hoist/tmp/                 temporary files (same filesystem as blobs, so renames are atomic)
//! <root>/hoist/cache/<hex>          one cache record per cache key
//! <root>/hoist/snapshots/<hex>      extracted layers, by diff_id
//! <root>/hoist/stat-cache/<hex>     file digests by stat data, per build context (by the
//!                                   sha256 of its canonical path)
//! <root>/hoist/locks/               flock(2) lock files (`gc.lock`: builds hold it shared, prune
//!                                   exclusive; see `gc.rs`)
//! ```
//!
//! OCI readers ignore the `hoist/` directory. The library never reads the environment: the CLI
//! passes the root (`$HOIST_ROOT`, by default `$XDG_DATA_HOME/hoist`).
//!
//! **Atomicity.** Every write goes to a temporary file under `hoist/tmp/`, is fsynced, renamed
//! into place and its directory fsynced; a blob is renamed only after its digest is verified, so
//! a file under `blobs/` is always complete. `index.json` is rewritten under an exclusive lock;
//! readers take a shared one. **Locks** are `flock(2)`: the kernel releases them when a process
//! dies, so there are no stale locks (see `lock.rs`). **Recovery**: opening a store removes
//! temporary files and directories that no live process holds, and the mounts a killed `RUN`
//! step left below them (see `recover.rs`); [`Store::verify`] checks everything (`verify.rs`).
//!
//! ```no_run
//! # fn main() -> builder_core::Result<()> {
//! use std::io::Write;
//! let store = builder_core::store::Store::open("/var/lib/hoist")?;
//! let mut w = store.blob_writer()?;
//! w.write_all(b"layer bytes").expect("write");
//! let (digest, size) = w.commit(None)?;
//! assert!(store.has_blob(&digest) && size == 11);
//! # Ok(()) }
//! ```

mod blob;
mod cache;
mod error;
mod gc;
mod index;
mod lock;
mod recover;
mod temp;
mod verify;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use registry_client::Digest;

pub use blob::{BlobWriter, PrehashedBlobWriter};
pub use cache::{CacheKey, CacheRecord, CachedLayer};
pub use error::{IoCause, StoreError};
pub use gc::{PruneOptions, PruneReport, Pruned, PrunedKind, StoreLease};
pub use index::REF_NAME;
pub use recover::{Leftover, LeftoverKind, LockedTempDir};
pub use verify::{MissingBlob, VerifyReport};

use crate::Result;
use error::io_error;
use lock::{LockGuard, LockMode};

/// How old an unlocked temporary file must be before [`Store::open`] removes it.
pub const STALE_TEMP_AGE: Duration = Duration::from_secs(10 * 60);

const OCI_LAYOUT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// A handle on a local store rooted at a directory. Cheap to clone; safe to share between
/// threads and between processes.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// Opens the store at `root`, creating the layout when absent, and removes the leftovers of
    /// dead processes (best effort; see [`Store::recover`]): unlocked temporary entries whose
    /// creator is gone or that are older than [`STALE_TEMP_AGE`].
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let store = Store { root: root.into() };
        store.create_layout()?;
        // Best effort: a failure here (say, a leftover mount a non-root user cannot unmount)
        // must not stop the command; `hoist store verify` reports what is left.
        let _ = store.recover(STALE_TEMP_AGE);
        Ok(store)
    }

    /// Opens the store at `root` like [`Store::open`] but removes nothing, so that
    /// [`Store::verify`] can report what dead processes left behind.
    pub fn open_without_recovery(root: impl Into<PathBuf>) -> Result<Store> {
        let store = Store { root: root.into() };
        store.create_layout()?;
        Ok(store)
    }

    fn create_layout(&self) -> Result<()> {
        for dir in [
            self.root.join("blobs").join("sha256"),
            self.tmp_dir(),
            self.hoist_dir().join("cache"),
            self.hoist_dir().join("snapshots"),
            self.hoist_dir().join("locks"),
        ] {
            fs::create_dir_all(&dir).map_err(io_error("create directory", &dir))?;
        }
        self.check_layout_file()?;
        self.init_index()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the extracted layer with this diff_id lives (`hoist/snapshots/<hex>`).
    pub fn snapshot_dir(&self, diff_id: &Digest) -> PathBuf {
        self.hoist_dir().join("snapshots").join(diff_id.encoded())
    }

    /// Where the stat cache of the build context at `context_root` (a canonical path) lives, so
    /// that an unchanged context is not read again by the next build.
    pub fn stat_cache_dir(&self, context_root: &Path) -> PathBuf {
        use std::os::unix::ffi::OsStrExt;
        let id = Digest::sha256_of(context_root.as_os_str().as_bytes());
        self.hoist_dir().join("stat-cache").join(id.encoded())
    }

    /// The directory for temporary files and directories, on the blobs' filesystem.
    pub fn tmp_dir(&self) -> PathBuf {
        self.hoist_dir().join("tmp")
    }

    /// Removes temporary files older than `min_age` that no live process holds; returns how
    /// many. [`Store::open`] calls it with [`STALE_TEMP_AGE`].
    pub fn recover_temp(&self, min_age: Duration) -> Result<usize> {
        temp::remove_stale(&self.tmp_dir(), min_age, SystemTime::now())
    }

    fn hoist_dir(&self) -> PathBuf {
        self.root.join("hoist")
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root
            .join("blobs")
            .join("sha256")
            .join(digest.encoded())
    }

    fn lock(&self, name: &str, mode: LockMode) -> Result<LockGuard> {
        LockGuard::acquire(&self.hoist_dir().join("locks").join(name), mode)
    }

    /// Writes `oci-layout` when absent; checks its version when present.
    fn check_layout_file(&self) -> Result<()> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Layout {
            image_layout_version: String,
        }
        let path = self.root.join("oci-layout");
        match fs::read(&path) {
            Ok(bytes) => {
                let layout: Layout =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::MalformedMetadata {
                        path: path.clone(),
                        message: e.to_string(),
                    })?;
                if layout.image_layout_version != "1.0.0" {
                    return Err(StoreError::UnsupportedLayoutVersion {
                        path,
                        version: layout.image_layout_version,
                    }
                    .into());
                }
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                temp::write_atomic(&self.tmp_dir(), &path, OCI_LAYOUT)
            }
            Err(e) => Err(io_error("read", &path)(e)),
        }
    }
}

//! `hoist build -`: the build context is a tar archive (plain, gzip or zstd) on standard
//! input, extracted with the library's safe layer extractor (nothing lands outside the
//! directory) into a temporary directory that is removed after the build.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use builder_core::snapshot::{ExtractOptions, LayerReader, extract_layer};
use builder_core::store::{LockedTempDir, Store};

/// Extracts the tar archive read from `input` into a new temporary directory under `parent`.
pub fn extract_context(input: impl Read, parent: &Path) -> anyhow::Result<LockedTempDir> {
    let dir = LockedTempDir::new_in(parent, "stdin-context")
        .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
    let reader = LayerReader::new(input).context("cannot read the context from standard input")?;
    // The context's owners do not matter (COPY gives files to root unless --chown) and the
    // extraction must not need root.
    let mut options = ExtractOptions::default();
    options.same_owner = false;
    extract_layer(reader, dir.path(), options).map_err(|e| {
        anyhow::anyhow!(
            "the context on standard input must be a tar archive (plain, gzip or zstd): {}",
            e.kind()
        )
    })?;
    Ok(dir)
}

/// Removes the stat cache the build kept for the temporary context `dir`: no later build will
/// see that directory again.
pub fn forget(store: &Store, dir: &Path) {
    if let Ok(root) = std::fs::canonicalize(dir) {
        // Best effort: a left-over stat cache is only wasted space.
        let _ = std::fs::remove_dir_all(store.stat_cache_dir(&root));
    }
}

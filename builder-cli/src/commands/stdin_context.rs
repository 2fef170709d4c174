//! `hoist build -`: the build context comes on standard input, as `docker build -` takes it.
//!
//! What the bytes are is told by their start, as docker's `DetectArchiveReader` does: a
//! compressed stream (gzip, bzip2, xz, zstd) or a tar header is an archive, extracted with the
//! library's safe layer extractor (nothing lands outside the directory); anything else is a
//! Dockerfile, and the context holds only that Dockerfile. Either way the context is a
//! temporary directory under the store's tmp dir, removed after the build. Archives stream:
//! nothing but the first 512 bytes is held in memory.

use std::io::Read;
use std::path::Path;

use anyhow::Context;
use builder_core::exec::{decompress_stream, is_tar_header};
use builder_core::snapshot::{ExtractOptions, extract_layer};
use builder_core::store::Store;

/// What came on standard input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinKind {
    /// A tar archive (plain or compressed): the whole context.
    Archive,
    /// A Dockerfile: the context holds only it, as `Dockerfile`.
    Dockerfile,
}

/// Reads the context from `input` into a new temporary directory under `parent`.
pub fn read_context(
    input: impl Read,
    parent: &Path,
) -> anyhow::Result<(tempfile::TempDir, StdinKind)> {
    let dir = tempfile::Builder::new()
        .prefix("stdin-context-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
    let failed = "cannot read the context from standard input";
    let (compressed, mut reader) = decompress_stream(input).context(failed)?;
    let mut head = Vec::with_capacity(512);
    (&mut reader)
        .take(512)
        .read_to_end(&mut head)
        .map_err(|e| match compressed {
            true => anyhow::anyhow!(
                "the context on standard input is not a valid compressed tar archive: {e}"
            ),
            false => anyhow::Error::from(e).context(failed),
        })?;
    let is_tar = compressed || <&[u8; 512]>::try_from(head.as_slice()).is_ok_and(is_tar_header);
    if !is_tar {
        let mut text = head;
        reader.read_to_end(&mut text).context(failed)?;
        let path = dir.path().join("Dockerfile");
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        return Ok((dir, StdinKind::Dockerfile));
    }
    // The context's owners do not matter (COPY gives files to root unless --chown) and the
    // extraction must not need root.
    let mut options = ExtractOptions::default();
    options.same_owner = false;
    extract_layer(
        std::io::Cursor::new(head).chain(reader),
        dir.path(),
        options,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "the context on standard input is not a valid tar archive (plain, gzip, bzip2, xz \
             or zstd): {}",
            e.kind()
        )
    })?;
    Ok((dir, StdinKind::Archive))
}

/// Removes the stat cache the build kept for the temporary context `dir`: no later build will
/// see that directory again.
pub fn forget(store: &Store, dir: &Path) {
    if let Ok(root) = std::fs::canonicalize(dir) {
        // Best effort: a left-over stat cache is only wasted space.
        let _ = std::fs::remove_dir_all(store.stat_cache_dir(&root));
    }
}

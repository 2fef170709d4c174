//! Content-addressed layer snapshots: each layer extracted once into
//! `hoist/snapshots/<diff_id hex>`, with overlay whiteouts, ready to be an overlay lowerdir.
//!
//! A snapshot is extracted into a temporary directory beside its final name, synced, and
//! renamed into place: a directory at the final name is always complete, and two processes
//! extracting the same layer at once both succeed (the loser removes its copy). Snapshots are
//! never changed once in place (overlayfs forbids changing a lowerdir while it is mounted).
//!
//! A flattened snapshot (the bottom layers of a deep image applied into one directory) is
//! named by the digest of the diff_ids it holds, so it is made once too.

use std::io::Read;
use std::path::{Path, PathBuf};

use registry_client::digest::Hasher;
use registry_client::{Descriptor, Digest};

use super::{ExtractOptions, LayerReader, SnapshotError, WhiteoutMode, extract_layer};
use crate::error::Result;
use crate::store::Store;

/// A layer of a stage: its blob and its diff_id.
#[derive(Debug, Clone, Copy)]
pub struct LayerRef<'a> {
    /// The blob in the store.
    pub descriptor: &'a Descriptor,
    /// The diff_id (names the snapshot).
    pub diff_id: &'a Digest,
}

/// Extracts `layer` onto `dest` with `whiteouts`, checking that the uncompressed stream has the
/// layer's diff_id: snapshots are named by diff_id and shared by every image of the store, so
/// an image whose config lies about a diff_id must not plant its content under another
/// layer's name (the caller discards `dest` on error).
pub(crate) fn extract_into(
    store: &Store,
    layer: LayerRef<'_>,
    dest: &Path,
    whiteouts: WhiteoutMode,
) -> Result<()> {
    let blob = store.open_blob(&layer.descriptor.digest)?;
    let path = Path::new(layer.descriptor.digest.as_str());
    let reader = LayerReader::new(blob).map_err(SnapshotError::io("read layer", path))?;
    let mut hashing = HashingReader {
        inner: reader,
        hasher: Hasher::new(layer.diff_id.algorithm()),
    };
    let options = ExtractOptions {
        whiteouts,
        ..Default::default()
    };
    extract_layer(&mut hashing, dest, options)?;
    // The tar reader stops at the end-of-archive blocks; the diff_id covers the whole stream.
    std::io::copy(&mut hashing, &mut std::io::sink())
        .map_err(SnapshotError::io("read layer", path))?;
    let actual = hashing.hasher.finish();
    if &actual != layer.diff_id {
        return Err(SnapshotError::DiffIdMismatch {
            layer: layer.descriptor.digest.clone(),
            expected: layer.diff_id.clone(),
            actual,
        }
        .into());
    }
    Ok(())
}

/// Hashes what is read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// The snapshot directory of `layer`, extracted (overlay whiteouts) if it is not there yet.
pub fn layer_snapshot(store: &Store, layer: LayerRef<'_>) -> Result<PathBuf> {
    let dir = store.snapshot_dir(layer.diff_id);
    ensure(&dir, |tmp| {
        extract_into(store, layer, tmp, WhiteoutMode::Overlay)
    })?;
    Ok(dir)
}

/// One snapshot holding `layers` (base first) applied in order, made if it is not there yet.
pub fn flattened_snapshot(store: &Store, layers: &[LayerRef<'_>]) -> Result<PathBuf> {
    let mut name = String::from("hoist.flattened.v1");
    for layer in layers {
        name.push('\n');
        name.push_str(layer.diff_id.as_str());
    }
    let dir = store.snapshot_dir(&Digest::sha256_of(name.as_bytes()));
    ensure(&dir, |tmp| {
        for layer in layers {
            extract_into(store, *layer, tmp, WhiteoutMode::Apply)?;
        }
        Ok(())
    })?;
    Ok(dir)
}

/// Applies `layers` (base first) into the directory `dest`: a materialised filesystem.
pub fn materialize(store: &Store, layers: &[LayerRef<'_>], dest: &Path) -> Result<()> {
    for layer in layers {
        extract_into(store, *layer, dest, WhiteoutMode::Apply)?;
    }
    Ok(())
}

/// Makes `dir` with `fill` unless it exists: fill a temporary sibling, sync, rename.
fn ensure(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("/"));
    let tmp = crate::store::LockedTempDir::new_in(parent, ".tmp")
        .map_err(SnapshotError::io("create a directory in", parent))?;
    fill(tmp.path())?;
    let file = std::fs::File::open(tmp.path()).map_err(SnapshotError::io("open", tmp.path()))?;
    rustix::fs::syncfs(&file).map_err(SnapshotError::io("sync", tmp.path()))?;
    match std::fs::rename(tmp.path(), dir) {
        Ok(()) => {
            // The directory is ours now; nothing left for the TempDir to remove.
            tmp.keep();
            Ok(())
        }
        // Another process renamed its copy first: ours is removed when `tmp` drops.
        Err(_) if dir.is_dir() => Ok(()),
        Err(e) => Err(SnapshotError::io("rename into", dir)(e).into()),
    }
}

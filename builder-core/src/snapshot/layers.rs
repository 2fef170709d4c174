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

use std::path::{Path, PathBuf};

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

/// Extracts `layer` onto `dest` with `whiteouts`.
pub(crate) fn extract_into(
    store: &Store,
    layer: LayerRef<'_>,
    dest: &Path,
    whiteouts: WhiteoutMode,
) -> Result<()> {
    let blob = store.open_blob(&layer.descriptor.digest)?;
    let path = Path::new(layer.descriptor.digest.as_str());
    let reader = LayerReader::new(blob).map_err(SnapshotError::io("read layer", path))?;
    let options = ExtractOptions {
        whiteouts,
        ..Default::default()
    };
    extract_layer(reader, dest, options)?;
    Ok(())
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

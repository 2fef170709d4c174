//! What a layer step reads of its stage's filesystem (`COPY`'s destination and the
//! directories on the way, `--chown` names, `WORKDIR`'s parents, `COPY --from` a stage): a
//! read-only overlay view of the stage's layer snapshots, so a step on a large cached stage
//! neither extracts nor copies the stage; or the stage's materialised directory with the
//! naive snapshotter, where overlayfs does not mount, or when that directory is already
//! complete.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use super::ExecError;
use super::stage::StageState;
use crate::error::{ErrorKind, Result};
use crate::snapshot::{LayerRef, OverlayView, SnapshotError, SnapshotterKind};
use crate::store::Store;

/// A stage's filesystem, readable while this lives.
#[derive(Debug)]
pub(super) enum StageView {
    /// The materialised directory.
    Dir(PathBuf),
    /// An overlay mount under a scratch directory (unmounted, then removed, on drop: fields
    /// drop in order).
    Overlay {
        /// The mount.
        view: OverlayView,
        /// Where it is mounted.
        _dir: tempfile::TempDir,
    },
}

impl StageView {
    /// Where the filesystem is.
    pub(super) fn path(&self) -> &Path {
        match self {
            StageView::Dir(p) => p,
            StageView::Overlay { view, .. } => view.path(),
        }
    }
}

/// The layers of `state` with their diff_ids (base first).
pub(super) fn layer_refs(state: &StageState) -> Vec<LayerRef<'_>> {
    state
        .layers
        .iter()
        .zip(&state.config.rootfs.diff_ids)
        .map(|(descriptor, diff_id)| LayerRef {
            descriptor,
            diff_id,
        })
        .collect()
}

/// A view of `state`'s filesystem: an overlay of its snapshots (each extracted once per
/// store if missing), or `materialise()` (the stage's directory) as described above.
pub(super) fn stage_view(
    store: &Store,
    state: &StageState,
    scratch: &Path,
    snapshotter: SnapshotterKind,
    materialise: impl FnOnce() -> Result<PathBuf>,
) -> Result<StageView> {
    let complete = state.applied.load(Ordering::SeqCst) == state.layers.len();
    if snapshotter == SnapshotterKind::Naive || complete {
        return Ok(StageView::Dir(materialise()?));
    }
    let dir = tempfile::Builder::new()
        .prefix("view-")
        .tempdir_in(scratch)
        .map_err(ExecError::io("create a directory in", scratch))?;
    match OverlayView::mount(store, &layer_refs(state), dir.path()) {
        Ok(view) => Ok(StageView::Overlay { view, _dir: dir }),
        Err(e) if matches!(e.kind(), ErrorKind::Snapshot(SnapshotError::Mount { .. })) => {
            Ok(StageView::Dir(materialise()?))
        }
        Err(e) => Err(e),
    }
}

//! The overlay snapshotter: a step's rootfs is an overlayfs mount of the layer snapshots
//! (lowerdirs, top first) and a fresh upper directory, which after the step *is* the diff.
//!
//! Deep images: the mount options must fit in one page (4096 bytes). The lowerdirs that fit
//! are used as they are, from the top; the layers below are applied into one flattened
//! snapshot (content-addressed, made once) that becomes the lowest lowerdir.

use std::ffi::CString;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};

use super::SnapshotError;
use super::layers::{LayerRef, flattened_snapshot, layer_snapshot};
use crate::error::Result;
use crate::store::Store;

/// Room for the mount options (a page, minus a margin for the kernel's own use).
pub(super) const OPTIONS_LIMIT: usize = 4000;

/// An overlayfs mount for one step; unmounted when dropped.
#[derive(Debug)]
pub struct OverlayMount {
    merged: PathBuf,
    upper: PathBuf,
    mounted: bool,
}

impl OverlayMount {
    /// Mounts `layers` (base first) with a fresh upper directory, all under the empty
    /// directory `dir` (`dir/merged`, `dir/upper`, `dir/work`).
    pub fn mount(store: &Store, layers: &[LayerRef<'_>], dir: &Path) -> Result<Self> {
        let merged = dir.join("merged");
        let upper = dir.join("upper");
        let work = dir.join("work");
        let empty = dir.join("empty");
        for d in [&merged, &upper, &work, &empty] {
            std::fs::create_dir(d).map_err(SnapshotError::io("create directory", d))?;
        }
        let fixed = format!(
            "upperdir={},workdir={},lowerdir=",
            upper.display(),
            work.display()
        );
        let lowers = lowerdirs(store, layers, OPTIONS_LIMIT - fixed.len(), &empty)?;
        let lowers: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        let options = format!("{fixed}{}", lowers.join(":"));
        let data = CString::new(options).map_err(|e| SnapshotError::Mount {
            target: merged.clone(),
            cause: std::io::Error::new(std::io::ErrorKind::InvalidInput, e).into(),
        })?;
        mount(
            "overlay",
            &merged,
            "overlay",
            MountFlags::empty(),
            Some(data.as_c_str()),
        )
        .map_err(|e| SnapshotError::Mount {
            target: merged.clone(),
            cause: std::io::Error::from(e).into(),
        })?;
        Ok(OverlayMount {
            merged,
            upper,
            mounted: true,
        })
    }

    /// The merged view: the step's rootfs.
    pub fn merged(&self) -> &Path {
        &self.merged
    }

    /// The upper directory: after [`Self::unmount`], the step's diff.
    pub fn upper(&self) -> &Path {
        &self.upper
    }

    /// Unmounts the merged view.
    pub fn unmount(&mut self) -> Result<(), SnapshotError> {
        if self.mounted {
            unmount(&self.merged, UnmountFlags::empty())
                .map_err(SnapshotError::io("unmount", &self.merged))?;
            self.mounted = false;
        }
        Ok(())
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        if self.mounted && unmount(&self.merged, UnmountFlags::empty()).is_err() {
            let _ = unmount(&self.merged, UnmountFlags::DETACH);
        }
    }
}

/// The lowerdirs for `layers`, top first, within `budget` bytes of options.
pub(super) fn lowerdirs(
    store: &Store,
    layers: &[LayerRef<'_>],
    budget: usize,
    empty: &Path,
) -> Result<Vec<PathBuf>> {
    if layers.is_empty() {
        return Ok(vec![empty.to_owned()]);
    }
    // A snapshot path's length does not depend on the layer, so count how many fit, leaving
    // room for a flattened one when not all do.
    let each = store.snapshot_dir(layers[0].diff_id).as_os_str().len() + 1;
    let fit = (budget / each).max(2);
    if layers.len() <= fit {
        return layers
            .iter()
            .rev()
            .map(|l| layer_snapshot(store, *l))
            .collect();
    }
    let split = layers.len() - (fit - 1);
    let mut dirs = layers[split..]
        .iter()
        .rev()
        .map(|l| layer_snapshot(store, *l))
        .collect::<Result<Vec<_>>>()?;
    dirs.push(flattened_snapshot(store, &layers[..split])?);
    Ok(dirs)
}

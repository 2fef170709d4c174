//! A read-only view of a stage's filesystem: an overlayfs mount of its layer snapshots with no
//! upper directory. Steps that only look at the stage (`COPY`'s destination, `--chown` names,
//! `WORKDIR`'s parents, `COPY --from` a stage) read it instead of a materialised copy, so a
//! step on a large cached stage costs nothing for the layers below it: each snapshot is
//! extracted once per store (or adopted from the diff that made it, see
//! [`super::adopt_snapshot`]).

use std::ffi::CString;
use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};

use super::SnapshotError;
use super::layers::LayerRef;
use super::overlay::{OPTIONS_LIMIT, lowerdirs};
use crate::error::Result;
use crate::store::Store;

/// A read-only overlay mount of some layers; unmounted when dropped.
#[derive(Debug)]
pub struct OverlayView {
    merged: PathBuf,
    mounted: bool,
}

impl OverlayView {
    /// Mounts `layers` (base first, at least one) read-only at `dir/merged`, `dir` being an
    /// empty directory.
    pub fn mount(store: &Store, layers: &[LayerRef<'_>], dir: &Path) -> Result<Self> {
        let merged = dir.join("merged");
        let empty = dir.join("empty");
        for d in [&merged, &empty] {
            std::fs::create_dir(d).map_err(SnapshotError::io("create directory", d))?;
        }
        let fixed = "lowerdir=";
        let mut lowers = lowerdirs(store, layers, OPTIONS_LIMIT - fixed.len(), &empty)?;
        // Without an upper directory overlayfs wants at least two lower ones.
        if lowers.len() < 2 {
            lowers.push(empty);
        }
        let lowers: Vec<String> = lowers.iter().map(|p| p.display().to_string()).collect();
        let options = format!("{fixed}{}", lowers.join(":"));
        let fail = |cause: std::io::Error| SnapshotError::Mount {
            target: merged.clone(),
            cause: cause.into(),
        };
        let data = CString::new(options)
            .map_err(|e| fail(std::io::Error::new(std::io::ErrorKind::InvalidInput, e)))?;
        mount(
            "overlay",
            &merged,
            "overlay",
            MountFlags::RDONLY,
            Some(data.as_c_str()),
        )
        .map_err(|e| fail(e.into()))?;
        Ok(OverlayView {
            merged,
            mounted: true,
        })
    }

    /// The merged, read-only filesystem.
    pub fn path(&self) -> &Path {
        &self.merged
    }
}

impl Drop for OverlayView {
    fn drop(&mut self) {
        if self.mounted && unmount(&self.merged, UnmountFlags::empty()).is_err() {
            let _ = unmount(&self.merged, UnmountFlags::DETACH);
        }
        self.mounted = false;
    }
}

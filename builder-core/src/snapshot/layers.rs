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

/// Makes the diff directory `dir` (the tree a step's layer was written from: a `COPY`'s diff,
/// or a `RUN`'s overlay upper directory) the snapshot of the layer `diff_id`, instead of
/// extracting the layer again later: its mtimes are set to what the layer records (whole
/// seconds, capped at `mtime_clamp`), overlayfs' own xattrs other than `opaque` are removed,
/// and it is synced and renamed into place. Returns whether `dir` was moved; it is left where
/// it is when the snapshot is already there (or another process put it there first) or when
/// the tree holds what the layer's extraction would make differently (a `.wh.` name, a
/// socket, an overlay redirect or metacopy).
pub fn adopt_snapshot(
    store: &Store,
    diff_id: &Digest,
    dir: &Path,
    mtime_clamp: Option<i64>,
) -> Result<bool> {
    let target = store.snapshot_dir(diff_id);
    if target.is_dir() || !layer_mtimes(dir, mtime_clamp)? {
        return Ok(false);
    }
    let file = std::fs::File::open(dir).map_err(SnapshotError::io("open", dir))?;
    rustix::fs::syncfs(&file).map_err(SnapshotError::io("sync", dir))?;
    match std::fs::rename(dir, &target) {
        Ok(()) => Ok(true),
        Err(_) if target.is_dir() => Ok(false),
        Err(e) => Err(SnapshotError::io("rename into", &target)(e).into()),
    }
}

/// Removes the overlayfs xattrs of `path` a layer does not record (`origin`, `impure`, ...:
/// all but `opaque`); `false` when it has one that changes what it means (a redirect, a
/// metacopy).
fn overlay_xattrs(path: &Path) -> Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(names) = xattr::list(path) else {
        return Ok(true);
    };
    for name in names {
        let bytes = name.as_bytes();
        let Some(rest) = bytes
            .strip_prefix(b"trusted.overlay.")
            .or_else(|| bytes.strip_prefix(b"user.overlay."))
        else {
            continue;
        };
        match rest {
            b"opaque" => {}
            b"redirect" | b"metacopy" => return Ok(false),
            _ => {
                xattr::remove(path, &name).map_err(SnapshotError::io("remove an xattr of", path))?
            }
        }
    }
    Ok(true)
}

/// Sets the mtimes under `dir` to whole seconds capped at `clamp`, as a layer records them,
/// and drops overlay xattrs ([`overlay_xattrs`]); `false` (stopping early) when a name starts
/// with `.wh.` or an entry cannot be a snapshot as it is.
fn layer_mtimes(dir: &Path, clamp: Option<i64>) -> Result<bool> {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, utimensat};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::fs::MetadataExt;
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        let entries =
            std::fs::read_dir(&current).map_err(SnapshotError::io("read directory", &current))?;
        for entry in entries {
            let entry = entry.map_err(SnapshotError::io("read directory", &current))?;
            if entry.file_name().as_bytes().starts_with(b".wh.") {
                return Ok(false);
            }
            let path = entry.path();
            if !overlay_xattrs(&path)? {
                return Ok(false);
            }
            // Read relative to the open directory (no path walk).
            let meta = entry.metadata().map_err(SnapshotError::io("stat", &path))?;
            // A layer has no sockets (they are skipped): the snapshot must not have them either.
            if std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) {
                return Ok(false);
            }
            let secs = clamp.map_or(meta.mtime(), |c| meta.mtime().min(c));
            if secs != meta.mtime() || meta.mtime_nsec() != 0 {
                let time = Timespec {
                    tv_sec: secs,
                    tv_nsec: 0,
                };
                let times = Timestamps {
                    last_access: time,
                    last_modification: time,
                };
                utimensat(CWD, &path, &times, AtFlags::SYMLINK_NOFOLLOW)
                    .map_err(SnapshotError::io("set the modification time of", &path))?;
            }
            if meta.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(true)
}

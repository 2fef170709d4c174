//! Garbage collection: [`Store::prune`] removes cache records, the blobs and snapshots nothing
//! refers to any more, and temporary files left by dead processes; [`Store::lease`] keeps it
//! away from a build in progress.
//!
//! **What is kept.** Every manifest or index `index.json` names (tagged or not), recursively
//! the manifests of an index, and each image's config and layers are roots. Cache records are
//! roots too, unless the prune removes them: by default it removes the *dangling* records —
//! those whose layer is in no image of `index.json` (intermediate stages, removed images) —
//! and the broken ones (layer blob gone); with [`PruneOptions::all`] every record. With
//! [`PruneOptions::keep_storage`] the newest candidate records are kept as long as their
//! layers fit in that many bytes. Then every blob that no root reaches, every snapshot
//! (`hoist/snapshots/<diff_id>`) no kept layer has, and every temporary file or directory
//! no live process holds are removed.
//!
//! **Concurrency.** Design note: a build writes blobs before anything refers to them (the cache
//! record and the tag come after the layer), so a collector looking only at references could
//! delete a layer a running build has just written. Every build therefore holds a *lease*, the
//! `gc.lock` taken shared, from start to end; `prune` takes it exclusive, so it waits for
//! running builds to end and builds started meanwhile wait for it. Anything else that writes
//! blobs before referring to them (a pull) takes the lease too.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::ErrorKind as IoKind;
use std::path::{Path, PathBuf};

use registry_client::Digest;
use rustix::fs::{FlockOperation, flock};

use super::Store;
use super::cache::CacheRecord;
use super::error::io_error;
use super::lock::{LockGuard, LockMode};
use crate::Result;

const GC_LOCK: &str = "gc.lock";

/// A running build's claim on the store: while held, [`Store::prune`] waits.
#[derive(Debug)]
pub struct StoreLease {
    _guard: LockGuard,
}

/// What [`Store::prune`] may remove besides garbage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PruneOptions {
    /// Remove every cache record and the context stat caches, not only dangling records.
    pub all: bool,
    /// Keep the newest cache records whose layers fit in this many bytes.
    pub keep_storage: Option<u64>,
}

impl PruneOptions {
    /// Options removing dangling cache records (and `all` ones when `all`), keeping
    /// `keep_storage` bytes of cache when given.
    pub fn new(all: bool, keep_storage: Option<u64>) -> Self {
        PruneOptions { all, keep_storage }
    }
}

/// What kind of thing a prune removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum PrunedKind {
    /// A cache record (`hoist/cache/<key>`).
    CacheRecord,
    /// A blob no image or cache record refers to.
    Blob,
    /// An extracted layer no kept layer has.
    Snapshot,
    /// A context's stat cache (with [`PruneOptions::all`]).
    StatCache,
    /// A temporary file or directory of a dead process.
    Temporary,
}

/// One thing a prune removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// What it was.
    pub kind: PrunedKind,
    /// Its name: a digest, a cache key, or a file name.
    pub name: String,
    /// The bytes it took (file sizes; a directory's files summed).
    pub bytes: u64,
}

/// What [`Store::prune`] removed, in the order it removed it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Every removed item.
    pub removed: Vec<Pruned>,
}

impl PruneReport {
    /// The bytes freed in all.
    pub fn bytes_freed(&self) -> u64 {
        self.removed.iter().map(|p| p.bytes).sum()
    }

    /// How many items of `kind` were removed.
    pub fn count(&self, kind: PrunedKind) -> usize {
        self.removed.iter().filter(|p| p.kind == kind).count()
    }
}

/// Blobs and diff_ids something still refers to.
#[derive(Debug, Default)]
struct Marks {
    blobs: BTreeSet<Digest>,
    diff_ids: BTreeSet<Digest>,
    /// Layer blobs of the images in `index.json` (cache records using them are not dangling).
    image_layers: BTreeSet<Digest>,
}

impl Store {
    /// Takes the store's lease (shared): hold it while writing blobs that nothing refers to
    /// yet. Blocks while a prune runs.
    pub fn lease(&self) -> Result<StoreLease> {
        Ok(StoreLease {
            _guard: self.lock(GC_LOCK, LockMode::Shared)?,
        })
    }

    /// Removes cache records as `options` say, then every unreferenced blob and snapshot and
    /// every unheld temporary file; see the module docs. Waits for running builds first.
    pub fn prune(&self, options: &PruneOptions) -> Result<PruneReport> {
        let _gc = self.lock(GC_LOCK, LockMode::Exclusive)?;
        let mut report = PruneReport::default();
        let mut marks = Marks::default();
        self.mark_images(&mut marks)?;
        self.prune_cache(options, &mut marks, &mut report)?;
        self.sweep_blobs(&marks, &mut report)?;
        self.sweep_snapshots(&marks, &mut report)?;
        if options.all {
            let dir = self.hoist_dir().join("stat-cache");
            for path in entries(&dir)? {
                report
                    .removed
                    .push(remove_entry(&path, PrunedKind::StatCache)?);
            }
        }
        // Leftovers of dead processes first: this unmounts what a killed RUN left mounted
        // below them, which the sweep must not descend into.
        for item in self.recover(super::STALE_TEMP_AGE)? {
            if item.kind != super::LeftoverKind::Mount {
                report.removed.push(Pruned {
                    kind: PrunedKind::Temporary,
                    name: file_name(&item.path),
                    bytes: 0,
                });
            }
        }
        self.sweep_temp(&mut report)?;
        Ok(report)
    }

    fn mark_images(&self, marks: &mut Marks) -> Result<()> {
        let index = {
            let _lock = self.lock(super::index::INDEX_LOCK, LockMode::Shared)?;
            self.read_index()?
        };
        for d in &index.manifests {
            self.mark_manifest(&d.digest, marks, 0)?;
        }
        Ok(())
    }

    /// Marks a manifest or index and what it refers to; unreadable or absent blobs end the walk.
    fn mark_manifest(&self, digest: &Digest, marks: &mut Marks, depth: u32) -> Result<()> {
        #[derive(serde::Deserialize)]
        struct AnyManifest {
            #[serde(default)]
            manifests: Vec<registry_client::Descriptor>,
            config: Option<registry_client::Descriptor>,
            #[serde(default)]
            layers: Vec<registry_client::Descriptor>,
        }
        #[derive(serde::Deserialize)]
        struct Rootfs {
            #[serde(default)]
            diff_ids: Vec<Digest>,
        }
        #[derive(serde::Deserialize)]
        struct AnyConfig {
            rootfs: Option<Rootfs>,
        }
        if depth > 8 || !self.has_blob(digest) || !marks.blobs.insert(digest.clone()) {
            return Ok(());
        }
        let Ok(manifest) = serde_json::from_slice::<AnyManifest>(&self.read_small(digest)?) else {
            return Ok(());
        };
        for child in &manifest.manifests {
            self.mark_manifest(&child.digest, marks, depth + 1)?;
        }
        for layer in &manifest.layers {
            marks.blobs.insert(layer.digest.clone());
            marks.image_layers.insert(layer.digest.clone());
        }
        if let Some(config) = manifest.config
            && self.has_blob(&config.digest)
        {
            marks.blobs.insert(config.digest.clone());
            if let Ok(c) = serde_json::from_slice::<AnyConfig>(&self.read_small(&config.digest)?) {
                marks
                    .diff_ids
                    .extend(c.rootfs.map(|r| r.diff_ids).unwrap_or_default());
            }
        }
        Ok(())
    }

    /// A manifest's or config's bytes.
    fn read_small(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(io_error("read", &path))
    }

    fn prune_cache(
        &self,
        options: &PruneOptions,
        marks: &mut Marks,
        report: &mut PruneReport,
    ) -> Result<()> {
        let _lock = self.lock(super::cache::CACHE_LOCK, LockMode::Exclusive)?;
        // (created_at, path, record) of the records the options allow removing.
        let mut candidates = Vec::new();
        for path in entries(&self.cache_dir())? {
            let record = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<CacheRecord>(&b).ok());
            let Some(record) = record else {
                report
                    .removed
                    .push(remove_entry(&path, PrunedKind::CacheRecord)?);
                continue;
            };
            if !self.has_record_blobs(&record)? {
                report
                    .removed
                    .push(remove_entry(&path, PrunedKind::CacheRecord)?);
                continue;
            }
            let dangling = match &record.layer {
                Some(l) => !marks.image_layers.contains(&l.descriptor.digest),
                None => false,
            };
            if options.all || dangling {
                candidates.push((record.created_at, path, record));
            } else {
                mark_record(&record, marks);
            }
        }
        // Newest first: with a budget, the newest records are the ones kept.
        candidates.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        let mut kept_bytes = 0u64;
        for (_, path, record) in candidates {
            let size = record.layer.as_ref().map_or(0, |l| l.descriptor.size);
            let fits = options
                .keep_storage
                .is_some_and(|budget| kept_bytes + size <= budget);
            if fits {
                kept_bytes += size;
                mark_record(&record, marks);
            } else {
                report
                    .removed
                    .push(remove_entry(&path, PrunedKind::CacheRecord)?);
            }
        }
        Ok(())
    }

    fn sweep_blobs(&self, marks: &Marks, report: &mut PruneReport) -> Result<()> {
        for path in entries(&self.root.join("blobs").join("sha256"))? {
            let name = file_name(&path);
            let Ok(digest) = Digest::parse(&format!("sha256:{name}")) else {
                continue; // not ours to judge: `verify` reports stray files
            };
            if !marks.blobs.contains(&digest) {
                let mut pruned = remove_entry(&path, PrunedKind::Blob)?;
                pruned.name = digest.to_string();
                report.removed.push(pruned);
            }
        }
        Ok(())
    }

    fn sweep_snapshots(&self, marks: &Marks, report: &mut PruneReport) -> Result<()> {
        for path in entries(&self.hoist_dir().join("snapshots"))? {
            let name = file_name(&path);
            let Ok(diff_id) = Digest::parse(&format!("sha256:{name}")) else {
                continue; // a name the snapshotter uses for something else
            };
            if !marks.diff_ids.contains(&diff_id) {
                report
                    .removed
                    .push(remove_entry(&path, PrunedKind::Snapshot)?);
            }
        }
        Ok(())
    }

    /// Removes temporary files and directories nobody holds locked (their creators hold them
    /// locked; see `recover.rs`, which ran first and unmounted what was below them).
    fn sweep_temp(&self, report: &mut PruneReport) -> Result<()> {
        for path in entries(&self.tmp_dir())? {
            let Ok(meta) = fs::symlink_metadata(&path) else {
                continue;
            };
            if meta.is_file() || meta.is_dir() {
                let Ok(file) = File::open(&path) else {
                    continue;
                };
                if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
                    // A live writer (a blob being pulled), or a directory a process outside
                    // the lease holds (an export, a context from standard input).
                    continue;
                }
            }
            report
                .removed
                .push(remove_entry(&path, PrunedKind::Temporary)?);
        }
        Ok(())
    }
}

fn mark_record(record: &CacheRecord, marks: &mut Marks) {
    if let Some(layer) = &record.layer {
        marks.blobs.insert(layer.descriptor.digest.clone());
        marks.diff_ids.insert(layer.diff_id.clone());
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The entries of `dir`, sorted; none when it does not exist.
pub(super) fn entries(dir: &Path) -> Result<Vec<PathBuf>> {
    let read = match fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == IoKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error("read directory", dir)(e)),
    };
    let mut paths = Vec::new();
    for entry in read {
        paths.push(entry.map_err(io_error("read directory", dir))?.path());
    }
    paths.sort();
    Ok(paths)
}

/// Removes a file or a directory tree, returning what it took.
fn remove_entry(path: &Path, kind: PrunedKind) -> Result<Pruned> {
    let bytes = tree_size(path);
    let meta = fs::symlink_metadata(path);
    let removed = match meta {
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Ok(()) => {}
        Err(e) if e.kind() == IoKind::NotFound => {}
        Err(e) => return Err(io_error("remove", path)(e)),
    }
    Ok(Pruned {
        kind,
        name: file_name(path),
        bytes,
    })
}

/// The summed size of the files under `path` (its own size when it is a file).
fn tree_size(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|r| r.flatten().map(|e| tree_size(&e.path())).sum())
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "gc_tests.rs"]
mod tests;

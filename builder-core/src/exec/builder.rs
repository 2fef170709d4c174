//! [`Builder`]: runs a plan stage by stage and assembles the image.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use registry_client::{Descriptor, Digest, media_type};

use super::add::{AddSources, add_key};
use super::base::{BaseResolver, BaseSources, Bases, CopyFromBase, ResolvedBase, base_state};
use super::commit::{apply_layer, format_created, write_layer};
use super::copy::{CopyOrigin, PreparedCopy};
use super::diff::{DiffDir, Meta, image_components};
use super::log::BuildLog;
use super::mounts::{MountInputs, prepare_mounts};
use super::owner::resolve_chown;
use super::run::{PreparedRun, RunContext, RunOptions};
use super::schedule::run_stages;
use super::stage::{StageState, apply_metadata};
use super::view::{StageView, layer_refs, stage_view};
use super::{CacheKey, ExecError, KeyInput};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::{BuildSummary, Event, EventSink, StepId, StepPosition, StepTally};
use crate::image::validate::{DocumentKind, SchemaValidator};
use crate::image::{
    ConfigBlob, ImageConfig, ImageError, ManifestFormat, canonical_json, creates_layer,
    history_text, image_manifest, normalize_workdir,
};
use crate::instructions::{Add, Copy, Instruction, Run};
use crate::layer::Compression;
use crate::plan::{Base, PlanOptions, PlannedStage, PlannedStep};
use crate::platform::Platform;
use crate::snapshot::{SnapshotterKind, adopt_snapshot};
use crate::source::{SourceFile, Span};
use crate::store::{self, CacheRecord, CachedLayer, Store};
use crate::{dockerfile, instructions};

/// What to build.
#[derive(Debug, Clone)]
pub struct BuildRequest {
    /// The build context directory.
    pub context_dir: PathBuf,
    /// The Dockerfile.
    pub dockerfile: Arc<SourceFile>,
    /// Where the Dockerfile is on disk, for `<Dockerfile>.dockerignore`.
    pub dockerfile_path: Option<PathBuf>,
    /// Build args, target, platform.
    pub plan_options: PlanOptions,
    /// Tags to give the image in the store (`hello` means `hello:latest`).
    pub tags: Vec<String>,
    /// Do not look steps up in the cache (results are still stored).
    pub no_cache: bool,
    /// How layers are compressed.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`: every timestamp is this time, file mtimes are clamped to it.
    pub source_date_epoch: Option<i64>,
    /// How `RUN` steps run (runtime, snapshotter, default network, cancellation).
    pub run: RunOptions,
    /// `--label`: labels set on the final image's config (over the Dockerfile's `LABEL`s),
    /// without a history entry, as BuildKit does.
    pub labels: BTreeMap<String, String>,
}

impl BuildRequest {
    /// A request to build `dockerfile` (its text is read now) with the context `context_dir`,
    /// with every other field at its default: no tags, no build args, the host platform,
    /// the cache used, gzip layers, runc. Set the public fields to change them.
    ///
    /// # Errors
    /// The Dockerfile cannot be read.
    pub fn new(context_dir: impl Into<PathBuf>, dockerfile: impl Into<PathBuf>) -> Result<Self> {
        let path = dockerfile.into();
        let text =
            std::fs::read_to_string(&path).map_err(ExecError::io("read the Dockerfile", &path))?;
        let mut request = Self::from_text(
            context_dir,
            SourceFile::new(path.display().to_string(), text),
        );
        request.dockerfile_path = Some(path);
        Ok(request)
    }

    /// A request to build the Dockerfile `dockerfile` (already in memory) with the context
    /// `context_dir`, every other field at its default (see [`BuildRequest::new`]).
    pub fn from_text(context_dir: impl Into<PathBuf>, dockerfile: Arc<SourceFile>) -> Self {
        BuildRequest {
            context_dir: context_dir.into(),
            dockerfile,
            dockerfile_path: None,
            plan_options: PlanOptions::default(),
            tags: Vec::new(),
            no_cache: false,
            compression: Compression::default(),
            source_date_epoch: None,
            run: RunOptions::default(),
            labels: BTreeMap::new(),
        }
    }
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltImage {
    /// The image manifest's digest.
    pub manifest_digest: Digest,
    /// The image config's digest.
    pub config_digest: Digest,
    /// The manifest's size in bytes.
    pub manifest_size: u64,
    /// The tags given to it, normalised.
    pub tags: Vec<String>,
}

/// Builds images into a store, reporting progress to an event sink.
#[derive(Clone)]
pub struct Builder {
    store: Store,
    events: Arc<dyn EventSink>,
    sources: BaseSources,
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Builder")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl Builder {
    /// A builder writing into `store` and reporting to `events`.
    pub fn new(store: Store, events: Arc<dyn EventSink>) -> Self {
        Builder {
            store,
            events,
            sources: BaseSources::default(),
        }
    }

    /// Where base images come from: named contexts, `--pull`, the registry client. The
    /// default knows the local store only.
    #[must_use]
    pub fn with_base_sources(mut self, sources: BaseSources) -> Self {
        self.sources = sources;
        self
    }

    /// Builds `request`: parse, plan, run each stage, write config and manifest, tag.
    pub fn build(&self, request: BuildRequest) -> Result<BuiltImage> {
        let started = Instant::now();
        // Held until the build ends: `prune` waits for it and cannot take blobs and snapshots
        // this build wrote but has not referenced yet.
        let _lease = self.store.lease()?;
        let tally = StepTally::new(self.events.as_ref());
        let ast = dockerfile::parse(&request.dockerfile)?;
        let typed = instructions::parse(&ast)?;
        let mut next_step = 0;
        let (plan, bases) = BaseResolver {
            store: &self.store,
            sources: &self.sources,
            events: self.events.as_ref(),
            next_step: &mut next_step,
        }
        .plan(&typed, &request.plan_options)?;
        for warning in &plan.warnings {
            self.events.emit(Event::Warning {
                message: warning.short.clone(),
            });
        }
        let tags = request
            .tags
            .iter()
            .map(|t| normalize_tag(t))
            .collect::<Result<Vec<_>, _>>()?;
        let context_root = std::fs::canonicalize(&request.context_dir).map_err(ExecError::io(
            "open the build context",
            &request.context_dir,
        ))?;
        let stat_cache = self.store.stat_cache_dir(&context_root);
        let context = Context::open(
            &context_root,
            request.dockerfile_path.as_deref(),
            Some(&stat_cache),
        )?;
        let tmp = self.store.tmp_dir();
        let scratch = crate::store::LockedTempDir::new_in(&tmp, "build")
            .map_err(ExecError::io("create a directory in", &tmp))?;
        let log = BuildLog::create(&self.store)?;
        let mut build = Build {
            store: &self.store,
            log,
            events: &tally,
            request: &request,
            context,
            scratch: scratch.path().to_owned(),
            first_step: BTreeMap::new(),
            bases,
            stages: Mutex::new(BTreeMap::new()),
            stage_names: BTreeMap::new(),
            fill_locks: Mutex::new(BTreeMap::new()),
            proxy_env: plan.proxy_env.clone(),
        };
        // Step ids are numbered in plan order whatever order the stages run in (after those
        // of pulling the bases).
        let mut next = next_step + 1;
        for stage in &plan.stages {
            build.first_step.insert(stage.index, next);
            next += u32::try_from(stage.steps.len() + 1).unwrap_or(u32::MAX);
            let label = stage
                .name
                .clone()
                .unwrap_or_else(|| format!("stage-{}", stage.index));
            build.stage_names.insert(stage.index, label);
        }
        let jobs = match request.run.jobs {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
            n => n,
        };
        run_stages(&plan.stages, jobs, &|stage| {
            let state = build.run_stage(stage)?;
            lock(&build.stages).insert(stage.index, state);
            Ok(())
        })?;
        let target = plan.target().ok_or(ExecError::NothingToBuild)?;
        let state = lock(&build.stages)
            .remove(&target.index)
            .ok_or(ExecError::NothingToBuild)?;
        let image = build.assemble(state, tags)?;
        drop(build);
        // Removes every stage's filesystem.
        scratch
            .close()
            .map_err(ExecError::io("remove", &self.store.tmp_dir()))?;
        let mut summary = BuildSummary::new(
            image.manifest_digest.clone(),
            image_size(&self.store, &image)?,
            started.elapsed(),
        );
        summary.tags = image.tags.clone();
        tally.finish(summary);
        Ok(image)
    }
}

/// The bytes of an image in the store: manifest, config and layers.
fn image_size(store: &Store, image: &BuiltImage) -> Result<u64> {
    let blob = store.open_blob(&image.manifest_digest)?;
    let manifest: registry_client::ImageManifest =
        serde_json::from_reader(std::io::BufReader::new(blob)).map_err(|e| {
            ImageError::InvalidJson {
                document: "image manifest",
                reason: e.to_string(),
            }
        })?;
    let layers: u64 = manifest.layers.iter().map(|l| l.size).sum();
    Ok(image.manifest_size + manifest.config.size + layers)
}

/// `hello` -> `hello:latest`; a name with a tag or digest is kept.
pub fn normalize_tag(tag: &str) -> Result<String, ExecError> {
    let invalid = |reason| ExecError::InvalidTag {
        tag: tag.to_owned(),
        reason,
    };
    if tag.is_empty() {
        return Err(invalid("it is empty"));
    }
    if tag.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("it contains whitespace"));
    }
    let last = tag.rsplit('/').next().unwrap_or(tag);
    if last.contains(':') || last.contains('@') {
        Ok(tag.to_owned())
    } else {
        Ok(format!("{tag}:latest"))
    }
}

/// The compression as it enters the store's cache key (`gzip:6`, `zstd:3`, `none`).
fn compression_tag(compression: Compression) -> String {
    match compression {
        Compression::None => "none".to_owned(),
        Compression::Gzip { level } => format!("gzip:{level}"),
        Compression::Zstd { level } => format!("zstd:{level}"),
    }
}

/// The layer a step wrote, as byte progress: its compressed size, done.
fn export_progress(id: StepId, layer: &CachedLayer) -> Event {
    let size = layer.descriptor.size;
    Event::StepProgress {
        id,
        item: format!(
            "exporting layer {}",
            crate::image::short_digest(&layer.descriptor.digest)
        ),
        current: size,
        total: Some(size),
    }
}

/// One build in progress.
struct Build<'a> {
    store: &'a Store,
    log: BuildLog,
    events: &'a dyn EventSink,
    request: &'a BuildRequest,
    context: Context,
    scratch: PathBuf,
    /// The id of each stage's `FROM` step (its steps follow).
    first_step: BTreeMap<usize, u32>,
    bases: Bases,
    /// Finished stages.
    stages: Mutex<BTreeMap<usize, StageState>>,
    stage_names: BTreeMap<usize, String>,
    /// One lock per materialised stage directory, held while it is filled.
    fill_locks: Mutex<BTreeMap<PathBuf, Arc<Mutex<()>>>>,
    /// Proxy build args, for `RUN` (not in keys).
    proxy_env: Vec<(String, String)>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Build<'_> {
    fn start(&self, id: StepId, name: String, position: Option<StepPosition>) -> (StepId, Instant) {
        self.events.emit(Event::StepStarted { id, name, position });
        (id, Instant::now())
    }

    fn finish<T>(&self, (id, started): (StepId, Instant), result: Result<T>) -> Result<T> {
        match &result {
            Ok(_) => self.events.emit(Event::StepDone {
                id,
                elapsed: started.elapsed(),
            }),
            Err(e) => self.events.emit(Event::StepFailed {
                id,
                message: e.kind().to_string(),
            }),
        }
        result
    }

    fn located<T>(&self, result: Result<T>, span: Span) -> Result<T> {
        result.map_err(|e: Error| e.at(&self.request.dockerfile, span))
    }

    fn stage_label(&self, index: usize) -> String {
        self.stage_names
            .get(&index)
            .cloned()
            .unwrap_or_else(|| format!("stage-{index}"))
    }

    /// A finished stage's state.
    fn stage(&self, index: usize) -> Result<StageState> {
        lock(&self.stages)
            .get(&index)
            .cloned()
            .ok_or_else(|| ExecError::NothingToBuild.into())
    }

    fn run_stage(&self, stage: &PlannedStage) -> Result<StageState> {
        let label = self.stage_label(stage.index);
        let first = self.first_step.get(&stage.index).copied().unwrap_or(1);
        let total = stage.steps.len() + 1;
        let base = match &stage.base {
            Base::Scratch => "scratch".to_owned(),
            Base::Image(image) => image.clone(),
            Base::Stage(index) => self.stage_label(*index),
        };
        let at = |step| Some(StepPosition::new(stage.index, &label, step, total));
        let step = self.start(
            StepId(first),
            format!("[{label} 1/{total}] FROM {base}"),
            at(1),
        );
        let state = self.base(stage);
        let mut state = self.finish(step, self.located(state, stage.span))?;
        for (i, planned) in stage.steps.iter().enumerate() {
            if self.request.run.cancel.is_cancelled() {
                return Err(ExecError::Cancelled.into());
            }
            let name = format!("[{label} {}/{total}] {}", i + 2, planned.step.original);
            let n = u32::try_from(i).unwrap_or(u32::MAX);
            let id = StepId(first.saturating_add(n).saturating_add(1));
            let step = self.start(id, name, at(i + 2));
            let id = step.0;
            let result = self.run_step(state, planned, id, &stage.platform);
            state = self.finish(step, self.located(result, planned.step.span))?;
        }
        Ok(state)
    }

    /// The state a stage starts from: an empty filesystem or an earlier stage's.
    fn base(&self, stage: &PlannedStage) -> Result<StageState> {
        let rootfs = self.scratch.join(format!("stage-{}", stage.index));
        std::fs::create_dir(&rootfs).map_err(ExecError::io("create directory", &rootfs))?;
        let p = &stage.platform;
        match &stage.base {
            Base::Scratch => {
                let platform = registry_client::Platform {
                    architecture: p.architecture.clone(),
                    os: p.os.clone(),
                    variant: p.variant.clone(),
                    ..Default::default()
                };
                let name = match &p.variant {
                    Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
                    None => format!("{}/{}", p.os, p.architecture),
                };
                Ok(StageState {
                    config: ImageConfig::scratch(&platform).with_default_path_env(),
                    layers: Vec::new(),
                    key: KeyInput::Scratch { platform: &name }.key(),
                    rootfs,
                    applied: Arc::default(),
                    created: None,
                    cmd_set: false,
                })
            }
            Base::Stage(index) => {
                let parent = self.stage(*index)?;
                Ok(StageState {
                    config: parent.config.clone().without_onbuild(),
                    cmd_set: false,
                    ..parent.clone()
                }
                .with_rootfs(rootfs))
            }
            Base::Image(image) => {
                let base = self.bases.get(image, &stage.platform)?;
                let options = (self.request.compression, self.request.source_date_epoch);
                base_state(self.store, base, rootfs, &stage.platform, options)
            }
        }
    }

    fn run_step(
        &self,
        state: StageState,
        planned: &PlannedStep,
        id: StepId,
        platform: &Platform,
    ) -> Result<StageState> {
        let instruction = &planned.step.instruction;
        let before = state.config.clone();
        let history = history_text(instruction, &before, &planned.args)?;
        let mut state = match instruction {
            Instruction::Run(run) => self.run(state, run, planned, id, platform)?,
            Instruction::From(_) => {
                return Err(ExecError::Unsupported {
                    instruction: instruction.keyword(),
                }
                .into());
            }
            Instruction::Copy(copy) => self.copy(state, copy, planned.from_stage, id, platform)?,
            Instruction::Add(add) => self.add(state, add, id)?,
            Instruction::Workdir(path) if creates_layer(instruction, &before) => {
                let dir = normalize_workdir(&before.config.working_dir, path);
                self.mkdir(state, &dir, id)?
            }
            _ => state,
        };
        let cmd_set = state.cmd_set || matches!(instruction, Instruction::Cmd(_));
        state.config = apply_metadata(state.config, instruction, state.cmd_set)?;
        state.cmd_set = cmd_set;
        if let Some(text) = history {
            let created = self.history_time(state.created);
            let empty = !creates_layer(instruction, &before);
            state.config = state.config.with_history(&text, empty, created);
        }
        Ok(state)
    }

    fn history_time(&self, layer_time: Option<i64>) -> Option<String> {
        self.request
            .source_date_epoch
            .or(layer_time)
            .map(format_created)
    }

    fn copy(
        &self,
        state: StageState,
        copy: &Copy,
        from_stage: Option<usize>,
        id: StepId,
        platform: &Platform,
    ) -> Result<StageState> {
        let workdir = state.config.config.working_dir.clone();
        let stage_context;
        let source;
        let source_view;
        let from_base;
        let origin = match (&copy.from, from_stage) {
            (None, _) => CopyOrigin::Context(&self.context),
            (Some(_), Some(index)) => {
                source = self.stage(index)?;
                source_view = self.view(&source)?;
                stage_context = Context::open_tree(source_view.path())?;
                CopyOrigin::Stage(&stage_context, &source.key)
            }
            (Some(from), None) => {
                let base = self.bases.get(from, platform)?;
                let options = (self.request.compression, self.request.source_date_epoch);
                from_base = CopyFromBase::open(
                    self.store,
                    base,
                    &self.scratch,
                    platform,
                    options,
                    |state| self.rootfs(state),
                )?;
                from_base.origin()
            }
        };
        let prepared = PreparedCopy::new(&copy.spec, origin, &workdir, copy.parents)?;
        let key = prepared.key(&state.key)?;
        self.layer_step(state, key, id, |diff| prepared.write(diff))
    }

    /// `ADD`: remote sources fetched first, then copied like `COPY` (see [`super::add`]).
    fn add(&self, state: StageState, add: &Add, id: StepId) -> Result<StageState> {
        let sources = AddSources::fetch(add, &self.scratch)?;
        let workdir = state.config.config.working_dir.clone();
        let parts = sources.prepare(add, &self.context, &workdir)?;
        let key = add_key(&parts, &state.key)?;
        self.layer_step(state, key, id, |diff| {
            parts.iter().try_for_each(|part| part.write(diff))
        })
    }

    /// `WORKDIR` creating its directory (0755, owned by `USER` if set, else root) as a layer,
    /// as BuildKit does.
    fn mkdir(&self, state: StageState, dir: &str, id: StepId) -> Result<StageState> {
        let user = state.config.config.user.clone();
        let key = KeyInput::Mkdir {
            parent: state.key.digest().as_str(),
            path: dir,
            owner: (0, 0),
            user: Some(user.as_str()).filter(|u| !u.is_empty()),
        }
        .key();
        let parts = image_components(dir);
        self.layer_step(state, key, id, |diff| {
            let owner = match user.as_str() {
                "" => (0, 0),
                user => resolve_chown(diff.rootfs(), user)?,
            };
            diff.set_new_parent_owner(owner);
            diff.ensure_parents(&parts)?;
            if !diff.is_existing_dir(&parts) {
                let meta = Meta {
                    mode: 0o755,
                    uid: owner.0,
                    gid: owner.1,
                    mtime_ns: 0,
                };
                diff.put_dir(&parts, meta)?;
            }
            Ok(())
        })
    }

    /// The stage's filesystem as a directory, materialised now from its layers (those not
    /// applied yet): steps that need to look at it call this, so a cache hit does no
    /// filesystem work.
    fn rootfs(&self, state: &StageState) -> Result<PathBuf> {
        use std::sync::atomic::Ordering;
        let fill = Arc::clone(
            lock(&self.fill_locks)
                .entry(state.rootfs.clone())
                .or_default(),
        );
        let _filling = lock(&fill);
        let applied = state.applied.load(Ordering::SeqCst);
        for layer in state.layers.iter().skip(applied) {
            apply_layer(self.store, layer, &state.rootfs)?;
        }
        state.applied.store(state.layers.len(), Ordering::SeqCst);
        Ok(state.rootfs.clone())
    }

    /// The stage's filesystem to read from without materialising it (see [`super::view`]).
    fn view(&self, state: &StageState) -> Result<StageView> {
        let snapshotter = self.request.run.snapshotter;
        stage_view(self.store, state, &self.scratch, snapshotter, || {
            self.rootfs(state)
        })
    }

    /// `RUN`: in a container on a snapshot of the stage; its changes are the layer.
    fn run(
        &self,
        state: StageState,
        run: &Run,
        planned: &PlannedStep,
        id: StepId,
        platform: &Platform,
    ) -> Result<StageState> {
        let options = &self.request.run;
        let inputs = StageInputs {
            build: self,
            platform,
        };
        let (mounts, mount_keys) = prepare_mounts(
            &run.mounts,
            &state.config.config.working_dir,
            &inputs,
            &options.secrets,
            &options.ssh,
        )?;
        let prepared = PreparedRun::new(
            run,
            &state.config,
            &planned.args,
            self.request.plan_options.allow_insecure,
        )?
        .with_default_network(options.network)
        .with_mounts(mounts, mount_keys)
        .with_proxy_env(&self.proxy_env);
        let key = prepared.key(&state.key);
        let cx = RunContext {
            store: self.store,
            events: self.events,
            log: &self.log,
            options,
            scratch: &self.scratch,
            compression: self.request.compression,
            source_date_epoch: self.request.source_date_epoch,
            id,
            inputs: &inputs,
        };
        self.layer_step_with(state, key, id, |state| {
            super::run::run_step(cx, &prepared, &layer_refs(state))
        })
    }

    /// A step that makes a layer: answered from the cache, or `write` fills a fresh diff that
    /// becomes the layer.
    fn layer_step(
        &self,
        state: StageState,
        key: CacheKey,
        id: StepId,
        write: impl FnOnce(&mut DiffDir) -> Result<(), ExecError>,
    ) -> Result<StageState> {
        self.layer_step_with(state, key, id, |state| {
            let view = self.view(state)?;
            self.write_step_layer(view.path(), write)
        })
    }

    /// A step that makes a layer: answered from the cache (no work at all), or made by
    /// `produce` from the stage's state.
    fn layer_step_with(
        &self,
        mut state: StageState,
        key: CacheKey,
        id: StepId,
        produce: impl FnOnce(&StageState) -> Result<CachedLayer>,
    ) -> Result<StageState> {
        let request = self.request;
        // The compression decides the blob, so it is part of the store's key.
        let store_key = store::CacheKey::sha256_of(
            format!("{}\n{}", key.digest(), compression_tag(request.compression)).as_bytes(),
        );
        let cached = if request.no_cache {
            None
        } else {
            self.store.cache_get(&store_key)?
        };
        let (layer, created_at) = match cached {
            Some(CacheRecord {
                layer: Some(layer),
                created_at,
                ..
            }) if self.store.has_blob(&layer.descriptor.digest) => {
                self.events.emit(Event::StepCached { id });
                (layer, created_at)
            }
            _ => {
                let layer = produce(&state)?;
                self.events.emit(export_progress(id, &layer));
                let created_at = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let record = CacheRecord {
                    layer: Some(layer.clone()),
                    payload: serde_json::Value::Null,
                    created_at,
                };
                self.store.cache_put(&store_key, &record)?;
                (layer, created_at)
            }
        };
        state.config = state.config.with_layer(layer.diff_id.clone());
        state.layers.push(layer.descriptor);
        state.key = key;
        state.created = Some(i64::try_from(created_at).unwrap_or(i64::MAX));
        Ok(state)
    }

    fn write_step_layer(
        &self,
        rootfs: &Path,
        write: impl FnOnce(&mut DiffDir) -> Result<(), ExecError>,
    ) -> Result<CachedLayer> {
        let diff_root = tempfile::Builder::new()
            .prefix("diff-")
            .tempdir_in(&self.scratch)
            .map_err(ExecError::io("create a directory in", &self.scratch))?;
        let mut diff = DiffDir::new(diff_root.path().to_owned(), rootfs.to_owned());
        write(&mut diff)?;
        diff.finish()?;
        let layer = write_layer(
            self.store,
            diff_root.path(),
            self.request.compression,
            self.request.source_date_epoch,
        )?;
        // The diff becomes the layer's snapshot (for the overlay steps after this one), or goes.
        let sde = self.request.source_date_epoch;
        if self.request.run.snapshotter != SnapshotterKind::Naive
            && adopt_snapshot(self.store, &layer.diff_id, diff_root.path(), sde)?
        {
            let _ = diff_root.keep();
        } else {
            diff_root
                .close()
                .map_err(ExecError::io("remove", &self.scratch))?;
        }
        Ok(layer)
    }

    /// Config and manifest into the store, validated, then tagged.
    fn assemble(&self, state: StageState, tags: Vec<String>) -> Result<BuiltImage> {
        let created = self.history_time(state.created);
        let mut config = state.config.with_created(created);
        for (key, value) in &self.request.labels {
            config.config.labels.insert(key.clone(), value.clone());
        }
        let config = ConfigBlob::from_config(config);
        let validator = SchemaValidator::new();
        validator.validate(DocumentKind::Config, config.bytes())?;
        let (config_digest, config_size) = self.store.put_blob(config.bytes())?;
        let config_descriptor =
            Descriptor::new(media_type::OCI_CONFIG, config_digest.clone(), config_size);
        let manifest =
            image_manifest(ManifestFormat::Oci, &config_descriptor, &state.layers, None)?;
        let bytes = canonical_json(&manifest);
        // The OCI manifest schema asks for at least one layer; an image of metadata only
        // (`FROM scratch` + `LABEL`) is still valid for every engine, so it skips the check.
        if !state.layers.is_empty() {
            validator.validate(DocumentKind::Manifest, &bytes)?;
        } else if serde_json::from_slice::<serde_json::Value>(&bytes).is_err() {
            return Err(ImageError::InvalidJson {
                document: "image manifest",
                reason: "not JSON".into(),
            }
            .into());
        }
        let (manifest_digest, manifest_size) = self.store.put_blob(&bytes)?;
        let descriptor = Descriptor::new(
            media_type::OCI_MANIFEST,
            manifest_digest.clone(),
            manifest_size,
        );
        for tag in &tags {
            self.store.tag(tag, &descriptor)?;
        }
        Ok(BuiltImage {
            manifest_digest,
            config_digest,
            manifest_size,
            tags,
        })
    }
}

/// What a stage's `RUN --mount`s read from: the build, and the stage's platform (for images).
struct StageInputs<'b, 'a> {
    build: &'b Build<'a>,
    platform: &'b Platform,
}

impl MountInputs for StageInputs<'_, '_> {
    fn context(&self) -> &Context {
        &self.build.context
    }

    fn stage(&self, reference: &str) -> Option<(usize, CacheKey)> {
        let lower = reference.to_lowercase();
        let index = match lower.parse::<usize>() {
            Ok(i) => i,
            Err(_) => {
                *self
                    .build
                    .stage_names
                    .iter()
                    .find(|(i, label)| **label == lower && **label != format!("stage-{i}"))?
                    .0
            }
        };
        lock(&self.build.stages)
            .get(&index)
            .map(|s| (index, s.key.clone()))
    }

    fn stage_rootfs(&self, index: usize) -> Result<PathBuf> {
        self.build.rootfs(&self.build.stage(index)?)
    }

    fn image_identity(&self, reference: &str, source: &str) -> Option<Result<String>> {
        let b = self.build;
        let base = b.bases.get(reference, self.platform).ok()?;
        Some(match base {
            ResolvedBase::Directory(dir) => Context::open(dir, None, None)
                .map_err(Error::from)
                .and_then(|c| {
                    let selection = c.select(source, &[])?;
                    Ok(c.checksum(&selection)?.as_str().to_owned())
                }),
            ResolvedBase::Image(_) => base_state(
                b.store,
                base,
                b.scratch.join("unused"),
                self.platform,
                (b.request.compression, b.request.source_date_epoch),
            )
            .map(|state| state.key.hex().to_owned()),
        })
    }

    fn open_image(&self, reference: &str) -> Result<CopyFromBase> {
        let b = self.build;
        let base = b.bases.get(reference, self.platform)?;
        CopyFromBase::open(
            b.store,
            base,
            &b.scratch,
            self.platform,
            (b.request.compression, b.request.source_date_epoch),
            |state| b.rootfs(state),
        )
    }
}

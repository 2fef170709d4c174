//! Base images: where `FROM <image>` and `COPY --from=<image>` find what they name, and the one
//! function that turns an image into a stage's starting state.
//!
//! A name is looked up, in this order (BuildKit's and docker's rules):
//! 1. a named context (`--build-context name=...`): a directory, an OCI layout
//!    (`oci-layout://dir[:tag]`) or another image (`docker-image://ref`);
//! 2. without `--pull`, a tag in the local store: an image built with `hoist build -t x`, or one
//!    pulled before (a pull tags the image under its reference, so that tag is the record of the
//!    pull and the next build works offline);
//! 3. the registry: pulled once into the store, then tagged.
//!
//! Planning is two-phase: the planner runs with what is known (nothing at first), the image
//! names the plan needs are resolved, and the planner runs again with their configs (ENV and
//! ONBUILD triggers decide the plan), until no new name appears (triggers can add
//! `COPY --from=image`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use registry_client::Reference;

use super::commit::write_layer;
use super::copy::CopyOrigin;
use super::stage::StageState;
use super::{CacheKey, ExecError, KeyInput};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::events::{Event, EventSink, StepId};
use crate::image::{ImageConfig, Layout, Remote, Reporter, StoredImage, TransferError};
use crate::instructions::Dockerfile;
use crate::layer::Compression;
use crate::plan::{self, BaseConfig, ImageResolver, Plan, PlanError, PlanOptions};
use crate::platform::Platform;
use crate::source::Span;
use crate::store::Store;

/// A named context given with `--build-context name=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NamedContext {
    /// A local directory: a source for `COPY --from=name`, or a root filesystem for
    /// `FROM name`.
    Directory(PathBuf),
    /// An image in an OCI layout directory (`oci-layout://dir[:tag]`).
    OciLayout {
        /// The layout directory.
        dir: PathBuf,
        /// The tag in its `index.json` (the only entry when `None`).
        tag: Option<String>,
    },
    /// Another image reference (`docker-image://ref`).
    Image(String),
}

/// Where base images come from: named contexts, the local store, a registry.
#[derive(Debug, Clone, Default)]
pub struct BaseSources {
    /// `--pull`: resolve every image reference on its registry, even when the store has it.
    pub always_pull: bool,
    /// `--build-context` values, by name.
    pub named_contexts: BTreeMap<String, NamedContext>,
    /// The registry client; `None` means images not in the store cannot be used.
    pub remote: Option<Remote>,
}

/// What a base name resolved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ResolvedBase {
    /// An image in the store.
    Image(Box<StoredImage>),
    /// A local directory (a named context).
    Directory(PathBuf),
}

impl ResolvedBase {
    fn config(&self) -> BaseConfig {
        match self {
            ResolvedBase::Directory(_) => BaseConfig::default(),
            ResolvedBase::Image(image) => {
                let c = &image.config.config().config;
                BaseConfig {
                    env: c
                        .env
                        .iter()
                        .map(|e| match e.split_once('=') {
                            Some((k, v)) => (k.to_owned(), v.to_owned()),
                            None => (e.clone(), String::new()),
                        })
                        .collect(),
                    onbuild: c.on_build.clone(),
                }
            }
        }
    }
}

/// The base names a build resolved, by (name, platform).
#[derive(Debug, Clone, Default)]
pub(super) struct Bases {
    resolved: BTreeMap<(String, Platform), ResolvedBase>,
}

impl Bases {
    /// What `name` resolved to for `platform`.
    pub(super) fn get(&self, name: &str, platform: &Platform) -> Result<&ResolvedBase> {
        self.resolved
            .get(&(name.to_owned(), platform.clone()))
            .ok_or_else(|| {
                TransferError::NotFound {
                    name: name.to_owned(),
                    place: "the resolved base images".to_owned(),
                }
                .into()
            })
    }
}

impl ImageResolver for Bases {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<BaseConfig, PlanError> {
        Ok(self
            .resolved
            .get(&(reference.to_owned(), platform.clone()))
            .map(ResolvedBase::config)
            .unwrap_or_default())
    }
}

/// The image names a plan needs (stage bases and `COPY --from=<image>`), with their platform
/// and where the stage that needs them starts.
fn needed(plan: &Plan) -> Vec<((String, Platform), Span)> {
    let mut out = Vec::new();
    for stage in &plan.stages {
        if let plan::Base::Image(name) = &stage.base {
            out.push(((name.clone(), stage.platform.clone()), stage.span));
        }
        for name in &stage.image_dependencies {
            out.push(((name.clone(), stage.platform.clone()), stage.span));
        }
    }
    out
}

/// Resolves base names for the planner and the executor.
pub(super) struct BaseResolver<'a> {
    pub store: &'a Store,
    pub sources: &'a BaseSources,
    pub events: &'a dyn EventSink,
    pub next_step: &'a mut u32,
}

impl BaseResolver<'_> {
    /// Plans `dockerfile`, resolving (and pulling) every image the plan needs first.
    pub(super) fn plan(
        &mut self,
        dockerfile: &Dockerfile,
        options: &PlanOptions,
    ) -> Result<(Plan, Bases)> {
        let mut bases = Bases::default();
        // Each round resolves at least one new name, and names come from a finite file plus
        // the triggers of images: a few rounds suffice; the bound guards against a loop.
        for _ in 0..8 {
            let plan = plan::plan(dockerfile, options, &bases)?;
            let new: Vec<_> = needed(&plan)
                .into_iter()
                .filter(|(k, _)| !bases.resolved.contains_key(k))
                .collect();
            if new.is_empty() {
                return Ok((plan, bases));
            }
            for ((name, platform), span) in new {
                if bases
                    .resolved
                    .contains_key(&(name.clone(), platform.clone()))
                {
                    continue;
                }
                let resolved = self
                    .resolve(&name, &platform)
                    .map_err(|e| e.at(&plan.source, span))?;
                bases.resolved.insert((name, platform), resolved);
            }
        }
        let plan = plan::plan(dockerfile, options, &bases)?;
        Ok((plan, bases))
    }

    fn resolve(&mut self, name: &str, platform: &Platform) -> Result<ResolvedBase> {
        *self.next_step += 1;
        let id = StepId(*self.next_step);
        self.events.emit(Event::StepStarted {
            id,
            name: format!("[internal] load metadata for {name}"),
            position: None,
        });
        let started = std::time::Instant::now();
        let result = self.resolve_quietly(name, platform, id);
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

    fn resolve_quietly(&self, name: &str, platform: &Platform, id: StepId) -> Result<ResolvedBase> {
        let wanted = registry_platform(platform);
        match self.sources.named_contexts.get(name) {
            Some(NamedContext::Directory(dir)) => return Ok(ResolvedBase::Directory(dir.clone())),
            Some(NamedContext::OciLayout { dir, tag }) => {
                let layout = Layout::new(dir);
                let descriptor = layout.find(tag.as_deref())?;
                let image = layout.image(&descriptor, Some(&wanted))?.ok_or_else(|| {
                    TransferError::NotFound {
                        name: format!("{name} for {platform}"),
                        place: dir.display().to_string(),
                    }
                })?;
                layout.copy_into(&image, self.store)?;
                return Ok(ResolvedBase::Image(Box::new(image)));
            }
            Some(NamedContext::Image(reference)) => {
                return self
                    .image(reference, &wanted, id)
                    .map(|i| ResolvedBase::Image(Box::new(i)));
            }
            None => {}
        }
        self.image(name, &wanted, id)
            .map(|i| ResolvedBase::Image(Box::new(i)))
    }

    /// An image reference: from the store unless `--pull`, else pulled and tagged.
    fn image(
        &self,
        name: &str,
        platform: &registry_client::Platform,
        id: StepId,
    ) -> Result<StoredImage> {
        if !self.sources.always_pull
            && let Some(image) = find_local(self.store, name, Some(platform))?
        {
            self.events.emit(Event::StepCached { id });
            return Ok(image);
        }
        let Some(remote) = &self.sources.remote else {
            return Err(TransferError::NotFound {
                name: name.to_owned(),
                place: "the local store (no registry access configured)".to_owned(),
            }
            .into());
        };
        let reporter = Reporter::new(self.events, id);
        pull_and_tag(self.store, remote, name, platform, Some(reporter))
    }
}

/// Pulls `name` for `platform` into `store` and tags it under its familiar name (`alpine:3.20`,
/// `registry.lan:5000/app:1`; a reference by digest alone gets no tag): the tag is the record
/// that lets later builds use the image offline. The bytes of each blob downloaded are
/// reported to `reporter` when given.
pub fn pull_and_tag(
    store: &Store,
    remote: &Remote,
    name: &str,
    platform: &registry_client::Platform,
    reporter: Option<Reporter<'_>>,
) -> Result<StoredImage> {
    let reference = parse_reference(name)?;
    let pulled = remote.pull_reported(store, &reference, platform, reporter)?;
    if let Some(tag) = reference.tag() {
        let tagged = Reference::parse(&format!("{}:{tag}", reference.name()))
            .map_err(|e| invalid_reference(name, &e))?;
        store.tag(&tagged.familiar_string(), &pulled.image.descriptor)?;
    }
    Ok(pulled.image)
}

/// Parses an image reference as `docker pull` does.
pub fn parse_reference(name: &str) -> Result<Reference, TransferError> {
    Reference::parse(name).map_err(|e| invalid_reference(name, &e))
}

fn invalid_reference(name: &str, e: &impl std::fmt::Display) -> TransferError {
    TransferError::InvalidReference {
        reference: name.to_owned(),
        reason: e.to_string(),
    }
}

/// The image `name` names in the local store for `platform`: by digest when it has one, else
/// by tag (as written with `:latest` added, or in its familiar or full normalised form).
pub fn find_local(
    store: &Store,
    name: &str,
    platform: Option<&registry_client::Platform>,
) -> Result<Option<StoredImage>> {
    let layout = Layout::of_store(store);
    let parsed = Reference::parse(name).ok();
    if let Some(digest) = parsed.as_ref().and_then(|r| r.digest()) {
        let descriptor = registry_client::Descriptor::new("", digest.clone(), 0);
        return layout.image(&descriptor, platform);
    }
    let mut candidates = vec![with_default_tag(name)];
    if let Some(r) = &parsed {
        candidates.push(r.familiar_string());
        candidates.push(r.to_string());
    }
    for tag in candidates {
        if let Some(descriptor) = store.resolve(&tag)?
            && let Some(image) = layout.image(&descriptor, platform)?
        {
            return Ok(Some(image));
        }
    }
    Ok(None)
}

/// `hello` -> `hello:latest`; a name with a tag or digest is kept.
pub(super) fn with_default_tag(name: &str) -> String {
    let last = name.rsplit('/').next().unwrap_or(name);
    if last.contains(':') || last.contains('@') {
        name.to_owned()
    } else {
        format!("{name}:latest")
    }
}

/// The planner's platform as the registry client's.
pub(super) fn registry_platform(p: &Platform) -> registry_client::Platform {
    registry_client::Platform::new(&p.os, &p.architecture, p.variant.as_deref()).normalized()
}

/// A stage's starting state from a resolved base: the image's config (unknown fields and
/// ONBUILD triggers dropped, as BuildKit does) and its layers, to be materialised in `rootfs`
/// when a step needs the files (the build's `rootfs()` applies the layers not yet applied); or,
/// for a directory, one layer made of its files.
///
/// This is the one place a base becomes a stage state.
pub(super) fn base_state(
    store: &Store,
    base: &ResolvedBase,
    rootfs: PathBuf,
    platform: &Platform,
    layer_options: (Compression, Option<i64>),
) -> Result<StageState> {
    match base {
        ResolvedBase::Image(image) => Ok(StageState {
            config: image
                .config
                .config()
                .clone()
                .without_unknown_fields()
                .without_onbuild(),
            layers: image.manifest.layers.clone(),
            key: KeyInput::Base {
                manifest: image.descriptor.digest.as_str(),
            }
            .key(),
            rootfs,
            applied: Arc::default(),
            created: None,
            cmd_set: false,
        }),
        ResolvedBase::Directory(dir) => {
            directory_state(store, dir, rootfs, platform, layer_options)
        }
    }
}

/// A base opened as the source of `COPY --from`: a directory as a context, an image
/// materialised (through [`base_state`]) in a temporary directory of the build's scratch space.
pub(super) struct CopyFromBase {
    context: Context,
    key: Option<CacheKey>,
    _rootfs: Option<tempfile::TempDir>,
}

impl CopyFromBase {
    /// Opens `base` for copying from; an image's state is materialised by `materialise` (the
    /// build's lazy `rootfs()`) in a temporary directory under `scratch`.
    pub(super) fn open(
        store: &Store,
        base: &ResolvedBase,
        scratch: &Path,
        platform: &Platform,
        layer_options: (Compression, Option<i64>),
        materialise: impl FnOnce(&StageState) -> Result<PathBuf>,
    ) -> Result<Self> {
        if let ResolvedBase::Directory(dir) = base {
            return Ok(CopyFromBase {
                context: Context::open(dir, None, None)?,
                key: None,
                _rootfs: None,
            });
        }
        let rootfs = tempfile::Builder::new()
            .prefix("image-")
            .tempdir_in(scratch)
            .map_err(ExecError::io("create a directory in", scratch))?;
        let state = base_state(
            store,
            base,
            rootfs.path().to_owned(),
            platform,
            layer_options,
        )?;
        let tree = materialise(&state)?;
        Ok(CopyFromBase {
            context: Context::open_tree(&tree)?,
            key: Some(state.key),
            _rootfs: Some(rootfs),
        })
    }

    /// The origin a `COPY` reads from: a directory is keyed by content, an image by its state.
    pub(super) fn origin(&self) -> CopyOrigin<'_> {
        match &self.key {
            Some(key) => CopyOrigin::Stage(&self.context, key),
            None => CopyOrigin::Context(&self.context),
        }
    }
}

/// A directory as a one-layer image: `FROM <named context directory>`.
fn directory_state(
    store: &Store,
    dir: &Path,
    rootfs: PathBuf,
    platform: &Platform,
    (compression, source_date_epoch): (Compression, Option<i64>),
) -> Result<StageState> {
    if !dir.is_dir() {
        return Err(Error::new(ExecError::Io {
            operation: "use as a build context",
            path: dir.to_owned(),
            cause: std::io::Error::from(std::io::ErrorKind::NotADirectory).into(),
        }));
    }
    let layer = write_layer(store, dir, compression, source_date_epoch)?;
    let text = format!("COPY {} / # named context", dir.display());
    let config = ImageConfig::scratch(&registry_platform(platform))
        .with_default_path_env()
        .with_layer(layer.diff_id.clone())
        .with_history(&text, false, None);
    Ok(StageState {
        config,
        key: KeyInput::Base {
            manifest: layer.descriptor.digest.as_str(),
        }
        .key(),
        layers: vec![layer.descriptor],
        rootfs,
        applied: Arc::default(),
        created: None,
        cmd_set: false,
    })
}

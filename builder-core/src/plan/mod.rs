//! Typed stages + options -> the stages to build, in order, with every word expanded.
//!
//! Planning is pure: no file is read, no process spawned, no socket opened. What it needs from
//! base images (their environment and ONBUILD triggers) comes through [`ImageResolver`].
//!
//! It decides, as BuildKit does:
//! - ARG scoping: global ARGs (before the first `FROM`) are visible in `FROM` lines only, unless
//!   a stage re-declares them; `--build-arg` overrides defaults; `ENV` shadows `ARG`; the
//!   automatic platform ARGs exist in the global scope and, when declared, in stages;
//! - which words of which instruction are expanded (`ENV`, `LABEL`, `COPY`/`ADD` paths and
//!   options, `WORKDIR`, `USER`, `EXPOSE`, `VOLUME`, `STOPSIGNAL`, `ARG` defaults, `RUN --mount`
//!   values; never `RUN`, `CMD`, `ENTRYPOINT`, `SHELL`, `HEALTHCHECK` commands);
//! - the stage graph from `FROM <stage>`, `COPY --from` and `RUN --mount from=`, and which
//!   stages the target needs (the rest are dropped).

mod args;
mod error;
mod expand;
mod graph;
mod render;

use std::collections::BTreeMap;
use std::sync::Arc;

pub use args::{PLATFORM_ARGS, PROXY_ARGS};
pub use error::PlanError;

use crate::dockerfile::Warning;
use crate::error::Result;
use crate::instructions::{Dockerfile, Instruction, Step};
use crate::platform::Platform;
use crate::source::{SourceFile, Span};

/// What the user asked for: build args, target, platforms, entitlements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanOptions {
    /// `--build-arg NAME=VALUE` values.
    pub build_args: BTreeMap<String, String>,
    /// `--target`: the stage to build (the last one when unset).
    pub target: Option<String>,
    /// The platform of the result (`--platform`).
    pub target_platform: Platform,
    /// The platform the build runs on.
    pub build_platform: Platform,
    /// `--allow security.insecure`.
    pub allow_insecure: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            build_args: BTreeMap::new(),
            target: None,
            target_platform: Platform::host(),
            build_platform: Platform::host(),
            allow_insecure: false,
        }
    }
}

/// What planning needs to know of a base image.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BaseConfig {
    /// The image's `Env`, as `(name, value)` in order.
    pub env: Vec<(String, String)>,
    /// The image's `OnBuild` triggers, run at the start of a stage built on it.
    pub onbuild: Vec<String>,
}

/// Looks up base images for the planner (through a registry or the local store).
pub trait ImageResolver {
    /// The configuration of `reference` for `platform`.
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<BaseConfig, PlanError>;
}

/// A resolver that knows no image: every base has an empty environment and no triggers.
/// Enough for `hoist debug plan`, which must not touch the network.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfflineResolver;

impl ImageResolver for OfflineResolver {
    fn resolve(&self, _reference: &str, _platform: &Platform) -> Result<BaseConfig, PlanError> {
        Ok(BaseConfig::default())
    }
}

/// The stages to build, in execution order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The file the spans point into.
    pub source: Arc<SourceFile>,
    /// The stages the target needs, in file order (a valid execution order); the target last.
    pub stages: Vec<PlannedStage>,
    /// Proxy build args (`HTTP_PROXY`, ...): given to every `RUN`, kept out of history and
    /// cache keys.
    pub proxy_env: Vec<(String, String)>,
    /// Findings that do not stop the build.
    pub warnings: Vec<Warning>,
}

/// Where a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Base {
    /// `FROM scratch`.
    Scratch,
    /// An image reference, expanded.
    Image(String),
    /// An earlier stage, by index in the Dockerfile.
    Stage(usize),
}

/// A stage with its words expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStage {
    /// The stage's index in the Dockerfile.
    pub index: usize,
    /// The `AS` name.
    pub name: Option<String>,
    /// The base.
    pub base: Base,
    /// The platform the stage is built for.
    pub platform: Platform,
    /// Where its `FROM` is.
    pub span: Span,
    /// The instructions, expanded; ONBUILD triggers of the base first.
    pub steps: Vec<PlannedStep>,
    /// Stages this one reads from (base, `COPY --from`, `RUN --mount from=`), by index.
    pub dependencies: Vec<usize>,
    /// Images this one reads from other than its base (`COPY --from=image`).
    pub image_dependencies: Vec<String>,
    /// The environment at the end of the stage (`ENV`, inherited from the base).
    pub env: Vec<(String, String)>,
}

/// One instruction of a planned stage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    /// The instruction with its words expanded.
    pub step: Step,
    /// The ARGs in scope with their values (what `RUN` sees besides `ENV`).
    pub args: Vec<(String, String)>,
    /// For a stage reference in `COPY --from` or `RUN --mount from=`: the stage index.
    pub from_stage: Option<usize>,
    /// Whether the step is an ONBUILD trigger inherited from the base.
    pub is_trigger: bool,
}

impl Plan {
    /// The stage that is built (the `--target`, or the last stage).
    pub fn target(&self) -> Option<&PlannedStage> {
        self.stages.last()
    }
}

/// Plans `dockerfile` for `options`, resolving base images through `resolver`.
pub fn plan(
    dockerfile: &Dockerfile,
    options: &PlanOptions,
    resolver: &dyn ImageResolver,
) -> Result<Plan> {
    graph::Planner::new(dockerfile, options, resolver).run()
}

/// Whether `instruction` records nothing but metadata (no filesystem change).
pub fn is_metadata_only(instruction: &Instruction) -> bool {
    !matches!(
        instruction,
        Instruction::Run(_) | Instruction::Copy(_) | Instruction::Add(_) | Instruction::Workdir(_)
    )
}

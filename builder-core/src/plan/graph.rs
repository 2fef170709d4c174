//! The planner: the global scope, the stage graph, which stages are kept, and each kept
//! stage's steps expanded in order.

use std::collections::BTreeMap;

use crate::dockerfile::{self, Warning};
use crate::error::{Error, Result};
use crate::instructions::{
    Dockerfile, Instruction, MountSpec, Run, SecurityMode, Stage, Step, parse_instruction,
};
use crate::platform::Platform;
use crate::shell::Lexer;
use crate::source::{SourceFile, Span};
use crate::suggest;

use super::args::{BuildArgs, PLATFORM_ARGS, Scope, automatic_args};
use super::expand::expand;
use super::{
    Base, BaseConfig, ImageResolver, Plan, PlanError, PlanOptions, PlannedStage, PlannedStep,
};

/// The default `PATH` of Linux images that set none (BuildKit's `system.DefaultPathEnv`).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(crate) struct Planner<'a> {
    dockerfile: &'a Dockerfile,
    options: &'a PlanOptions,
    resolver: &'a dyn ImageResolver,
    lexer: Lexer,
    build_args: BuildArgs<'a>,
    automatic: BTreeMap<String, String>,
    /// Global ARGs with their resolved values (`None`: declared without a value).
    meta: Vec<(String, Option<String>)>,
    meta_scope: Scope,
}

/// A stage's base and references, found before expansion decides anything else.
struct StageLinks {
    base: Base,
    platform: Platform,
    triggers: Vec<Step>,
    dependencies: Vec<usize>,
}

impl<'a> Planner<'a> {
    pub(crate) fn new(
        dockerfile: &'a Dockerfile,
        options: &'a PlanOptions,
        resolver: &'a dyn ImageResolver,
    ) -> Self {
        Planner {
            dockerfile,
            options,
            resolver,
            lexer: Lexer::new(dockerfile.escape),
            build_args: BuildArgs::new(&options.build_args),
            automatic: BTreeMap::new(),
            meta: Vec::new(),
            meta_scope: Scope::default(),
        }
    }

    pub(crate) fn run(mut self) -> Result<Plan> {
        let stages = &self.dockerfile.stages;
        if stages.is_empty() {
            return Err(Error::new(PlanError::NoStages));
        }
        let target = self.target_index()?;
        self.automatic = automatic_args(self.options, stages[target].name.as_deref());
        self.global_scope()?;
        let links = stages
            .iter()
            .map(|stage| self.links(stage))
            .collect::<Result<Vec<_>>>()?;
        let kept = reachable(target, &links);
        let mut planned: Vec<PlannedStage> = Vec::new();
        for (stage, link) in stages.iter().zip(links) {
            if kept[stage.index] {
                let p = self.plan_stage(stage, link, &planned)?;
                planned.push(p);
            }
        }
        let mut warnings = self.dockerfile.warnings.clone();
        let unused = self.build_args.unused();
        if !unused.is_empty() {
            warnings.push(Warning {
                short: format!(
                    "One or more build-args [{}] were not consumed",
                    unused.join(" ")
                ),
                detail: "A --build-arg was given that no ARG instruction of the stages built \
                         declares."
                    .into(),
                url: None,
                span: Span::default(),
            });
        }
        Ok(Plan {
            source: self.dockerfile.source.clone(),
            stages: planned,
            proxy_env: self.build_args.proxy_env(),
            warnings,
        })
    }

    fn located(&self, span: Span) -> impl Fn(Error) -> Error + use<> {
        let source = self.dockerfile.source.clone();
        move |e| e.at(&source, span)
    }

    fn target_index(&self) -> Result<usize> {
        let stages = &self.dockerfile.stages;
        let Some(target) = &self.options.target else {
            return Ok(stages.len() - 1);
        };
        let lower = target.to_lowercase();
        if let Some(s) = stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
        {
            return Ok(s.index);
        }
        let suggestion = suggest::closest(&lower, stages.iter().filter_map(|s| s.name.as_deref()))
            .map(str::to_string);
        Err(Error::new(PlanError::UnknownTarget {
            name: target.clone(),
            suggestion,
        }))
    }

    /// Global ARGs: the automatic platform ARGs, then the ARGs before the first FROM.
    fn global_scope(&mut self) -> Result<()> {
        for name in PLATFORM_ARGS {
            if let Some(v) = self.automatic.get(*name) {
                self.meta_scope.set_arg(name.to_string(), v.clone());
            }
        }
        for step in &self.dockerfile.meta_args {
            let Instruction::Arg(decls) = &step.instruction else {
                continue;
            };
            for decl in decls {
                let resolved = self
                    .meta_scope
                    .declare(decl, &self.lexer, &mut self.build_args, &|_| None)
                    .map_err(|e| e.at(&self.dockerfile.source, step.span))?;
                self.meta.retain(|(k, _)| *k != decl.name);
                self.meta.push((decl.name.clone(), resolved.default));
            }
        }
        Ok(())
    }

    fn links(&self, stage: &Stage) -> Result<StageLinks> {
        let at = self.located(stage.span);
        let from = &stage.from;
        let image = self
            .lexer
            .process_word(&from.image, &self.meta_scope)
            .map_err(|e| at(Error::new(e)))?;
        if image.is_empty() {
            return Err(at(Error::new(PlanError::BlankBase {
                raw: from.image.clone(),
            })));
        }
        let platform = match &from.platform {
            Some(raw) => {
                let value = self
                    .lexer
                    .process_word(raw, &self.meta_scope)
                    .map_err(|e| at(Error::new(e)))?;
                Platform::parse(&value).map_err(|e| at(Error::new(PlanError::from(e))))?
            }
            None => self.options.target_platform.clone(),
        };
        let base = self.base_of(stage, &image).map_err(&at)?;
        let triggers = match &base {
            Base::Stage(i) => stage_triggers(&self.dockerfile.stages[*i]),
            Base::Image(reference) => self.image_triggers(stage, reference, &platform)?,
            Base::Scratch => Vec::new(),
        };
        let mut dependencies = Vec::new();
        if let Base::Stage(i) = base {
            dependencies.push(i);
        }
        for step in triggers.iter().chain(&stage.steps) {
            for name in stage_references(&step.instruction) {
                let at = self.located(step.span);
                if let Some(i) = self.resolve_ref(&name, stage).map_err(at)? {
                    dependencies.push(i);
                }
            }
        }
        dependencies.sort_unstable();
        dependencies.dedup();
        Ok(StageLinks {
            base,
            platform,
            triggers,
            dependencies,
        })
    }

    fn base_of(&self, stage: &Stage, image: &str) -> Result<Base> {
        if image.eq_ignore_ascii_case("scratch") {
            return Ok(Base::Scratch);
        }
        let lower = image.to_lowercase();
        if stage.name.as_deref() == Some(lower.as_str()) {
            return Err(Error::new(PlanError::Cycle { stage: lower }));
        }
        let earlier = &self.dockerfile.stages[..stage.index];
        Ok(
            match earlier.iter().find(|s| s.name.as_deref() == Some(&lower)) {
                Some(s) => Base::Stage(s.index),
                None => Base::Image(image.to_string()),
            },
        )
    }

    /// A `--from` value: an earlier stage (by name or index), or `None` for an image.
    fn resolve_ref(&self, name: &str, current: &Stage) -> Result<Option<usize>> {
        let lower = name.to_lowercase();
        let stages = &self.dockerfile.stages;
        let found = match lower.parse::<usize>() {
            Ok(i) => Some(i),
            Err(_) => stages
                .iter()
                .find(|s| s.name.as_deref() == Some(lower.as_str()))
                .map(|s| s.index),
        };
        let current_name = || {
            current
                .name
                .clone()
                .unwrap_or_else(|| current.index.to_string())
        };
        match found {
            None => Ok(None),
            Some(i) if i < current.index => Ok(Some(i)),
            Some(i) if i == current.index => Err(Error::new(PlanError::Cycle {
                stage: current_name(),
            })),
            Some(_) => Err(Error::new(PlanError::StageOrder {
                from: name.to_string(),
                current: current_name(),
            })),
        }
    }

    fn image_triggers(
        &self,
        stage: &Stage,
        reference: &str,
        platform: &Platform,
    ) -> Result<Vec<Step>> {
        let at = self.located(stage.span);
        let BaseConfig { onbuild, .. } = self
            .resolver
            .resolve(reference, platform)
            .map_err(|e| at(Error::new(e)))?;
        let mut steps = Vec::new();
        for trigger in onbuild {
            let source = SourceFile::new(format!("ONBUILD trigger of {reference}"), trigger);
            let ast = dockerfile::parse(&source)?;
            for node in &ast.nodes {
                let instruction =
                    parse_instruction(node).map_err(|e| Error::new(e).at(&source, node.span))?;
                steps.push(Step {
                    instruction,
                    span: stage.span,
                    original: node.original.clone(),
                });
            }
        }
        Ok(steps)
    }

    fn plan_stage(
        &mut self,
        stage: &Stage,
        links: StageLinks,
        planned: &[PlannedStage],
    ) -> Result<PlannedStage> {
        let mut scope = Scope {
            env: self.base_env(&links, planned, stage)?,
            args: Vec::new(),
        };
        if !scope.env.iter().any(|(k, _)| k == "PATH") && links.platform.os == "linux" {
            scope.set_env("PATH".into(), DEFAULT_PATH.into());
        }
        let trigger_count = links.triggers.len();
        let mut steps = Vec::new();
        for (n, step) in links.triggers.iter().chain(&stage.steps).enumerate() {
            let at = self.located(step.span);
            let instruction = self.plan_step(&step.instruction, &mut scope).map_err(&at)?;
            let from_stage = match stage_references(&instruction).first() {
                Some(name) => self.resolve_ref(name, stage).map_err(&at)?,
                None => None,
            };
            steps.push(PlannedStep {
                step: Step {
                    instruction,
                    span: step.span,
                    original: step.original.clone(),
                },
                args: scope.args.clone(),
                from_stage,
                is_trigger: n < trigger_count,
            });
        }
        let mut image_dependencies = Vec::new();
        for s in &steps {
            for name in stage_references(&s.step.instruction) {
                let at = self.located(s.step.span);
                if self.resolve_ref(&name, stage).map_err(at)?.is_none() {
                    image_dependencies.push(name);
                }
            }
        }
        Ok(PlannedStage {
            index: stage.index,
            name: stage.name.clone(),
            base: links.base,
            platform: links.platform,
            span: stage.span,
            steps,
            dependencies: links.dependencies,
            image_dependencies,
            env: scope.env,
        })
    }

    fn base_env(
        &self,
        links: &StageLinks,
        planned: &[PlannedStage],
        stage: &Stage,
    ) -> Result<Vec<(String, String)>> {
        Ok(match &links.base {
            Base::Scratch => Vec::new(),
            Base::Stage(i) => planned
                .iter()
                .find(|p| p.index == *i)
                .map(|p| p.env.clone())
                .unwrap_or_default(),
            Base::Image(reference) => {
                self.resolver
                    .resolve(reference, &links.platform)
                    .map_err(|e| Error::new(e).at(&self.dockerfile.source, stage.span))?
                    .env
            }
        })
    }

    fn plan_step(&mut self, instruction: &Instruction, scope: &mut Scope) -> Result<Instruction> {
        match instruction {
            Instruction::Arg(decls) => {
                let mut out = Vec::with_capacity(decls.len());
                for decl in decls {
                    let meta = &self.meta;
                    let automatic = &self.automatic;
                    let inherited = |name: &str| -> Option<String> {
                        match meta.iter().find(|(k, _)| k == name) {
                            Some((_, v)) => v.clone(),
                            None if PLATFORM_ARGS.contains(&name) || name == "TARGETSTAGE" => {
                                automatic.get(name).cloned()
                            }
                            None => None,
                        }
                    };
                    out.push(scope.declare(decl, &self.lexer, &mut self.build_args, &inherited)?);
                }
                Ok(Instruction::Arg(out))
            }
            Instruction::Env(_) => {
                let expanded = expand(instruction, &self.lexer, scope)?;
                if let Instruction::Env(kvs) = &expanded {
                    for kv in kvs {
                        scope.set_env(kv.key.clone(), kv.value.clone());
                    }
                }
                Ok(expanded)
            }
            Instruction::Run(Run {
                security: Some(SecurityMode::Insecure),
                ..
            }) if !self.options.allow_insecure => Err(Error::new(PlanError::InsecureNotAllowed)),
            other => expand(other, &self.lexer, scope),
        }
    }
}

/// The ONBUILD triggers a stage leaves for the stages built on it.
fn stage_triggers(parent: &Stage) -> Vec<Step> {
    parent
        .steps
        .iter()
        .filter_map(|s| match &s.instruction {
            Instruction::Onbuild(o) => Some(Step {
                instruction: (*o.trigger).clone(),
                span: s.span,
                original: o.expression.clone(),
            }),
            _ => None,
        })
        .collect()
}

/// The stages-or-images an instruction reads from (`COPY --from`, each `RUN --mount from=`).
fn stage_references(instruction: &Instruction) -> Vec<String> {
    match instruction {
        Instruction::Copy(c) => c.from.iter().cloned().collect(),
        Instruction::Run(r) => r
            .mounts
            .iter()
            .filter_map(|m| match m {
                MountSpec::Parsed(m) => m.from.clone(),
                MountSpec::Unexpanded(raw) => raw.split(',').find_map(|f| {
                    let (k, v) = f.split_once('=')?;
                    k.eq_ignore_ascii_case("from").then(|| v.to_string())
                }),
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Which stages `target` needs, transitively.
fn reachable(target: usize, links: &[StageLinks]) -> Vec<bool> {
    let mut kept = vec![false; links.len()];
    let mut todo = vec![target];
    while let Some(i) = todo.pop() {
        if std::mem::replace(&mut kept[i], true) {
            continue;
        }
        todo.extend(links[i].dependencies.iter().copied());
    }
    kept
}

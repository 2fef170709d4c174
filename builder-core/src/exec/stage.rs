//! A stage being built: its config, layers, state key and materialised filesystem; and the
//! metadata instructions, each a transformation of the config.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use registry_client::Descriptor;

use super::CacheKey;
use crate::error::Result;
use crate::image::{Healthcheck, ImageConfig};
use crate::instructions::Instruction;

/// Where a stage stands after its last instruction.
#[derive(Debug, Clone)]
pub(super) struct StageState {
    /// The image config so far.
    pub config: ImageConfig,
    /// The layers so far, base first.
    pub layers: Vec<Descriptor>,
    /// The key of the filesystem state (changes with each layer).
    pub key: CacheKey,
    /// Where the filesystem is materialised when a step needs it (removed with the build's
    /// scratch directory).
    pub rootfs: PathBuf,
    /// How many of [`Self::layers`] are applied in [`Self::rootfs`] (shared by clones that
    /// share the directory).
    pub applied: Arc<AtomicUsize>,
    /// When the last layer was made (seconds since the epoch); `None` before any layer.
    pub created: Option<i64>,
    /// Whether `CMD` was set in this stage (`ENTRYPOINT` keeps it then).
    pub cmd_set: bool,
}

impl StageState {
    /// The same state, materialised (lazily) in the empty directory `rootfs` instead.
    pub fn with_rootfs(self, rootfs: PathBuf) -> Self {
        StageState {
            rootfs,
            applied: Arc::default(),
            ..self
        }
    }
}

/// `config` changed by a metadata-only `instruction` (no history entry: the caller adds it).
pub(super) fn apply_metadata(
    config: ImageConfig,
    instruction: &Instruction,
    cmd_set: bool,
) -> Result<ImageConfig> {
    Ok(match instruction {
        Instruction::Env(kvs) => kvs
            .iter()
            .fold(config, |c, kv| c.with_env(&kv.key, &kv.value)),
        Instruction::Label(kvs) => kvs
            .iter()
            .fold(config, |c, kv| c.with_label(&kv.key, &kv.value)),
        Instruction::User(user) => config.with_user(user),
        Instruction::Expose(specs) => {
            let mut config = config;
            for spec in specs {
                config = config.with_exposed_port(spec)?;
            }
            config
        }
        Instruction::Volume(paths) => {
            let mut config = config;
            for path in paths {
                config = config.with_volume(path)?;
            }
            config
        }
        Instruction::Cmd(command) => {
            let args = config.command_args(command);
            config.with_cmd(args)
        }
        Instruction::Entrypoint(command) => {
            let args = config.command_args(command);
            config.with_entrypoint(args, cmd_set)
        }
        Instruction::Shell(shell) => config.with_shell(shell.clone()),
        Instruction::StopSignal(signal) => config.with_stop_signal(signal)?,
        Instruction::Healthcheck(h) => config.with_healthcheck(Healthcheck::from_instruction(h)),
        Instruction::Onbuild(onbuild) => config.with_onbuild(&onbuild.expression),
        Instruction::Maintainer(name) => config.with_maintainer(name),
        Instruction::Workdir(path) => config.with_workdir(path),
        Instruction::Arg(_)
        | Instruction::From(_)
        | Instruction::Run(_)
        | Instruction::Copy(_)
        | Instruction::Add(_) => config,
    })
}

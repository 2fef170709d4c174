//! `RUN`: the command, environment and user of a step ([`PreparedRun`]), and running it in a
//! container on a snapshot of the stage, whose changes become the step's layer.
//!
//! Heredocs follow BuildKit (`dockerfile2llb` `dispatchRun`): `RUN <<EOF` alone runs the body
//! through the shell, or, when it starts with `#!`, writes it to `/dev/pipes/EOF` (a read-only
//! mount outside the layer) and runs that file through the shell; a heredoc inside a longer
//! command is put back after it (`cmd <<EOF\nbody\nEOF`) for the shell to handle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use registry_client::Digest;

use super::bundle::{BundleMount, BundleSpec, ProcessSpec, standard_mounts, write_bundle};
use super::log::BuildLog;
use super::mounts::{MountInputs, PreparedMount, SecretSource, StepMounts, setup_mounts};
use super::owner::resolve_user;
use super::runtime::{Runtime, container_id};
use super::{CacheKey, CancelFlag, ExecError, KeyInput};
use crate::error::Result;
use crate::events::{Event, EventSink, StepId};
use crate::image::ImageConfig;
use crate::instructions::{CommandLine, NetworkMode, Run, SecurityMode};
use crate::layer::{Compression, WhiteoutMode};
use crate::snapshot::{
    LayerRef, Mountpoints, NaiveSnapshot, OverlayMount, SnapshotError, SnapshotterKind,
    adopt_snapshot, materialize,
};
use crate::store::{CachedLayer, Store};

/// The default `PATH` when the image sets none (BuildKit's, for Linux).
const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where a shebang heredoc script is mounted.
const PIPES_DIR: &str = "/dev/pipes";

/// How `RUN` steps are executed.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The OCI runtime.
    pub runtime: Runtime,
    /// The snapshotter.
    pub snapshotter: SnapshotterKind,
    /// Set by the caller to stop the build.
    pub cancel: CancelFlag,
    /// The network of a `RUN` without `--network` (or with `--network=default`): `--network`
    /// of `hoist build`. [`NetworkMode::Default`] is the host's.
    pub network: NetworkMode,
    /// Secrets for `RUN --mount=type=secret`, by id.
    pub secrets: BTreeMap<String, SecretSource>,
    /// SSH agent sockets for `RUN --mount=type=ssh`, by id (`default`).
    pub ssh: BTreeMap<String, PathBuf>,
    /// How many stages may build at once (0: the number of CPUs). The image is the same
    /// whatever the number.
    pub jobs: usize,
}

impl Default for RunOptions {
    /// runc, overlayfs where it mounts, a flag nobody sets.
    fn default() -> Self {
        RunOptions {
            runtime: Runtime::from_kind(super::RuntimeKind::Runc),
            snapshotter: SnapshotterKind::Auto,
            cancel: CancelFlag::new(),
            network: NetworkMode::Default,
            secrets: BTreeMap::new(),
            ssh: BTreeMap::new(),
            jobs: 0,
        }
    }
}

/// A `RUN` resolved against its stage's config: what runs and what keys it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PreparedRun {
    args: Vec<String>,
    env: Vec<String>,
    user: String,
    cwd: String,
    network: NetworkMode,
    insecure: bool,
    /// A shebang heredoc: its name and body, mounted at `/dev/pipes/<name>`.
    script: Option<(String, String)>,
    /// `--mount`s, resolved.
    mounts: Vec<PreparedMount>,
    /// Their descriptions, for the key.
    mount_keys: Vec<String>,
    /// Proxy build args (`HTTP_PROXY=...`), given to the process but kept out of the key, as
    /// BuildKit does; a variable the step already has wins.
    proxy_env: Vec<String>,
}

/// Whether `text` is exactly one heredoc marker (`<<EOF`, `<<-EOF`, `<<"EOF"`) named `name`.
fn is_heredoc_marker(text: &str, name: &str) -> bool {
    let Some(rest) = text.trim().strip_prefix("<<") else {
        return false;
    };
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let unquoted = rest
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .unwrap_or(rest);
    unquoted == name
}

impl PreparedRun {
    /// `run` in a stage with `config`, the ARGs in scope being `args`.
    pub(crate) fn new(
        run: &Run,
        config: &ImageConfig,
        args: &[(String, String)],
        allow_insecure: bool,
    ) -> Result<Self, ExecError> {
        let insecure = run.security == Some(SecurityMode::Insecure);
        if insecure && !allow_insecure {
            return Err(ExecError::InsecureNotAllowed);
        }
        let mut script = None;
        let argv = match (&run.command, run.heredocs.as_slice()) {
            (CommandLine::Exec(argv), _) => argv.clone(),
            (CommandLine::Shell(text), []) => config.shell_args(text),
            (CommandLine::Shell(text), [only]) if is_heredoc_marker(text, &only.name) => {
                let body = only.body();
                if body.starts_with("#!") {
                    let path = format!("{PIPES_DIR}/{}", only.name);
                    script = Some((only.name.clone(), body));
                    config.shell_args(&path)
                } else {
                    config.shell_args(&body)
                }
            }
            (CommandLine::Shell(text), heredocs) => {
                let mut full = text.clone();
                for h in heredocs {
                    full.push('\n');
                    full.push_str(&h.content);
                    full.push_str(&h.name);
                }
                config.shell_args(&full)
            }
        };
        let mut env = config.config.env.clone();
        for (key, value) in args {
            let prefix = format!("{key}=");
            if !env.iter().any(|e| e.starts_with(&prefix)) {
                env.push(format!("{key}={value}"));
            }
        }
        if !env.iter().any(|e| e.starts_with("PATH=")) {
            env.push(format!("PATH={DEFAULT_PATH}"));
        }
        let cwd = match config.config.working_dir.as_str() {
            "" => "/".to_owned(),
            dir => dir.to_owned(),
        };
        Ok(PreparedRun {
            args: argv,
            env,
            user: config.config.user.clone(),
            cwd,
            network: run.network.unwrap_or(NetworkMode::Default),
            insecure,
            script,
            mounts: Vec::new(),
            mount_keys: Vec::new(),
            proxy_env: Vec::new(),
        })
    }

    /// This run with `network` as its network when the step asked for none or for the default
    /// (the build's `--network`).
    pub(crate) fn with_default_network(mut self, network: NetworkMode) -> Self {
        if self.network == NetworkMode::Default {
            self.network = network;
        }
        self
    }

    /// This run with the proxy build args `proxy` (not part of its key).
    pub(crate) fn with_proxy_env(self, proxy: &[(String, String)]) -> Self {
        let proxy_env = proxy
            .iter()
            .filter(|(k, _)| !self.env.iter().any(|e| e.starts_with(&format!("{k}="))))
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        PreparedRun { proxy_env, ..self }
    }

    /// This run with `mounts`, described by `keys`.
    pub(crate) fn with_mounts(self, mounts: Vec<PreparedMount>, keys: Vec<String>) -> Self {
        PreparedRun {
            mounts,
            mount_keys: keys,
            ..self
        }
    }

    /// The key of this run on the state `parent`.
    pub(crate) fn key(&self, parent: &CacheKey) -> CacheKey {
        let network = match self.network {
            NetworkMode::None => "none",
            NetworkMode::Host | NetworkMode::Default => "host",
        };
        let mounts: Vec<String> = self
            .script
            .iter()
            .map(|(name, body)| {
                let digest = Digest::sha256_of(body.as_bytes());
                format!("heredoc:{PIPES_DIR}/{name}:{}", digest.as_str())
            })
            .chain(self.mount_keys.iter().cloned())
            .collect();
        KeyInput::Exec {
            parent: parent.digest().as_str(),
            args: &self.args,
            env: &self.env,
            user: &self.user,
            cwd: &self.cwd,
            network,
            security: if self.insecure { "insecure" } else { "sandbox" },
            mounts: &mounts,
        }
        .key()
    }

    /// The command as users wrote it, for errors.
    fn command_text(&self) -> String {
        self.args.join(" ")
    }
}

/// What a run needs from its build.
#[derive(Clone, Copy)]
pub(crate) struct RunContext<'a> {
    /// The store (layers, snapshots).
    pub store: &'a Store,
    /// Progress events.
    pub events: &'a dyn EventSink,
    /// The build's log file.
    pub log: &'a BuildLog,
    /// How to run.
    pub options: &'a RunOptions,
    /// The build's scratch directory.
    pub scratch: &'a Path,
    /// Layer compression.
    pub compression: Compression,
    /// `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: Option<i64>,
    /// The step.
    pub id: StepId,
    /// What `--mount`s read from.
    pub inputs: &'a dyn MountInputs,
}

/// The filesystem a step runs on.
enum StepFs {
    Overlay(OverlayMount),
    Naive(NaiveSnapshot),
}

impl StepFs {
    fn rootfs(&self) -> &Path {
        match self {
            StepFs::Overlay(m) => m.merged(),
            StepFs::Naive(n) => n.rootfs(),
        }
    }
}

/// Runs `prepared` on the stage with `layers`; returns the layer of its changes.
pub(crate) fn run_step(
    cx: RunContext<'_>,
    prepared: &PreparedRun,
    layers: &[LayerRef<'_>],
) -> Result<CachedLayer> {
    if cx.options.cancel.is_cancelled() {
        return Err(ExecError::Cancelled.into());
    }
    let dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(cx.scratch)
        .map_err(ExecError::io("create a directory in", cx.scratch))?;
    let mut fs = step_fs(cx, layers, dir.path())?;
    let rootfs = fs.rootfs().to_owned();
    let mut spec = user_and_cwd(prepared, &rootfs)?;
    let mut mounts = standard_mounts(prepared.insecure);
    let step_mounts = if prepared.mounts.is_empty() {
        StepMounts::default()
    } else {
        let own = dir.path().join("mounts");
        std::fs::create_dir(&own).map_err(ExecError::io("create directory", &own))?;
        setup_mounts(&prepared.mounts, cx.store, cx.inputs, &own)?
    };
    mounts.extend(step_mounts.bundle.iter().cloned());
    spec.env.extend(step_mounts.env.iter().cloned());
    spec.env.extend(prepared.proxy_env.iter().cloned());
    if let Some((name, body)) = &prepared.script {
        let scripts = dir.path().join("pipes");
        std::fs::create_dir(&scripts).map_err(ExecError::io("create directory", &scripts))?;
        let path = scripts.join(name);
        write_script(&path, body)?;
        mounts.push(BundleMount::bind_readonly(
            &path,
            &format!("{PIPES_DIR}/{name}"),
        ));
    }
    let destinations: Vec<String> = mounts.iter().map(|m| m.destination.clone()).collect();
    let mountpoints = Mountpoints::record(&rootfs, &destinations);
    let bundle_dir = dir.path().join("bundle");
    std::fs::create_dir(&bundle_dir).map_err(ExecError::io("create directory", &bundle_dir))?;
    let bundle = BundleSpec {
        process: spec,
        rootfs: rootfs.clone(),
        hostname: "hoist".to_owned(),
        network: prepared.network,
        insecure: prepared.insecure,
        mounts,
    };
    write_bundle(&bundle_dir, &bundle)?;
    let id = container_id();
    let mut output = |stream, line: &[u8]| {
        cx.log.line(cx.id, stream, line);
        cx.events.emit(Event::StepLog {
            id: cx.id,
            stream,
            line: line.to_vec(),
        });
    };
    let outcome = cx
        .options
        .runtime
        .run(&bundle_dir, &id, &cx.options.cancel, &mut output);
    // The bundle names secret values (env=): it goes as soon as the container has run.
    let _ = std::fs::remove_file(bundle_dir.join("config.json"));
    drop(step_mounts);
    let outcome = outcome?;
    if outcome.code != 0 {
        return Err(ExecError::RunFailed {
            command: prepared.command_text(),
            code: outcome.code,
            tail: outcome.tail,
            log: cx.log.path().to_owned(),
        }
        .into());
    }
    let diff = match &mut fs {
        StepFs::Overlay(mount) => {
            mount.unmount()?;
            mountpoints.remove_created(mount.upper(), true)?;
            mount.upper().to_owned()
        }
        StepFs::Naive(snapshot) => {
            mountpoints.remove_created(snapshot.rootfs(), false)?;
            let diff = dir.path().join("diff");
            std::fs::create_dir(&diff).map_err(ExecError::io("create directory", &diff))?;
            snapshot.diff(&diff)?;
            diff
        }
    };
    let layer = super::commit::write_layer_with(
        cx.store,
        &diff,
        cx.compression,
        cx.source_date_epoch,
        WhiteoutMode::Overlay,
    )?;
    // The upper directory becomes the layer's snapshot for the steps after this one.
    if matches!(fs, StepFs::Overlay(_)) {
        adopt_snapshot(cx.store, &layer.diff_id, &diff, cx.source_date_epoch)?;
    }
    drop(fs);
    dir.close().map_err(ExecError::io("remove", cx.scratch))?;
    Ok(layer)
}

/// The step's filesystem: an overlay mount, or a naive copy where overlay cannot mount.
fn step_fs(cx: RunContext<'_>, layers: &[LayerRef<'_>], dir: &Path) -> Result<StepFs> {
    let naive = |cx: RunContext<'_>| -> Result<StepFs> {
        let rootfs = dir.join("rootfs");
        std::fs::create_dir(&rootfs).map_err(ExecError::io("create directory", &rootfs))?;
        materialize(cx.store, layers, &rootfs)?;
        Ok(StepFs::Naive(NaiveSnapshot::record(rootfs)?))
    };
    let overlay = dir.join("overlay");
    if cx.options.snapshotter != SnapshotterKind::Naive {
        std::fs::create_dir(&overlay).map_err(ExecError::io("create directory", &overlay))?;
    }
    match cx.options.snapshotter {
        SnapshotterKind::Naive => naive(cx),
        SnapshotterKind::Overlay => Ok(StepFs::Overlay(OverlayMount::mount(
            cx.store, layers, &overlay,
        )?)),
        _ => match OverlayMount::mount(cx.store, layers, &overlay) {
            Ok(mount) => Ok(StepFs::Overlay(mount)),
            Err(e)
                if matches!(
                    e.kind(),
                    crate::error::ErrorKind::Snapshot(SnapshotError::Mount { .. })
                ) =>
            {
                cx.events.emit(Event::Warning {
                    message: format!("{}; using the naive snapshotter", e.kind()),
                });
                naive(cx)
            }
            Err(e) => Err(e),
        },
    }
}

/// The process user (resolved in the step's rootfs) and working directory (created).
fn user_and_cwd(prepared: &PreparedRun, rootfs: &Path) -> Result<ProcessSpec, ExecError> {
    let user = if prepared.user.is_empty() {
        "0"
    } else {
        prepared.user.as_str()
    };
    let (uid, gid, additional_gids) = resolve_user(rootfs, user)?;
    // The working directory is created when missing; a symlink on the way is left to the
    // runtime, which resolves it inside the rootfs (following it here would be on the host).
    let mut cwd = rootfs.to_owned();
    for part in super::diff::image_components(&prepared.cwd) {
        cwd.push(part);
        match std::fs::symlink_metadata(&cwd) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => break,
            Err(_) => std::fs::create_dir(&cwd).map_err(ExecError::io("create directory", &cwd))?,
        }
    }
    Ok(ProcessSpec {
        args: prepared.args.clone(),
        env: prepared.env.clone(),
        cwd: prepared.cwd.clone(),
        uid,
        gid,
        additional_gids,
    })
}

fn write_script(path: &PathBuf, body: &str) -> Result<(), ExecError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, body).map_err(ExecError::io("write", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(ExecError::io("chmod", path))
}

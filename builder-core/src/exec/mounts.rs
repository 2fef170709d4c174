//! `RUN --mount`: each mount typed and checked against the build's inputs
//! ([`PreparedMount`], with the description that enters the step's cache key), then set up for
//! one run ([`StepMounts`]: host directories, locks, a tmpfs for secrets; released on drop).
//!
//! - `cache`: a persistent directory `hoist/cache-mounts/<sha256 of id>` (id defaults to the
//!   target), created with `mode`/`uid`/`gid` and seeded from `from`/`source` when new.
//!   `sharing=shared` holds a shared `flock` on `<dir>.lock` for the run, `locked` an exclusive
//!   one (waiting), `private` an exclusive one when free and a fresh directory otherwise.
//! - `bind`: files from the context (after `.dockerignore`) or a stage, read-only unless `rw`;
//!   a writable bind gets a private copy, so its writes are discarded.
//! - `tmpfs`: a fresh tmpfs (`size`).
//! - `secret`: from [`SecretSource`]s given by the caller, written to a tmpfs mounted on the
//!   host for the run and bind-mounted read-only at `/run/secrets/<id>` (or `target`), and/or
//!   given as the environment variable `env` for this run only. Only the id enters the key.
//! - `ssh`: the agent socket given by the caller, bind-mounted at
//!   `/run/buildkit/ssh_agent.<n>` (or `target`); the first sets `SSH_AUTH_SOCK`.
//!
//! Mount targets are mount points: [`crate::snapshot::Mountpoints`] removes the ones the
//! runtime created, so no target appears in the layer.

use std::collections::BTreeMap;
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use registry_client::Digest;
use rustix::fs::{FlockOperation, flock};
use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};

use super::base::CopyFromBase;
use super::bundle::BundleMount;
use super::copy::{CopyOrigin, PreparedCopy};
use super::diff::{DiffDir, image_components};
use super::{CacheKey, ExecError};
use crate::context::Context;
use crate::error::Result;
use crate::instructions::{CopySpec, Mount, MountSpec, MountType, Sharing};
use crate::store::Store;

/// Where a secret's value comes from (`--secret id=x,src=path` or `id=x,env=VAR`).
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSource {
    /// A file on the host, read when a step mounts it.
    File(PathBuf),
    /// The value itself (the CLI reads it from an environment variable).
    Value(Vec<u8>),
}

impl std::fmt::Debug for SecretSource {
    /// Never shows a value.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretSource::File(path) => f.debug_tuple("File").field(path).finish(),
            SecretSource::Value(_) => f.write_str("Value(<redacted>)"),
        }
    }
}

impl SecretSource {
    fn read(&self, id: &str) -> Result<Vec<u8>, ExecError> {
        match self {
            SecretSource::Value(v) => Ok(v.clone()),
            SecretSource::File(path) => std::fs::read(path).map_err(|e| ExecError::SecretRead {
                id: id.to_owned(),
                path: path.clone(),
                cause: e.into(),
            }),
        }
    }
}

/// Where a bind or cache seed reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MountOrigin {
    /// The build context.
    Context,
    /// An earlier stage, by index.
    Stage(usize),
    /// An image or a named context, by the name `from=` gives.
    Image(String),
}

/// What mounts read from, supplied by the build.
pub(crate) trait MountInputs {
    /// The build context.
    fn context(&self) -> &Context;
    /// The stage a `from=` names (index or name) and its key, or `None` for anything else.
    fn stage(&self, reference: &str) -> Option<(usize, CacheKey)>;
    /// The stage's filesystem, materialised.
    fn stage_rootfs(&self, index: usize) -> Result<PathBuf>;
    /// For an image or named context `reference`: what identifies the content under `source`
    /// (for keys); `None` when it names neither.
    fn image_identity(&self, reference: &str, source: &str) -> Option<Result<String>>;
    /// An image or named context, opened for reading.
    fn open_image(&self, reference: &str) -> Result<CopyFromBase>;
}

/// One mount of a step, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PreparedMount {
    /// `type=bind`.
    Bind {
        target: String,
        origin: MountOrigin,
        source: String,
        readonly: bool,
    },
    /// `type=cache`.
    Cache {
        target: String,
        id: String,
        sharing: Sharing,
        mode: u32,
        owner: (u32, u32),
        readonly: bool,
        seed: Option<(MountOrigin, String)>,
        /// Without `from`: the subdirectory of the cache to mount.
        subpath: Option<String>,
    },
    /// `type=tmpfs`.
    Tmpfs { target: String, size: Option<u64> },
    /// `type=secret` (`source` is `None` when it is missing and not required).
    Secret {
        id: String,
        target: Option<String>,
        env: Option<String>,
        mode: u32,
        owner: (u32, u32),
        source: Option<SecretSource>,
    },
    /// `type=ssh` (`socket` is `None` when missing and not required).
    Ssh {
        target: String,
        socket: Option<PathBuf>,
        first: bool,
    },
}

/// A target made absolute against `workdir` and cleaned.
fn absolute(target: &str, workdir: &str) -> String {
    let joined = if target.starts_with('/') {
        target.to_owned()
    } else {
        format!("{workdir}/{target}")
    };
    format!("/{}", image_components(&joined).join("/"))
}

/// The mounts of a `RUN` in a stage whose working directory is `workdir`, and the description
/// of each for the cache key.
pub(crate) fn prepare_mounts(
    specs: &[MountSpec],
    workdir: &str,
    inputs: &dyn MountInputs,
    secrets: &BTreeMap<String, SecretSource>,
    ssh: &BTreeMap<String, PathBuf>,
) -> Result<(Vec<PreparedMount>, Vec<String>)> {
    let workdir = if workdir.is_empty() { "/" } else { workdir };
    let mut mounts = Vec::new();
    let mut descriptions = Vec::new();
    let mut ssh_count = 0;
    for spec in specs {
        let m = match spec {
            MountSpec::Parsed(m) => m.clone(),
            MountSpec::Unexpanded(raw) => Mount::parse(raw)?,
        };
        let origin = |m: &Mount| -> Result<(MountOrigin, String)> {
            let source = m.source.as_deref().unwrap_or("/");
            match &m.from {
                None => Ok((MountOrigin::Context, "context".to_owned())),
                Some(from) => match inputs.stage(from) {
                    Some((index, key)) => Ok((MountOrigin::Stage(index), key.hex().to_owned())),
                    None => match inputs.image_identity(from, source) {
                        Some(id) => Ok((MountOrigin::Image(from.clone()), id?)),
                        None => Err(ExecError::UnsupportedMountFrom { from: from.clone() }.into()),
                    },
                },
            }
        };
        let target = m.target.as_deref().map(|t| absolute(t, workdir));
        let (mount, description) = match m.mount_type() {
            MountType::Bind => {
                let (origin, from) = origin(&m)?;
                let source = m.source.clone().unwrap_or_else(|| "/".to_owned());
                let digest = match origin {
                    MountOrigin::Context => context_checksum(inputs.context(), &source)?
                        .as_str()
                        .to_owned(),
                    MountOrigin::Stage(_) | MountOrigin::Image(_) => from,
                };
                let target = target.unwrap_or_default();
                let d = format!(
                    "bind:{target}:{digest}:{source}:{}",
                    if m.readonly { "ro" } else { "rw" }
                );
                let readonly = m.readonly;
                (
                    PreparedMount::Bind {
                        target,
                        origin,
                        source,
                        readonly,
                    },
                    d,
                )
            }
            MountType::Cache => {
                let target = target.unwrap_or_default();
                let id = m.id.clone().unwrap_or_else(|| target.clone());
                let sharing = m.sharing.unwrap_or(Sharing::Shared);
                let subpath = match &m.from {
                    None => m.source.clone(),
                    Some(_) => None,
                };
                let seed = match &m.from {
                    None => None,
                    Some(_) => {
                        let (origin, _) = origin(&m)?;
                        Some((origin, m.source.clone().unwrap_or_else(|| "/".to_owned())))
                    }
                };
                let mode = m.mode.unwrap_or(0o755);
                let owner = (m.uid.unwrap_or(0), m.gid.unwrap_or(0));
                let d = format!(
                    "cache:{target}:{id}:{sharing:?}:{mode:o}:{}:{}:{}:{}:{}",
                    owner.0,
                    owner.1,
                    m.readonly,
                    subpath.as_deref().unwrap_or_default(),
                    seed.as_ref()
                        .map(|(o, s)| format!("{o:?}:{s}"))
                        .unwrap_or_default()
                );
                (
                    PreparedMount::Cache {
                        target,
                        id,
                        sharing,
                        mode,
                        owner,
                        readonly: m.readonly,
                        seed,
                        subpath,
                    },
                    d,
                )
            }
            MountType::Tmpfs => {
                let target = target.unwrap_or_default();
                let d = format!("tmpfs:{target}:{}", m.size.unwrap_or(0));
                (
                    PreparedMount::Tmpfs {
                        target,
                        size: m.size,
                    },
                    d,
                )
            }
            MountType::Secret => {
                let id = match (m.id.clone().or(m.source.clone()), &target) {
                    (Some(id), _) => id,
                    (None, Some(t)) => t.rsplit('/').next().unwrap_or_default().to_owned(),
                    (None, None) => m.env.clone().unwrap_or_default(),
                };
                let target = match (&target, &m.env) {
                    (Some(t), _) => Some(t.clone()),
                    (None, Some(_)) => None,
                    (None, None) => Some(format!("/run/secrets/{id}")),
                };
                let source = secrets.get(&id).cloned();
                if source.is_none() && m.required {
                    return Err(ExecError::SecretMissing { id }.into());
                }
                let mode = m.mode.unwrap_or(0o400);
                let owner = (m.uid.unwrap_or(0), m.gid.unwrap_or(0));
                let d = format!(
                    "secret:{id}:{}:{}:{mode:o}:{}:{}:{}",
                    target.as_deref().unwrap_or_default(),
                    m.env.as_deref().unwrap_or_default(),
                    owner.0,
                    owner.1,
                    m.required
                );
                (
                    PreparedMount::Secret {
                        id,
                        target,
                        env: m.env.clone(),
                        mode,
                        owner,
                        source,
                    },
                    d,
                )
            }
            MountType::Ssh => {
                let id = m.id.clone().unwrap_or_else(|| "default".to_owned());
                if m.mode.is_some() || m.uid.is_some() || m.gid.is_some() {
                    return Err(ExecError::UnsupportedMountOption {
                        option: "mode/uid/gid on type=ssh",
                    }
                    .into());
                }
                let target =
                    target.unwrap_or_else(|| format!("/run/buildkit/ssh_agent.{ssh_count}"));
                let socket = ssh.get(&id).cloned();
                if socket.is_none() && m.required {
                    return Err(ExecError::SshMissing { id }.into());
                }
                let first = ssh_count == 0;
                ssh_count += 1;
                let d = format!("ssh:{id}:{target}:{}", m.required);
                (
                    PreparedMount::Ssh {
                        target,
                        socket,
                        first,
                    },
                    d,
                )
            }
        };
        mounts.push(mount);
        descriptions.push(description);
    }
    Ok((mounts, descriptions))
}

/// The checksum of what `source` selects in the context.
fn context_checksum(context: &Context, source: &str) -> Result<Digest> {
    let selection = context.select(source, &[])?;
    if selection.roots.is_empty() {
        return Err(ExecError::NoMatch {
            pattern: source.to_owned(),
        }
        .into());
    }
    Ok(context.checksum(&selection)?)
}

/// The mounts of one run, set up; dropping it unmounts and unlocks.
#[derive(Debug, Default)]
pub(crate) struct StepMounts {
    /// The bundle's entries for the mounts, parents first.
    pub bundle: Vec<BundleMount>,
    /// `KEY=value` entries the process gets besides its own (secrets as env, `SSH_AUTH_SOCK`).
    pub env: Vec<String>,
    host_mounts: Vec<PathBuf>,
    _locks: Vec<File>,
}

impl Drop for StepMounts {
    fn drop(&mut self) {
        for path in self.host_mounts.iter().rev() {
            // Detached if busy: the directory is removed with the step's scratch dir after.
            let _ = unmount(path, UnmountFlags::DETACH);
        }
    }
}

/// Sets up `mounts` for a run, using the directory `dir` (empty, removed after the run).
pub(crate) fn setup_mounts(
    mounts: &[PreparedMount],
    store: &Store,
    inputs: &dyn MountInputs,
    dir: &Path,
) -> Result<StepMounts> {
    let mut out = StepMounts::default();
    let mut secrets_dir: Option<PathBuf> = None;
    let mut entries: Vec<BundleMount> = Vec::new();
    for (n, mount) in mounts.iter().enumerate() {
        let own = dir.join(format!("m{n}"));
        match mount {
            PreparedMount::Bind {
                target,
                origin,
                source,
                readonly,
            } => {
                let host = bind_source(inputs, origin, source, *readonly, &own)?;
                entries.push(bind(&host, target, *readonly));
            }
            PreparedMount::Cache {
                target,
                id,
                sharing,
                mode,
                owner,
                readonly,
                seed,
                subpath,
            } => {
                let mut host = cache_dir(
                    store, inputs, id, *sharing, *mode, *owner, seed, &own, &mut out,
                )?;
                if let Some(sub) = subpath {
                    host = cache_subdir(&host, sub)?;
                }
                entries.push(bind(&host, target, *readonly));
            }
            PreparedMount::Tmpfs { target, size } => {
                let mut options = vec!["nosuid".to_owned(), "nodev".to_owned()];
                if let Some(size) = size {
                    options.push(format!("size={size}"));
                }
                entries.push(BundleMount {
                    destination: target.clone(),
                    kind: "tmpfs".to_owned(),
                    source: PathBuf::from("tmpfs"),
                    options,
                });
            }
            PreparedMount::Secret {
                id,
                target,
                env,
                mode,
                owner,
                source,
            } => {
                let Some(source) = source else { continue };
                let value = source.read(id)?;
                if let Some(name) = env {
                    let text = String::from_utf8(value.clone())
                        .map_err(|_| ExecError::SecretNotUtf8 { id: id.clone() })?;
                    out.env.push(format!("{name}={text}"));
                }
                if let Some(target) = target {
                    let secrets = match &secrets_dir {
                        Some(d) => d.clone(),
                        None => {
                            let d = dir.join("secrets");
                            mount_tmpfs(&d)?;
                            out.host_mounts.push(d.clone());
                            secrets_dir = Some(d.clone());
                            d
                        }
                    };
                    let file = secrets.join(format!("s{n}"));
                    write_private(&file, &value, *mode, *owner)?;
                    entries.push(bind(&file, target, true));
                }
            }
            PreparedMount::Ssh {
                target,
                socket,
                first,
            } => {
                let Some(socket) = socket else { continue };
                entries.push(bind(socket, target, false));
                if *first {
                    out.env.push(format!("SSH_AUTH_SOCK={target}"));
                }
            }
        }
    }
    entries.sort_by_key(|m| image_components(&m.destination).len());
    out.bundle = entries;
    Ok(out)
}

fn bind(source: &Path, target: &str, readonly: bool) -> BundleMount {
    if readonly {
        return BundleMount::bind_readonly(source, target);
    }
    BundleMount {
        destination: target.to_owned(),
        kind: "bind".to_owned(),
        source: source.to_owned(),
        options: ["rbind", "rw", "nosuid", "nodev"]
            .iter()
            .map(|o| (*o).to_owned())
            .collect(),
    }
}

/// The host path a bind mount shows: a stage's own files when read-only, else a private copy
/// (and always a copy of the context, which honours `.dockerignore`).
fn bind_source(
    inputs: &dyn MountInputs,
    origin: &MountOrigin,
    source: &str,
    readonly: bool,
    own: &Path,
) -> Result<PathBuf> {
    let stage_tree;
    let image;
    let context = match origin {
        MountOrigin::Context => inputs.context(),
        MountOrigin::Image(reference) => {
            image = inputs.open_image(reference)?;
            image.origin().context()
        }
        MountOrigin::Stage(index) => {
            let rootfs = inputs.stage_rootfs(*index)?;
            stage_tree = Context::open_tree(&rootfs)?;
            if readonly {
                let selection = stage_tree.select(source, &[])?;
                let root = selection.roots.first().ok_or_else(|| ExecError::NoMatch {
                    pattern: source.to_owned(),
                })?;
                return Ok(rootfs.join(&root.resolved_path));
            }
            &stage_tree
        }
    };
    copy_selection(context, source, own)
}

/// Copies what `source` selects in `context` into the new directory `into`; returns the path
/// of the copy (the directory, or the file inside it).
fn copy_selection(context: &Context, source: &str, into: &Path) -> Result<PathBuf> {
    let empty = into.with_extension("empty");
    for d in [into, &empty] {
        std::fs::create_dir_all(d).map_err(ExecError::io("create directory", d))?;
    }
    let spec = CopySpec {
        sources: vec![source.to_owned()],
        inline: Vec::new(),
        dest: "/".to_owned(),
        chown: None,
        chmod: None,
        link: false,
        excludes: Vec::new(),
    };
    let prepared = PreparedCopy::new(&spec, CopyOrigin::Context(context), "/", false)?;
    let file_name = context
        .select(source, &[])?
        .roots
        .first()
        .filter(|r| !r.entry.is_dir())
        .and_then(|r| image_components(&r.matched_path).pop());
    let mut diff = DiffDir::new(into.to_owned(), empty);
    prepared.write(&mut diff)?;
    diff.finish()?;
    Ok(match file_name {
        Some(name) => into.join(name),
        None => into.to_owned(),
    })
}

/// The directory of a cache mount, locked as `sharing` says for as long as `out` lives.
#[allow(clippy::too_many_arguments)]
fn cache_dir(
    store: &Store,
    inputs: &dyn MountInputs,
    id: &str,
    sharing: Sharing,
    mode: u32,
    owner: (u32, u32),
    seed: &Option<(MountOrigin, String)>,
    own: &Path,
    out: &mut StepMounts,
) -> Result<PathBuf> {
    let root = store.root().join("cache-mounts");
    std::fs::create_dir_all(&root).map_err(ExecError::io("create directory", &root))?;
    let name = Digest::sha256_of(id.as_bytes()).encoded().to_owned();
    let dir = root.join(&name);
    let lock_path = root.join(format!("{name}.lock"));
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&lock_path)
        .map_err(ExecError::io("open lock", &lock_path))?;
    let op = match sharing {
        Sharing::Shared => FlockOperation::LockShared,
        Sharing::Locked => FlockOperation::LockExclusive,
        Sharing::Private => FlockOperation::NonBlockingLockExclusive,
    };
    let dir = loop {
        match flock(&lock, op) {
            Ok(()) => break dir,
            Err(rustix::io::Errno::INTR) => continue,
            // A private cache in use: this run gets a fresh one.
            Err(rustix::io::Errno::WOULDBLOCK) => break own.to_owned(),
            Err(e) => return Err(ExecError::io("lock", &lock_path)(e).into()),
        }
    };
    out._locks.push(lock);
    if !dir.exists() {
        let fresh = own.with_extension("new");
        match seed {
            Some((origin, source)) => {
                let context_tree;
                let image;
                let context = match origin {
                    MountOrigin::Context => inputs.context(),
                    MountOrigin::Image(reference) => {
                        image = inputs.open_image(reference)?;
                        image.origin().context()
                    }
                    MountOrigin::Stage(i) => {
                        context_tree = Context::open_tree(&inputs.stage_rootfs(*i)?)?;
                        &context_tree
                    }
                };
                copy_selection(context, source, &fresh)?;
            }
            None => {
                std::fs::create_dir(&fresh).map_err(ExecError::io("create directory", &fresh))?
            }
        }
        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(mode))
            .map_err(ExecError::io("chmod", &fresh))?;
        std::os::unix::fs::chown(&fresh, Some(owner.0), Some(owner.1))
            .map_err(ExecError::io("chown", &fresh))?;
        // Another build may have made it meanwhile (shared): theirs is kept.
        if std::fs::rename(&fresh, &dir).is_err() && !dir.exists() {
            return Err(
                ExecError::io("create directory", &dir)(std::io::Error::other("rename failed"))
                    .into(),
            );
        }
    }
    Ok(dir)
}

/// The directory `sub` inside the cache directory `root`, created when missing; a symlink or
/// `..` on the way is an error (it could lead out of the cache).
fn cache_subdir(root: &Path, sub: &str) -> Result<PathBuf> {
    let escapes = || ExecError::CacheSourceEscapes {
        path: sub.to_owned(),
    };
    if sub.split('/').any(|c| c == "..") {
        return Err(escapes().into());
    }
    let mut path = root.to_owned();
    for part in image_components(sub) {
        path.push(part);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(escapes().into()),
            Err(_) => {
                std::fs::create_dir(&path).map_err(ExecError::io("create directory", &path))?
            }
        }
    }
    Ok(path)
}

/// Mounts an empty tmpfs (mode 0700) at the new directory `dir`, so secrets never touch a disk.
fn mount_tmpfs(dir: &Path) -> Result<(), ExecError> {
    std::fs::create_dir(dir).map_err(ExecError::io("create directory", dir))?;
    mount(
        "tmpfs",
        dir,
        "tmpfs",
        MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
        Some(c"mode=0700,size=16m"),
    )
    .map_err(|e| ExecError::io("mount a tmpfs on", dir)(std::io::Error::from(e)))
}

fn write_private(path: &Path, value: &[u8], mode: u32, owner: (u32, u32)) -> Result<(), ExecError> {
    std::fs::write(path, value).map_err(ExecError::io("write", path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(ExecError::io("chmod", path))?;
    std::os::unix::fs::chown(path, Some(owner.0), Some(owner.1))
        .map_err(ExecError::io("chown", path))
}

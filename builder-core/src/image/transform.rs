//! Config transformations, one per instruction: each takes a config and returns the next one.
//!
//! The rules are BuildKit's (`frontend/dockerfile/dockerfile2llb/convert.go`, `dispatch*`):
//! - `ENV` replaces an existing key in place, else appends (`addEnv`).
//! - `CMD` sets `ArgsEscaped` (`dispatchCmd`).
//! - `ENTRYPOINT` resets `Cmd` to null unless a `CMD` was set earlier in the same stage
//!   (`dispatchEntrypoint`: `if !d.cmd.IsSet { d.image.Config.Cmd = nil }`), so an inherited
//!   `CMD` is dropped but `CMD` then `ENTRYPOINT` in one stage keeps both. The executor tracks
//!   "set in this stage" and passes it in.
//! - `ENTRYPOINT []` / `CMD []` store an empty list, which is not written (Go's `omitempty`
//!   drops empty slices): the image then has no entrypoint / command, as with BuildKit.
//! - `WORKDIR` joins a relative path to the current one and cleans it (Go's `path.Join`); an
//!   absolute path is kept as written (`system.NormalizeWorkdir`).

use super::ImageError;
use super::config::{Empty, Healthcheck, History, ImageConfig};
use super::history::HISTORY_COMMENT;
use super::ports::parse_port_spec;
use crate::instructions::{self, CommandLine};
use registry_client::{Digest, Platform};

/// BuildKit's default `PATH` for Linux images (`system.DefaultPathEnvUnix`).
pub const DEFAULT_PATH_ENV: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The shell for shell-form commands when the image sets no `SHELL`.
pub fn default_shell(os: &str) -> Vec<String> {
    let shell: &[&str] = if os == "windows" {
        &["cmd", "/S", "/C"]
    } else {
        &["/bin/sh", "-c"]
    };
    shell.iter().map(|s| (*s).to_owned()).collect()
}

/// The new working directory for `WORKDIR wd` when the current one is `current`.
pub fn normalize_workdir(current: &str, wd: &str) -> String {
    let parent = match current {
        "" => "/".to_owned(),
        p if p.starts_with('/') => p.to_owned(),
        p => go_path_clean(&format!("/{p}")),
    };
    match wd {
        "" => parent,
        w if w.starts_with('/') => w.to_owned(),
        w => go_path_clean(&format!("{parent}/{w}")),
    }
}

/// Go's `path.Clean` for absolute paths: no `.`, `..` or repeated slashes; no trailing slash.
fn go_path_clean(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            _ => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

impl ImageConfig {
    /// An empty config for `platform`, as `FROM scratch` starts.
    pub fn scratch(platform: &Platform) -> Self {
        Self::default().with_platform(platform)
    }

    /// Sets architecture, OS, variant, OS version and features.
    #[must_use]
    pub fn with_platform(mut self, platform: &Platform) -> Self {
        self.architecture = platform.architecture.clone();
        self.os = platform.os.clone();
        self.variant = platform.variant.clone().unwrap_or_default();
        self.os_version = platform.os_version.clone().unwrap_or_default();
        self.os_features = platform.os_features.clone().unwrap_or_default();
        self
    }

    /// Drops the fields this type does not know, at the top level and in `config`, as BuildKit
    /// does when it builds on a base image (its Go types have no catch-all): a derived image
    /// should not carry the base's `container_config` or `docker_version`.
    #[must_use]
    pub fn without_unknown_fields(mut self) -> Self {
        self.extra.clear();
        self.config.extra.clear();
        self
    }

    /// Sets `created` (an RFC 3339 timestamp, written as given).
    #[must_use]
    pub fn with_created(mut self, created: Option<String>) -> Self {
        self.created = created;
        self
    }

    /// The value of `key` in `Env`, if set.
    pub fn env(&self, key: &str) -> Option<&str> {
        self.config.env.iter().find_map(|e| {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            (k == key).then_some(v)
        })
    }

    /// `ENV key=value`: replaces the existing entry in place, else appends.
    #[must_use]
    pub fn with_env(mut self, key: &str, value: &str) -> Self {
        let entry = format!("{key}={value}");
        let existing = self.config.env.iter_mut().find(|e| {
            let k = e.split_once('=').map_or(e.as_str(), |(k, _)| k);
            k == key
        });
        match existing {
            Some(e) => *e = entry,
            None => self.config.env.push(entry),
        }
        self
    }

    /// Adds `PATH` with BuildKit's default when `Env` has none (not for Windows images).
    #[must_use]
    pub fn with_default_path_env(self) -> Self {
        if self.os == "windows" || self.env("PATH").is_some() {
            return self;
        }
        let mut out = self;
        out.config.env.push(format!("PATH={DEFAULT_PATH_ENV}"));
        out
    }

    /// `LABEL key=value`.
    #[must_use]
    pub fn with_label(mut self, key: &str, value: &str) -> Self {
        self.config.labels.insert(key.to_owned(), value.to_owned());
        self
    }

    /// `USER user[:group]`.
    #[must_use]
    pub fn with_user(mut self, user: &str) -> Self {
        self.config.user = user.to_owned();
        self
    }

    /// `WORKDIR path`, relative paths resolved against the current `WorkingDir`.
    #[must_use]
    pub fn with_workdir(mut self, path: &str) -> Self {
        self.config.working_dir = normalize_workdir(&self.config.working_dir, path);
        self
    }

    /// `EXPOSE spec`: adds each `port/proto` of one port spec.
    pub fn with_exposed_port(mut self, spec: &str) -> Result<Self, ImageError> {
        for port in parse_port_spec(spec)? {
            self.config.exposed_ports.insert(port, Empty {});
        }
        Ok(self)
    }

    /// `VOLUME path`.
    pub fn with_volume(mut self, path: &str) -> Result<Self, ImageError> {
        if path.is_empty() {
            return Err(ImageError::EmptyVolume);
        }
        self.config.volumes.insert(path.to_owned(), Empty {});
        Ok(self)
    }

    /// The argument vector of a command: exec form as is, shell form through the image's
    /// `SHELL` (or the OS default), as BuildKit's `withShell`.
    pub fn command_args(&self, command: &CommandLine) -> Vec<String> {
        match command {
            CommandLine::Exec(args) => args.clone(),
            CommandLine::Shell(text) => self.shell_args(text),
        }
    }

    /// `text` run through the image's shell: `["/bin/sh", "-c", text]` by default.
    pub fn shell_args(&self, text: &str) -> Vec<String> {
        let mut args = if self.config.shell.is_empty() {
            default_shell(&self.os)
        } else {
            self.config.shell.clone()
        };
        args.push(text.to_owned());
        args
    }

    /// `CMD`: sets `Cmd` and `ArgsEscaped`, as BuildKit does.
    #[must_use]
    pub fn with_cmd(mut self, args: Vec<String>) -> Self {
        self.config.cmd = Some(args);
        self.config.args_escaped = true;
        self
    }

    /// `ENTRYPOINT`: sets `Entrypoint`; resets `Cmd` to null unless `cmd_set_in_stage`.
    #[must_use]
    pub fn with_entrypoint(mut self, args: Vec<String>, cmd_set_in_stage: bool) -> Self {
        self.config.entrypoint = Some(args);
        if !cmd_set_in_stage {
            self.config.cmd = None;
        }
        self
    }

    /// `SHELL`.
    #[must_use]
    pub fn with_shell(mut self, shell: Vec<String>) -> Self {
        self.config.shell = shell;
        self
    }

    /// `STOPSIGNAL`: a signal name (`SIGTERM`, `TERM`, `SIGRTMIN+3`) or number.
    pub fn with_stop_signal(mut self, signal: &str) -> Result<Self, ImageError> {
        if !is_valid_signal(signal) {
            return Err(ImageError::InvalidSignal {
                signal: signal.to_owned(),
            });
        }
        self.config.stop_signal = signal.to_owned();
        Ok(self)
    }

    /// `HEALTHCHECK` (replaces any inherited one; `NONE` is `Test: ["NONE"]`).
    #[must_use]
    pub fn with_healthcheck(mut self, healthcheck: Healthcheck) -> Self {
        self.config.healthcheck = Some(healthcheck);
        self
    }

    /// `ONBUILD`: appends a trigger.
    #[must_use]
    pub fn with_onbuild(mut self, expression: &str) -> Self {
        self.config.on_build.push(expression.to_owned());
        self
    }

    /// Drops the `ONBUILD` triggers (a stage does not inherit its base's triggers).
    #[must_use]
    pub fn without_onbuild(mut self) -> Self {
        self.config.on_build.clear();
        self
    }

    /// `MAINTAINER`: sets `author`.
    #[must_use]
    pub fn with_maintainer(mut self, author: &str) -> Self {
        self.author = author.to_owned();
        self
    }

    /// Appends a history entry with BuildKit's comment.
    #[must_use]
    pub fn with_history(
        mut self,
        created_by: &str,
        empty_layer: bool,
        created: Option<String>,
    ) -> Self {
        self.history.push(History {
            created,
            created_by: created_by.to_owned(),
            author: String::new(),
            comment: HISTORY_COMMENT.to_owned(),
            empty_layer,
        });
        self
    }

    /// Appends a layer's diff_id to `rootfs`.
    #[must_use]
    pub fn with_layer(mut self, diff_id: Digest) -> Self {
        self.rootfs.diff_ids.push(diff_id);
        self
    }
}

impl Healthcheck {
    /// The config value for a `HEALTHCHECK` instruction: shell form becomes `CMD-SHELL`
    /// (no `SHELL` applied), exec form `CMD`, `NONE` `["NONE"]`; unset options are 0.
    pub fn from_instruction(healthcheck: &instructions::Healthcheck) -> Self {
        let check = match healthcheck {
            instructions::Healthcheck::None => {
                return Self {
                    test: vec!["NONE".into()],
                    ..Self::default()
                };
            }
            instructions::Healthcheck::Check(check) => check,
        };
        let test = match &check.command {
            CommandLine::Shell(text) => vec!["CMD-SHELL".to_owned(), text.clone()],
            CommandLine::Exec(args) => std::iter::once("CMD".to_owned())
                .chain(args.iter().cloned())
                .collect(),
        };
        let nanos = |d: Option<std::time::Duration>| {
            d.map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        };
        Self {
            test,
            interval: nanos(check.interval),
            timeout: nanos(check.timeout),
            start_period: nanos(check.start_period),
            start_interval: nanos(check.start_interval),
            retries: check.retries.map_or(0, i64::from),
        }
    }
}

/// Linux signal names as moby's `signal.ParseSignal` accepts them (with or without `SIG`).
const SIGNALS: [&str; 31] = [
    "ABRT", "ALRM", "BUS", "CHLD", "CLD", "CONT", "FPE", "HUP", "ILL", "INT", "IO", "IOT", "KILL",
    "PIPE", "POLL", "PROF", "PWR", "QUIT", "SEGV", "STKFLT", "STOP", "SYS", "TERM", "TRAP", "TSTP",
    "TTIN", "TTOU", "URG", "USR1", "USR2", "VTALRM",
];

/// Whether `signal` names a Linux signal: a number 1-64, a name, or `RTMIN+n`/`RTMAX-n`.
fn is_valid_signal(signal: &str) -> bool {
    if let Ok(n) = signal.parse::<u32>() {
        return (1..=64).contains(&n);
    }
    let upper = signal.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if SIGNALS.contains(&name) || matches!(name, "WINCH" | "XCPU" | "XFSZ" | "RTMIN" | "RTMAX") {
        return true;
    }
    let offset = name
        .strip_prefix("RTMIN+")
        .or_else(|| name.strip_prefix("RTMAX-"))
        .and_then(|n| n.parse::<u32>().ok());
    offset.is_some_and(|n| (1..=15).contains(&n))
}

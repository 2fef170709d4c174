//! Flags -> library options: every check of user input beyond clap's happens here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use builder_core::exec::{Runtime, RuntimeKind};
use builder_core::instructions::NetworkMode;
use builder_core::layer::Compression;
use builder_core::plan::PlanOptions;
use builder_core::platform::Platform;
use builder_core::snapshot::SnapshotterKind;

use crate::args::FrontendArgs;

/// Where the Dockerfile comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DockerfileSource {
    /// Standard input (`-f -`).
    Stdin,
    /// A file.
    Path(PathBuf),
}

impl DockerfileSource {
    /// `-f` as given, relative to the working directory, else `CONTEXT/Dockerfile`.
    pub fn resolve(file: Option<&Path>, context: &Path) -> Self {
        match file {
            Some(p) if p == Path::new("-") => DockerfileSource::Stdin,
            Some(p) => DockerfileSource::Path(p.to_path_buf()),
            None => DockerfileSource::Path(context.join("Dockerfile")),
        }
    }

    /// Reads the Dockerfile, returning the name to report it under and its text.
    pub fn read(&self) -> Result<(String, String)> {
        match self {
            DockerfileSource::Stdin => {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
                    .context("cannot read the Dockerfile from standard input")?;
                Ok(("<stdin>".into(), text))
            }
            DockerfileSource::Path(p) => {
                let bytes = std::fs::read(p)
                    .with_context(|| format!("cannot read Dockerfile {}", p.display()))?;
                let text = String::from_utf8(bytes).map_err(|_| {
                    anyhow::anyhow!("Dockerfile {} is not valid UTF-8", p.display())
                })?;
                Ok((p.display().to_string(), text))
            }
        }
    }
}

/// `--build-arg` values: `NAME=VALUE`, or `NAME` taken from `env` (skipped when unset, as
/// docker does).
pub fn build_args(
    raw: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for arg in raw {
        let (name, value) = match arg.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (arg.as_str(), env(arg)),
        };
        if name.is_empty() {
            bail!("invalid --build-arg {arg:?}: the name is empty (expected NAME=VALUE)");
        }
        if let Some(v) = value {
            out.insert(name.to_string(), v);
        }
    }
    Ok(out)
}

/// `--build-arg-file` lines (podman/buildah's format): `NAME=VALUE` or `NAME`, blank lines and
/// lines starting with `#` skipped.
pub fn build_arg_file_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// Build args from `--build-arg-file` files, then `--build-arg` flags (which win).
fn all_build_args(args: &FrontendArgs) -> Result<BTreeMap<String, String>> {
    let env = |k: &str| std::env::var(k).ok();
    let mut out = BTreeMap::new();
    for file in &args.build_arg_files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("--build-arg-file: cannot read {}", file.display()))?;
        let lines = build_arg_file_lines(&text);
        out.extend(
            build_args(&lines, &env)
                .with_context(|| format!("--build-arg-file {}", file.display()))?,
        );
    }
    out.extend(build_args(&args.build_args, &env)?);
    Ok(out)
}

/// `--label KEY=VALUE` flags.
pub fn labels(raw: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for label in raw {
        match label.split_once('=') {
            Some((key, value)) if !key.is_empty() => {
                out.insert(key.to_string(), value.to_string());
            }
            _ => bail!("invalid --label {label:?} (expected KEY=VALUE)"),
        }
    }
    Ok(out)
}

/// `--network`: `default`, `host` or `none`.
pub fn network(value: &str) -> Result<NetworkMode> {
    match value {
        "default" => Ok(NetworkMode::Default),
        "host" => Ok(NetworkMode::Host),
        "none" => Ok(NetworkMode::None),
        other => bail!(
            "unsupported --network {other:?} (Hoist supports default, host and none; RUN steps \
             never get a bridge network)"
        ),
    }
}

/// The planner's options from the flags `hoist build` and `hoist debug plan` share.
pub fn plan_options(args: &FrontendArgs) -> Result<PlanOptions> {
    let mut options = PlanOptions {
        build_args: all_build_args(args)?,
        target: args.target.clone(),
        ..PlanOptions::default()
    };
    if let Some(p) = &args.platform {
        options.target_platform =
            Platform::parse(p).map_err(|e| anyhow::anyhow!("--platform: {e}"))?;
    }
    for entitlement in &args.allow {
        match entitlement.as_str() {
            "security.insecure" => options.allow_insecure = true,
            "network.host" => {}
            other => bail!(
                "unknown entitlement {other:?} for --allow (known: security.insecure, network.host)"
            ),
        }
    }
    Ok(options)
}

/// `--runtime` (or `HOIST_RUNTIME`): `runc` or `crun`.
pub fn runtime(value: &str) -> Result<Runtime> {
    match value {
        "runc" => Ok(Runtime::from_kind(RuntimeKind::Runc)),
        "crun" => Ok(Runtime::from_kind(RuntimeKind::Crun)),
        _ => bail!("unknown --runtime {value:?} (expected runc or crun)"),
    }
}

/// `--snapshotter`: `auto`, `overlay` or `naive`.
pub fn snapshotter(value: &str) -> Result<SnapshotterKind> {
    match value {
        "auto" => Ok(SnapshotterKind::Auto),
        "overlay" => Ok(SnapshotterKind::Overlay),
        "naive" => Ok(SnapshotterKind::Naive),
        _ => bail!("unknown --snapshotter {value:?} (expected auto, overlay or naive)"),
    }
}

/// `--compression`: `gzip[:0-9]`, `zstd[:1-22]` or `none`.
pub fn compression(value: &str) -> Result<Compression> {
    let (name, level) = match value.split_once(':') {
        Some((n, l)) => (n, Some(l)),
        None => (value, None),
    };
    let bad_level = || anyhow::anyhow!("invalid --compression level in {value:?}");
    Ok(match (name, level) {
        ("none", None) => Compression::None,
        ("gzip", None) => Compression::gzip(),
        ("gzip", Some(l)) => match l.parse() {
            Ok(level) if level <= 9 => Compression::Gzip { level },
            _ => return Err(bad_level()),
        },
        ("zstd", None) => Compression::zstd(),
        ("zstd", Some(l)) => match l.parse() {
            Ok(level) if (1..=22).contains(&level) => Compression::Zstd { level },
            _ => return Err(bad_level()),
        },
        _ => bail!("unknown --compression {value:?} (expected gzip[:LEVEL], zstd[:LEVEL] or none)"),
    })
}

/// `SOURCE_DATE_EPOCH` (unset or empty: none).
pub fn source_date_epoch(value: Option<String>) -> Result<Option<i64>> {
    match value.as_deref() {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .with_context(|| format!("invalid SOURCE_DATE_EPOCH {v:?}: expected seconds")),
    }
}

/// The store root: `$HOIST_ROOT`, else `$XDG_DATA_HOME/hoist`, else `~/.local/share/hoist`.
pub fn store_root(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty());
    if let Some(root) = set("HOIST_ROOT") {
        return Ok(PathBuf::from(root));
    }
    if let Some(data) = set("XDG_DATA_HOME") {
        return Ok(Path::new(&data).join("hoist"));
    }
    match set("HOME") {
        Some(home) => Ok(Path::new(&home).join(".local/share/hoist")),
        None => bail!("cannot find the store: set HOIST_ROOT (or XDG_DATA_HOME or HOME)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_arg_files_labels_and_networks() {
        let lines = build_arg_file_lines("# comment\n\nA=1\n  B = 2 \n#C=3\nD\n");
        assert_eq!(lines, vec!["A=1", "B = 2", "D"]);
        let got = labels(&["a=1".into(), "b=x=y".into(), "c=".into()]).unwrap();
        assert_eq!(got.get("b").map(String::as_str), Some("x=y"));
        assert_eq!(got.get("c").map(String::as_str), Some(""));
        assert!(labels(&["novalue".into()]).is_err());
        assert!(labels(&["=v".into()]).is_err());
        assert_eq!(network("none").unwrap(), NetworkMode::None);
        assert_eq!(network("host").unwrap(), NetworkMode::Host);
        assert_eq!(network("default").unwrap(), NetworkMode::Default);
        assert!(
            network("bridge")
                .unwrap_err()
                .to_string()
                .contains("--network")
        );
    }

    #[test]
    fn build_args_from_flags_and_environment() {
        let env = |k: &str| (k == "FROM_ENV").then(|| "e".to_string());
        let raw: Vec<String> = ["A=1", "B=", "C=x=y", "FROM_ENV", "UNSET"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let args = build_args(&raw, &env).unwrap();
        let got: Vec<(&str, &str)> = args.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            got,
            vec![("A", "1"), ("B", ""), ("C", "x=y"), ("FROM_ENV", "e")]
        );
        assert!(build_args(&["=v".to_string()], &env).is_err());
    }

    #[test]
    fn compression_values() {
        assert_eq!(compression("none").unwrap(), Compression::None);
        assert_eq!(
            compression("gzip:1").unwrap(),
            Compression::Gzip { level: 1 }
        );
        assert_eq!(
            compression("zstd:19").unwrap(),
            Compression::Zstd { level: 19 }
        );
        assert!(compression("zstd:0").is_err());
        assert!(compression("brotli").is_err());
    }

    #[test]
    fn store_root_order() {
        let env = |k: &str| (k == "XDG_DATA_HOME").then(|| "/x".to_string());
        assert_eq!(store_root(&env).unwrap(), PathBuf::from("/x/hoist"));
        let env = |k: &str| (k == "HOME").then(|| "/h".to_string());
        assert_eq!(
            store_root(&env).unwrap(),
            PathBuf::from("/h/.local/share/hoist")
        );
        assert_eq!(source_date_epoch(Some("0".into())).unwrap(), Some(0));
        assert!(source_date_epoch(Some("x".into())).is_err());
    }
}

//! Flags -> library options: every check of user input beyond clap's happens here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use builder_core::plan::PlanOptions;
use builder_core::platform::Platform;

use crate::args::PlanArgs;

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

/// The planner's options from `hoist debug plan`'s flags.
pub fn plan_options(args: &PlanArgs) -> Result<PlanOptions> {
    let mut options = PlanOptions {
        build_args: build_args(&args.build_args, &|k| std::env::var(k).ok())?,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! Variable scopes: the global ARG scope, a stage's ENV and ARGs, build-arg bookkeeping.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::instructions::ArgDecl;
use crate::shell::{Env, Lexer};

use super::PlanOptions;

/// Build args Docker defines without an `ARG` line; passed to `RUN` only, never recorded.
pub const PROXY_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// ARGs set automatically in the global scope (and in a stage that declares them).
pub const PLATFORM_ARGS: &[&str] = &[
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// Build args that configure the builder itself and need no `ARG` to count as used.
const BUILDER_ARGS: &[&str] = &["SOURCE_DATE_EPOCH"];

/// The values of the automatic ARGs for these options and target stage.
pub(crate) fn automatic_args(
    options: &PlanOptions,
    target_stage: Option<&str>,
) -> BTreeMap<String, String> {
    let t = &options.target_platform;
    let b = &options.build_platform;
    let mut args = BTreeMap::new();
    for (prefix, p) in [("TARGET", t), ("BUILD", b)] {
        args.insert(format!("{prefix}PLATFORM"), p.to_string());
        args.insert(format!("{prefix}OS"), p.os.clone());
        args.insert(format!("{prefix}ARCH"), p.architecture.clone());
        args.insert(
            format!("{prefix}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        );
    }
    args.insert(
        "TARGETSTAGE".to_string(),
        target_stage.unwrap_or_default().to_string(),
    );
    args
}

/// `--build-arg` values, remembering which ones an `ARG` consumed.
#[derive(Debug)]
pub(crate) struct BuildArgs<'a> {
    values: &'a BTreeMap<String, String>,
    used: BTreeSet<String>,
}

impl<'a> BuildArgs<'a> {
    pub(crate) fn new(values: &'a BTreeMap<String, String>) -> Self {
        BuildArgs {
            values,
            used: BTreeSet::new(),
        }
    }

    /// The value given for `name`, marking it used.
    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        let value = self.values.get(name).cloned();
        if value.is_some() {
            self.used.insert(name.to_string());
        }
        value
    }

    /// The proxy args that were given, in a stable order.
    pub(crate) fn proxy_env(&self) -> Vec<(String, String)> {
        PROXY_ARGS
            .iter()
            .filter_map(|k| self.values.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect()
    }

    /// Build args nothing consumed (predefined ones excepted).
    pub(crate) fn unused(&self) -> Vec<String> {
        self.values
            .keys()
            .filter(|k| !self.used.contains(*k))
            .filter(|k| {
                !PROXY_ARGS.contains(&k.as_str())
                    && !BUILDER_ARGS.contains(&k.as_str())
                    && !k.starts_with("BUILDKIT_")
            })
            .cloned()
            .collect()
    }
}

/// Variables visible to expansion at one point of a stage: `ENV` (shadowing) over `ARG`s.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    /// The image environment: the base's, then `ENV` lines.
    pub env: Vec<(String, String)>,
    /// ARGs in scope with a value, in declaration order.
    pub args: Vec<(String, String)>,
}

impl Env for Scope {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.env.as_slice(), name).or_else(|| Env::get(self.args.as_slice(), name))
    }
}

impl Scope {
    /// Sets (or replaces) an environment variable.
    pub(crate) fn set_env(&mut self, key: String, value: String) {
        set(&mut self.env, key, value);
    }

    /// Sets (or replaces) an ARG.
    pub(crate) fn set_arg(&mut self, key: String, value: String) {
        set(&mut self.args, key, value);
    }

    /// Removes an ARG (declared without a value and nothing to inherit).
    pub(crate) fn unset_arg(&mut self, key: &str) {
        self.args.retain(|(k, _)| k != key);
    }

    /// Declares one `ARG` and returns the declaration with its resolved value:
    /// `--build-arg`, else the expanded default, else the global value of the same name.
    pub(crate) fn declare(
        &mut self,
        decl: &ArgDecl,
        lexer: &Lexer,
        build_args: &mut BuildArgs<'_>,
        inherited: &dyn Fn(&str) -> Option<String>,
    ) -> Result<ArgDecl> {
        let given = build_args.take(&decl.name);
        let value = match (given, &decl.default) {
            (Some(v), _) => Some(v),
            (None, Some(default)) => Some(lexer.process_word(default, self).map_err(Error::new)?),
            (None, None) => inherited(&decl.name),
        };
        match &value {
            Some(v) => self.set_arg(decl.name.clone(), v.clone()),
            None => self.unset_arg(&decl.name),
        }
        Ok(ArgDecl {
            name: decl.name.clone(),
            default: value,
        })
    }
}

fn set(list: &mut Vec<(String, String)>, key: String, value: String) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some(entry) => entry.1 = value,
        None => list.push((key, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_shadows_args() {
        let mut s = Scope::default();
        s.set_arg("A".into(), "arg".into());
        assert_eq!(s.get("A"), Some("arg"));
        s.set_env("A".into(), "env".into());
        assert_eq!(s.get("A"), Some("env"));
        s.set_arg("A".into(), "arg2".into());
        assert_eq!(s.get("A"), Some("env"));
    }

    #[test]
    fn unused_build_args_skip_predefined() {
        let values: BTreeMap<String, String> = [
            ("FOO", "1"),
            ("HTTP_PROXY", "x"),
            ("SOURCE_DATE_EPOCH", "0"),
            ("USED", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut b = BuildArgs::new(&values);
        assert_eq!(b.take("USED").as_deref(), Some("2"));
        assert_eq!(b.unused(), vec!["FOO".to_string()]);
        assert_eq!(b.proxy_env(), vec![("HTTP_PROXY".into(), "x".into())]);
    }
}

//! Credentials from Docker's `config.json`, podman's `auth.json` and `docker-credential-*`
//! helper programs, and from explicit options.
//!
//! Design note: the environment (`DOCKER_CONFIG`, `HOME`, `REGISTRY_AUTH_FILE`, `PATH`) is read
//! once into a [`KeychainEnv`] value and passed in, so tests point a keychain at temp files and a
//! helper directory without touching the process environment.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Deserialize;

use super::helper::DOCKER_HUB_KEY;
use super::{Credential, CredentialHelper, Keychain};
use crate::error::{Error, ErrorKind, Result};
use crate::reference::DOCKER_HUB;

/// The environment a [`DockerKeychain`] looks in.
#[derive(Debug, Clone, Default)]
pub struct KeychainEnv {
    /// `$DOCKER_CONFIG` (a directory holding `config.json`).
    pub docker_config: Option<PathBuf>,
    /// `$HOME`.
    pub home: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE` (podman/skopeo's auth file).
    pub registry_auth_file: Option<PathBuf>,
    /// `$XDG_RUNTIME_DIR` (podman keeps `containers/auth.json` there).
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `$PATH`, searched for credential helpers.
    pub path: Option<OsString>,
}

impl KeychainEnv {
    /// Reads the variables from this process's environment (reads only).
    pub fn from_process() -> Self {
        let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        Self {
            docker_config: var("DOCKER_CONFIG").map(PathBuf::from),
            home: var("HOME").map(PathBuf::from),
            registry_auth_file: var("REGISTRY_AUTH_FILE").map(PathBuf::from),
            xdg_runtime_dir: var("XDG_RUNTIME_DIR").map(PathBuf::from),
            path: var("PATH"),
        }
    }
}

/// Reads credentials from auth files and credential helpers, in order.
#[derive(Debug, Clone, Default)]
pub struct DockerKeychain {
    files: Vec<PathBuf>,
    helper_dirs: Vec<PathBuf>,
}

impl DockerKeychain {
    /// A keychain with no files and no helper directories.
    pub fn new() -> Self {
        Self::default()
    }

    /// The usual files for `env`, first match wins: `$REGISTRY_AUTH_FILE`,
    /// `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`, then podman's
    /// `$XDG_RUNTIME_DIR/containers/auth.json` and `~/.config/containers/auth.json`.
    /// Helpers are searched on `env.path`.
    pub fn from_env(env: &KeychainEnv) -> Self {
        let mut files = Vec::new();
        files.extend(env.registry_auth_file.clone());
        match (&env.docker_config, &env.home) {
            (Some(dir), _) => files.push(dir.join("config.json")),
            (None, Some(home)) => files.push(home.join(".docker").join("config.json")),
            (None, None) => {}
        }
        if let Some(run) = &env.xdg_runtime_dir {
            files.push(run.join("containers").join("auth.json"));
        }
        if let Some(home) = &env.home {
            files.push(home.join(".config").join("containers").join("auth.json"));
        }
        let helper_dirs = env
            .path
            .as_ref()
            .map(|p| std::env::split_paths(p).collect())
            .unwrap_or_default();
        Self { files, helper_dirs }
    }

    /// Adds an auth file (config.json or auth.json format) after the existing ones.
    pub fn with_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.files.push(path.into());
        self
    }

    /// Sets the directories searched for `docker-credential-<name>` programs.
    pub fn helper_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.helper_dirs = dirs;
        self
    }

    /// The directories searched for credential helpers.
    pub fn helper_path(&self) -> &[PathBuf] {
        &self.helper_dirs
    }

    /// The files consulted, in order.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    fn lookup_file(&self, path: &Path, registry: &str) -> Result<Option<Credential>> {
        let text = match std::fs::read(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(credentials_error(path, e)),
        };
        let file: AuthFile =
            serde_json::from_slice(&text).map_err(|e| credentials_error(path, e))?;
        if let Some(helper) = find_entry(&file.cred_helpers, registry)
            && let Some(c) = self.run_helper(helper, registry)?
        {
            return Ok(Some(c));
        }
        if let Some(entry) = find_entry(&file.auths, registry)
            && let Some(c) = entry.credential().map_err(|e| credentials_error(path, e))?
        {
            return Ok(Some(c));
        }
        match &file.creds_store {
            Some(store) if !store.is_empty() => self.run_helper(store, registry),
            _ => Ok(None),
        }
    }

    fn run_helper(&self, name: &str, registry: &str) -> Result<Option<Credential>> {
        CredentialHelper::find(name, &self.helper_dirs)
            .map_err(|e| e.with_registry(registry))?
            .get(registry)
    }
}

impl Keychain for DockerKeychain {
    fn credential(&self, registry: &str) -> Result<Option<Credential>> {
        for file in &self.files {
            if let Some(c) = self.lookup_file(file, registry)? {
                return Ok(Some(c));
            }
        }
        Ok(None)
    }
}

fn credentials_error(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::Credentials)
        .with_source(std::io::Error::other(format!("{}: {e}", path.display())))
}

/// Docker's `ConvertToHostname`: `https://host/v1/` -> `host`.
fn key_hostname(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    rest.split('/').next().unwrap_or(rest)
}

fn key_matches(key: &str, registry: &str) -> bool {
    let host = key_hostname(key);
    if registry == DOCKER_HUB {
        matches!(
            host,
            "docker.io" | "index.docker.io" | "registry-1.docker.io"
        )
    } else {
        host == registry
    }
}

fn find_entry<'a, V>(map: &'a BTreeMap<String, V>, registry: &str) -> Option<&'a V> {
    let exact = if registry == DOCKER_HUB {
        DOCKER_HUB_KEY
    } else {
        registry
    };
    map.get(exact).or_else(|| {
        map.iter()
            .find(|(k, _)| key_matches(k, registry))
            .map(|(_, v)| v)
    })
}

#[derive(Deserialize, Default)]
struct AuthFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

impl fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthEntry")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the `auth` field is not base64 of `user:password`")]
struct BadAuthField;

impl AuthEntry {
    fn credential(&self) -> Result<Option<Credential>, BadAuthField> {
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        if let Some(t) = non_empty(&self.identitytoken) {
            return Ok(Some(Credential::IdentityToken(t)));
        }
        if let Some(t) = non_empty(&self.registrytoken) {
            return Ok(Some(Credential::RegistryToken(t)));
        }
        if let Some(auth) = non_empty(&self.auth) {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| BadAuthField)?;
            let text = String::from_utf8(raw).map_err(|_| BadAuthField)?;
            let (user, pass) = text.split_once(':').ok_or(BadAuthField)?;
            return Ok(Some(Credential::basic(user, pass)));
        }
        match (non_empty(&self.username), non_empty(&self.password)) {
            (Some(u), Some(p)) => Ok(Some(Credential::basic(u, p))),
            _ => Ok(None),
        }
    }
}

/// Credentials given explicitly, by registry (`docker.io`, `localhost:5000`).
#[derive(Debug, Clone, Default)]
pub struct StaticKeychain {
    entries: BTreeMap<String, Credential>,
}

impl StaticKeychain {
    /// An empty keychain.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the credential for `registry`.
    pub fn with(mut self, registry: impl Into<String>, credential: Credential) -> Self {
        self.entries.insert(registry.into(), credential);
        self
    }
}

impl Keychain for StaticKeychain {
    fn credential(&self, registry: &str) -> Result<Option<Credential>> {
        Ok(self.entries.get(registry).cloned())
    }
}

#[cfg(test)]
#[path = "keychain_tests.rs"]
mod tests;

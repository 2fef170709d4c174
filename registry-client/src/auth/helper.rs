//! [`CredentialHelper`]: a `docker-credential-<name>` program, spoken to with Docker's
//! protocol (docker/docker-credential-helpers): `get` and `erase` read the server URL on
//! standard input, `store` reads `{"ServerURL","Username","Secret"}`; `get` answers
//! `{"ServerURL","Username","Secret"}` (user `<token>` for an identity token); a helper that
//! does not know the server says "credentials not found" and exits non-zero.
//!
//! Design note: secrets travel only through the pipes; the helper's output is never put in an
//! error message (a confused helper might echo what it was given), only its exit status.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::Credential;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::DOCKER_HUB;

/// The key Docker stores Docker Hub's credentials under.
pub(crate) const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A credential helper program.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialHelper {
    program: String,
    path: PathBuf,
}

/// What one run of a helper printed and how it ended.
struct Answer {
    success: bool,
    stdout: Vec<u8>,
    not_found: bool,
}

impl CredentialHelper {
    /// `docker-credential-<name>`, looked for in `dirs` (usually `$PATH`'s).
    pub fn find(name: &str, dirs: &[PathBuf]) -> Result<CredentialHelper> {
        let program = format!("docker-credential-{name}");
        let path = dirs
            .iter()
            .map(|d| d.join(&program))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                failure(
                    None,
                    format!("{program} not found in the credential helper path"),
                )
            })?;
        Ok(CredentialHelper { program, path })
    }

    /// The program's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The server URL helpers key `registry` (as in references) under: Docker Hub's is
    /// `https://index.docker.io/v1/`, as docker writes it; others are the host name.
    pub fn server_url(registry: &str) -> &str {
        if registry == DOCKER_HUB {
            DOCKER_HUB_KEY
        } else {
            registry
        }
    }

    /// The helper's credential for `registry`, `None` when it has none.
    pub fn get(&self, registry: &str) -> Result<Option<Credential>> {
        let answer = self.run("get", Self::server_url(registry).as_bytes(), registry)?;
        if answer.not_found {
            return Ok(None);
        }
        self.check(&answer, "get", registry)?;
        let parsed: HelperAnswer = serde_json::from_slice(&answer.stdout).map_err(|_| {
            failure(
                Some(registry),
                format!("{} get printed no credential JSON", self.program),
            )
        })?;
        Ok(parsed.credential())
    }

    /// Stores `username` and `secret` for `registry`.
    pub fn store(&self, registry: &str, username: &str, secret: &str) -> Result<()> {
        let input = serde_json::json!({
            "ServerURL": Self::server_url(registry),
            "Username": username,
            "Secret": secret,
        });
        let answer = self.run("store", input.to_string().as_bytes(), registry)?;
        self.check(&answer, "store", registry)
    }

    /// Erases the credential for `registry`; `false` when the helper had none.
    pub fn erase(&self, registry: &str) -> Result<bool> {
        let answer = self.run("erase", Self::server_url(registry).as_bytes(), registry)?;
        if answer.not_found {
            return Ok(false);
        }
        self.check(&answer, "erase", registry)?;
        Ok(true)
    }

    fn check(&self, answer: &Answer, action: &str, registry: &str) -> Result<()> {
        if answer.success {
            Ok(())
        } else {
            Err(failure(
                Some(registry),
                format!("{} {action} failed", self.program),
            ))
        }
    }

    fn run(&self, action: &str, input: &[u8], registry: &str) -> Result<Answer> {
        let mut child = Command::new(&self.path)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                failure(
                    Some(registry),
                    format!("could not run {}: {e}", self.program),
                )
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading gives EPIPE: its exit status tells the rest.
            let _ = stdin.write_all(input);
        }
        let out = child.wait_with_output().map_err(|e| {
            failure(
                Some(registry),
                format!("{} {action} failed: {e}", self.program),
            )
        })?;
        let said = |bytes: &[u8]| {
            String::from_utf8_lossy(bytes)
                .to_lowercase()
                .contains("credentials not found")
        };
        Ok(Answer {
            success: out.status.success(),
            not_found: !out.status.success() && (said(&out.stdout) || said(&out.stderr)),
            stdout: out.stdout,
        })
    }
}

fn failure(registry: Option<&str>, message: String) -> Error {
    let e = Error::new(ErrorKind::Credentials).with_source(std::io::Error::other(message));
    match registry {
        Some(r) => e.with_registry(r),
        None => e,
    }
}

/// A credential helper's answer to `get`.
#[derive(Deserialize)]
struct HelperAnswer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

impl HelperAnswer {
    fn credential(self) -> Option<Credential> {
        match (self.username.as_str(), self.secret) {
            (_, s) if s.is_empty() => None,
            ("<token>", s) => Some(Credential::IdentityToken(s)),
            (_, s) => Some(Credential::Basic {
                username: self.username,
                password: s,
            }),
        }
    }
}

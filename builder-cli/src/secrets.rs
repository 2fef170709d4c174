//! `--secret` and `--ssh`: what `RUN --mount=type=secret|ssh` may use. The only place that
//! reads environment variables for secrets (`env=VAR`); the library gets the values.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Result, bail};
use builder_core::exec::SecretSource;

/// `--secret id=ID[,type=file|env][,src=PATH|,env=VAR]`: a file (`src`/`source`), or an
/// environment variable (`env`); with neither, the variable named `ID` if set, else the file
/// named `ID` (as buildx does).
pub fn secrets(
    raw: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, SecretSource>> {
    let mut out = BTreeMap::new();
    for value in raw {
        let (mut id, mut kind, mut src, mut var) = (None, None, None, None);
        for field in value.split(',') {
            let Some((k, v)) = field.split_once('=') else {
                bail!("invalid --secret {value:?}: {field:?} is not KEY=VALUE");
            };
            match k {
                "id" => id = Some(v.to_owned()),
                "type" if v == "file" || v == "env" => kind = Some(v.to_owned()),
                "src" | "source" => src = Some(v.to_owned()),
                "env" => var = Some(v.to_owned()),
                _ => bail!(
                    "invalid --secret {value:?}: unknown key {k:?} (known: id, type=file|env, \
                     src, source, env)"
                ),
            }
        }
        let Some(id) = id.or_else(|| src.clone()).or_else(|| var.clone()) else {
            bail!("invalid --secret {value:?}: id is missing");
        };
        let from_env = |name: &str| match env(name) {
            Some(v) => Ok(SecretSource::Value(v.into_bytes())),
            None => bail!("--secret {id}: environment variable {name} is not set"),
        };
        let source = match (kind.as_deref(), src, var) {
            (Some("env"), Some(name), None) | (_, None, Some(name)) => from_env(&name)?,
            (Some("env"), None, None) => from_env(&id)?,
            (_, Some(path), None) => SecretSource::File(PathBuf::from(path)),
            (_, Some(_), Some(_)) => {
                bail!("invalid --secret {value:?}: give either src or env, not both")
            }
            (_, None, None) => match env(&id) {
                Some(v) if kind.is_none() => SecretSource::Value(v.into_bytes()),
                _ => SecretSource::File(PathBuf::from(&id)),
            },
        };
        if let SecretSource::File(path) = &source
            && !path.is_file()
        {
            bail!("--secret {id}: {} is not a readable file", path.display());
        }
        out.insert(id, source);
    }
    Ok(out)
}

/// `--ssh default|ID[=SOCKET]`: an agent socket; without one, `$SSH_AUTH_SOCK`.
pub fn ssh(
    raw: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    for value in raw {
        let (id, socket) = match value.split_once('=') {
            Some((id, paths)) if paths.contains(',') => {
                bail!("--ssh {id}: only one socket per id is supported (got {paths:?})")
            }
            Some((id, path)) => (id, PathBuf::from(path)),
            None => match env("SSH_AUTH_SOCK").filter(|s| !s.is_empty()) {
                Some(sock) => (value.as_str(), PathBuf::from(sock)),
                None => bail!("--ssh {value}: no socket given and SSH_AUTH_SOCK is not set"),
            },
        };
        if id.is_empty() {
            bail!("invalid --ssh {value:?}: the id is empty");
        }
        if !socket.exists() {
            bail!("--ssh {id}: {} does not exist", socket.display());
        }
        out.insert(id.to_owned(), socket);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_forms() {
        let env = |k: &str| (k == "TOKEN").then(|| "t0k".to_string());
        let raw = vec!["id=a,env=TOKEN".to_string(), "id=TOKEN".to_string()];
        let got = secrets(&raw, &env).unwrap();
        assert_eq!(got["a"], SecretSource::Value(b"t0k".to_vec()));
        assert_eq!(got["TOKEN"], SecretSource::Value(b"t0k".to_vec()));
        assert!(secrets(&["id=a,env=NOPE".to_string()], &env).is_err());
        assert!(secrets(&["id=a,src=/nonexistent/x".to_string()], &env).is_err());
        assert!(secrets(&["id=a,bogus=1".to_string()], &env).is_err());
        let file = secrets(&["id=f,src=/etc/hostname".to_string()], &env).unwrap();
        assert_eq!(
            file["f"],
            SecretSource::File(PathBuf::from("/etc/hostname"))
        );
    }

    #[test]
    fn ssh_forms() {
        let env = |k: &str| (k == "SSH_AUTH_SOCK").then(|| "/etc/hostname".to_string());
        let got = ssh(&["default".to_string(), "x=/etc/hosts".to_string()], &env).unwrap();
        assert_eq!(got["default"], PathBuf::from("/etc/hostname"));
        assert_eq!(got["x"], PathBuf::from("/etc/hosts"));
        assert!(ssh(&["default".to_string()], &|_| None).is_err());
    }
}

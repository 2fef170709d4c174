//! `hoist login` and `hoist logout`: credentials in docker's `config.json`, as docker keeps them.
//!
//! The file is `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; an entry is
//! `auths.<server>.auth`, the base64 of `user:password`, under the server's host name
//! (`https://index.docker.io/v1/` for Docker Hub, as docker writes it). Every other field of
//! the file is kept as it was. The password comes from `--password-stdin` or a prompt with echo
//! off, never from the command line. When the config names a credential helper
//! (`credHelpers.<server>`, else `credsStore`), the secret goes to `docker-credential-<name>
//! store` and the file keeps an empty `auths` entry, and `logout` runs its `erase`, as docker
//! does; pulls and pushes read it back with `get`. `login` first checks the credentials against the registry
//! (`GET /v2/`), so a typo is reported now and not at the next push.

use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow};
use base64::Engine as _;
use registry_client::{Client, Credential, CredentialHelper, ErrorKind, KeychainEnv};
use serde_json::{Map, Value, json};

use crate::args::{LoginArgs, LogoutArgs};
use crate::{Failure, exit};

/// The key docker writes Docker Hub's credentials under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A registry as `login` names it: for references and requests, and as the config.json key.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Server {
    registry: String,
    key: String,
}

/// `SERVER` as given (`docker.io` when none): scheme and path dropped, Docker Hub's aliases
/// mapped to its key.
fn server(given: Option<&str>) -> Result<Server, Failure> {
    let text = given.unwrap_or("docker.io").trim();
    let host = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .unwrap_or(text);
    let host = host.split('/').next().unwrap_or(host).to_ascii_lowercase();
    if host.is_empty() || host.contains(char::is_whitespace) {
        return Err(Failure::usage(format!("invalid registry {text:?}")));
    }
    Ok(match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => Server {
            registry: "docker.io".into(),
            key: DOCKER_HUB_KEY.into(),
        },
        _ => Server {
            registry: host.clone(),
            key: host,
        },
    })
}

/// Where docker keeps its config: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
fn config_path(env: &KeychainEnv) -> Result<PathBuf, Failure> {
    match (&env.docker_config, &env.home) {
        (Some(dir), _) => Ok(dir.join("config.json")),
        (None, Some(home)) => Ok(home.join(".docker").join("config.json")),
        (None, None) => {
            Err(anyhow!("cannot find docker's config.json: set DOCKER_CONFIG or HOME").into())
        }
    }
}

/// The config file as a JSON object (empty when absent).
fn read_config(path: &Path) -> Result<Map<String, Value>, Failure> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Map::new()),
        Ok(bytes) => match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(anyhow!("{} is not a JSON object", path.display()).into()),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Map::new()),
        Err(e) => Err(anyhow::Error::from(e)
            .context(format!("cannot read {}", path.display()))
            .into()),
    }
}

/// Writes the config atomically (temp file, fsync, rename), readable by its owner only.
fn write_config(path: &Path, config: &Map<String, Value>) -> Result<(), Failure> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let mut text = serde_json::to_string_pretty(config).map_err(anyhow::Error::from)?;
    text.push('\n');
    let temp = dir.join(format!(".config.json.hoist-{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(anyhow::Error::from(e)
            .context(format!("cannot write {}", path.display()))
            .into());
    }
    Ok(())
}

/// The credential helper docker would keep this server's credentials with:
/// `credHelpers[<server>]`, else `credsStore` (`None` when neither is set).
fn helper_name(config: &Map<String, Value>, server: &Server) -> Option<String> {
    let helpers = config.get("credHelpers").and_then(Value::as_object);
    let named = helpers.and_then(|h| {
        h.get(&server.registry)
            .or_else(|| h.get(&server.key))
            .or_else(|| h.get(&format!("https://{}", server.key)))
    });
    named
        .or_else(|| config.get("credsStore"))
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
}

/// The helper program `name`, looked for on `$PATH`.
fn helper(name: &str, env: &KeychainEnv) -> Result<CredentialHelper, Failure> {
    let dirs: Vec<PathBuf> = env
        .path
        .as_ref()
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    Ok(CredentialHelper::find(name, &dirs)?)
}

/// Reads a line from the terminal with echo off.
fn prompt_hidden(prompt: &str) -> Result<String, Failure> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    let stdin = std::io::stdin();
    eprint!("{prompt}");
    let saved = tcgetattr(&stdin).map_err(std::io::Error::from)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(&stdin, OptionalActions::Flush, &quiet).map_err(std::io::Error::from)?;
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    let _ = tcsetattr(&stdin, OptionalActions::Flush, &saved);
    eprintln!();
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn prompt_visible(prompt: &str) -> Result<String, Failure> {
    eprint!("{prompt}");
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

/// The user name and password, from the flags, standard input or prompts.
fn credentials(args: &LoginArgs) -> Result<(String, String), Failure> {
    let terminal = std::io::stdin().is_terminal();
    let username = match (&args.username, args.password_stdin, terminal) {
        (Some(u), _, _) => u.clone(),
        (None, true, _) => return Err(Failure::usage("--password-stdin needs --username")),
        (None, false, true) => prompt_visible("Username: ")?,
        (None, false, false) => {
            return Err(Failure::usage(
                "no terminal to ask for the user name: give --username and --password-stdin",
            ));
        }
    };
    let password = if args.password_stdin {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the password from standard input")?;
        text.trim_end_matches(['\n', '\r']).to_owned()
    } else if terminal {
        prompt_hidden("Password: ")?
    } else {
        return Err(Failure::usage(
            "no terminal to ask for the password: use --password-stdin",
        ));
    };
    if username.is_empty() || password.is_empty() {
        return Err(Failure::usage(
            "the user name and the password must not be empty",
        ));
    }
    Ok((username, password))
}

/// `GET /v2/` with the credentials: `Ok` when the registry accepts them.
fn verify(server: &Server, username: &str, password: &str) -> Result<(), Failure> {
    let client = Client::builder()
        .default_keychain(false)
        .credential(&server.registry, Credential::basic(username, password))
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match runtime.block_on(client.check_login(&server.registry)) {
        Ok(()) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Denied) => {
            let answer = e.http().map_or(String::new(), |h| {
                let codes: Vec<String> = h
                    .codes
                    .iter()
                    .map(|c| format!("{} {:?}", c.code, c.message))
                    .collect();
                format!(" (HTTP {} {})", h.status, codes.join(", "))
            });
            eprintln!(
                "error: login to {} failed: the registry rejected the user name or password{}\n\
                 hint: check them (or the access token) and run `hoist login` again",
                server.registry,
                answer.replace(" )", ")")
            );
            Err(Failure::Reported(exit::AUTH))
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs `hoist login`.
pub fn login(args: &LoginArgs, out: &mut dyn Write) -> Result<(), Failure> {
    if args.password.is_some() {
        return Err(Failure::usage(
            "--password is not supported: a password on the command line is seen by other \
             users and kept in shell history; pipe it in with --password-stdin",
        ));
    }
    let server = server(args.server.as_deref())?;
    let env = KeychainEnv::from_process();
    let path = config_path(&env)?;
    let mut config = read_config(&path)?;
    let helper = helper_name(&config, &server)
        .map(|name| helper(&name, &env))
        .transpose()?;
    let (username, password) = credentials(args)?;
    verify(&server, &username, &password)?;
    // With a helper, the secret goes to it and the file keeps an empty entry, as docker does.
    let entry = match &helper {
        Some(helper) => {
            helper.store(&server.registry, &username, &password)?;
            json!({})
        }
        None => {
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            json!({ "auth": auth })
        }
    };
    let auths = config
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    if let Some(auths) = auths.as_object_mut() {
        auths.insert(server.key.clone(), entry);
    }
    write_config(&path, &config)?;
    writeln!(out, "Login Succeeded")?;
    Ok(())
}

/// Runs `hoist logout`: removes the server's entry (and its `https://` spelling), and erases
/// the credentials from the credential helper when one keeps them.
pub fn logout(args: &LogoutArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let server = server(args.server.as_deref())?;
    let env = KeychainEnv::from_process();
    let path = config_path(&env)?;
    let mut config = read_config(&path)?;
    // As docker: a helper that cannot erase (it has nothing for the server, or is missing)
    // gets a warning, and the file's entry is removed all the same.
    let erased = match helper_name(&config, &server)
        .map(|name| helper(&name, &env).and_then(|h| Ok(h.erase(&server.registry)?)))
    {
        None => false,
        Some(Ok(erased)) => erased,
        Some(Err(e)) => {
            let message = e.render();
            let message = message.trim_start_matches("error: ").trim_end();
            eprintln!("warning: could not erase the credentials: {message}");
            false
        }
    };
    let removed = config
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .map(|auths| {
            let a = auths.remove(&server.key).is_some();
            let b = auths.remove(&format!("https://{}", server.key)).is_some();
            a || b
        })
        .unwrap_or(false);
    if !removed && !erased {
        writeln!(out, "Not logged in to {}", server.registry)?;
        return Ok(());
    }
    if removed {
        write_config(&path, &config)?;
    }
    writeln!(out, "Removing login credentials for {}", server.registry)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_keyed_as_docker_keys_them() {
        let hub = server(None).unwrap();
        assert_eq!(
            (hub.registry.as_str(), hub.key.as_str()),
            ("docker.io", DOCKER_HUB_KEY)
        );
        assert_eq!(server(Some("https://index.docker.io/v1/")).unwrap(), hub);
        let local = server(Some("http://Localhost:5000/v2/")).unwrap();
        assert_eq!(local.key, "localhost:5000");
        assert!(server(Some("")).is_err());
    }
}

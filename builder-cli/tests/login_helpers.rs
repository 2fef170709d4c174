//! `hoist login` / `hoist logout` with a docker credential helper: Debian's real
//! `docker-credential-pass` (golang-docker-credential-helpers), over `pass` and a gpg key made
//! for the test without a passphrase, against the real registry with htpasswd auth. The secret
//! goes to the helper (config.json keeps an empty entry), push and pull read it back with
//! `get`, logout erases it; it is never printed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../registry-client/tests/harness/mod.rs"]
mod harness;

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;
use harness::Registry;
use serde_json::{Value, json};

const SECRET: &str = "s3cret-for-the-helper";

/// A gpg home and a pass store made for one test; the gpg agent is stopped on drop.
struct PassStore {
    gnupg: PathBuf,
    store: PathBuf,
}

impl PassStore {
    fn new(dir: &Path) -> PassStore {
        let gnupg = dir.join("gnupg");
        let store = dir.join("password-store");
        std::fs::create_dir_all(&gnupg).unwrap();
        std::fs::set_permissions(&gnupg, std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .unwrap();
        let pass = PassStore { gnupg, store };
        pass.run(
            Command::new("gpg")
                .args(["--batch", "--passphrase", "", "--quick-gen-key"])
                .args([
                    "hoist test <hoist@test.invalid>",
                    "default",
                    "default",
                    "never",
                ]),
            None,
        );
        let keys = pass.run(
            Command::new("gpg").args(["--list-keys", "--with-colons"]),
            None,
        );
        let fingerprint = keys
            .lines()
            .find_map(|l| l.strip_prefix("fpr:"))
            .and_then(|l| l.split(':').find(|f| !f.is_empty()))
            .unwrap()
            .to_owned();
        pass.run(Command::new("pass").args(["init", &fingerprint]), None);
        // docker-credential-pass refuses a store without this entry.
        pass.run(
            Command::new("pass").args([
                "insert",
                "-e",
                "docker-credential-helpers/docker-pass-initialized-check",
            ]),
            Some("pass is initialized\n"),
        );
        pass
    }

    fn env(&self, cmd: &mut Command) {
        cmd.env("GNUPGHOME", &self.gnupg)
            .env("PASSWORD_STORE_DIR", &self.store);
    }

    fn run(&self, cmd: &mut Command, input: Option<&str>) -> String {
        let out = self.output(cmd, input);
        assert!(out.status.success(), "{cmd:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    }

    fn output(&self, cmd: &mut Command, input: Option<&str>) -> Output {
        self.env(cmd);
        output_with_stdin(cmd, input.unwrap_or("").as_bytes())
    }

    /// What `docker-credential-pass get` answers for `server`.
    fn get(&self, server: &str) -> Value {
        let text = self.run(
            Command::new("docker-credential-pass").arg("get"),
            Some(server),
        );
        serde_json::from_str(&text).unwrap()
    }

    /// `hoist args` with the store's environment and `input` on standard input.
    fn hoist(&self, root: &Path, args: &[&str], input: &str) -> Output {
        self.output(hoist_command(root).args(args), Some(input))
    }
}

impl Drop for PassStore {
    fn drop(&mut self) {
        let mut kill = Command::new("gpgconf");
        kill.args(["--kill", "gpg-agent"]);
        self.env(&mut kill);
        let _ = kill.output();
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn login_stores_through_docker_credential_pass_push_reads_it_and_logout_erases_it() {
    let registry = Registry::builder().htpasswd(&[("alice", SECRET)]).start();
    let host = registry.host_port();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let pass = PassStore::new(&tmp.path().join("pass"));
    let config_path = tmp.path().join("docker/config.json");
    std::fs::create_dir_all(config_path.parent().unwrap()).unwrap();
    std::fs::write(&config_path, json!({"credsStore": "pass"}).to_string()).unwrap();

    let login = ["login", "-u", "alice", "--password-stdin", host.as_str()];
    let out = pass.hoist(&root, &login, &format!("{SECRET}\n"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains(SECRET));
    // docker's layout: the secret in the helper, an empty entry in the file.
    let file = std::fs::read_to_string(&config_path).unwrap();
    assert!(!file.contains(SECRET), "{file}");
    let config: Value = serde_json::from_str(&file).unwrap();
    assert_eq!(config["auths"][&host], json!({}));
    assert_eq!(config["credsStore"], "pass");
    let stored = pass.get(&host);
    assert_eq!(
        (&stored["Username"], &stored["Secret"]),
        (&json!("alice"), &json!(SECRET))
    );

    // push and pull find the credential through `docker-credential-pass get`.
    let ctx = context(tmp.path(), TWO_STAGES);
    build(&root, &ctx, "helped");
    let target = format!("{host}/team/helped:1");
    pass.hoist(&root, &["tag", "helped", &target], "");
    let out = pass.hoist(&root, &["push", &target], "");
    assert!(out.status.success(), "{}", text(&out));
    let pushed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let other_root = tmp.path().join("other-store");
    let out = pass.hoist(&other_root, &["pull", &target], "");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), pushed);

    let out = pass.hoist(&root, &["logout", &host], "");
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("Removing login credentials for {host}\n")
    );
    assert_eq!(pass.get(&host)["Secret"], "", "erased from the helper");
    assert!(read_json(&config_path)["auths"].get(&host).is_none());
    // Without credentials the registry refuses the push: exit 3.
    let out = pass.hoist(&root, &["push", &target], "");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));

    // `credHelpers.<registry>` names the helper for one registry only.
    let per_registry = json!({"credHelpers": {host.clone(): "pass"}});
    std::fs::write(&config_path, per_registry.to_string()).unwrap();
    let out = pass.hoist(&root, &login, &format!("{SECRET}\n"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(pass.get(&host)["Username"], "alice");
    assert!(
        !std::fs::read_to_string(&config_path)
            .unwrap()
            .contains(SECRET)
    );
}

#[test]
fn a_missing_helper_is_named_and_nothing_is_written() {
    let registry = Registry::builder().htpasswd(&[("alice", SECRET)]).start();
    let host = registry.host_port();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let config_path = tmp.path().join("docker/config.json");
    std::fs::create_dir_all(config_path.parent().unwrap()).unwrap();
    let config = json!({"credsStore": "absent-helper"}).to_string();
    std::fs::write(&config_path, &config).unwrap();
    let mut child = hoist_command(&root)
        .args(["login", "-u", "alice", "--password-stdin", &host])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _ = child.stdin.take().unwrap().write_all(SECRET.as_bytes());
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("docker-credential-absent-helper"),
        "{}",
        text(&out)
    );
    assert!(!text(&out).contains(SECRET));
    assert_eq!(std::fs::read_to_string(&config_path).unwrap(), config);
}

//! `hoist login` / `hoist logout` against the real registry with htpasswd auth: the config.json
//! written is the one docker writes, skopeo logs in with it, a wrong password exits 3.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../registry-client/tests/harness/mod.rs"]
mod harness;

mod common;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use base64::Engine as _;
use common::*;
use harness::Registry;
use registry_client::{Credential, DockerKeychain, Keychain};
use serde_json::{Value, json};

/// `hoist args` with `input` on standard input.
fn hoist_with_input(root: &Path, args: &[&str], input: &str) -> Output {
    let mut child = hoist_command(root)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // hoist may exit before reading (a usage error): a closed pipe is fine then.
    let _ = child.stdin.take().unwrap().write_all(input.as_bytes());
    child.wait_with_output().unwrap()
}

#[test]
fn login_writes_a_config_json_skopeo_accepts_and_logout_removes_it() {
    let registry = Registry::builder().htpasswd(&[("alice", "s3cret")]).start();
    let host = registry.host_port();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let config_path = tmp.path().join("docker/config.json");
    std::fs::create_dir_all(config_path.parent().unwrap()).unwrap();
    let other = json!({"auths": {"other.example": {"auth": "eDp5"}}, "psFormat": "table"});
    std::fs::write(&config_path, other.to_string()).unwrap();

    let out = hoist_with_input(
        &root,
        &["login", "-u", "alice", "--password-stdin", &host],
        "s3cret\n",
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "Login Succeeded\n");
    let config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
    assert_eq!(config["auths"][&host], json!({ "auth": auth }));
    assert_eq!(
        config["auths"]["other.example"]["auth"], "eDp5",
        "other entries are kept"
    );
    assert_eq!(config["psFormat"], "table", "other fields are kept");
    let mode = std::fs::metadata(&config_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let read_back = DockerKeychain::new()
        .with_file(&config_path)
        .credential(&host)
        .unwrap();
    assert_eq!(read_back, Some(Credential::basic("alice", "s3cret")));

    // An image in the registry, then skopeo reads it with the file hoist wrote.
    let ctx = context(tmp.path(), TWO_STAGES);
    build(&root, &ctx, "pushed");
    let image = format!("docker://{host}/team/pushed:1");
    let copy = Command::new("skopeo")
        .args([
            "--insecure-policy",
            "copy",
            "--dest-tls-verify=false",
            "--dest-authfile",
        ])
        .arg(&config_path)
        .arg(format!("oci:{}:pushed:latest", root.display()))
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    let inspect = Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--authfile"])
        .arg(&config_path)
        .arg(&image)
        .output()
        .unwrap();
    assert!(
        inspect.status.success(),
        "{}",
        String::from_utf8_lossy(&inspect.stderr)
    );

    let out = hoist_ok(&root, &["logout", &host]);
    assert_eq!(out, format!("Removing login credentials for {host}\n"));
    let config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    assert!(config["auths"].get(&host).is_none());
    assert_eq!(config["auths"]["other.example"]["auth"], "eDp5");
    assert_eq!(
        hoist_ok(&root, &["logout", &host]),
        format!("Not logged in to {host}\n")
    );
}

#[test]
fn a_rejected_password_exits_3_and_writes_nothing() {
    let registry = Registry::builder().htpasswd(&[("alice", "s3cret")]).start();
    let host = registry.host_port();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let out = hoist_with_input(
        &root,
        &["login", "--username", "alice", "--password-stdin", &host],
        "wrong\n",
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(out.stdout.is_empty());
    assert!(!tmp.path().join("docker/config.json").exists());
    insta::assert_snapshot!("login_rejected", stderr(&out).replace(&host, "<registry>"));

    let out = hoist_with_input(&root, &["login", "--password-stdin", &host], "x\n");
    assert_eq!(
        out.status.code(),
        Some(2),
        "--password-stdin needs --username"
    );
}

#[test]
fn login_follows_the_token_flow_of_docker_hub() {
    let tokens = harness::TokenServer::builder()
        .user("bob", "tok3n", &[("*", "pull,push")])
        .start();
    let registry = Registry::builder().token(tokens).start();
    let host = registry.host_port();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let args = ["login", "-u", "bob", "--password-stdin", host.as_str()];
    let out = hoist_with_input(&root, &args, "wrong\n");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let out = hoist_with_input(&root, &args, "tok3n\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let config: Value =
        serde_json::from_slice(&std::fs::read(tmp.path().join("docker/config.json")).unwrap())
            .unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("bob:tok3n");
    assert_eq!(config["auths"][&host]["auth"], auth.as_str());
}

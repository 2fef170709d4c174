//! Registry credentials never reach logs, error output or the store: pushes and pulls with a
//! wrong then a right password (htpasswd registry, and the token server of the harness), with
//! every byte of stdout, stderr, the build logs and the store scanned for the password, its
//! base64 forms and the bearer tokens issued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../registry-client/tests/harness/mod.rs"]
mod harness;

mod common;

use std::fs;
use std::path::Path;
use std::process::Output;

use base64::Engine as _;
use common::*;
use harness::{Registry, TokenServer};

const PASSWORD: &str = "pw-9c41e7-never-print-me";
const WRONG: &str = "wrong-pw-58d2aa-never-print-me";

fn login(root: &Path, host: &str, password: &str) -> Output {
    output_with_stdin(
        hoist_command(root).args(["login", "-u", "alice", "--password-stdin", host]),
        format!("{password}\n").as_bytes(),
    )
}

/// `hoist build --progress plain --push -t TARGET CTX` with the store at `root`.
fn build_push(root: &Path, ctx: &Path, target: &str) -> Output {
    let ctx = ctx.to_str().unwrap();
    let args = ["build", "--progress", "plain", "--push", "-t", target, ctx];
    hoist(root, &args)
}

/// The secrets to look for: each password, as is and inside every base64 form of
/// `alice:<password>` (Basic auth and config.json `auth`).
fn needles(extra: &[String]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for pw in [PASSWORD, WRONG] {
        out.push(pw.as_bytes().to_vec());
        let b64 = base64::engine::general_purpose::STANDARD.encode(format!("alice:{pw}"));
        out.push(b64.trim_end_matches('=').as_bytes().to_vec());
    }
    out.extend(extra.iter().map(|t| t.as_bytes().to_vec()));
    out
}

fn assert_absent(what: &str, hay: &[u8], needles: &[Vec<u8>]) {
    for needle in needles {
        assert!(
            !hay.windows(needle.len()).any(|w| w == needle.as_slice()),
            "{} found in {what}",
            String::from_utf8_lossy(needle)
        );
    }
}

/// Scans every file of the store; blobs (compressed bytes, where three given letters occur by
/// chance) only for the passwords and their base64 forms.
fn scan_store(root: &Path, needles: &[Vec<u8>]) -> usize {
    let mut files = Vec::new();
    files_under(root, &mut files);
    for file in &files {
        let needles = if file.starts_with(root.join("blobs")) {
            &needles[..4]
        } else {
            needles
        };
        assert_absent(
            &file.display().to_string(),
            &fs::read(file).unwrap(),
            needles,
        );
    }
    files.len()
}

fn scan_output(what: &str, out: &Output, needles: &[Vec<u8>]) {
    assert_absent(&format!("{what} stdout"), &out.stdout, needles);
    assert_absent(&format!("{what} stderr"), &out.stderr, needles);
}

fn push_and_pull_with_wrong_then_right_password(registry: &Registry, tokens: &[String]) {
    let host = registry.host_port();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), "FROM scratch\nCOPY a.txt /\n");
    let target = format!("{host}/team/creds:1");
    let mut outputs = Vec::new();

    // Wrong password: login refused, build --push refused.
    let out = login(&root, &host, WRONG);
    assert!(!out.status.success());
    outputs.push(("login (wrong)", out));
    let docker = root.with_file_name("docker");
    fs::create_dir_all(&docker).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("alice:{WRONG}"));
    fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#),
    )
    .unwrap();
    let out = build_push(&root, &ctx, &target);
    assert!(!out.status.success(), "pushed with a wrong password");
    let err = stderr(&out);
    assert!(err.contains(&host), "{err}");
    outputs.push(("build --push (wrong)", out));
    let out = hoist(&root, &["push", &target]);
    assert!(!out.status.success());
    outputs.push(("push (wrong)", out));

    // Right password: login, build --push, pull into another store.
    let out = login(&root, &host, PASSWORD);
    assert!(out.status.success(), "{}", stderr(&out));
    outputs.push(("login", out));
    let out = build_push(&root, &ctx, &target);
    assert!(out.status.success(), "{}", stderr(&out));
    outputs.push(("build --push", out));
    let pulled = tmp.path().join("pulled");
    fs::create_dir_all(&pulled).unwrap();
    // The pulled store uses the same docker config.
    let out = hoist_command(&pulled)
        .env("DOCKER_CONFIG", &docker)
        .args(["pull", &target])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    outputs.push(("pull", out));

    let needles = needles(tokens);
    for (what, out) in &outputs {
        scan_output(what, out, &needles);
    }
    let scanned = scan_store(&root, &needles) + scan_store(&pulled, &needles);
    assert!(
        root.join("hoist/logs").is_dir() || scanned > 0,
        "nothing was scanned"
    );
    eprintln!(
        "credentials scan: {} outputs and {scanned} store files clean",
        outputs.len()
    );
}

#[test]
fn basic_auth_passwords_never_appear_in_output_logs_or_store() {
    let registry = Registry::builder().htpasswd(&[("alice", PASSWORD)]).start();
    push_and_pull_with_wrong_then_right_password(&registry, &[]);
}

#[test]
fn bearer_tokens_and_passwords_never_appear_in_output_logs_or_store() {
    let server = TokenServer::builder()
        .user("alice", PASSWORD, &[("*", "pull,push")])
        .start();
    let registry = Registry::builder().token(server).start();
    // A JWT starts with the base64 of `{"`: none may be printed or logged.
    push_and_pull_with_wrong_then_right_password(&registry, &["eyJ".to_owned()]);
    let server = registry.token_server().unwrap();
    assert!(
        server.requests().iter().any(|r| r.status == 200),
        "no token was issued: {:?}",
        server.requests()
    );
}

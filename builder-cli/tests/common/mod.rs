//! What the CLI tests share: running `hoist` against a temp store, a small context.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `hoist` binary with the store at `root`, `SOURCE_DATE_EPOCH=0`, no `CI`, and docker's
/// config under `root/../docker`.
pub fn hoist_command(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoist"));
    cmd.env("HOIST_ROOT", root)
        .env("SOURCE_DATE_EPOCH", "0")
        .env("DOCKER_CONFIG", root.with_file_name("docker"))
        .env_remove("CI")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    cmd
}

/// Runs `hoist args...`.
pub fn hoist(root: &Path, args: &[&str]) -> Output {
    hoist_command(root).args(args).output().expect("run hoist")
}

/// Runs `hoist args...`, expecting success; returns stdout.
pub fn hoist_ok(root: &Path, args: &[&str]) -> String {
    let out = hoist(root, args);
    assert!(
        out.status.success(),
        "hoist {args:?} failed ({:?}):\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Text of stderr.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A context at `dir/ctx` with `a.txt`, `b.txt` (mode 0644) and `dockerfile`.
pub fn context(dir: &Path, dockerfile: &str) -> PathBuf {
    let ctx = dir.join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::set_permissions(&ctx, fs::Permissions::from_mode(0o755)).unwrap();
    for (name, text) in [
        ("a.txt", "a\n"),
        ("b.txt", "b\n"),
        ("Dockerfile", dockerfile),
    ] {
        fs::write(ctx.join(name), text).unwrap();
        fs::set_permissions(ctx.join(name), fs::Permissions::from_mode(0o644)).unwrap();
    }
    ctx
}

/// A two-stage Dockerfile: a build stage with two layers, a final stage copying from it.
pub const TWO_STAGES: &str = "FROM scratch AS build\nCOPY a.txt /src/a.txt\nCOPY b.txt /src/b.txt\n\
                              FROM scratch\nCOPY --from=build /src /app\nLABEL org.example.demo=yes\n";

/// Builds `ctx` tagged `tag` with plain progress; returns (digest, stderr).
pub fn build(root: &Path, ctx: &Path, tag: &str) -> (String, String) {
    let out = hoist(
        root,
        &[
            "build",
            "--progress",
            "plain",
            "-t",
            tag,
            ctx.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "build failed:\n{}", stderr(&out));
    let digest = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    (digest, stderr(&out))
}

/// How many blobs the store holds.
pub fn blob_count(root: &Path) -> usize {
    fs::read_dir(root.join("blobs/sha256")).unwrap().count()
}

/// `durations` replaced by `<T>` so that snapshots do not depend on timing.
pub fn normalize_times(text: &str) -> String {
    let re = regex::Regex::new(r"\b\d+\.\d+s\b").unwrap();
    let text = re.replace_all(text, "<T>s");
    let log_time = regex::Regex::new(r"(?m)^(#\d+) \d+\.\d{3} ").unwrap();
    let text = log_time.replace_all(&text, "$1 <T> ");
    // Byte progress names blobs and sizes, which belong to the engine's tests.
    let transfer =
        regex::Regex::new(r"(exporting layer|pulling|pushing) sha256:[0-9a-f]{12} \S+").unwrap();
    transfer
        .replace_all(&text, "$1 sha256:<digest> <size>")
        .into_owned()
}

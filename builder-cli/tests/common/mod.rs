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

/// Every regular file under `dir`, recursively (symlinks not followed).
pub fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let meta = fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            files_under(&path, out);
        } else if meta.is_file() {
            out.push(path);
        }
    }
}

/// Where the blob `digest` is in the OCI layout at `root`.
pub fn layout_blob(root: &Path, digest: &str) -> PathBuf {
    root.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// The manifest of `img:latest` in the OCI layout at `root`.
pub fn layout_manifest(root: &Path) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "img:latest")
        .unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    serde_json::from_slice(&fs::read(layout_blob(root, &digest)).unwrap()).unwrap()
}

/// Runs `cmd` with `input` written to its stdin; its whole output.
pub fn output_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that exits without reading its input closes the pipe: not an error here.
    let _ = child.stdin.take().unwrap().write_all(input);
    child.wait_with_output().unwrap()
}

/// Every line of `stderr` as a JSON object, each checked against docs/events.schema.json.
pub fn validated_events(stderr: &str) -> Vec<serde_json::Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/events.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("events.schema.json", schema).unwrap();
    let index = compiler
        .compile("events.schema.json", &mut schemas)
        .unwrap();
    stderr
        .lines()
        .map(|line| {
            let value: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            if let Err(e) = schemas.validate(&value, index) {
                panic!("{line}\ndoes not match docs/events.schema.json:\n{e:#}");
            }
            value
        })
        .collect()
}

/// `img:latest` of the OCI layout at `root` unpacked by umoci into `dest` (emptied first);
/// its rootfs.
pub fn unpack(root: &Path, dest: &Path) -> PathBuf {
    umoci_unpack(root, "img:latest", dest)
}

/// The image `reference` (`name:tag`) of the OCI layout at `root` unpacked by umoci into
/// `dest` (emptied first); its rootfs.
pub fn umoci_unpack(root: &Path, reference: &str, dest: &Path) -> PathBuf {
    let _ = fs::remove_dir_all(dest);
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:{reference}", root.display()))
        .arg(dest)
        .output()
        .expect("run umoci");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dest.join("rootfs")
}

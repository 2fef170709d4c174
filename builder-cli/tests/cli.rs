//! The commands besides `build`: images, inspect, tag, rmi, prune, version, completions; usage
//! errors and their exit codes; error output pinned by insta snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;
use serde_json::Value;

fn skopeo_ok(root: &std::path::Path, tag: &str) -> bool {
    Command::new("skopeo")
        .args(["inspect", "--config"])
        .arg(format!("oci:{}:{tag}", root.display()))
        .output()
        .unwrap()
        .status
        .success()
}

#[test]
fn images_inspect_tag_and_rmi() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), TWO_STAGES);
    let (digest, _) = build(&root, &ctx, "demo");

    let listing = hoist_ok(&root, &["images"]);
    let short = &digest["sha256:".len()..][..12];
    assert!(listing.starts_with("TAG"), "{listing}");
    let row = listing
        .lines()
        .find(|l| l.starts_with("demo:latest"))
        .unwrap();
    assert!(
        row.contains(short) && row.contains("1970-01-01T00:00:00Z"),
        "{row}"
    );

    let text = hoist_ok(&root, &["inspect", "demo"]);
    for needle in [
        "Tag:          demo:latest",
        &format!("Digest:       {digest}"),
        "Platform:     linux/",
        "org.example.demo=yes",
        "Layers:",
        "History:",
        "COPY /src /app # buildkit",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    let json: Value =
        serde_json::from_str(&hoist_ok(&root, &["inspect", "--format", "json", "demo"])).unwrap();
    assert_eq!(json["digest"], digest.as_str());
    assert_eq!(json["tag"], "demo:latest");
    assert_eq!(json["manifest"]["layers"].as_array().unwrap().len(), 1);
    assert_eq!(
        json["config"]["config"]["Labels"]["org.example.demo"],
        "yes"
    );
    assert_eq!(json["config"]["history"].as_array().unwrap().len(), 2);
    // By digest, and by the short digest `images` shows.
    for by in [digest.as_str(), short] {
        let json: Value =
            serde_json::from_str(&hoist_ok(&root, &["inspect", "--format=json", by])).unwrap();
        assert_eq!(json["digest"], digest.as_str());
        assert_eq!(json["tag"], Value::Null);
    }

    hoist_ok(&root, &["tag", "demo", "registry.example/team/demo:v1"]);
    hoist_ok(&root, &["tag", short, "other"]);
    let listing = hoist_ok(&root, &["images"]);
    assert!(listing.contains("registry.example/team/demo:v1") && listing.contains("other:latest"));
    assert!(
        skopeo_ok(&root, "other:latest"),
        "the new tag is an OCI ref skopeo reads"
    );

    let out = hoist_ok(&root, &["rmi", "other", "registry.example/team/demo:v1"]);
    assert_eq!(
        out,
        "Untagged: other:latest\nUntagged: registry.example/team/demo:v1\n"
    );
    let out = hoist(&root, &["rmi", "nope", "demo"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "Untagged: demo:latest\n"
    );
    assert!(
        stderr(&out).contains("no such image: nope:latest"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        hoist_ok(&root, &["images"]).lines().count(),
        1,
        "only the header is left"
    );

    let out = hoist(&root, &["inspect", "demo"]);
    assert_eq!(out.status.code(), Some(1));
    let out = hoist(&root, &["tag", "x", "Bad Name"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

/// The count on the `prune` output line starting with `label`.
fn removed(out: &str, label: &str) -> u32 {
    let line = out.lines().find(|l| l.starts_with(label)).unwrap();
    line[label.len()..]
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn prune_frees_what_no_image_uses_and_all_removes_the_cache() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), TWO_STAGES);
    build(&root, &ctx, "keep");
    let before = blob_count(&root);

    // The build stage's two layers are cache only: dangling, so the default prune removes them.
    let out = hoist_ok(&root, &["prune"]);
    assert_eq!(removed(&out, "cache records:"), 2, "{out}");
    assert_eq!(removed(&out, "blobs:"), 2, "{out}");
    assert!(out.contains("Total reclaimed space: "), "{out}");
    assert_eq!(blob_count(&root), before - 2);
    assert!(
        skopeo_ok(&root, "keep:latest"),
        "the tagged image is untouched"
    );

    // Rebuilding hits the final stage's cache record.
    let (_, progress) = build(&root, &ctx, "keep");
    assert!(progress.contains("CACHED"), "{progress}");

    hoist_ok(&root, &["rmi", "keep"]);
    let out = hoist_ok(&root, &["prune", "--all", "-v"]);
    assert!(out.contains("deleted blob sha256:"), "{out}");
    assert_eq!(blob_count(&root), 0, "{out}");
    assert!(hoist_ok(&root, &["prune"]).contains("Total reclaimed space: 0B"));

    let out = hoist(&root, &["prune", "--keep-storage", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("invalid --keep-storage \"lots\""),
        "{}",
        stderr(&out)
    );
    hoist_ok(&root, &["prune", "--keep-storage", "1GB"]);
}

#[test]
fn version_and_completions() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let out = hoist_ok(&root, &["version"]);
    assert!(
        out.starts_with(&format!("hoist {}\n", env!("CARGO_PKG_VERSION"))),
        "{out}"
    );
    assert!(hoist_ok(&root, &["--version"]).starts_with("hoist "));
    let bash = hoist_ok(&root, &["completions", "bash"]);
    assert!(
        bash.contains("_hoist()") && bash.contains("inspect"),
        "{bash}"
    );
    assert!(hoist_ok(&root, &["completions", "zsh"]).starts_with("#compdef hoist"));
    assert!(hoist_ok(&root, &["completions", "fish"]).contains("complete -c hoist"));
    assert_eq!(
        hoist(&root, &["completions", "tcsh"]).status.code(),
        Some(2)
    );
}

#[test]
fn usage_errors_exit_2_with_a_hint() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let out = hoist(&root, &["build", "--no-cahce", "."]);
    assert_eq!(out.status.code(), Some(2));
    insta::assert_snapshot!("unknown_flag", stderr(&out));

    let out = hoist(&root, &["build", "--progress", "tty", "."]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--progress tty needs a terminal"),
        "{}",
        stderr(&out)
    );
    let out = hoist(&root, &["build", "-q", "--progress", "plain", "."]);
    assert_eq!(out.status.code(), Some(2), "-q conflicts with --progress");
    let out = hoist(&root, &["build", "--compression", "brotli", "."]);
    assert_eq!(out.status.code(), Some(2));
    let out = hoist(
        &root,
        &["login", "-u", "a", "-p", "secret", "localhost:5000"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("--password-stdin"),
        "{}",
        stderr(&out)
    );
    assert!(hoist(&root, &["frobnicate"]).status.code() == Some(2));
    let out = hoist(&root, &["build", "--build-arg", "=v", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = hoist(&root, &["debug", "plan", "--platform", "linux/", "."]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_dockerfile_syntax_error_shows_the_line_and_exits_1() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    context(
        tmp.path(),
        "FROM scratch\nCOPY a.txt /a\nCOPY --chmod a.txt /b\n",
    );
    let out = hoist_command(&root)
        .current_dir(tmp.path())
        .args(["build", "--progress", "plain", "ctx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    insta::assert_snapshot!("dockerfile_syntax_error", normalize_times(&stderr(&out)));
}

#[test]
fn quiet_prints_only_the_digest() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), TWO_STAGES);
    let out = hoist(&root, &["build", "-q", ctx.to_str().unwrap()]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "{}", stderr(&out));
    let digest = String::from_utf8(out.stdout).unwrap();
    assert!(
        digest.starts_with("sha256:") && digest.len() == 72,
        "{digest}"
    );
}

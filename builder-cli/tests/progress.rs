//! The progress views of `hoist build`: plain output pinned by a snapshot, JSON lines checked
//! against docs/events.schema.json, the live view run in a pseudo-terminal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use common::*;

#[test]
fn plain_output_of_a_two_stage_build() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), TWO_STAGES);
    let (_, cold) = build(&root, &ctx, "two");
    let (_, warm) = build(&root, &ctx, "two");
    let text = format!("--- cold\n{cold}--- warm\n{warm}");
    // The format is pinned here; the digest and size belong to the engine's tests.
    let digest = regex::Regex::new("sha256:[0-9a-f]{64}").unwrap();
    let size = regex::Regex::new(r"(?m), [0-9.]+[kMG]?B$").unwrap();
    let text = digest.replace_all(&text, "sha256:<digest>");
    let text = normalize_times(&size.replace_all(&text, ", <size>"));
    insta::assert_snapshot!("plain_two_stages", text);
}

/// The types of the JSON events on `stderr`, each checked against the schema.
fn validated_types(stderr: &str) -> Vec<String> {
    validated_events(stderr)
        .into_iter()
        .map(|value| value["type"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn json_events_follow_the_documented_schema() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), TWO_STAGES);
    let mut types = Vec::new();
    for _ in 0..2 {
        let out = hoist(
            &root,
            &[
                "build",
                "--progress",
                "json",
                "-t",
                "j",
                ctx.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
        types.extend(validated_types(&stderr(&out)));
    }
    for kind in ["step_started", "step_done", "step_cached", "build_finished"] {
        assert!(types.iter().any(|t| t == kind), "no {kind} in {types:?}");
    }
    assert_eq!(types.last().map(String::as_str), Some("build_finished"));

    std::fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY missing.txt /\n").unwrap();
    let out = hoist(
        &root,
        &["build", "--progress", "json", ctx.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(1));
    let types = validated_types(&stderr(&out));
    assert_eq!(
        types.last().map(String::as_str),
        Some("build_failed"),
        "{types:?}"
    );
    assert!(types.iter().any(|t| t == "step_failed"));
}

/// Runs `hoist args` under `script`, in a pseudo-terminal; returns what the terminal showed.
fn in_terminal(root: &std::path::Path, args: &str) -> String {
    let command = format!("{} {args}", env!("CARGO_BIN_EXE_hoist"));
    let out = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("HOIST_ROOT", root)
        .env("SOURCE_DATE_EPOCH", "0")
        .env("TERM", "xterm")
        .env_remove("CI")
        .output()
        .expect("run script (bsdutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

#[test]
fn the_tty_view_shows_steps_cached_steps_and_the_summary() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), TWO_STAGES);
    let ctx = ctx.to_str().unwrap();
    let cold = in_terminal(&root, &format!("build -t tty {ctx}"));
    assert!(
        cold.contains("\x1b["),
        "a live view redraws with escape codes:\n{cold}"
    );
    for needle in [
        " => [build 2/3] COPY a.txt /src/a.txt",
        " => [stage-1 2/3] COPY --from=build /src /app",
        " => naming to tty:latest",
        "built sha256:",
        "6 steps (0 cached, 6 run)",
    ] {
        assert!(cold.contains(needle), "{needle:?} not in:\n{cold}");
    }
    let warm = in_terminal(&root, &format!("build -t tty {ctx}"));
    assert!(
        warm.contains(" => CACHED [build 2/3] COPY a.txt /src/a.txt"),
        "{warm}"
    );
    assert!(warm.contains("6 steps (3 cached, 3 run)"), "{warm}");
}

#[test]
fn a_failing_run_in_plain_progress() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(
        tmp.path(),
        "FROM scratch\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo one; echo two; exit 3\"]\n",
    );
    std::fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    let out = hoist_command(&root)
        .current_dir(tmp.path())
        .args(["build", "--progress", "plain", "ctx"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = normalize_times(&stderr(&out)).replace(root.to_str().unwrap(), "<store>");
    let log = regex::Regex::new(r"hoist/logs/[^)]+\.log").unwrap();
    insta::assert_snapshot!("failing_run", log.replace_all(&text, "hoist/logs/<log>"));
}

//! `hoist debug ast` and `hoist debug plan`, run as a user runs them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hoist(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(args)
        .output()
        .expect("hoist runs")
}

fn conformance(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/conformance/dockerfile-parse")
        .join(dir)
}

fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(dir)
}

/// Every BuildKit parser golden: `hoist debug ast` prints `result` byte for byte.
#[test]
fn debug_ast_matches_every_buildkit_golden() {
    let mut cases: Vec<PathBuf> = fs::read_dir(conformance("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    cases.sort();
    let mut failed = Vec::new();
    for case in &cases {
        let out = hoist(&["debug", "ast", case.join("Dockerfile").to_str().unwrap()]);
        let expected = fs::read(case.join("result")).unwrap();
        if !out.status.success() || out.stdout != expected {
            failed.push(case.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    println!(
        "hoist debug ast: {}/{} BuildKit cases byte-identical",
        cases.len() - failed.len(),
        cases.len()
    );
    assert_eq!(cases.len(), 33);
    assert!(failed.is_empty(), "differ: {failed:?}");
}

/// The negative cases fail with a located error and a non-zero exit.
#[test]
fn debug_ast_rejects_the_negative_cases() {
    for case in [
        "empty_dockerfile",
        "env_no_value",
        "only_comments",
        "shykes-nested-json",
    ] {
        let path = conformance("negative").join(case).join("Dockerfile");
        let out = hoist(&["debug", "ast", path.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{case}: {stderr}");
        assert!(stderr.starts_with("error: "), "{case}: {stderr}");
        assert!(
            stderr.contains("Dockerfile:"),
            "{case}: no location in {stderr}"
        );
    }
}

#[test]
fn debug_plan_prints_the_example() {
    let ctx = testdata("examples/hello");
    let out = hoist(&["debug", "plan", ctx.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("# stage 0"), "{stdout}");
}

#[test]
fn debug_plan_takes_docker_build_flags() {
    let case = testdata("plan/multi-stage-target");
    let out = hoist(&[
        "debug",
        "plan",
        "-f",
        case.join("Dockerfile").to_str().unwrap(),
        "--target",
        "deps",
        "--build-arg",
        "UNUSED=1",
        "--platform",
        "linux/arm64",
        "/nonexistent-context-is-not-read",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout,
        "# stage 0 \"deps\" (line 1): FROM busybox [linux/arm64]\nRUN echo deps\n"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("build-args [UNUSED] were not consumed"),
        "{stderr}"
    );
}

#[test]
fn errors_show_file_line_column_and_a_caret() {
    let case = testdata("errors/unknown-flag");
    let out = hoist(&["debug", "plan", case.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let file = case.join("Dockerfile");
    let expected = format!(
        "error: unknown flag --form for COPY (known: --from, --chown, --chmod, --link, --parents, --exclude)\n --> {}:2:6\n  |\n2 | COPY --form=build a b\n  |      ^^^^^^\n",
        file.display()
    );
    assert_eq!(stderr, expected);
}

#[test]
fn usage_errors_exit_2() {
    let out = hoist(&["debug", "plan"]);
    assert_eq!(out.status.code(), Some(2));
    let out = hoist(&["debug", "plan", "--no-such-flag", "."]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_dockerfile_is_a_clear_error() {
    let out = hoist(&["debug", "plan", "/nonexistent/ctx"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot read Dockerfile /nonexistent/ctx/Dockerfile"),
        "{stderr}"
    );
}

//! Golden tests: directory-per-case fixtures under `testdata/`, compared with `expected`.
//!
//! - `testdata/instructions/<case>/Dockerfile`: the typed instructions, one per line.
//! - `testdata/plan/<case>/Dockerfile` (+ `args`): what `hoist debug plan` prints.
//! - `testdata/errors/<case>/Dockerfile` (+ `args`): the rendered error, with line and column.
//!
//! `args` holds one option per line: `--build-arg K=V`, `--target T`, `--platform P`,
//! `--allow security.insecure`.
//!
//! Run with `HOIST_BLESS=1` to write the current output as the new expectation; review the
//! diff before committing it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};

use builder_core::plan::{self, OfflineResolver, PlanOptions};
use builder_core::platform::Platform;
use builder_core::{SourceFile, dockerfile, instructions};

fn testdata(dir: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(dir)
}

fn cases(dir: &str) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(testdata(dir))
        .unwrap_or_else(|e| panic!("testdata/{dir}: {e}"))
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    cases.sort();
    cases
}

fn options(case: &Path) -> PlanOptions {
    let mut options = PlanOptions {
        target_platform: Platform::new("linux", "amd64", None),
        build_platform: Platform::new("linux", "amd64", None),
        ..PlanOptions::default()
    };
    let Ok(text) = fs::read_to_string(case.join("args")) else {
        return options;
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (flag, value) = line.split_once(' ').expect("args lines are `--flag value`");
        match flag {
            "--build-arg" => {
                let (k, v) = value.split_once('=').expect("--build-arg K=V");
                options.build_args.insert(k.into(), v.into());
            }
            "--target" => options.target = Some(value.into()),
            "--platform" => options.target_platform = Platform::parse(value).unwrap(),
            "--allow" => options.allow_insecure = value == "security.insecure",
            other => panic!("{}: unknown option {other}", case.display()),
        }
    }
    options
}

fn source(case: &Path) -> std::sync::Arc<SourceFile> {
    let text = fs::read_to_string(case.join("Dockerfile")).unwrap();
    SourceFile::new("Dockerfile", text)
}

fn typed_output(case: &Path) -> String {
    let file = source(case);
    let result = dockerfile::parse(&file).and_then(|ast| instructions::parse(&ast));
    match result {
        Err(e) => e.render(),
        Ok(df) => {
            let line = |step: &instructions::Step| {
                let s = step.span;
                format!(
                    "{}:{} {:?}\n",
                    s.start.line, s.start.column, step.instruction
                )
            };
            let mut out: String = df.meta_args.iter().map(line).collect();
            for stage in &df.stages {
                writeln!(
                    out,
                    "-- stage {} {:?} {:?}",
                    stage.index, stage.name, stage.from
                )
                .unwrap();
                out.extend(stage.steps.iter().map(line));
            }
            out
        }
    }
}

fn plan_output(case: &Path) -> String {
    let file = source(case);
    let result = dockerfile::parse(&file)
        .and_then(|ast| instructions::parse(&ast))
        .and_then(|df| plan::plan(&df, &options(case), &OfflineResolver));
    match result {
        Err(e) => e.render(),
        Ok(plan) => {
            let mut out = plan.to_string();
            for w in &plan.warnings {
                match w.span.start.line {
                    0 => writeln!(out, "warning: {}", w.short),
                    line => writeln!(out, "warning: {line}:{}: {}", w.span.start.column, w.short),
                }
                .unwrap();
            }
            out
        }
    }
}

/// Compares (or, with `HOIST_BLESS=1`, writes) `expected` for every case of `dir`.
fn check(dir: &str, render: fn(&Path) -> String, must_fail: bool) -> usize {
    let bless = std::env::var_os("HOIST_BLESS").is_some();
    let mut failures = Vec::new();
    let all = cases(dir);
    for case in &all {
        let got = render(case);
        let expected_path = case.join("expected");
        let is_error = got.starts_with("error: ");
        if must_fail != is_error {
            failures.push(format!(
                "{}: expected {}, got:\n{got}",
                case.display(),
                if must_fail { "an error" } else { "success" }
            ));
            continue;
        }
        if bless {
            fs::write(&expected_path, &got).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if got != expected {
            failures.push(format!(
                "{}: output differs (HOIST_BLESS=1 to accept)\n--- expected\n{expected}\n--- got\n{got}",
                case.display()
            ));
        }
    }
    println!("{dir}: {}/{} cases", all.len() - failures.len(), all.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    all.len()
}

#[test]
fn typed_instructions() {
    assert!(check("instructions", typed_output, false) >= 10);
}

#[test]
fn plans() {
    assert!(check("plan", plan_output, false) >= 10);
}

#[test]
fn errors() {
    assert!(check("errors", plan_output, true) >= 20);
}

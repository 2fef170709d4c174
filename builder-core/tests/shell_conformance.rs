//! Conformance of the shell lexer with BuildKit's tables (`frontend/dockerfile/shell`).
//!
//! The data lives in `testdata/conformance/shell/` (see `testdata/conformance/README.md`,
//! "The shell tables"). Every table is run in full; failures are collected and reported
//! together so that one run shows every divergence.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use builder_core::shell::{Lexer, ShellError};
use serde_json::Value;

fn shell_data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/conformance/shell")
        .join(name)
}

fn read_text(name: &str) -> String {
    let path = shell_data(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_json(name: &str) -> Value {
    serde_json::from_str(&read_text(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The environment of every `envVarTest` row.
fn env_var_test_env() -> Vec<(String, String)> {
    [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// BuildKit's `BuildEnvs`: `k=v` splits at the first `=`, a bare `k` is set and empty.
fn build_envs<'a>(lines: impl IntoIterator<Item = &'a str>) -> Vec<(String, String)> {
    lines
        .into_iter()
        .map(|line| match line.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (line.to_string(), String::new()),
        })
        .collect()
}

fn report(table: &str, passed: usize, failures: &[String]) {
    let total = passed + failures.len();
    println!("{table}: {passed}/{total}");
    for failure in failures {
        println!("  FAIL {failure}");
    }
    assert!(failures.is_empty(), "{table}: {} failures", failures.len());
    assert!(passed > 0, "{table}: no cases ran");
}

#[test]
fn env_var_test_table() {
    let lexer = Lexer::new('\\');
    let env = env_var_test_env();
    let (mut passed, mut failures) = (0, Vec::new());
    for (index, raw) in read_text("envVarTest").lines().enumerate() {
        if raw.starts_with('#') || raw.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = raw.trim().split('|').map(str::trim).collect();
        assert_eq!(fields.len(), 3, "line {}: {raw:?}", index + 1);
        let (platform, input, expected) = (fields[0], fields[1], fields[2]);
        assert!(matches!(platform, "A" | "U" | "W"), "line {}", index + 1);
        if platform == "W" {
            continue;
        }
        let got = lexer.process_word(input, &env);
        let ok = match (&got, expected) {
            (Err(_), "error") => true,
            (Ok(value), expected) => expected != "error" && value == expected,
            (Err(_), _) => false,
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!(
                "line {}: {input:?} -> {got:?}, want {expected:?}",
                index + 1
            ));
        }
    }
    report("envVarTest", passed, &failures);
}

/// The JSON variant adds upstream's exact error messages.
#[test]
fn env_var_test_json_messages() {
    let data = read_json("envVarTest.json");
    let lexer = Lexer::new('\\');
    let env = env_var_test_env();
    let (mut passed, mut failures) = (0, Vec::new());
    for case in data["cases"].as_array().into_iter().flatten() {
        if case["platform"] == "W" {
            continue;
        }
        let input = case["input"].as_str().unwrap_or_default();
        let got = lexer.process_word(input, &env).map_err(|e| e.to_string());
        let want = match case["error"].as_str() {
            Some(message) => Err(message.to_string()),
            None => Ok(case["got"].as_str().unwrap_or_default().to_string()),
        };
        if got == want {
            passed += 1;
        } else {
            failures.push(format!("{input:?} -> {got:?}, want {want:?}"));
        }
    }
    report("envVarTest.json", passed, &failures);
}

#[test]
fn words_test_table() {
    let lexer = Lexer::new('\\');
    let mut env_lines: Vec<String> = Vec::new();
    let (mut passed, mut failures) = (0, Vec::new());
    for (index, line) in read_text("wordsTest").lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            env_lines.push(rest.trim_start_matches(' ').to_string());
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        assert_eq!(fields.len(), 2, "line {}: {line:?}", index + 1);
        let input = fields[0].trim();
        let expected: Vec<&str> = fields[1].trim_start_matches(' ').split(',').collect();
        let env = build_envs(env_lines.iter().map(String::as_str));
        let got = lexer
            .process_words(input, &env)
            .unwrap_or_else(|_| vec!["error".to_string()]);
        if got == expected {
            passed += 1;
        } else {
            failures.push(format!(
                "line {}: {input:?} -> {got:?}, want {expected:?}",
                index + 1
            ));
        }
    }
    report("wordsTest", passed, &failures);
}

/// The JSON variant adds a second mode (`RawQuotes` + `SkipUnsetEnv`) with upstream's results.
#[test]
fn words_test_json_both_modes() {
    let data = read_json("wordsTest.json");
    let (mut passed, mut failures) = (0, Vec::new());
    for case in data["cases"].as_array().into_iter().flatten() {
        let lexer = match case["mode"].as_str() {
            Some("normal") => Lexer::new('\\'),
            Some("rawquotes+skipunsetenv") => {
                Lexer::new('\\').raw_quotes(true).skip_unset_env(true)
            }
            other => panic!("unknown mode {other:?}"),
        };
        let input = case["input"].as_str().unwrap_or_default();
        let env_lines: Vec<&str> = strings(&case["env"]);
        let env = build_envs(env_lines);
        let want: Vec<&str> = strings(&case["got"]);
        let got = lexer
            .process_words(input, &env)
            .unwrap_or_else(|_| vec!["error".to_string()]);
        if got == want {
            passed += 1;
        } else {
            let mode = &case["mode"];
            failures.push(format!("{mode} {input:?} -> {got:?}, want {want:?}"));
        }
    }
    report("wordsTest.json", passed, &failures);
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

fn string_set(value: &Value) -> BTreeSet<String> {
    strings(value).into_iter().map(str::to_string).collect()
}

#[test]
fn process_with_matches_table() {
    let data = read_json("processWithMatches.json");
    let lexer = Lexer::new('\\');
    let (mut passed, mut failures) = (0, Vec::new());
    for case in data["cases"].as_array().into_iter().flatten() {
        let input = case["input"].as_str().unwrap_or_default();
        let env: BTreeMap<String, String> = case["envs"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
            .collect();
        let got = lexer.process_word_with_matches(input, &env);
        let problem = match (&got, case["expectedErr"].as_bool()) {
            (Err(err), Some(true)) => check_error(err, &case["got_error"]),
            (Ok(expansion), Some(false)) => {
                let want = (
                    case["expected"].as_str().unwrap_or_default(),
                    string_set(&case["matches"]),
                    string_set(&case["unmatched"]),
                );
                let have = (
                    expansion.value.as_str(),
                    expansion.matched.clone(),
                    expansion.unmatched.clone(),
                );
                (have != want).then(|| format!("got {have:?}, want {want:?}"))
            }
            _ => Some(format!("got {got:?}, want error: {}", case["expectedErr"])),
        };
        match problem {
            None => passed += 1,
            Some(problem) => failures.push(format!("{input:?}: {problem}")),
        }
    }
    report("processWithMatches.json", passed, &failures);
}

fn check_error(err: &ShellError, want: &Value) -> Option<String> {
    let want = want.as_str()?;
    (err.to_string() != want).then(|| format!("message {:?}, want {want:?}", err.to_string()))
}

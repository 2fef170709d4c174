//! Conformance of `dockerfile::parse` with BuildKit's parser goldens
//! (`testdata/conformance/dockerfile-parse`, see `testdata/conformance/README.md`).

use std::fs;
use std::path::{Path, PathBuf};

use builder_core::SourceFile;
use builder_core::dockerfile::{Ast, parse};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/conformance/dockerfile-parse")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn parse_file(path: &Path) -> builder_core::Result<Ast> {
    let source = SourceFile::new(path.display().to_string(), read(path));
    parse(&source)
}

fn sorted_entries(dir: &Path) -> Vec<PathBuf> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .collect();
    entries.sort();
    entries
}

/// Upstream compares the whitespace-trimmed dump plus one newline with `result`.
fn upstream_dump(ast: &Ast) -> String {
    format!("{}\n", ast.dump().trim())
}

#[test]
fn golden_cases_dump_as_upstream() {
    let cases = sorted_entries(&data_dir().join("cases"));
    let mut failures = Vec::new();
    for case in &cases {
        let expected = read(&case.join("result"));
        match parse_file(&case.join("Dockerfile")) {
            Ok(ast) if upstream_dump(&ast) == expected => {}
            Ok(ast) => failures.push(format!(
                "{}:\n--- expected\n{expected}--- got\n{}",
                case.display(),
                upstream_dump(&ast)
            )),
            Err(e) => failures.push(format!("{}: error {e}", case.display())),
        }
    }
    let passed = cases.len() - failures.len();
    println!("dockerfile-parse: {passed}/{} cases", cases.len());
    eprintln!("dockerfile-parse: {passed}/{} cases", cases.len());
    assert_eq!(cases.len(), 33, "expected 33 golden cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn negative_cases_fail() {
    let cases = sorted_entries(&data_dir().join("negative"));
    assert_eq!(cases.len(), 4);
    for case in &cases {
        match parse_file(&case.join("Dockerfile")) {
            Err(e) => {
                assert!(
                    e.location().is_some(),
                    "{}: error without location",
                    case.display()
                )
            }
            Ok(ast) => assert!(
                ast.nodes.is_empty(),
                "{} parsed: {}",
                case.display(),
                ast.dump()
            ),
        }
    }
}

#[test]
fn empty_and_comment_only_files_have_no_instructions() {
    for name in ["empty_dockerfile", "only_comments"] {
        let path = data_dir().join("negative").join(name).join("Dockerfile");
        let err = parse_file(&path).expect_err(name);
        assert_eq!(err.kind().to_string(), "file with no instructions");
    }
}

#[test]
fn line_numbers_match_upstream() {
    let ast = parse_file(&data_dir().join("line-numbers/Dockerfile")).expect("parses");
    let lines: Vec<(usize, usize)> = ast
        .nodes
        .iter()
        .map(|n| (n.span.start.line, n.span.end.line))
        .collect();
    assert_eq!(lines, vec![(5, 5), (11, 12), (17, 31)]);
}

fn heredoc_files() -> Vec<PathBuf> {
    let files: Vec<PathBuf> = sorted_entries(&data_dir().join("heredoc"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    assert_eq!(files.len(), 3);
    files
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    PathBuf::from(format!("{}{suffix}", path.display()))
}

#[test]
fn heredoc_results_match_upstream() {
    for file in heredoc_files() {
        let ast = parse_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let expected = read(&with_suffix(&file, ".result"));
        assert_eq!(upstream_dump(&ast), expected, "{}", file.display());
    }
}

fn json_str<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn json_usize(v: &Value, key: &str) -> usize {
    let n = v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"));
    usize::try_from(n).expect("fits")
}

fn check_node(node: &builder_core::dockerfile::Node, want: &Value, file: &Path) {
    let ctx = format!("{}: {}", file.display(), json_str(want, "original"));
    assert_eq!(
        node.keyword,
        json_str(want, "value").to_lowercase(),
        "{ctx}"
    );
    assert_eq!(node.original, json_str(want, "original"), "{ctx}");
    assert_eq!(
        node.span.start.line,
        json_usize(want, "start_line"),
        "{ctx}"
    );
    assert_eq!(node.span.end.line, json_usize(want, "end_line"), "{ctx}");
    let next: Vec<&str> = want["next"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(node.args, next, "{ctx}");
    let flags: Vec<&str> = want["flags"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(node.flags, flags, "{ctx}");
    assert_eq!(
        node.json,
        want["attributes"]["json"] == Value::Bool(true),
        "{ctx}"
    );
    let heredocs = want["heredocs"].as_array().cloned().unwrap_or_default();
    assert_eq!(node.heredocs.len(), heredocs.len(), "{ctx}");
    for (got, want) in node.heredocs.iter().zip(&heredocs) {
        assert_eq!(got.name, json_str(want, "name"), "{ctx}");
        assert_eq!(got.content, json_str(want, "content"), "{ctx}");
        assert_eq!(Value::Bool(got.expand), want["expand"], "{ctx}");
        assert_eq!(Value::Bool(got.chomp), want["chomp"], "{ctx}");
        assert_eq!(
            Some(got.file_descriptor),
            want["file_descriptor"].as_u64(),
            "{ctx}"
        );
    }
}

#[test]
fn heredoc_asts_match_upstream() {
    for file in heredoc_files() {
        let ast = parse_file(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let want: Value =
            serde_json::from_str(&read(&with_suffix(&file, ".ast.json"))).expect("valid ast.json");
        assert_eq!(want["ok"], Value::Bool(true));
        assert_eq!(ast.dump(), json_str(&want, "dump"), "{}", file.display());
        let children = want["children"].as_array().expect("children");
        assert_eq!(ast.nodes.len(), children.len(), "{}", file.display());
        for (node, child) in ast.nodes.iter().zip(children) {
            check_node(node, child, &file);
        }
        let warnings = want["warnings"].as_array().cloned().unwrap_or_default();
        assert_eq!(ast.warnings.len(), warnings.len(), "{}", file.display());
        for (got, want) in ast.warnings.iter().zip(&warnings) {
            assert_eq!(got.short, json_str(want, "short"));
            assert_eq!(Some(got.detail.as_str()), want["detail"][0].as_str());
            assert_eq!(got.url.as_deref(), want["url"].as_str());
            assert_eq!(
                got.span.start.line,
                json_usize(&want["location"], "start_line")
            );
            assert_eq!(got.span.end.line, json_usize(&want["location"], "end_line"));
        }
    }
}

//! `.dockerignore` conformance: every case moby/patternmatcher's own tests check, through the
//! API each case names, plus `ignorefile.ReadAll`.

use std::path::PathBuf;

use builder_core::context::{
    MatchInfo, PatternMatcher, matches, matches_or_parent_matches, read_ignore_patterns,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/conformance/dockerignore")
        .join(name)
}

fn outcome(result: Result<bool, builder_core::context::ContextError>) -> &'static str {
    match result {
        Ok(true) => "match",
        Ok(false) => "nomatch",
        Err(_) => "error",
    }
}

/// `MatchesUsingParentResults` as a walk would call it: each parent first, its info handed down.
fn walk_outcome(patterns: &[String], path: &str) -> &'static str {
    let matcher = match PatternMatcher::new(patterns) {
        Ok(m) => m,
        Err(_) => return "error",
    };
    if path.split('/').all(str::is_empty) {
        // No parents to walk ("/"): one call with no parent information.
        let result = matcher.matches_using_parent_results(path, &MatchInfo::default());
        return outcome(result.map(|r| r.0));
    }
    let mut info = MatchInfo::default();
    let mut prefix = String::new();
    let mut last = Ok(false);
    for component in path.split('/').filter(|c| !c.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(component);
        match matcher.matches_using_parent_results(&prefix, &info) {
            Ok((m, next)) => {
                last = Ok(m);
                info = next;
            }
            Err(e) => return outcome(Err(e)),
        }
    }
    outcome(last)
}

#[test]
fn dockerignore_cases_txt() {
    let text = std::fs::read_to_string(data("dockerignore-cases.txt")).expect("cases file");
    let (mut total, mut failures) = (0, Vec::new());
    let mut api = "";
    for (n, line) in text.lines().enumerate() {
        if let Some(section) = line.strip_prefix("## ") {
            api = if section.starts_with("MatchesOrParentMatches") {
                "MatchesOrParentMatches"
            } else if section.starts_with("Matches(") {
                "Matches"
            } else {
                panic!("unknown section API: {section}")
            };
            continue;
        }
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 2, "line {}: {line:?}", n + 1);
        let expect = cols[cols.len() - 1];
        let path = cols[cols.len() - 2];
        let patterns: Vec<String> = cols[..cols.len() - 2]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let got = match api {
            "MatchesOrParentMatches" => outcome(matches_or_parent_matches(path, &patterns)),
            _ => outcome(matches(path, &patterns)),
        };
        total += 1;
        if got != expect {
            failures.push(format!(
                "line {}: {api} {patterns:?} {path:?}: want {expect}, got {got}",
                n + 1
            ));
        }
    }
    println!("dockerignore: {}/{total}", total - failures.len());
    assert_eq!(total, 137, "the file holds 137 cases");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dockerignore_cases_json_every_api() {
    let text = std::fs::read_to_string(data("dockerignore-cases.json")).expect("json cases");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let cases = doc["cases"].as_array().expect("cases");
    let (mut checks, mut failures) = (0, Vec::new());
    for case in cases {
        let patterns: Vec<String> = case["patterns"]
            .as_array()
            .expect("patterns")
            .iter()
            .map(|p| p.as_str().expect("pattern").to_string())
            .collect();
        let path = case["path"].as_str().expect("path");
        let pm = PatternMatcher::new(&patterns);
        let apis: [(&str, &str); 5] = [
            (
                "MatchesOrParentMatches",
                outcome(matches_or_parent_matches(path, &patterns)),
            ),
            ("Matches_deprecated", outcome(matches(path, &patterns))),
            (
                "pm.MatchesOrParentMatches",
                outcome(pm.clone().and_then(|m| m.matches_or_parent_matches(path))),
            ),
            (
                "MatchesUsingParentResults_nocontext",
                outcome(pm.clone().and_then(|m| {
                    m.matches_using_parent_results(path, &MatchInfo::default())
                        .map(|r| r.0)
                })),
            ),
            (
                "MatchesUsingParentResults_walk",
                walk_outcome(&patterns, path),
            ),
        ];
        for (api, got) in apis {
            let Some(want) = case.get(api).and_then(|v| v.as_str()) else {
                continue;
            };
            checks += 1;
            if got != want {
                failures.push(format!(
                    "{api} {patterns:?} {path:?}: want {want}, got {got}"
                ));
            }
        }
    }
    println!("dockerignore APIs: {}/{checks}", checks - failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn dockerignore_read_all() {
    let text = std::fs::read_to_string(data("dockerignore-readall-cases.json")).expect("readall");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let cases = doc["cases"].as_array().expect("cases");
    let mut passed = 0;
    for case in cases {
        let input = case["input"].as_str().unwrap_or("");
        let want: Vec<String> = case["expected_patterns"]
            .as_array()
            .expect("expected")
            .iter()
            .map(|p| p.as_str().expect("pattern").to_string())
            .collect();
        let got = read_ignore_patterns(input.as_bytes());
        assert_eq!(got, want, "input {input:?}");
        passed += 1;
    }
    println!("dockerignore ReadAll: {passed}/{}", cases.len());
    // A lone "!" survives ReadAll and is rejected by the matcher.
    assert!(PatternMatcher::new(&["!"]).is_err());
}

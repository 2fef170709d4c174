//! README's CLI reference against `--help`: every long flag of every command is listed, and
//! every flag listed exists, so the reference cannot rot.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::process::Command;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap()
}

/// The text of README's section that starts with the heading `heading`, to the next heading.
fn section<'a>(readme: &'a str, heading: &str) -> &'a str {
    let start = readme
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README has no heading {heading:?}"));
    let body = &readme[start + heading.len() + 2..];
    let end = body.find("\n#").unwrap_or(body.len());
    &body[..end]
}

/// The long flags (`--name`) in `text`, without `--help` and `--version`.
fn long_flags(text: &str) -> BTreeSet<String> {
    let flag = regex::Regex::new(r"(?:^|[^\w-])--([a-z][a-z-]*[a-z])").unwrap();
    flag.captures_iter(text)
        .map(|c| c[1].to_owned())
        .filter(|f| f != "help" && f != "version")
        .collect()
}

/// The long flags `hoist <command> --help` lists.
fn help_flags(command: &[&str]) -> BTreeSet<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(command)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{command:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let options = text.split("\nOptions:\n").nth(1).unwrap_or("");
    let line = regex::Regex::new(r"(?m)^\s+(?:-\w, )?--([a-z][a-z-]*)").unwrap();
    line.captures_iter(options)
        .map(|c| c[1].to_owned())
        .filter(|f| f != "help" && f != "version")
        .collect()
}

/// The first cells of the table rows in `text`.
fn first_cells(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split(" | ").next())
        .collect()
}

#[test]
fn readme_lists_every_flag_of_hoist_build() {
    let readme = readme();
    let table = section(&readme, "### `hoist build [OPTIONS] CONTEXT`");
    let listed: BTreeSet<String> = first_cells(table)
        .iter()
        .flat_map(|c| long_flags(c))
        .collect();
    assert_eq!(
        listed,
        help_flags(&["build"]),
        "README's hoist build flags vs --help"
    );
}

#[test]
fn readme_lists_every_other_command_with_its_flags() {
    let readme = readme();
    let table = section(&readme, "### Other commands");
    let mut seen = BTreeSet::new();
    for cell in first_cells(table) {
        let synopsis = cell.trim_start_matches("| `").trim_end_matches('`');
        let words: Vec<&str> = synopsis
            .split_whitespace()
            .skip(1)
            .take_while(|w| w.chars().all(|c| c.is_ascii_lowercase()))
            .collect();
        assert!(!words.is_empty(), "{cell}");
        assert_eq!(
            long_flags(synopsis),
            help_flags(&words),
            "README's `hoist {}` flags vs --help",
            words.join(" ")
        );
        seen.insert(words.join(" "));
    }
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    let commands = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .split("\n\n")
        .next()
        .unwrap();
    for line in commands.lines() {
        let name = line.split_whitespace().next().unwrap();
        // A command with subcommands (`debug`) is listed by its subcommands.
        let listed = seen
            .iter()
            .any(|s| s == name || s.starts_with(&format!("{name} ")));
        assert!(
            matches!(name, "help" | "build") || listed,
            "README's reference lacks `hoist {name}`"
        );
    }
}

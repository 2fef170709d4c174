//! Parser tests beyond the upstream goldens: positions, directives, line endings, errors and
//! hostile input.

use std::sync::Arc;

use proptest::prelude::*;

use super::{Ast, SyntaxError, parse};
use crate::error::ErrorKind;
use crate::source::{Position, SourceFile, Span};

fn ast(text: &str) -> Ast {
    parse(&SourceFile::new("Dockerfile", text)).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// The error's syntax kind and span.
fn failure(text: &str) -> (SyntaxError, Span) {
    let err = parse(&SourceFile::new("Dockerfile", text)).expect_err(text);
    let span = err.location().expect("located").span;
    match err.kind() {
        ErrorKind::Syntax(kind) => (kind.clone(), span),
        other => panic!("{other:?}"),
    }
}

fn span(start: (usize, usize), end: (usize, usize)) -> Span {
    Span::new(Position::new(start.0, start.1), Position::new(end.0, end.1))
}

#[test]
fn spans_run_from_keyword_to_last_character() {
    let a = ast("FROM a\n\n  RUN b \\\n   c  \n");
    assert_eq!(a.nodes[0].span, span((1, 1), (1, 6)));
    assert_eq!(a.nodes[1].span, span((3, 3), (4, 4)));
    assert_eq!(a.nodes[1].original, "RUN b    c  ");
}

#[test]
fn columns_count_characters_not_bytes() {
    let a = ast("FROM é\n\u{a0}RUN ü && \\\n  日本\n");
    assert_eq!(a.nodes[0].span, span((1, 1), (1, 6)));
    assert_eq!(a.nodes[1].span, span((2, 2), (3, 4)));
}

#[test]
fn heredoc_bodies_belong_to_the_span() {
    let a = ast("FROM a\nRUN <<EOF cat\nhello\n  EOF\nEOF\n");
    assert_eq!(a.nodes[1].span, span((2, 1), (5, 3)));
    assert_eq!(a.nodes[1].heredocs[0].content, "hello\n  EOF\n");
}

#[test]
fn onbuild_nests_with_its_own_position() {
    let a = ast("ONBUILD  --x RUN <<EOF\nhi\nEOF\nONBUILD MAINTAINER me\nONBUILD\n");
    let child = a.nodes[0].onbuild.as_deref().expect("nested");
    assert_eq!(child.keyword, "run");
    assert_eq!(child.original, "RUN <<EOF");
    assert_eq!(child.span.start, Position::new(1, 14));
    assert_eq!(a.nodes[0].flags, vec!["--x"]);
    assert_eq!(a.nodes[0].heredocs[0].content, "hi\n");
    assert_eq!(a.nodes[1].dump(), r#"(onbuild (maintainer "me"))"#);
    assert_eq!(a.nodes[2].dump(), "(onbuild)");
}

#[test]
fn onbuild_nesting_is_bounded() {
    let ok = ast(&format!("{}RUN x", "ONBUILD ".repeat(10)));
    assert!(ok.dump().starts_with("(onbuild (onbuild"));
    let (kind, _) = failure(&format!("{}RUN x", "onbuild ".repeat(1000)));
    assert_eq!(kind, SyntaxError::NestingTooDeep { max: 64 });
}

#[test]
fn backtick_escape_directive() {
    let a = ast("# escape=`\nFROM a\nRUN b `\n  c\nCOPY a\\b c\nRUN x \\\n");
    assert_eq!(a.directives.escape, '`');
    assert_eq!(a.nodes[1].args, vec!["b   c"]);
    assert_eq!(a.nodes[2].args, vec!["a\\b", "c"]);
    assert_eq!(a.nodes[3].args, vec!["x \\"]);
}

#[test]
fn bom_is_stripped_from_the_first_line_only() {
    let a = ast("\u{feff}# syntax=docker/dockerfile:1\n# check=skip=all\nFROM a\n");
    assert_eq!(a.directives.syntax.as_deref(), Some("docker/dockerfile:1"));
    assert_eq!(a.directives.check.as_deref(), Some("skip=all"));
    assert!(a.nodes[0].comments.is_empty());
    let a = ast("\u{feff}FROM a\n");
    assert_eq!(a.nodes[0].span, span((1, 1), (1, 6)));
    assert_eq!(a.dump(), "(from \"a\")\n");
}

#[test]
fn crlf_line_endings() {
    let a = ast("FROM a\r\nRUN b \\\r\n c\r\nRUN <<EOF\r\nhi\r\nEOF\r\n");
    assert_eq!(a.nodes[0].args, vec!["a"]);
    assert_eq!(a.nodes[1].args, vec!["b  c"]);
    assert_eq!(a.nodes[2].heredocs[0].content, "hi\r\n");
    assert_eq!(a.nodes[2].span.end, Position::new(6, 3));
}

#[test]
fn directive_errors_are_located() {
    let (kind, at) = failure("# escape=x\nFROM a\n");
    assert_eq!(
        kind.to_string(),
        "invalid escape token 'x' does not match ` or \\"
    );
    assert_eq!(at, span((1, 10), (1, 10)));
    let (kind, at) = failure("# syntax=a\n  # Syntax = b\nFROM a\n");
    assert_eq!(
        kind.to_string(),
        "only one syntax parser directive can be used"
    );
    assert_eq!(at, span((2, 3), (2, 14)));
}

#[test]
fn directives_after_other_lines_are_comments() {
    for text in [
        "# hello\n# escape=`\nFROM a",
        "\n# escape=`\nFROM a",
        "FROM a\n# escape=`\n",
    ] {
        assert_eq!(ast(text).directives.escape, '\\', "{text:?}");
    }
    let a = ast("# hello\n# escape=`\nFROM a");
    assert_eq!(a.nodes[0].comments, vec!["hello", "escape=`"]);
}

#[test]
fn comments_collect_like_prev_comment() {
    assert_eq!(ast("# a\n\n# b\nFROM x").nodes[0].comments, vec!["a", "b"]);
    assert_eq!(ast("# a\n#\n# b\nFROM x").nodes[0].comments, vec!["b"]);
    assert_eq!(ast("# syntax=x\n# a\nFROM x").nodes[0].comments, vec!["a"]);
    assert_eq!(ast("  # a\nFROM x").nodes[0].comments, vec!["# a"]);
    let a = ast("FROM x\nRUN a \\\n# inside\n  b\n");
    assert!(a.nodes[1].comments.is_empty());
    assert_eq!(a.nodes[1].args, vec!["a   b"]);
}

#[test]
fn unknown_instructions_are_kept() {
    let a = ast("FROM a\n  FOO bar\n\\\n");
    assert_eq!(a.nodes[1].keyword, "foo");
    assert_eq!(a.nodes[1].args, vec![""]);
    assert_eq!(a.nodes[1].span.start, Position::new(2, 3));
    assert_eq!(a.dump(), "(from \"a\")\n(foo \"\")\n(\"\")\n");
}

#[test]
fn argument_errors_cover_the_instruction() {
    let (kind, at) = failure("FROM a\nENV x \\\n\n");
    assert_eq!(
        kind,
        SyntaxError::MissingValue {
            keyword: "ENV".into()
        }
    );
    assert_eq!(at, span((2, 1), (3, 1)));
    let (kind, at) = failure("FROM a\n CMD [\"a\", 1]");
    assert_eq!(kind, SyntaxError::NotStringArray);
    assert_eq!(at, span((2, 2), (2, 13)));
    let (kind, at) = failure("FROM a\nRUN <<EOF\nx\n");
    assert_eq!(kind.to_string(), "unterminated heredoc");
    assert_eq!(at, span((2, 1), (3, 1)));
}

#[test]
fn empty_files_and_long_lines() {
    assert_eq!(failure("").0, SyntaxError::NoInstructions);
    assert_eq!(failure("# only\n\n").1, Span::point(2, 1));
    let (kind, at) = failure(&format!("FROM a\n{}\n", "x".repeat(70_000)));
    assert_eq!(
        kind.to_string(),
        "dockerfile line greater than max allowed size of 65535"
    );
    assert_eq!(at, Span::point(2, 1));
}

#[test]
fn heredocs_only_where_buildkit_reads_them() {
    let a = ast("FROM a\nRUN [\"<<EOF\"]\nENV a <<EOF\nCOPY <<A <<'B' /d\na\nA\nb\nB\n");
    assert!(a.nodes[1].heredocs.is_empty());
    assert!(a.nodes[2].heredocs.is_empty());
    let names: Vec<_> = a.nodes[3]
        .heredocs
        .iter()
        .map(|h| (&*h.name, h.expand))
        .collect();
    assert_eq!(names, vec![("A", true), ("B", false)]);
    let chomped = ast("RUN <<-X\n\t\ta\n\tX\n");
    assert_eq!(chomped.nodes[0].heredocs[0].body(), "a\n");
}

/// Fragments that exercise every rule of the parser when glued together at random.
const TOKENS: &[&str] = &[
    "RUN ",
    "ONBUILD ",
    "COPY ",
    "ENV ",
    "ARG ",
    "HEALTHCHECK ",
    "CMD ",
    "FROM ",
    "LABEL ",
    "--",
    "=",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\\",
    "`",
    "#",
    "# escape=`\n",
    "<<",
    "<<-",
    "EOF",
    "'",
    "\"",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "$",
    "${",
    "1",
    "1e999",
    "\u{a0}",
    "\u{85}",
    "é",
    "\u{800}",
    "\u{feff}",
    "\u{0}",
    "a",
    "null",
    "\\u12",
    "\\ud800",
];

fn token() -> impl Strategy<Value = &'static str> {
    prop::sample::select(TOKENS)
}

proptest! {
    #[test]
    fn hostile_input_never_panics(tokens in prop::collection::vec(token(), 0..60)) {
        let text: String = tokens.concat();
        let source = SourceFile::new("Dockerfile", text);
        if let Ok(ast) = parse(&source) {
            let _ = ast.dump();
            prop_assert!(Arc::ptr_eq(&ast.source, &source));
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&SourceFile::new("Dockerfile", text));
    }
}

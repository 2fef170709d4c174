//! The line-oriented parser: directives, continuations, comments, heredocs, per-keyword arguments.
//!
//! A port of BuildKit's `parser.Parse`: each instruction starts on a line that is not blank and
//! not a comment, takes the following lines while they end in the escape character (skipping
//! comment and blank lines in between), is split into keyword, flags and arguments, and then,
//! for `RUN`, `COPY` and `ADD` in shell form, takes the bodies of its heredocs.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::source::{Position, SourceFile, Span};

use super::args::{Args, parse_args};
use super::directives::DirectiveParser;
use super::heredoc::heredocs_from_line;
use super::lines::{Joined, Lines, MAX_LINE_LEN, RawLine, is_blank, is_comment, trim_continuation};
use super::split::split_command;
use super::{Ast, Node, SyntaxError, Warning};

/// How deep `ONBUILD` may nest (BuildKit's instruction layer rejects any nesting; the limit
/// keeps hostile input from exhausting the stack).
const MAX_ONBUILD_DEPTH: usize = 64;

/// Parses a Dockerfile into its [`Ast`].
///
/// Errors carry the file and the span of the offending text. Unknown keywords are kept (with
/// one empty argument, as BuildKit does); rejecting them is the instruction layer's job.
///
/// ```
/// use builder_core::{SourceFile, dockerfile};
///
/// let source = SourceFile::new("Dockerfile", "FROM alpine AS base\nRUN echo \\\n  hi\n");
/// let ast = dockerfile::parse(&source)?;
/// assert_eq!(ast.dump(), "(from \"alpine\" \"AS\" \"base\")\n(run \"echo   hi\")\n");
/// assert_eq!((ast.nodes[1].span.start.line, ast.nodes[1].span.end.line), (2, 3));
/// # Ok::<(), builder_core::Error>(())
/// ```
pub fn parse(source: &Arc<SourceFile>) -> Result<Ast> {
    let mut parser = Parser {
        source,
        lines: Lines::new(source.text()),
        directives: DirectiveParser::default(),
        comments: Vec::new(),
        nodes: Vec::new(),
        warnings: Vec::new(),
    };
    while parser.next_instruction()? {}
    parser.finish()
}

/// The parse state: the line scanner and what has been found so far.
#[derive(Debug)]
struct Parser<'a> {
    source: &'a Arc<SourceFile>,
    lines: Lines<'a>,
    directives: DirectiveParser,
    comments: Vec<String>,
    nodes: Vec<Node>,
    warnings: Vec<Warning>,
}

impl<'a> Parser<'a> {
    fn error(&self, kind: SyntaxError, span: Span) -> Error {
        Error::new(kind).at(self.source, span)
    }

    fn escape(&self) -> char {
        self.directives.directives.escape
    }

    /// Reads the next instruction (or a blank/comment line). Returns false at the end.
    fn next_instruction(&mut self) -> Result<bool> {
        let Some(first) = self.lines.next() else {
            return Ok(false);
        };
        self.collect_comment(first);
        let content = first.content();
        let lead = content.len() - content.trim_start().len();
        let token = content.get(lead..).unwrap_or_default();
        match self.directives.parse_line(token) {
            Ok(true) => drop(self.comments.pop()),
            Ok(false) => {}
            Err((kind, range)) => {
                let start = Position::new(first.number, first.column_of(lead + range.start));
                let end = Position::new(first.number, first.column_of(lead + range.end) - 1);
                return Err(self.error(kind, Span::new(start, end.max(start))));
            }
        }
        let token = if is_comment(token) { "" } else { token };
        let (keep, is_end) = trim_continuation(token, self.escape());
        if is_end && keep == 0 {
            return Ok(true);
        }
        let mut joined = Joined::default();
        joined.push(first, lead, lead + keep);
        let (mut last, has_empty) = self.continuation(&mut joined, first, is_end);
        if has_empty {
            self.warn_empty_continuation(&joined.text, last);
        }
        let start = joined.position(0).unwrap_or(Position::new(first.number, 1));
        let mut node = self
            .node_from_line(&joined, 0, &joined.text, last.end(), 0)
            .map_err(|kind| self.error(kind, Span::new(start, last.end())))?;
        node.comments = std::mem::take(&mut self.comments);
        if can_contain_heredoc(&node) && joined.text.contains("<<") {
            let span = |last: RawLine<'_>| Span::new(node.span.start, last.end());
            let docs =
                heredocs_from_line(&joined.text).map_err(|kind| self.error(kind, span(last)))?;
            for doc in docs {
                let doc = self.heredoc_body(doc, &mut last);
                node.heredocs
                    .push(doc.map_err(|kind| self.error(kind, span(last)))?);
            }
        }
        node.span.end = last.end();
        self.nodes.push(node);
        Ok(true)
    }

    /// Records a comment line for the next instruction's `comments` (BuildKit's PrevComment):
    /// an empty `#` line forgets the comments collected so far.
    fn collect_comment(&mut self, line: RawLine<'_>) {
        if !is_comment(line.text) {
            return;
        }
        // Like BuildKit, drop the line's first byte (the `#`, or a blank before it).
        let rest = line.text.as_bytes().get(1..).unwrap_or_default();
        let comment = String::from_utf8_lossy(rest).trim().to_string();
        if comment.is_empty() {
            self.comments.clear();
        } else {
            self.comments.push(comment);
        }
    }

    /// Appends continuation lines until one does not end in the escape character. Returns the
    /// last line read and whether a blank line was skipped.
    fn continuation(
        &mut self,
        joined: &mut Joined<'a>,
        first: RawLine<'a>,
        mut is_end: bool,
    ) -> (RawLine<'a>, bool) {
        let mut last = first;
        let mut has_empty = false;
        while !is_end {
            let Some(line) = self.lines.next() else { break };
            last = line;
            if is_comment(line.text) {
                continue;
            }
            if is_blank(line.text) {
                has_empty = true;
                continue;
            }
            let (keep, end) = trim_continuation(line.content(), self.escape());
            joined.push(line, 0, keep);
            is_end = end;
        }
        (last, has_empty)
    }

    fn warn_empty_continuation(&mut self, text: &str, last: RawLine<'_>) {
        self.warnings.push(Warning {
            short: format!("Empty continuation line found in: {text}"),
            detail: "Empty continuation lines will become errors in a future release".into(),
            url: Some("https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/".into()),
            span: Span::new(Position::new(last.number, 1), last.end()),
        });
    }

    /// BuildKit's `newNodeFromLine`: `text` starts at byte `at` of `joined`.
    fn node_from_line(
        &self,
        joined: &Joined<'_>,
        at: usize,
        text: &str,
        end: Position,
        depth: usize,
    ) -> Result<Node, SyntaxError> {
        let split = split_command(text);
        let keyword = go_lower(split.keyword);
        let start = joined.position(at + split.keyword_at).unwrap_or(end);
        let mut onbuild = None;
        let args = if keyword == "onbuild" {
            if depth >= MAX_ONBUILD_DEPTH {
                return Err(SyntaxError::NestingTooDeep {
                    max: MAX_ONBUILD_DEPTH,
                });
            }
            if !split.args.is_empty() {
                let child_at = at + split.args_at;
                let child = self.node_from_line(joined, child_at, &split.args, end, depth + 1)?;
                onbuild = Some(Box::new(child));
            }
            Args::default()
        } else {
            parse_args(&keyword, &split.args, self.escape())?
        };
        Ok(Node {
            keyword,
            flags: split.flags,
            args: args.words,
            onbuild,
            json: args.json,
            heredocs: Vec::new(),
            original: text.to_string(),
            comments: Vec::new(),
            span: Span::new(start, end.max(start)),
        })
    }

    /// Reads a heredoc's body up to its delimiter line; `last` follows the lines read.
    fn heredoc_body(
        &mut self,
        mut doc: super::Heredoc,
        last: &mut RawLine<'a>,
    ) -> Result<super::Heredoc, SyntaxError> {
        for line in self.lines.by_ref() {
            *last = line;
            let content = line.content();
            let candidate = if doc.chomp {
                content.trim_start_matches('\t')
            } else {
                content
            };
            if candidate == doc.name {
                return Ok(doc);
            }
            doc.content.push_str(line.text);
        }
        Err(SyntaxError::UnterminatedHeredoc { name: doc.name })
    }

    fn finish(self) -> Result<Ast> {
        if self.nodes.is_empty() {
            let line = self.lines.current().max(1);
            return Err(self.error(SyntaxError::NoInstructions, Span::point(line, 1)));
        }
        if let Some(line) = self.lines.too_long() {
            let kind = SyntaxError::LineTooLong { max: MAX_LINE_LEN };
            return Err(self.error(kind, Span::point(line, 1)));
        }
        Ok(Ast {
            source: Arc::clone(self.source),
            directives: self.directives.directives,
            nodes: self.nodes,
            warnings: self.warnings,
        })
    }
}

/// Whether BuildKit reads heredocs for the instruction: `RUN`, `COPY`, `ADD` (also as an
/// `ONBUILD` trigger) in shell form.
fn can_contain_heredoc(node: &Node) -> bool {
    let node = match (&node.onbuild, node.keyword.as_str()) {
        (Some(child), "onbuild") => child,
        _ => node,
    };
    matches!(node.keyword.as_str(), "add" | "copy" | "run") && !node.json
}

/// Go's `strings.ToLower`: per character, with U+0130 mapping to a plain `i`.
fn go_lower(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\u{130}' {
            out.push('i');
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

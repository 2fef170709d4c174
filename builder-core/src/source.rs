//! Source text with names and positions: what every error points into.
//!
//! A [`SourceFile`] owns the text of a Dockerfile (or any other input Hoist reports on) and
//! knows where its lines start, so that a [`Span`] can be turned back into the line it covers
//! and rendered as a snippet with a caret under the offending columns.

use std::fmt;
use std::sync::Arc;

/// A named text, with the byte offset of each line start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    name: String,
    text: String,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Wraps `text` under `name` (a path as the user gave it, or `<stdin>`).
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Arc<Self> {
        let text = text.into();
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Arc::new(SourceFile {
            name: name.into(),
            text,
            line_starts,
        })
    }

    /// The name the file is reported under.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The whole text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The number of lines (a final line without a newline counts; an empty text has one line).
    pub fn line_count(&self) -> usize {
        self.line_starts.len()
    }

    /// Line `n` (1-based) without its line terminator, or `None` past the end.
    pub fn line(&self, n: usize) -> Option<&str> {
        let start = *self.line_starts.get(n.checked_sub(1)?)?;
        let end = self
            .line_starts
            .get(n)
            .map_or(self.text.len(), |next| next - 1);
        let line = &self.text[start..end];
        Some(line.strip_suffix('\r').unwrap_or(line))
    }
}

/// A position in a source: 1-based line and 1-based column, counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Position {
    /// The line, starting at 1.
    pub line: usize,
    /// The column, starting at 1, in characters (not bytes).
    pub column: usize,
}

impl Position {
    /// A position at `line`, `column` (both 1-based).
    pub const fn new(line: usize, column: usize) -> Self {
        Position { line, column }
    }
}

/// A range of a source: from `start` up to (and including) `end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Span {
    /// The first character covered.
    pub start: Position,
    /// The last character covered (inclusive); equal to `start` for a point.
    pub end: Position,
}

impl Span {
    /// A span from `start` to `end` (inclusive).
    pub const fn new(start: Position, end: Position) -> Self {
        Span { start, end }
    }

    /// A span covering one character.
    pub const fn point(line: usize, column: usize) -> Self {
        let p = Position::new(line, column);
        Span { start: p, end: p }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.start.line, self.start.column)
    }
}

/// Renders `message` at `span` of `source` the way compilers do:
///
/// ```text
/// error: unknown instruction: FORM
///  --> Dockerfile:3:1
///   |
/// 3 | FORM alpine
///   | ^^^^
/// ```
///
/// The caret line underlines the span on its first line (to the end of that line when the span
/// continues below).
pub fn render_snippet(source: &SourceFile, span: Span, message: &str) -> String {
    let line_no = span.start.line;
    let gutter = line_no.to_string().len();
    let pad = " ".repeat(gutter);
    let mut out = format!(
        "error: {message}\n{pad}--> {}:{}:{}\n",
        source.name(),
        span.start.line,
        span.start.column
    );
    if let Some(line) = source.line(line_no) {
        let shown: String = line
            .chars()
            .map(|c| if c == '\t' { ' ' } else { c })
            .collect();
        let width = shown.chars().count();
        let first = span.start.column.max(1);
        let last = if span.end.line == line_no {
            span.end.column.max(first)
        } else {
            width.max(first)
        };
        let carets = "^".repeat(last - first + 1);
        out.push_str(&format!("{pad} |\n{line_no} | {shown}\n{pad} | "));
        out.push_str(&" ".repeat(first - 1));
        out.push_str(&carets);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_found_without_terminators() {
        let f = SourceFile::new("Dockerfile", "FROM a\r\nRUN b\n\nCMD c");
        assert_eq!(f.line_count(), 4);
        assert_eq!(f.line(1), Some("FROM a"));
        assert_eq!(f.line(2), Some("RUN b"));
        assert_eq!(f.line(3), Some(""));
        assert_eq!(f.line(4), Some("CMD c"));
        assert_eq!(f.line(5), None);
        assert_eq!(f.line(0), None);
    }

    #[test]
    fn snippet_underlines_the_span() {
        let f = SourceFile::new("Dockerfile", "FROM a\nFORM b\n");
        let s = render_snippet(
            &f,
            Span::new(Position::new(2, 1), Position::new(2, 4)),
            "unknown instruction: FORM",
        );
        assert_eq!(
            s,
            "error: unknown instruction: FORM\n --> Dockerfile:2:1\n  |\n2 | FORM b\n  | ^^^^\n"
        );
    }
}

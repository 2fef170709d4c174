//! Physical lines: BuildKit's line scanner, comment and continuation rules, and the map from
//! a joined (continued) instruction line back to source positions.

use crate::source::Position;

/// The longest line BuildKit's `bufio.Scanner` accepts, without its `\n`.
pub(super) const MAX_LINE_LEN: usize = 64 * 1024 - 1;

/// One physical line of the source.
#[derive(Debug, Clone, Copy)]
pub(super) struct RawLine<'a> {
    /// The 1-based line number.
    pub number: usize,
    /// The text including its `\n` (if any), without a leading byte-order mark.
    pub text: &'a str,
}

impl<'a> RawLine<'a> {
    /// The text without trailing `\r` and `\n` characters (BuildKit's `trimNewline`).
    pub fn content(&self) -> &'a str {
        trim_newline(self.text)
    }

    /// The column (1-based, in characters) of byte offset `byte` of the line.
    pub fn column_of(&self, byte: usize) -> usize {
        let prefix = self.text.get(..byte).unwrap_or(self.text);
        prefix.chars().count() + 1
    }

    /// The column of the line's last non-blank character (1 for a blank line).
    pub fn last_column(&self) -> usize {
        self.content().trim_end().chars().count().max(1)
    }

    /// The position of the line's last non-blank character.
    pub fn end(&self) -> Position {
        Position::new(self.number, self.last_column())
    }
}

/// Splits a text into lines as BuildKit's scanner does: on `\n`, keeping it; the first line
/// loses a UTF-8 byte-order mark; a line longer than [`MAX_LINE_LEN`] stops the scan.
#[derive(Debug)]
pub(super) struct Lines<'a> {
    rest: &'a str,
    number: usize,
    too_long: Option<usize>,
}

impl<'a> Lines<'a> {
    /// A scanner over `text`.
    pub fn new(text: &'a str) -> Self {
        Lines {
            rest: text,
            number: 0,
            too_long: None,
        }
    }

    /// The number of the last line returned (0 before the first).
    pub fn current(&self) -> usize {
        self.number
    }

    /// The number of the line that was too long, if the scan stopped on one.
    pub fn too_long(&self) -> Option<usize> {
        self.too_long
    }
}

impl<'a> Iterator for Lines<'a> {
    type Item = RawLine<'a>;

    fn next(&mut self) -> Option<RawLine<'a>> {
        if self.too_long.is_some() || self.rest.is_empty() {
            return None;
        }
        let end = self.rest.find('\n').map_or(self.rest.len(), |i| i + 1);
        let (mut text, rest) = self.rest.split_at(end);
        if text.trim_end_matches('\n').len() > MAX_LINE_LEN {
            self.too_long = Some(self.number + 1);
            return None;
        }
        self.rest = rest;
        self.number += 1;
        if self.number == 1 {
            text = text.strip_prefix('\u{feff}').unwrap_or(text);
        }
        Some(RawLine {
            number: self.number,
            text,
        })
    }
}

/// `text` without trailing `\r` and `\n` characters.
pub(super) fn trim_newline(text: &str) -> &str {
    text.trim_end_matches(['\r', '\n'])
}

/// Whether the line's first non-blank character is `#`.
pub(super) fn is_comment(text: &str) -> bool {
    text.trim_start().starts_with('#')
}

/// Whether the line is blank (BuildKit's `isEmptyContinuationLine`).
pub(super) fn is_blank(text: &str) -> bool {
    trim_newline(text).trim_start().is_empty()
}

/// BuildKit's `trimContinuationCharacter`: returns how many bytes of `line` to keep and
/// whether the line ends the instruction.
///
/// A line continues when it ends in the escape character followed only by spaces and tabs,
/// unless that escape character is itself escaped (preceded by another one).
pub(super) fn trim_continuation(line: &str, escape: char) -> (usize, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    let Some(before) = trimmed.strip_suffix(escape) else {
        return (line.len(), true);
    };
    if before.is_empty() || !before.ends_with(escape) {
        (before.len(), false)
    } else {
        (line.len(), true)
    }
}

/// A piece of a joined instruction line and where it came from.
#[derive(Debug, Clone, Copy)]
struct Segment<'a> {
    /// Byte offset of the piece in the joined line.
    at: usize,
    /// The physical line it was taken from.
    line: RawLine<'a>,
    /// Byte offset of the piece in that line.
    start: usize,
}

/// An instruction's text after continuation lines are joined, with the source of each piece.
#[derive(Debug, Default)]
pub(super) struct Joined<'a> {
    /// The joined text (BuildKit's `Original`).
    pub text: String,
    segments: Vec<Segment<'a>>,
}

impl<'a> Joined<'a> {
    /// Appends `line.text[start..end]`.
    pub fn push(&mut self, line: RawLine<'a>, start: usize, end: usize) {
        let piece = line.text.get(start..end).unwrap_or("");
        self.segments.push(Segment {
            at: self.text.len(),
            line,
            start,
        });
        self.text.push_str(piece);
    }

    /// The source position of byte `offset` of the joined text.
    pub fn position(&self, offset: usize) -> Option<Position> {
        let seg = self.segments.iter().rev().find(|s| s.at <= offset)?;
        let byte = seg.start + (offset - seg.at);
        Some(Position::new(seg.line.number, seg.line.column_of(byte)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scanner_keeps_newlines_and_strips_the_bom_once() {
        let lines: Vec<_> = Lines::new("\u{feff}a\r\n\u{feff}b\nc")
            .map(|l| l.text)
            .collect();
        assert_eq!(lines, vec!["a\r\n", "\u{feff}b\n", "c"]);
    }

    #[test]
    fn scanner_stops_on_a_too_long_line() {
        let text = format!("a\n{}\nb\n", "x".repeat(MAX_LINE_LEN + 1));
        let mut lines = Lines::new(&text);
        assert_eq!(lines.next().map(|l| l.number), Some(1));
        assert!(lines.next().is_none());
        assert_eq!(lines.too_long(), Some(2));
        let ok = format!("{}\n", "x".repeat(MAX_LINE_LEN));
        assert_eq!(Lines::new(&ok).count(), 1);
    }

    #[test]
    fn continuation_follows_buildkit_regex() {
        assert_eq!(trim_continuation("RUN a \\", '\\'), (6, false));
        assert_eq!(trim_continuation("RUN a \\ \t", '\\'), (6, false));
        assert_eq!(trim_continuation("\\", '\\'), (0, false));
        assert_eq!(trim_continuation("RUN a \\\\", '\\'), (8, true));
        assert_eq!(trim_continuation("RUN a", '\\'), (5, true));
        assert_eq!(trim_continuation("FROM `", '`'), (5, false));
        assert_eq!(trim_continuation("é\\", '\\'), (2, false));
    }

    #[test]
    fn joined_offsets_map_back_to_lines_and_columns() {
        let mut lines = Lines::new("  RUN a \\\n\tb");
        let first = lines.next().expect("line 1");
        let second = lines.next().expect("line 2");
        let mut joined = Joined::default();
        joined.push(first, 2, 8);
        joined.push(second, 0, 2);
        assert_eq!(joined.text, "RUN a \tb");
        assert_eq!(joined.position(0), Some(Position::new(1, 3)));
        assert_eq!(joined.position(7), Some(Position::new(2, 2)));
    }
}

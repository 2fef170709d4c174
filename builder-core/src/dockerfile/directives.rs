//! Parser directives (`# syntax=`, `# escape=`, `# check=`): BuildKit's `DirectiveParser`.
//!
//! Directives are only recognised while every line so far has been a directive: the first
//! line that is not one (a blank line, another comment, an instruction, an unknown directive)
//! ends the search, and later lines of that shape are plain comments.

use std::ops::Range;

use super::{Directives, SyntaxError};

/// A directive error and the byte range of the offending text in the line.
pub(super) type DirectiveError = (SyntaxError, Range<usize>);

/// The state of the directive search.
#[derive(Debug, Default)]
pub(super) struct DirectiveParser {
    done: bool,
    seen: Vec<String>,
    /// The directives found so far.
    pub directives: Directives,
}

/// A `name=value` directive found on a line, with byte ranges into the line.
struct Found {
    name: String,
    value: Range<usize>,
}

impl DirectiveParser {
    /// Looks at one line (newline trimmed; for a first line, leading blanks trimmed).
    /// Returns whether the line was a directive.
    pub fn parse_line(&mut self, line: &str) -> Result<bool, DirectiveError> {
        if self.done {
            return Ok(false);
        }
        let Some(found) = match_directive(line) else {
            self.done = true;
            return Ok(false);
        };
        if !matches!(found.name.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(false);
        }
        if self.seen.contains(&found.name) {
            let name = found.name;
            return Err((SyntaxError::DuplicateDirective { name }, 0..line.len()));
        }
        self.seen.push(found.name.clone());
        let value = line
            .get(found.value.clone())
            .unwrap_or_default()
            .to_string();
        match found.name.as_str() {
            "escape" => self.set_escape(value, found.value)?,
            "syntax" => self.directives.syntax = Some(value),
            _ => self.directives.check = Some(value),
        }
        Ok(true)
    }

    fn set_escape(&mut self, value: String, range: Range<usize>) -> Result<(), DirectiveError> {
        match value.as_str() {
            "\\" => self.directives.escape = '\\',
            "`" => self.directives.escape = '`',
            _ => return Err((SyntaxError::InvalidEscapeToken { token: value }, range)),
        }
        Ok(())
    }
}

/// Go's `\s` in RE2: `[\t\n\f\r ]`.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// Matches `#`, blanks, then `^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$`.
fn match_directive(line: &str) -> Option<Found> {
    let after_hash = line.strip_prefix('#')?;
    let body = after_hash.trim_start();
    let name_len = body
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit())))
        .map_or(body.len(), |(i, _)| i);
    if name_len == 0 {
        return None;
    }
    let (name, rest) = body.split_at(name_len);
    let rest = rest.trim_start_matches(is_re_space).strip_prefix('=')?;
    let rest_at = line.len() - rest.len();
    let lead = rest.len() - rest.trim_start_matches(is_re_space).len();
    let value = if lead == rest.len() {
        // All blank: the lazy `.+?` still takes the last character.
        let last = rest.chars().next_back()?;
        rest.len() - last.len_utf8()..rest.len()
    } else {
        lead..rest.trim_end_matches(is_re_space).len()
    };
    Some(Found {
        name: name.to_ascii_lowercase(),
        value: rest_at + value.start..rest_at + value.end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_lines(lines: &[&str]) -> Result<Directives, SyntaxError> {
        let mut p = DirectiveParser::default();
        for line in lines {
            p.parse_line(line).map_err(|(e, _)| e)?;
        }
        Ok(p.directives)
    }

    #[test]
    fn recognises_directives_case_insensitively() {
        let d = parse_lines(&[
            "# Syntax = docker/dockerfile:1",
            "#ESCAPE=`",
            "# check=skip=all",
        ])
        .expect("valid");
        assert_eq!(d.syntax.as_deref(), Some("docker/dockerfile:1"));
        assert_eq!(d.escape, '`');
        assert_eq!(d.check.as_deref(), Some("skip=all"));
    }

    #[test]
    fn stops_at_the_first_non_directive() {
        let d = parse_lines(&["# comment", "# escape=`"]).expect("valid");
        assert_eq!(d.escape, '\\');
        let d = parse_lines(&["", "# escape=`"]).expect("valid");
        assert_eq!(d.escape, '\\');
        let d = parse_lines(&["# foo=bar", "# escape=`"]).expect("valid");
        assert_eq!(d.escape, '\\');
    }

    #[test]
    fn duplicate_and_invalid_escape_are_errors() {
        let err = parse_lines(&["# escape=`", "# Escape=\\"]).expect_err("duplicate");
        assert_eq!(
            err.to_string(),
            "only one escape parser directive can be used"
        );
        let mut p = DirectiveParser::default();
        let (err, range) = p.parse_line("# escape = x ").expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "invalid escape token 'x' does not match ` or \\"
        );
        assert_eq!(range, 11..12);
    }

    #[test]
    fn value_matches_the_lazy_regex() {
        let found = match_directive("#syntax=  ").expect("matches");
        assert_eq!(found.value, 9..10);
        assert!(match_directive("# syntax=").is_none());
        assert!(match_directive("# 1syntax=x").is_none());
        assert!(match_directive("#\tsyntax\t=\tx y \t").is_some_and(|f| f.value == (11..14)));
    }
}

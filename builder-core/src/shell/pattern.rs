//! Shell patterns of `${VAR#p}`, `${VAR%p}` and `${VAR/p/r}`, matched as regular expressions.
//!
//! Like BuildKit, a pattern is converted to a regular expression: `*` is any string (shortest
//! or longest), `?` any one character, `\*`, `\?` and `\\` literal; bracket expressions are
//! not supported. The shortest *suffix* cannot be found by a leftmost regex search, so `%`
//! reverses both the pattern and the value and trims a prefix instead.
//!
//! The escape in patterns is always `\`, whatever the lexer's escape character (as upstream).

use regex::{NoExpand, Regex};

use super::error::PatternError;

/// Converts a shell pattern to a regex: `greedy` makes `*` longest, `anchored` adds `^`.
pub(crate) fn to_regex(pattern: &str, greedy: bool, anchored: bool) -> Result<Regex, PatternError> {
    // Go's `text/scanner` skips a byte order mark at the start of its input.
    let pattern = pattern.strip_prefix('\u{FEFF}').unwrap_or(pattern);
    let mut chars = pattern.chars().peekable();
    let mut out = String::with_capacity(pattern.len() + 4);
    if anchored {
        out.push('^');
    }
    let star = if greedy { ".*" } else { ".*?" };
    while let Some(ch) = chars.next() {
        match ch {
            '*' => out.push_str(star),
            '?' => out.push('.'),
            '\\' => {
                // `\}` and `\/` are escapes of `${}` syntax, not of the pattern: drop the `\`.
                if matches!(chars.peek(), Some('}' | '/')) {
                    continue;
                }
                match chars.next() {
                    Some(escaped @ ('*' | '?' | '\\')) => {
                        out.push('\\');
                        out.push(escaped);
                    }
                    // Go's `%c` of the end-of-input rune prints U+FFFD.
                    other => return Err(PatternError::InvalidEscape(other.unwrap_or('\u{FFFD}'))),
                }
            }
            '[' | ']' | '{' | '}' | '.' | '+' | '(' | ')' | '|' | '^' | '$' => {
                out.push('\\');
                out.push(ch);
            }
            _ => out.push(ch),
        }
    }
    Regex::new(&out).map_err(|e| PatternError::Regex(e.to_string()))
}

/// Reverses a pattern, keeping each `\x` escape in order (`a\*c` -> `c\*a`).
pub(crate) fn reverse_pattern(pattern: &str) -> String {
    let mut units: Vec<String> = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(ch) = chars.next() {
        let mut unit = String::from(ch);
        // A trailing `\` has nothing to escape: it stays a unit of its own.
        if ch == '\\' {
            unit.extend(chars.next());
        }
        units.push(unit);
    }
    units.iter().rev().map(String::as_str).collect()
}

/// Removes the shortest (or with `greedy` the longest) prefix of `value` matching `pattern`.
pub(crate) fn trim_prefix(
    pattern: &str,
    value: &str,
    greedy: bool,
) -> Result<String, PatternError> {
    let re = to_regex(pattern, greedy, true)?;
    Ok(match re.find(value) {
        Some(m) => value.get(m.end()..).unwrap_or_default().to_string(),
        None => value.to_string(),
    })
}

/// Removes the shortest (or with `greedy` the longest) suffix of `value` matching `pattern`.
pub(crate) fn trim_suffix(
    pattern: &str,
    value: &str,
    greedy: bool,
) -> Result<String, PatternError> {
    let reversed: String = value.chars().rev().collect();
    let trimmed = trim_prefix(&reverse_pattern(pattern), &reversed, greedy)?;
    Ok(trimmed.chars().rev().collect())
}

/// Replaces the first match of `pattern` (longest `*`) with `replacement`, taken literally,
/// or with `all` every match, `$1`/`${name}` in `replacement` expanded (Go's `ReplaceAllString`).
pub(crate) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, PatternError> {
    let re = to_regex(pattern, true, false)?;
    if all {
        return Ok(re.replace_all(value, replacement).into_owned());
    }
    Ok(re.replacen(value, 1, NoExpand(replacement)).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_like_buildkit() {
        let cases = [
            ("*", "^.*"),
            ("?", "^."),
            ("\\*", "^\\*"),
            (
                "(()[]{\\}^$.\\*\\?|\\\\",
                "^\\(\\(\\)\\[\\]\\{\\}\\^\\$\\.\\*\\?\\|\\\\",
            ),
        ];
        for (pattern, expected) in cases {
            let re = to_regex(pattern, true, true).map(|re| re.as_str().to_string());
            assert_eq!(re.as_deref(), Ok(expected), "{pattern:?}");
        }
        for invalid in ["\\", "\\x", "\\\\\\"] {
            assert!(to_regex(invalid, true, true).is_err(), "{invalid:?}");
        }
        assert_eq!(
            to_regex("\\", true, true).err(),
            Some(PatternError::InvalidEscape('\u{FFFD}'))
        );
    }

    #[test]
    fn reverses_patterns_like_buildkit() {
        let cases = [
            ("a\\*c", "c\\*a"),
            ("\\\\\\ab", "b\\a\\\\"),
            ("ab\\", "\\ba"),
            ("👽\\🚀🖖", "🖖\\🚀👽"),
            ("\\\\b", "b\\\\"),
        ];
        for (pattern, expected) in cases {
            assert_eq!(reverse_pattern(pattern), expected, "{pattern:?}");
        }
    }

    #[test]
    fn trims_and_replaces() {
        assert_eq!(trim_prefix("*x", "xxyy", false).as_deref(), Ok("xyy"));
        assert_eq!(trim_prefix("*x", "xxyy", true).as_deref(), Ok("yy"));
        assert_eq!(trim_suffix("y*", "xxyy", false).as_deref(), Ok("xxy"));
        assert_eq!(trim_suffix("y*", "xxyy", true).as_deref(), Ok("xx"));
        assert_eq!(
            trim_suffix("한*", "한국어한", false).as_deref(),
            Ok("한국어")
        );
        assert_eq!(replace("", "ab", "-", true).as_deref(), Ok("-a-b-"));
        assert_eq!(replace("x*", "bxxb", "-", true).as_deref(), Ok("b-"));
        // An empty match right after a match is skipped, as in Go.
        assert_eq!(replace("*", "ab", "-", true).as_deref(), Ok("-"));
        assert_eq!(replace("b", "abab", "$0$0", true).as_deref(), Ok("abbabb"));
        assert_eq!(replace("b", "abab", "$0", false).as_deref(), Ok("a$0ab"));
    }
}

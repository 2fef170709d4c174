//! Errors of word expansion.
//!
//! Every variant carries the word as written; `Display` prints BuildKit's message,
//! `failed to process "<word>": <reason>`, with the word quoted as Go's `%q` does.

use std::fmt;

/// Why a word could not be expanded. Messages follow BuildKit's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShellError {
    /// A quote is not closed before the end of the word.
    #[error(
        "failed to process {}: unexpected end of statement while looking for matching {quote}",
        GoQuoted(word)
    )]
    UnterminatedQuote {
        /// The word as written.
        word: String,
        /// Which quote is open.
        quote: Quote,
    },
    /// `${` is not closed by `}`.
    #[error("failed to process {}: syntax error: missing '}}'", GoQuoted(word))]
    MissingBrace {
        /// The word as written.
        word: String,
    },
    /// `${VAR/pattern` has no `/` after the pattern.
    #[error(
        "failed to process {}: syntax error: missing '/' in ${{}}",
        GoQuoted(word)
    )]
    MissingSlash {
        /// The word as written.
        word: String,
    },
    /// `${}`, `${{...`, `${:...`: no variable name where one must be.
    #[error("failed to process {}: syntax error: bad substitution", GoQuoted(word))]
    BadSubstitution {
        /// The word as written.
        word: String,
    },
    /// `${...}` forms nested deeper than [`Lexer::MAX_NESTING`](super::Lexer::MAX_NESTING).
    ///
    /// BuildKit has no such limit (Go's growable stacks make unbounded recursion safe there);
    /// here it keeps hostile input from overflowing the stack.
    #[error(
        "failed to process {}: syntax error: substitutions nested deeper than {max}",
        GoQuoted(word)
    )]
    NestingTooDeep {
        /// The word as written.
        word: String,
        /// The limit that was exceeded.
        max: usize,
    },
    /// `${VAR<modifier>...}` with a modifier BuildKit does not support (`:=`, `=`, `:#`, ...).
    #[error(
        "failed to process {}: unsupported modifier ({modifier}) in substitution",
        GoQuoted(word)
    )]
    UnsupportedModifier {
        /// The word as written.
        word: String,
        /// The modifier: one or two characters, `\u{FFFD}` standing for the end of the word.
        modifier: String,
    },
    /// `${VAR:?msg}` or `${VAR?msg}` on an unset (or empty) variable.
    #[error("failed to process {}: {name}: {message}", GoQuoted(word))]
    Required {
        /// The word as written.
        word: String,
        /// The variable.
        name: String,
        /// The message given after `?` (or BuildKit's default).
        message: String,
    },
    /// The pattern of `${VAR#p}`, `${VAR%p}` or `${VAR/p/r}` is not a valid pattern.
    #[error(
        "failed to process {}: invalid pattern ({pattern}) in substitution: {reason}",
        GoQuoted(word)
    )]
    InvalidPattern {
        /// The word as written.
        word: String,
        /// The pattern after expansion.
        pattern: String,
        /// What is wrong with it.
        reason: PatternError,
    },
}

impl ShellError {
    /// The word whose expansion failed, as written.
    pub fn word(&self) -> &str {
        match self {
            ShellError::UnterminatedQuote { word, .. }
            | ShellError::MissingBrace { word }
            | ShellError::MissingSlash { word }
            | ShellError::BadSubstitution { word }
            | ShellError::NestingTooDeep { word, .. }
            | ShellError::UnsupportedModifier { word, .. }
            | ShellError::Required { word, .. }
            | ShellError::InvalidPattern { word, .. } => word,
        }
    }
}

/// The two quotes of the shell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quote {
    /// `'...'`: everything literal.
    Single,
    /// `"..."`: variables expanded, `\` escapes `"`, `$` and itself.
    Double,
}

impl fmt::Display for Quote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quote::Single => "single-quote",
            Quote::Double => "double-quote",
        })
    }
}

/// Why a shell pattern (`*`, `?`, `\x`) could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternError {
    /// `\` followed by something other than `*`, `?`, `\`, `}` or `/`.
    #[error("invalid escape '\\{0}'")]
    InvalidEscape(char),
    /// The regular expression the pattern became could not be compiled (too large).
    #[error("{0}")]
    Regex(String),
}

/// Formats a string as Go's `%q` (`strconv.Quote`) does, for BuildKit's exact messages.
struct GoQuoted<'a>(&'a str);

impl fmt::Display for GoQuoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        f.write_char('"')?;
        for ch in self.0.chars() {
            match ch {
                '"' | '\\' => write!(f, "\\{ch}")?,
                '\u{7}' => f.write_str("\\a")?,
                '\u{8}' => f.write_str("\\b")?,
                '\u{c}' => f.write_str("\\f")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                '\u{b}' => f.write_str("\\v")?,
                c if is_go_printable(c) => f.write_char(c)?,
                c if (c as u32) < 0x80 => write!(f, "\\x{:02x}", c as u32)?,
                c if (c as u32) < 0x10000 => write!(f, "\\u{:04x}", c as u32)?,
                c => write!(f, "\\U{:08x}", c as u32)?,
            }
        }
        f.write_char('"')
    }
}

/// Approximates Go's `unicode.IsPrint` without Unicode category tables: controls, separators
/// other than the ASCII space, and the common format characters are not printable.
fn is_go_printable(ch: char) -> bool {
    if ch == ' ' {
        return true;
    }
    let format = matches!(
        ch,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e000}'..='\u{f8ff}'
    );
    !(ch.is_control() || ch.is_whitespace() || format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_quoting_matches_strconv_quote() {
        let quoted = |s: &str| GoQuoted(s).to_string();
        assert_eq!(quoted("he\\\\'llo"), r#""he\\\\'llo""#);
        assert_eq!(quoted("\"안녕\t"), r#""\"안녕\t""#);
        assert_eq!(quoted("a\u{0}b\u{7f}"), r#""a\x00b\x7f""#);
        assert_eq!(quoted("\u{a0}\u{feff}"), r#""\u00a0\ufeff""#);
        assert_eq!(quoted("é👽"), "\"é👽\"");
    }

    #[test]
    fn messages_are_buildkit_s() {
        let err = ShellError::UnterminatedQuote {
            word: "he'llo".into(),
            quote: Quote::Single,
        };
        assert_eq!(
            err.to_string(),
            "failed to process \"he'llo\": unexpected end of statement while looking for \
             matching single-quote"
        );
        let err = ShellError::InvalidPattern {
            word: "${A#\\x}".into(),
            pattern: "\\x".into(),
            reason: PatternError::InvalidEscape('x'),
        };
        assert_eq!(
            err.to_string(),
            "failed to process \"${A#\\\\x}\": invalid pattern (\\x) in substitution: \
             invalid escape '\\x'"
        );
    }
}

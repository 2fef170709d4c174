//! A character cursor with one character of look-ahead, like Go's `text/scanner` as BuildKit
//! uses it (`Peek` and `Next` only), and the character classes of Go's `unicode` package.

use std::str::Chars;
use std::sync::LazyLock;

use regex::Regex;

/// Reads a word one `char` at a time; `None` is the end of the word.
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    rest: Chars<'a>,
}

impl<'a> Scanner<'a> {
    /// A scanner over `text`; a leading byte order mark is skipped, as `text/scanner` does.
    pub(crate) fn new(text: &'a str) -> Self {
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        Scanner { rest: text.chars() }
    }

    /// The next character, not consumed.
    pub(crate) fn peek(&self) -> Option<char> {
        self.rest.clone().next()
    }

    /// Consumes and returns the next character.
    pub(crate) fn next(&mut self) -> Option<char> {
        self.rest.next()
    }

    /// Whether the whole word has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.rest.as_str().is_empty()
    }
}

/// Go's `unicode.IsDigit`: a decimal digit (category Nd), narrower than `char::is_numeric`.
pub(crate) fn is_digit(ch: char) -> bool {
    static ND: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{Nd}$").ok());
    if ch.is_ascii() {
        return ch.is_ascii_digit();
    }
    match ND.as_ref() {
        Some(re) => re.is_match(ch.encode_utf8(&mut [0; 4])),
        None => ch.is_numeric(),
    }
}

/// Go's `unicode.IsLetter`: a letter (category L), narrower than `char::is_alphabetic`.
pub(crate) fn is_letter(ch: char) -> bool {
    static L: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^\p{L}$").ok());
    if ch.is_ascii() {
        return ch.is_ascii_alphabetic();
    }
    match L.as_ref() {
        Some(re) => re.is_match(ch.encode_utf8(&mut [0; 4])),
        None => ch.is_alphabetic(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_go_unicode() {
        assert!(is_digit('7') && is_digit('٣') && !is_digit('²') && !is_digit('Ⅻ'));
        assert!(is_letter('a') && is_letter('한') && !is_letter('_') && !is_letter('Ⅻ'));
        assert!(!is_letter('\u{301}'));
    }

    #[test]
    fn skips_a_leading_bom_only() {
        let mut scanner = Scanner::new("\u{FEFF}a\u{FEFF}");
        assert_eq!(scanner.peek(), Some('a'));
        assert_eq!(scanner.next(), Some('a'));
        assert_eq!(scanner.next(), Some('\u{FEFF}'));
        assert!(scanner.at_end());
        assert_eq!(scanner.next(), None);
    }
}

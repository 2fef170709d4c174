//! BuildKit's `splitCommand` and `extractBuilderFlags`: keyword, `--flags`, rest of the line.

use std::borrow::Cow;

/// An instruction line split into its parts, with byte offsets into the line.
#[derive(Debug)]
pub(super) struct Split<'a> {
    /// The keyword as written.
    pub keyword: &'a str,
    /// Byte offset of the keyword.
    pub keyword_at: usize,
    /// The leading `--flags`, as BuildKit extracts them.
    pub flags: Vec<String>,
    /// The arguments after the flags, trimmed.
    pub args: Cow<'a, str>,
    /// Byte offset of the arguments (the line's length when there are none).
    pub args_at: usize,
}

/// BuildKit's token separator for the keyword: `[\t\v\f\r ]+`.
fn is_token_space(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// Go's `unicode.IsSpace` applied to a byte taken as a rune (Latin-1), as
/// `extractBuilderFlags` does.
fn is_byte_space(b: u8) -> bool {
    char::from(b).is_whitespace()
}

/// Splits `line` into keyword, flags and arguments.
pub(super) fn split_command(line: &str) -> Split<'_> {
    let trimmed = line.trim();
    let trimmed_at = line.len() - line.trim_start().len();
    let Some(sep) = trimmed.find(is_token_space) else {
        return Split {
            keyword: trimmed,
            keyword_at: trimmed_at,
            flags: Vec::new(),
            args: Cow::Borrowed(""),
            args_at: line.len(),
        };
    };
    let keyword = trimmed.get(..sep).unwrap_or(trimmed);
    let rest = trimmed
        .get(sep..)
        .unwrap_or("")
        .trim_start_matches(is_token_space);
    let rest_at = trimmed_at + (trimmed.len() - rest.len());
    let (args_start, flags) = extract_builder_flags(rest);
    let (args, args_at) = match rest.get(args_start..) {
        Some(tail) => {
            let args = tail.trim();
            let at = rest_at + args_start + (tail.len() - tail.trim_start().len());
            (Cow::Borrowed(args), at)
        }
        // Byte-wise flag scanning stopped inside a character: keep what Go would, lossily.
        None => {
            let bytes = rest.as_bytes().get(args_start..).unwrap_or_default();
            let args = String::from_utf8_lossy(bytes).trim().to_string();
            (Cow::Owned(args), rest_at + args_start)
        }
    };
    Split {
        keyword,
        keyword_at: trimmed_at,
        flags,
        args,
        args_at,
    }
}

/// The scanner state of [`extract_builder_flags`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Spaces,
    Word,
    Quote(u8),
}

/// Takes the leading `--name[=value]` words off `line`. Returns the byte offset where the
/// remaining arguments start (the line's length when none remain) and the flags.
///
/// Like BuildKit, this scans bytes, not characters: a non-ASCII byte is taken as the Latin-1
/// character of the same value, and `\` escapes the next byte.
pub(super) fn extract_builder_flags(line: &str) -> (usize, Vec<String>) {
    let bytes = line.as_bytes();
    let mut words = Vec::new();
    let mut word = String::new();
    let mut phase = Phase::Spaces;
    let mut blank_ok = false;
    let mut pos = 0;
    while pos < bytes.len() {
        let b = bytes[pos];
        if phase == Phase::Spaces {
            if is_byte_space(b) {
                pos += 1;
                continue;
            }
            if b != b'-' || bytes.get(pos + 1) != Some(&b'-') {
                return (pos, words);
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word if is_byte_space(b) => {
                phase = Phase::Spaces;
                if word == "--" {
                    return (pos, words);
                }
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                word.clear();
                blank_ok = false;
            }
            Phase::Word if b == b'\'' || b == b'"' => {
                phase = Phase::Quote(b);
                blank_ok = true;
            }
            Phase::Quote(q) if b == q => phase = Phase::Word,
            _ if b == b'\\' => match bytes.get(pos + 1) {
                Some(&next) => {
                    word.push(char::from(next));
                    pos += 1;
                }
                None if matches!(phase, Phase::Quote(_)) => phase = Phase::Word,
                None => {}
            },
            _ => word.push(char::from(b)),
        }
        pos += 1;
    }
    if phase != Phase::Spaces && word != "--" && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    (bytes.len(), words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(line: &str) -> (&str, Vec<String>) {
        let (at, flags) = extract_builder_flags(line);
        (line.get(at..).unwrap_or("?"), flags)
    }

    #[test]
    fn flags_are_taken_until_the_first_plain_word() {
        assert_eq!(
            flags("--a=b --c foo bar"),
            ("foo bar", vec!["--a=b".into(), "--c".into()])
        );
        assert_eq!(flags("-- foo"), (" foo", vec![]));
        assert_eq!(flags("--a -- --b"), (" --b", vec!["--a".to_string()]));
        assert_eq!(flags("-x"), ("-x", vec![]));
        assert_eq!(flags("--a=\"x y\" z"), ("z", vec!["--a=x y".to_string()]));
        assert_eq!(flags("--a=''"), ("", vec!["--a=".to_string()]));
        assert_eq!(flags("--"), ("", vec![]));
    }

    #[test]
    fn command_split_keeps_offsets() {
        let s = split_command("  COPY\t--from=a  x  y ");
        assert_eq!((s.keyword, s.keyword_at), ("COPY", 2));
        assert_eq!(s.flags, vec!["--from=a".to_string()]);
        assert_eq!((s.args.as_ref(), s.args_at), ("x  y", 17));
        let s = split_command("RUN");
        assert_eq!((s.keyword, s.args.as_ref()), ("RUN", ""));
    }

    #[test]
    fn non_ascii_flags_are_scanned_bytewise() {
        // U+00E9 is C3 A9: each byte becomes its own Latin-1 character, as in BuildKit.
        let s = split_command("COPY --from=é x");
        assert_eq!(s.flags, vec!["--from=\u{c3}\u{a9}".to_string()]);
        // U+0800 is E0 A0 80: A0 (NBSP as Latin-1) ends the flag word mid-character.
        let s = split_command("COPY --a\u{800}b");
        assert_eq!(s.flags, vec!["--a\u{e0}".to_string()]);
        assert_eq!(s.args, "\u{fffd}b");
    }
}

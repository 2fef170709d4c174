//! The JSON (exec) form: a JSON array of strings, read with the rules of Go's
//! `encoding/json` that BuildKit's `parseJSON` relies on.
//!
//! Which JSON is *invalid* matters as much as which is valid: invalid JSON makes BuildKit fall
//! back to the shell form, while valid JSON with a non-string element is an error. So this
//! follows Go: the same grammar and whitespace, a nesting limit of 10000, numbers that overflow
//! a float64 rejected, and bad `\u` surrogates decoded as U+FFFD.

/// What a `[`-prefixed argument turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum JsonArray {
    /// A valid JSON array of strings.
    Strings(Vec<String>),
    /// A valid JSON array with a non-string element.
    NotStrings,
    /// Not a JSON array (does not start with `[`, or is not valid JSON).
    Invalid,
}

/// Go's `encoding/json` nesting limit.
const MAX_DEPTH: usize = 10_000;

/// Reads `rest` as BuildKit's `parseJSON` does.
pub(super) fn parse_json_array(rest: &str) -> JsonArray {
    let text = rest.trim_start();
    if !text.starts_with('[') {
        return JsonArray::Invalid;
    }
    let mut cursor = Cursor {
        bytes: text.as_bytes(),
        pos: 1,
        overflow: false,
    };
    match cursor.top_array() {
        Some(items) if !cursor.overflow => match items.into_iter().collect() {
            Some(strings) => JsonArray::Strings(strings),
            None => JsonArray::NotStrings,
        },
        _ => JsonArray::Invalid,
    }
}

/// A position in the JSON text.
#[derive(Debug)]
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
    overflow: bool,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> Option<()> {
        self.skip_ws();
        (self.peek() == Some(b)).then(|| self.pos += 1)
    }

    /// The elements of the top-level array (`None` for a non-string element), after `[`.
    fn top_array(&mut self) -> Option<Vec<Option<String>>> {
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                if self.peek() == Some(b'"') {
                    items.push(Some(self.string()?));
                } else {
                    self.value(1)?;
                    items.push(None);
                }
                self.skip_ws();
                match self.peek() {
                    Some(b',') => self.pos += 1,
                    Some(b']') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.skip_ws();
        (self.pos == self.bytes.len()).then_some(items)
    }

    /// Skips one value of any kind, iteratively; `depth` is the nesting it sits in.
    fn value(&mut self, depth: usize) -> Option<()> {
        let mut stack: Vec<u8> = Vec::new();
        loop {
            self.skip_ws();
            match self.peek()? {
                open @ (b'[' | b'{') => {
                    self.pos += 1;
                    stack.push(open);
                    if depth + stack.len() > MAX_DEPTH {
                        return None;
                    }
                    let close = if open == b'[' { b']' } else { b'}' };
                    if self.eat(close).is_none() {
                        if open == b'{' {
                            self.key()?;
                        }
                        continue;
                    }
                    stack.pop();
                }
                b'"' => drop(self.string()?),
                b't' => self.literal(b"true")?,
                b'f' => self.literal(b"false")?,
                b'n' => self.literal(b"null")?,
                b'-' | b'0'..=b'9' => self.number()?,
                _ => return None,
            }
            if self.close_containers(&mut stack)? {
                return Some(());
            }
        }
    }

    /// After a value: closes finished containers. Returns true when the outermost value is
    /// complete, false when another value is expected (after `,` or a key).
    fn close_containers(&mut self, stack: &mut Vec<u8>) -> Option<bool> {
        while let Some(&top) = stack.last() {
            self.skip_ws();
            match (top, self.peek()?) {
                (_, b',') => {
                    self.pos += 1;
                    if top == b'{' {
                        self.key()?;
                    }
                    return Some(false);
                }
                (b'[', b']') | (b'{', b'}') => {
                    self.pos += 1;
                    stack.pop();
                }
                _ => return None,
            }
        }
        Some(true)
    }

    /// An object key and its colon.
    fn key(&mut self) -> Option<()> {
        self.skip_ws();
        if self.peek() != Some(b'"') {
            return None;
        }
        self.string()?;
        self.eat(b':')
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.bytes.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// A number; records whether it overflows a float64 (Go then fails to decode it).
    fn number(&mut self) -> Option<()> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.required_digits()?;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            self.required_digits()?;
        }
        let text = std::str::from_utf8(self.bytes.get(start..self.pos)?).ok()?;
        if text.parse::<f64>().map_or(true, f64::is_infinite) {
            self.overflow = true;
        }
        Some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
    }

    fn required_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }

    /// A string at `"`, decoded as Go does.
    fn string(&mut self) -> Option<String> {
        self.pos += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let b = self.peek()?;
            self.pos += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                b'\\' => self.escape(&mut out)?,
                0..=0x1f => return None,
                _ => out.push(b),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Option<()> {
        let b = self.peek()?;
        self.pos += 1;
        let c = match b {
            b'"' | b'\\' | b'/' => char::from(b),
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => self.unicode_escape()?,
            _ => return None,
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        Some(())
    }

    /// The character of a `\uXXXX` escape (after `\u`), pairing surrogates like Go.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4(self.pos)?;
        self.pos += 4;
        if !(0xD800..0xE000).contains(&first) {
            return char::from_u32(first);
        }
        let second = (self.bytes.get(self.pos..self.pos + 2) == Some(b"\\u"))
            .then(|| self.hex4(self.pos + 2))
            .flatten();
        match second {
            Some(low) if first < 0xDC00 && (0xDC00..0xE000).contains(&low) => {
                self.pos += 6;
                char::from_u32(0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00))
            }
            _ => Some('\u{fffd}'),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = std::str::from_utf8(self.bytes.get(at..at + 4)?).ok()?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        u32::from_str_radix(digits, 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &[&str]) -> JsonArray {
        JsonArray::Strings(v.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn string_arrays_are_decoded() {
        assert_eq!(
            parse_json_array(r#" ["a", "b c"] "#),
            strings(&["a", "b c"])
        );
        assert_eq!(parse_json_array("[]"), strings(&[]));
        assert_eq!(parse_json_array(r#"["\u00e9\n\/"]"#), strings(&["é\n/"]));
        assert_eq!(parse_json_array(r#"["\ud83d\ude00"]"#), strings(&["😀"]));
        assert_eq!(parse_json_array(r#"["\ud83dx"]"#), strings(&["\u{fffd}x"]));
        assert_eq!(
            parse_json_array(r#"["\ude00\u0041"]"#),
            strings(&["\u{fffd}A"])
        );
    }

    #[test]
    fn valid_non_string_elements_are_reported() {
        for text in [
            r#"["a", 1]"#,
            "[null]",
            r#"[["x"]]"#,
            r#"[{"a": [1, {}]}]"#,
            "[-0.5e+3]",
        ] {
            assert_eq!(parse_json_array(text), JsonArray::NotStrings, "{text}");
        }
    }

    #[test]
    fn invalid_json_falls_back() {
        for text in [
            "['a']",
            r#"["a""#,
            r#"["a",]"#,
            r#"["a"] x"#,
            "[01]",
            "[1e400]",
            r#"["\x"]"#,
            "[\"a\tb\"]",
            "[tru]",
            r#"{"a": 1}"#,
            r#"[{"a" 1}]"#,
            "",
        ] {
            assert_eq!(parse_json_array(text), JsonArray::Invalid, "{text}");
        }
    }

    #[test]
    fn nesting_is_limited_like_go() {
        let ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert_eq!(parse_json_array(&ok), JsonArray::NotStrings);
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(parse_json_array(&deep), JsonArray::Invalid);
    }
}

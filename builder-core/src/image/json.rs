//! Canonical JSON bytes: compact, in a fixed key order, escaped as Go's `encoding/json` does.

use std::io;

use serde::Serialize;
use serde_json::ser::{CharEscape, CompactFormatter, Formatter};

/// Serialises `value` compactly, with Go's string escaping (`<`, `>`, `&`, U+2028 and U+2029 as
/// `\u003c`, `\u003e`, `\u0026`, `\u2028`, `\u2029`).
///
/// Key order comes from the types: struct fields in declaration order, maps sorted (every map in
/// this module is a `BTreeMap`, and serde_json's `Value` is one too, as long as no crate turns
/// on its `preserve_order` feature). With Go's escaping, a config or manifest that BuildKit or
/// Docker wrote reads back to the same bytes.
pub fn canonical_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Writing into a Vec cannot fail, and every type serialised here has string map keys.
    if value.serialize(&mut ser).is_err() {
        out.clear();
    }
    out
}

/// serde_json's compact output with Go's HTML-safe escaping of strings.
struct GoFormatter;

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escape = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escape.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }

    fn write_char_escape<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        char_escape: CharEscape,
    ) -> io::Result<()> {
        CompactFormatter.write_char_escape(writer, char_escape)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        let s = "a<b>&c\u{2028}\"\n\u{1}é";
        assert_eq!(
            String::from_utf8(canonical_json(s)).unwrap(),
            r#""a\u003cb\u003e\u0026c\u2028\"\n\u0001é""#
        );
    }

    #[test]
    fn value_maps_are_sorted() {
        // Guards against a dependency turning on serde_json's `preserve_order`.
        let v: serde_json::Value = serde_json::from_str(r#"{"b":1,"a":2}"#).unwrap();
        assert_eq!(canonical_json(&v), br#"{"a":2,"b":1}"#);
    }
}

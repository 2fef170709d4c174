//! The per-instruction argument parsers of BuildKit's dispatch table (`line_parsers.go`):
//! which words an instruction's arguments split into. `ONBUILD` is handled by the parser,
//! which nests a whole instruction.

use super::SyntaxError;
use super::ast::go_quote;
use super::json::{JsonArray, parse_json_array};

/// The argument words of an instruction and whether they were written in JSON form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Args {
    /// The words (BuildKit's `Next` chain).
    pub words: Vec<String>,
    /// Whether the JSON (exec) form was used.
    pub json: bool,
}

impl Args {
    fn words(words: Vec<String>) -> Self {
        Args { words, json: false }
    }

    fn one(word: &str) -> Self {
        Args::words(vec![word.to_string()])
    }
}

/// Parses the (trimmed) arguments of the instruction `keyword` (lower case), other than
/// `ONBUILD`. Unknown keywords keep one empty word, like BuildKit's `parseIgnore`.
pub(super) fn parse_args(keyword: &str, rest: &str, escape: char) -> Result<Args, SyntaxError> {
    match keyword {
        "add" | "copy" | "volume" => maybe_json_to_list(rest),
        "arg" => Ok(Args::words(parse_words(rest, escape))),
        "cmd" | "entrypoint" | "run" | "shell" => maybe_json(rest),
        "env" => name_val(rest, "ENV", escape),
        "label" => name_val(rest, "LABEL", escape),
        "expose" | "from" => Ok(strings_whitespace_delimited(rest)),
        "healthcheck" => health_config(rest),
        "maintainer" | "stopsignal" | "user" | "workdir" => Ok(string(rest)),
        _ => Ok(Args::one("")),
    }
}

/// BuildKit's `[\t\v\f\r ]` whitespace class.
fn is_re_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

/// BuildKit's `parseString`: the whole rest as one word.
fn string(rest: &str) -> Args {
    if rest.is_empty() {
        Args::default()
    } else {
        Args::one(rest)
    }
}

/// BuildKit's `parseStringsWhitespaceDelimited`.
fn strings_whitespace_delimited(rest: &str) -> Args {
    if rest.is_empty() {
        return Args::default();
    }
    Args::words(go_split(rest, usize::MAX))
}

/// Go's `regexp.Split` on `[\t\v\f\r ]+` with at most `n` pieces.
fn go_split(s: &str, n: usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while pieces.len() + 1 < n {
        let Some(start) = rest.find(is_re_whitespace) else {
            break;
        };
        let (piece, tail) = rest.split_at(start);
        pieces.push(piece.to_string());
        rest = tail.trim_start_matches(is_re_whitespace);
    }
    pieces.push(rest.to_string());
    pieces
}

/// BuildKit's `parseMaybeJSON`: JSON form, or the whole rest as one word.
fn maybe_json(rest: &str) -> Result<Args, SyntaxError> {
    if rest.is_empty() {
        return Ok(Args::default());
    }
    match parse_json_array(rest) {
        JsonArray::Strings(words) => Ok(Args { words, json: true }),
        JsonArray::NotStrings => Err(SyntaxError::NotStringArray),
        JsonArray::Invalid => Ok(Args::one(rest)),
    }
}

/// BuildKit's `parseMaybeJSONToList`: JSON form, or whitespace-separated words.
fn maybe_json_to_list(rest: &str) -> Result<Args, SyntaxError> {
    match parse_json_array(rest) {
        JsonArray::Strings(words) => Ok(Args { words, json: true }),
        JsonArray::NotStrings => Err(SyntaxError::NotStringArray),
        JsonArray::Invalid => Ok(strings_whitespace_delimited(rest)),
    }
}

/// BuildKit's `parseHealthConfig`: the type word (`CMD`, `NONE`), then `parseMaybeJSON`.
///
/// Like BuildKit, the type word ends at the first byte that is a space as a Latin-1 character.
fn health_config(rest: &str) -> Result<Args, SyntaxError> {
    let bytes = rest.as_bytes();
    let is_space = |b: &u8| char::from(*b).is_whitespace();
    let sep = bytes.iter().position(is_space).unwrap_or(bytes.len());
    if sep == 0 {
        return Ok(Args::default());
    }
    let next = bytes
        .iter()
        .skip(sep)
        .position(|b| !is_space(b))
        .map_or(bytes.len(), |i| sep + i);
    let lossy = |range: &[u8]| String::from_utf8_lossy(range).into_owned();
    let kind = lossy(bytes.get(..sep).unwrap_or_default());
    let cmd = lossy(bytes.get(next..).unwrap_or_default());
    let cmd = maybe_json(&cmd)?;
    let mut words = vec![kind];
    words.extend(cmd.words);
    Ok(Args {
        words,
        json: cmd.json,
    })
}

/// BuildKit's `parseNameVal` for `ENV` and `LABEL`: `name=value ...` words, or the legacy
/// `name value` form, which gives `name`, `value` and an empty separator word.
fn name_val(rest: &str, keyword: &str, escape: char) -> Result<Args, SyntaxError> {
    let words = parse_words(rest, escape);
    let Some(first) = words.first() else {
        return Ok(Args::default());
    };
    if !first.contains('=') {
        let parts = go_split(rest, 2);
        let [name, value] = parts.as_slice() else {
            let keyword = keyword.to_string();
            return Err(SyntaxError::MissingValue { keyword });
        };
        return Ok(Args::words(vec![
            name.clone(),
            value.clone(),
            String::new(),
        ]));
    }
    let mut out = Vec::with_capacity(words.len() * 3);
    for word in &words {
        let Some((name, value)) = word.split_once('=') else {
            let quoted = go_quote(word);
            return Err(SyntaxError::MissingEquals { quoted });
        };
        out.extend([name.to_string(), value.to_string(), "=".to_string()]);
    }
    Ok(Args::words(out))
}

/// The scanner state of [`parse_words`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Spaces,
    Word,
    Quote(char),
}

/// BuildKit's `parseWords`: splits on blanks outside quotes, keeping quotes and escapes.
pub(super) fn parse_words(rest: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut phase = Phase::Spaces;
    let mut blank_ok = false;
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if phase == Phase::Spaces {
            if c.is_whitespace() {
                continue;
            }
            phase = Phase::Word;
        }
        match phase {
            Phase::Word if c.is_whitespace() => {
                phase = Phase::Spaces;
                if blank_ok || !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                blank_ok = false;
                continue;
            }
            Phase::Word if c == '\'' || c == '"' => {
                phase = Phase::Quote(c);
                blank_ok = true;
            }
            Phase::Quote(q) if c == q => phase = Phase::Word,
            _ => {}
        }
        let escapes = match phase {
            Phase::Quote('\'') => false,
            Phase::Quote(_) | Phase::Word | Phase::Spaces => true,
        };
        if c == escape && escapes {
            match chars.next() {
                Some(next) => {
                    word.push(c);
                    word.push(next);
                }
                None => phase = Phase::Word,
            }
            continue;
        }
        word.push(c);
    }
    if phase != Phase::Spaces && (blank_ok || !word.is_empty()) {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(keyword: &str, rest: &str) -> Vec<String> {
        parse_args(keyword, rest, '\\').expect("parses").words
    }

    #[test]
    fn env_forms() {
        assert_eq!(words("env", "name value"), vec!["name", "value", ""]);
        assert_eq!(words("env", "a=b c=d"), vec!["a", "b", "=", "c", "d", "="]);
        assert_eq!(words("env", "name=\"v v1\""), vec!["name", "\"v v1\"", "="]);
        assert_eq!(words("env", "a  b c"), vec!["a", "b c", ""]);
        let err = parse_args("env", "PATH", '\\').expect_err("no value");
        assert_eq!(err.to_string(), "ENV must have two arguments");
        let err = parse_args("label", "a=b c", '\\').expect_err("no =");
        assert_eq!(
            err.to_string(),
            "Syntax error - can't find = in \"c\". Must be of the form: name=value"
        );
    }

    #[test]
    fn arg_and_words() {
        assert_eq!(
            words("arg", "abc=\"123 456\" def"),
            vec!["abc=\"123 456\"", "def"]
        );
        assert_eq!(
            parse_words("a\\ b 'c\\ d' \"e\\\"f\"", '\\'),
            vec!["a\\ b", "'c\\ d'", "\"e\\\"f\""]
        );
        assert_eq!(parse_words("''", '\\'), vec!["''"]);
        assert_eq!(parse_words("a\\", '\\'), vec!["a"]);
        assert_eq!(parse_words("a`", '`'), vec!["a"]);
    }

    #[test]
    fn json_and_shell_forms() {
        let args = parse_args("cmd", "[\"a\", \"b\"]", '\\').expect("parses");
        assert_eq!(
            (args.words, args.json),
            (vec!["a".into(), "b".into()], true)
        );
        assert_eq!(words("cmd", "['echo','x']"), vec!["['echo','x']"]);
        assert_eq!(words("volume", "/a  /b"), vec!["/a", "/b"]);
        assert_eq!(words("copy", "[\"a\" b"), vec!["[\"a\"", "b"]);
        let err = parse_args("cmd", "[\"a\", [\"b\"]]", '\\').expect_err("nested");
        assert_eq!(err, SyntaxError::NotStringArray);
        assert!(words("volume", "").is_empty());
    }

    #[test]
    fn healthcheck_and_unknown() {
        assert_eq!(
            words("healthcheck", "CMD  /check --q"),
            vec!["CMD", "/check --q"]
        );
        assert_eq!(words("healthcheck", "NONE"), vec!["NONE"]);
        assert_eq!(words("frobnicate", "a b"), vec![""]);
        assert_eq!(words("from", "a AS b"), vec!["a", "AS", "b"]);
    }
}

//! Heredocs (`<<EOF`, `<<-EOF`, `<<'EOF'`, `3<<EOF`): which words of an instruction open one,
//! with BuildKit's rules for names, expansion and tab stripping.
//!
//! BuildKit finds heredocs by splitting the whole instruction line with its shell lexer
//! (quotes and escapes kept raw, unset variables kept as written). The small lexer here is a
//! port of just that part of `frontend/dockerfile/shell`, with an empty environment; the full
//! lexer lives in [`crate::shell`].

use super::ast::go_quote;
use super::{Heredoc, SyntaxError};

/// BuildKit's heredoc lexer always uses `\`, whatever the `escape` directive says.
const ESCAPE: char = '\\';

/// How deep `${...}` may nest before the lexer gives up (BuildKit has no limit; Go's
/// growable stacks make that safe there).
const MAX_NESTING: usize = 128;

/// The heredocs opened on an instruction line, in order, with empty content.
pub(super) fn heredocs_from_line(line: &str) -> Result<Vec<Heredoc>, SyntaxError> {
    // Like BuildKit, a line the lexer cannot split has no heredocs.
    let Ok(words) = process_words(line, true, true) else {
        return Ok(Vec::new());
    };
    let mut docs = Vec::new();
    for word in &words {
        if let Some(doc) = parse_heredoc(word)? {
            docs.push(doc);
        }
    }
    Ok(docs)
}

/// Matches `^(\d*)<<(-?)\s*([^<]*)$` and reads the delimiter word (BuildKit's `ParseHeredoc`).
pub(super) fn parse_heredoc(word: &str) -> Result<Option<Heredoc>, SyntaxError> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let (fd, after) = word.split_at(digits);
    let Some(after) = after.strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, rest) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    // Go's `\s`: the blanks the lexer kept after `<<`.
    let rest = rest.trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    if rest.contains('<') || rest.is_empty() {
        return Ok(None);
    }
    let invalid = |message| SyntaxError::Invalid { message };
    let words = process_words(rest, false, false).map_err(invalid)?;
    let [name] = words.as_slice() else {
        return Ok(None);
    };
    let raw = process_words(rest, true, false).map_err(invalid)?;
    let [raw_name] = raw.as_slice() else {
        return Err(invalid(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        )));
    };
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    Ok(Some(Heredoc {
        name: name.clone(),
        content: String::new(),
        expand: quotes(name) == quotes(raw_name),
        chomp,
        file_descriptor: fd.bytes().fold(0u64, |n, d| {
            n.checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .unwrap_or(u64::MAX)
        }),
    }))
}

/// BuildKit's `ChompHeredocContent`: removes the leading tabs of every line.
pub(super) fn chomp(content: &str) -> String {
    content
        .split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

/// Splits `input` into words like BuildKit's `Lex.ProcessWords` with an empty environment and
/// `SkipUnsetEnv`. The error is BuildKit's message.
fn process_words(input: &str, raw_quotes: bool, raw_escapes: bool) -> Result<Vec<String>, String> {
    let mut chars: Vec<char> = input.chars().collect();
    // Go's text/scanner skips a byte-order mark at the start of its input.
    if chars.first() == Some(&'\u{feff}') {
        chars.remove(0);
    }
    let mut lexer = WordLexer {
        chars,
        pos: 0,
        raw_quotes,
        depth: 0,
    };
    lexer
        .process_stop_on(None, raw_escapes)
        .map(|(_, words)| words)
        .map_err(|e| format!("failed to process {}: {e}", go_quote(input)))
}

/// Words being collected (BuildKit's `wordsStruct`).
#[derive(Debug, Default)]
struct Words {
    words: Vec<String>,
    word: String,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, c: char) {
        if c.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(c);
        }
    }

    fn add_raw_char(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        s.chars().for_each(|c| self.add_char(c));
    }

    fn add_raw_string(&mut self, s: &str) {
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(self.word);
        }
        self.words
    }
}

/// The scanner state of the word lexer (BuildKit's `shellWord`).
#[derive(Debug)]
struct WordLexer {
    chars: Vec<char>,
    pos: usize,
    raw_quotes: bool,
    depth: usize,
}

impl WordLexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        Some(c)
    }

    /// Processes up to `stop` (or the end): the text and the words.
    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), String> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(c) = self.peek() {
            if stop == Some(c) {
                self.pos += 1;
                return Ok((result, words.finish()));
            }
            match c {
                '\'' | '"' => {
                    let quoted = if c == '\'' {
                        self.single_quote()?
                    } else {
                        self.double_quote(raw_escapes)?
                    };
                    result.push_str(&quoted);
                    words.add_raw_string(&quoted);
                }
                '$' => {
                    let value = self.dollar()?;
                    result.push_str(&value);
                    words.add_string(&value);
                }
                '<' => {
                    let value = self.possible_heredoc();
                    result.push_str(&value);
                    words.add_raw_string(&value);
                }
                _ => {
                    self.pos += 1;
                    if c != ESCAPE {
                        words.add_char(c);
                        result.push(c);
                        continue;
                    }
                    if raw_escapes {
                        words.add_raw_char(c);
                        result.push(c);
                    }
                    let Some(escaped) = self.next() else { break };
                    words.add_raw_char(escaped);
                    result.push(escaped);
                }
            }
        }
        match stop {
            Some(stop) => Err(format!(
                "unexpected end of statement while looking for matching {stop}"
            )),
            None => Ok((result, words.finish())),
        }
    }

    fn single_quote(&mut self) -> Result<String, String> {
        let mut result = String::new();
        self.pos += 1;
        if self.raw_quotes {
            result.push('\'');
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    );
                }
                Some('\'') => {
                    if self.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn double_quote(&mut self, raw_escapes: bool) -> Result<String, String> {
        let mut result = String::new();
        self.pos += 1;
        if self.raw_quotes {
            result.push('"');
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    );
                }
                Some('"') => {
                    self.pos += 1;
                    if self.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => result.push_str(&self.dollar()?),
                Some(mut c) => {
                    self.pos += 1;
                    if c == ESCAPE {
                        if raw_escapes {
                            result.push(c);
                        }
                        match self.peek() {
                            None => continue,
                            Some(n @ ('"' | '$' | ESCAPE)) => {
                                self.pos += 1;
                                c = n;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(c);
                }
            }
        }
    }

    /// `<`, or `<<` with the blanks after it: `<< EOF` stays one word.
    fn possible_heredoc(&mut self) -> String {
        self.pos += 1;
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.pos += 1;
        let mut result = String::from("<<");
        while let Some(c) = self
            .peek()
            .filter(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
        {
            result.push(c);
            self.pos += 1;
        }
        result
    }

    /// `$name`, `${name}`, `${name<op>word}`: every variable is unset and kept as written.
    fn dollar(&mut self) -> Result<String, String> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            return Ok(format!("${name}"));
        }
        self.pos += 1;
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{' | '}' | ':') => return Err("syntax error: bad substitution".into()),
            Some(_) => {}
        }
        let name = self.name();
        let Some(op) = self.next() else {
            return Err("unsupported modifier (\u{fffd}) in substitution".into());
        };
        match op {
            '}' => Ok(format!("${{{name}}}")),
            ':' | '+' | '-' | '?' | '#' | '%' => self.modifier(name, op),
            '/' => self.replacement(name),
            _ => Err(format!("unsupported modifier ({op}) in substitution")),
        }
    }

    /// `${name:-word}` and friends, after the modifier's first character.
    fn modifier(&mut self, name: String, op: char) -> Result<String, String> {
        let mut ops = op.to_string();
        let mut op = op;
        if op == ':' {
            op = self.next().unwrap_or('\0');
            if op != '\0' {
                ops.push(op);
            }
            if op == '#' || op == '%' {
                return Err(format!("unsupported modifier ({ops}) in substitution"));
            }
        }
        let word = self.nested('}', op == '#' || op == '%', "syntax error: missing '}'")?;
        Ok(format!("${{{name}{ops}{word}}}"))
    }

    /// `${name/pattern/replacement}` and `${name//pattern/replacement}`.
    fn replacement(&mut self, name: String) -> Result<String, String> {
        if self.peek() == Some('/') {
            self.pos += 1;
        }
        let pattern = self.nested('/', true, "syntax error: missing '/' in ${}")?;
        let replacement = self.nested('}', true, "syntax error: missing '}'")?;
        Ok(format!("${{{name}/{pattern}/{replacement}}}"))
    }

    /// Processes a nested word up to `stop`; `at_end` is the error when the input runs out.
    fn nested(&mut self, stop: char, raw_escapes: bool, at_end: &str) -> Result<String, String> {
        if self.depth >= MAX_NESTING {
            return Err("syntax error: substitutions nested too deep".into());
        }
        self.depth += 1;
        let result = self.process_stop_on(Some(stop), raw_escapes);
        self.depth -= 1;
        match result {
            Ok((word, _)) => Ok(word),
            Err(_) if self.peek().is_none() => Err(at_end.into()),
            Err(e) => Err(e),
        }
    }

    /// A variable name: digits, one special parameter, or letters, digits and `_`.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(c) = self.peek() {
            if name.is_empty() && c.is_numeric() {
                while let Some(d) = self.peek().filter(|d| d.is_numeric()) {
                    name.push(d);
                    self.pos += 1;
                }
                return name;
            }
            if name.is_empty() && matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.pos += 1;
                return c.to_string();
            }
            if !c.is_alphabetic() && !c.is_numeric() && c != '_' {
                break;
            }
            name.push(c);
            self.pos += 1;
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(word: &str) -> Option<(String, bool, bool, u64)> {
        let d = parse_heredoc(word).expect("no error")?;
        Some((d.name, d.expand, d.chomp, d.file_descriptor))
    }

    #[test]
    fn heredoc_words_are_recognised() {
        assert_eq!(doc("<<EOF"), Some(("EOF".into(), true, false, 0)));
        assert_eq!(doc("<<-EOF"), Some(("EOF".into(), true, true, 0)));
        assert_eq!(doc("3<<'EOF'"), Some(("EOF".into(), false, false, 3)));
        assert_eq!(doc("<<eo\\'f"), Some(("eo'f".into(), true, false, 0)));
        assert_eq!(doc("<<$EOF"), Some(("$EOF".into(), true, false, 0)));
        assert_eq!(
            doc("<<'one two'"),
            Some(("one two".into(), false, false, 0))
        );
        assert_eq!(doc("<<"), None);
        assert_eq!(doc("<<a<b"), None);
        assert_eq!(doc("x<<EOF"), None);
        assert_eq!(doc("<<a b"), None);
        assert_eq!(doc("<<  EOF"), Some(("EOF".into(), true, false, 0)));
    }

    #[test]
    fn line_words_keep_quotes_and_escapes() {
        let words = process_words("RUN <<'e'o\\'f \"a b\" ${x:-y z}", true, true).expect("ok");
        assert_eq!(words, vec!["RUN", "<<'e'o\\'f", "\"a b\"", "${x:-y", "z}"]);
        assert!(process_words("RUN 'open", true, true).is_err());
        let words = process_words("RUN <<  EOF  > foo a<b", true, true).expect("ok");
        assert_eq!(words, vec!["RUN", "<<  EOF", ">", "foo", "a<b"]);
        assert!(
            heredocs_from_line("RUN <<EOF 'open")
                .expect("ok")
                .is_empty()
        );
    }

    #[test]
    fn deep_substitutions_do_not_overflow() {
        let line = format!("RUN <<EOF {}", "${a:-".repeat(10_000));
        assert!(heredocs_from_line(&line).expect("ok").is_empty());
    }

    #[test]
    fn chomp_strips_leading_tabs_per_line() {
        assert_eq!(chomp("\t\ta\n\tb\n c\n"), "a\nb\n c\n");
    }
}

//! Expansion of one word: the state machine of BuildKit's `shellWord`.
//!
//! [`ShellWord`] reads the word once, left to right. `$` starts a variable reference, quotes
//! start quoted text (unless quotes are not processed), the escape character makes the next
//! character literal. `${...}` forms read their argument words recursively up to `}` (or `/`),
//! so `${A:-${B:-x}}` nests, at most [`Lexer::MAX_NESTING`] deep. `<<` keeps the blanks after
//! it in its word, so `<< EOF` is one word for heredoc detection. Every variable looked up is
//! recorded as matched or unmatched.

use std::collections::BTreeSet;

use super::error::{Quote, ShellError};
use super::lexer::{Env, Expansion, Lexer};
use super::pattern;
use super::scanner::{Scanner, is_digit, is_letter};
use super::split::WordSplitter;

/// Where a (nested) run of the word ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// At the end of the word: the top level.
    End,
    /// At `}`: the argument of `${VAR<op>word}` or the replacement of `${VAR/p/r}`.
    Brace,
    /// At `/`: the pattern of `${VAR/p/r}`.
    Slash,
}

impl Stop {
    fn is(self, ch: char) -> bool {
        match self {
            Stop::End => false,
            Stop::Brace => ch == '}',
            Stop::Slash => ch == '/',
        }
    }
}

/// The expansion of one word in progress.
pub(crate) struct ShellWord<'a> {
    lexer: &'a Lexer,
    env: &'a dyn Env,
    source: &'a str,
    scanner: Scanner<'a>,
    raw_escapes: bool,
    /// How many `${...}` arguments are being read, one inside the other.
    depth: usize,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

impl<'a> ShellWord<'a> {
    /// Prepares the expansion of `source` with `lexer`'s options.
    pub(crate) fn new(lexer: &'a Lexer, source: &'a str, env: &'a dyn Env) -> Self {
        ShellWord {
            lexer,
            env,
            source,
            scanner: Scanner::new(source),
            raw_escapes: lexer.raw_escapes,
            depth: 0,
            matched: BTreeSet::new(),
            unmatched: BTreeSet::new(),
        }
    }

    /// Expands the whole word.
    pub(crate) fn expand(mut self) -> Result<Expansion, ShellError> {
        let (value, words) = self.process_stop_on(Stop::End, self.lexer.raw_escapes)?;
        Ok(Expansion {
            value,
            words,
            matched: self.matched,
            unmatched: self.unmatched,
        })
    }

    /// Reads up to `stop` (consumed) with escapes kept when `raw_escapes`: text and words.
    fn process_stop_on(
        &mut self,
        stop: Stop,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), ShellError> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let result = self.read_until(stop);
        self.raw_escapes = saved;
        result
    }

    fn read_until(&mut self, stop: Stop) -> Result<(String, Vec<String>), ShellError> {
        let mut result = String::new();
        let mut words = WordSplitter::default();
        while let Some(ch) = self.scanner.peek() {
            if stop.is(ch) {
                self.scanner.next();
                return Ok((result, words.finish()));
            }
            let quotes = !self.lexer.skip_process_quotes;
            match ch {
                '$' => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                    words.add_str(&value);
                }
                '<' => {
                    let value = self.process_possible_heredoc();
                    result.push_str(&value);
                    words.add_raw_str(&value);
                }
                '\'' if quotes => {
                    let quoted = self.process_single_quote()?;
                    result.push_str(&quoted);
                    words.add_raw_str(&quoted);
                }
                '"' if quotes => {
                    let quoted = self.process_double_quote()?;
                    result.push_str(&quoted);
                    words.add_raw_str(&quoted);
                }
                _ => {
                    if !self.literal(&mut result, &mut words) {
                        break;
                    }
                }
            }
        }
        match stop {
            Stop::End => Ok((result, words.finish())),
            _ => Err(self.unexpected_end(stop)),
        }
    }

    /// Reads one unquoted character or escape pair; `false` when an escape ends the word.
    fn literal(&mut self, result: &mut String, words: &mut WordSplitter) -> bool {
        let Some(ch) = self.scanner.next() else {
            return false;
        };
        if ch != self.lexer.escape {
            words.add_char(ch);
            result.push(ch);
            return true;
        }
        if self.raw_escapes {
            words.add_raw_char(ch);
            result.push(ch);
        }
        // An escape at the very end of the word is dropped.
        let Some(escaped) = self.scanner.next() else {
            return false;
        };
        words.add_raw_char(escaped);
        result.push(escaped);
        true
    }

    /// `'...'`: everything up to the next `'` literally; no escapes.
    fn process_single_quote(&mut self) -> Result<String, ShellError> {
        let mut result = String::new();
        let open = self.scanner.next();
        if self.lexer.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.scanner.next() {
                None => return Err(self.unterminated(Quote::Single)),
                Some('\'') => {
                    if self.lexer.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(ch) => result.push(ch),
            }
        }
    }

    /// `"..."`: variables expanded; the escape character escapes only `"`, `$` and itself.
    fn process_double_quote(&mut self) -> Result<String, ShellError> {
        let mut result = String::new();
        let open = self.scanner.next();
        if self.lexer.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.scanner.peek() {
                None => return Err(self.unterminated(Quote::Double)),
                Some('"') => {
                    self.scanner.next();
                    if self.lexer.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let value = self.process_dollar()?;
                    result.push_str(&value);
                }
                Some(_) => self.double_quoted_char(&mut result),
            }
        }
    }

    fn double_quoted_char(&mut self, result: &mut String) {
        let Some(mut ch) = self.scanner.next() else {
            return;
        };
        let escape = self.lexer.escape;
        if ch == escape {
            if self.raw_escapes {
                result.push(ch);
            }
            match self.scanner.peek() {
                // An escape before the end is dropped (the quote is then unterminated).
                None => return,
                Some(next) if next == '"' || next == '$' || next == escape => {
                    self.scanner.next();
                    ch = next;
                }
                // Anything else: the escape character stays, literally.
                Some(_) => {}
            }
        }
        result.push(ch);
    }

    /// `<`, or `<<` with the blanks after it (BuildKit's `processPossibleHeredoc`): the caller
    /// adds them as quoted text, so `<< EOF` stays one word and heredoc names may follow a
    /// blank.
    fn process_possible_heredoc(&mut self) -> String {
        self.scanner.next();
        if self.scanner.peek() != Some('<') {
            return "<".to_string();
        }
        self.scanner.next();
        let mut result = "<<".to_string();
        while let Some(blank) = self.scanner.peek().filter(|&c| is_heredoc_blank(c)) {
            self.scanner.next();
            result.push(blank);
        }
        result
    }

    /// `$NAME`, `${NAME}` or `${NAME<modifier>...}`, the `$` not yet consumed.
    fn process_dollar(&mut self) -> Result<String, ShellError> {
        self.scanner.next();
        if self.scanner.peek() != Some('{') {
            return Ok(self.plain_variable());
        }
        self.scanner.next();
        match self.scanner.peek() {
            None => return Err(self.missing_brace()),
            Some('{' | '}' | ':') => {
                return Err(ShellError::BadSubstitution {
                    word: self.source.to_string(),
                });
            }
            Some(_) => {}
        }
        let name = self.process_name();
        match self.scanner.next() {
            Some('}') => Ok(self.braced_variable(&name)),
            Some(':') => {
                let op = self.scanner.next();
                self.modifier(&name, op, true)
            }
            Some(op @ ('+' | '-' | '?' | '#' | '%')) => self.modifier(&name, Some(op), false),
            Some('/') => self.substitution(&name),
            other => Err(self.unsupported(&modifier_text(other, false))),
        }
    }

    /// `$NAME`; a `$` followed by no name stays `$`.
    fn plain_variable(&mut self) -> String {
        let name = self.process_name();
        if name.is_empty() {
            return "$".to_string();
        }
        match self.lookup(&name) {
            Some(value) => value.to_string(),
            None if self.lexer.skip_unset_env => format!("${name}"),
            None => String::new(),
        }
    }

    /// `${NAME}`.
    fn braced_variable(&mut self, name: &str) -> String {
        match self.lookup(name) {
            Some(value) => value.to_string(),
            None if self.lexer.skip_unset_env => format!("${{{name}}}"),
            None => String::new(),
        }
    }

    /// `${NAME<op>word}` (`-`, `+`, `?`, `#`, `##`, `%`, `%%`), `:` before `op` if `colon`.
    fn modifier(
        &mut self,
        name: &str,
        op: Option<char>,
        colon: bool,
    ) -> Result<String, ShellError> {
        let text = modifier_text(op, colon);
        let raw_escapes = matches!(op, Some('#' | '%'));
        let word = self.argument(Stop::Brace, raw_escapes)?;
        let found = self.lookup(name);
        if found.is_none() && self.lexer.skip_unset_env {
            return Ok(format!("${{{name}{text}{word}}}"));
        }
        let value = found.unwrap_or_default();
        // With `:`, an empty value counts as unset.
        let null = found.is_none() || (colon && value.is_empty());
        match op {
            Some('-') if null => Ok(word),
            Some('-') => Ok(value.to_string()),
            Some('+') if null => Ok(String::new()),
            Some('+') => Ok(word),
            Some('?') if found.is_none() => {
                Err(self.required(name, word, "is not allowed to be unset"))
            }
            Some('?') if null => Err(self.required(name, word, "is not allowed to be empty")),
            Some('?') => Ok(value.to_string()),
            // `:#` and `:%` are not supported (upstream's error, see envVarTest.json).
            Some(op @ ('#' | '%')) if !colon => self.trim(op, word, value),
            _ => Err(self.unsupported(&text)),
        }
    }

    /// `${NAME#p}`, `${NAME##p}`, `${NAME%p}`, `${NAME%%p}`: `word` is `p` after `op`.
    fn trim(&self, op: char, word: String, value: &str) -> Result<String, ShellError> {
        // A doubled operator removes the longest match instead of the shortest.
        let (pattern, greedy) = match word.strip_prefix(op) {
            Some(rest) => (rest, true),
            None => (word.as_str(), false),
        };
        let trimmed = match op {
            '%' => pattern::trim_suffix(pattern, value, greedy),
            _ => pattern::trim_prefix(pattern, value, greedy),
        };
        trimmed.map_err(|reason| ShellError::InvalidPattern {
            word: self.source.to_string(),
            // As upstream, `%` reports the reversed pattern it actually converted.
            pattern: match op {
                '%' => pattern::reverse_pattern(pattern),
                _ => pattern.to_string(),
            },
            reason,
        })
    }

    /// `${NAME/pattern/replacement}` and `${NAME//pattern/replacement}`.
    fn substitution(&mut self, name: &str) -> Result<String, ShellError> {
        let all = self.scanner.peek() == Some('/');
        if all {
            self.scanner.next();
        }
        let pattern = self.argument(Stop::Slash, true)?;
        let replacement = self.argument(Stop::Brace, true)?;
        let found = self.lookup(name);
        if found.is_none() && self.lexer.skip_unset_env {
            // As upstream: `//` is written back as `/`.
            return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
        }
        self.replace(&pattern, found.unwrap_or_default(), &replacement, all)
    }

    fn replace(
        &self,
        pattern: &str,
        value: &str,
        replacement: &str,
        all: bool,
    ) -> Result<String, ShellError> {
        pattern::replace(pattern, value, replacement, all).map_err(|reason| {
            ShellError::InvalidPattern {
                word: self.source.to_string(),
                pattern: pattern.to_string(),
                reason,
            }
        })
    }

    /// A nested word up to `stop`; running out of input reports the missing `}` or `/`.
    ///
    /// Every recursion of the lexer passes through here, so this is where nesting is bounded.
    fn argument(&mut self, stop: Stop, raw_escapes: bool) -> Result<String, ShellError> {
        if self.depth >= Lexer::MAX_NESTING {
            return Err(ShellError::NestingTooDeep {
                word: self.source.to_string(),
                max: Lexer::MAX_NESTING,
            });
        }
        self.depth += 1;
        let result = self.process_stop_on(stop, raw_escapes);
        self.depth -= 1;
        match result {
            Ok((word, _)) => Ok(word),
            Err(err @ ShellError::NestingTooDeep { .. }) => Err(err),
            Err(_) if self.scanner.at_end() => Err(self.unexpected_end(stop)),
            Err(err) => Err(err),
        }
    }

    /// A name: letters, digits and `_`; or all the digits of a positional parameter; or one
    /// special parameter (`@ * # ? - $ ! 0`).
    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.scanner.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(digit) = self.scanner.peek().filter(|&c| is_digit(c)) {
                    self.scanner.next();
                    name.push(digit);
                }
                return name;
            }
            if name.is_empty() && is_special_param(ch) {
                self.scanner.next();
                return ch.to_string();
            }
            if !is_letter(ch) && !is_digit(ch) && ch != '_' {
                break;
            }
            self.scanner.next();
            name.push(ch);
        }
        name
    }

    /// The value of `name`, recording it as matched or unmatched.
    fn lookup(&mut self, name: &str) -> Option<&'a str> {
        let value = self.env.get(name);
        let seen = match value {
            Some(_) => &mut self.matched,
            None => &mut self.unmatched,
        };
        seen.insert(name.to_string());
        value
    }

    fn unexpected_end(&self, stop: Stop) -> ShellError {
        let word = self.source.to_string();
        match stop {
            Stop::Slash => ShellError::MissingSlash { word },
            Stop::Brace | Stop::End => ShellError::MissingBrace { word },
        }
    }

    fn missing_brace(&self) -> ShellError {
        self.unexpected_end(Stop::Brace)
    }

    fn unterminated(&self, quote: Quote) -> ShellError {
        ShellError::UnterminatedQuote {
            word: self.source.to_string(),
            quote,
        }
    }

    fn unsupported(&self, modifier: &str) -> ShellError {
        ShellError::UnsupportedModifier {
            word: self.source.to_string(),
            modifier: modifier.to_string(),
        }
    }

    fn required(&self, name: &str, message: String, default: &str) -> ShellError {
        ShellError::Required {
            word: self.source.to_string(),
            name: name.to_string(),
            message: if message.is_empty() {
                default.to_string()
            } else {
                message
            },
        }
    }
}

/// The modifier as BuildKit prints it; the end of the word shows as U+FFFD (Go's `EOF` rune).
fn modifier_text(op: Option<char>, colon: bool) -> String {
    let op = op.unwrap_or('\u{FFFD}');
    if colon {
        format!(":{op}")
    } else {
        op.to_string()
    }
}

/// The blanks BuildKit's `processPossibleHeredoc` keeps after `<<` (its `isWhitespace`).
fn is_heredoc_blank(ch: char) -> bool {
    matches!(ch, ' ' | '\t' | '\r')
}

/// Special parameters of POSIX shells; never set in a Dockerfile.
fn is_special_param(ch: char) -> bool {
    matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0')
}

//! The lexer proper.

use std::collections::{BTreeMap, BTreeSet};

use super::ShellError;

/// Variables visible to expansion.
pub trait Env {
    /// The value of `name`, or `None` when it is not set (an empty value is set).
    fn get(&self, name: &str) -> Option<&str>;
}

impl Env for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// Later entries shadow earlier ones, as `ENV` lines do.
impl Env for [(String, String)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Env for Vec<(String, String)> {
    fn get(&self, name: &str) -> Option<&str> {
        Env::get(self.as_slice(), name)
    }
}

/// The result of expanding a word, with the variables it looked up.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expansion {
    /// The expanded word.
    pub value: String,
    /// Variables referenced and set.
    pub matched: BTreeSet<String>,
    /// Variables referenced and not set.
    pub unmatched: BTreeSet<String>,
}

/// The word lexer, configured like BuildKit's `shell.Lex`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexer {
    escape: char,
    raw_quotes: bool,
    raw_escapes: bool,
    skip_unset_env: bool,
}

impl Lexer {
    /// A lexer with escape character `escape` (`\` or `` ` ``).
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
        }
    }

    /// Keep quote characters in the output (BuildKit's `RawQuotes`).
    #[must_use]
    pub fn raw_quotes(mut self, yes: bool) -> Self {
        self.raw_quotes = yes;
        self
    }

    /// Keep escape characters in the output (BuildKit's `RawEscapes`).
    #[must_use]
    pub fn raw_escapes(mut self, yes: bool) -> Self {
        self.raw_escapes = yes;
        self
    }

    /// Leave references to unset variables as written (BuildKit's `SkipUnsetEnv`).
    #[must_use]
    pub fn skip_unset_env(mut self, yes: bool) -> Self {
        self.skip_unset_env = yes;
        self
    }

    /// Expands one word: variables substituted, quotes and escapes removed.
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, ShellError> {
        self.process_word_with_matches(word, env).map(|e| e.value)
    }

    /// Expands one word and reports which variables it referenced.
    pub fn process_word_with_matches(
        &self,
        word: &str,
        env: &dyn Env,
    ) -> Result<Expansion, ShellError> {
        let _ = env;
        Err(ShellError::Syntax {
            word: word.to_string(),
            message: "not implemented".into(),
        })
    }

    /// Expands and splits into words on unquoted whitespace (BuildKit's `ProcessWords`).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ShellError> {
        let _ = env;
        Err(ShellError::Syntax {
            word: word.to_string(),
            message: "not implemented".into(),
        })
    }
}

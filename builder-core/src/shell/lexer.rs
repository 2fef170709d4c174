//! The lexer's public face: options, the environment trait and the result of an expansion.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::ShellError;
use super::word::ShellWord;

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

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
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
    /// The expanded word split on unquoted whitespace (what [`Lexer::process_words`] returns).
    pub words: Vec<String>,
    /// Variables referenced and set.
    pub matched: BTreeSet<String>,
    /// Variables referenced and not set.
    pub unmatched: BTreeSet<String>,
}

/// The word lexer, configured like BuildKit's `shell.Lex`.
///
/// A `Lexer` holds only options: it is cheap to clone and may be shared between threads.
///
/// ```
/// use builder_core::shell::Lexer;
///
/// let env = vec![("NAME".to_string(), "web app".to_string())];
/// let lexer = Lexer::new('\\');
/// assert_eq!(lexer.process_word("${NAME:-x}-'$NAME'", &env)?, "web app-$NAME");
/// assert_eq!(lexer.process_words("/srv/$NAME", &env)?, ["/srv/web", "app"]);
/// # Ok::<(), builder_core::shell::ShellError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lexer {
    pub(super) escape: char,
    pub(super) raw_quotes: bool,
    pub(super) raw_escapes: bool,
    pub(super) skip_process_quotes: bool,
    pub(super) skip_unset_env: bool,
}

impl Lexer {
    /// How deep the words inside `${...}` forms may nest (`${A:-${B:-x}}` nests 2 deep)
    /// before expansion fails with [`ShellError::NestingTooDeep`].
    pub const MAX_NESTING: usize = 128;

    /// A lexer with escape character `escape` (`\` or `` ` ``).
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
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

    /// Treat quotes as ordinary characters (BuildKit's `SkipProcessQuotes`).
    #[must_use]
    pub fn skip_process_quotes(mut self, yes: bool) -> Self {
        self.skip_process_quotes = yes;
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

    /// Expands one word and reports which variables it referenced, and its split words.
    pub fn process_word_with_matches(
        &self,
        word: &str,
        env: &dyn Env,
    ) -> Result<Expansion, ShellError> {
        ShellWord::new(self, word, env).expand()
    }

    /// Expands and splits into words on unquoted whitespace (BuildKit's `ProcessWords`).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, ShellError> {
        self.process_word_with_matches(word, env).map(|e| e.words)
    }
}

//! Word splitting and variable expansion, a port of BuildKit's `frontend/dockerfile/shell` lexer.
//!
//! [`Lexer::process_word`] expands one word (`$VAR`, `${VAR:-w}`, `${VAR#p}`, ...), removing
//! quotes and escapes; [`Lexer::process_words`] also splits the result into words the way
//! BuildKit does for instructions such as `COPY` and `ADD`. Which instruction expands which
//! words is decided by [`crate::instructions`].
//!
//! Supported forms, as in BuildKit: `$NAME`, `${NAME}`, `${NAME-w}`, `${NAME:-w}`,
//! `${NAME+w}`, `${NAME:+w}`, `${NAME?msg}`, `${NAME:?msg}`, `${NAME#p}`, `${NAME##p}`,
//! `${NAME%p}`, `${NAME%%p}`, `${NAME/p/r}` and `${NAME//p/r}`, where `p` is a shell pattern
//! (`*`, `?`, `\*`, `\?`, `\\`). Positional and special parameters (`$1`, `$@`, ...) are
//! never set. Errors carry BuildKit's messages.
//!
//! As upstream, an unquoted `<<` keeps the spaces, tabs and carriage returns after it in its
//! word, so the Dockerfile parser sees `<< EOF` as one heredoc opener. Unlike upstream,
//! `${...}` forms nest at most [`Lexer::MAX_NESTING`] deep ([`ShellError::NestingTooDeep`]),
//! so hostile input cannot overflow the stack.
//!
//! The module mirrors upstream's files: `word` is `shellWord` (the state machine),
//! `split` is `wordsStruct`, `pattern` the pattern-to-regex conversion, `scanner` the parts
//! of Go's `text/scanner` and `unicode` the lexer relies on.

mod error;
mod lexer;
mod pattern;
mod scanner;
mod split;
#[cfg(test)]
mod tests;
mod word;

pub use error::{PatternError, Quote, ShellError};
pub use lexer::{Env, Expansion, Lexer};

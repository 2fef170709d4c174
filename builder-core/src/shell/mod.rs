//! Word splitting and variable expansion, a port of BuildKit's `frontend/dockerfile/shell` lexer.
//!
//! [`Lexer::process_word`] expands one word (`$VAR`, `${VAR:-w}`, `${VAR#p}`, ...), removing
//! quotes and escapes; [`Lexer::process_words`] also splits the result into words the way
//! BuildKit does for instructions such as `COPY` and `ADD`. Which instruction expands which
//! words is decided by [`crate::instructions`].

mod error;
mod lexer;

pub use error::ShellError;
pub use lexer::{Env, Expansion, Lexer};

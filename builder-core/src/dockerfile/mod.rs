//! Dockerfile text -> [`Ast`], exactly as BuildKit's `frontend/dockerfile/parser` does.
//!
//! This module knows the *syntax* only: parser directives, comments, line continuations,
//! JSON (exec) versus shell form, flags, heredocs and which words an instruction's arguments
//! split into. What an instruction *means* is the business of [`crate::instructions`].
//!
//! The AST mirrors BuildKit's `parser.Node` so that [`Ast::dump`] reproduces BuildKit's test
//! `result` format byte for byte.
//!
//! Where this parser knowingly differs from BuildKit, only on hostile input:
//! - `ONBUILD` may nest at most 64 deep and `${...}` in a heredoc line 128 deep (Go's stacks
//!   grow; ours do not). BuildKit's instruction layer rejects nested `ONBUILD` anyway.
//! - BuildKit's flag and `HEALTHCHECK` scanners work on bytes and can cut a multi-byte
//!   character in two; the cut text is kept with U+FFFD where Go would keep the raw bytes.
//! - Error locations are the real 1-based line and column of the offending text (BuildKit
//!   reports directive errors one line early and has no columns).

mod args;
mod ast;
mod directives;
mod error;
mod heredoc;
mod json;
mod lines;
mod parser;
#[cfg(test)]
mod parser_tests;
mod split;

pub(crate) use ast::go_quote;
pub use ast::{Ast, Directives, Heredoc, Node, Warning};
pub use error::SyntaxError;
pub use parser::parse;

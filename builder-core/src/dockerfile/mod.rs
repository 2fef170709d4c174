//! Dockerfile text -> [`Ast`], exactly as BuildKit's `frontend/dockerfile/parser` does.
//!
//! This module knows the *syntax* only: parser directives, comments, line continuations,
//! JSON (exec) versus shell form, flags, heredocs and which words an instruction's arguments
//! split into. What an instruction *means* is the business of [`crate::instructions`].
//!
//! The AST mirrors BuildKit's `parser.Node` so that [`Ast::dump`] reproduces BuildKit's test
//! `result` format byte for byte.

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

pub use ast::{Ast, Directives, Heredoc, Node, Warning};
pub use error::SyntaxError;
pub use parser::parse;

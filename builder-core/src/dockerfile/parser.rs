//! The line-oriented parser: directives, continuations, comments, heredocs, per-keyword arguments.

use std::sync::Arc;

use crate::error::{Error, Result};
use crate::source::{SourceFile, Span};

use super::{Ast, SyntaxError};

/// Parses a Dockerfile into its [`Ast`].
///
/// Errors carry the file and the span of the offending text.
pub fn parse(source: &Arc<SourceFile>) -> Result<Ast> {
    let _ = source;
    Err(Error::new(SyntaxError::NoInstructions).at(source, Span::point(1, 1)))
}

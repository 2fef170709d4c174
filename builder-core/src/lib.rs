//! Hoist's build engine: a Dockerfile in, an OCI image out.
//!
//! The pipeline, one module per representation:
//!
//! ```text
//! Dockerfile text (source::SourceFile)
//!   -> dockerfile::parse        Ast: nodes with raw words and spans
//!   -> instructions::parse      typed instructions grouped in stages
//!   -> plan::plan               the stages to build, in order, words expanded
//! ```
//!
//! [`layer`] turns a filesystem change into a layer blob: a deterministic tar, compressed
//! (parallel gzip or zstd) and digested in one pass.
#![deny(missing_docs)]

pub mod dockerfile;
pub mod error;
pub mod instructions;
pub mod layer;
pub mod plan;
pub mod platform;
pub mod shell;
pub mod source;
pub mod suggest;

pub use error::{Error, ErrorKind, Location, Result};
pub use source::{Position, SourceFile, Span};

//! Hoist's build engine: a Dockerfile in, an OCI image out.
//!
//! The pipeline, one module per representation:
//!
//! ```text
//! Dockerfile text (source::SourceFile)
//!   -> dockerfile::parse        Ast: nodes with raw words and spans
//!   -> instructions::parse      typed instructions grouped in stages
//!   -> plan::plan               the stages to build, in order, words expanded
//!   -> exec::Builder::build     each stage's steps: cached or run, layers into the store
//!   -> image                    config, history, manifest (deterministic JSON), validation
//! ```
//!
//! [`context`] is what COPY and ADD read: `.dockerignore`, source selection, content checksums.
//! On the host: [`store`] is the local store (an OCI image layout with blobs, tags, the cache
//! index and snapshots); [`snapshot`] extracts layers into it safely.
//! [`layer`] turns a filesystem change into a layer blob: a deterministic tar, compressed
//! (parallel gzip or zstd) and digested in one pass.
#![deny(missing_docs)]

pub mod context;
pub mod dockerfile;
pub mod error;
pub mod events;
pub mod exec;
pub mod image;
pub mod instructions;
pub mod layer;
pub mod plan;
pub mod platform;
pub mod shell;
pub mod snapshot;
pub mod source;
pub mod store;
pub mod suggest;

pub use error::{Error, ErrorKind, Location, Result};
pub use source::{Position, SourceFile, Span};

//! What can go wrong reading a build context.

use std::path::PathBuf;

/// An error from the build context: a missing source, an escape, a bad pattern, or I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ContextError {
    /// A COPY/ADD source matched nothing in the context (after `.dockerignore`).
    #[error("failed to compute cache key: \"{path}\": not found")]
    NotFound {
        /// The source as written, made absolute to the context root (`/x`).
        path: String,
        /// Whether the source has a wildcard (a wildcard that matches nothing may be allowed
        /// when another source of the same instruction matches).
        is_wildcard: bool,
    },
    /// A path would leave the context root (a symlink pointing outside it while being followed).
    #[error("\"{path}\" points outside the build context")]
    EscapesContext {
        /// The path, relative to the context root.
        path: String,
    },
    /// A `.dockerignore` or `--exclude` pattern is malformed.
    #[error("invalid pattern {pattern:?}: {reason}")]
    BadPattern {
        /// The pattern as given.
        pattern: String,
        /// Go's message (`syntax error in pattern`, `illegal exclusion pattern: "!"`).
        reason: &'static str,
    },
    /// A [`MatchInfo`](super::MatchInfo) from another matcher was passed in.
    #[error("wrong number of values in parentMatched")]
    MatchInfoMismatch,
    /// Too many symlinks while resolving a source (a loop).
    #[error("too many levels of symbolic links resolving \"{path}\"")]
    SymlinkLoop {
        /// The source being resolved.
        path: String,
    },
    /// The context root is not a directory.
    #[error("build context {path:?} is not a directory")]
    NotADirectory {
        /// The root given.
        path: PathBuf,
    },
    /// Reading the file system failed.
    #[error("{path:?}: {kind}: {message}")]
    Io {
        /// The path being read.
        path: PathBuf,
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The I/O error's message.
        message: String,
    },
}

impl ContextError {
    /// An [`Io`](Self::Io) error for `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, err: &std::io::Error) -> Self {
        ContextError::Io {
            path: path.into(),
            kind: err.kind(),
            message: err.to_string(),
        }
    }
}

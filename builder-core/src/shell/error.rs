//! Errors of word expansion.

/// Why a word could not be expanded. Messages follow BuildKit's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShellError {
    /// The word is malformed (unterminated quote, bad substitution, ...).
    #[error("failed to process {word:?}: {message}")]
    Syntax {
        /// The word as written.
        word: String,
        /// What is wrong, in BuildKit's words.
        message: String,
    },
    /// `${VAR:?msg}` or `${VAR?msg}` on an unset (or empty) variable.
    #[error("failed to process {word:?}: {name}: {message}")]
    Required {
        /// The word as written.
        word: String,
        /// The variable.
        name: String,
        /// The message given after `?` (or BuildKit's default).
        message: String,
    },
}

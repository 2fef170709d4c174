//! Syntax errors of the Dockerfile parser.

/// Why a Dockerfile's text could not be parsed. The location is carried by [`crate::Error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// The file holds no instruction (empty, or only comments and directives).
    #[error("file with no instructions")]
    NoInstructions,
    /// A directive has a value Hoist cannot use (e.g. an escape other than `\` or `` ` ``).
    #[error("invalid {name} directive value {value:?}: {reason}")]
    InvalidDirective {
        /// The directive's name.
        name: String,
        /// The value as written.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// A directive is given twice.
    #[error("only one {name} parser directive can be used")]
    DuplicateDirective {
        /// The directive's name.
        name: String,
    },
    /// A line that should start an instruction does not start with a keyword.
    #[error("unknown instruction: {keyword}")]
    UnknownInstruction {
        /// The word found instead.
        keyword: String,
    },
    /// An instruction needs arguments and has none.
    #[error("{keyword} requires at least one argument")]
    MissingArguments {
        /// The instruction (upper case).
        keyword: String,
    },
    /// A heredoc was opened and never closed by its delimiter.
    #[error("unterminated heredoc {name}")]
    UnterminatedHeredoc {
        /// The delimiter that was never found.
        name: String,
    },
    /// An instruction-specific syntax error (BuildKit's own message).
    #[error("{message}")]
    Invalid {
        /// The message, as BuildKit words it.
        message: String,
    },
}

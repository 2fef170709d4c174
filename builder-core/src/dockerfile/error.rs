//! Syntax errors of the Dockerfile parser.
//!
//! The messages are BuildKit's, word for word, so that users (and tests) see what
//! `docker build` would print.

/// Why a Dockerfile's text could not be parsed. The location is carried by [`crate::Error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SyntaxError {
    /// The file holds no instruction (empty, or only comments and directives).
    #[error("file with no instructions")]
    NoInstructions,
    /// A directive has a value Hoist cannot use (kept for callers; the parser reports escape
    /// tokens through [`SyntaxError::InvalidEscapeToken`]).
    #[error("invalid {name} directive value {value:?}: {reason}")]
    InvalidDirective {
        /// The directive's name.
        name: String,
        /// The value as written.
        value: String,
        /// Why it is refused.
        reason: String,
    },
    /// The `escape` directive names a character other than `\` or `` ` ``.
    #[error("invalid escape token '{token}' does not match ` or \\")]
    InvalidEscapeToken {
        /// The value as written.
        token: String,
    },
    /// A directive is given twice.
    #[error("only one {name} parser directive can be used")]
    DuplicateDirective {
        /// The directive's name, lower-cased.
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
    /// `ENV`/`LABEL` in the legacy `name value` form without a value.
    #[error("{keyword} must have two arguments")]
    MissingValue {
        /// `ENV` or `LABEL`.
        keyword: String,
    },
    /// `ENV`/`LABEL` in the `name=value` form with a word lacking `=`.
    #[error("Syntax error - can't find = in {quoted}. Must be of the form: name=value")]
    MissingEquals {
        /// The word, quoted as Go's `%q` does.
        quoted: String,
    },
    /// A JSON array with an element that is not a string (`CMD ["a", 1]`).
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    NotStringArray,
    /// A heredoc was opened and never closed by its delimiter.
    #[error("unterminated heredoc")]
    UnterminatedHeredoc {
        /// The delimiter that was never found.
        name: String,
    },
    /// A physical line is longer than BuildKit's scanner accepts.
    #[error("dockerfile line greater than max allowed size of {max}")]
    LineTooLong {
        /// The largest accepted line length in bytes (65535).
        max: usize,
    },
    /// `ONBUILD` triggers nested deeper than Hoist parses (BuildKit rejects any nesting later).
    #[error("ONBUILD nested more than {max} levels deep")]
    NestingTooDeep {
        /// The deepest nesting accepted.
        max: usize,
    },
    /// The word after `<<` could not be read as a heredoc name (an open quote, a bad `${...}`).
    #[error(transparent)]
    HeredocName(#[from] crate::shell::ShellError),
    /// An instruction-specific syntax error (BuildKit's own message).
    #[error("{message}")]
    Invalid {
        /// The message, as BuildKit words it.
        message: String,
    },
}

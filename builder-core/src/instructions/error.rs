//! Errors of instruction parsing.

/// Why an instruction's flags or arguments are refused. Messages follow BuildKit's wording
/// where BuildKit has one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstructionError {
    /// A keyword that is no Dockerfile instruction.
    #[error("unknown instruction: {keyword}{}", suggestion_text(.suggestion))]
    UnknownInstruction {
        /// The keyword as written.
        keyword: String,
        /// The closest known instruction, if any is close.
        suggestion: Option<&'static str>,
    },
    /// An instruction before the first `FROM` (only `ARG` may stand there).
    #[error("{keyword} is not allowed before the first FROM: no build stage in current context")]
    OutsideStage {
        /// The instruction (upper case).
        keyword: String,
    },
    /// A flag the instruction does not know.
    #[error("unknown flag --{flag} for {keyword}{}", known_text(.known))]
    UnknownFlag {
        /// The instruction (upper case).
        keyword: String,
        /// The flag's name, without dashes.
        flag: String,
        /// The flags the instruction accepts.
        known: Vec<&'static str>,
    },
    /// A flag does not start with `--`.
    #[error("flag should start with --: {flag}")]
    MalformedFlag {
        /// The flag as written.
        flag: String,
    },
    /// A value flag was given without `=value`, or a boolean with `=` and nothing after.
    #[error("missing a value on flag --{flag}")]
    MissingFlagValue {
        /// The flag's name.
        flag: String,
    },
    /// A single-valued flag was given twice.
    #[error("duplicate flag specified: --{flag}")]
    DuplicateFlag {
        /// The flag's name.
        flag: String,
    },
    /// A flag or option has a value of the wrong shape.
    #[error("invalid value {value:?} for {name}: {reason}")]
    InvalidValue {
        /// The flag or option (`--chmod`, `--network`, `mount option uid`, ...).
        name: String,
        /// The value as written.
        value: String,
        /// What is expected.
        reason: String,
    },
    /// Wrong number of arguments.
    #[error("{keyword} requires {expected}")]
    ArgumentCount {
        /// The instruction (upper case).
        keyword: String,
        /// What it requires, e.g. "exactly one argument".
        expected: &'static str,
    },
    /// An instruction that requires JSON (exec) form was written in shell form.
    #[error("{keyword} requires the arguments to be in JSON form")]
    NotJson {
        /// The instruction (upper case).
        keyword: String,
    },
    /// A heredoc where it cannot be used.
    #[error("{keyword} cannot accept a heredoc as {role}")]
    BadHeredoc {
        /// The instruction (upper case).
        keyword: String,
        /// Which argument, e.g. "a destination".
        role: &'static str,
    },
    /// An instruction-specific rule (BuildKit's message).
    #[error("{message}")]
    Invalid {
        /// What is wrong.
        message: String,
    },
}

fn suggestion_text(s: &Option<&'static str>) -> String {
    s.map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

fn known_text(known: &[&'static str]) -> String {
    if known.is_empty() {
        " (it takes no flags)".to_string()
    } else {
        let list: Vec<String> = known.iter().map(|k| format!("--{k}")).collect();
        format!(" (known: {})", list.join(", "))
    }
}

impl InstructionError {
    /// An [`InstructionError::InvalidValue`].
    pub(crate) fn invalid(
        name: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        InstructionError::InvalidValue {
            name: name.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }

    /// An [`InstructionError::Invalid`].
    pub(crate) fn rule(message: impl Into<String>) -> Self {
        InstructionError::Invalid {
            message: message.into(),
        }
    }
}

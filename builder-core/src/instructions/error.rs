//! Errors of instruction parsing.

/// Why an instruction's flags or arguments are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InstructionError {
    /// A flag the instruction does not know.
    #[error("unknown flag: --{flag} for {keyword}")]
    UnknownFlag {
        /// The instruction (upper case).
        keyword: String,
        /// The flag's name without dashes.
        flag: String,
    },
}

//! Errors of planning.

/// Why the stages cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// `--target` names no stage.
    #[error("target stage {name:?} could not be found")]
    UnknownTarget {
        /// The name given.
        name: String,
    },
}

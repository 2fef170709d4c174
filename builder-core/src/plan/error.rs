//! Errors of planning.

use crate::platform::PlatformError;

/// Why the stages cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The Dockerfile has no `FROM`.
    #[error("dockerfile contains no stages to build")]
    NoStages,
    /// `--target` names no stage.
    #[error("target stage {name:?} could not be found{}", suggestion_text(.suggestion))]
    UnknownTarget {
        /// The name given.
        name: String,
        /// The closest stage name, if one is close.
        suggestion: Option<String>,
    },
    /// A stage refers to a stage defined after it (or to a stage index out of range).
    #[error(
        "cannot copy from stage {from:?}, it needs to be defined before current stage {current:?}"
    )]
    StageOrder {
        /// The reference as written.
        from: String,
        /// The stage holding the reference.
        current: String,
    },
    /// A stage depends on itself.
    #[error("circular dependency detected on stage: {stage}")]
    Cycle {
        /// The stage.
        stage: String,
    },
    /// `COPY --from` with a variable.
    #[error(
        "variable expansion is not supported for --from, define a new stage with FROM using ARG \
         from global scope"
    )]
    VariableInFrom,
    /// `FROM` expands to an empty base name.
    #[error("base name ({raw}) should not be blank")]
    BlankBase {
        /// The base as written.
        raw: String,
    },
    /// A `--platform` value is not a platform.
    #[error(transparent)]
    Platform(#[from] PlatformError),
    /// `RUN --security=insecure` without the entitlement.
    #[error(
        "RUN --security=insecure needs the security.insecure entitlement: pass \
         --allow security.insecure to allow it"
    )]
    InsecureNotAllowed,
    /// A base image could not be resolved.
    #[error("failed to resolve base image {reference}: {reason}")]
    Resolve {
        /// The reference.
        reference: String,
        /// Why.
        reason: String,
    },
}

fn suggestion_text(s: &Option<String>) -> String {
    s.as_ref()
        .map(|s| format!(" (did you mean {s}?)"))
        .unwrap_or_default()
}

//! The crate's one error type: a typed kind and, where the input has one, its location.
//!
//! Each module reports its own typed kind ([`SyntaxError`],
//! [`ShellError`], ...); the location is attached once, by the loop
//! over nodes, through [`Error::at`]. The CLI renders [`Error::render`], a snippet with a caret.

use std::fmt;
use std::io;
use std::sync::Arc;

use crate::context::ContextError;
use crate::dockerfile::SyntaxError;
use crate::exec::{ExecError, OwnerError};
use crate::image::{ImageError, TransferError};
use crate::instructions::InstructionError;
use crate::layer::LayerError;
use crate::plan::PlanError;
use crate::shell::ShellError;
use crate::snapshot::{ExtractError, SnapshotError};
use crate::source::{SourceFile, Span, render_snippet};
use crate::store::StoreError;

/// A short alias for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, by module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The Dockerfile text could not be parsed.
    #[error(transparent)]
    Syntax(#[from] SyntaxError),
    /// A word could not be expanded.
    #[error(transparent)]
    Shell(#[from] ShellError),
    /// An instruction has a wrong flag, argument or form.
    #[error(transparent)]
    Instruction(#[from] InstructionError),
    /// The stages cannot be planned (unknown stage, cycle, target).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// An image, config, manifest or index is invalid or does not match its blobs.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The build context cannot be read or a COPY/ADD source is not in it.
    #[error(transparent)]
    Context(#[from] ContextError),
    /// The local store failed (I/O, a digest mismatch, a missing blob).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A layer could not be extracted safely.
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// A snapshot could not be made, mounted or diffed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A layer could not be written.
    #[error(transparent)]
    Layer(#[from] LayerError),
    /// A build step could not run.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// An image could not be pulled, pushed, found, imported or exported.
    #[error(transparent)]
    Transfer(#[from] TransferError),
}

impl ErrorKind {
    /// The word of the source this error is about, if it names one.
    fn needle(&self) -> Option<String> {
        match self {
            ErrorKind::Instruction(e) => match e {
                InstructionError::UnknownInstruction { keyword, .. } => Some(keyword.clone()),
                InstructionError::UnknownFlag { flag, .. }
                | InstructionError::MissingFlagValue { flag }
                | InstructionError::DuplicateFlag { flag } => Some(format!("--{flag}")),
                InstructionError::MalformedFlag { flag } => Some(flag.clone()),
                InstructionError::InvalidValue { value, .. } => Some(value.clone()),
                _ => None,
            },
            ErrorKind::Shell(e) => Some(e.word().to_string()),
            ErrorKind::Plan(e) => match e {
                PlanError::StageOrder { from, .. } => Some(from.clone()),
                PlanError::VariableInFrom => Some("--from".into()),
                PlanError::BlankBase { raw } => Some(raw.clone()),
                PlanError::Platform(p) => Some(p.value.clone()),
                PlanError::InsecureNotAllowed => Some("--security".into()),
                _ => None,
            },
            ErrorKind::Exec(e) => match e {
                ExecError::Unsupported { instruction } => Some((*instruction).to_owned()),
                ExecError::Owner(OwnerError::UnknownUser { name })
                | ExecError::Owner(OwnerError::UnknownGroup { name }) => Some(name.clone()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Where an error is: the file and the span in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file the span points into.
    pub file: Arc<SourceFile>,
    /// The offending range.
    pub span: Span,
}

/// An error of this crate: a [`ErrorKind`] and, when known, its [`Location`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    location: Option<Box<Location>>,
}

impl Error {
    /// An error of `kind` with no location yet.
    pub fn new(kind: impl Into<ErrorKind>) -> Self {
        Error {
            kind: kind.into(),
            location: None,
        }
    }

    /// Attaches a location, unless the error already has one (the innermost span wins).
    ///
    /// When the error names a word (a flag, a value, a stage) that appears inside `span`, the
    /// location is narrowed to that word.
    #[must_use]
    pub fn at(mut self, file: &Arc<SourceFile>, span: Span) -> Self {
        if self.location.is_none() {
            let span = self
                .kind
                .needle()
                .and_then(|needle| file.find_in(span, &needle))
                .unwrap_or(span);
            self.location = Some(Box::new(Location {
                file: Arc::clone(file),
                span,
            }));
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// Where, when the error comes from an input with positions.
    pub fn location(&self) -> Option<&Location> {
        self.location.as_deref()
    }

    /// A multi-line report: the message, `file:line:column`, the source line and a caret.
    pub fn render(&self) -> String {
        match &self.location {
            Some(loc) => render_snippet(&loc.file, loc.span, &self.kind.to_string()),
            None => format!("error: {}\n", self.kind),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Some(loc) => write!(f, "{}:{}: {}", loc.file.name(), loc.span, self.kind),
            None => write!(f, "{}", self.kind),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

macro_rules! from_kind {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(kind: $t) -> Self {
                Error::new(kind)
            }
        }
    )*};
}
from_kind!(
    ErrorKind,
    SyntaxError,
    ShellError,
    InstructionError,
    PlanError,
    ImageError,
    ContextError,
    StoreError,
    ExtractError,
    SnapshotError,
    LayerError,
    ExecError,
    TransferError
);

/// An operating-system error kept so that errors stay `Clone + Eq`.
///
/// Two causes are equal when their [`io::ErrorKind`] and raw OS error number are equal.
#[derive(Debug, Clone)]
pub struct IoCause(Arc<io::Error>);

impl IoCause {
    /// The underlying I/O error.
    pub fn io_error(&self) -> &io::Error {
        &self.0
    }

    /// The kind of the underlying error.
    pub fn kind(&self) -> io::ErrorKind {
        self.0.kind()
    }

    /// The errno, when the error came from a system call.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.0.raw_os_error()
    }
}

impl PartialEq for IoCause {
    fn eq(&self, other: &Self) -> bool {
        self.kind() == other.kind() && self.raw_os_error() == other.raw_os_error()
    }
}

impl Eq for IoCause {}

impl fmt::Display for IoCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for IoCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<io::Error> for IoCause {
    fn from(e: io::Error) -> Self {
        IoCause(Arc::new(e))
    }
}

impl From<rustix::io::Errno> for IoCause {
    fn from(e: rustix::io::Errno) -> Self {
        IoCause(Arc::new(e.into()))
    }
}

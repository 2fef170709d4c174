//! [`CancelFlag`]: how a caller (the CLI's SIGINT/SIGTERM handler) stops a build.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// A flag the caller sets to stop a build. The build checks it between steps and while a
/// container runs: the container is killed, mounts and temporary directories are removed,
/// and the build returns [`super::ExecError::Cancelled`]. Cheap to clone; clones share the
/// flag.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        CancelFlag::default()
    }

    /// A flag backed by `flag`, e.g. one a signal handler sets (`signal_hook::flag::register`).
    pub fn from_arc(flag: Arc<AtomicBool>) -> Self {
        CancelFlag(flag)
    }

    /// Asks the build to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// Whether the build was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

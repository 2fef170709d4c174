//! The per-build log file: every line of every step's output, never clipped, in
//! `hoist/logs/<build>.log` in the store (`#<step> <stream> <line>`).

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::ExecError;
use crate::events::{StepId, Stream};
use crate::store::Store;

/// A build's log file, shared by its steps.
#[derive(Debug)]
pub(crate) struct BuildLog {
    path: PathBuf,
    file: Mutex<File>,
}

static BUILD_COUNTER: AtomicU64 = AtomicU64::new(0);

impl BuildLog {
    /// A new log file in `store`, named by time, process id and a counter.
    pub(crate) fn create(store: &Store) -> Result<Self, ExecError> {
        let dir = store.root().join("hoist").join("logs");
        std::fs::create_dir_all(&dir).map_err(ExecError::io("create directory", &dir))?;
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let n = BUILD_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = dir.join(format!("{secs}-{}-{n}.log", std::process::id()));
        let file = File::create(&path).map_err(ExecError::io("create", &path))?;
        Ok(BuildLog {
            path,
            file: Mutex::new(file),
        })
    }

    /// Where the log is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line of step `id`'s output (a write error loses the line, not the build).
    pub(crate) fn line(&self, id: StepId, stream: Stream, line: &[u8]) {
        let tag = match stream {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        };
        if let Ok(mut file) = self.file.lock() {
            let _ = write!(file, "#{} {tag} ", id.0);
            let _ = file.write_all(line);
            let _ = file.write_all(b"\n");
        }
    }
}

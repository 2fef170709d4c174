//! The OCI runtime (runc or crun): runs one bundle as a container and streams its output.
//!
//! The runtime is a separate binary driven with `std::process` (an in-process runtime would
//! have to clone a multi-threaded process, which is unsound). `runc run --bundle B ID` runs in
//! the foreground in its own process group (so a terminal's Ctrl-C reaches Hoist only, which
//! then kills the container deterministically); stdin is null, stdout and stderr are pipes
//! read line by line by two threads. On cancellation the container is killed
//! (`runc kill ID KILL`) and, whatever happened, `runc delete --force ID` leaves nothing behind.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use super::{CancelFlag, ExecError};
use crate::events::Stream;

/// Which OCI runtime runs `RUN` steps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeKind {
    /// runc (the default).
    #[default]
    Runc,
    /// crun.
    Crun,
}

impl RuntimeKind {
    /// The binary's usual name (`runc`, `crun`).
    pub fn program(self) -> &'static str {
        match self {
            RuntimeKind::Runc => "runc",
            RuntimeKind::Crun => "crun",
        }
    }
}

/// How many lines of output a failed step's error keeps.
pub(crate) const TAIL_LINES: usize = 20;

/// An OCI runtime binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runtime {
    kind: RuntimeKind,
    program: PathBuf,
}

/// How a container run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunOutcome {
    /// The exit code (128 + signal for a killed process).
    pub code: i32,
    /// The last [`TAIL_LINES`] lines of output, both streams interleaved.
    pub tail: Vec<String>,
}

static CONTAINER_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A container id unique on this host: `hoist-<pid>-<n>`.
pub(crate) fn container_id() -> String {
    let n = CONTAINER_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("hoist-{}-{n}", std::process::id())
}

impl Runtime {
    /// The runtime `kind`, run as `program` (a path, or a name looked up in `PATH` when the
    /// process is spawned).
    pub fn new(kind: RuntimeKind, program: impl Into<PathBuf>) -> Self {
        Runtime {
            kind,
            program: program.into(),
        }
    }

    /// The runtime `kind` under its usual name.
    pub fn from_kind(kind: RuntimeKind) -> Self {
        Runtime::new(kind, kind.program())
    }

    /// Which runtime this is.
    pub fn kind(&self) -> RuntimeKind {
        self.kind
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        command.stdin(Stdio::null());
        command
    }

    fn spawn_error(&self, e: std::io::Error) -> ExecError {
        if e.kind() == std::io::ErrorKind::NotFound {
            ExecError::RuntimeMissing {
                program: self.program.clone(),
                package: self.kind.program(),
            }
        } else {
            ExecError::io("run", &self.program)(e)
        }
    }

    /// Runs the bundle in `bundle` as container `id`, sending each output line to `output`,
    /// until it exits or `cancel` is set (then [`ExecError::Cancelled`]).
    pub(crate) fn run(
        &self,
        bundle: &Path,
        id: &str,
        cancel: &CancelFlag,
        output: &mut dyn FnMut(Stream, &[u8]),
    ) -> Result<RunOutcome, ExecError> {
        let mut command = self.command();
        command
            .arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg(id)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let mut child = command.spawn().map_err(|e| self.spawn_error(e))?;
        let (tx, rx) = mpsc::channel::<(Stream, Vec<u8>)>();
        let mut readers = Vec::new();
        if let Some(out) = child.stdout.take() {
            readers.push(spawn_reader(out, Stream::Stdout, tx.clone()));
        }
        if let Some(err) = child.stderr.take() {
            readers.push(spawn_reader(err, Stream::Stderr, tx.clone()));
        }
        drop(tx);
        let mut tail = VecDeque::with_capacity(TAIL_LINES);
        let mut killed = false;
        loop {
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok((stream, line)) => {
                    output(stream, &line);
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(String::from_utf8_lossy(&line).into_owned());
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if cancel.is_cancelled() && !killed {
                killed = true;
                self.kill(id);
            }
        }
        for reader in readers {
            let _ = reader.join();
        }
        let status = child
            .wait()
            .map_err(ExecError::io("wait for", &self.program))?;
        self.delete(id);
        if killed || cancel.is_cancelled() {
            return Err(ExecError::Cancelled);
        }
        use std::os::unix::process::ExitStatusExt;
        // `runc run` exits with 128 + signal when the container's process is killed; a
        // runtime that itself dies of a signal is a failure of the runtime, not of the step.
        if let Some(signal) = status.signal() {
            return Err(ExecError::RuntimeKilled {
                program: self.program.clone(),
                signal,
            });
        }
        let code = status
            .code()
            .or_else(|| status.signal().map(|s| 128 + s))
            .unwrap_or(-1);
        Ok(RunOutcome {
            code,
            tail: tail.into(),
        })
    }

    /// Sends SIGKILL to container `id` (best effort: it may have exited already).
    fn kill(&self, id: &str) {
        let _ = self
            .command()
            .args(["kill", id, "KILL"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Removes container `id` whatever its state (best effort: usually already gone).
    pub(crate) fn delete(&self, id: &str) {
        let _ = self
            .command()
            .args(["delete", "--force", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn spawn_reader(
    pipe: impl Read + Send + 'static,
    stream: Stream,
    tx: mpsc::Sender<(Stream, Vec<u8>)>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if line.last() == Some(&b'\n') {
                        line.pop();
                    }
                    if tx.send((stream, line.clone())).is_err() {
                        break;
                    }
                }
            }
        }
    })
}

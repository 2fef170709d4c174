//! Renderers of the library's progress events: a live terminal view ([`tty`]), BuildKit-style
//! lines for logs ([`plain`]) and JSON lines for programs ([`json`]). All of them write to
//! standard error; the image digest alone goes to standard output.

pub mod json;
pub mod plain;
pub mod tty;

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use builder_core::events::{BuildSummary, Event, EventSink, NoEvents, StepId};

use crate::Failure;
use crate::args::ProgressArg;
use crate::size::human_size;

/// A progress view: an event sink that can be closed once the build is over.
pub trait Progress: EventSink {
    /// Ends the view (stops spinners of steps left running by a failure). Called once.
    fn close(&self) {}
}

impl Progress for NoEvents {}

/// A view that remembers the highest step id it was sent, so steps that follow a build (the
/// pushes of `--push`) go on with the build's numbering.
pub struct Numbered {
    view: Arc<dyn Progress>,
    last: AtomicU32,
}

impl Numbered {
    /// Passes events on to `view`.
    pub fn new(view: Arc<dyn Progress>) -> Self {
        Numbered {
            view,
            last: AtomicU32::new(0),
        }
    }

    /// A step id after every one seen so far.
    pub fn next_id(&self) -> StepId {
        StepId(self.last.fetch_add(1, Ordering::SeqCst).saturating_add(1))
    }
}

impl EventSink for Numbered {
    fn emit(&self, event: Event) {
        if let Event::StepStarted { id, .. } = &event {
            self.last.fetch_max(id.0, Ordering::SeqCst);
        }
        self.view.emit(event);
    }
}

impl Progress for Numbered {
    fn close(&self) {
        self.view.close();
    }
}

/// Which view a build uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The live terminal view.
    Tty,
    /// BuildKit-style lines.
    Plain,
    /// JSON lines.
    Json,
    /// Nothing (`-q`).
    Quiet,
}

/// What `auto` looks at: whether standard error is a terminal, `CI`, `TERM`.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// Standard error is a terminal.
    pub stderr_is_terminal: bool,
    /// `CI` is set (to anything but the empty string).
    pub ci: bool,
    /// `TERM` is `dumb`.
    pub dumb: bool,
}

impl Terminal {
    /// This process's terminal and environment.
    pub fn detect() -> Terminal {
        let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        Terminal {
            stderr_is_terminal: std::io::stderr().is_terminal(),
            ci: set("CI"),
            dumb: std::env::var_os("TERM").is_some_and(|t| t == "dumb"),
        }
    }
}

/// The mode for `--progress` and `-q`: `auto` is `tty` on a terminal outside CI, else `plain`.
pub fn choose(arg: ProgressArg, quiet: bool, terminal: Terminal) -> Result<Mode, Failure> {
    if quiet {
        return Ok(Mode::Quiet);
    }
    Ok(match arg {
        ProgressArg::Auto if terminal.stderr_is_terminal && !terminal.ci && !terminal.dumb => {
            Mode::Tty
        }
        ProgressArg::Auto | ProgressArg::Plain => Mode::Plain,
        ProgressArg::Json => Mode::Json,
        ProgressArg::Tty if terminal.stderr_is_terminal => Mode::Tty,
        ProgressArg::Tty => {
            return Err(Failure::usage(
                "--progress tty needs a terminal on standard error (use --progress plain)",
            ));
        }
    })
}

/// The view for `mode`, drawing on standard error.
pub fn view(mode: Mode) -> Arc<dyn Progress> {
    match mode {
        Mode::Tty => Arc::new(tty::TtyProgress::new()),
        Mode::Plain => Arc::new(plain::PlainProgress::new(Box::new(std::io::stderr()))),
        Mode::Json => Arc::new(json::JsonProgress::new(Box::new(std::io::stderr()))),
        Mode::Quiet => Arc::new(NoEvents),
    }
}

/// Seconds with one decimal, as BuildKit prints step times: `3.2s`.
pub fn seconds(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

/// The summary line: `built sha256:... in 1.2s: 12 steps (4 cached, 8 run), 3.4MB`.
pub fn summary_line(summary: &BuildSummary) -> String {
    format!(
        "built {} in {}: {} steps ({} cached, {} run), {}",
        summary.manifest_digest,
        seconds(summary.elapsed),
        summary.steps,
        summary.cached,
        summary.steps.saturating_sub(summary.cached),
        human_size(summary.size)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_terminal_and_ci() {
        let term = |t, ci| Terminal {
            stderr_is_terminal: t,
            ci,
            dumb: false,
        };
        let auto = |t| choose(ProgressArg::Auto, false, t).unwrap();
        assert_eq!(auto(term(true, false)), Mode::Tty);
        assert_eq!(auto(term(false, false)), Mode::Plain);
        assert_eq!(auto(term(true, true)), Mode::Plain);
        assert_eq!(
            choose(ProgressArg::Json, true, term(true, false)).unwrap(),
            Mode::Quiet
        );
        assert!(choose(ProgressArg::Tty, false, term(false, false)).is_err());
    }
}

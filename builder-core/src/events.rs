//! The typed progress-event stream: what a build reports while it runs.
//!
//! The library never prints. It sends [`Event`]s to an [`EventSink`] given to it; the CLI
//! renders them (a live terminal view, BuildKit-style plain lines, or JSON lines) and library
//! users may consume them however they like. Events are plain data so they can be serialised.

use std::sync::Mutex;
use std::time::Duration;

/// Identifies one step of a build (a `FROM`, an instruction, a pull, an export) for the
/// lifetime of the build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StepId(pub u32);

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output of the step's process.
    Stdout,
    /// Standard error of the step's process.
    Stderr,
}

/// Something that happened during a build.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A step starts; `name` is what users see, e.g. `[build 2/4] RUN make`.
    StepStarted {
        /// The step.
        id: StepId,
        /// Its display name.
        name: String,
    },
    /// A step was answered from the cache: no work was done.
    StepCached {
        /// The step.
        id: StepId,
    },
    /// A line of a step's output (without its newline; never clipped).
    StepLog {
        /// The step.
        id: StepId,
        /// Which stream.
        stream: Stream,
        /// The line, as bytes (output need not be UTF-8).
        line: Vec<u8>,
    },
    /// Byte progress of a step that moves data (pull, push, layer export).
    StepProgress {
        /// The step.
        id: StepId,
        /// Bytes done.
        current: u64,
        /// Bytes in all, when known.
        total: Option<u64>,
    },
    /// A step finished successfully.
    StepDone {
        /// The step.
        id: StepId,
        /// How long it took.
        elapsed: Duration,
    },
    /// A step failed; the build stops.
    StepFailed {
        /// The step.
        id: StepId,
        /// What went wrong, one line.
        message: String,
    },
    /// A finding that does not stop the build.
    Warning {
        /// The message, with its location when it has one.
        message: String,
    },
}

/// Receives events. Implementations must be cheap and must not block the build for long.
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn emit(&self, event: Event);
}

/// A sink that drops every event.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: Event) {}
}

/// A sink that keeps every event in memory, in order (for tests and for callers that want the
/// whole log after the build).
#[derive(Debug, Default)]
pub struct EventLog {
    events: Mutex<Vec<Event>>,
}

impl EventLog {
    /// The events received so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl EventSink for EventLog {
    fn emit(&self, event: Event) {
        if let Ok(mut events) = self.events.lock() {
            events.push(event);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_keeps_events_in_order() {
        let log = EventLog::default();
        log.emit(Event::StepStarted {
            id: StepId(1),
            name: "[1/1] FROM scratch".into(),
        });
        log.emit(Event::StepCached { id: StepId(1) });
        assert_eq!(log.events().len(), 2);
        assert_eq!(log.events()[1], Event::StepCached { id: StepId(1) });
        NoEvents.emit(Event::StepCached { id: StepId(1) });
    }
}

//! The typed progress-event stream: what a build reports while it runs.
//!
//! The library never prints. It sends [`Event`]s to an [`EventSink`] given to it; the CLI
//! renders them (a live terminal view, BuildKit-style plain lines, or JSON lines) and library
//! users may consume them however they like. Events are plain data so they can be serialised.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
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

/// Where a step stands in the Dockerfile: its stage and its place in that stage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepPosition {
    /// The stage's index in the Dockerfile (0-based).
    pub stage_index: usize,
    /// The stage's name (`AS name`), or `stage-N` when unnamed.
    pub stage_name: String,
    /// The step's number in its stage, from 1 (`FROM` is step 1).
    pub step: usize,
    /// How many steps the stage has.
    pub steps: usize,
}

impl StepPosition {
    /// The position of step `step` of `steps` in stage `stage_index` named `stage_name`.
    pub fn new(
        stage_index: usize,
        stage_name: impl Into<String>,
        step: usize,
        steps: usize,
    ) -> Self {
        StepPosition {
            stage_index,
            stage_name: stage_name.into(),
            step,
            steps,
        }
    }
}

/// What a finished build produced and what it cost, for the summary line of a progress view.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BuildSummary {
    /// The image manifest's digest.
    pub manifest_digest: registry_client::Digest,
    /// The image's size: manifest, config and compressed layers, in bytes.
    pub size: u64,
    /// The tags given to the image.
    pub tags: Vec<String>,
    /// How many steps ran (including the cached ones).
    pub steps: u32,
    /// How many steps were answered from the cache.
    pub cached: u32,
    /// The build's wall-clock time.
    pub elapsed: Duration,
}

impl BuildSummary {
    /// A summary of an image `manifest_digest` of `size` bytes; counts and tags start empty.
    pub fn new(manifest_digest: registry_client::Digest, size: u64, elapsed: Duration) -> Self {
        BuildSummary {
            manifest_digest,
            size,
            tags: Vec::new(),
            steps: 0,
            cached: 0,
            elapsed,
        }
    }
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
        /// Its stage and place in the stage, for steps of a Dockerfile stage (`None` for
        /// steps outside stages, such as a pull or an export).
        position: Option<StepPosition>,
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
    /// Byte progress of one transfer of a step that moves data: a blob pulled or pushed, a
    /// layer exported. A step may move several things at once; `item` tells them apart.
    StepProgress {
        /// The step.
        id: StepId,
        /// What moves, e.g. `pulling sha256:0123456789ab`, `pushing sha256:…` or
        /// `exporting layer sha256:…` (the digest cut to 12 hex digits, as docker shows it).
        item: String,
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
    /// The build finished and the image is in the store: the last event of a successful build.
    BuildFinished(BuildSummary),
}

/// Receives events. Implementations must be cheap and must not block the build for long.
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn emit(&self, event: Event);
}

/// A sink that counts the steps finished and cached while passing every event on, so the
/// builder can report them in its [`BuildSummary`].
pub(crate) struct StepTally<'a> {
    inner: &'a dyn EventSink,
    done: AtomicU32,
    cached: AtomicU32,
}

impl<'a> StepTally<'a> {
    /// A tally passing events on to `inner`.
    pub(crate) fn new(inner: &'a dyn EventSink) -> Self {
        StepTally {
            inner,
            done: AtomicU32::new(0),
            cached: AtomicU32::new(0),
        }
    }

    /// Fills `summary`'s step counts and sends it as [`Event::BuildFinished`].
    pub(crate) fn finish(&self, mut summary: BuildSummary) {
        summary.steps = self.done.load(Ordering::Relaxed);
        summary.cached = self.cached.load(Ordering::Relaxed);
        self.inner.emit(Event::BuildFinished(summary));
    }
}

impl EventSink for StepTally<'_> {
    fn emit(&self, event: Event) {
        match &event {
            Event::StepDone { .. } => self.done.fetch_add(1, Ordering::Relaxed),
            Event::StepCached { .. } => self.cached.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        self.inner.emit(event);
    }
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
            position: Some(StepPosition::new(0, "stage-0", 1, 1)),
        });
        log.emit(Event::StepCached { id: StepId(1) });
        assert_eq!(log.events().len(), 2);
        assert_eq!(log.events()[1], Event::StepCached { id: StepId(1) });
        NoEvents.emit(Event::StepCached { id: StepId(1) });
    }

    #[test]
    fn the_tally_counts_steps_and_passes_events_on() {
        let log = EventLog::default();
        let tally = StepTally::new(&log);
        tally.emit(Event::StepCached { id: StepId(1) });
        for id in [1, 2] {
            tally.emit(Event::StepDone {
                id: StepId(id),
                elapsed: Duration::ZERO,
            });
        }
        let digest = registry_client::Digest::sha256_of(b"m");
        tally.finish(BuildSummary::new(digest, 10, Duration::ZERO));
        let events = log.events();
        assert_eq!(events.len(), 4);
        let Event::BuildFinished(summary) = &events[3] else {
            panic!("{events:?}");
        };
        assert_eq!((summary.steps, summary.cached, summary.size), (2, 1, 10));
    }
}

//! BuildKit-style plain progress, for logs and CI:
//!
//! ```text
//! #5 [build 2/4] RUN make
//! #5 0.123 cc -c main.c
//! #5 DONE 3.2s
//!
//! #6 [build 3/4] COPY . /src
//! #6 CACHED
//! ```
//!
//! Byte progress (pulls, pushes, layer exports) prints at most one line per second for each
//! thing moved, and a last line when it is done, BuildKit-style:
//!
//! ```text
//! #2 pulling sha256:3f5c0a1b2c3d 12.3MB / 40.1MB 1.0s
//! #2 pulling sha256:3f5c0a1b2c3d 40.1MB 2.4s done
//! ```
//!
//! Lines of parallel steps interleave; whenever the step changes, its header line is repeated
//! so every block says which step it belongs to, as BuildKit does.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use builder_core::events::{Event, EventSink, StepId};

use super::{Progress, seconds, summary_line};
use crate::size::human_size;

/// How often a step's byte progress is printed at most.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// A step as the printer remembers it.
#[derive(Debug)]
struct Step {
    name: String,
    started: Instant,
    cached: bool,
    /// When a progress line was last printed, for each thing the step moves.
    last_progress: BTreeMap<String, Instant>,
}

#[derive(Debug, Default)]
struct State {
    steps: BTreeMap<StepId, Step>,
    /// The step the last line was about.
    current: Option<StepId>,
    /// Whether anything was printed (blank lines separate blocks).
    printed: bool,
}

/// The plain printer, writing to `out` (standard error).
pub struct PlainProgress {
    out: Mutex<(Box<dyn Write + Send>, State)>,
}

impl std::fmt::Debug for PlainProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlainProgress").finish_non_exhaustive()
    }
}

impl PlainProgress {
    /// A printer writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        PlainProgress {
            out: Mutex::new((out, State::default())),
        }
    }
}

impl State {
    /// The lines for `event`.
    fn lines(&mut self, event: Event) -> Vec<String> {
        match event {
            Event::StepStarted { id, name, .. } => {
                let mut lines = self.separator();
                lines.push(format!("#{} {name}", id.0));
                self.steps.insert(
                    id,
                    Step {
                        name,
                        started: Instant::now(),
                        cached: false,
                        last_progress: BTreeMap::new(),
                    },
                );
                self.current = Some(id);
                lines
            }
            Event::StepCached { id } => {
                if let Some(step) = self.steps.get_mut(&id) {
                    step.cached = true;
                }
                self.about(id, "CACHED".into())
            }
            // Both streams print alike, as in BuildKit's plain output.
            Event::StepLog { id, line, .. } => {
                let at = self
                    .steps
                    .get(&id)
                    .map_or(0.0, |s| s.started.elapsed().as_secs_f64());
                self.about(id, format!("{at:.3} {}", String::from_utf8_lossy(&line)))
            }
            Event::StepProgress {
                id,
                item,
                current,
                total,
            } => {
                let Some(step) = self.steps.get_mut(&id) else {
                    return Vec::new();
                };
                let finished = total.is_some_and(|t| current >= t);
                let last = step.last_progress.get(&item);
                // The first line comes after a second too: a quick transfer prints only
                // its `done` line.
                let due = last.map_or(step.started, |at| *at).elapsed() >= PROGRESS_INTERVAL;
                if !(due || finished) {
                    return Vec::new();
                }
                let elapsed = seconds(step.started.elapsed());
                let text = match total {
                    Some(t) if finished => format!("{item} {} {elapsed} done", human_size(t)),
                    Some(t) => format!(
                        "{item} {} / {} {elapsed}",
                        human_size(current),
                        human_size(t)
                    ),
                    None => format!("{item} {} {elapsed}", human_size(current)),
                };
                step.last_progress.insert(item, Instant::now());
                self.about(id, text)
            }
            Event::StepDone { id, elapsed } => match self.steps.get(&id) {
                Some(step) if step.cached => Vec::new(),
                _ => self.about(id, format!("DONE {}", seconds(elapsed))),
            },
            // The first line: the whole error (with a RUN's last output lines) follows the
            // progress, once.
            Event::StepFailed { id, message } => {
                self.about(id, format!("ERROR: {}", first_line(&message)))
            }
            Event::Warning { message } => {
                let mut lines = self.separator();
                lines.push(format!("WARNING: {message}"));
                self.current = None;
                lines
            }
            Event::BuildFinished(summary) => {
                let mut lines = self.separator();
                lines.push(format!("writing image {} done", summary.manifest_digest));
                for tag in &summary.tags {
                    lines.push(format!("naming to {tag} done"));
                }
                lines.push(summary_line(&summary));
                self.current = None;
                lines
            }
            other => {
                let mut lines = self.separator();
                lines.push(format!("{other:?}"));
                self.current = None;
                lines
            }
        }
    }

    /// A blank line before a new block, once something was printed.
    fn separator(&self) -> Vec<String> {
        if self.printed {
            vec![String::new()]
        } else {
            Vec::new()
        }
    }

    /// `#N text`, after the step's header again when the last line was about another step.
    fn about(&mut self, id: StepId, text: String) -> Vec<String> {
        let mut lines = Vec::new();
        if self.current != Some(id) {
            lines = self.separator();
            if let Some(step) = self.steps.get(&id) {
                lines.push(format!("#{} {}", id.0, step.name));
            }
            self.current = Some(id);
        }
        lines.push(format!("#{} {text}", id.0));
        lines
    }
}

/// The first line of `text`.
pub fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default()
}

impl EventSink for PlainProgress {
    fn emit(&self, event: Event) {
        let Ok(mut guard) = self.out.lock() else {
            return;
        };
        let (out, state) = &mut *guard;
        let lines = state.lines(event);
        if lines.is_empty() {
            return;
        }
        state.printed = true;
        let mut text = lines.join("\n");
        text.push('\n');
        // Progress is best effort: a closed standard error must not fail the build.
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }
}

impl Progress for PlainProgress {}

#[cfg(test)]
mod tests {
    use super::*;
    use builder_core::events::Stream;

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn interleaved_steps_repeat_their_header() {
        let out = Shared::default();
        let p = PlainProgress::new(Box::new(out.clone()));
        let start = |id, name: &str| Event::StepStarted {
            id: StepId(id),
            name: name.into(),
            position: None,
        };
        p.emit(start(1, "[a 1/2] RUN x"));
        p.emit(start(2, "[b 1/2] RUN y"));
        p.emit(Event::StepLog {
            id: StepId(1),
            stream: Stream::Stdout,
            line: b"hello".to_vec(),
        });
        p.emit(Event::StepCached { id: StepId(2) });
        p.emit(Event::StepDone {
            id: StepId(2),
            elapsed: Duration::ZERO,
        });
        p.emit(Event::StepProgress {
            id: StepId(1),
            item: "pulling sha256:0123456789ab".into(),
            current: 3,
            total: Some(10),
        });
        p.emit(Event::StepProgress {
            id: StepId(1),
            item: "pulling sha256:0123456789ab".into(),
            current: 10,
            total: Some(10),
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "#1 [a 1/2] RUN x");
        assert_eq!(lines[2], "#2 [b 1/2] RUN y");
        assert_eq!(lines[4], "#1 [a 1/2] RUN x");
        assert!(lines[5].starts_with("#1 0.0") && lines[5].ends_with(" hello"));
        assert_eq!(lines[7..9], ["#2 [b 1/2] RUN y", "#2 CACHED"]);
        // Not a second old: no line for 3 of 10 bytes, only the one saying it is done.
        assert!(
            lines[11].starts_with("#1 pulling sha256:0123456789ab 10B ")
                && lines[11].ends_with(" done"),
            "{text}"
        );
        assert_eq!(lines.len(), 12, "{text}");
        assert!(
            !text.contains("DONE"),
            "a cached step has no DONE line:\n{text}"
        );
    }
}

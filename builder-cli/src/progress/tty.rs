//! The live terminal view (indicatif): one line per step, in the order steps start.
//!
//! ```text
//!  => [build 1/4] FROM scratch                      0.0s
//!  => CACHED [build 2/4] COPY . /src
//!  ⠙ [build 3/4] RUN make                           2.1s
//!      cc -c main.c
//!      cc -o app main.o
//! ```
//!
//! A running step shows a spinner and its elapsed time, the last [`LOG_LINES`] lines of its
//! output under it, and a byte bar under it for each blob it pulls or pushes while that
//! moves (a bar goes when its transfer is done); a finished one its duration,
//! a cached one `CACHED`. Steps of stages running in parallel are simply running at once, each
//! on its own line. The summary is printed when the build finishes.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use builder_core::events::{Event, EventSink, StepId};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::{Progress, seconds, summary_line};

/// How many lines of a running step's output are shown under it.
pub const LOG_LINES: usize = 5;

/// One step's line.
struct StepLine {
    bar: ProgressBar,
    name: String,
    log: VecDeque<String>,
    cached: bool,
    /// A byte bar for each thing the step is moving, under the step's line.
    transfers: BTreeMap<String, ProgressBar>,
}

/// The live view on standard error.
pub struct TtyProgress {
    multi: MultiProgress,
    steps: Mutex<BTreeMap<StepId, StepLine>>,
    width: usize,
}

impl std::fmt::Debug for TtyProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TtyProgress").finish_non_exhaustive()
    }
}

impl Default for TtyProgress {
    fn default() -> Self {
        Self::new()
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_spinner())
        .with_key(
            "secs",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{}", seconds(state.elapsed()));
            },
        )
        .tick_chars("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏ ")
}

/// The terminal's width in columns (80 when unknown).
fn terminal_width() -> usize {
    rustix::termios::tcgetwinsize(std::io::stderr())
        .ok()
        .map(|w| usize::from(w.ws_col))
        .filter(|&w| w > 20)
        .unwrap_or(80)
}

/// `text` cut to `width` characters.
fn clip(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

impl TtyProgress {
    /// A view drawing on standard error.
    pub fn new() -> Self {
        Self::with_target(ProgressDrawTarget::stderr_with_hz(10), terminal_width())
    }

    /// A view drawing on `target`, `width` columns wide.
    pub fn with_target(target: ProgressDrawTarget, width: usize) -> Self {
        TtyProgress {
            multi: MultiProgress::with_draw_target(target),
            steps: Mutex::new(BTreeMap::new()),
            width,
        }
    }

    /// The step's name and the last lines of its output, as the bar's message.
    fn message(&self, line: &StepLine) -> String {
        let mut message = clip(&line.name, self.width.saturating_sub(12));
        for log in &line.log {
            message.push_str("\n     ");
            message.push_str(&clip(log, self.width.saturating_sub(6)));
        }
        message
    }

    /// Moves the byte bar of `item` under `line` (made on its first report; gone when done).
    fn transfer(&self, line: &mut StepLine, item: String, current: u64, total: Option<u64>) {
        let done = total.is_some_and(|t| current >= t);
        if done {
            if let Some(bar) = line.transfers.remove(&item) {
                bar.finish_and_clear();
            }
            return;
        }
        let after = line.transfers.values().last().unwrap_or(&line.bar).clone();
        let bar = line.transfers.entry(item).or_insert_with_key(|item| {
            let bar = self.multi.insert_after(&after, ProgressBar::new(0));
            bar.set_style(style(
                "     {msg} [{bar:25}] {bytes}/{total_bytes} {binary_bytes_per_sec:.dim}",
            ));
            bar.set_message(clip(item, 32));
            bar
        });
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(current);
    }

    fn finish(&self, line: &StepLine, text: String) {
        for bar in line.transfers.values() {
            bar.finish_and_clear();
        }
        line.bar.set_style(style("{msg}"));
        line.bar.finish_with_message(clip(&text, self.width));
    }

    fn handle(&self, steps: &mut BTreeMap<StepId, StepLine>, event: Event) {
        match event {
            Event::StepStarted { id, name, .. } => {
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(style(" {spinner:.cyan} {msg} {secs:.dim}"));
                bar.enable_steady_tick(Duration::from_millis(100));
                let line = StepLine {
                    bar,
                    name,
                    log: VecDeque::new(),
                    cached: false,
                    transfers: BTreeMap::new(),
                };
                line.bar.set_message(self.message(&line));
                steps.insert(id, line);
            }
            Event::StepCached { id } => {
                if let Some(line) = steps.get_mut(&id) {
                    line.cached = true;
                    self.finish(line, format!(" => CACHED {}", line.name));
                }
            }
            Event::StepLog { id, line: text, .. } => {
                if let Some(line) = steps.get_mut(&id) {
                    if line.log.len() == LOG_LINES {
                        line.log.pop_front();
                    }
                    let text = String::from_utf8_lossy(&text).replace('\t', "    ");
                    line.log.push_back(text);
                    line.bar.set_message(self.message(line));
                }
            }
            Event::StepProgress {
                id,
                item,
                current,
                total,
            } => {
                if let Some(line) = steps.get_mut(&id) {
                    self.transfer(line, item, current, total);
                }
            }
            Event::StepDone { id, elapsed } => {
                if let Some(line) = steps.get(&id)
                    && !line.cached
                {
                    let text = format!(" => {}", line.name);
                    let pad = self.width.saturating_sub(text.chars().count() + 8);
                    let done = format!("{text}{:pad$} {:>6}", "", seconds(elapsed));
                    self.finish(line, done);
                }
            }
            Event::StepFailed { id, message } => {
                if let Some(line) = steps.get(&id) {
                    let message = super::plain::first_line(&message);
                    self.finish(line, format!(" => ERROR {}: {message}", line.name));
                }
            }
            Event::Warning { message } => {
                let _ = self.multi.println(format!("WARNING: {message}"));
            }
            Event::BuildFinished(summary) => {
                // A last line under the steps (`println` would print above them).
                let mut text: Vec<String> = summary
                    .tags
                    .iter()
                    .map(|t| format!(" => naming to {t}"))
                    .collect();
                text.push(summary_line(&summary));
                let bar = self.multi.add(ProgressBar::new_spinner());
                bar.set_style(style("{msg}"));
                bar.finish_with_message(text.join("\n"));
            }
            other => {
                let _ = self.multi.println(format!("{other:?}"));
            }
        }
    }
}

impl EventSink for TtyProgress {
    fn emit(&self, event: Event) {
        if let Ok(mut steps) = self.steps.lock() {
            self.handle(&mut steps, event);
        }
    }
}

impl Progress for TtyProgress {
    fn close(&self) {
        if let Ok(steps) = self.steps.lock() {
            for line in steps.values().filter(|l| !l.bar.is_finished()) {
                line.bar.abandon();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_running_step_shows_its_last_lines_and_a_finished_one_its_time() {
        let view = TtyProgress::with_target(ProgressDrawTarget::hidden(), 40);
        let id = StepId(1);
        view.emit(Event::StepStarted {
            id,
            name: "[build 2/3] RUN make".into(),
            position: None,
        });
        for i in 0..7 {
            view.emit(Event::StepLog {
                id,
                stream: builder_core::events::Stream::Stdout,
                line: format!("line {i} {}", "x".repeat(50)).into_bytes(),
            });
        }
        let message = view.steps.lock().unwrap()[&id].bar.message();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 1 + LOG_LINES, "{message}");
        assert!(lines[1].trim_start().starts_with("line 2"), "{message}");
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{message}");
        let item = "pushing sha256:0123456789ab";
        view.emit(Event::StepProgress {
            id,
            item: item.into(),
            current: 5,
            total: Some(10),
        });
        let bar = view.steps.lock().unwrap()[&id].transfers[item].clone();
        assert_eq!((bar.position(), bar.length()), (5, Some(10)));
        view.emit(Event::StepProgress {
            id,
            item: item.into(),
            current: 10,
            total: Some(10),
        });
        assert!(bar.is_finished());
        assert!(view.steps.lock().unwrap()[&id].transfers.is_empty());
        view.emit(Event::StepDone {
            id,
            elapsed: Duration::from_millis(3210),
        });
        let bar = view.steps.lock().unwrap()[&id].bar.clone();
        assert!(bar.is_finished());
        assert!(bar.message().starts_with(" => [build 2/3] RUN make"));
        assert!(bar.message().ends_with("3.2s"), "{}", bar.message());
        view.close();
    }
}

//! JSON-lines progress: one JSON object per event per line, for programs.
//!
//! The objects follow `docs/events.schema.json` (documented in `docs/events.md`); every object
//! carries `"v": 1` (the schema version), `"type"` and `"t"` (seconds since the stream
//! started). The schema is written here by hand, not derived from the Rust types, so that the
//! library's events can grow without changing what programs read: a new field is a new
//! version only when an old reader would misread it.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use builder_core::events::{Event, EventSink, StepPosition, Stream};
use serde_json::{Value, json};

use super::Progress;

/// The schema version every object carries in `"v"`.
pub const SCHEMA_VERSION: u64 = 1;

/// The JSON printer, writing to `out` (standard error).
pub struct JsonProgress {
    started: Instant,
    out: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for JsonProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonProgress").finish_non_exhaustive()
    }
}

impl JsonProgress {
    /// A printer writing to `out`.
    pub fn new(out: Box<dyn Write + Send>) -> Self {
        JsonProgress {
            started: Instant::now(),
            out: Mutex::new(out),
        }
    }

    /// Writes one object: `fields` with `v`, `type` and `t` added.
    pub fn write(&self, kind: &str, fields: Value) {
        let mut object = json!({
            "v": SCHEMA_VERSION,
            "type": kind,
            "t": round_ms(self.started.elapsed().as_secs_f64()),
        });
        if let (Some(o), Value::Object(extra)) = (object.as_object_mut(), fields) {
            o.extend(extra);
        }
        let Ok(mut out) = self.out.lock() else {
            return;
        };
        let mut line = object.to_string();
        line.push('\n');
        // Progress is best effort: a closed standard error must not fail the build.
        let _ = out.write_all(line.as_bytes());
        let _ = out.flush();
    }
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

fn position(p: &StepPosition) -> Value {
    json!({
        "stage_index": p.stage_index,
        "stage_name": p.stage_name,
        "step": p.step,
        "steps": p.steps,
    })
}

/// The `type` and fields of `event`.
fn encode(event: &Event) -> (&'static str, Value) {
    match event {
        Event::StepStarted {
            id,
            name,
            position: p,
        } => (
            "step_started",
            json!({"id": id.0, "name": name, "position": p.as_ref().map(position)}),
        ),
        Event::StepCached { id } => ("step_cached", json!({"id": id.0})),
        Event::StepLog { id, stream, line } => {
            let stream = match stream {
                Stream::Stdout => "stdout",
                Stream::Stderr => "stderr",
            };
            let text = String::from_utf8_lossy(line);
            (
                "step_log",
                json!({"id": id.0, "stream": stream, "line": text}),
            )
        }
        Event::StepProgress {
            id,
            item,
            current,
            total,
        } => (
            "step_progress",
            json!({"id": id.0, "item": item, "current": current, "total": total}),
        ),
        Event::StepDone { id, elapsed } => (
            "step_done",
            json!({"id": id.0, "elapsed": round_ms(elapsed.as_secs_f64())}),
        ),
        Event::StepFailed { id, message } => {
            let message = super::plain::first_line(message);
            ("step_failed", json!({"id": id.0, "message": message}))
        }
        Event::Warning { message } => ("warning", json!({"message": message})),
        Event::BuildFinished(s) => (
            "build_finished",
            json!({
                "digest": s.manifest_digest.to_string(),
                "size": s.size,
                "tags": s.tags,
                "steps": s.steps,
                "cached": s.cached,
                "elapsed": round_ms(s.elapsed.as_secs_f64()),
            }),
        ),
        // An event newer than this schema: passed on as text rather than dropped.
        other => ("other", json!({"text": format!("{other:?}")})),
    }
}

impl EventSink for JsonProgress {
    fn emit(&self, event: Event) {
        let (kind, fields) = encode(&event);
        self.write(kind, fields);
    }
}

impl Progress for JsonProgress {}

#[cfg(test)]
mod tests {
    use super::*;
    use builder_core::events::StepId;

    #[test]
    fn every_object_has_version_type_and_time() {
        let (kind, fields) = encode(&Event::StepLog {
            id: StepId(3),
            stream: Stream::Stderr,
            line: b"caf\xc3\xa9 \xff".to_vec(),
        });
        assert_eq!(kind, "step_log");
        assert_eq!(fields["line"], "café \u{fffd}");
        assert_eq!(fields["stream"], "stderr");
    }
}

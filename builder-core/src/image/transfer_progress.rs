//! [`Reporter`]: the byte progress of a pull or push, as [`Event::StepProgress`] events.
//!
//! The registry client calls its progress callback from inside the transfer (often, on the
//! runtime's thread); the callback only forwards the counts through a channel. The caller's
//! loop drains the channel every [`TICK`] while it waits for the transfer and sends at most
//! one event per blob per tick, plus the last count of each blob at the end: so the sink, which
//! need not be `'static`, is never called from the client and never flooded.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, channel};
use std::time::Duration;

use registry_client::{Client, Digest};

use crate::events::{Event, EventSink, StepId};

/// How often the counts are turned into events at most.
const TICK: Duration = Duration::from_millis(200);

/// Where a pull's or push's byte progress goes: a sink and the step the bytes belong to.
#[derive(Clone, Copy)]
pub struct Reporter<'a> {
    /// The sink.
    pub events: &'a dyn EventSink,
    /// The step (e.g. `[internal] load metadata for alpine`, or a push step).
    pub step: StepId,
}

impl std::fmt::Debug for Reporter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reporter")
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl<'a> Reporter<'a> {
    /// Reports to `events` under `step`.
    pub fn new(events: &'a dyn EventSink, step: StepId) -> Self {
        Reporter { events, step }
    }
}

/// Counts received from the client, not yet sent as events.
struct Pending {
    receiver: Receiver<(Digest, u64, u64)>,
    verb: &'static str,
}

impl Pending {
    /// Sends the latest count of each blob heard from since the last call.
    fn flush(&self, reporter: Option<Reporter<'_>>) {
        let mut latest: BTreeMap<Digest, (u64, u64)> = BTreeMap::new();
        while let Ok((digest, done, total)) = self.receiver.try_recv() {
            latest.insert(digest, (done, total));
        }
        let Some(r) = reporter else { return };
        for (digest, (done, total)) in latest {
            r.events.emit(Event::StepProgress {
                id: r.step,
                item: format!("{} {}", self.verb, short_digest(&digest)),
                current: done,
                total: Some(total),
            });
        }
    }
}

/// `sha256:` and the first 12 hex digits, as docker shows a digest.
pub(crate) fn short_digest(digest: &Digest) -> &str {
    let text = digest.as_str();
    let end = text
        .find(':')
        .map_or(text.len(), |i| (i + 13).min(text.len()));
    text.get(..end).unwrap_or(text)
}

/// `client`, reporting through `reporter` (`verb` names the direction: `pulling`, `pushing`),
/// and the counts it will produce.
fn watched(client: &Client, verb: &'static str) -> (Client, Pending) {
    let (sender, receiver) = channel();
    let client = client.with_progress(Arc::new(move |digest: &Digest, done, total| {
        // The receiver is gone only once the transfer is over.
        let _ = sender.send((digest.clone(), done, total));
    }));
    (client, Pending { receiver, verb })
}

/// Runs `transfer` (made from a client that reports its bytes) on `runtime`, turning its
/// counts into events for `reporter` as it goes.
pub(super) fn run_reported<T, F>(
    runtime: &tokio::runtime::Runtime,
    client: &Client,
    verb: &'static str,
    reporter: Option<Reporter<'_>>,
    transfer: impl FnOnce(Client) -> F,
) -> T
where
    F: Future<Output = T>,
{
    let Some(reporter) = reporter else {
        return runtime.block_on(transfer(client.clone()));
    };
    let (client, pending) = watched(client, verb);
    let result = runtime.block_on(async {
        let mut transfer = std::pin::pin!(transfer(client));
        loop {
            match tokio::time::timeout(TICK, &mut transfer).await {
                Ok(result) => break result,
                Err(_) => pending.flush(Some(reporter)),
            }
        }
    });
    pending.flush(Some(reporter));
    result
}

//! Builds a context into a store, then pushes the image to a registry.
//!
//! ```text
//! cargo run -p builder-core --example build_and_push -- CONTEXT REFERENCE [STORE]
//! cargo run -p builder-core --example build_and_push -- testdata/examples/scratch-copy \
//!     127.0.0.1:5000/scratch-copy:latest /tmp/hoist-store
//! ```
//!
//! `CONTEXT/Dockerfile` is built, tagged `REFERENCE` in the store (default: a temporary
//! directory), and pushed to `REFERENCE`'s registry with credentials from Docker's
//! `config.json` (loopback registries are spoken to over plain HTTP). Progress goes to
//! standard error, the pushed manifest's digest to standard output.

use std::path::PathBuf;
use std::sync::Arc;

use builder_core::events::{Event, EventSink, StepId};
use builder_core::exec::{BuildRequest, Builder, CancelFlag, find_local, parse_reference};
use builder_core::image::{Remote, Reporter};
use builder_core::store::Store;

/// Prints each step as it starts, finishes or is found in the cache, and RUN output.
struct Progress;

impl EventSink for Progress {
    fn emit(&self, event: Event) {
        match event {
            Event::StepStarted { id, name, .. } => eprintln!("#{} {name}", id.0),
            Event::StepCached { id } => eprintln!("#{} CACHED", id.0),
            Event::StepLog { id, line, .. } => {
                eprintln!("#{} {}", id.0, String::from_utf8_lossy(&line));
            }
            Event::StepDone { id, elapsed } => eprintln!("#{} DONE {:.1?}", id.0, elapsed),
            Event::StepFailed { id, message } => eprintln!("#{} ERROR {message}", id.0),
            // Byte progress of pulls, pushes and layer exports: here only their ends.
            Event::StepProgress {
                id,
                item,
                current,
                total,
            } if Some(current) == total => eprintln!("#{} {item} {current} bytes done", id.0),
            Event::Warning { message } => eprintln!("warning: {message}"),
            _ => {}
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args_os().skip(1);
    let (Some(context), Some(reference)) = (args.next(), args.next()) else {
        eprintln!("usage: build_and_push CONTEXT REFERENCE [STORE]");
        std::process::exit(2);
    };
    let context = PathBuf::from(context);
    let reference = reference.to_string_lossy().into_owned();
    let temporary = tempfile::tempdir()?;
    let store_root = args
        .next()
        .map_or_else(|| temporary.path().join("store"), PathBuf::from);

    let store = Store::open(store_root)?;
    let mut request = BuildRequest::new(&context, context.join("Dockerfile"))?;
    request.tags.push(reference.clone());
    // Set `cancel` from another thread (or a signal handler) to stop the build.
    let cancel = CancelFlag::new();
    request.run.cancel = cancel.clone();
    let built = Builder::new(store.clone(), Arc::new(Progress)).build(request)?;
    eprintln!(
        "built {} as {}",
        built.manifest_digest,
        built.tags.join(", ")
    );

    let image = find_local(&store, &reference, None)?.ok_or("the image is not in the store")?;
    let target = parse_reference(&reference).map_err(builder_core::Error::new)?;
    let remote = Remote::new(registry_client::Client::new()?);
    // The push reports the bytes of each blob it sends as progress of a step of its own (the
    // build numbers its steps from 1).
    let step = StepId(0);
    eprintln!("#{} push {target}", step.0);
    let pushed = remote.push_reported(
        &store,
        &image,
        &target,
        Some(Reporter::new(&Progress, step)),
    )?;
    println!("{pushed}");
    Ok(())
}

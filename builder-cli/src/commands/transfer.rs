//! `hoist pull` and `hoist push`: thin wrappers over builder-core's pull and push, with byte
//! progress shown by the same views as builds (see [`crate::progress`]).

use std::io::Write;
use std::time::Instant;

use builder_core::events::{Event, EventSink, StepId};
use builder_core::exec::{find_local, parse_reference, pull_and_tag};
use builder_core::image::{Remote, Reporter, StoredImage};
use builder_core::platform::Platform;
use builder_core::store::Store;

use crate::Failure;
use crate::args::{PullArgs, PushArgs, TransferProgressArgs};
use crate::image_options::registry_client;
use crate::options::store_root;
use crate::progress::{self, Progress, Terminal};

fn open_store() -> Result<Store, Failure> {
    let env = |k: &str| std::env::var(k).ok();
    Ok(Store::open(store_root(&env)?)?)
}

fn view(args: &TransferProgressArgs) -> Result<std::sync::Arc<dyn Progress>, Failure> {
    let mode = progress::choose(args.progress, args.quiet, Terminal::detect())?;
    Ok(progress::view(mode))
}

/// Runs `work` as step `id` named `name` of `events`: started, then done or failed.
fn as_step<T>(
    events: &dyn EventSink,
    id: StepId,
    name: String,
    work: impl FnOnce() -> Result<T, Failure>,
) -> Result<T, Failure> {
    events.emit(Event::StepStarted {
        id,
        name,
        position: None,
    });
    let started = Instant::now();
    let result = work();
    events.emit(match &result {
        Ok(_) => Event::StepDone {
            id,
            elapsed: started.elapsed(),
        },
        Err(e) => Event::StepFailed {
            id,
            message: e
                .render()
                .trim_start_matches("error: ")
                .trim_end()
                .to_owned(),
        },
    });
    result
}

/// Runs `hoist pull`: the image into the store, tagged; prints its manifest digest.
pub fn pull(args: &PullArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let platform = match &args.platform {
        Some(p) => Platform::parse(p).map_err(|e| anyhow::anyhow!("--platform: {e}"))?,
        None => Platform::host(),
    };
    let platform = registry_client::Platform::new(
        &platform.os,
        &platform.architecture,
        platform.variant.as_deref(),
    )
    .normalized();
    let store = open_store()?;
    let remote = Remote::new(registry_client(&args.registry)?);
    let view = view(&args.progress)?;
    let id = StepId(1);
    let image = as_step(
        view.as_ref(),
        id,
        format!("pull {}", args.reference),
        || {
            let reporter = Reporter::new(view.as_ref(), id);
            Ok(pull_and_tag(
                &store,
                &remote,
                &args.reference,
                &platform,
                Some(reporter),
            )?)
        },
    );
    view.close();
    writeln!(out, "{}", image?.descriptor.digest).map_err(anyhow::Error::from)?;
    Ok(())
}

/// Runs `hoist push`: the image tagged `REF` in the store to `REF`'s registry; prints the
/// pushed manifest's digest.
pub fn push(args: &PushArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let store = open_store()?;
    let image = find_local(&store, &args.reference, None)?
        .ok_or_else(|| anyhow::anyhow!("image {} is not in the local store", args.reference))?;
    let remote = Remote::new(registry_client(&args.registry)?);
    let view = view(&args.progress)?;
    let digest = push_image(
        &store,
        &remote,
        &image,
        &args.reference,
        (view.as_ref(), StepId(1)),
    );
    view.close();
    writeln!(out, "{}", digest?).map_err(anyhow::Error::from)?;
    Ok(())
}

/// Pushes `image` to `name` (normalised as docker does: `app` is `docker.io/library/app`), as
/// step `id` of `events` (`push <name>`, with the bytes of each blob sent).
pub fn push_image(
    store: &Store,
    remote: &Remote,
    image: &StoredImage,
    name: &str,
    (events, id): (&dyn EventSink, StepId),
) -> Result<registry_client::Digest, Failure> {
    let target = parse_reference(name).map_err(builder_core::Error::new)?;
    as_step(events, id, format!("push {target}"), || {
        let reporter = Reporter::new(events, id);
        Ok(remote.push_reported(store, image, &target, Some(reporter))?)
    })
}

//! `hoist pull` and `hoist push`: thin wrappers over builder-core's pull and push.

use std::io::Write;

use builder_core::exec::{find_local, parse_reference, pull_and_tag};
use builder_core::image::{Remote, StoredImage};
use builder_core::platform::Platform;
use builder_core::store::Store;

use crate::Failure;
use crate::args::{PullArgs, PushArgs};
use crate::image_options::registry_client;
use crate::options::store_root;

fn open_store() -> Result<Store, Failure> {
    let env = |k: &str| std::env::var(k).ok();
    Ok(Store::open(store_root(&env)?)?)
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
    let image = pull_and_tag(&store, &remote, &args.reference, &platform)?;
    writeln!(out, "{}", image.descriptor.digest).map_err(anyhow::Error::from)?;
    Ok(())
}

/// Runs `hoist push`: the image tagged `REF` in the store to `REF`'s registry; prints the
/// pushed manifest's digest.
pub fn push(args: &PushArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let store = open_store()?;
    let image = find_local(&store, &args.reference, None)?
        .ok_or_else(|| anyhow::anyhow!("image {} is not in the local store", args.reference))?;
    let remote = Remote::new(registry_client(&args.registry)?);
    let digest = push_image(&store, &remote, &image, &args.reference)?;
    writeln!(out, "{digest}").map_err(anyhow::Error::from)?;
    Ok(())
}

/// Pushes `image` to `name` (normalised as docker does: `app` is `docker.io/library/app`).
pub fn push_image(
    store: &Store,
    remote: &Remote,
    image: &StoredImage,
    name: &str,
) -> Result<registry_client::Digest, Failure> {
    let target = parse_reference(name).map_err(builder_core::Error::new)?;
    eprintln!("pushing {target}");
    Ok(remote.push(store, image, &target)?)
}

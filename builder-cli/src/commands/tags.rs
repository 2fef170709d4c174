//! `hoist tag SOURCE TARGET` and `hoist rmi IMAGE...`: tags in the local store's `index.json`.

use std::io::Write;

use anyhow::anyhow;
use builder_core::exec::normalize_tag;
use registry_client::Reference;

use super::images::{find_image, open_store};
use crate::Failure;
use crate::args::{RmiArgs, TagArgs};

/// Checks `text` is a valid image name (docker's grammar) and returns its stored form
/// (`name` -> `name:latest`).
fn valid_tag(text: &str) -> Result<String, Failure> {
    Reference::parse(text).map_err(|e| Failure::usage(format!("invalid tag {text:?}: {e}")))?;
    if text.contains('@') {
        return Err(Failure::usage(format!(
            "invalid tag {text:?}: a tag cannot contain a digest"
        )));
    }
    normalize_tag(text).map_err(Failure::usage)
}

/// Runs `hoist tag`: TARGET points at what SOURCE points at.
pub fn tag(args: &TagArgs) -> Result<(), Failure> {
    let store = open_store()?;
    let target = valid_tag(&args.target)?;
    let mut descriptor = find_image(&store, &args.source)?.descriptor;
    descriptor.annotations = None;
    store.tag(&target, &descriptor)?;
    Ok(())
}

/// Runs `hoist rmi`: removes each tag (a digest removes every tag pointing at it). Goes on
/// after a missing image and fails at the end, as docker does.
pub fn rmi(args: &RmiArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let store = open_store()?;
    let mut missing = Vec::new();
    for image in &args.images {
        let found = match find_image(&store, image) {
            Ok(found) => found,
            Err(Failure::Other(e)) => {
                missing.push(e.to_string());
                continue;
            }
            Err(e) => return Err(e),
        };
        let tags: Vec<String> = match found.tag {
            Some(tag) => vec![tag],
            None => store
                .tags()?
                .into_iter()
                .filter(|(_, d)| d.digest == found.descriptor.digest)
                .map(|(t, _)| t)
                .collect(),
        };
        for tag in tags {
            if store.untag(&tag)? {
                writeln!(out, "Untagged: {tag}")?;
            }
        }
    }
    match missing.len() {
        0 => Ok(()),
        _ => Err(anyhow!("{}", missing.join("\nerror: ")).into()),
    }
}

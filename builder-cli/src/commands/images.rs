//! `hoist images`: the tagged images of the local store.

use std::io::{Read, Write};

use anyhow::Context;
use builder_core::image::ImageConfig;
use builder_core::store::Store;
use registry_client::{Descriptor, ImageManifest};

use crate::Failure;
use crate::options::store_root;

/// Runs `hoist images`: tag, short digest, size (manifest, config and layers), created.
pub fn run(out: &mut dyn Write) -> Result<(), Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let store = Store::open(store_root(&env)?)?;
    let mut rows = vec![[
        "TAG".to_owned(),
        "DIGEST".to_owned(),
        "SIZE".to_owned(),
        "CREATED".to_owned(),
    ]];
    for (tag, descriptor) in store.tags()? {
        let (size, created) = describe(&store, &descriptor)?;
        let short = descriptor.digest.encoded().chars().take(12).collect();
        rows.push([tag, short, human_size(size), created]);
    }
    let widths: Vec<usize> = (0..4)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in rows {
        let line = format!(
            "{:w0$}   {:w1$}   {:>w2$}   {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        writeln!(out, "{}", line.trim_end()).map_err(anyhow::Error::from)?;
    }
    Ok(())
}

fn read_blob(store: &Store, descriptor: &Descriptor) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    store
        .open_blob(&descriptor.digest)?
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read blob {}", descriptor.digest))?;
    Ok(bytes)
}

/// The image's total size and creation time (`-` when unknown, e.g. for an index).
fn describe(store: &Store, descriptor: &Descriptor) -> Result<(u64, String), Failure> {
    let bytes = read_blob(store, descriptor)?;
    let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&bytes) else {
        return Ok((descriptor.size, "-".into()));
    };
    let config = ImageConfig::from_slice(&read_blob(store, &manifest.config)?)
        .map_err(builder_core::Error::from)?;
    let size = descriptor.size
        + manifest.config.size
        + manifest.layers.iter().map(|l| l.size).sum::<u64>();
    Ok((size, config.created.unwrap_or_else(|| "-".into())))
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "kB", "MB", "GB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

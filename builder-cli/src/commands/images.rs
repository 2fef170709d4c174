//! `hoist images`: the tagged images of the local store; and how commands find an image by
//! tag or digest.

use std::io::{Read, Write};

use anyhow::{Context, anyhow};
use builder_core::exec::normalize_tag;
use builder_core::image::ImageConfig;
use builder_core::store::Store;
use registry_client::{Descriptor, Digest, ImageManifest, media_type};

use crate::Failure;
use crate::options::store_root;
use crate::size::human_size;

/// Opens the store at `$HOIST_ROOT` (or its default place).
pub fn open_store() -> Result<Store, Failure> {
    let env = |k: &str| std::env::var(k).ok();
    Ok(Store::open(store_root(&env)?)?)
}

/// An image found in the store: the tag it was found by, if any, and its descriptor.
#[derive(Debug, Clone)]
pub struct FoundImage {
    /// The tag (`name:tag`), when found by tag.
    pub tag: Option<String>,
    /// The manifest or index descriptor.
    pub descriptor: Descriptor,
}

/// Finds `text` in the store: a tag (`name` means `name:latest`), a digest (`sha256:<hex>`),
/// or a unique prefix of the hex of a tagged image's digest (as `hoist images` shows it).
pub fn find_image(store: &Store, text: &str) -> Result<FoundImage, Failure> {
    let hex = text.strip_prefix("sha256:").unwrap_or(text);
    let is_hex = hex.len() >= 4 && hex.chars().all(|c| c.is_ascii_hexdigit());
    if !text.starts_with("sha256:") {
        let tag = normalize_tag(text).map_err(Failure::usage)?;
        if let Some(descriptor) = store.resolve(&tag)? {
            return Ok(FoundImage {
                tag: Some(tag),
                descriptor,
            });
        }
        if !is_hex {
            return Err(anyhow!("no such image: {tag}").into());
        }
    }
    if !is_hex {
        return Err(Failure::usage(format!("invalid digest {text:?}")));
    }
    if hex.len() == 64
        && let Ok(digest) = Digest::parse(&format!("sha256:{hex}"))
        && store.has_blob(&digest)
    {
        return Ok(FoundImage {
            tag: None,
            descriptor: untagged_descriptor(store, digest)?,
        });
    }
    let mut matches: Vec<Descriptor> = store
        .tags()?
        .into_iter()
        .map(|(_, d)| d)
        .filter(|d| d.digest.encoded().starts_with(hex))
        .collect();
    matches.sort_by(|a, b| a.digest.cmp(&b.digest));
    matches.dedup_by(|a, b| a.digest == b.digest);
    match matches.len() {
        0 => Err(anyhow!("no such image: {text}").into()),
        1 => {
            let mut d = matches.remove(0);
            d.annotations = None;
            Ok(FoundImage {
                tag: None,
                descriptor: d,
            })
        }
        n => Err(Failure::usage(format!(
            "{text:?} is ambiguous: {n} images have a digest starting with it"
        ))),
    }
}

/// A descriptor for a stored manifest or index known only by its digest.
fn untagged_descriptor(store: &Store, digest: Digest) -> Result<Descriptor, Failure> {
    let bytes = read_blob(store, &digest)?;
    #[derive(serde::Deserialize)]
    struct Typed {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
    }
    let typed: Typed = serde_json::from_slice(&bytes)
        .with_context(|| format!("{digest} is not a manifest or an index"))?;
    let media = typed.media_type.unwrap_or_else(|| {
        if typed.manifests.is_some() {
            media_type::OCI_INDEX.to_owned()
        } else {
            media_type::OCI_MANIFEST.to_owned()
        }
    });
    Ok(Descriptor::new(media, digest, bytes.len() as u64))
}

/// Reads a (small) blob whole.
pub fn read_blob(store: &Store, digest: &Digest) -> Result<Vec<u8>, Failure> {
    let mut bytes = Vec::new();
    store
        .open_blob(digest)?
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read blob {digest}"))?;
    Ok(bytes)
}

/// Runs `hoist images`: tag, short digest, size (manifest, config and layers), created.
pub fn run(out: &mut dyn Write) -> Result<(), Failure> {
    let store = open_store()?;
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
        writeln!(out, "{}", line.trim_end())?;
    }
    Ok(())
}

/// The image's total size and creation time (`-` when unknown, e.g. for an index).
fn describe(store: &Store, descriptor: &Descriptor) -> Result<(u64, String), Failure> {
    let bytes = read_blob(store, &descriptor.digest)?;
    let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&bytes) else {
        return Ok((descriptor.size, "-".into()));
    };
    let config = ImageConfig::from_slice(&read_blob(store, &manifest.config.digest)?)
        .map_err(builder_core::Error::from)?;
    let size = descriptor.size
        + manifest.config.size
        + manifest.layers.iter().map(|l| l.size).sum::<u64>();
    Ok((size, config.created.unwrap_or_else(|| "-".into())))
}

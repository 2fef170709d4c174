//! [`Remote`]: images between a registry and the local store, through `registry_client`.
//!
//! Registry I/O is async; these calls are not. Each one runs on a current-thread Tokio runtime
//! made for it, so that library users without a runtime can call them and the build loop stays
//! synchronous. Blobs stream from the network into the store's [`BlobWriter`] (verified by the
//! client while it reads, and again by the store when the blob gets its name) and from the store's
//! files to the registry: no layer is ever held in memory.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use registry_client::{BlobFile, Client, Descriptor, Digest, ImagePush, Platform, Reference};
use tokio::io::AsyncWrite;

use super::transfer_progress::run_reported;
use super::{Layout, Reporter, StoredImage, TransferError};
use crate::error::Result;
use crate::store::{BlobWriter, Store};

/// A registry client, used to pull images into a store and push them from it.
#[derive(Debug, Clone)]
pub struct Remote {
    client: Client,
}

/// What [`Remote::pull`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pulled {
    /// The image, now in the store.
    pub image: StoredImage,
    /// Blobs downloaded (the others were in the store already).
    pub downloaded: usize,
}

impl Remote {
    /// A remote talking through `client` (its keychain, TLS and insecure-registry settings).
    pub fn new(client: Client) -> Self {
        Remote { client }
    }

    /// Resolves `reference` for `platform` on its registry, downloads the blobs the store lacks
    /// and stores the manifest (and the index it was chosen from). Does not tag.
    pub fn pull(
        &self,
        store: &Store,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<Pulled> {
        self.pull_reported(store, reference, platform, None)
    }

    /// [`Remote::pull`], reporting the bytes of each blob downloaded to `reporter`.
    pub fn pull_reported(
        &self,
        store: &Store,
        reference: &Reference,
        platform: &Platform,
        reporter: Option<Reporter<'_>>,
    ) -> Result<Pulled> {
        let failed = TransferError::registry("pull", reference);
        let runtime = runtime()?;
        let resolved = runtime
            .block_on(self.client.resolve(reference, platform))
            .map_err(failed)?;
        let image = &resolved.image;
        let mut missing: Vec<Descriptor> = Vec::new();
        for d in image.layers.iter().chain([&image.config]) {
            if !store.has_blob(&d.digest) && !missing.iter().any(|m| m.digest == d.digest) {
                missing.push(d.clone());
            }
        }
        let missing_ref = &missing;
        run_reported(
            &runtime,
            &self.client,
            "pulling",
            reporter,
            |client| async move {
                let jobs = missing_ref
                    .iter()
                    .map(|d| fetch(&client, store, reference, d));
                futures_util::future::try_join_all(jobs).await
            },
        )?;
        if let Some(index) = &resolved.index {
            store.put_blob(&index.bytes)?;
        }
        store.put_blob(&resolved.manifest.bytes)?;
        let descriptor = resolved.manifest.descriptor();
        let stored = Layout::of_store(store)
            .image(&descriptor, Some(platform))?
            .ok_or_else(|| TransferError::NoMatchingPlatform {
                reference: reference.to_string(),
                platform: platform.to_string(),
                offered: "an image for another platform".to_owned(),
            })?;
        Ok(Pulled {
            image: stored,
            downloaded: missing.len(),
        })
    }

    /// Pushes `image` (in `store`) to `target`: layers and config the registry lacks are
    /// streamed from the store's files (or mounted from another repository of the same registry
    /// that an image of the store was pulled from or pushed to and that shares a layer), then
    /// the manifest is put under `target`'s tag. Returns the manifest's digest.
    pub fn push(&self, store: &Store, image: &StoredImage, target: &Reference) -> Result<Digest> {
        self.push_reported(store, image, target, None)
    }

    /// [`Remote::push`], reporting the bytes of each blob uploaded to `reporter` (blobs the
    /// registry has already, or mounts, send nothing and report nothing).
    pub fn push_reported(
        &self,
        store: &Store,
        image: &StoredImage,
        target: &Reference,
        reporter: Option<Reporter<'_>>,
    ) -> Result<Digest> {
        let mount_from = mount_source(store, image, target)?;
        let layout = Layout::of_store(store);
        let file = |d: &Descriptor| BlobFile {
            descriptor: d.clone(),
            path: layout.blob_path(&d.digest),
        };
        let push = ImagePush {
            layers: image.manifest.layers.iter().map(file).collect(),
            config: file(&image.manifest.config),
            manifest_media_type: image.descriptor.media_type.clone(),
            manifest: layout.read_document(&image.descriptor.digest)?,
        };
        let runtime = runtime()?;
        let mount_from = mount_from.as_ref();
        let digest = run_reported(
            &runtime,
            &self.client,
            "pushing",
            reporter,
            |client| async move { client.push_image(target, &push, mount_from).await },
        )
        .map_err(TransferError::registry("push", target))?;
        Ok(digest)
    }
}

/// A repository of `target`'s registry, other than `target`'s, named by a tag of the store
/// whose image shares a layer with `image`: the registry can mount blobs from it instead of
/// receiving them again (a failed mount falls back to an upload).
fn mount_source(
    store: &Store,
    image: &StoredImage,
    target: &Reference,
) -> Result<Option<Reference>> {
    let layout = Layout::of_store(store);
    for (tag, descriptor) in store.tags()? {
        let Ok(source) = Reference::parse(&tag) else {
            continue;
        };
        if source.registry() != target.registry() || source.repository() == target.repository() {
            continue;
        }
        let Some(other) = layout.image(&descriptor, None)? else {
            continue;
        };
        let shared = other
            .manifest
            .layers
            .iter()
            .any(|l| image.manifest.layers.iter().any(|m| m.digest == l.digest));
        if shared {
            return Ok(Some(source));
        }
    }
    Ok(None)
}

/// Downloads blob `d` of `reference` into the store.
async fn fetch(
    client: &Client,
    store: &Store,
    reference: &Reference,
    d: &Descriptor,
) -> Result<()> {
    let mut sink = BlobSink(store.blob_writer()?);
    client
        .fetch_blob(reference, d, &mut sink)
        .await
        .map_err(TransferError::registry("pull", reference))?;
    sink.0.commit(Some(&d.digest))?;
    Ok(())
}

/// A runtime for one blocking registry call.
fn runtime() -> Result<tokio::runtime::Runtime, TransferError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TransferError::Runtime { cause: e.into() })
}

/// The store's blob writer as an [`AsyncWrite`]: a write to the temporary file is local disk
/// I/O, done in place.
struct BlobSink(BlobWriter);

impl AsyncWrite for BlobSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Poll::Ready(self.0.write(buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.0.flush())
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(self.0.flush())
    }
}

//! An OCI distribution client for Hoist.
//!
//! This crate knows nothing about builds: it parses image references, talks to registries
//! (Docker Hub, `registry:2`, any OCI distribution server) and moves manifests and blobs.
//!
//! - [`Reference`]: `ubuntu` -> `docker.io/library/ubuntu:latest`, exactly as docker/reference.
//! - [`Client`] (built with [`ClientBuilder`]): HTTPS by default, plain HTTP for loopback and
//!   insecure registries, CAs and client certificates from `certs.d`; anonymous, Basic and
//!   Bearer-token auth with credentials from Docker's `config.json`, podman's `auth.json` and
//!   credential helpers ([`auth`]); retries with backoff ([`RetryPolicy`]).
//! - Pull: [`Client::resolve`] picks a platform's manifest from an index and keeps the manifest
//!   bytes; [`Client::fetch_blob_to_file`] streams a blob to disk, resumes it with `Range`, and
//!   verifies size and digest before the file appears.
//! - Push: [`Client::push_blob_file`] skips blobs the registry has, mounts across repositories,
//!   uploads in one PUT or in resumable chunks, streaming from the file;
//!   [`Client::put_manifest`] pushes manifest and index bytes.
//!
//! Errors are one [`Error`] type whose [`ErrorKind`] says what went wrong and whose
//! [`Error::hint`] says what to do. No credential or token appears in any error or `Debug`
//! output.
//!
//! # Pull
//!
//! ```no_run
//! use registry_client::{Client, Platform, Reference};
//!
//! # async fn pull() -> registry_client::Result<()> {
//! let client = Client::new()?;
//! let reference = Reference::parse("alpine:3.20")?;
//! let image = client.resolve(&reference, &Platform::parse("linux/arm64")?).await?;
//! println!("{} is {}", reference, image.manifest.digest);
//! let dir = std::path::Path::new("/tmp/alpine-blobs");
//! client.fetch_blob_to_file(&reference, &image.image.config, &dir.join("config.json")).await?;
//! let layers = client.fetch_blobs_to_dir(&reference, &image.image.layers, dir).await?;
//! println!("{} layers downloaded and verified", layers.len());
//! # Ok(())
//! # }
//! ```
//!
//! # Push
//!
//! ```no_run
//! use registry_client::{BlobFile, Client, Descriptor, ImagePush, Reference, digest_file, media_type};
//!
//! # async fn push() -> registry_client::Result<()> {
//! let client = Client::builder().insecure_registry("registry.lan:5000").build()?;
//! let target = Reference::parse("registry.lan:5000/team/app:1.0")?;
//!
//! let blob = |media: &str, path: &str| {
//!     let media = media.to_owned();
//!     let path = std::path::PathBuf::from(path);
//!     async move {
//!         let (digest, size) = digest_file(&path).await?;
//!         Ok::<_, registry_client::Error>(BlobFile { descriptor: Descriptor::new(media, digest, size), path })
//!     }
//! };
//! let layer = blob(media_type::OCI_LAYER_GZIP, "layer.tar.gz").await?;
//! let config = blob(media_type::OCI_CONFIG, "config.json").await?;
//! let manifest = serde_json::to_vec(&serde_json::json!({
//!     "schemaVersion": 2,
//!     "mediaType": media_type::OCI_MANIFEST,
//!     "config": config.descriptor,
//!     "layers": [layer.descriptor],
//! })).map_err(|e| registry_client::Error::new(registry_client::ErrorKind::InvalidManifest).with_source(e))?;
//! let image = ImagePush {
//!     layers: vec![layer],
//!     config,
//!     manifest_media_type: media_type::OCI_MANIFEST.to_owned(),
//!     manifest,
//! };
//! let digest = client.push_image(&target, &image, None).await?;
//! println!("pushed {target}@{digest}");
//! # Ok(())
//! # }
//! ```
//!
//! Offline, references parse without a registry:
//!
//! ```
//! use registry_client::Reference;
//!
//! let r = Reference::parse("ubuntu").unwrap();
//! assert_eq!(r.to_string(), "docker.io/library/ubuntu:latest");
//! assert_eq!(r.registry_host(), "registry-1.docker.io");
//! ```
#![deny(missing_docs)]

pub mod auth;
mod client;
pub mod digest;
mod download;
mod error;
mod login;
pub mod manifest;
pub mod media_type;
mod progress;
pub mod reference;
mod request;
pub mod transport;
mod upload;

pub use auth::{
    Credential, CredentialHelper, DockerKeychain, Keychain, KeychainEnv, StaticKeychain,
};
pub use client::{Client, ClientBuilder, FetchedManifest, ResolvedImage};
pub use digest::{Digest, DigestError, digest_file};
pub use error::{Error, ErrorKind, HttpFailure, RegistryErrorCode, Result};
pub use manifest::{Descriptor, ImageIndex, ImageManifest, Manifest, Platform};
pub use progress::TransferProgress;
pub use reference::{AnyReference, Reference, ReferenceError};
pub use transport::{RetryPolicy, Scheme};
pub use upload::{BlobFile, BlobPush, ImagePush};

//! The [`Client`], its [`ClientBuilder`], and manifest operations (get, head, resolve, put, tags).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use tokio::sync::Semaphore;
use url::Url;

use crate::auth::{
    Challenge, Credential, DockerKeychain, Keychain, KeychainEnv, Scope, StaticKeychain, TokenCache,
};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::{Descriptor, ImageManifest, Manifest, Platform};
use crate::media_type;
use crate::reference::Reference;
use crate::request::{Body, Call, read_limited, status_error};
use crate::transport::{RetryPolicy, Scheme, Transport, TransportConfig};

/// The PATCH size of chunked uploads. Design note: distribution spends a fixed cost per PATCH
/// (it saves and restores the upload's hash state), so 8 MiB chunks pushed a 1 GiB blob at 0.76x
/// curl's monolithic PUT on loopback, 32 MiB chunks at 1.2x (`registry-client/bench/run.sh`);
/// larger chunks only cost more to re-send after a failure.
const DEFAULT_CHUNK_SIZE: u64 = 32 << 20;

/// Manifests larger than this are refused (containerd's limit).
const DEFAULT_MAX_MANIFEST_SIZE: usize = 4 << 20;

/// Builds a [`Client`].
pub struct ClientBuilder {
    keychains: Vec<Arc<dyn Keychain>>,
    explicit: StaticKeychain,
    default_keychain: bool,
    transport: TransportConfig,
    ca_files: Vec<(Option<String>, PathBuf)>,
    identity_files: Vec<(String, PathBuf, PathBuf)>,
    retry: RetryPolicy,
    max_downloads: usize,
    max_uploads: usize,
    chunk_size: u64,
    monolithic_limit: u64,
    max_manifest_size: usize,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("explicit", &self.explicit)
            .field("transport", &self.transport)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ClientBuilder {
    /// Defaults: Docker's credential files and helpers from this process's environment, the
    /// system CA roots plus `/etc/docker/certs.d` and `/etc/containers/certs.d`, 4 concurrent
    /// downloads and uploads, blobs over 8 MiB uploaded in 32 MiB chunks, [`RetryPolicy::default`].
    pub fn new() -> Self {
        Self {
            keychains: Vec::new(),
            explicit: StaticKeychain::new(),
            default_keychain: true,
            transport: TransportConfig::default(),
            ca_files: Vec::new(),
            identity_files: Vec::new(),
            retry: RetryPolicy::default(),
            max_downloads: 4,
            max_uploads: 4,
            chunk_size: DEFAULT_CHUNK_SIZE,
            monolithic_limit: 8 << 20,
            max_manifest_size: DEFAULT_MAX_MANIFEST_SIZE,
        }
    }

    /// Uses `credential` for `registry` (as written in references: `docker.io`,
    /// `localhost:5000`), before any keychain.
    pub fn credential(mut self, registry: &str, credential: Credential) -> Self {
        self.explicit = self.explicit.with(registry, credential);
        self
    }

    /// Adds a keychain, consulted after explicit credentials and earlier keychains.
    pub fn keychain(mut self, keychain: Arc<dyn Keychain>) -> Self {
        self.keychains.push(keychain);
        self
    }

    /// Whether to end with Docker's keychain read from this process's environment (default
    /// on). Turn off for hermetic tests, or to pass a [`DockerKeychain`] built from a given
    /// [`KeychainEnv`].
    pub fn default_keychain(mut self, on: bool) -> Self {
        self.default_keychain = on;
        self
    }

    /// Talks plain HTTP to `host` (`host` or `host:port`).
    pub fn insecure_registry(mut self, host: &str) -> Self {
        self.transport.insecure.push(host.to_owned());
        self
    }

    /// Forces the scheme for `host` (for example HTTPS for a TLS test registry on 127.0.0.1).
    pub fn registry_scheme(mut self, host: &str, scheme: Scheme) -> Self {
        self.transport.schemes.insert(host.to_owned(), scheme);
        self
    }

    /// Replaces the certs directories (laid out as `<dir>/<host[:port]>/{ca.crt,client.cert,
    /// client.key}`).
    pub fn certs_dirs(mut self, dirs: Vec<PathBuf>) -> Self {
        self.transport.certs_dirs = dirs;
        self
    }

    /// Trusts the PEM CA certificates in `path` for every host.
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push((None, path.into()));
        self
    }

    /// Trusts the PEM CA certificates in `path` for `host` only.
    pub fn registry_ca_file(mut self, host: &str, path: impl Into<PathBuf>) -> Self {
        self.ca_files.push((Some(host.to_owned()), path.into()));
        self
    }

    /// Presents the PEM client certificate chain and key to `host`.
    pub fn client_identity_files(
        mut self,
        host: &str,
        cert: impl Into<PathBuf>,
        key: impl Into<PathBuf>,
    ) -> Self {
        self.identity_files
            .push((host.to_owned(), cert.into(), key.into()));
        self
    }

    /// Whether to trust the system's CA roots (default on).
    pub fn system_roots(mut self, on: bool) -> Self {
        self.transport.use_system_roots = on;
        self
    }

    /// Connects to `addr` whenever `host` (a name without port) is asked for.
    pub fn resolve(mut self, host: &str, addr: SocketAddr) -> Self {
        self.transport.resolve.push((host.to_owned(), addr));
        self
    }

    /// Sends every request through this HTTP(S) proxy URL.
    pub fn proxy(mut self, url: &str) -> Self {
        self.transport.proxy = Some(url.to_owned());
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, agent: &str) -> Self {
        self.transport.user_agent = agent.to_owned();
        self
    }

    /// Connect and per-read timeouts.
    pub fn timeouts(mut self, connect: Duration, read: Duration) -> Self {
        self.transport.connect_timeout = connect;
        self.transport.read_timeout = read;
        self
    }

    /// The retry policy for every request and transfer.
    pub fn retry_policy(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// At most `n` blob downloads at once (default 4).
    pub fn max_concurrent_downloads(mut self, n: usize) -> Self {
        self.max_downloads = n.max(1);
        self
    }

    /// At most `n` blob uploads at once (default 4).
    pub fn max_concurrent_uploads(mut self, n: usize) -> Self {
        self.max_uploads = n.max(1);
        self
    }

    /// The size of each PATCH of a chunked upload (default 32 MiB). Chunks stream from the file,
    /// so this bounds what a failed PATCH sends again, not memory.
    pub fn chunk_size(mut self, bytes: u64) -> Self {
        self.chunk_size = bytes.max(1);
        self
    }

    /// Blobs up to this size go up in one PUT; larger ones in chunks (default 8 MiB).
    pub fn monolithic_upload_limit(mut self, bytes: u64) -> Self {
        self.monolithic_limit = bytes;
        self
    }

    /// Refuses manifests larger than this (default 4 MiB).
    pub fn max_manifest_size(mut self, bytes: usize) -> Self {
        self.max_manifest_size = bytes;
        self
    }

    /// Builds the client, reading the given CA and client-certificate files.
    pub fn build(self) -> Result<Client> {
        let mut transport = self.transport;
        let read = |p: &Path| {
            std::fs::read(p)
                .map_err(|e| Error::new(ErrorKind::TlsConfig(p.to_owned())).with_source(e))
        };
        for (host, path) in &self.ca_files {
            let pem = (read(path)?, path.clone());
            match host {
                Some(h) => transport
                    .host_ca_pem
                    .entry(h.clone())
                    .or_default()
                    .push(pem),
                None => transport.extra_ca_pem.push(pem),
            }
        }
        for (host, cert, key) in &self.identity_files {
            transport.add_identity(host, read(cert)?, read(key)?, cert.clone());
        }
        let mut keychains: Vec<Arc<dyn Keychain>> = vec![Arc::new(self.explicit)];
        keychains.extend(self.keychains);
        if self.default_keychain {
            keychains.push(Arc::new(DockerKeychain::from_env(
                &KeychainEnv::from_process(),
            )));
        }
        let inner = Inner {
            transport: Transport::new(transport),
            keychains,
            credentials: Mutex::new(HashMap::new()),
            challenges: Mutex::new(HashMap::new()),
            tokens: TokenCache::default(),
            retry: self.retry,
            downloads: Semaphore::new(self.max_downloads),
            uploads: Semaphore::new(self.max_uploads),
            chunk_size: self.chunk_size,
            monolithic_limit: self.monolithic_limit,
            max_manifest_size: self.max_manifest_size,
        };
        Ok(Client {
            inner: Arc::new(inner),
            progress: None,
        })
    }
}

/// The shared state of a [`Client`].
pub(crate) struct Inner {
    pub(crate) transport: Transport,
    pub(crate) keychains: Vec<Arc<dyn Keychain>>,
    pub(crate) credentials: Mutex<HashMap<String, Option<Credential>>>,
    pub(crate) challenges: Mutex<HashMap<String, Challenge>>,
    pub(crate) tokens: TokenCache,
    pub(crate) retry: RetryPolicy,
    pub(crate) downloads: Semaphore,
    pub(crate) uploads: Semaphore,
    pub(crate) chunk_size: u64,
    pub(crate) monolithic_limit: u64,
    pub(crate) max_manifest_size: usize,
}

impl Inner {
    /// `<scheme>://<host>/v2/<path>` for the registry of `reference`.
    pub(crate) fn url(&self, reference: &Reference, path: &str) -> Result<Url> {
        let host = reference.registry_host();
        let (scheme, _) = self.transport.client_for(host)?;
        let scheme = match scheme {
            Scheme::Https => "https",
            Scheme::Http => "http",
        };
        Url::parse(&format!("{scheme}://{host}/v2/{path}"))
            .map_err(|e| Error::new(ErrorKind::InvalidOption("registry URL")).with_source(e))
    }
}

/// An OCI distribution client. Cheap to clone; clones share connections, tokens and limits.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    /// Where blob byte counts go ([`Client::with_progress`]).
    pub(crate) progress: Option<crate::TransferProgress>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("transport", &self.inner.transport)
            .field("retry", &self.inner.retry)
            .field("tokens", &self.inner.tokens)
            .finish_non_exhaustive()
    }
}

/// A manifest or index as fetched: the exact bytes, their digest and media type, parsed.
#[derive(Debug, Clone)]
pub struct FetchedManifest {
    /// The digest of [`Self::bytes`].
    pub digest: Digest,
    /// The media type (from `Content-Type`, else the JSON).
    pub media_type: String,
    /// The bytes exactly as served.
    pub bytes: Vec<u8>,
    /// The parsed manifest or index.
    pub manifest: Manifest,
}

impl FetchedManifest {
    /// A descriptor for this manifest.
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            self.media_type.clone(),
            self.digest.clone(),
            self.bytes.len() as u64,
        )
    }
}

/// An image resolved for one platform.
#[derive(Debug, Clone)]
pub struct ResolvedImage {
    /// The reference resolved, pinned to the manifest's digest.
    pub reference: Reference,
    /// The index the manifest was chosen from, when the reference named an index.
    pub index: Option<FetchedManifest>,
    /// The platform's image manifest (exact bytes).
    pub manifest: FetchedManifest,
    /// The parsed image manifest: config and layers.
    pub image: ImageManifest,
}

impl Client {
    /// A client with the defaults of [`ClientBuilder::new`].
    pub fn new() -> Result<Self> {
        ClientBuilder::new().build()
    }

    /// A builder.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    fn manifest_call(&self, reference: &Reference, method: Method, target: &str) -> Result<Call> {
        let url = self.inner.url(
            reference,
            &format!("{}/manifests/{target}", reference.repository()),
        )?;
        let scopes = vec![Scope::pull(reference.repository())];
        Ok(Call::new(reference.registry(), scopes, method, url)
            .header(header::ACCEPT, media_type::MANIFEST_ACCEPT))
    }

    /// Fetches the manifest or index `reference` names (by digest if it has one, else by tag),
    /// verifying the bytes against the digest asked for or the `Docker-Content-Digest` header.
    pub async fn get_manifest(&self, reference: &Reference) -> Result<FetchedManifest> {
        let call = self.manifest_call(reference, Method::GET, &reference.manifest_reference())?;
        let (content_type, served_digest, bytes) = self.manifest_bytes(&call).await?;
        let expected = match (
            reference.digest(),
            served_digest.as_deref().map(Digest::parse),
        ) {
            (Some(d), _) => Some(d.clone()),
            (None, Some(Ok(d))) => Some(d),
            _ => None,
        };
        let digest = match &expected {
            Some(d) => {
                d.verify(&bytes)
                    .map_err(|e| e.with_registry(reference.registry()))?;
                d.clone()
            }
            None => Digest::sha256_of(&bytes),
        };
        let manifest = Manifest::from_bytes(&bytes, content_type.as_deref())
            .map_err(|e| e.with_registry(reference.registry()))?;
        let media_type = content_type
            .filter(|c| media_type::is_index(c) || media_type::is_manifest(c))
            .map(|c| media_type::essence(&c).to_owned())
            .unwrap_or_else(|| manifest.media_type().to_owned());
        Ok(FetchedManifest {
            digest,
            media_type,
            bytes,
            manifest,
        })
    }

    /// GETs a manifest's bytes with its `Content-Type` and `Docker-Content-Digest`. A body cut
    /// short is fetched again (the request is idempotent), within the retry policy.
    async fn manifest_bytes(
        &self,
        call: &Call,
    ) -> Result<(Option<String>, Option<String>, Vec<u8>)> {
        let started = Instant::now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let resp = self.inner.execute(call).await?;
            if !resp.status().is_success() {
                return Err(status_error(call, resp).await);
            }
            let content_type = header_str(resp.headers(), header::CONTENT_TYPE.as_str());
            let served_digest = header_str(resp.headers(), "docker-content-digest");
            if resp
                .content_length()
                .is_some_and(|n| n > self.inner.max_manifest_size as u64)
            {
                return Err(Error::new(ErrorKind::ManifestTooLarge).with_registry(&call.registry));
            }
            let error = match read_limited(resp, self.inner.max_manifest_size).await {
                Ok(bytes) => return Ok((content_type, served_digest, bytes)),
                Err(e) => e.with_registry(&call.registry),
            };
            let retry = matches!(error.kind(), ErrorKind::Connection)
                .then(|| {
                    self.inner
                        .retry
                        .next_delay(attempts, started.elapsed(), None)
                })
                .flatten();
            match retry {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(error),
            }
        }
    }

    /// Whether the manifest exists, and its descriptor (HEAD: Docker Hub does not count it
    /// against the pull rate limit). `None` on 404.
    pub async fn head_manifest(&self, reference: &Reference) -> Result<Option<Descriptor>> {
        let call = self.manifest_call(reference, Method::HEAD, &reference.manifest_reference())?;
        let resp = self.inner.execute(&call).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(status_error(&call, resp).await);
        }
        let headers = resp.headers();
        let digest = match (
            reference.digest(),
            header_str(headers, "docker-content-digest"),
        ) {
            (Some(d), _) => d.clone(),
            (None, Some(d)) => Digest::parse(&d)?,
            (None, None) => {
                return Err(Error::new(ErrorKind::Protocol(
                    "HEAD manifest without Docker-Content-Digest",
                ))
                .with_registry(reference.registry()));
            }
        };
        let media = header_str(headers, header::CONTENT_TYPE.as_str()).unwrap_or_default();
        let size = header_length(headers);
        Ok(Some(Descriptor::new(
            media_type::essence(&media),
            digest,
            size,
        )))
    }

    /// Resolves `reference` to the image manifest for `platform`: fetches it, and when it is an
    /// index, picks the platform's entry and fetches that.
    pub async fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<ResolvedImage> {
        let first = self.get_manifest(reference).await?;
        let (index, manifest) = match &first.manifest {
            Manifest::Image(_) => (None, first),
            Manifest::Index(idx) => {
                let chosen = idx.select(platform).ok_or_else(|| {
                    Error::new(ErrorKind::NoMatchingPlatform(format!(
                        "{platform} (the index offers: {})",
                        idx.platforms().join(", ")
                    )))
                    .with_registry(reference.registry())
                })?;
                let child = self
                    .get_manifest(&reference.with_digest(chosen.digest.clone()))
                    .await?;
                (Some(first), child)
            }
        };
        let Manifest::Image(image) = manifest.manifest.clone() else {
            return Err(Error::new(ErrorKind::InvalidManifest).with_registry(reference.registry()));
        };
        let reference = reference.with_digest(manifest.digest.clone());
        Ok(ResolvedImage {
            reference,
            index,
            manifest,
            image,
        })
    }

    /// Pushes manifest or index `bytes` as `media_type` under `reference`'s tag (or digest),
    /// and returns their digest, checked against the registry's `Docker-Content-Digest`.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Digest> {
        let digest = Digest::sha256_of(bytes);
        if let Some(d) = reference.digest() {
            digest.clone().expect_equal(d)?;
        }
        let target = reference
            .tag()
            .map_or_else(|| digest.to_string(), str::to_owned);
        let url = self.inner.url(
            reference,
            &format!("{}/manifests/{target}", reference.repository()),
        )?;
        let call = Call::new(
            reference.registry(),
            vec![Scope::push(reference.repository())],
            Method::PUT,
            url,
        )
        .header(header::CONTENT_TYPE, media_type)
        .body(Body::Bytes(bytes::Bytes::copy_from_slice(bytes)));
        let resp = self.inner.execute(&call).await?;
        if !resp.status().is_success() {
            return Err(status_error(&call, resp).await);
        }
        check_returned_digest(resp.headers(), &digest, reference.registry())?;
        Ok(digest)
    }

    /// The tags of `repository` (the tag or digest of the reference is ignored).
    pub async fn list_tags(&self, repository: &Reference) -> Result<Vec<String>> {
        let url = self.inner.url(
            repository,
            &format!("{}/tags/list", repository.repository()),
        )?;
        let call = Call::new(
            repository.registry(),
            vec![Scope::pull(repository.repository())],
            Method::GET,
            url,
        );
        let resp = self.inner.execute(&call).await?;
        if !resp.status().is_success() {
            return Err(status_error(&call, resp).await);
        }
        #[derive(serde::Deserialize)]
        struct Tags {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let body = read_limited(resp, 16 << 20).await?;
        let tags: Tags = serde_json::from_slice(&body).map_err(|e| {
            Error::new(ErrorKind::Protocol("tag list is not JSON"))
                .with_registry(repository.registry())
                .with_source(e)
        })?;
        Ok(tags.tags.unwrap_or_default())
    }
}

/// The `Content-Length` header itself (`Response::content_length` is 0 for HEAD answers).
pub(crate) fn header_length(headers: &HeaderMap) -> u64 {
    header_str(headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

pub(crate) fn header_str(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Checks a `Docker-Content-Digest` answer against what was sent, when the registry sent one.
pub(crate) fn check_returned_digest(
    headers: &HeaderMap,
    sent: &Digest,
    registry: &str,
) -> Result<()> {
    match header_str(headers, "docker-content-digest") {
        Some(d) => match Digest::parse(d.trim()) {
            Ok(d) if &d == sent => Ok(()),
            Ok(d) => Err(Error::new(ErrorKind::DigestMismatch {
                expected: sent.clone(),
                actual: d,
            })
            .with_registry(registry)),
            Err(_) => Err(
                Error::new(ErrorKind::Protocol("invalid Docker-Content-Digest"))
                    .with_registry(registry),
            ),
        },
        None => Ok(()),
    }
}

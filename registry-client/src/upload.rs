//! Blob uploads: HEAD skip, cross-repository mount with fallback, monolithic PUT for small
//! blobs, chunked PATCH for large ones resumed from the registry's reported range, bounded
//! concurrency; and whole images (layers, config, manifest).
//!
//! Design note: a failed chunk is not re-sent blindly. The registry may have stored part of it,
//! so the upload asks the session where it stands (`GET <location>` -> `Range`) and goes on
//! from there; when the session is gone or confused, the upload starts a new session.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::header::{self, HeaderMap};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::auth::Scope;
use crate::client::{Client, check_returned_digest, header_str};
use crate::digest::Digest;
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::reference::Reference;
use crate::request::{Body, Call, Tap, status_error};
use crate::transport::RetryPolicy;

/// What pushing one blob took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPush {
    /// The registry had it already (HEAD): nothing was sent.
    AlreadyExists,
    /// Mounted from another repository of the same registry: nothing was sent.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// A blob in a file, with its descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobFile {
    /// Media type, digest and size of the file's bytes.
    pub descriptor: Descriptor,
    /// Where the bytes are.
    pub path: PathBuf,
}

/// Everything an image push needs: blobs in files, and the manifest's exact bytes.
#[derive(Debug, Clone)]
pub struct ImagePush {
    /// The layer blobs.
    pub layers: Vec<BlobFile>,
    /// The config blob.
    pub config: BlobFile,
    /// The manifest's media type (OCI or Docker schema2).
    pub manifest_media_type: String,
    /// The manifest bytes, pushed as they are.
    pub manifest: Vec<u8>,
}

/// Where an upload's bytes come from.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    Bytes(Bytes),
}

impl Source {
    fn range(&self, offset: u64, len: u64, tap: Option<Tap>) -> Body {
        match self {
            Self::File(path) => Body::File {
                path: path.clone(),
                offset,
                len,
                tap,
            },
            Self::Bytes(b) => {
                let start = usize::try_from(offset).unwrap_or(usize::MAX).min(b.len());
                let end = usize::try_from(offset + len)
                    .unwrap_or(usize::MAX)
                    .min(b.len());
                Body::Bytes(b.slice(start..end))
            }
        }
    }
}

/// How an upload attempt failed.
enum Failure {
    /// Wait (the server's `Retry-After` if any), then start a new session.
    Retry(Error, Option<Duration>),
    /// Start a new session at once (the wait already happened).
    Restart,
    /// Give up.
    Fatal(Error),
}

/// Failures counted against the retry policy, across the sessions of one blob.
struct Budget<'a> {
    policy: &'a RetryPolicy,
    started: Instant,
    failures: u32,
}

impl Budget<'_> {
    /// Counts a failure and waits; `false` when the policy says to give up.
    async fn wait(&mut self, retry_after: Option<Duration>) -> bool {
        self.failures += 1;
        match self
            .policy
            .next_delay(self.failures, self.started.elapsed(), retry_after)
        {
            Some(d) => {
                tokio::time::sleep(d).await;
                true
            }
            None => false,
        }
    }
}

/// The end offset of a `Range: 0-<last>` upload-status header, as the next offset to send.
/// distribution answers `0-0` for an empty session.
fn next_offset(headers: &HeaderMap) -> Option<u64> {
    let v = header_str(headers, header::RANGE.as_str())?;
    let last: u64 = v
        .trim()
        .trim_start_matches("bytes=")
        .split('-')
        .nth(1)?
        .trim()
        .parse()
        .ok()?;
    Some(if last == 0 { 0 } else { last + 1 })
}

/// Classifies an error from `execute` for a request that was not retried there.
fn classify(e: Error) -> Failure {
    if matches!(e.kind(), ErrorKind::Connection) {
        Failure::Retry(e, None)
    } else {
        Failure::Fatal(e)
    }
}

impl Client {
    /// Counts the upload of `descriptor`'s bytes, when someone listens.
    fn tap(&self, descriptor: &Descriptor) -> Option<Tap> {
        self.progress.as_ref().map(|progress| Tap {
            progress: progress.clone(),
            digest: descriptor.digest.clone(),
            total: descriptor.size,
        })
    }

    /// Pushes the blob in file `path` (described by `descriptor`) to `repository`: skipped when
    /// the registry has it, mounted from `mount_from` (same registry) when possible, else
    /// uploaded, streaming from the file.
    pub async fn push_blob_file(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        path: &Path,
        mount_from: Option<&Reference>,
    ) -> Result<BlobPush> {
        let len = tokio::fs::metadata(path).await?.len();
        if len != descriptor.size {
            let kind = ErrorKind::SizeMismatch {
                expected: descriptor.size,
                actual: len,
            };
            return Err(Error::new(kind));
        }
        self.push_blob(
            repository,
            descriptor,
            &Source::File(path.to_owned()),
            mount_from,
        )
        .await
    }

    /// Pushes a small blob held in memory (an image config); returns its descriptor.
    pub async fn push_blob_bytes(
        &self,
        repository: &Reference,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<Descriptor> {
        let descriptor = Descriptor::new(media_type, Digest::sha256_of(bytes), bytes.len() as u64);
        let source = Source::Bytes(Bytes::copy_from_slice(bytes));
        self.push_blob(repository, &descriptor, &source, None)
            .await?;
        Ok(descriptor)
    }

    /// Pushes several blob files, at most [`crate::ClientBuilder::max_concurrent_uploads`] at
    /// once; the outcomes are in the order given.
    pub async fn push_blob_files(
        &self,
        repository: &Reference,
        blobs: &[BlobFile],
        mount_from: Option<&Reference>,
    ) -> Result<Vec<BlobPush>> {
        let jobs = blobs
            .iter()
            .map(|b| self.push_blob_file(repository, &b.descriptor, &b.path, mount_from));
        futures_util::future::try_join_all(jobs).await
    }

    /// Pushes an image: the layers (concurrently), then the config, then the manifest under
    /// `target`'s tag (or by digest when it has none). Returns the manifest's digest.
    pub async fn push_image(
        &self,
        target: &Reference,
        image: &ImagePush,
        mount_from: Option<&Reference>,
    ) -> Result<Digest> {
        self.push_blob_files(target, &image.layers, mount_from)
            .await?;
        let config = &image.config;
        self.push_blob_file(target, &config.descriptor, &config.path, mount_from)
            .await?;
        self.put_manifest(target, &image.manifest_media_type, &image.manifest)
            .await
    }

    async fn push_blob(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        source: &Source,
        mount_from: Option<&Reference>,
    ) -> Result<BlobPush> {
        let _permit = self.inner.uploads.acquire().await;
        if self.blob_exists(repository, &descriptor.digest).await? {
            return Ok(BlobPush::AlreadyExists);
        }
        let mut mount = mount_from.filter(|m| {
            m.registry() == repository.registry() && m.repository() != repository.repository()
        });
        let mut budget = Budget {
            policy: &self.inner.retry,
            started: Instant::now(),
            failures: 0,
        };
        loop {
            let attempt =
                self.upload_once(repository, descriptor, source, mount.take(), &mut budget);
            match attempt.await {
                Ok(outcome) => return Ok(outcome),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Restart) => {}
                Err(Failure::Retry(e, wait)) => {
                    if !budget.wait(wait).await {
                        return Err(e);
                    }
                }
            }
        }
    }

    async fn upload_once(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        source: &Source,
        mount_from: Option<&Reference>,
        budget: &mut Budget<'_>,
    ) -> std::result::Result<BlobPush, Failure> {
        let location = match self
            .start_session(repository, &descriptor.digest, mount_from)
            .await?
        {
            None => return Ok(BlobPush::Mounted),
            Some(location) => location,
        };
        let location = if descriptor.size <= self.inner.monolithic_limit {
            location
        } else {
            self.send_chunks(repository, descriptor, source, location, budget)
                .await?
        };
        let body = if descriptor.size <= self.inner.monolithic_limit {
            source.range(0, descriptor.size, self.tap(descriptor))
        } else {
            Body::Empty
        };
        self.finish(repository, descriptor, location, body).await
    }

    /// POSTs a new upload session (with `?mount=&from=` when mounting). `None` means mounted;
    /// a refused mount (202 or an error) falls back to a plain session.
    async fn start_session(
        &self,
        repository: &Reference,
        digest: &Digest,
        mount_from: Option<&Reference>,
    ) -> std::result::Result<Option<Url>, Failure> {
        let repo = repository.repository();
        let mut url = self
            .inner
            .url(repository, &format!("{repo}/blobs/uploads/"))
            .map_err(Failure::Fatal)?;
        let mut scopes = vec![Scope::push(repo)];
        if let Some(from) = mount_from {
            url.query_pairs_mut()
                .append_pair("mount", digest.as_str())
                .append_pair("from", from.repository());
            scopes.push(Scope::pull(from.repository()));
        }
        // Not retried here: the caller's budget covers the whole session, POST included.
        let call = Call::new(repository.registry(), scopes, Method::POST, url).no_retry();
        let resp = self.inner.execute(&call).await.map_err(classify)?;
        match resp.status() {
            StatusCode::CREATED if mount_from.is_some() => Ok(None),
            StatusCode::ACCEPTED => self
                .location(&call, resp.headers())
                .map(Some)
                .map_err(Failure::Fatal),
            _ if mount_from.is_some() => {
                Box::pin(self.start_session(repository, digest, None)).await
            }
            s => {
                let wait = crate::request::retry_after(resp.headers());
                let e = status_error(&call, resp).await;
                Err(if RetryPolicy::is_retryable_status(s.as_u16()) {
                    Failure::Retry(e, wait)
                } else {
                    Failure::Fatal(e)
                })
            }
        }
    }

    fn location(&self, call: &Call, headers: &HeaderMap) -> Result<Url> {
        let protocol = |what| Error::new(ErrorKind::Protocol(what)).with_registry(&call.registry);
        let location = header_str(headers, header::LOCATION.as_str())
            .ok_or_else(|| protocol("upload without Location"))?;
        call.url
            .join(&location)
            .map_err(|_| protocol("invalid upload Location"))
    }

    /// PATCHes the blob in chunks; returns the session location for the final PUT.
    async fn send_chunks(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        source: &Source,
        mut location: Url,
        budget: &mut Budget<'_>,
    ) -> std::result::Result<Url, Failure> {
        let registry = repository.registry();
        let scopes = vec![Scope::push(repository.repository())];
        let mut offset = 0u64;
        while offset < descriptor.size {
            let end = (offset + self.inner.chunk_size).min(descriptor.size);
            let call = Call::new(registry, scopes.clone(), Method::PATCH, location.clone())
                .header(header::CONTENT_TYPE, "application/octet-stream")
                .header(header::CONTENT_RANGE, format!("{offset}-{}", end - 1))
                .body(source.range(offset, end - offset, self.tap(descriptor)))
                .no_retry();
            let (error, wait) = match self.inner.execute(&call).await {
                Ok(resp) if resp.status() == StatusCode::ACCEPTED => {
                    location = self.location(&call, resp.headers()).unwrap_or(location);
                    offset = next_offset(resp.headers())
                        .filter(|o| *o > offset)
                        .unwrap_or(end);
                    continue;
                }
                Ok(resp) => {
                    let s = resp.status().as_u16();
                    let wait = crate::request::retry_after(resp.headers());
                    let e = status_error(&call, resp).await;
                    if s == 404 {
                        return Err(Failure::Retry(e, wait));
                    }
                    if !(RetryPolicy::is_retryable_status(s) || s == 416) {
                        return Err(Failure::Fatal(e));
                    }
                    (e, wait)
                }
                Err(e) if matches!(e.kind(), ErrorKind::Connection) => (e, None),
                Err(e) => return Err(Failure::Fatal(e)),
            };
            if !budget.wait(wait).await {
                return Err(Failure::Fatal(error));
            }
            let (resumed_at, resumed_location) = self
                .upload_status(registry, &scopes, &location)
                .await
                .map_err(|_| Failure::Restart)?;
            offset = resumed_at.min(descriptor.size);
            location = resumed_location;
        }
        Ok(location)
    }

    /// Asks an upload session how many bytes it holds (`GET <location>` -> 204 + `Range`).
    async fn upload_status(
        &self,
        registry: &str,
        scopes: &[Scope],
        location: &Url,
    ) -> Result<(u64, Url)> {
        let call = Call::new(registry, scopes.to_vec(), Method::GET, location.clone());
        let resp = self.inner.execute(&call).await?;
        if resp.status() != StatusCode::NO_CONTENT {
            return Err(status_error(&call, resp).await);
        }
        let offset = next_offset(resp.headers()).ok_or_else(|| {
            Error::new(ErrorKind::Protocol("upload status without Range")).with_registry(registry)
        })?;
        let next = self
            .location(&call, resp.headers())
            .unwrap_or_else(|_| location.clone());
        Ok((offset, next))
    }

    /// The closing `PUT <location>?digest=`, with the whole blob (monolithic) or no body.
    async fn finish(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        mut location: Url,
        body: Body,
    ) -> std::result::Result<BlobPush, Failure> {
        location
            .query_pairs_mut()
            .append_pair("digest", descriptor.digest.as_str());
        let scopes = vec![Scope::push(repository.repository())];
        let call = Call::new(repository.registry(), scopes, Method::PUT, location)
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .no_retry();
        let resp = self.inner.execute(&call).await.map_err(classify)?;
        let status = resp.status();
        if status.is_success() {
            check_returned_digest(resp.headers(), &descriptor.digest, repository.registry())
                .map_err(Failure::Fatal)?;
            return Ok(BlobPush::Uploaded);
        }
        let wait = crate::request::retry_after(resp.headers());
        let e = status_error(&call, resp).await;
        Err(
            if RetryPolicy::is_retryable_status(status.as_u16()) || status == StatusCode::NOT_FOUND
            {
                Failure::Retry(e, wait)
            } else {
                Failure::Fatal(e)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn upload_ranges() {
        let mut h = HeaderMap::new();
        assert_eq!(next_offset(&h), None);
        h.insert(header::RANGE, HeaderValue::from_static("0-0"));
        assert_eq!(next_offset(&h), Some(0));
        h.insert(header::RANGE, HeaderValue::from_static("0-1048575"));
        assert_eq!(next_offset(&h), Some(1048576));
        h.insert(header::RANGE, HeaderValue::from_static("bytes=0-9"));
        assert_eq!(next_offset(&h), Some(10));
    }

    #[test]
    fn byte_sources_slice() {
        let s = Source::Bytes(Bytes::from_static(b"0123456789"));
        let Body::Bytes(b) = s.range(3, 4, None) else {
            panic!()
        };
        assert_eq!(&b[..], b"3456");
        let Body::Bytes(b) = s.range(8, 10, None) else {
            panic!()
        };
        assert_eq!(&b[..], b"89");
    }
}

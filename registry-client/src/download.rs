//! Blob downloads: streamed to a writer or a file, verified (size and digest) before they
//! count, resumed with `Range` after an interruption, redirects followed without leaking the
//! registry's authorization, and bounded in concurrency.

use std::path::{Path, PathBuf};
use std::time::Instant;

use futures_util::StreamExt as _;
use reqwest::header;
use reqwest::{Method, Response, StatusCode};
use tokio::io::{AsyncWrite, AsyncWriteExt as _};

use crate::auth::Scope;
use crate::client::{Client, header_str};
use crate::digest::{Digest, Hasher, hash_file};
use crate::error::{Error, ErrorKind, Result};
use crate::manifest::Descriptor;
use crate::reference::Reference;
use crate::request::{Call, connection_error, status_error};

/// Redirect hops followed for one blob request.
const MAX_REDIRECTS: usize = 10;

/// How one download attempt ended badly.
enum Failure {
    /// The connection broke: resume from where the bytes stopped.
    Interrupted(Error),
    /// Trying again cannot help.
    Fatal(Error),
}

/// The start offset of a `Content-Range: bytes <start>-<end>/<size>` header.
fn content_range_start(value: &str) -> Option<u64> {
    let range = value.trim().strip_prefix("bytes")?.trim_start();
    range.split('-').next()?.trim().parse().ok()
}

impl Client {
    fn blob_call(&self, repository: &Reference, digest: &Digest, method: Method) -> Result<Call> {
        let url = self.inner.url(
            repository,
            &format!("{}/blobs/{digest}", repository.repository()),
        )?;
        Ok(Call::new(
            repository.registry(),
            vec![Scope::pull(repository.repository())],
            method,
            url,
        ))
    }

    /// Whether the registry has blob `digest` in `repository` (HEAD). A redirect counts as
    /// yes: registries redirect only to content they hold, and the signed URL of a CDN may not
    /// accept a HEAD.
    pub async fn blob_exists(&self, repository: &Reference, digest: &Digest) -> Result<bool> {
        let call = self.blob_call(repository, digest, Method::HEAD)?;
        let resp = self.inner.execute(&call).await?;
        match resp.status() {
            s if s.is_success() || s.is_redirection() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(&call, resp).await),
        }
    }

    /// GETs the blob from `offset`, following redirects; the registry's authorization goes only
    /// to the registry's own origin.
    async fn blob_response(
        &self,
        repository: &Reference,
        digest: &Digest,
        offset: u64,
    ) -> Result<(Call, Response)> {
        let mut call = self.blob_call(repository, digest, Method::GET)?;
        if offset > 0 {
            call = call.header(header::RANGE, format!("bytes={offset}-"));
        }
        let origin = call.url.origin();
        let mut resp = self.inner.execute(&call).await?;
        for _ in 0..MAX_REDIRECTS {
            if !resp.status().is_redirection() {
                return Ok((call, resp));
            }
            let protocol =
                |what| Error::new(ErrorKind::Protocol(what)).with_registry(repository.registry());
            let location = header_str(resp.headers(), header::LOCATION.as_str())
                .ok_or_else(|| protocol("redirect without Location"))?;
            let next = call
                .url
                .join(&location)
                .map_err(|_| protocol("redirect to an invalid URL"))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(protocol("redirect to a non-HTTP URL"));
            }
            call.auth = next.origin() == origin;
            call.url = next;
            resp = self.inner.execute(&call).await?;
        }
        Err(Error::new(ErrorKind::Protocol("too many redirects"))
            .with_registry(repository.registry()))
    }

    /// Streams blob `descriptor` of `repository` into `dest`, checking size and digest; returns
    /// the bytes written. On error, what was written must be discarded.
    pub async fn fetch_blob<W>(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        dest: &mut W,
    ) -> Result<u64>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let _permit = self.inner.downloads.acquire().await;
        let hasher = Hasher::new(descriptor.digest.algorithm());
        self.download(repository, descriptor, dest, 0, hasher).await
    }

    /// Downloads blob `descriptor` to `path`: the bytes go to `<path>.partial` first (resumed
    /// if a previous download left one), and the file is renamed to `path` only once its size
    /// and digest are verified.
    pub async fn fetch_blob_to_file(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        path: &Path,
    ) -> Result<()> {
        let _permit = self.inner.downloads.acquire().await;
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let algorithm = descriptor.digest.algorithm();
        let (written, hasher) = match tokio::fs::metadata(&partial).await {
            Ok(m) if m.len() <= descriptor.size => {
                hash_file(&partial, Hasher::new(algorithm)).await?
            }
            _ => (0, Hasher::new(algorithm)),
        };
        let mut file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&partial)
            .await?;
        if written == 0 {
            file.set_len(0).await?;
        }
        let result = self
            .download(repository, descriptor, &mut file, written, hasher)
            .await;
        match result {
            Ok(_) => {
                file.sync_all().await?;
                drop(file);
                tokio::fs::rename(&partial, path).await?;
                Ok(())
            }
            Err(e) => {
                if matches!(
                    e.kind(),
                    ErrorKind::DigestMismatch { .. } | ErrorKind::SizeMismatch { .. }
                ) {
                    let _ = tokio::fs::remove_file(&partial).await;
                }
                Err(e)
            }
        }
    }

    /// Downloads several blobs into `dir` (named by their digest's hex), at most
    /// [`crate::ClientBuilder::max_concurrent_downloads`] at once; returns the paths in order.
    pub async fn fetch_blobs_to_dir(
        &self,
        repository: &Reference,
        blobs: &[Descriptor],
        dir: &Path,
    ) -> Result<Vec<PathBuf>> {
        let jobs = blobs.iter().map(|d| async move {
            let path = dir.join(d.digest.encoded());
            self.fetch_blob_to_file(repository, d, &path)
                .await
                .map(|()| path)
        });
        futures_util::future::try_join_all(jobs).await
    }

    async fn download<W>(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        dest: &mut W,
        mut written: u64,
        mut hasher: Hasher,
    ) -> Result<u64>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let started = Instant::now();
        let mut attempts = 0;
        while written < descriptor.size || (attempts == 0 && descriptor.size == 0) {
            attempts += 1;
            let attempt =
                self.download_attempt(repository, descriptor, dest, &mut written, &mut hasher);
            match attempt.await {
                Ok(()) => {}
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Interrupted(e)) => {
                    match self
                        .inner
                        .retry
                        .next_delay(attempts, started.elapsed(), None)
                    {
                        Some(delay) => tokio::time::sleep(delay).await,
                        None => return Err(e),
                    }
                }
            }
        }
        dest.flush().await?;
        if written != descriptor.size {
            let kind = ErrorKind::SizeMismatch {
                expected: descriptor.size,
                actual: written,
            };
            return Err(Error::new(kind).with_registry(repository.registry()));
        }
        hasher
            .finish()
            .expect_equal(&descriptor.digest)
            .map_err(|e| e.with_registry(repository.registry()))?;
        Ok(written)
    }

    /// One GET from `written` on; advances `written` and `hasher` with every byte kept.
    async fn download_attempt<W>(
        &self,
        repository: &Reference,
        descriptor: &Descriptor,
        dest: &mut W,
        written: &mut u64,
        hasher: &mut Hasher,
    ) -> std::result::Result<(), Failure>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let registry = repository.registry();
        let (call, resp) = self
            .blob_response(repository, &descriptor.digest, *written)
            .await
            .map_err(Failure::Fatal)?;
        let mut skip = 0u64;
        match resp.status() {
            StatusCode::OK => skip = *written,
            StatusCode::PARTIAL_CONTENT => {
                let start = header_str(resp.headers(), header::CONTENT_RANGE.as_str())
                    .and_then(|v| content_range_start(&v));
                if start != Some(*written) {
                    let e = Error::new(ErrorKind::Protocol(
                        "Content-Range does not start where asked",
                    ))
                    .with_registry(registry);
                    return Err(Failure::Fatal(e));
                }
            }
            _ => return Err(Failure::Fatal(status_error(&call, resp).await)),
        }
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Failure::Interrupted(connection_error(&call, e)))?;
            let mut data = &chunk[..];
            if skip > 0 {
                let n = usize::try_from(skip).unwrap_or(usize::MAX).min(data.len());
                data = &data[n..];
                skip -= n as u64;
            }
            let after = *written + data.len() as u64;
            if after > descriptor.size {
                let kind = ErrorKind::SizeMismatch {
                    expected: descriptor.size,
                    actual: after,
                };
                return Err(Failure::Fatal(Error::new(kind).with_registry(registry)));
            }
            dest.write_all(data)
                .await
                .map_err(|e| Failure::Fatal(e.into()))?;
            hasher.update(data);
            *written = after;
            self.report(&descriptor.digest, after, descriptor.size);
        }
        if *written < descriptor.size {
            let e = Error::new(ErrorKind::Connection)
                .with_registry(registry)
                .with_source(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
            return Err(Failure::Interrupted(e));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range() {
        assert_eq!(content_range_start("bytes 100-199/200"), Some(100));
        assert_eq!(content_range_start("bytes 0-0/*"), Some(0));
        assert_eq!(content_range_start("items 1-2/3"), None);
        assert_eq!(content_range_start("bytes x-1/2"), None);
    }
}

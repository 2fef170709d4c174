//! Sending one registry request: authorization (Basic, or Bearer tokens from the challenge,
//! cached per scope set, refreshed once on 401), retries with backoff, and typed errors.
//!
//! Design note: a [`Call`] describes a request instead of holding a built one, and its body is a
//! [`Body`] that can be re-opened (bytes, or a file range), so the same call can be sent again
//! after a 401 or a retryable failure without buffering a blob in memory.

use std::io::{Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Instant, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use tokio::io::AsyncReadExt as _;
use url::Url;

use crate::auth::{Challenge, Credential, Scope, TokenCache, TokenResponse, parse_challenges};
use crate::client::Inner;
use crate::error::{Error, ErrorKind, HttpFailure, RegistryErrorCode, Result};
use crate::transport::{RetryPolicy, parse_retry_after};

/// A request body that can be produced again for each attempt.
#[derive(Clone)]
pub(crate) enum Body {
    /// No body.
    Empty,
    /// Bytes in memory (manifests, small configs).
    Bytes(Bytes),
    /// `len` bytes of a file from `offset`, streamed, counted by `tap` when given.
    File {
        path: PathBuf,
        offset: u64,
        len: u64,
        tap: Option<Tap>,
    },
}

/// Counts the bytes of a blob's upload as they are read into the request.
#[derive(Clone)]
pub(crate) struct Tap {
    pub(crate) progress: crate::TransferProgress,
    pub(crate) digest: crate::Digest,
    pub(crate) total: u64,
}

impl std::fmt::Debug for Body {
    // Bodies may hold secrets (a token request's refresh token): print only their size.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Empty => f.write_str("Empty"),
            Self::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Self::File {
                path, offset, len, ..
            } => {
                write!(f, "File({}, {offset}+{len})", path.display())
            }
        }
    }
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Self::Empty => 0,
            Self::Bytes(b) => b.len() as u64,
            Self::File { len, .. } => *len,
        }
    }

    fn open(&self) -> Result<reqwest::Body> {
        match self {
            Self::Empty => Ok(reqwest::Body::from(Vec::new())),
            Self::Bytes(b) => Ok(reqwest::Body::from(b.clone())),
            Self::File {
                path,
                offset,
                len,
                tap,
            } => {
                let mut file = std::fs::File::open(path)?;
                file.seek(SeekFrom::Start(*offset))?;
                let reader = tokio::fs::File::from_std(file).take(*len);
                let stream = tokio_util::io::ReaderStream::with_capacity(reader, 64 * 1024);
                let Some(tap) = tap.clone() else {
                    return Ok(reqwest::Body::wrap_stream(stream));
                };
                let mut done = *offset;
                let counted = futures_util::StreamExt::map(stream, move |chunk| {
                    if let Ok(bytes) = &chunk {
                        done += bytes.len() as u64;
                        (tap.progress)(&tap.digest, done, tap.total);
                    }
                    chunk
                });
                Ok(reqwest::Body::wrap_stream(counted))
            }
        }
    }
}

/// One registry request, described so that it can be sent several times.
#[derive(Clone)]
pub(crate) struct Call {
    /// The registry as in references (`docker.io`): credentials, tokens and errors use it.
    pub(crate) registry: String,
    /// The token scopes the request needs.
    pub(crate) scopes: Vec<Scope>,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) headers: Vec<(HeaderName, String)>,
    pub(crate) body: Body,
    /// Retry on connection errors and retryable statuses (only for idempotent requests).
    pub(crate) retry: bool,
    /// Send the registry's authorization (off for token endpoints and foreign redirects).
    pub(crate) auth: bool,
}

impl std::fmt::Debug for Call {
    // Header values may be credentials: print names only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Call")
            .field("registry", &self.registry)
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &names)
            .field("body", &self.body)
            .finish_non_exhaustive()
    }
}

impl Call {
    pub(crate) fn new(registry: &str, scopes: Vec<Scope>, method: Method, url: Url) -> Self {
        Self {
            registry: registry.to_owned(),
            scopes,
            method,
            url,
            headers: Vec::new(),
            body: Body::Empty,
            retry: true,
            auth: true,
        }
    }

    pub(crate) fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    pub(crate) fn no_retry(mut self) -> Self {
        self.retry = false;
        self
    }

    pub(crate) fn http_failure(&self, status: u16) -> HttpFailure {
        HttpFailure {
            status,
            method: self.method.to_string(),
            ..Default::default()
        }
    }
}

/// The host key (`host` or `host:port`) of a URL, as the transport indexes clients.
pub(crate) fn host_key(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// Whether a reqwest failure may go away when tried again.
pub(crate) fn is_retryable_error(e: &reqwest::Error) -> bool {
    !(e.is_builder() || e.is_redirect() || e.is_status() || e.is_decode())
}

/// A `Retry-After` header as a delay.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<std::time::Duration> {
    let v = headers.get(header::RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(v, SystemTime::now())
}

impl Inner {
    /// Sends `call`: authorizes it, refreshes the token once on 401, retries what may succeed.
    /// Returns the response whatever its status; callers map unsuccessful ones with
    /// [`status_error`].
    pub(crate) async fn execute(&self, call: &Call) -> Result<Response> {
        let started = Instant::now();
        let mut attempts = 0u32;
        let mut refresh = false;
        let mut reauthorized = false;
        loop {
            attempts += 1;
            let authorization = self.authorization(call, refresh).await?;
            refresh = false;
            match self.send_once(call, authorization).await? {
                Ok(resp)
                    if resp.status() == StatusCode::UNAUTHORIZED && call.auth && !reauthorized =>
                {
                    reauthorized = true;
                    attempts -= 1;
                    match pick_challenge(resp.headers()) {
                        Some(ch) => {
                            self.set_challenge(&call.registry, ch);
                            refresh = true;
                        }
                        None => return Ok(resp),
                    }
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    if call.retry && RetryPolicy::is_retryable_status(status) {
                        let wait = retry_after(resp.headers());
                        if let Some(delay) =
                            self.retry.next_delay(attempts, started.elapsed(), wait)
                        {
                            tokio::time::sleep(delay).await;
                            continue;
                        }
                    }
                    return Ok(resp);
                }
                Err(e) => {
                    let retryable = call.retry && is_retryable_error(&e);
                    let delay = retryable
                        .then(|| self.retry.next_delay(attempts, started.elapsed(), None))
                        .flatten();
                    match delay {
                        Some(d) => tokio::time::sleep(d).await,
                        None => return Err(connection_error(call, e)),
                    }
                }
            }
        }
    }

    /// One attempt, no retries. The outer error is local (TLS settings, the body file), the
    /// inner one is the network's.
    pub(crate) async fn send_once(
        &self,
        call: &Call,
        authorization: Option<String>,
    ) -> Result<std::result::Result<Response, reqwest::Error>> {
        let (_, client) = self.transport.client_for(&host_key(&call.url))?;
        let mut req = client.request(call.method.clone(), call.url.clone());
        for (name, value) in &call.headers {
            req = req.header(name, value);
        }
        if let Some(a) = authorization {
            let mut v = HeaderValue::from_str(&a)
                .map_err(|_| Error::new(ErrorKind::Credentials).with_registry(&call.registry))?;
            v.set_sensitive(true);
            req = req.header(header::AUTHORIZATION, v);
        }
        if !matches!(call.body, Body::Empty)
            || matches!(call.method, Method::PUT | Method::PATCH | Method::POST)
        {
            req = req
                .header(header::CONTENT_LENGTH, call.body.len())
                .body(call.body.open()?);
        }
        Ok(req.send().await)
    }

    fn challenge(&self, registry: &str) -> Option<Challenge> {
        self.challenges.lock().ok()?.get(registry).cloned()
    }

    fn set_challenge(&self, registry: &str, ch: Challenge) {
        if let Ok(mut c) = self.challenges.lock() {
            c.insert(registry.to_owned(), ch);
        }
    }

    /// The credential for `registry`: explicit ones first, then the keychain (on a blocking
    /// thread, since helpers are programs). Looked up once per registry.
    pub(crate) async fn credential(&self, registry: &str) -> Result<Option<Credential>> {
        if let Some(c) = self
            .credentials
            .lock()
            .ok()
            .and_then(|c| c.get(registry).cloned())
        {
            return Ok(c);
        }
        let keychains = self.keychains.clone();
        let name = registry.to_owned();
        let found = tokio::task::spawn_blocking(move || -> Result<Option<Credential>> {
            for k in &keychains {
                if let Some(c) = k.credential(&name)? {
                    return Ok(Some(c));
                }
            }
            Ok(None)
        })
        .await
        .map_err(|e| Error::new(ErrorKind::Credentials).with_source(e))?
        .map_err(|e| e.with_registry(registry))?;
        if let Ok(mut c) = self.credentials.lock() {
            c.insert(registry.to_owned(), found.clone());
        }
        Ok(found)
    }

    async fn authorization(&self, call: &Call, refresh: bool) -> Result<Option<String>> {
        if !call.auth {
            return Ok(None);
        }
        let Some(challenge) = self.challenge(&call.registry) else {
            return Ok(None);
        };
        let credential = self.credential(&call.registry).await?;
        match (challenge.scheme.as_str(), &credential) {
            (_, Some(Credential::RegistryToken(t))) => Ok(Some(format!("Bearer {t}"))),
            ("basic", Some(Credential::Basic { username, password })) => {
                Ok(Some(basic(username, password)))
            }
            ("bearer", _) => {
                let key = TokenCache::key(&call.registry, &call.scopes);
                if !refresh && let Some(t) = self.tokens.get(&key, Instant::now()) {
                    return Ok(Some(format!("Bearer {t}")));
                }
                self.tokens.remove(&key);
                let token = self
                    .fetch_token(call, &challenge, credential.as_ref())
                    .await?;
                let value = format!("Bearer {}", token.value);
                self.tokens.put(key, token);
                Ok(Some(value))
            }
            _ => Ok(None),
        }
    }

    async fn fetch_token(
        &self,
        call: &Call,
        challenge: &Challenge,
        credential: Option<&Credential>,
    ) -> Result<crate::auth::Token> {
        let protocol = |what| Error::new(ErrorKind::Protocol(what)).with_registry(&call.registry);
        let realm = challenge
            .param("realm")
            .ok_or_else(|| protocol("bearer challenge without realm"))?;
        let mut url = Url::parse(realm).map_err(|_| protocol("bearer realm is not a URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(protocol("bearer realm is not an http(s) URL"));
        }
        let mut scopes: Vec<String> = call.scopes.iter().map(ToString::to_string).collect();
        if scopes.is_empty() {
            scopes.extend(challenge.param("scope").map(str::to_owned));
        }
        let service = challenge.param("service").unwrap_or_default();
        let mut token_call = Call::new(&call.registry, Vec::new(), Method::GET, url.clone());
        token_call.auth = false;
        match credential {
            Some(Credential::IdentityToken(refresh_token)) => {
                let mut form = url::form_urlencoded::Serializer::new(String::new());
                form.append_pair("grant_type", "refresh_token")
                    .append_pair("service", service)
                    .append_pair("client_id", "hoist")
                    .append_pair("refresh_token", refresh_token)
                    .append_pair("scope", &scopes.join(" "));
                token_call.method = Method::POST;
                token_call.body = Body::Bytes(Bytes::from(form.finish()));
                token_call.headers.push((
                    header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded".into(),
                ));
            }
            other => {
                {
                    let mut q = url.query_pairs_mut();
                    if !service.is_empty() {
                        q.append_pair("service", service);
                    }
                    for s in &scopes {
                        q.append_pair("scope", s);
                    }
                }
                token_call.url = url;
                if let Some(Credential::Basic { username, password }) = other {
                    token_call
                        .headers
                        .push((header::AUTHORIZATION, basic(username, password)));
                }
            }
        }
        let resp = Box::pin(self.execute(&token_call)).await?;
        let status = resp.status();
        if !status.is_success() {
            let kind = if matches!(status.as_u16(), 401 | 403) {
                Some(ErrorKind::Unauthorized)
            } else {
                None
            };
            let e = status_error(&token_call, resp).await;
            return Err(match kind {
                Some(k) => Error::new(k)
                    .with_registry(&call.registry)
                    .with_http(e.http().cloned().unwrap_or_default()),
                None => e,
            });
        }
        let body = read_limited(resp, 1 << 20)
            .await
            .map_err(|e| e.with_registry(&call.registry))?;
        let parsed: TokenResponse = serde_json::from_slice(&body)
            .map_err(|_| protocol("token endpoint answered without JSON"))?;
        parsed
            .into_token(Instant::now())
            .ok_or_else(|| protocol("token endpoint answered without a token"))
    }
}

fn basic(username: &str, password: &str) -> String {
    let raw = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// The challenge to answer: Bearer when offered, else Basic.
fn pick_challenge(headers: &HeaderMap) -> Option<Challenge> {
    let all: Vec<Challenge> = headers
        .get_all(header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(parse_challenges)
        .collect();
    let find = |s: &str| all.iter().find(|c| c.scheme == s).cloned();
    find("bearer").or_else(|| find("basic"))
}

pub(crate) fn connection_error(call: &Call, e: reqwest::Error) -> Error {
    Error::new(ErrorKind::Connection)
        .with_registry(&call.registry)
        .with_source(e.without_url())
}

/// Reads a whole response body, failing beyond `limit` bytes.
pub(crate) async fn read_limited(mut resp: Response, limit: usize) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| Error::new(ErrorKind::Connection).with_source(e.without_url()))?
    {
        if out.len() + chunk.len() > limit {
            return Err(Error::new(ErrorKind::ManifestTooLarge));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The typed error for an unsuccessful response: kind by status, the registry's error codes,
/// Docker Hub's rate-limit header.
pub(crate) async fn status_error(call: &Call, resp: Response) -> Error {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let mut http = call.http_failure(status);
    http.retry_after = retry_after(&headers);
    http.rate_limit_remaining = headers
        .get("ratelimit-remaining")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if let Ok(body) = read_limited(resp, 64 * 1024).await {
        #[derive(serde::Deserialize)]
        struct Errors {
            #[serde(default)]
            errors: Vec<RegistryErrorCode>,
        }
        if let Ok(e) = serde_json::from_slice::<Errors>(&body) {
            http.codes = e.errors;
        }
    }
    let kind = match status {
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Denied,
        404 => ErrorKind::NotFound,
        429 => ErrorKind::TooManyRequests,
        _ => ErrorKind::UnexpectedStatus,
    };
    Error::new(kind)
        .with_registry(&call.registry)
        .with_http(http)
}

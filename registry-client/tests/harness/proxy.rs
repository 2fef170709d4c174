//! A fault-injecting HTTP/1.1 reverse proxy on 127.0.0.1, in front of a real registry.
//!
//! Requests are forwarded unchanged (the `Host` header too, so the registry's `Location`s
//! already name the proxy; absolute `Location`s naming the upstream are rewritten to the proxy
//! anyway). A script of [`FaultRule`]s, matched by method, [`PathKind`], optional path
//! substring and occurrence number, replaces or damages chosen exchanges. Counters record
//! requests per `(method, kind)` and body bytes forwarded per kind.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::header::{HeaderMap, HeaderValue, LOCATION};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::Notify;

use super::server::{BackgroundServer, Body, Handler, ServerError, full};

/// What a registry API path addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathKind {
    /// `/v2/`, the API version check.
    Base,
    /// `/v2/<name>/manifests/<reference>`.
    Manifest,
    /// `/v2/<name>/blobs/<digest>`.
    Blob,
    /// `/v2/<name>/blobs/uploads/` and `/v2/<name>/blobs/uploads/<uuid>`.
    BlobUpload,
    /// `/v2/<name>/tags/list`.
    Tags,
    /// `/v2/_catalog`.
    Catalog,
    /// Anything else.
    Other,
}

impl PathKind {
    /// Classifies a request path.
    pub fn of(path: &str) -> PathKind {
        if path == "/v2/" || path == "/v2" {
            return PathKind::Base;
        }
        if !path.starts_with("/v2/") {
            return PathKind::Other;
        }
        if path == "/v2/_catalog" {
            return PathKind::Catalog;
        }
        if path.ends_with("/tags/list") {
            return PathKind::Tags;
        }
        if let Some(i) = path.rfind("/blobs/uploads") {
            let rest = &path[i + "/blobs/uploads".len()..];
            if rest.is_empty() || (rest.starts_with('/') && !rest[1..].contains('/')) {
                return PathKind::BlobUpload;
            }
        }
        if let Some(i) = path.rfind("/blobs/")
            && !path[i + 7..].contains('/')
        {
            return PathKind::Blob;
        }
        if let Some(i) = path.rfind("/manifests/")
            && !path[i + 11..].contains('/')
        {
            return PathKind::Manifest;
        }
        PathKind::Other
    }
}

/// What to do to a matched exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer this status (e.g. 500, 502, 503) with a distribution-style JSON error body,
    /// without forwarding. The request body is read and discarded (not counted).
    Status(u16),
    /// Answer 429 with `Retry-After: <seconds>` without forwarding.
    TooManyRequests {
        /// The `Retry-After` value in seconds.
        retry_after: u64,
    },
    /// Forward the request but only the first K bytes of its body, then drop both connections
    /// (mid-upload). No effect if the body is K bytes or shorter.
    DropRequestAfter(u64),
    /// Forward the response headers (Content-Length kept) and only the first K bytes of its
    /// body, then close the connection: a mid-download drop, i.e. a truncated body. No effect
    /// if the body is K bytes or shorter.
    DropResponseAfter(u64),
    /// Forward the response with every body byte changed (XOR 0xA5): same length, different
    /// content, so the digest no longer matches.
    CorruptBody,
    /// Wait this long, then forward normally.
    Delay(Duration),
}

/// One scripted fault: `FaultRule::new("PUT", PathKind::BlobUpload).nth(2).fault(Fault::Status(500))`.
#[derive(Debug, Clone)]
pub struct FaultRule {
    method: Option<String>,
    kind: Option<PathKind>,
    path_contains: Option<String>,
    nth: usize,
    times: Option<usize>,
    fault: Fault,
    seen: usize,
}

impl FaultRule {
    /// Matches requests with `method` (`"*"`: any) to paths of `kind`; fires on the first
    /// match, once, with `Fault::Status(500)` unless told otherwise.
    pub fn new(method: &str, kind: PathKind) -> FaultRule {
        FaultRule {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            kind: Some(kind),
            path_contains: None,
            nth: 1,
            times: Some(1),
            fault: Fault::Status(500),
            seen: 0,
        }
    }

    /// Matches requests with `method` (`"*"`: any) to any path.
    pub fn any_path(method: &str) -> FaultRule {
        FaultRule {
            kind: None,
            ..FaultRule::new(method, PathKind::Other)
        }
    }

    /// Also requires the path to contain `needle` (e.g. a repository name or a digest).
    pub fn path_contains(mut self, needle: &str) -> Self {
        self.path_contains = Some(needle.to_string());
        self
    }

    /// Fires from the n-th matching request on (1-based).
    pub fn nth(mut self, n: usize) -> Self {
        assert!(n >= 1, "nth is 1-based");
        self.nth = n;
        self
    }

    /// Fires for `k` consecutive matching requests (default 1).
    pub fn times(mut self, k: usize) -> Self {
        self.times = Some(k);
        self
    }

    /// Fires for every matching request from the n-th on.
    pub fn always(mut self) -> Self {
        self.times = None;
        self
    }

    /// The fault to inject.
    pub fn fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }

    /// Counts a request; returns the fault if this occurrence is scripted.
    fn observe(&mut self, method: &str, path: &str) -> Option<Fault> {
        let matches = self.method.as_deref().is_none_or(|m| m == method)
            && self.kind.is_none_or(|k| k == PathKind::of(path))
            && self
                .path_contains
                .as_deref()
                .is_none_or(|n| path.contains(n));
        if !matches {
            return None;
        }
        self.seen += 1;
        let fires = self.seen >= self.nth && self.times.is_none_or(|k| self.seen < self.nth + k);
        fires.then(|| self.fault.clone())
    }
}

/// A request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// The fault injected, if any.
    pub fault: Option<Fault>,
}

/// Counters of what went through the proxy.
#[derive(Debug, Clone, Default)]
pub struct ProxyStats {
    /// Requests received per `(METHOD, kind)`, faulted ones included.
    pub requests: BTreeMap<(String, PathKind), usize>,
    /// Request body bytes forwarded upstream per kind.
    pub request_body_bytes: BTreeMap<PathKind, u64>,
    /// Response body bytes sent to clients per kind.
    pub response_body_bytes: BTreeMap<PathKind, u64>,
    /// Faults injected.
    pub faults_injected: usize,
    /// Every request, in arrival order.
    pub log: Vec<LoggedRequest>,
}

#[derive(Debug, Default)]
struct Shared {
    rules: Vec<FaultRule>,
    stats: ProxyStats,
}

/// A running fault proxy; stopped on drop.
#[derive(Debug)]
pub struct FaultProxy {
    server: BackgroundServer,
    upstream: SocketAddr,
    shared: Arc<Mutex<Shared>>,
}

impl FaultProxy {
    /// Starts a proxy forwarding to plain-HTTP `upstream` (e.g. `registry.host_port()`).
    pub fn start(upstream: &str) -> FaultProxy {
        let upstream: SocketAddr = upstream.parse().expect("upstream must be IP:PORT");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let proxy_addr: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        let (shared2, addr2) = (shared.clone(), proxy_addr.clone());
        let handler: Handler = Arc::new(move |req| {
            let shared = shared2.clone();
            let own = addr2.lock().expect("lock").expect("proxy address set");
            Box::pin(forward(req, upstream, own, shared))
        });
        let server = BackgroundServer::start("hoist-fault-proxy", handler);
        *proxy_addr.lock().expect("lock") = Some(server.addr());
        FaultProxy {
            server,
            upstream,
            shared,
        }
    }

    /// Starts a proxy in front of `registry` (which must serve plain HTTP).
    pub fn in_front_of(registry: &super::Registry) -> FaultProxy {
        assert!(
            !registry.is_tls(),
            "the fault proxy forwards plain HTTP only"
        );
        FaultProxy::start(&registry.host_port())
    }

    /// `127.0.0.1:PORT` of the proxy: use it as the registry host in references.
    pub fn host_port(&self) -> String {
        self.server.addr().to_string()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr())
    }

    /// The upstream address.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Adds a rule to the script; rules are checked in order, the first that fires wins
    /// (every matching rule counts the request).
    pub fn add(&self, rule: FaultRule) -> &Self {
        self.shared.lock().expect("lock").rules.push(rule);
        self
    }

    /// Removes every rule.
    pub fn clear_faults(&self) {
        self.shared.lock().expect("lock").rules.clear();
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> ProxyStats {
        self.shared.lock().expect("lock").stats.clone()
    }

    /// Resets the counters (not the rules).
    pub fn reset_stats(&self) {
        self.shared.lock().expect("lock").stats = ProxyStats::default();
    }

    /// Requests received with `method` to paths of `kind`.
    pub fn request_count(&self, method: &str, kind: PathKind) -> usize {
        let key = (method.to_ascii_uppercase(), kind);
        self.shared
            .lock()
            .expect("lock")
            .stats
            .requests
            .get(&key)
            .copied()
            .unwrap_or(0)
    }

    /// Request body bytes forwarded upstream for paths of `kind`
    /// (`PathKind::BlobUpload`: blob bytes uploaded).
    pub fn request_body_bytes(&self, kind: PathKind) -> u64 {
        let shared = self.shared.lock().expect("lock");
        shared
            .stats
            .request_body_bytes
            .get(&kind)
            .copied()
            .unwrap_or(0)
    }

    /// Response body bytes sent to clients for paths of `kind`.
    pub fn response_body_bytes(&self, kind: PathKind) -> u64 {
        let shared = self.shared.lock().expect("lock");
        shared
            .stats
            .response_body_bytes
            .get(&kind)
            .copied()
            .unwrap_or(0)
    }

    /// Faults injected so far.
    pub fn faults_injected(&self) -> usize {
        self.shared.lock().expect("lock").stats.faults_injected
    }
}

/// Records the request, picks the fault (if any) and carries the exchange out.
async fn forward(
    req: Request<Incoming>,
    upstream: SocketAddr,
    own: SocketAddr,
    shared: Arc<Mutex<Shared>>,
) -> Result<Response<Body>, ServerError> {
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let kind = PathKind::of(&path);
    let fault = {
        let mut guard = shared.lock().expect("lock");
        let fault = guard.rules.iter_mut().fold(None, |found, rule| {
            let fired = rule.observe(&method, &path);
            found.or(fired)
        });
        let stats = &mut guard.stats;
        *stats.requests.entry((method.clone(), kind)).or_default() += 1;
        stats.faults_injected += usize::from(fault.is_some());
        let full_path = req
            .uri()
            .path_and_query()
            .map_or(path.clone(), |p| p.to_string());
        stats.log.push(LoggedRequest {
            method,
            path: full_path,
            fault: fault.clone(),
        });
        fault
    };
    let mut request_limit = None;
    let mut response_fault = None;
    match fault {
        Some(Fault::Status(code)) => return Ok(error_response(req, code, None).await),
        Some(Fault::TooManyRequests { retry_after }) => {
            return Ok(error_response(req, 429, Some(retry_after)).await);
        }
        Some(Fault::Delay(duration)) => tokio::time::sleep(duration).await,
        Some(Fault::DropRequestAfter(k)) => request_limit = Some(k),
        Some(fault @ (Fault::DropResponseAfter(_) | Fault::CorruptBody)) => {
            response_fault = Some(fault)
        }
        None => {}
    }

    let (parts, body) = req.into_parts();
    let tap = Tap::new(
        body.map_err(ServerError::from).boxed(),
        shared.clone(),
        kind,
        Direction::Request,
    );
    let cut = Arc::new(Notify::new());
    let tap = Tap {
        on_cut: Some(cut.clone()),
        ..tap.limit(request_limit)
    };
    let mut upstream_req = Request::from_parts(parts, tap);
    strip_hop_by_hop(upstream_req.headers_mut());
    if let Some(pq) = upstream_req.uri().path_and_query().cloned() {
        *upstream_req.uri_mut() = pq.as_str().parse().expect("origin-form uri");
    }

    let stream = tokio::net::TcpStream::connect(upstream).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    let conn_task = tokio::spawn(conn);
    // hyper's client does not give up on its own when the request body fails: the tap says
    // when it cut, and the upstream connection is then dropped too (the registry sees the
    // upload end mid-body).
    let response = tokio::select! {
        response = sender.send_request(upstream_req) => response?,
        () = cut.notified() => {
            conn_task.abort();
            return Err("injected fault: connection dropped mid-upload".into());
        }
    };

    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    rewrite_location(&mut parts.headers, upstream, own);
    let mut tap = Tap::new(
        body.map_err(ServerError::from).boxed(),
        shared,
        kind,
        Direction::Response,
    );
    match response_fault {
        Some(Fault::DropResponseAfter(k)) => tap = tap.limit(Some(k)),
        Some(Fault::CorruptBody) => tap.corrupt = true,
        _ => {}
    }
    Ok(Response::from_parts(parts, tap.boxed()))
}

/// A distribution-style error response; the request body is drained first.
async fn error_response(
    req: Request<Incoming>,
    code: u16,
    retry_after: Option<u64>,
) -> Response<Body> {
    let _ = req.into_body().collect().await;
    let status = StatusCode::from_u16(code).expect("valid status code");
    let error_code = match code {
        401 => "UNAUTHORIZED",
        403 => "DENIED",
        429 => "TOOMANYREQUESTS",
        503 => "UNAVAILABLE",
        _ => "UNKNOWN",
    };
    let body = serde_json::json!({"errors": [{
        "code": error_code,
        "message": format!("injected fault: {code}"),
        "detail": null,
    }]});
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    if let Some(seconds) = retry_after {
        builder = builder.header("retry-after", seconds.to_string());
    }
    builder.body(full(body.to_string())).expect("response")
}

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

fn rewrite_location(headers: &mut HeaderMap, upstream: SocketAddr, own: SocketAddr) {
    let Some(location) = headers.get(LOCATION).and_then(|v| v.to_str().ok()) else {
        return;
    };
    let from = format!("http://{upstream}");
    if let Some(rest) = location.strip_prefix(&from) {
        let rewritten = format!("http://{own}{rest}");
        headers.insert(
            LOCATION,
            HeaderValue::from_str(&rewritten).expect("location value"),
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Direction {
    Request,
    Response,
}

/// A body wrapper that counts data bytes, and optionally cuts the stream after `limit` bytes
/// (then fails, which makes hyper drop the connection) or corrupts every byte.
struct Tap {
    inner: Body,
    shared: Arc<Mutex<Shared>>,
    kind: PathKind,
    direction: Direction,
    limit: Option<u64>,
    sent: u64,
    cut: Cut,
    on_cut: Option<Arc<Notify>>,
    corrupt: bool,
}

/// Where a [`Tap`] with a limit is in cutting its stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cut {
    No,
    Flushing,
    Failing,
}

impl Tap {
    fn new(inner: Body, shared: Arc<Mutex<Shared>>, kind: PathKind, direction: Direction) -> Tap {
        Tap {
            inner,
            shared,
            kind,
            direction,
            limit: None,
            sent: 0,
            cut: Cut::No,
            on_cut: None,
            corrupt: false,
        }
    }

    fn limit(mut self, limit: Option<u64>) -> Tap {
        self.limit = limit;
        self
    }

    fn count(&self, n: u64) {
        let mut guard = self.shared.lock().expect("lock");
        let stats = &mut guard.stats;
        let map = match self.direction {
            Direction::Request => &mut stats.request_body_bytes,
            Direction::Response => &mut stats.response_body_bytes,
        };
        *map.entry(self.kind).or_default() += n;
    }
}

impl HttpBody for Tap {
    type Data = Bytes;
    type Error = ServerError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, ServerError>>> {
        let this = self.get_mut();
        match this.cut {
            Cut::No => {}
            Cut::Flushing => {
                // Yield once so hyper flushes the bytes already written, then fail.
                this.cut = Cut::Failing;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Cut::Failing => {
                if let Some(on_cut) = &this.on_cut {
                    on_cut.notify_one();
                }
                return Poll::Ready(Some(Err("injected fault: connection dropped".into())));
            }
        }
        let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            other => return Poll::Ready(other),
        };
        let mut data = match frame.into_data() {
            Ok(data) => data,
            Err(frame) => return Poll::Ready(Some(Ok(frame))),
        };
        if let Some(limit) = this.limit {
            let room = limit.saturating_sub(this.sent);
            if room == 0 {
                // More data after the limit: cut here.
                return Poll::Ready(Some(Err("injected fault: connection dropped".into())));
            }
            if (data.len() as u64) > room {
                data.truncate(room as usize);
                // The rest of this frame is withheld: fail on the next poll.
                this.cut = Cut::Flushing;
            }
        }
        if this.corrupt {
            data = data.iter().map(|b| b ^ 0xA5).collect::<Vec<u8>>().into();
        }
        this.sent += data.len() as u64;
        this.count(data.len() as u64);
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        // After a cut the inner body may be done, but this one still has its failure to give.
        self.cut == Cut::No && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        match self.limit {
            None => self.inner.size_hint(),
            Some(_) => SizeHint::default(),
        }
    }
}

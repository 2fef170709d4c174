//! A Docker token server (the Docker Hub auth flow) for a registry configured with
//! `auth: token`: `GET /token?service=S&scope=repository:NAME:pull,push[&scope=...]`, with
//! optional Basic credentials, answers `{"token","access_token","expires_in","issued_at"}`.
//!
//! Tokens are ES256 JWTs whose header carries `x5c` = [the signing certificate]; the registry
//! trusts them because that certificate is issued by a private CA written to the registry's
//! `rootcertbundle` (distribution 2.8 verifies the `x5c` chain against it).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::{Request, Response, StatusCode};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::json;

use super::ca::Ca;
use super::server::{BackgroundServer, Body, ServerError, full};

/// The `service` the registry is configured with and tokens are issued for (`aud`).
pub const SERVICE: &str = "hoist-test-registry";
/// The token issuer (`iss`) the registry trusts.
pub const ISSUER: &str = "hoist-test-token-issuer";

/// One grant: a repository pattern (exact, or a prefix ending in `*`) and its allowed actions.
#[derive(Debug, Clone)]
struct Grant {
    repository: String,
    actions: Vec<String>,
}

#[derive(Debug, Clone)]
struct User {
    password: String,
    grants: Vec<Grant>,
}

/// A request the token server answered (or refused), for assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// The Basic-auth user, `None` for anonymous requests.
    pub account: Option<String>,
    /// The `service` query parameter.
    pub service: Option<String>,
    /// The requested scopes, as sent (`repository:foo:pull,push`).
    pub scopes: Vec<String>,
    /// The HTTP status answered (200, or 401 for bad credentials).
    pub status: u16,
}

/// Builds a [`TokenServer`]: users, their grants, what anonymous callers get, token lifetime.
#[derive(Debug, Default)]
pub struct TokenServerBuilder {
    users: BTreeMap<String, User>,
    anonymous: Vec<Grant>,
    expires_in: Option<u64>,
}

struct Policy {
    users: BTreeMap<String, User>,
    anonymous: Vec<Grant>,
    expires_in: u64,
    realm: String,
    key: SigningKey,
    x5c: Vec<String>,
}

struct State {
    policy: Policy,
    requests: Mutex<Vec<TokenRequest>>,
    issued: AtomicU64,
}

/// A running token server on 127.0.0.1; stopped on drop.
pub struct TokenServer {
    server: BackgroundServer,
    state: Arc<State>,
    ca: Ca,
}

impl std::fmt::Debug for TokenServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenServer")
            .field("addr", &self.server.addr())
            .field("requests", &self.request_count())
            .finish()
    }
}

fn grants(list: &[(&str, &str)]) -> Vec<Grant> {
    list.iter()
        .map(|(repository, actions)| Grant {
            repository: repository.to_string(),
            actions: actions.split(',').map(|a| a.trim().to_string()).collect(),
        })
        .collect()
}

impl TokenServerBuilder {
    /// Adds a user; `grants` are `(repository pattern, "pull,push")` pairs, e.g.
    /// `&[("*", "pull,push")]`, `&[("team/*", "pull")]`; action `*` allows every action.
    pub fn user(mut self, name: &str, password: &str, grants_list: &[(&str, &str)]) -> Self {
        let user = User {
            password: password.to_string(),
            grants: grants(grants_list),
        };
        self.users.insert(name.to_string(), user);
        self
    }

    /// What anonymous requests are granted (default: nothing; they still get a token).
    pub fn anonymous(mut self, grants_list: &[(&str, &str)]) -> Self {
        self.anonymous = grants(grants_list);
        self
    }

    /// Sets `expires_in` (and `exp - iat`) in seconds; default 300. The registry allows 60 s
    /// of clock leeway past `exp`.
    pub fn expires_in(mut self, seconds: u64) -> Self {
        self.expires_in = Some(seconds);
        self
    }

    /// Starts the server.
    pub fn start(self) -> TokenServer {
        let ca = Ca::new("Hoist test token CA");
        let signer = ca.issue_signing_cert("token-signer");
        let key_pem = std::fs::read_to_string(&signer.key).expect("read signing key");
        let key = SigningKey::from_pkcs8_pem(&key_pem).expect("parse signing key");
        let x5c = vec![signer.cert_der_base64()];
        // The realm needs the port, known only once bound: fill it in after start.
        let state_slot: Arc<Mutex<Option<Arc<State>>>> = Arc::new(Mutex::new(None));
        let slot = state_slot.clone();
        let handler: super::server::Handler = Arc::new(move |req| {
            let state = slot.lock().expect("lock").clone().expect("token state set");
            Box::pin(async move { Ok::<_, ServerError>(handle(&state, &req)) })
        });
        let server = BackgroundServer::start("hoist-token-server", handler);
        let policy = Policy {
            users: self.users,
            anonymous: self.anonymous,
            expires_in: self.expires_in.unwrap_or(300),
            realm: format!("http://{}/token", server.addr()),
            key,
            x5c,
        };
        let state = Arc::new(State {
            policy,
            requests: Mutex::new(Vec::new()),
            issued: AtomicU64::new(0),
        });
        *state_slot.lock().expect("lock") = Some(state.clone());
        TokenServer { server, state, ca }
    }
}

impl TokenServer {
    /// A builder with no users and nothing granted to anonymous callers.
    pub fn builder() -> TokenServerBuilder {
        TokenServerBuilder::default()
    }

    /// The realm URL the registry advertises: `http://127.0.0.1:PORT/token`.
    pub fn realm(&self) -> &str {
        &self.state.policy.realm
    }

    /// The service name (`aud`) the registry is configured with.
    pub fn service(&self) -> &str {
        SERVICE
    }

    /// The issuer (`iss`) the registry is configured with.
    pub fn issuer(&self) -> &str {
        ISSUER
    }

    /// The CA bundle the registry's `rootcertbundle` points at.
    pub fn rootcertbundle(&self) -> &Path {
        self.ca.cert_path()
    }

    /// How many `/token` requests were received (answered or refused).
    pub fn request_count(&self) -> usize {
        self.state.requests.lock().expect("lock").len()
    }

    /// Every `/token` request so far, in order.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.state.requests.lock().expect("lock").clone()
    }

    /// Mints a token directly (no HTTP, not counted) for `account` (`None`: anonymous) and
    /// the given scopes, granted by the same policy as the HTTP endpoint.
    pub fn mint(&self, account: Option<&str>, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let grants = match account {
            Some(name) => {
                &self
                    .state
                    .policy
                    .users
                    .get(name)
                    .expect("unknown user")
                    .grants
            }
            None => &self.state.policy.anonymous,
        };
        sign_token(&self.state, account, &granted_access(grants, &scopes)).0
    }
}

fn handle(state: &State, req: &Request<hyper::body::Incoming>) -> Response<Body> {
    if req.uri().path() != "/token" {
        return json_response(StatusCode::NOT_FOUND, json!({"error": "not found"}));
    }
    let query = parse_query(req.uri().query().unwrap_or(""));
    let service = query
        .iter()
        .find(|(k, _)| k == "service")
        .map(|(_, v)| v.clone());
    let scopes: Vec<String> = query
        .iter()
        .filter(|(k, _)| k == "scope")
        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let credentials = basic_credentials(req);
    let policy = &state.policy;
    let grants = match &credentials {
        None => Some(&policy.anonymous),
        Some((name, password)) => policy
            .users
            .get(name)
            .filter(|u| &u.password == password)
            .map(|u| &u.grants),
    };
    let account = credentials.map(|(name, _)| name);
    let status = if grants.is_some() { 200 } else { 401 };
    state.requests.lock().expect("lock").push(TokenRequest {
        account: account.clone(),
        service,
        scopes: scopes.clone(),
        status,
    });
    let Some(grants) = grants else {
        return json_response(
            StatusCode::UNAUTHORIZED,
            json!({"details": "incorrect username or password"}),
        );
    };
    let (token, issued_at) =
        sign_token(state, account.as_deref(), &granted_access(grants, &scopes));
    json_response(
        StatusCode::OK,
        json!({
            "token": token,
            "access_token": token,
            "expires_in": policy.expires_in,
            "issued_at": rfc3339(issued_at),
        }),
    )
}

/// The `access` claim: for each requested repository scope, the requested actions the grants allow.
fn granted_access(grants: &[Grant], scopes: &[String]) -> Vec<serde_json::Value> {
    let mut access = Vec::new();
    for scope in scopes {
        let (Some((kind, rest)), Some((_, actions))) =
            (scope.split_once(':'), scope.rsplit_once(':'))
        else {
            continue;
        };
        let Some((name, _)) = rest.rsplit_once(':') else {
            continue;
        };
        if kind != "repository" {
            continue;
        }
        let allowed: Vec<&str> = actions
            .split(',')
            .filter(|action| {
                grants.iter().any(|g| {
                    repository_matches(&g.repository, name)
                        && g.actions.iter().any(|a| a == "*" || a == action)
                })
            })
            .collect();
        if !allowed.is_empty() {
            access.push(json!({"type": kind, "name": name, "actions": allowed}));
        }
    }
    access
}

fn repository_matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

/// Signs an ES256 JWT; returns it and its `iat`.
fn sign_token(state: &State, account: Option<&str>, access: &[serde_json::Value]) -> (String, u64) {
    let policy = &state.policy;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let jti = state.issued.fetch_add(1, Ordering::SeqCst);
    let header = json!({"typ": "JWT", "alg": "ES256", "x5c": policy.x5c});
    let claims = json!({
        "iss": ISSUER,
        "sub": account.unwrap_or(""),
        "aud": SERVICE,
        "exp": now + policy.expires_in,
        "nbf": now,
        "iat": now,
        "jti": format!("hoist-test-{now}-{jti}"),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    // JWS ES256: the signature is r || s, 64 bytes.
    let signature: Signature = policy.key.sign(signing_input.as_bytes());
    let token = format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    );
    (token, now)
}

fn basic_credentials(req: &Request<hyper::body::Incoming>) -> Option<(String, String)> {
    let value = req
        .headers()
        .get(hyper::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn json_response(status: StatusCode, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body.to_string()))
        .expect("response")
}

/// Splits a query string into decoded `(key, value)` pairs (`%XX` and `+`).
fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Formats seconds since the epoch as RFC 3339 UTC (`2024-01-02T03:04:05Z`).
fn rfc3339(secs: u64) -> String {
    let days = secs / 86_400;
    let rem = secs % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

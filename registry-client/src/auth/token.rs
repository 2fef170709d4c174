//! Bearer tokens: scopes, the token endpoint's answer, and a cache per scope set.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// A token scope: `repository:<name>:<actions>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    /// The repository path (`library/ubuntu`).
    pub repository: String,
    /// Whether push access is needed (push implies pull).
    pub push: bool,
}

impl Scope {
    /// Pull access to `repository`.
    pub fn pull(repository: &str) -> Self {
        Self {
            repository: repository.to_owned(),
            push: false,
        }
    }

    /// Pull and push access to `repository`.
    pub fn push(repository: &str) -> Self {
        Self {
            repository: repository.to_owned(),
            push: true,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions = if self.push { "pull,push" } else { "pull" };
        write!(f, "repository:{}:{actions}", self.repository)
    }
}

/// A bearer token and when it stops being usable.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) value: String,
    pub(crate) expires_at: Instant,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// The token endpoint's JSON answer (Docker's `token` or OAuth2's `access_token`).
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// Tokens live at least this long when the server says nothing (the distribution spec's
/// default is 60 seconds).
const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(60);
/// A server's `expires_in` is capped at this, so no answer can overflow a deadline.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// Renew this long before expiry, so a token does not run out mid-request.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

impl TokenResponse {
    /// The token, valid from `now`; `None` when the answer holds no token.
    pub(crate) fn into_token(self, now: Instant) -> Option<Token> {
        let value = self.token.or(self.access_token).filter(|t| !t.is_empty())?;
        let lifetime = self
            .expires_in
            .map(Duration::from_secs)
            .filter(|d| *d >= DEFAULT_TOKEN_LIFETIME)
            .unwrap_or(DEFAULT_TOKEN_LIFETIME)
            .min(MAX_TOKEN_LIFETIME);
        Some(Token {
            value,
            expires_at: now + lifetime.saturating_sub(EXPIRY_MARGIN),
        })
    }
}

/// Tokens by registry and scope set.
#[derive(Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, Token>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.tokens.lock().map(|t| t.len()).unwrap_or(0);
        f.debug_struct("TokenCache").field("tokens", &n).finish()
    }
}

impl TokenCache {
    /// The cache key: registry plus the sorted scopes.
    pub(crate) fn key(registry: &str, scopes: &[Scope]) -> String {
        let mut s: Vec<String> = scopes.iter().map(ToString::to_string).collect();
        s.sort();
        s.dedup();
        format!("{registry} {}", s.join(" "))
    }

    /// A cached token that is still valid at `now`.
    pub(crate) fn get(&self, key: &str, now: Instant) -> Option<String> {
        let tokens = self.tokens.lock().ok()?;
        tokens
            .get(key)
            .filter(|t| t.expires_at > now)
            .map(|t| t.value.clone())
    }

    /// Stores a token.
    pub(crate) fn put(&self, key: String, token: Token) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.insert(key, token);
        }
    }

    /// Forgets a token the registry rejected.
    pub(crate) fn remove(&self, key: &str) {
        if let Ok(mut tokens) = self.tokens.lock() {
            tokens.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_keys() {
        assert_eq!(Scope::pull("a/b").to_string(), "repository:a/b:pull");
        assert_eq!(Scope::push("c").to_string(), "repository:c:pull,push");
        let k1 = TokenCache::key("r", &[Scope::push("c"), Scope::pull("a")]);
        let k2 = TokenCache::key("r", &[Scope::pull("a"), Scope::push("c")]);
        assert_eq!(k1, k2);
    }

    #[test]
    fn tokens_expire() {
        let now = Instant::now();
        let resp: TokenResponse =
            serde_json::from_str(r#"{"access_token":"t","expires_in":300}"#).unwrap();
        let token = resp.into_token(now).unwrap();
        let cache = TokenCache::default();
        cache.put("k".into(), token);
        assert_eq!(cache.get("k", now).as_deref(), Some("t"));
        assert_eq!(cache.get("k", now + Duration::from_secs(300)), None);
        assert_eq!(format!("{cache:?}"), "TokenCache { tokens: 1 }");
        let resp: TokenResponse = serde_json::from_str(r#"{"token":"x"}"#).unwrap();
        let t = resp.into_token(now).unwrap();
        assert!(format!("{t:?}").contains("<redacted>"));
        assert_eq!(t.expires_at, now + Duration::from_secs(50));
        let huge: TokenResponse =
            serde_json::from_str(r#"{"token":"x","expires_in":18446744073709551615}"#).unwrap();
        assert!(
            huge.into_token(now).is_some(),
            "no overflow on absurd lifetimes"
        );
        let none: TokenResponse = serde_json::from_str("{}").unwrap();
        assert!(none.into_token(now).is_none());
    }
}

//! The crate's one error type: what went wrong, where, and what to do about it.
//!
//! Design note: registry failures keep everything a user or a retry loop needs (the registry
//! name, the HTTP status, the server's error codes, Docker Hub's rate-limit header) in one
//! [`Error`], and [`Error::hint`] turns them into a sentence. Secrets never reach this type: no
//! header values are copied in except the rate-limit count.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use crate::digest::{Digest, DigestError};
use crate::reference::ReferenceError;

/// A boxed underlying cause.
type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from the registry client.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    registry: Option<String>,
    http: Option<Box<HttpFailure>>,
    source: Option<Source>,
}

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An image reference could not be parsed.
    InvalidReference(ReferenceError),
    /// A digest string could not be parsed.
    InvalidDigest(DigestError),
    /// The registry wants credentials, or rejected the ones given (401 after a token refresh).
    Unauthorized,
    /// The registry refused access (403).
    Denied,
    /// The manifest, blob, repository or upload does not exist (404).
    NotFound,
    /// The registry kept answering 429 until the retry budget ran out.
    TooManyRequests,
    /// Any other unsuccessful HTTP status.
    UnexpectedStatus,
    /// The registry broke the distribution protocol (missing header, bad JSON, bad range).
    Protocol(&'static str),
    /// Content did not hash to the digest it was fetched or pushed by.
    DigestMismatch {
        /// The digest asked for.
        expected: Digest,
        /// The digest of the bytes received.
        actual: Digest,
    },
    /// Content did not have the announced size.
    SizeMismatch {
        /// The announced size in bytes.
        expected: u64,
        /// The bytes received.
        actual: u64,
    },
    /// A manifest or index could not be parsed, or has an unknown media type.
    InvalidManifest,
    /// A manifest is larger than the client accepts.
    ManifestTooLarge,
    /// No manifest of an index matches the requested platform.
    NoMatchingPlatform(String),
    /// A connection could not be made or broke (after all retries).
    Connection,
    /// A TLS setting (CA file, client certificate or key) is unusable.
    TlsConfig(PathBuf),
    /// Credentials could not be read (config file, credential helper).
    Credentials,
    /// Local file input or output failed.
    Io,
    /// A client option is invalid (URL, header value, proxy).
    InvalidOption(&'static str),
}

/// The HTTP side of a failed request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HttpFailure {
    /// The HTTP status code.
    pub status: u16,
    /// The request method.
    pub method: String,
    /// The error entries of the registry's JSON body (`{"errors": [...]}`).
    pub codes: Vec<RegistryErrorCode>,
    /// Docker Hub's `RateLimit-Remaining` header (for example `"0;w=21600"`), when sent.
    pub rate_limit_remaining: Option<String>,
    /// The `Retry-After` delay the server asked for, when sent.
    pub retry_after: Option<Duration>,
}

/// One entry of a registry's error body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct RegistryErrorCode {
    /// The code, such as `UNAUTHORIZED`, `DENIED`, `NAME_UNKNOWN`, `MANIFEST_INVALID`.
    #[serde(default)]
    pub code: String,
    /// The server's message.
    #[serde(default)]
    pub message: String,
}

impl Error {
    /// A new error of `kind` with no further context.
    pub fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            registry: None,
            http: None,
            source: None,
        }
    }

    /// Attaches the registry the error concerns.
    pub fn with_registry(mut self, registry: impl Into<String>) -> Self {
        self.registry = Some(registry.into());
        self
    }

    /// Attaches the HTTP details of the failed request.
    pub fn with_http(mut self, http: HttpFailure) -> Self {
        self.http = Some(Box::new(http));
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// The registry the error concerns, when known.
    pub fn registry(&self) -> Option<&str> {
        self.registry.as_deref()
    }

    /// The HTTP details, when the error came from a registry response.
    pub fn http(&self) -> Option<&HttpFailure> {
        self.http.as_deref()
    }

    /// The HTTP status, when the error came from a registry response.
    pub fn status(&self) -> Option<u16> {
        self.http.as_ref().map(|h| h.status)
    }

    /// The registry's error codes (`NAME_UNKNOWN`, ...), possibly empty.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.http
            .iter()
            .flat_map(|h| h.codes.iter().map(|c| c.code.as_str()))
    }

    /// Whether the registry reported `code` for this failure.
    pub fn has_code(&self, code: &str) -> bool {
        self.codes().any(|c| c == code)
    }

    /// A sentence on what the user can do about this error.
    pub fn hint(&self) -> String {
        let registry = self.registry.as_deref().unwrap_or("the registry");
        match &self.kind {
            ErrorKind::Unauthorized => {
                format!("authentication required for {registry}: run `hoist login {registry}`")
            }
            ErrorKind::Denied => format!(
                "access denied by {registry}: check the repository name and that your account \
                 may use it (`hoist login {registry}`)"
            ),
            ErrorKind::NotFound => {
                format!("not found on {registry}: check the repository name, tag or digest")
            }
            ErrorKind::TooManyRequests => {
                let left = self
                    .http
                    .as_ref()
                    .and_then(|h| h.rate_limit_remaining.as_deref())
                    .map(|r| format!(" (RateLimit-Remaining: {r})"))
                    .unwrap_or_default();
                format!(
                    "{registry} rate-limits requests{left}: wait and retry, or log in with \
                     `hoist login {registry}` for a higher limit"
                )
            }
            ErrorKind::Connection => format!(
                "could not talk to {registry}: check the name, the network, and whether it \
                 serves plain HTTP (mark it insecure) or needs a CA in certs.d/{registry}/ca.crt"
            ),
            ErrorKind::TlsConfig(path) => {
                format!("check the PEM file {}", path.display())
            }
            ErrorKind::DigestMismatch { .. } | ErrorKind::SizeMismatch { .. } => {
                format!("the content from {registry} is corrupt or was changed: retry the pull")
            }
            ErrorKind::Credentials => {
                "check your docker config.json / auth.json and credential helpers".to_owned()
            }
            ErrorKind::NoMatchingPlatform(_) => {
                "choose one of the platforms the image index lists".to_owned()
            }
            ErrorKind::InvalidReference(_) | ErrorKind::InvalidDigest(_) => {
                "use the form [registry[:port]/]repository[:tag][@sha256:hex]".to_owned()
            }
            _ => format!("retry later, or report this {registry} response"),
        }
    }

    fn summary(&self) -> String {
        match &self.kind {
            ErrorKind::InvalidReference(e) => format!("invalid image reference: {e}"),
            ErrorKind::InvalidDigest(e) => format!("invalid digest: {e}"),
            ErrorKind::Unauthorized => "unauthorized".to_owned(),
            ErrorKind::Denied => "access denied".to_owned(),
            ErrorKind::NotFound => "not found".to_owned(),
            ErrorKind::TooManyRequests => "too many requests".to_owned(),
            ErrorKind::UnexpectedStatus => "unexpected response".to_owned(),
            ErrorKind::Protocol(what) => format!("registry protocol violation: {what}"),
            ErrorKind::DigestMismatch { expected, actual } => {
                format!("digest mismatch: expected {expected}, got {actual}")
            }
            ErrorKind::SizeMismatch { expected, actual } => {
                format!("size mismatch: expected {expected} bytes, got {actual}")
            }
            ErrorKind::InvalidManifest => "invalid manifest".to_owned(),
            ErrorKind::ManifestTooLarge => "manifest too large".to_owned(),
            ErrorKind::NoMatchingPlatform(p) => format!("no manifest for platform {p}"),
            ErrorKind::Connection => "connection failed".to_owned(),
            ErrorKind::TlsConfig(_) => "unusable TLS configuration".to_owned(),
            ErrorKind::Credentials => "could not read credentials".to_owned(),
            ErrorKind::Io => "file input/output failed".to_owned(),
            ErrorKind::InvalidOption(what) => format!("invalid client option: {what}"),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())?;
        if let Some(registry) = &self.registry {
            write!(f, " ({registry})")?;
        }
        if let Some(http) = &self.http {
            write!(f, ": {} answered HTTP {}", http.method, http.status)?;
            for c in &http.codes {
                write!(f, " {}", c.code)?;
                if !c.message.is_empty() {
                    write!(f, " \"{}\"", c.message)?;
                }
            }
        }
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        let hint = self.hint();
        if !matches!(self.kind, ErrorKind::Io | ErrorKind::InvalidOption(_)) {
            write!(f, "; {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|s| s.as_ref() as &(dyn std::error::Error + 'static))
    }
}

impl From<ReferenceError> for Error {
    fn from(e: ReferenceError) -> Self {
        Error::new(ErrorKind::InvalidReference(e))
    }
}

impl From<DigestError> for Error {
    fn from(e: DigestError) -> Self {
        Error::new(ErrorKind::InvalidDigest(e))
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(ErrorKind::Io).with_source(e)
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unauthorized_says_what_to_do() {
        let e = Error::new(ErrorKind::Unauthorized)
            .with_registry("docker.io")
            .with_http(HttpFailure {
                status: 401,
                method: "GET".into(),
                ..Default::default()
            });
        let text = e.to_string();
        assert!(text.contains("run `hoist login docker.io`"), "{text}");
        assert!(text.contains("HTTP 401"), "{text}");
    }

    #[test]
    fn rate_limit_is_surfaced() {
        let e = Error::new(ErrorKind::TooManyRequests)
            .with_registry("docker.io")
            .with_http(HttpFailure {
                status: 429,
                method: "GET".into(),
                codes: vec![RegistryErrorCode {
                    code: "TOOMANYREQUESTS".into(),
                    message: "slow down".into(),
                }],
                rate_limit_remaining: Some("0;w=21600".into()),
                retry_after: None,
            });
        assert!(e.has_code("TOOMANYREQUESTS"));
        assert!(
            e.to_string().contains("RateLimit-Remaining: 0;w=21600"),
            "{e}"
        );
    }
}

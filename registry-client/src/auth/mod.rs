//! Authentication: credentials, where they come from, challenges and bearer tokens.
//!
//! Design note: every type here that holds a secret implements `Debug` by hand and prints
//! `<redacted>` in its place, so a `{:?}` in a log line or a panic message cannot leak it.

mod challenge;
mod helper;
mod keychain;
mod token;

use std::fmt;

pub use challenge::{Challenge, parse_challenges};
pub use helper::CredentialHelper;
pub use keychain::{DockerKeychain, KeychainEnv, StaticKeychain};
pub use token::Scope;
pub(crate) use token::{Token, TokenCache, TokenResponse};

/// A secret for a registry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// A user name and password (or personal access token), sent as Basic auth or traded for a
    /// bearer token.
    Basic {
        /// The user name.
        username: String,
        /// The password or access token.
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken` in config.json), traded for bearer tokens.
    IdentityToken(String),
    /// A bearer token used as is (`registrytoken` in config.json).
    RegistryToken(String),
}

impl Credential {
    /// A user name and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Basic {
            username: username.into(),
            password: password.into(),
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
            Self::RegistryToken(_) => f.write_str("RegistryToken(<redacted>)"),
        }
    }
}

/// Where credentials for a registry come from.
///
/// `registry` is the registry as written in references (`docker.io`, `localhost:5000`).
/// Implementations may block (credential helpers are programs); the client calls them on a
/// blocking thread.
pub trait Keychain: Send + Sync + fmt::Debug {
    /// The credential for `registry`, or `None` to go anonymous.
    fn credential(&self, registry: &str) -> crate::Result<Option<Credential>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let all = [
            Credential::basic("alice", "hunter2"),
            Credential::IdentityToken("refresh-secret".into()),
            Credential::RegistryToken("bearer-secret".into()),
        ];
        let text = format!("{all:?}");
        assert!(text.contains("alice"));
        for secret in ["hunter2", "refresh-secret", "bearer-secret"] {
            assert!(!text.contains(secret), "{text}");
        }
    }
}

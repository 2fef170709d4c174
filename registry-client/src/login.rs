//! [`Client::check_login`]: what `docker login` asks a registry before it saves credentials.

use reqwest::Method;

use crate::client::Client;
use crate::error::{Error, ErrorKind, Result};
use crate::reference::Reference;
use crate::request::{Call, status_error};

impl Client {
    /// Checks that the registry accepts this client's credential for `registry` (as written
    /// in references: `docker.io`, `localhost:5000`): `GET /v2/`, answering a Basic challenge
    /// or trading the credential for a token without a repository scope, as `docker login`
    /// does. `Ok` when the registry answers 200; [`ErrorKind::Unauthorized`] when it rejects
    /// the credential.
    pub async fn check_login(&self, registry: &str) -> Result<()> {
        let probe = Reference::with_repository(registry, "library/hoist-login")
            .map_err(|e| Error::new(ErrorKind::InvalidReference(e)).with_registry(registry))?;
        let url = self.inner.url(&probe, "")?;
        let call = Call::new(probe.registry(), Vec::new(), Method::GET, url);
        let resp = self.inner.execute(&call).await?;
        if resp.status().is_success() {
            return Ok(());
        }
        Err(status_error(&call, resp).await)
    }
}

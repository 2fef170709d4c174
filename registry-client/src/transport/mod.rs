//! HTTP clients per registry host: HTTPS (rustls, ring) by default, plain HTTP for loopback and
//! insecure registries, custom CAs and client certificates from a certs directory or options.
//!
//! Design note: redirects are turned off in every HTTP client; the blob download follows them
//! itself so that it decides, per hop, whether the registry's `Authorization` may be sent (only
//! to the registry's own origin).

mod retry;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use retry::{RetryPolicy, parse_retry_after};

use crate::error::{Error, ErrorKind, Result};

/// How to talk to a registry host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// HTTPS with certificate verification.
    Https,
    /// Plain HTTP.
    Http,
}

/// A PEM client certificate chain and its key.
#[derive(Clone)]
pub(crate) struct ClientIdentity {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    origin: PathBuf,
}

impl std::fmt::Debug for ClientIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientIdentity")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// Transport settings collected by the client builder.
#[derive(Debug, Clone)]
pub(crate) struct TransportConfig {
    pub(crate) insecure: Vec<String>,
    pub(crate) schemes: HashMap<String, Scheme>,
    pub(crate) certs_dirs: Vec<PathBuf>,
    pub(crate) extra_ca_pem: Vec<(Vec<u8>, PathBuf)>,
    pub(crate) host_ca_pem: HashMap<String, Vec<(Vec<u8>, PathBuf)>>,
    pub(crate) host_identity: HashMap<String, ClientIdentity>,
    pub(crate) use_system_roots: bool,
    pub(crate) resolve: Vec<(String, SocketAddr)>,
    pub(crate) proxy: Option<String>,
    pub(crate) user_agent: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) read_timeout: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        Self {
            insecure: Vec::new(),
            schemes: HashMap::new(),
            certs_dirs: vec![
                "/etc/docker/certs.d".into(),
                "/etc/containers/certs.d".into(),
            ],
            extra_ca_pem: Vec::new(),
            host_ca_pem: HashMap::new(),
            host_identity: HashMap::new(),
            use_system_roots: true,
            resolve: Vec::new(),
            proxy: None,
            user_agent: concat!("hoist-registry-client/", env!("CARGO_PKG_VERSION")).to_owned(),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
        }
    }
}

impl TransportConfig {
    pub(crate) fn add_identity(
        &mut self,
        host: &str,
        cert_pem: Vec<u8>,
        key_pem: Vec<u8>,
        origin: PathBuf,
    ) {
        self.host_identity.insert(
            host.to_owned(),
            ClientIdentity {
                cert_pem,
                key_pem,
                origin,
            },
        );
    }
}

/// Whether `host` (with optional port) is `localhost`, in 127.0.0.0/8 or `::1`.
pub fn is_loopback(host: &str) -> bool {
    let bare = strip_port(host);
    let bare = bare.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    }
}

/// The TLS material found for one host in the certs directories.
#[derive(Default)]
struct HostCerts {
    cas: Vec<(Vec<u8>, PathBuf)>,
    identity: Option<ClientIdentity>,
}

/// Reads `<dir>/<host>/`: every `*.crt` is a CA, a `*.cert` with its `*.key` is the client
/// identity (Docker's layout).
fn read_certs_dir(dir: &Path) -> Result<HostCerts> {
    let mut found = HostCerts::default();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(found);
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let read = |p: &Path| std::fs::read(p).map_err(|e| tls_error(p, e));
    for p in &paths {
        match p.extension().and_then(|e| e.to_str()) {
            Some("crt") => found.cas.push((read(p)?, p.clone())),
            Some("cert") if found.identity.is_none() => {
                let key = p.with_extension("key");
                if !key.is_file() {
                    return Err(tls_error(p, std::io::Error::other("no matching .key file")));
                }
                found.identity = Some(ClientIdentity {
                    cert_pem: read(p)?,
                    key_pem: read(&key)?,
                    origin: p.clone(),
                });
            }
            _ => {}
        }
    }
    Ok(found)
}

fn tls_error(path: &Path, e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(ErrorKind::TlsConfig(path.to_owned())).with_source(e)
}

/// HTTP clients, one per registry host, built on first use.
#[derive(Debug)]
pub(crate) struct Transport {
    config: TransportConfig,
    clients: Mutex<HashMap<String, (Scheme, reqwest::Client)>>,
    system_roots: OnceLock<Vec<CertificateDer<'static>>>,
}

impl Transport {
    pub(crate) fn new(config: TransportConfig) -> Self {
        Self {
            config,
            clients: Mutex::new(HashMap::new()),
            system_roots: OnceLock::new(),
        }
    }

    /// The scheme and HTTP client for `host` (`registry-1.docker.io`, `localhost:5000`).
    pub(crate) fn client_for(&self, host: &str) -> Result<(Scheme, reqwest::Client)> {
        if let Some(found) = self.clients.lock().ok().and_then(|c| c.get(host).cloned()) {
            return Ok(found);
        }
        let mut certs = HostCerts::default();
        for dir in &self.config.certs_dirs {
            let more = read_certs_dir(&dir.join(host))?;
            certs.cas.extend(more.cas);
            certs.identity = certs.identity.or(more.identity);
        }
        let has_certs_dir = !certs.cas.is_empty() || certs.identity.is_some();
        certs.cas.extend(self.config.extra_ca_pem.iter().cloned());
        certs.cas.extend(
            self.config
                .host_ca_pem
                .get(host)
                .into_iter()
                .flatten()
                .cloned(),
        );
        if let Some(id) = self.config.host_identity.get(host) {
            certs.identity = Some(id.clone());
        }
        let scheme = self.scheme_for(host, has_certs_dir);
        let client = self.build_client(&certs)?;
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(host.to_owned(), (scheme, client.clone()));
        }
        Ok((scheme, client))
    }

    /// An explicit scheme wins; a certs directory means TLS; insecure and loopback hosts get
    /// plain HTTP; everything else HTTPS.
    fn scheme_for(&self, host: &str, has_certs_dir: bool) -> Scheme {
        if let Some(s) = self.config.schemes.get(host) {
            return *s;
        }
        if has_certs_dir {
            return Scheme::Https;
        }
        let insecure = self
            .config
            .insecure
            .iter()
            .any(|h| h == host || h == strip_port(host));
        if insecure || is_loopback(host) {
            Scheme::Http
        } else {
            Scheme::Https
        }
    }

    fn roots(&self) -> &[CertificateDer<'static>] {
        self.system_roots.get_or_init(|| {
            if self.config.use_system_roots {
                rustls_native_certs::load_native_certs().certs
            } else {
                Vec::new()
            }
        })
    }

    fn tls_config(&self, certs: &HostCerts) -> Result<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(self.roots().iter().cloned());
        for (pem, origin) in &certs.cas {
            let mut any = false;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| tls_error(origin, e))?;
                roots.add(cert).map_err(|e| tls_error(origin, e))?;
                any = true;
            }
            if !any {
                return Err(tls_error(
                    origin,
                    std::io::Error::other("no PEM certificate"),
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| {
                Error::new(ErrorKind::InvalidOption("TLS protocol versions")).with_source(e)
            })?
            .with_root_certificates(roots);
        let mut config = match &certs.identity {
            None => builder.with_no_client_auth(),
            Some(id) => {
                let chain = CertificateDer::pem_slice_iter(&id.cert_pem)
                    .collect::<std::result::Result<Vec<_>, _>>()
                    .map_err(|e| tls_error(&id.origin, e))?;
                let key = PrivateKeyDer::from_pem_slice(&id.key_pem)
                    .map_err(|e| tls_error(&id.origin.with_extension("key"), e))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| tls_error(&id.origin, e))?
            }
        };
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }

    fn build_client(&self, certs: &HostCerts) -> Result<reqwest::Client> {
        let c = &self.config;
        let mut b = reqwest::Client::builder()
            .tls_backend_preconfigured(self.tls_config(certs)?)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(c.user_agent.clone())
            .connect_timeout(c.connect_timeout)
            .read_timeout(c.read_timeout)
            .pool_max_idle_per_host(16);
        for (name, addr) in &c.resolve {
            b = b.resolve(name, *addr);
        }
        if let Some(proxy) = &c.proxy {
            let p = reqwest::Proxy::all(proxy)
                .map_err(|e| Error::new(ErrorKind::InvalidOption("proxy URL")).with_source(e))?;
            b = b.proxy(p);
        }
        b.build()
            .map_err(|e| Error::new(ErrorKind::InvalidOption("HTTP client")).with_source(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts() {
        for h in [
            "localhost",
            "localhost:5000",
            "127.0.0.1",
            "127.1.2.3:80",
            "[::1]",
            "[::1]:5000",
        ] {
            assert!(is_loopback(h), "{h}");
        }
        for h in ["docker.io", "10.0.0.1:5000", "localhost.example", "[::2]:1"] {
            assert!(!is_loopback(h), "{h}");
        }
    }

    #[test]
    fn scheme_choice() {
        let mut config = TransportConfig {
            certs_dirs: Vec::new(),
            ..Default::default()
        };
        config.insecure.push("10.0.0.1".into());
        config
            .schemes
            .insert("localhost:8443".into(), Scheme::Https);
        let t = Transport::new(config);
        assert_eq!(t.scheme_for("registry-1.docker.io", false), Scheme::Https);
        assert_eq!(t.scheme_for("127.0.0.1:5000", false), Scheme::Http);
        assert_eq!(t.scheme_for("10.0.0.1:5000", false), Scheme::Http);
        assert_eq!(t.scheme_for("localhost:8443", false), Scheme::Https);
        assert_eq!(t.scheme_for("localhost:5000", true), Scheme::Https);
    }

    #[test]
    fn bad_ca_is_a_typed_error() {
        let tmp = tempfile::tempdir().unwrap();
        let host = tmp.path().join("reg.example");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::write(host.join("ca.crt"), "not a certificate").unwrap();
        let config = TransportConfig {
            certs_dirs: vec![tmp.path().to_owned()],
            use_system_roots: false,
            ..Default::default()
        };
        let e = Transport::new(config)
            .client_for("reg.example")
            .unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::TlsConfig(p) if p.ends_with("ca.crt")),
            "{e}"
        );
    }
}

//! The real registry: Debian's `docker-registry` (distribution 2.8), one process per fixture,
//! on a free 127.0.0.1 port with a temp storage dir and a config written here.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::ca::{Ca, CertPair};
use super::token::TokenServer;

const BINARY: &str = "docker-registry";
const STARTUP_TIMEOUT: Duration = Duration::from_secs(20);

/// How the registry authenticates clients.
#[derive(Debug, Default)]
pub enum Auth {
    /// Anonymous pull and push.
    #[default]
    None,
    /// `auth: htpasswd` with these `(user, password)` pairs (bcrypt), Basic challenges.
    Htpasswd(Vec<(String, String)>),
    /// `auth: token` trusting this token server (Bearer challenges, the Docker Hub flow).
    Token(TokenServer),
}

/// Builds a [`Registry`]: `Registry::builder().htpasswd(&[("alice", "pw")]).tls(Ca::new("ca")).start()`.
#[derive(Debug, Default)]
pub struct RegistryBuilder {
    auth: Auth,
    tls: Option<Ca>,
    client_certs: bool,
    redirect: Option<String>,
}

/// What a registry is made of besides its process.
#[derive(Debug)]
struct Layout {
    dir: TempDir,
    auth: Auth,
    tls: Option<(Ca, CertPair)>,
    client_cert: Option<CertPair>,
    redirect: Option<String>,
}

/// A running registry process; killed (only this child) and its temp dir removed on drop.
#[derive(Debug)]
pub struct Registry {
    child: Child,
    port: u16,
    layout: Layout,
}

impl RegistryBuilder {
    /// Sets the authentication mode.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Basic auth from an htpasswd file (bcrypt) with these users.
    pub fn htpasswd(self, users: &[(&str, &str)]) -> Self {
        let users = users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect();
        self.auth(Auth::Htpasswd(users))
    }

    /// Token auth trusting `server` (the registry owns it from now on).
    pub fn token(self, server: TokenServer) -> Self {
        self.auth(Auth::Token(server))
    }

    /// Serves HTTPS with a server certificate for 127.0.0.1/localhost issued by `ca`.
    pub fn tls(mut self, ca: Ca) -> Self {
        self.tls = Some(ca);
        self
    }

    /// Requires TLS client certificates issued by the TLS CA (`http.tls.clientcas`); the
    /// fixture issues one, see [`Registry::client_cert`]. Needs [`RegistryBuilder::tls`].
    pub fn require_client_certs(mut self) -> Self {
        self.client_certs = true;
        self
    }

    /// Redirects blob downloads to `base_url` + the storage path (distribution's `redirect`
    /// storage middleware), as registries backed by a CDN do; serve the storage dir there.
    pub fn redirect_blobs_to(mut self, base_url: &str) -> Self {
        self.redirect = Some(base_url.to_string());
        self
    }

    /// Writes the config, starts the process and waits until `GET /v2/` answers.
    pub fn start(self) -> Registry {
        super::require_tool(BINARY);
        assert!(
            !self.client_certs || self.tls.is_some(),
            "client certificates need TLS"
        );
        let dir = tempfile::Builder::new()
            .prefix("hoist-registry-")
            .tempdir()
            .expect("temp dir");
        let tls = self.tls.map(|ca| {
            let cert = ca.issue_server_cert("registry");
            (ca, cert)
        });
        let client_cert = tls
            .as_ref()
            .filter(|_| self.client_certs)
            .map(|(ca, _)| ca.issue_client_cert("client"));
        if let Auth::Htpasswd(users) = &self.auth {
            write_htpasswd(&dir.path().join("htpasswd"), users);
        }
        let layout = Layout {
            dir,
            auth: self.auth,
            tls,
            client_cert,
            redirect: self.redirect,
        };
        let mut last_log = String::new();
        // A picked port can be taken before the registry binds it: retry with another.
        for _ in 0..5 {
            let port = super::free_port();
            layout.write_config(port);
            let mut child = layout.spawn();
            match layout.wait_ready(&mut child, port) {
                Ok(()) => {
                    return Registry {
                        child,
                        port,
                        layout,
                    };
                }
                Err(log) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    if !log.contains("address already in use") {
                        panic!("registry did not start:\n{log}");
                    }
                    last_log = log;
                }
            }
        }
        panic!("registry did not start (ports busy):\n{last_log}")
    }
}

impl Layout {
    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yml")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    fn write_config(&self, port: u16) {
        let root = self.dir.path();
        let storage = root.join("storage");
        fs::create_dir_all(&storage).expect("create storage dir");
        let mut yaml = format!(
            "version: 0.1\n\
             log:\n  level: warn\n  formatter: text\n\
             storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n\
             \x20 maintenance:\n    uploadpurging:\n      enabled: false\n\
             http:\n  addr: 127.0.0.1:{port}\n  secret: hoist-harness-{port}-{nanos}\n",
            storage = storage.display(),
            nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        if let Some((ca, cert)) = &self.tls {
            let _ = write!(
                yaml,
                "  tls:\n    certificate: {}\n    key: {}\n",
                cert.cert.display(),
                cert.key.display()
            );
            if self.client_cert.is_some() {
                let _ = write!(
                    yaml,
                    "    clientcas:\n      - {}\n",
                    ca.cert_path().display()
                );
            }
        }
        match &self.auth {
            Auth::None => {}
            Auth::Htpasswd(_) => {
                let _ = write!(
                    yaml,
                    "auth:\n  htpasswd:\n    realm: hoist-test\n    path: {}\n",
                    root.join("htpasswd").display()
                );
            }
            Auth::Token(server) => {
                let _ = write!(
                    yaml,
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    server.realm(),
                    server.service(),
                    server.issuer(),
                    server.rootcertbundle().display()
                );
            }
        }
        if let Some(base) = &self.redirect {
            let _ = write!(
                yaml,
                "middleware:\n  storage:\n    - name: redirect\n      options:\n        baseurl: {base}\n"
            );
        }
        fs::write(self.config_path(), yaml).expect("write config.yml");
    }

    fn spawn(&self) -> Child {
        let log = fs::File::create(self.log_path()).expect("create registry.log");
        let log2 = log.try_clone().expect("clone log handle");
        Command::new(BINARY)
            .arg("serve")
            .arg(self.config_path())
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .expect("spawn docker-registry")
    }

    /// Polls `GET /v2/` until it answers 200 or 401; `Err(log)` if the process exits or the
    /// timeout passes.
    fn wait_ready(&self, child: &mut Child, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return Err(format!("exited with {status}\n{}", self.log()));
            }
            let status = match &self.tls {
                None => plain_get_status(port),
                Some((ca, _)) => tls_get_status(port, ca, self.client_cert.as_ref()),
            };
            if matches!(status, Some(200 | 401)) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no answer on /v2/ (last {status:?})\n{}",
                    self.log()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}

impl Registry {
    /// A builder for an anonymous plain-HTTP registry, to be configured.
    pub fn builder() -> RegistryBuilder {
        RegistryBuilder::default()
    }

    /// Starts an anonymous plain-HTTP registry.
    pub fn start() -> Registry {
        Registry::builder().start()
    }

    /// `127.0.0.1:PORT`.
    pub fn host_port(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port the registry listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Whether the registry serves HTTPS.
    pub fn is_tls(&self) -> bool {
        self.layout.tls.is_some()
    }

    /// The CA certificate (PEM) to trust, when serving TLS.
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.layout.tls.as_ref().map(|(ca, _)| ca.cert_path())
    }

    /// The TLS CA, when serving TLS (e.g. to issue more certificates).
    pub fn ca(&self) -> Option<&Ca> {
        self.layout.tls.as_ref().map(|(ca, _)| ca)
    }

    /// The client certificate, when client certificates are required.
    pub fn client_cert(&self) -> Option<&CertPair> {
        self.layout.client_cert.as_ref()
    }

    /// The token server, when the registry uses token auth.
    pub fn token_server(&self) -> Option<&TokenServer> {
        match &self.layout.auth {
            Auth::Token(server) => Some(server),
            _ => None,
        }
    }

    /// `host:port/repository:tag`, a reference for this registry.
    pub fn reference(&self, repository: &str, tag: &str) -> String {
        format!("{}/{repository}:{tag}", self.host_port())
    }

    /// The storage root (`storage.filesystem.rootdirectory`).
    pub fn storage_dir(&self) -> PathBuf {
        self.layout.dir.path().join("storage")
    }

    /// The registry's stdout and stderr so far (warnings, errors, access log).
    pub fn log(&self) -> String {
        self.layout.log()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- registry {} log ---\n{}", self.host_port(), self.log());
        }
    }
}

/// Writes an htpasswd file with bcrypt hashes (`htpasswd -nbB`), the only scheme distribution
/// accepts.
fn write_htpasswd(path: &Path, users: &[(String, String)]) {
    super::require_tool("htpasswd");
    let mut content = String::new();
    for (user, password) in users {
        let out = Command::new("htpasswd")
            .args(["-nbB", user, password])
            .output()
            .expect("run htpasswd");
        assert!(
            out.status.success(),
            "htpasswd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        content.push_str(String::from_utf8_lossy(&out.stdout).trim());
        content.push('\n');
    }
    fs::write(path, content).expect("write htpasswd");
}

/// `GET /v2/` over plain HTTP/1.0; the status code, or `None` if nothing answered.
fn plain_get_status(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        stream,
        "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// `GET /v2/` over HTTPS with curl, trusting `ca`.
fn tls_get_status(port: u16, ca: &Ca, client: Option<&CertPair>) -> Option<u16> {
    // Cheap check first: no TLS handshake until the port is open.
    TcpStream::connect(("127.0.0.1", port)).ok()?;
    let mut curl = Command::new("curl");
    curl.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "2",
        "--cacert",
    ])
    .arg(ca.cert_path());
    if let Some(pair) = client {
        curl.arg("--cert")
            .arg(&pair.cert)
            .arg("--key")
            .arg(&pair.key);
    }
    let out = curl
        .arg(format!("https://127.0.0.1:{port}/v2/"))
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .ok()
        .filter(|code| *code != 0)
}

//! A real registry (distribution's `docker-registry serve`) on a free 127.0.0.1 port, with its
//! storage in a temp dir; the child process is killed when the fixture drops.
//!
//! This is the small local fixture of the client's own tests; the shared harness in
//! `tests/harness/` adds TLS, htpasswd, a token server and a fault proxy.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub mod fault;
pub mod token;

use registry_client::{Client, ClientBuilder, Reference, RetryPolicy};

/// The registry binary; `REGISTRY_BIN` overrides it.
fn registry_bin() -> PathBuf {
    std::env::var_os("REGISTRY_BIN")
        .map_or_else(|| PathBuf::from("/usr/bin/docker-registry"), PathBuf::from)
}

/// A running registry.
pub struct Registry {
    child: Child,
    /// `127.0.0.1:<port>`.
    pub host: String,
    /// Holds the config, storage and log.
    pub dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

fn answers_v2(host: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(host) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(format!("GET /v2/ HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 12];
    // 200, or 401 when the registry wants auth: either way it is serving.
    s.read_exact(&mut buf).is_ok()
        && buf.starts_with(b"HTTP/1.")
        && matches!(&buf[9..12], b"200" | b"401")
}

impl Registry {
    /// Starts a registry with anonymous access and waits until `/v2/` answers.
    pub fn start() -> Self {
        Self::start_with(tempfile::tempdir().expect("temp dir"), "")
    }

    /// Starts a registry that wants Basic auth for `user` / `password` (an htpasswd file
    /// written with `htpasswd -Bbn`).
    pub fn start_htpasswd(user: &str, password: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .expect("run htpasswd");
        assert!(out.status.success(), "htpasswd failed");
        let file = dir.path().join("htpasswd");
        std::fs::write(&file, out.stdout).expect("write htpasswd");
        let auth = format!(
            "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
            file.display()
        );
        Self::start_with(dir, &auth)
    }

    /// Starts a registry that wants bearer tokens from `token` (see [`token::TokenServer`]).
    pub fn start_token_auth(dir: tempfile::TempDir, token: &token::TokenServer) -> Self {
        Self::start_with(dir, &token::registry_auth_config(token))
    }

    /// Starts a registry serving TLS with `tls_yaml` (lines under `http:`, such as
    /// `  tls:\n    certificate: ...`); ready as soon as it accepts connections.
    pub fn start_tls(dir: tempfile::TempDir, tls_yaml: &str) -> Self {
        Self::start_with_http(dir, tls_yaml, "")
    }

    /// Starts a registry with `extra_config` appended to its config.yml (top-level sections
    /// such as `auth:` or `middleware:`); the storage is `<dir>/storage`.
    pub fn start_with(dir: tempfile::TempDir, extra_config: &str) -> Self {
        Self::start_with_http(dir, "", extra_config)
    }

    fn start_with_http(dir: tempfile::TempDir, http_extra: &str, extra_config: &str) -> Self {
        for _ in 0..5 {
            let port = free_port();
            let host = format!("127.0.0.1:{port}");
            let config = dir.path().join("config.yml");
            let yml = config_yml(&dir.path().join("storage"), &host) + http_extra + extra_config;
            std::fs::write(&config, yml).expect("write config");
            let log = std::fs::File::create(dir.path().join("registry.log")).expect("log file");
            let child = Command::new(registry_bin())
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log"))
                .stderr(log)
                .spawn()
                .expect("start docker-registry (install it with scripts/install-deps)");
            let mut child = child;
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                let ready = if http_extra.is_empty() {
                    answers_v2(&host)
                } else {
                    TcpStream::connect(&host).is_ok()
                };
                if ready {
                    return Registry { child, host, dir };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break; // port taken in the meantime: try another
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let kept = dir.keep();
        panic!(
            "docker-registry did not start; see its log in {}",
            kept.display()
        );
    }

    /// `127.0.0.1:<port>/<repository>:<tag>` parsed.
    pub fn reference(&self, repository_and_tag: &str) -> Reference {
        Reference::parse(&format!("{}/{repository_and_tag}", self.host)).expect("valid reference")
    }

    /// The registry's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn config_yml(storage: &Path, addr: &str) -> String {
    format!(
        "version: 0.1\n\
         log:\n  level: info\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: {addr}\n",
        storage.display()
    )
}

/// A hermetic client builder: no keychain from the environment, no certs dirs, quick retries.
pub fn client_builder() -> ClientBuilder {
    Client::builder()
        .default_keychain(false)
        .certs_dirs(Vec::new())
        .retry_policy(RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(50),
            ..RetryPolicy::default()
        })
}

/// Deterministic pseudo-random bytes (xorshift), so blobs do not compress or repeat.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

//! A minimal token server for distribution's `auth: token` mode: JWTs signed (RS256) with a
//! throw-away certificate by the `openssl` CLI. Anonymous callers get pull access; the one user
//! gets what they ask for; wrong passwords get 401. Every request's scopes are recorded.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The running token server.
pub struct TokenServer {
    /// The realm URL for the registry config.
    pub realm: String,
    /// The certificate bundle the registry verifies tokens with.
    pub cert: PathBuf,
    /// The `scope` lists of the requests so far, one string per request (space-joined).
    pub requests: Arc<Mutex<Vec<String>>>,
}

fn openssl(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The registry's `auth:` section for this server.
pub fn registry_auth_config(server: &TokenServer) -> String {
    format!(
        "auth:\n  token:\n    realm: {}\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: {}\n",
        server.realm,
        server.cert.display()
    )
}

impl TokenServer {
    /// Starts the server for `user`/`password`, keeping its key material in `dir`.
    pub fn start(dir: &Path, user: &str, password: &str) -> Self {
        openssl(
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=token-issuer",
            ],
            dir,
        );
        let der = openssl(&["x509", "-in", "cert.pem", "-outform", "DER"], dir);
        let x5c = STANDARD.encode(der);
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind token server");
        let realm = format!("http://{}/token", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (seen, dir_owned) = (requests.clone(), dir.to_owned());
        let expected_auth = format!("Basic {}", STANDARD.encode(format!("{user}:{password}")));
        let user = user.to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut authorization = None;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = h.split_once(':')
                        && k.eq_ignore_ascii_case("authorization")
                    {
                        authorization = Some(v.trim().to_owned());
                    }
                }
                let target = line.split_whitespace().nth(1).unwrap_or("/");
                let url = url::Url::parse(&format!("http://x{target}")).expect("url");
                let scopes: Vec<String> = url
                    .query_pairs()
                    .filter(|(k, _)| k == "scope")
                    .map(|(_, v)| v.into_owned())
                    .collect();
                seen.lock().expect("lock").push(scopes.join(" "));
                let (status, body) = match authorization.as_deref() {
                    Some(a) if a != expected_auth => (
                        "401 Unauthorized",
                        r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_owned(),
                    ),
                    a => {
                        let subject = if a.is_some() { user.as_str() } else { "" };
                        let token = sign(&dir_owned, &x5c, subject, &scopes, a.is_some());
                        (
                            "200 OK",
                            format!(r#"{{"token":"{token}","expires_in":300}}"#),
                        )
                    }
                };
                let mut out = stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Self {
            realm,
            cert: dir.join("cert.pem"),
            requests,
        }
    }
}

fn sign(dir: &Path, x5c: &str, subject: &str, scopes: &[String], authenticated: bool) -> String {
    let access: Vec<serde_json::Value> = scopes
        .iter()
        .filter_map(|s| {
            let mut parts = s.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            let granted: Vec<&str> = actions
                .split(',')
                .filter(|a| authenticated || *a == "pull")
                .collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": granted}))
        })
        .collect();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time")
        .as_secs();
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
    let claims = serde_json::json!({
        "iss": "test-issuer", "sub": subject, "aud": "test-registry",
        "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}-{}", rand_id()),
        "access": access,
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let file = dir.join(format!("input-{}", rand_id()));
    std::fs::write(&file, &input).expect("write signing input");
    let sig = openssl(
        &[
            "dgst",
            "-sha256",
            "-sign",
            "key.pem",
            "-binary",
            file.to_str().expect("utf-8"),
        ],
        dir,
    );
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::SeqCst)
}

//! Real clients for the self-tests and interop tests: `curl` and `skopeo` command builders, and
//! an image push done with curl alone (not with the library under test).

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::process::Command;

use tempfile::TempDir;

use super::image::TestImage;

/// Credentials curl sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum CurlAuth {
    /// None.
    #[default]
    Anonymous,
    /// `-u user:password`.
    Basic(String, String),
    /// `Authorization: Bearer <token>`.
    Bearer(String),
}

/// A curl invocation: `Curl::new("GET", url).auth(&auth).cacert(path).run()`.
#[derive(Debug)]
pub struct Curl {
    method: String,
    url: String,
    args: Vec<OsString>,
    body: Option<Vec<u8>>,
}

/// What curl received; the headers are those of the final response.
#[derive(Debug, Clone)]
pub struct CurlResponse {
    /// The HTTP status.
    pub status: u16,
    /// Header `(name, value)` pairs, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// curl failed (connection refused or dropped, partial body, TLS error...).
#[derive(Debug, Clone)]
pub struct CurlError {
    /// curl's exit code (7 connect, 18 partial file, 52 empty reply, 56 recv failure, 60 TLS).
    pub exit_code: Option<i32>,
    /// curl's stderr.
    pub stderr: String,
    /// The status, if a response head arrived.
    pub status: Option<u16>,
    /// The body bytes received before the failure.
    pub partial_body: Vec<u8>,
}

impl Curl {
    /// A request with `method` to `url`.
    pub fn new(method: &str, url: &str) -> Curl {
        super::require_tool("curl");
        Curl {
            method: method.to_string(),
            url: url.to_string(),
            args: Vec::new(),
            body: None,
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.args.push("-H".into());
        self.args.push(format!("{name}: {value}").into());
        self
    }

    /// Sends credentials.
    pub fn auth(mut self, auth: &CurlAuth) -> Self {
        match auth {
            CurlAuth::Anonymous => self,
            CurlAuth::Basic(user, password) => {
                self.args.push("-u".into());
                self.args.push(format!("{user}:{password}").into());
                self
            }
            CurlAuth::Bearer(token) => self.header("Authorization", &format!("Bearer {token}")),
        }
    }

    /// Trusts this CA certificate (PEM).
    pub fn cacert(mut self, path: &Path) -> Self {
        self.args.push("--cacert".into());
        self.args.push(path.into());
        self
    }

    /// Presents this client certificate.
    pub fn client_cert(mut self, pair: &super::CertPair) -> Self {
        for (flag, path) in [("--cert", &pair.cert), ("--key", &pair.key)] {
            self.args.push(flag.into());
            self.args.push(path.into());
        }
        self
    }

    /// Sends `body` as the request body (`--data-binary`).
    pub fn body(mut self, body: &[u8]) -> Self {
        self.body = Some(body.to_vec());
        self
    }

    /// Runs curl; `Err` when curl itself fails (HTTP error statuses are `Ok`).
    pub fn run(self) -> Result<CurlResponse, CurlError> {
        let dir = TempDir::new().expect("temp dir");
        let (headers_path, body_path) = (dir.path().join("headers"), dir.path().join("body"));
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "30", "-H", "Expect:"]);
        match self.method.as_str() {
            "HEAD" => cmd.arg("--head"),
            method => cmd.args(["-X", method]),
        };
        cmd.arg("-D")
            .arg(&headers_path)
            .arg("-o")
            .arg(&body_path)
            .args(&self.args);
        if let Some(body) = &self.body {
            let request_body = dir.path().join("request-body");
            fs::write(&request_body, body).expect("write request body");
            cmd.arg("--data-binary")
                .arg(format!("@{}", request_body.display()));
        }
        let out = cmd.arg(&self.url).output().expect("run curl");
        let head = fs::read_to_string(&headers_path).unwrap_or_default();
        let (status, headers) = parse_head(&head);
        let body = fs::read(&body_path).unwrap_or_default();
        if !out.status.success() {
            return Err(CurlError {
                exit_code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                status,
                partial_body: body,
            });
        }
        let status = status.expect("curl succeeded without a status line");
        Ok(CurlResponse {
            status,
            headers,
            body,
        })
    }
}

impl CurlResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body parsed as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

/// Parses the last response head of a `curl -D` dump.
fn parse_head(dump: &str) -> (Option<u16>, Vec<(String, String)>) {
    let Some(start) = dump.rfind("HTTP/") else {
        return (None, Vec::new());
    };
    let mut lines = dump[start..].lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok());
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers)
}

/// Pushes `image` to `base_url` (`http(s)://host:port`) as `repository:tag` with curl:
/// for each blob `POST /blobs/uploads/` then one `PUT ?digest=` (a monolithic upload), then
/// `PUT /manifests/<tag>`. `cacert` is trusted for HTTPS.
pub fn push_with_curl(
    base_url: &str,
    repository: &str,
    tag: &str,
    image: &TestImage,
    auth: &CurlAuth,
    cacert: Option<&Path>,
) -> Result<(), String> {
    let request = |method: &str, url: &str| {
        let curl = Curl::new(method, url).auth(auth);
        match cacert {
            Some(ca) => curl.cacert(ca),
            None => curl,
        }
    };
    let expect = |what: &str, result: Result<CurlResponse, CurlError>, want: u16| {
        let response = result.map_err(|e| format!("{what}: curl failed: {e:?}"))?;
        if response.status != want {
            return Err(format!(
                "{what}: status {} (want {want}): {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ));
        }
        Ok(response)
    };
    for blob in image.blobs() {
        let started = expect(
            "start upload",
            request(
                "POST",
                &format!("{base_url}/v2/{repository}/blobs/uploads/"),
            )
            .run(),
            202,
        )?;
        let location = started
            .header("location")
            .ok_or("upload without Location")?;
        let location = if location.starts_with("http") {
            location.to_string()
        } else {
            format!("{base_url}{location}")
        };
        let separator = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{separator}digest={}", blob.digest);
        let put = request("PUT", &url)
            .header("Content-Type", "application/octet-stream")
            .body(&blob.bytes)
            .run();
        expect("finish upload", put, 201)?;
    }
    let put = request(
        "PUT",
        &format!("{base_url}/v2/{repository}/manifests/{tag}"),
    )
    .header("Content-Type", &image.manifest.media_type)
    .body(&image.manifest.bytes)
    .run();
    expect("put manifest", put, 201)?;
    Ok(())
}

/// A skopeo invocation: `Skopeo::inspect("docker://127.0.0.1:5000/a:b").insecure().run()`.
#[derive(Debug)]
pub struct Skopeo {
    copy: bool,
    refs: Vec<String>,
    tls_verify: bool,
    creds: Option<String>,
    cert_dir: Option<OsString>,
}

/// skopeo failed.
#[derive(Debug, Clone)]
pub struct SkopeoError {
    /// skopeo's exit code.
    pub exit_code: Option<i32>,
    /// skopeo's stderr.
    pub stderr: String,
}

impl Skopeo {
    /// `skopeo inspect <image>` (e.g. `docker://127.0.0.1:PORT/repo:tag`).
    pub fn inspect(image: &str) -> Skopeo {
        Skopeo::new(false, vec![image.to_string()])
    }

    /// `skopeo copy <src> <dst>` (e.g. `docker://...` to `oci:DIR:tag`); registry flags apply
    /// to both sides.
    pub fn copy(src: &str, dst: &str) -> Skopeo {
        Skopeo::new(true, vec![src.to_string(), dst.to_string()])
    }

    fn new(copy: bool, refs: Vec<String>) -> Skopeo {
        super::require_tool("skopeo");
        Skopeo {
            copy,
            refs,
            tls_verify: true,
            creds: None,
            cert_dir: None,
        }
    }

    /// `--tls-verify=false`: plain HTTP (or unverified TLS) to the registry.
    pub fn insecure(mut self) -> Self {
        self.tls_verify = false;
        self
    }

    /// `--creds user:password` (skopeo then follows Basic or token challenges).
    pub fn creds(mut self, user: &str, password: &str) -> Self {
        self.creds = Some(format!("{user}:{password}"));
        self
    }

    /// `--cert-dir DIR`: trust the CA there (see `Ca::containers_cert_dir`).
    pub fn cert_dir(mut self, dir: &Path) -> Self {
        self.cert_dir = Some(dir.into());
        self
    }

    /// The full argument list.
    pub fn args(&self) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec!["--insecure-policy".into()];
        let prefixes: &[&str] = if self.copy { &["src-", "dest-"] } else { &[""] };
        args.push(if self.copy { "copy" } else { "inspect" }.into());
        for prefix in prefixes {
            args.push(format!("--{prefix}tls-verify={}", self.tls_verify).into());
            if let Some(creds) = &self.creds {
                args.push(format!("--{prefix}creds").into());
                args.push(creds.into());
            }
            if let Some(dir) = &self.cert_dir {
                args.push(format!("--{prefix}cert-dir").into());
                args.push(dir.clone());
            }
        }
        args.extend(self.refs.iter().map(OsString::from));
        args
    }

    /// Runs skopeo; its stdout on success.
    pub fn run(&self) -> Result<String, SkopeoError> {
        let out = Command::new("skopeo")
            .args(self.args())
            .output()
            .expect("run skopeo");
        if !out.status.success() {
            return Err(SkopeoError {
                exit_code: out.status.code(),
                stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs skopeo and parses its stdout as JSON (for `inspect`).
    pub fn run_json(&self) -> Result<serde_json::Value, SkopeoError> {
        let stdout = self.run()?;
        Ok(serde_json::from_str(&stdout).expect("skopeo printed JSON"))
    }
}

//! A private certificate authority made with the `openssl` CLI, for TLS and token signing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

/// A private CA (EC P-256) whose files live in a temp dir removed on drop.
#[derive(Debug)]
pub struct Ca {
    dir: TempDir,
    cert: PathBuf,
    key: PathBuf,
}

/// A certificate and its private key (PKCS#8 PEM), issued by a [`Ca`]; valid while the CA lives.
#[derive(Debug, Clone)]
pub struct CertPair {
    /// The certificate, PEM.
    pub cert: PathBuf,
    /// The private key, PKCS#8 PEM (`BEGIN PRIVATE KEY`).
    pub key: PathBuf,
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy)]
enum Usage {
    Server,
    Client,
    Signing,
}

impl Ca {
    /// Creates a CA named `name` (its subject CN).
    pub fn new(name: &str) -> Ca {
        super::require_tool("openssl");
        let dir = tempfile::Builder::new()
            .prefix("hoist-ca-")
            .tempdir()
            .expect("temp dir");
        let cert = dir.path().join("ca.pem");
        let key = dir.path().join("ca.key");
        let cnf = dir.path().join("ca.cnf");
        fs::write(
            &cnf,
            format!(
                "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3_ca\n\
                 [dn]\nCN = {name}\n\
                 [v3_ca]\nbasicConstraints = critical,CA:TRUE\n\
                 keyUsage = critical,keyCertSign,cRLSign\nsubjectKeyIdentifier = hash\n"
            ),
        )
        .expect("write ca.cnf");
        openssl(&[
            "req".as_ref(),
            "-x509".as_ref(),
            "-config".as_ref(),
            cnf.as_os_str(),
            "-newkey".as_ref(),
            "ec".as_ref(),
            "-pkeyopt".as_ref(),
            "ec_paramgen_curve:P-256".as_ref(),
            "-nodes".as_ref(),
            "-days".as_ref(),
            "7".as_ref(),
            "-keyout".as_ref(),
            key.as_os_str(),
            "-out".as_ref(),
            cert.as_os_str(),
        ]);
        Ca { dir, cert, key }
    }

    /// The CA certificate (PEM): what clients trust (`curl --cacert`, reqwest root certificate).
    pub fn cert_path(&self) -> &Path {
        &self.cert
    }

    /// The CA certificate as PEM text.
    pub fn cert_pem(&self) -> String {
        fs::read_to_string(&self.cert).expect("read CA cert")
    }

    /// A directory holding only `ca.crt`, the layout `skopeo --cert-dir` reads.
    pub fn containers_cert_dir(&self) -> PathBuf {
        let dir = self.dir.path().join("certs.d");
        if !dir.exists() {
            fs::create_dir_all(&dir).expect("create certs.d");
            fs::copy(&self.cert, dir.join("ca.crt")).expect("copy ca.crt");
        }
        dir
    }

    /// Issues a server certificate for `127.0.0.1` and `localhost`.
    pub fn issue_server_cert(&self, name: &str) -> CertPair {
        self.issue(name, Usage::Server)
    }

    /// Issues a client certificate (extended key usage clientAuth) with subject CN `name`.
    pub fn issue_client_cert(&self, name: &str) -> CertPair {
        self.issue(name, Usage::Client)
    }

    /// Issues a signing certificate (digitalSignature, no extended key usage), e.g. for JWTs.
    pub fn issue_signing_cert(&self, name: &str) -> CertPair {
        self.issue(name, Usage::Signing)
    }

    fn issue(&self, name: &str, usage: Usage) -> CertPair {
        let base = self.dir.path().join(name);
        let cert = base.with_extension("pem");
        let key = base.with_extension("key");
        let csr = base.with_extension("csr");
        let cnf = base.with_extension("cnf");
        let ext = match usage {
            Usage::Server => {
                "extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1,DNS:localhost\n"
            }
            Usage::Client => "extendedKeyUsage = clientAuth\n",
            Usage::Signing => "",
        };
        fs::write(
            &cnf,
            format!(
                "[req]\ndistinguished_name = dn\nprompt = no\n[dn]\nCN = {name}\n\
                 [ext]\nbasicConstraints = critical,CA:FALSE\n\
                 keyUsage = critical,digitalSignature\nsubjectKeyIdentifier = hash\n\
                 authorityKeyIdentifier = keyid\n{ext}"
            ),
        )
        .expect("write leaf cnf");
        openssl(&[
            "req".as_ref(),
            "-new".as_ref(),
            "-config".as_ref(),
            cnf.as_os_str(),
            "-newkey".as_ref(),
            "ec".as_ref(),
            "-pkeyopt".as_ref(),
            "ec_paramgen_curve:P-256".as_ref(),
            "-nodes".as_ref(),
            "-keyout".as_ref(),
            key.as_os_str(),
            "-out".as_ref(),
            csr.as_os_str(),
        ]);
        openssl(&[
            "x509".as_ref(),
            "-req".as_ref(),
            "-in".as_ref(),
            csr.as_os_str(),
            "-CA".as_ref(),
            self.cert.as_os_str(),
            "-CAkey".as_ref(),
            self.key.as_os_str(),
            "-CAcreateserial".as_ref(),
            "-CAserial".as_ref(),
            self.dir.path().join("ca.srl").as_os_str(),
            "-days".as_ref(),
            "7".as_ref(),
            "-extfile".as_ref(),
            cnf.as_os_str(),
            "-extensions".as_ref(),
            "ext".as_ref(),
            "-out".as_ref(),
            cert.as_os_str(),
        ]);
        CertPair { cert, key }
    }
}

impl CertPair {
    /// The certificate as standard base64 DER, as a JWS `x5c` entry carries it.
    pub fn cert_der_base64(&self) -> String {
        let pem = fs::read_to_string(&self.cert).expect("read cert");
        pem.lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect()
    }
}

fn openssl(args: &[&std::ffi::OsStr]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {:?} failed: {}",
        args,
        String::from_utf8_lossy(&out.stderr)
    );
}

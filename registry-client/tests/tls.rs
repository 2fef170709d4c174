//! HTTPS against the real registry: a CA from a certs directory or an option, and client
//! certificates (mutual TLS).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::path::Path;
use std::process::Command;

use common::{Registry, client_builder};
use registry_client::{ErrorKind, Scheme};

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, all signed by the CA.
fn make_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "2",
            "-subj",
            "/CN=hoist-test-ca",
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n").unwrap();
    for (name, cn) in [("server", "127.0.0.1"), ("client", "hoist-client")] {
        let subj = format!("/CN={cn}");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &subj,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &format!("{name}.crt"),
                "-days",
                "2",
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
}

#[tokio::test]
async fn https_with_a_ca_from_the_certs_dir_and_client_certificates() {
    let pki = tempfile::tempdir().unwrap();
    make_pki(pki.path());
    let p = |f: &str| pki.path().join(f).display().to_string();
    let tls = format!(
        "  tls:\n    certificate: {}\n    key: {}\n    clientcas:\n      - {}\n",
        p("server.crt"),
        p("server.key"),
        p("ca.crt")
    );
    let reg = Registry::start_tls(tempfile::tempdir().unwrap(), &tls);
    let target = reg.reference("secure/app:1");

    // Docker's layout: certs.d/<host:port>/{ca.crt, client.cert, client.key}; its presence means HTTPS.
    let certs = tempfile::tempdir().unwrap();
    let host_dir = certs.path().join(&reg.host);
    std::fs::create_dir_all(&host_dir).unwrap();
    std::fs::copy(pki.path().join("ca.crt"), host_dir.join("ca.crt")).unwrap();
    std::fs::copy(pki.path().join("client.crt"), host_dir.join("client.cert")).unwrap();
    std::fs::copy(pki.path().join("client.key"), host_dir.join("client.key")).unwrap();
    let client = client_builder()
        .certs_dirs(vec![certs.path().to_owned()])
        .system_roots(false)
        .build()
        .unwrap();
    assert!(
        client.list_tags(&target).await.unwrap_err().kind() == &ErrorKind::NotFound,
        "HTTPS works, repo is empty"
    );

    // The same through options.
    let by_options = client_builder()
        .registry_scheme(&reg.host, Scheme::Https)
        .registry_ca_file(&reg.host, pki.path().join("ca.crt"))
        .client_identity_files(
            &reg.host,
            pki.path().join("client.crt"),
            pki.path().join("client.key"),
        )
        .build()
        .unwrap();
    assert_eq!(by_options.head_manifest(&target).await.unwrap(), None);

    // No client certificate: the TLS handshake is refused.
    let no_identity = client_builder()
        .registry_scheme(&reg.host, Scheme::Https)
        .ca_file(pki.path().join("ca.crt"))
        .build()
        .unwrap();
    let e = no_identity.head_manifest(&target).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Connection, "{e}");

    // An untrusted server certificate is a connection error, not a silent downgrade.
    let untrusted = client_builder()
        .registry_scheme(&reg.host, Scheme::Https)
        .system_roots(false)
        .build()
        .unwrap();
    let e = untrusted.head_manifest(&target).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Connection, "{e}");
}

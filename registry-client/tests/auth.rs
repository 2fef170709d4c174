//! Authentication and TLS against the real registry: htpasswd Basic auth over plain HTTP and
//! over TLS from a private CA; the Docker Hub token flow (a token server signing JWTs the
//! registry trusts); certs.d and client certificates; redirected downloads.

mod harness;

use std::sync::{Arc, Mutex};

use harness::client::{
    blob_file, client_builder, descriptor, image_push, layered_image, reference,
};
use harness::{Ca, Registry, TokenServer, random_blob};
use registry_client::{BlobPush, Credential, ErrorKind, Platform, Scheme, media_type};

/// Push and pull back with `client`; the pulled layers equal the pushed ones.
async fn round_trip(client: &registry_client::Client, host: &str, repository: &str, seed: u64) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let image = layered_image(seed, &[3000, 40_000]);
    let target = reference(host, &format!("{repository}:v1"));
    let digest = client
        .push_image(&target, &image_push(tmp.path(), &image), None)
        .await
        .expect("push");
    assert_eq!(digest.as_str(), image.manifest.digest);
    let resolved = client
        .resolve(&target, &Platform::parse("linux/amd64").expect("platform"))
        .await
        .expect("resolve");
    assert_eq!(resolved.manifest.bytes, image.manifest.bytes);
    for layer in &image.layers {
        let mut back = Vec::new();
        client
            .fetch_blob(&target, &descriptor(layer), &mut back)
            .await
            .expect("pull layer");
        assert!(back == layer.bytes);
    }
}

#[tokio::test]
async fn htpasswd_basic_auth_over_plain_http() {
    let registry = Registry::builder()
        .htpasswd(&[("alice", "s3cret-pass")])
        .start();
    let host = registry.host_port();
    let tmp = tempfile::tempdir().expect("temp dir");
    let blob = blob_file(
        tmp.path(),
        "blob",
        media_type::OCI_LAYER_GZIP,
        &random_blob(23, 10_000),
    );
    let target = reference(&host, "private/app:1");

    let anonymous = client_builder().build().expect("client");
    let e = anonymous
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .expect_err("anonymous push");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert_eq!(e.status(), Some(401));
    assert!(
        e.hint().contains(&format!("run `hoist login {host}`")),
        "{}",
        e.hint()
    );

    let wrong = client_builder()
        .credential(&host, Credential::basic("alice", "nope-nope"))
        .build()
        .expect("client");
    let e = wrong
        .blob_exists(&target, &blob.descriptor.digest)
        .await
        .expect_err("wrong password");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert!(!format!("{e} {e:?} {wrong:?}").contains("nope-nope"));

    let client = client_builder()
        .credential(&host, Credential::basic("alice", "s3cret-pass"))
        .build()
        .expect("client");
    assert!(
        !format!("{client:?}").contains("s3cret"),
        "no password in Debug"
    );
    round_trip(&client, &host, "private/app", 1).await;
}

#[tokio::test]
async fn htpasswd_basic_auth_over_tls_with_a_private_ca() {
    let registry = Registry::builder()
        .htpasswd(&[("alice", "tls-pass")])
        .tls(Ca::new("Hoist auth-test CA"))
        .start();
    let host = registry.host_port();
    let ca = registry.ca_cert_path().expect("CA");
    let credential = || Credential::basic("alice", "tls-pass");

    // Docker's layout: certs.d/<host:port>/ca.crt; its presence means HTTPS for a loopback host.
    let certs = tempfile::tempdir().expect("temp dir");
    let host_dir = certs.path().join(&host);
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::copy(ca, host_dir.join("ca.crt")).expect("copy ca.crt");
    let client = client_builder()
        .certs_dirs(vec![certs.path().to_owned()])
        .system_roots(false)
        .credential(&host, credential())
        .build()
        .expect("client");
    round_trip(&client, &host, "secure/app", 2).await;

    // The same CA through an option.
    let by_option = client_builder()
        .registry_scheme(&host, Scheme::Https)
        .registry_ca_file(&host, ca)
        .credential(&host, credential())
        .build()
        .expect("client");
    let target = reference(&host, "secure/app:v1");
    assert!(
        by_option
            .head_manifest(&target)
            .await
            .expect("head")
            .is_some()
    );

    // Without the CA the handshake fails: a connection error, never a fallback to HTTP.
    let untrusted = client_builder()
        .registry_scheme(&host, Scheme::Https)
        .system_roots(false)
        .credential(&host, credential())
        .build()
        .expect("client");
    let e = untrusted
        .head_manifest(&target)
        .await
        .expect_err("untrusted");
    assert_eq!(e.kind(), &ErrorKind::Connection, "{e}");
    assert!(e.hint().contains("certs.d"), "{}", e.hint());
}

#[tokio::test]
async fn tls_client_certificates_from_certs_dir_and_options() {
    let registry = Registry::builder()
        .tls(Ca::new("Hoist mTLS CA"))
        .require_client_certs()
        .start();
    let host = registry.host_port();
    let ca = registry.ca_cert_path().expect("CA");
    let identity = registry.client_cert().expect("client cert");
    let target = reference(&host, "secure/app:1");

    let certs = tempfile::tempdir().expect("temp dir");
    let host_dir = certs.path().join(&host);
    std::fs::create_dir_all(&host_dir).expect("mkdir");
    std::fs::copy(ca, host_dir.join("ca.crt")).expect("copy");
    std::fs::copy(&identity.cert, host_dir.join("client.cert")).expect("copy");
    std::fs::copy(&identity.key, host_dir.join("client.key")).expect("copy");
    let client = client_builder()
        .certs_dirs(vec![certs.path().to_owned()])
        .system_roots(false)
        .build()
        .expect("client");
    let e = client.list_tags(&target).await.expect_err("empty repo");
    assert_eq!(e.kind(), &ErrorKind::NotFound, "HTTPS works: {e}");

    let by_options = client_builder()
        .registry_scheme(&host, Scheme::Https)
        .registry_ca_file(&host, ca)
        .client_identity_files(&host, &identity.cert, &identity.key)
        .build()
        .expect("client");
    assert_eq!(by_options.head_manifest(&target).await.expect("head"), None);

    let no_identity = client_builder()
        .registry_scheme(&host, Scheme::Https)
        .ca_file(ca)
        .build()
        .expect("client");
    let e = no_identity
        .head_manifest(&target)
        .await
        .expect_err("no client certificate");
    assert_eq!(e.kind(), &ErrorKind::Connection, "{e}");
}

/// A registry with `auth: token` trusting the harness token server: alice may push anywhere,
/// reader may only pull, anonymous callers may pull `public/*`.
fn token_registry() -> Registry {
    let tokens = TokenServer::builder()
        .user("alice", "alice-pw", &[("*", "pull,push")])
        .user("reader", "reader-pw", &[("*", "pull")])
        .anonymous(&[("public/*", "pull")])
        .start();
    Registry::builder().token(tokens).start()
}

#[tokio::test]
async fn token_auth_docker_hub_flow_with_scopes() {
    let registry = token_registry();
    let tokens = registry.token_server().expect("token server");
    let host = registry.host_port();
    let as_user = |user: &str, password: &str| {
        client_builder()
            .credential(&host, Credential::basic(user, password))
            .build()
            .expect("client")
    };

    let alice = as_user("alice", "alice-pw");
    round_trip(&alice, &host, "team/app", 3).await;
    let requests = tokens.requests();
    assert!(requests.iter().all(|r| r.status == 200), "{requests:?}");
    assert!(
        requests
            .iter()
            .all(|r| r.account.as_deref() == Some("alice")
                && r.service.as_deref() == Some(tokens.service())),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.scopes == ["repository:team/app:pull,push"]),
        "a push token was asked for: {requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.scopes == ["repository:team/app:pull"]),
        "a pull token was asked for: {requests:?}"
    );
    // Tokens are cached per scope set: more reads ask for nothing new.
    let before = tokens.request_count();
    let target = reference(&host, "team/app:v1");
    for _ in 0..3 {
        alice.head_manifest(&target).await.expect("head");
    }
    assert_eq!(tokens.request_count(), before, "cached token reused");

    // reader: pull works, push is refused with an error naming the registry.
    let reader = as_user("reader", "reader-pw");
    let pulled = reader.get_manifest(&target).await.expect("reader pulls");
    let tmp = tempfile::tempdir().expect("temp dir");
    let image = layered_image(4, &[500]);
    let e = reader
        .push_image(&target, &image_push(tmp.path(), &image), None)
        .await
        .expect_err("pull-only token pushed");
    assert!(
        matches!(e.kind(), ErrorKind::Unauthorized | ErrorKind::Denied),
        "{e}"
    );
    assert!(matches!(e.status(), Some(401 | 403)), "{e}");
    assert_eq!(e.registry(), Some(host.as_str()));
    assert!(e.to_string().contains(&host), "{e}");
    assert!(
        e.hint().contains(&format!("hoist login {host}")),
        "{}",
        e.hint()
    );
    let last = tokens.requests().pop().expect("a token request");
    assert_eq!(last.account.as_deref(), Some("reader"));
    assert!(
        last.scopes.iter().any(|s| s.ends_with(":pull,push")),
        "{last:?}"
    );
    // Nothing of the refused push reached the repository.
    let still = reader.get_manifest(&target).await.expect("manifest");
    assert_eq!(still.digest, pulled.digest);

    // Anonymous: public repositories only.
    let public = reference(&host, "public/base:1");
    round_trip(&alice, &host, "public/base", 5).await;
    let anonymous = client_builder().build().expect("client");
    let public_v1 = public.with_tag("v1").expect("tag");
    anonymous
        .get_manifest(&public_v1)
        .await
        .expect("anonymous pull of a public repository");
    let e = anonymous
        .get_manifest(&target)
        .await
        .expect_err("anonymous pull of a private repository");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");

    // Wrong password: the token server refuses, no secret in the error.
    let wrong = as_user("alice", "wrong-pw-xyz");
    let e = wrong
        .get_manifest(&target)
        .await
        .expect_err("wrong password");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert!(!format!("{e} {e:?}").contains("wrong-pw-xyz"), "{e:?}");
}

#[tokio::test]
async fn token_auth_cross_repository_mount_uses_one_token_with_both_scopes() {
    let registry = token_registry();
    let tokens = registry.token_server().expect("token server");
    let host = registry.host_port();
    let client = client_builder()
        .credential(&host, Credential::basic("alice", "alice-pw"))
        .build()
        .expect("client");
    let tmp = tempfile::tempdir().expect("temp dir");
    let blob = blob_file(
        tmp.path(),
        "shared",
        media_type::OCI_LAYER_GZIP,
        &random_blob(24, 20_000),
    );
    let source = reference(&host, "team/base:1");
    let target = reference(&host, "team/app:1");
    let pushed = client
        .push_blob_file(&source, &blob.descriptor, &blob.path, None)
        .await
        .expect("push to source");
    assert_eq!(pushed, BlobPush::Uploaded);
    let mounted = client
        .push_blob_file(&target, &blob.descriptor, &blob.path, Some(&source))
        .await
        .expect("mount");
    assert_eq!(mounted, BlobPush::Mounted);
    let requests = tokens.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.scopes == ["repository:team/app:pull,push", "repository:team/base:pull"]),
        "one token for both repositories of the mount: {requests:?}"
    );
    let mut back = Vec::new();
    client
        .fetch_blob(&target, &blob.descriptor, &mut back)
        .await
        .expect("pull the mounted blob");
    assert!(back == std::fs::read(&blob.path).expect("read"));
}

/// Serves the files under a root (set once the registry has made it) on 127.0.0.1; records
/// each request's path and whether it carried `Authorization`.
struct StaticServer {
    base: String,
    root: Arc<Mutex<std::path::PathBuf>>,
    seen: Arc<Mutex<Vec<(String, bool)>>>,
}

impl StaticServer {
    fn start() -> StaticServer {
        use std::io::{BufRead as _, BufReader, Write as _};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let base = format!("http://{}/", listener.local_addr().expect("addr"));
        let root = Arc::new(Mutex::new(std::path::PathBuf::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (root2, seen2) = (root.clone(), seen.clone());
        // The thread ends with the test process; it only ever serves this test's files.
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                let mut authorized = false;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                        break;
                    }
                    authorized |= h.to_ascii_lowercase().starts_with("authorization:");
                }
                let target = line.split_whitespace().nth(1).unwrap_or("/");
                let path = target.split('?').next().unwrap_or("/").to_owned();
                seen2.lock().expect("lock").push((path.clone(), authorized));
                let file = root2
                    .lock()
                    .expect("lock")
                    .join(path.trim_start_matches('/'));
                let mut out = stream;
                let _ = match std::fs::read(file) {
                    Ok(body) => write!(
                        out,
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    )
                    .and_then(|()| out.write_all(&body)),
                    Err(_) => write!(
                        out,
                        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                };
            }
        });
        StaticServer { base, root, seen }
    }
}

/// Blob downloads redirected to another host (a CDN) are followed, and the registry's
/// credentials are not sent there.
#[tokio::test]
async fn redirected_blob_downloads_keep_credentials_home() {
    let cdn = StaticServer::start();
    let registry = Registry::builder()
        .htpasswd(&[("carol", "pw-carol")])
        .redirect_blobs_to(&cdn.base)
        .start();
    *cdn.root.lock().expect("lock") = registry.storage_dir();
    let host = registry.host_port();
    let client = client_builder()
        .credential(&host, Credential::basic("carol", "pw-carol"))
        .build()
        .expect("client");
    let target = reference(&host, "cdn/app:1");
    let tmp = tempfile::tempdir().expect("temp dir");
    let bytes = random_blob(31, 300_000);
    let blob = blob_file(tmp.path(), "blob", media_type::OCI_LAYER_GZIP, &bytes);
    client
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .expect("push");
    assert!(
        client
            .blob_exists(&target, &blob.descriptor.digest)
            .await
            .expect("head"),
        "a redirect counts as present"
    );
    let out = tmp.path().join("back");
    client
        .fetch_blob_to_file(&target, &blob.descriptor, &out)
        .await
        .expect("redirected download");
    assert!(std::fs::read(&out).expect("read") == bytes);
    let seen = cdn.seen.lock().expect("lock").clone();
    assert!(!seen.is_empty(), "the download went through the redirect");
    assert!(
        seen.iter().all(|(_, authorized)| !authorized),
        "no Authorization to the other host: {seen:?}"
    );
}

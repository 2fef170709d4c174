//! Tests of the test harness itself, with real tools (curl, skopeo) only: the registry
//! fixture in each auth mode, TLS from the private CA, the token server and the fault proxy.

mod harness;

use harness::{
    Ca, Curl, CurlAuth, Fault, FaultProxy, FaultRule, PathKind, Registry, Skopeo, TestImage,
    TokenServer, push_with_curl, sha256_digest,
};

const ANON: CurlAuth = CurlAuth::Anonymous;

fn basic(user: &str, password: &str) -> CurlAuth {
    CurlAuth::Basic(user.to_string(), password.to_string())
}

#[test]
fn plain_registry_push_with_curl_then_skopeo_reads_and_copies() {
    let registry = Registry::start();
    let image = TestImage::new(1, 4096);
    push_with_curl(&registry.url(), "demo/app", "v1", &image, &ANON, None).expect("push");

    let manifest = Curl::new(
        "GET",
        &format!("{}/v2/demo/app/manifests/v1", registry.url()),
    )
    .header("Accept", &image.manifest.media_type)
    .run()
    .expect("get manifest");
    assert_eq!(manifest.status, 200);
    assert_eq!(manifest.body, image.manifest.bytes);
    assert_eq!(
        manifest.header("docker-content-digest"),
        Some(image.manifest.digest.as_str())
    );

    let reference = format!("docker://{}", registry.reference("demo/app", "v1"));
    let inspected = Skopeo::inspect(&reference)
        .insecure()
        .run_json()
        .expect("skopeo inspect");
    assert_eq!(inspected["Digest"], image.manifest.digest.as_str());
    assert_eq!(inspected["Layers"][0], image.layers[0].digest.as_str());

    let layout = tempfile::tempdir().expect("temp dir");
    let dest = format!("oci:{}:v1", layout.path().display());
    Skopeo::copy(&reference, &dest)
        .insecure()
        .run()
        .expect("skopeo copy");
    // skopeo may recompress layers for the OCI layout; the config blob is copied as-is.
    let config_hex = image.config.digest.trim_start_matches("sha256:");
    let copied =
        std::fs::read(layout.path().join("blobs/sha256").join(config_hex)).expect("config");
    assert_eq!(copied, image.config.bytes);
    let index = std::fs::read_to_string(layout.path().join("index.json")).expect("index.json");
    assert!(index.contains("\"v1\""), "{index}");
}

#[test]
fn htpasswd_registry_over_plain_http_and_tls() {
    let registry = Registry::builder()
        .htpasswd(&[("alice", "alice-pw")])
        .start();
    let base = format!("{}/v2/", registry.url());
    let anonymous = Curl::new("GET", &base).run().expect("anonymous");
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous
            .header("www-authenticate")
            .expect("challenge")
            .starts_with("Basic ")
    );
    let wrong = Curl::new("GET", &base)
        .auth(&basic("alice", "nope"))
        .run()
        .expect("wrong");
    assert_eq!(wrong.status, 401);
    let ok = Curl::new("GET", &base)
        .auth(&basic("alice", "alice-pw"))
        .run()
        .expect("ok");
    assert_eq!(ok.status, 200);

    let tls = Registry::builder()
        .htpasswd(&[("alice", "alice-pw")])
        .tls(Ca::new("Hoist self-test CA"))
        .start();
    assert!(tls.url().starts_with("https://127.0.0.1:"));
    let ca = tls.ca_cert_path().expect("ca");
    let base = format!("{}/v2/", tls.url());
    let untrusted = Curl::new("GET", &base)
        .run()
        .expect_err("untrusted CA must fail");
    assert_eq!(untrusted.exit_code, Some(60), "{}", untrusted.stderr);
    let ok = Curl::new("GET", &base)
        .auth(&basic("alice", "alice-pw"))
        .cacert(ca)
        .run();
    assert_eq!(ok.expect("trusted").status, 200);

    let image = TestImage::new(2, 1000);
    push_with_curl(
        &tls.url(),
        "secure/app",
        "v1",
        &image,
        &basic("alice", "alice-pw"),
        Some(ca),
    )
    .expect("push over TLS");
    let cert_dir = tls.ca().expect("ca").containers_cert_dir();
    let reference = format!("docker://{}", tls.reference("secure/app", "v1"));
    let inspected = Skopeo::inspect(&reference)
        .creds("alice", "alice-pw")
        .cert_dir(&cert_dir)
        .run_json()
        .expect("skopeo inspect over TLS");
    assert_eq!(inspected["Digest"], image.manifest.digest.as_str());
}

#[test]
fn tls_registry_requiring_client_certs() {
    let registry = Registry::builder()
        .tls(Ca::new("Hoist mTLS CA"))
        .require_client_certs()
        .start();
    let ca = registry.ca_cert_path().expect("ca");
    let base = format!("{}/v2/", registry.url());
    assert!(
        Curl::new("GET", &base).cacert(ca).run().is_err(),
        "no client cert must fail"
    );
    let client = registry.client_cert().expect("client cert");
    let ok = Curl::new("GET", &base)
        .cacert(ca)
        .client_cert(client)
        .run()
        .expect("mTLS");
    assert_eq!(ok.status, 200);
}

fn token_for(registry: &Registry, auth: &CurlAuth, scopes: &[&str]) -> String {
    let server = registry.token_server().expect("token server");
    let mut url = format!("{}?service={}", server.realm(), server.service());
    for scope in scopes {
        url.push_str(&format!(
            "&scope={}",
            scope.replace(':', "%3A").replace(',', "%2C")
        ));
    }
    let response = Curl::new("GET", &url)
        .auth(auth)
        .run()
        .expect("token request");
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let json = response.json();
    assert_eq!(json["token"], json["access_token"]);
    assert!(json["expires_in"].as_u64().expect("expires_in") > 0);
    assert!(
        json["issued_at"]
            .as_str()
            .expect("issued_at")
            .ends_with('Z')
    );
    json["token"].as_str().expect("token").to_string()
}

#[test]
fn token_registry_docker_hub_flow() {
    let tokens = TokenServer::builder()
        .user("alice", "alice-pw", &[("*", "pull,push")])
        .user("reader", "reader-pw", &[("*", "pull")])
        .start();
    let registry = Registry::builder().token(tokens).start();
    let server = registry.token_server().expect("token server");

    let challenge = Curl::new("GET", &format!("{}/v2/", registry.url()))
        .run()
        .expect("v2");
    assert_eq!(challenge.status, 401);
    let header = challenge.header("www-authenticate").expect("challenge");
    assert!(
        header.starts_with(&format!("Bearer realm=\"{}\"", server.realm())),
        "{header}"
    );
    assert!(
        header.contains(&format!("service=\"{}\"", server.service())),
        "{header}"
    );

    let bad = Curl::new("GET", &format!("{}?service=x", server.realm()))
        .auth(&basic("alice", "wrong"))
        .run()
        .expect("bad credentials");
    assert_eq!(bad.status, 401);

    // Push with a push token.
    let image = TestImage::new(3, 2048);
    let alice = basic("alice", "alice-pw");
    let push = CurlAuth::Bearer(token_for(
        &registry,
        &alice,
        &["repository:team/app:pull,push"],
    ));
    push_with_curl(&registry.url(), "team/app", "v1", &image, &push, None).expect("push");

    // A pull-only token: reading works, starting an upload does not.
    let reader = basic("reader", "reader-pw");
    let pull = CurlAuth::Bearer(token_for(
        &registry,
        &reader,
        &["repository:team/app:pull,push"],
    ));
    let manifest_url = format!("{}/v2/team/app/manifests/v1", registry.url());
    let got = Curl::new("GET", &manifest_url)
        .header("Accept", &image.manifest.media_type)
        .auth(&pull)
        .run()
        .expect("pull");
    assert_eq!(got.status, 200);
    let denied = Curl::new(
        "POST",
        &format!("{}/v2/team/app/blobs/uploads/", registry.url()),
    )
    .auth(&pull)
    .run()
    .expect("push attempt");
    assert!(
        matches!(denied.status, 401 | 403),
        "pull-only token pushed: {}",
        denied.status
    );
    assert!(
        denied
            .header("www-authenticate")
            .expect("challenge")
            .contains("push")
    );

    // Cross-repo mount needs push on the target and pull on the source.
    let both = CurlAuth::Bearer(token_for(
        &registry,
        &alice,
        &[
            "repository:team/other:pull,push",
            "repository:team/app:pull",
        ],
    ));
    let layer = &image.layers[0].digest;
    let mount = format!(
        "{}/v2/team/other/blobs/uploads/?mount={layer}&from=team/app",
        registry.url()
    );
    let mounted = Curl::new("POST", &mount).auth(&both).run().expect("mount");
    assert_eq!(
        mounted.status,
        201,
        "{}",
        String::from_utf8_lossy(&mounted.body)
    );
    let minted = server.mint(Some("alice"), &["repository:team/app:pull"]);
    let head = Curl::new(
        "HEAD",
        &format!("{}/v2/team/app/blobs/{layer}", registry.url()),
    )
    .auth(&CurlAuth::Bearer(minted))
    .run()
    .expect("head blob");
    assert_eq!(head.status, 200);

    // skopeo follows the challenge to the token server with --creds.
    let before = server.request_count();
    let reference = format!("docker://{}", registry.reference("team/app", "v1"));
    let inspected = Skopeo::inspect(&reference)
        .insecure()
        .creds("reader", "reader-pw")
        .run_json()
        .expect("skopeo inspect through the token flow");
    assert_eq!(inspected["Digest"], image.manifest.digest.as_str());
    let requests = server.requests();
    assert!(requests.len() > before);
    let last = requests.last().expect("a token request");
    assert_eq!(last.account.as_deref(), Some("reader"));
    assert!(
        last.scopes.iter().any(|s| s == "repository:team/app:pull"),
        "{last:?}"
    );
}

#[test]
fn fault_proxy_injects_and_counts() {
    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    let base = format!("{}/v2/", proxy.url());

    proxy.add(FaultRule::new("GET", PathKind::Base).fault(Fault::Status(500)));
    assert_eq!(Curl::new("GET", &base).run().expect("first").status, 500);
    assert_eq!(Curl::new("GET", &base).run().expect("second").status, 200);

    proxy.add(
        FaultRule::new("GET", PathKind::Base)
            .nth(2)
            .fault(Fault::TooManyRequests { retry_after: 7 }),
    );
    assert_eq!(Curl::new("GET", &base).run().expect("third").status, 200);
    let limited = Curl::new("GET", &base).run().expect("fourth");
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert_eq!(limited.json()["errors"][0]["code"], "TOOMANYREQUESTS");
    assert_eq!(proxy.request_count("GET", PathKind::Base), 4);
    assert_eq!(proxy.faults_injected(), 2);

    // Uploads through the proxy: bytes counted, Locations name the proxy.
    let image = TestImage::new(4, 10_000);
    push_with_curl(&proxy.url(), "proxied/app", "v1", &image, &ANON, None).expect("push");
    let uploaded: usize = image.blobs().iter().map(|b| b.bytes.len()).sum();
    assert_eq!(
        proxy.request_body_bytes(PathKind::BlobUpload),
        uploaded as u64
    );
    assert_eq!(proxy.request_count("PUT", PathKind::BlobUpload), 2);
    let started = Curl::new(
        "POST",
        &format!("{}/v2/proxied/app/blobs/uploads/", proxy.url()),
    )
    .run()
    .expect("start upload");
    assert!(
        started
            .header("location")
            .expect("location")
            .starts_with(&proxy.url())
    );

    // Downloads: truncated, corrupted, then intact.
    let layer = &image.layers[0];
    let blob_url = format!("{}/v2/proxied/app/blobs/{}", proxy.url(), layer.digest);
    proxy.add(FaultRule::new("GET", PathKind::Blob).fault(Fault::DropResponseAfter(1000)));
    proxy.add(
        FaultRule::new("GET", PathKind::Blob)
            .nth(2)
            .fault(Fault::CorruptBody),
    );
    let cut = Curl::new("GET", &blob_url)
        .run()
        .expect_err("truncated body");
    assert_eq!(cut.exit_code, Some(18), "{}", cut.stderr);
    assert_eq!(cut.partial_body.len(), 1000);
    let corrupt = Curl::new("GET", &blob_url).run().expect("corrupt body");
    assert_eq!(corrupt.body.len(), layer.bytes.len());
    assert_ne!(sha256_digest(&corrupt.body), layer.digest);
    let intact = Curl::new("GET", &blob_url).run().expect("intact body");
    assert_eq!(sha256_digest(&intact.body), layer.digest);

    // A connection dropped mid-upload forwards exactly K bytes.
    proxy.reset_stats();
    proxy.add(FaultRule::new("PUT", PathKind::BlobUpload).fault(Fault::DropRequestAfter(300)));
    let location = started.header("location").expect("location");
    let blob = harness::random_blob(9, 5000);
    let put = format!("{location}&digest={}", sha256_digest(&blob));
    let dropped = Curl::new("PUT", &put).body(&blob).run();
    assert!(dropped.is_err(), "mid-upload drop must fail: {dropped:?}");
    assert_eq!(proxy.request_body_bytes(PathKind::BlobUpload), 300);
}

/// The fixtures run their servers on their own threads, so they work (and drop) inside a
/// `#[tokio::test]` too, as the library's async tests will use them.
#[tokio::test]
async fn fixtures_work_inside_an_async_test() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    proxy.add(FaultRule::new("GET", PathKind::Base).fault(Fault::Status(503)));
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let mut stream = tokio::net::TcpStream::connect(proxy.host_port())
            .await
            .expect("connect");
        let request = format!(
            "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            proxy.host_port()
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = String::new();
        stream.read_to_string(&mut response).await.expect("read");
        statuses.push(
            response
                .split_whitespace()
                .nth(1)
                .expect("status")
                .to_string(),
        );
    }
    assert_eq!(statuses, ["503", "200"]);
}

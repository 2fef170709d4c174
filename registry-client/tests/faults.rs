//! Faults injected by the loopback proxy in front of the real registry: server errors, 429 with
//! Retry-After, connections dropped mid-upload and mid-download, truncated and corrupted
//! bodies. Each operation succeeds after retries or fails with a clear error; a blob whose
//! bytes do not match its digest is never accepted. And what the errors say.

mod harness;

use std::time::{Duration, Instant};

use harness::client::{
    blob_file, client_builder, descriptor, image_push, layered_image, reference,
};
use harness::{Fault, FaultProxy, FaultRule, PathKind, Registry, random_blob};
use registry_client::{BlobPush, Error, ErrorKind, Platform, RetryPolicy, media_type};

/// A registry with the proxy in front of it.
fn proxied() -> (Registry, FaultProxy) {
    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    (registry, proxy)
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

/// Checks that `e` names the registry, the status and the server's code.
fn assert_names(e: &Error, host: &str, status: u16, code: &str) {
    let text = e.to_string();
    assert_eq!(e.registry(), Some(host), "{text}");
    assert_eq!(e.status(), Some(status), "{text}");
    assert!(text.contains(host), "registry missing: {text}");
    assert!(
        text.contains(&format!("HTTP {status}")),
        "status missing: {text}"
    );
    assert!(e.has_code(code), "code {code} missing: {text}");
    assert!(text.contains(code), "code {code} missing: {text}");
    assert!(text.ends_with(&e.hint()), "hint missing: {text}");
    // `cargo test --test faults -- --nocapture` shows what users will read.
    println!("{text}");
}

#[tokio::test]
async fn server_errors_on_every_step_are_retried_until_push_and_pull_succeed() {
    let (_registry, proxy) = proxied();
    let client = client_builder().build().expect("client");
    let tmp = tempfile::tempdir().expect("temp dir");
    let chunked = client_builder()
        .chunk_size(64 * 1024)
        .monolithic_upload_limit(64 * 1024)
        .build()
        .expect("client");
    let image = layered_image(1, &[1000, 200_000]);
    let push = image_push(tmp.path(), &image);
    let target = reference(&proxy.host_port(), "faulty/app:v1");

    for (method, kind, status) in [
        ("HEAD", PathKind::Blob, 500),
        ("POST", PathKind::BlobUpload, 503),
        ("PUT", PathKind::BlobUpload, 500),
        ("PATCH", PathKind::BlobUpload, 502),
        ("PUT", PathKind::Manifest, 500),
        ("GET", PathKind::Manifest, 503),
        ("GET", PathKind::Blob, 500),
    ] {
        proxy.add(FaultRule::new(method, kind).fault(Fault::Status(status)));
    }
    // The large layer goes up in chunks (so a PATCH fails too), the rest monolithic.
    chunked
        .push_blob_file(
            &target,
            &push.layers[1].descriptor,
            &push.layers[1].path,
            None,
        )
        .await
        .expect("chunked push through a 502");
    let digest = client
        .push_image(&target, &push, None)
        .await
        .expect("push through 5xx");
    assert_eq!(digest.as_str(), image.manifest.digest);
    let resolved = client
        .resolve(&target, &Platform::parse("linux/amd64").expect("platform"))
        .await
        .expect("resolve through 5xx");
    let out = tmp.path().join("pulled");
    std::fs::create_dir(&out).expect("mkdir");
    let paths = client
        .fetch_blobs_to_dir(&target, &resolved.image.layers, &out)
        .await
        .expect("pull through 5xx");
    for (path, layer) in paths.iter().zip(&image.layers) {
        assert!(read(path) == layer.bytes);
    }
    assert_eq!(proxy.faults_injected(), 7, "every scripted fault fired");
}

#[tokio::test]
async fn persistent_server_errors_end_in_a_clear_error_after_the_retry_budget() {
    let (_registry, proxy) = proxied();
    let host = proxy.host_port();
    let client = client_builder().build().expect("client");
    let target = reference(&host, "faulty/app:v1");
    proxy.add(
        FaultRule::new("GET", PathKind::Manifest)
            .always()
            .fault(Fault::Status(500)),
    );
    let e = client.get_manifest(&target).await.expect_err("always 500");
    assert_eq!(e.kind(), &ErrorKind::UnexpectedStatus, "{e}");
    assert_names(&e, &host, 500, "UNKNOWN");
    assert_eq!(
        proxy.request_count("GET", PathKind::Manifest),
        harness::client::quick_retries().max_attempts as usize
    );

    // An upload that keeps failing gives up too, with the status of the last answer.
    let tmp = tempfile::tempdir().expect("temp dir");
    let blob = blob_file(
        tmp.path(),
        "b",
        media_type::OCI_LAYER_GZIP,
        &random_blob(2, 5000),
    );
    proxy.add(
        FaultRule::new("PUT", PathKind::BlobUpload)
            .always()
            .fault(Fault::Status(503)),
    );
    let e = client
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .expect_err("always 503");
    assert_names(&e, &host, 503, "UNAVAILABLE");
    assert_eq!(e.http().map(|h| h.method.as_str()), Some("PUT"));
}

#[tokio::test]
async fn too_many_requests_waits_for_retry_after_then_succeeds() {
    let (_registry, proxy) = proxied();
    let host = proxy.host_port();
    let client = client_builder().build().expect("client");
    let tmp = tempfile::tempdir().expect("temp dir");
    let image = layered_image(3, &[4000]);
    let push = image_push(tmp.path(), &image);
    let target = reference(&host, "limited/app:v1");

    // On the upload session's POST (an upload-level retry) ...
    proxy.add(
        FaultRule::new("POST", PathKind::BlobUpload)
            .fault(Fault::TooManyRequests { retry_after: 1 }),
    );
    let started = Instant::now();
    client
        .push_image(&target, &push, None)
        .await
        .expect("push after 429");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited {:?}, less than Retry-After",
        started.elapsed()
    );

    // ... and on a manifest GET (a request-level retry).
    proxy.add(
        FaultRule::new("GET", PathKind::Manifest).fault(Fault::TooManyRequests { retry_after: 1 }),
    );
    let started = Instant::now();
    let got = client.get_manifest(&target).await.expect("get after 429");
    assert_eq!(got.bytes, image.manifest.bytes);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(proxy.request_count("GET", PathKind::Manifest), 2);

    // A Retry-After beyond the policy's limit ends the retries at once, with a clear error.
    let impatient = client_builder()
        .retry_policy(RetryPolicy {
            max_retry_after: Duration::from_secs(5),
            ..harness::client::quick_retries()
        })
        .build()
        .expect("client");
    proxy.add(
        FaultRule::new("GET", PathKind::Manifest)
            .always()
            .fault(Fault::TooManyRequests { retry_after: 3600 }),
    );
    let started = Instant::now();
    let e = impatient.get_manifest(&target).await.expect_err("429");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "waited for the Retry-After?"
    );
    assert_eq!(e.kind(), &ErrorKind::TooManyRequests, "{e}");
    assert_names(&e, &host, 429, "TOOMANYREQUESTS");
    assert_eq!(
        e.http().and_then(|h| h.retry_after),
        Some(Duration::from_secs(3600))
    );
    assert!(
        e.hint().contains("rate-limits") && e.hint().contains(&format!("hoist login {host}")),
        "{}",
        e.hint()
    );
}

#[tokio::test]
async fn connection_dropped_mid_upload_is_resumed_or_restarted() {
    let (registry, proxy) = proxied();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder()
        .chunk_size(1 << 20)
        .monolithic_upload_limit(1 << 20)
        .build()
        .expect("client");
    let direct = client_builder().build().expect("client");

    // A monolithic PUT cut after 100 KB: a new session uploads the blob whole.
    let small = random_blob(4, 500_000);
    let blob = blob_file(tmp.path(), "small", media_type::OCI_LAYER_GZIP, &small);
    proxy.add(FaultRule::new("PUT", PathKind::BlobUpload).fault(Fault::DropRequestAfter(100_000)));
    let target = reference(&proxy.host_port(), "cut/app:1");
    let pushed = client
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .expect("monolithic push after a drop");
    assert_eq!(pushed, BlobPush::Uploaded);
    assert_eq!(proxy.request_count("PUT", PathKind::BlobUpload), 2);

    // A PATCH cut mid-chunk: the upload asks the session where it stands and goes on.
    proxy.reset_stats();
    let big = random_blob(5, (4 << 20) + 999);
    let blob2 = blob_file(tmp.path(), "big", media_type::OCI_LAYER_GZIP, &big);
    proxy.add(
        FaultRule::new("PATCH", PathKind::BlobUpload)
            .nth(2)
            .fault(Fault::DropRequestAfter(300_000)),
    );
    let pushed = client
        .push_blob_file(&target, &blob2.descriptor, &blob2.path, None)
        .await
        .expect("chunked push after a drop");
    assert_eq!(pushed, BlobPush::Uploaded);
    assert_eq!(proxy.faults_injected(), 1);
    let sent = proxy.request_body_bytes(PathKind::BlobUpload);
    assert!(
        sent < 2 * big.len() as u64,
        "resumed, not restarted from zero: {sent} bytes sent"
    );

    // Both blobs are intact in the registry (read past the proxy).
    for (bytes, blob) in [(&small, &blob), (&big, &blob2)] {
        let mut back = Vec::new();
        direct
            .fetch_blob(
                &reference(&registry.host_port(), "cut/app:1"),
                &blob.descriptor,
                &mut back,
            )
            .await
            .expect("pull");
        assert!(&back == bytes);
    }
}

#[tokio::test]
async fn connection_dropped_mid_download_resumes_with_range() {
    let (_registry, proxy) = proxied();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let target = reference(&proxy.host_port(), "dl/app:1");
    let bytes = random_blob(6, 3 << 20);
    let blob = blob_file(tmp.path(), "blob", media_type::OCI_LAYER_GZIP, &bytes);
    client
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .expect("push");

    proxy.reset_stats();
    proxy.add(FaultRule::new("GET", PathKind::Blob).fault(Fault::DropResponseAfter(1 << 20)));
    let out = tmp.path().join("out");
    client
        .fetch_blob_to_file(&target, &blob.descriptor, &out)
        .await
        .expect("download after a drop");
    assert!(read(&out) == bytes);
    assert_eq!(proxy.request_count("GET", PathKind::Blob), 2);
    assert_eq!(
        proxy.response_body_bytes(PathKind::Blob),
        bytes.len() as u64,
        "the second GET asked only for the missing bytes"
    );

    // The same into a writer.
    proxy.add(FaultRule::new("GET", PathKind::Blob).fault(Fault::DropResponseAfter(12_345)));
    let mut back = Vec::new();
    client
        .fetch_blob(&target, &blob.descriptor, &mut back)
        .await
        .expect("download to a writer after a drop");
    assert!(back == bytes);

    // Dropped on every attempt: a connection error once the budget is spent, no file left.
    proxy.add(
        FaultRule::new("GET", PathKind::Blob)
            .always()
            .fault(Fault::DropResponseAfter(1000)),
    );
    let out2 = tmp.path().join("out2");
    let e = client
        .fetch_blob_to_file(&target, &blob.descriptor, &out2)
        .await
        .expect_err("always dropped");
    assert_eq!(e.kind(), &ErrorKind::Connection, "{e}");
    assert!(e.to_string().contains(&proxy.host_port()), "{e}");
    assert!(!out2.exists(), "no file at the destination");
}

#[tokio::test]
async fn truncated_manifest_body_is_retried() {
    let (_registry, proxy) = proxied();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let image = layered_image(7, &[100]);
    let target = reference(&proxy.host_port(), "trunc/app:v1");
    client
        .push_image(&target, &image_push(tmp.path(), &image), None)
        .await
        .expect("push");
    proxy.add(FaultRule::new("GET", PathKind::Manifest).fault(Fault::DropResponseAfter(50)));
    let got = client
        .get_manifest(&target)
        .await
        .expect("get after a truncated body");
    assert_eq!(got.bytes, image.manifest.bytes);
    assert_eq!(proxy.request_count("GET", PathKind::Manifest), 2);
}

#[tokio::test]
async fn corrupted_content_is_never_accepted() {
    let (_registry, proxy) = proxied();
    let host = proxy.host_port();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let image = layered_image(8, &[200_000]);
    let target = reference(&host, "corrupt/app:v1");
    client
        .push_image(&target, &image_push(tmp.path(), &image), None)
        .await
        .expect("push");
    let layer = descriptor(&image.layers[0]);

    // Every byte of the blob changed on the way: a digest mismatch, and nothing on disk.
    proxy.add(
        FaultRule::new("GET", PathKind::Blob)
            .always()
            .fault(Fault::CorruptBody),
    );
    let out = tmp.path().join("layer");
    let e = client
        .fetch_blob_to_file(&target, &layer, &out)
        .await
        .expect_err("corrupt blob accepted");
    assert!(matches!(e.kind(), ErrorKind::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&host), "{e}");
    assert!(e.hint().contains("corrupt"), "{}", e.hint());
    assert!(!out.exists(), "no file at the destination");
    assert!(
        !tmp.path().join("layer.partial").exists(),
        "no partial file"
    );
    let e = client
        .fetch_blob(&target, &layer, &mut Vec::new())
        .await
        .expect_err("corrupt blob accepted by a writer");
    assert!(matches!(e.kind(), ErrorKind::DigestMismatch { .. }), "{e}");

    // A corrupted manifest fails its Docker-Content-Digest check.
    proxy.add(FaultRule::new("GET", PathKind::Manifest).fault(Fault::CorruptBody));
    let e = client
        .get_manifest(&target)
        .await
        .expect_err("corrupt manifest");
    assert!(matches!(e.kind(), ErrorKind::DigestMismatch { .. }), "{e}");

    // Once the path is clean again, the same download succeeds.
    proxy.clear_faults();
    client
        .fetch_blob_to_file(&target, &layer, &out)
        .await
        .expect("clean download");
    assert!(read(&out) == image.layers[0].bytes);
}

#[tokio::test]
async fn pushing_bytes_that_do_not_match_their_digest_is_refused() {
    let (_registry, proxy) = proxied();
    let host = proxy.host_port();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let target = reference(&host, "lies/app:1");
    let real = blob_file(
        tmp.path(),
        "real",
        media_type::OCI_LAYER_GZIP,
        &random_blob(9, 3000),
    );
    // The descriptor of other bytes of the same size.
    let claimed = descriptor(&harness::Blob::new(
        media_type::OCI_LAYER_GZIP,
        random_blob(10, 3000),
    ));
    let e = client
        .push_blob_file(&target, &claimed, &real.path, None)
        .await
        .expect_err("mismatched digest accepted");
    assert_names(&e, &host, 400, "DIGEST_INVALID");
    assert_eq!(
        proxy.request_count("PUT", PathKind::BlobUpload),
        1,
        "a refused digest is not retried"
    );
    assert!(
        !client
            .blob_exists(&target, &claimed.digest)
            .await
            .expect("head")
    );
}

#[tokio::test]
async fn errors_name_the_registry_the_status_and_the_next_step() {
    let (_registry, proxy) = proxied();
    let host = proxy.host_port();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let image = layered_image(11, &[100]);
    let target = reference(&host, "known/app:v1");
    client
        .push_image(&target, &image_push(tmp.path(), &image), None)
        .await
        .expect("push");

    // 404 for a repository the registry never saw.
    let e = client
        .list_tags(&reference(&host, "nobody/here:1"))
        .await
        .expect_err("unknown repository");
    assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
    assert_names(&e, &host, 404, "NAME_UNKNOWN");
    assert_eq!(
        e.hint(),
        format!("not found on {host}: check the repository name, tag or digest")
    );
    // 404 for a tag the repository lacks (and for any manifest of an unknown repository:
    // distribution 2.8 answers MANIFEST_UNKNOWN there too); not retried.
    for missing in ["known/app:nope", "nobody/here:1"] {
        let before = proxy.request_count("GET", PathKind::Manifest);
        let e = client
            .get_manifest(&reference(&host, missing))
            .await
            .expect_err("unknown tag");
        assert_eq!(e.kind(), &ErrorKind::NotFound, "{e}");
        assert_names(&e, &host, 404, "MANIFEST_UNKNOWN");
        assert_eq!(proxy.request_count("GET", PathKind::Manifest), before + 1);
    }
    let e = client
        .fetch_blob(
            &target,
            &descriptor(&harness::Blob::new("x", b"absent".to_vec())),
            &mut Vec::new(),
        )
        .await
        .expect_err("unknown blob");
    assert_names(&e, &host, 404, "BLOB_UNKNOWN");

    // 401 from a registry that wants credentials.
    let locked = Registry::builder().htpasswd(&[("u", "p")]).start();
    let locked_host = locked.host_port();
    let e = client
        .get_manifest(&reference(&locked_host, "known/app:v1"))
        .await
        .expect_err("401");
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert_names(&e, &locked_host, 401, "UNAUTHORIZED");
    assert_eq!(
        e.hint(),
        format!("authentication required for {locked_host}: run `hoist login {locked_host}`")
    );

    // 403: the registry's policy refuses (injected as a registry behind a gateway answers).
    proxy.add(FaultRule::new("GET", PathKind::Manifest).fault(Fault::Status(403)));
    let e = client.get_manifest(&target).await.expect_err("403");
    assert_eq!(e.kind(), &ErrorKind::Denied, "{e}");
    assert_names(&e, &host, 403, "DENIED");
    assert!(
        e.hint().starts_with(&format!("access denied by {host}"))
            && e.hint().contains(&format!("hoist login {host}")),
        "{}",
        e.hint()
    );

    // 429 until the retry budget is spent.
    proxy.add(
        FaultRule::new("GET", PathKind::Manifest)
            .always()
            .fault(Fault::TooManyRequests { retry_after: 0 }),
    );
    let e = client.get_manifest(&target).await.expect_err("429");
    assert_eq!(e.kind(), &ErrorKind::TooManyRequests, "{e}");
    assert_names(&e, &host, 429, "TOOMANYREQUESTS");
    assert!(
        e.hint()
            .starts_with(&format!("{host} rate-limits requests")),
        "{}",
        e.hint()
    );
}

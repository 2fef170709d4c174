//! Resumed transfers through a connection-cutting proxy, and Basic auth, against the real
//! registry.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use common::fault::{Direction, FaultProxy};
use common::{Registry, client_builder, pseudo_random};
use registry_client::{BlobPush, Credential, Descriptor, Digest, ErrorKind, Reference, media_type};

fn blob(
    dir: &std::path::Path,
    size: usize,
    seed: u64,
) -> (Descriptor, std::path::PathBuf, Vec<u8>) {
    let bytes = pseudo_random(size, seed);
    let path = dir.join(format!("blob-{seed}"));
    std::fs::write(&path, &bytes).unwrap();
    let d = Descriptor::new(
        media_type::OCI_LAYER_GZIP,
        Digest::sha256_of(&bytes),
        size as u64,
    );
    (d, path, bytes)
}

#[tokio::test]
async fn chunked_upload_survives_a_cut_connection() {
    let reg = Registry::start();
    let proxy = FaultProxy::start(&reg.host, Direction::Up, (5 << 20) / 2);
    let tmp = tempfile::tempdir().unwrap();
    let client = client_builder()
        .chunk_size(1 << 20)
        .monolithic_upload_limit(512 * 1024)
        .build()
        .unwrap();
    let (d, path, bytes) = blob(tmp.path(), 5 << 20, 21);
    let via_proxy = Reference::parse(&format!("{}/test/cut:1", proxy.host)).unwrap();
    let pushed = client
        .push_blob_file(&via_proxy, &d, &path, None)
        .await
        .unwrap();
    assert_eq!(pushed, BlobPush::Uploaded);
    assert!(proxy.fired(), "the proxy cut a connection");
    if std::env::var_os("SHOW_REGISTRY_LOG").is_some() {
        eprintln!("{}", reg.log());
    }
    let mut back = Vec::new();
    client
        .fetch_blob(&reg.reference("test/cut:1"), &d, &mut back)
        .await
        .unwrap();
    assert!(back == bytes, "blob intact after the resumed upload");
}

#[tokio::test]
async fn download_resumes_after_a_cut_connection() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let client = client_builder().build().unwrap();
    let (d, path, bytes) = blob(tmp.path(), 4 << 20, 22);
    client
        .push_blob_file(&reg.reference("test/dl:1"), &d, &path, None)
        .await
        .unwrap();
    let proxy = FaultProxy::start(&reg.host, Direction::Down, 2 << 20);
    let via_proxy = Reference::parse(&format!("{}/test/dl:1", proxy.host)).unwrap();
    let out = tmp.path().join("out");
    client
        .fetch_blob_to_file(&via_proxy, &d, &out)
        .await
        .unwrap();
    assert!(proxy.fired(), "the proxy cut a connection");
    assert!(
        std::fs::read(out).unwrap() == bytes,
        "blob intact after the resumed download"
    );
}

#[tokio::test]
async fn basic_auth_with_htpasswd() {
    let reg = Registry::start_htpasswd("alice", "s3cret-pass");
    let tmp = tempfile::tempdir().unwrap();
    let (d, path, _) = blob(tmp.path(), 10_000, 23);
    let target = reg.reference("private/app:1");

    let anonymous = client_builder().build().unwrap();
    let e = anonymous
        .push_blob_file(&target, &d, &path, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert!(
        e.to_string().contains(&format!("hoist login {}", reg.host)),
        "{e}"
    );

    let wrong = client_builder()
        .credential(&reg.host, Credential::basic("alice", "nope"))
        .build()
        .unwrap();
    let e = wrong.blob_exists(&target, &d.digest).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthorized);
    assert!(
        !format!("{e} {e:?}").contains("nope"),
        "no password in errors"
    );

    let client = client_builder()
        .credential(&reg.host, Credential::basic("alice", "s3cret-pass"))
        .build()
        .unwrap();
    assert_eq!(
        client
            .push_blob_file(&target, &d, &path, None)
            .await
            .unwrap(),
        BlobPush::Uploaded
    );
    assert!(client.blob_exists(&target, &d.digest).await.unwrap());
    assert!(
        !format!("{client:?}").contains("s3cret"),
        "no password in Debug"
    );
}

#[tokio::test]
async fn bearer_tokens_from_the_challenge_with_several_scopes() {
    let dir = tempfile::tempdir().unwrap();
    let token = common::token::TokenServer::start(dir.path(), "bob", "tok-pass");
    let reg = Registry::start_token_auth(tempfile::tempdir().unwrap(), &token);
    let tmp = tempfile::tempdir().unwrap();
    let (d, path, bytes) = blob(tmp.path(), 20_000, 24);
    let source = reg.reference("team/base:1");
    let target = reg.reference("team/app:1");

    let client = client_builder()
        .credential(&reg.host, Credential::basic("bob", "tok-pass"))
        .build()
        .unwrap();
    assert_eq!(
        client
            .push_blob_file(&source, &d, &path, None)
            .await
            .unwrap(),
        BlobPush::Uploaded
    );
    assert_eq!(
        client
            .push_blob_file(&target, &d, &path, Some(&source))
            .await
            .unwrap(),
        BlobPush::Mounted
    );
    let seen = token.requests.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|s| s.contains("repository:team/app:pull,push")
                && s.contains("repository:team/base:pull")),
        "one token for both repositories of the mount: {seen:?}"
    );
    let before = seen.len();
    assert!(client.blob_exists(&source, &d.digest).await.unwrap());
    assert!(client.blob_exists(&source, &d.digest).await.unwrap());
    let after = token.requests.lock().unwrap().len();
    assert!(
        after <= before + 1,
        "tokens are cached per scope set ({before} -> {after} requests)"
    );

    // Anonymous: pull works (the token server grants pull), push is refused.
    let anonymous = client_builder().build().unwrap();
    let mut back = Vec::new();
    anonymous.fetch_blob(&target, &d, &mut back).await.unwrap();
    assert!(back == bytes);
    let (other, other_path, _) = blob(tmp.path(), 1000, 25);
    let e = anonymous
        .push_blob_file(&target, &other, &other_path, None)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");

    let wrong = client_builder()
        .credential(&reg.host, Credential::basic("bob", "bad"))
        .build()
        .unwrap();
    let e = wrong.blob_exists(&target, &d.digest).await.unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::Unauthorized, "{e}");
    assert!(!format!("{e} {e:?} {wrong:?}").contains("bad\""), "{e:?}");
}

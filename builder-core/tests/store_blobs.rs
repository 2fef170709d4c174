//! Store blobs: streaming writes, verification, concurrency (threads and processes), atomicity.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use builder_core::ErrorKind;
use builder_core::store::{Store, StoreError};
use registry_client::Digest;

fn open(dir: &Path) -> Store {
    Store::open(dir).expect("open store")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn open_creates_an_oci_layout() {
    let dir = tempfile::tempdir().expect("tempdir");
    open(dir.path());
    let layout = std::fs::read_to_string(dir.path().join("oci-layout")).expect("oci-layout");
    assert_eq!(layout, r#"{"imageLayoutVersion":"1.0.0"}"#);
    let index = std::fs::read_to_string(dir.path().join("index.json")).expect("index");
    assert_eq!(
        index,
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#
    );
    for sub in [
        "blobs/sha256",
        "hoist/tmp",
        "hoist/cache",
        "hoist/snapshots",
        "hoist/locks",
    ] {
        assert!(dir.path().join(sub).is_dir(), "{sub}");
    }
    // Reopening is harmless.
    open(dir.path());
}

#[test]
fn rejects_an_unknown_layout_version() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("oci-layout"),
        r#"{"imageLayoutVersion":"2.0.0"}"#,
    )
    .expect("write");
    let err = Store::open(dir.path()).expect_err("version 2");
    assert!(matches!(
        err.kind(),
        ErrorKind::Store(StoreError::UnsupportedLayoutVersion { .. })
    ));
}

#[test]
fn writes_streams_and_reads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let chunk = vec![7u8; 1 << 20];
    let mut w = store.blob_writer().expect("writer");
    let mut expected =
        registry_client::digest::Hasher::new(registry_client::digest::Algorithm::Sha256);
    for _ in 0..5 {
        w.write_all(&chunk).expect("write");
        expected.update(&chunk);
    }
    let expected = expected.finish();
    let (digest, size) = w.commit(Some(&expected)).expect("commit");
    assert_eq!((digest.clone(), size), (expected, 5 << 20));
    assert!(store.has_blob(&digest));
    assert_eq!(store.blob_size(&digest).expect("size"), Some(5 << 20));
    let path = dir.path().join("blobs/sha256").join(digest.encoded());
    assert!(path.is_file());
    let mut back = Vec::new();
    store
        .open_blob(&digest)
        .expect("open")
        .read_to_end(&mut back)
        .expect("read");
    assert_eq!(back.len(), 5 << 20);
    assert!(files_in(&dir.path().join("hoist/tmp")).is_empty());

    let (small, n) = store.put_blob(b"{}").expect("put");
    assert_eq!((small, n), (Digest::sha256_of(b"{}"), 2));
    assert!(store.verify().expect("verify").is_clean());
}

#[test]
fn digest_mismatch_is_rejected_and_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut w = store.blob_writer().expect("writer");
    w.write_all(b"actual bytes").expect("write");
    let wrong = Digest::sha256_of(b"other bytes");
    let err = w.commit(Some(&wrong)).expect_err("mismatch");
    match err.kind() {
        ErrorKind::Store(StoreError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &Digest::sha256_of(b"actual bytes"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(files_in(&dir.path().join("blobs/sha256")).is_empty());
    assert!(files_in(&dir.path().join("hoist/tmp")).is_empty());
    assert!(!store.has_blob(&wrong));
    let missing = store.open_blob(&wrong).expect_err("absent");
    assert!(matches!(
        missing.kind(),
        ErrorKind::Store(StoreError::BlobNotFound { .. })
    ));
}

#[test]
fn a_dropped_writer_leaves_no_blob_and_no_temp() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let mut w = store.blob_writer().expect("writer");
    w.write_all(b"half a layer").expect("write");
    drop(w);
    assert!(files_in(&dir.path().join("blobs/sha256")).is_empty());
    assert!(files_in(&dir.path().join("hoist/tmp")).is_empty());
}

#[test]
fn recovery_removes_stale_unlocked_temp_files_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let tmp = dir.path().join("hoist/tmp");
    // A partial file from a killed writer: nobody holds its lock.
    std::fs::write(tmp.join("blob-999999-0-deadbeef"), b"partial").expect("write");
    // A live writer's temp file: locked by this process.
    let mut live = store.blob_writer().expect("writer");
    live.write_all(b"in progress").expect("write");
    live.flush().expect("flush");
    assert_eq!(files_in(&tmp).len(), 2);

    // Young files are left alone, whoever owns them.
    assert_eq!(
        store
            .recover_temp(Duration::from_secs(3600))
            .expect("recover"),
        0
    );
    assert_eq!(store.recover_temp(Duration::ZERO).expect("recover"), 1);
    let left = files_in(&tmp);
    assert_eq!(left.len(), 1);
    assert!(!left[0].contains("deadbeef"));
    let (digest, _) = live.commit(None).expect("the live writer still commits");
    assert!(store.has_blob(&digest));
    assert!(files_in(&tmp).is_empty());
}

#[test]
fn concurrent_threads_writing_the_same_blob_end_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let content: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let expected = Digest::sha256_of(&content);
    std::thread::scope(|s| {
        for _ in 0..6 {
            s.spawn(|| {
                for _ in 0..4 {
                    let mut w = store.blob_writer().expect("writer");
                    for part in content.chunks(65_537) {
                        w.write_all(part).expect("write");
                    }
                    w.commit(Some(&expected)).expect("commit");
                }
            });
        }
    });
    assert_eq!(
        files_in(&dir.path().join("blobs/sha256")),
        [expected.encoded()]
    );
    assert!(files_in(&dir.path().join("hoist/tmp")).is_empty());
    assert!(store.verify().expect("verify").is_clean());
}

const CHILD_ENV: &str = "HOIST_STORE_TEST_CHILD_ROOT";

fn shared_content() -> Vec<u8> {
    (0..500_000u32)
        .flat_map(|i| (i * 7).to_le_bytes())
        .collect()
}

/// Not a test on its own: the body run by the processes `two_processes_...` spawns.
#[test]
fn child_process_writer() {
    let Some(root) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = Store::open(Path::new(&root)).expect("open");
    let content = shared_content();
    let expected = Digest::sha256_of(&content);
    for i in 0..6 {
        let mut w = store.blob_writer().expect("writer");
        for part in content.chunks(100_003) {
            w.write_all(part).expect("write");
        }
        let (layer, layer_size) = w.commit(Some(&expected)).expect("commit");
        let (config, config_size) = store
            .put_blob(format!("{{\"n\":{i}}}").as_bytes())
            .expect("put");
        let manifest = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{layer}","size":{layer_size}}}]}}"#
        );
        let (manifest, size) = store.put_blob(manifest.as_bytes()).expect("put");
        let desc = registry_client::Descriptor::new(
            registry_client::media_type::OCI_MANIFEST,
            manifest,
            size,
        );
        store.tag(&format!("t{}", i % 3), &desc).expect("tag");
    }
}

#[test]
fn two_processes_writing_the_same_blob_end_consistent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let exe = std::env::current_exe().expect("test binary");
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(&exe)
                .args(["--exact", "child_process_writer", "--test-threads=1"])
                .env(CHILD_ENV, dir.path())
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut child in children {
        assert!(child.wait().expect("wait").success());
    }
    let expected = Digest::sha256_of(&shared_content());
    assert!(store.has_blob(&expected));
    let tags: Vec<String> = store
        .tags()
        .expect("tags")
        .into_iter()
        .map(|t| t.0)
        .collect();
    assert_eq!(tags, ["t0", "t1", "t2"]);
    assert!(files_in(&dir.path().join("hoist/tmp")).is_empty());
    let report = store.verify().expect("verify");
    // The shared layer, 6 configs, 6 manifests.
    assert_eq!(report.blobs_checked, 13);
    assert!(report.is_clean(), "{report:?}");
}

#[test]
fn verify_finds_corruption_and_strays() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let (digest, _) = store.put_blob(b"good").expect("put");
    let blob = dir.path().join("blobs/sha256").join(digest.encoded());
    std::fs::write(&blob, b"evil").expect("corrupt");
    std::fs::write(dir.path().join("blobs/sha256/not-a-digest"), b"x").expect("stray");
    let report = store.verify().expect("verify");
    assert_eq!(report.corrupt_blobs, [digest]);
    assert_eq!(report.stray_files.len(), 1);
    assert!(!report.is_clean());
}

#[test]
fn unsupported_algorithms_are_typed_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let d512 = Digest::parse(&format!("sha512:{}", "a".repeat(128))).expect("digest");
    let err = store.open_blob(&d512).expect_err("sha512");
    assert!(matches!(
        err.kind(),
        ErrorKind::Store(StoreError::UnsupportedAlgorithm { .. })
    ));
    assert!(!store.has_blob(&d512));
}

/// A layer writer hashes its own output: the store names the blob by that digest without a
/// second pass, and keeps the bytes exactly as written (verify re-hashes them).
#[test]
fn a_prehashed_blob_is_named_by_its_writers_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let bytes = b"layer bytes hashed by the layer writer".repeat(1000);
    let digest = Digest::sha256_of(&bytes);
    let mut w = store.prehashed_blob_writer().expect("writer");
    for chunk in bytes.chunks(4096) {
        w.write_all(chunk).expect("write");
    }
    assert_eq!(
        w.commit(&digest).expect("commit"),
        (digest.clone(), bytes.len() as u64)
    );
    let mut stored = Vec::new();
    store
        .open_blob(&digest)
        .expect("open")
        .read_to_end(&mut stored)
        .expect("read");
    assert_eq!(stored, bytes);
    assert!(store.verify().expect("verify").is_clean());
    assert_eq!(files_in(&store.tmp_dir()), Vec::<String>::new());
}

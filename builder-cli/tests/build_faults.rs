//! `hoist build --push` and `hoist pull` through the fault-injecting proxy of the registry-client
//! harness (included with #[path], as login.rs does): 5xx, 429 with Retry-After, dropped
//! connections mid-upload and mid-download, truncated and slow responses. Retries succeed with
//! the same digests; what cannot be recovered ends in an error naming the registry and the
//! status; the store stays consistent (`Store::verify`) either way.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../registry-client/tests/harness/mod.rs"]
mod harness;

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use builder_core::store::Store;
use common::*;
use harness::{Fault, FaultProxy, FaultRule, PathKind, Registry};

fn assert_store_clean(root: &Path) {
    let report = Store::open(root).unwrap().verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(report.blobs_checked > 0);
}

/// A context with a 3 MiB file (several upload chunks' worth, so drops land mid-body).
fn big_context(dir: &Path) -> std::path::PathBuf {
    let ctx = context(dir, "FROM scratch\nCOPY a.txt big.bin /\n");
    std::fs::write(ctx.join("big.bin"), harness::random_blob(7, 3 << 20)).unwrap();
    ctx
}

#[test]
fn push_and_pull_retry_through_server_errors_throttling_drops_and_slowness() {
    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    let host = proxy.host_port();
    let tmp = tempfile::tempdir().unwrap();
    let ctx = big_context(tmp.path());
    let root = tmp.path().join("store");
    let target = format!("{host}/team/app:1");

    // Push: the version check, blob existence checks, upload start, the upload body and the
    // manifest each fail once in a different way.
    proxy
        .add(FaultRule::new("GET", PathKind::Base).fault(Fault::Status(502)))
        .add(FaultRule::new("HEAD", PathKind::Blob).fault(Fault::Status(503)))
        .add(FaultRule::new("POST", PathKind::BlobUpload).fault(Fault::Status(500)))
        .add(FaultRule::any_path("PATCH").fault(Fault::DropRequestAfter(64 << 10)))
        .add(FaultRule::any_path("PUT").fault(Fault::DropRequestAfter(64 << 10)))
        .add(
            FaultRule::new("PUT", PathKind::Manifest)
                .fault(Fault::TooManyRequests { retry_after: 1 }),
        )
        .add(
            FaultRule::new("PUT", PathKind::Manifest)
                .nth(2)
                .fault(Fault::Delay(Duration::from_millis(1500))),
        );
    let start = Instant::now();
    let out = hoist(
        &root,
        &["build", "--push", "-t", &target, ctx.to_str().unwrap()],
    );
    let pushed_in = start.elapsed();
    assert!(out.status.success(), "{}", stderr(&out));
    let digest = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let stats = proxy.stats();
    assert!(stats.faults_injected >= 5, "{:?}", stats.log);
    assert!(
        pushed_in >= Duration::from_secs(1),
        "Retry-After: 1 was not waited for"
    );
    assert_store_clean(&root);
    eprintln!(
        "push: {} faults injected, {} requests, {:.1} s",
        stats.faults_injected,
        stats.log.len(),
        pushed_in.as_secs_f64()
    );

    // Pull into a fresh store: manifest 500 then 429, a blob download cut after 1 KiB, a
    // truncated manifest, a slow blob.
    proxy.clear_faults();
    proxy.reset_stats();
    proxy
        .add(FaultRule::new("GET", PathKind::Manifest).fault(Fault::Status(500)))
        .add(
            FaultRule::new("GET", PathKind::Manifest)
                .nth(2)
                .fault(Fault::TooManyRequests { retry_after: 1 }),
        )
        .add(
            FaultRule::new("GET", PathKind::Manifest)
                .nth(3)
                .fault(Fault::DropResponseAfter(20)),
        )
        .add(FaultRule::new("GET", PathKind::Blob).fault(Fault::DropResponseAfter(1024)))
        .add(
            FaultRule::new("GET", PathKind::Blob)
                .nth(2)
                .fault(Fault::Delay(Duration::from_millis(1500))),
        );
    let pulled = tmp.path().join("pulled");
    let out = hoist(&pulled, &["pull", &target]);
    assert!(out.status.success(), "{}", stderr(&out));
    let stats = proxy.stats();
    assert!(stats.faults_injected >= 4, "{:?}", stats.log);
    assert_store_clean(&pulled);
    let inspect = hoist_ok(&pulled, &["inspect", &target]);
    assert!(
        inspect.contains(&digest[7..19]) || inspect.contains(&digest),
        "{inspect}"
    );
    eprintln!(
        "pull: {} faults injected, {} requests",
        stats.faults_injected,
        stats.log.len()
    );
}

/// Faults that outlast the retry budget: the error names the registry and the status, says
/// what to do, and the store is left consistent (a later push/pull without faults works).
#[test]
fn unrecoverable_faults_name_the_registry_and_status() {
    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    let host = proxy.host_port();
    let tmp = tempfile::tempdir().unwrap();
    let ctx = big_context(tmp.path());
    let root = tmp.path().join("store");
    let target = format!("{host}/team/app:1");

    proxy.add(
        FaultRule::new("PUT", PathKind::Manifest)
            .always()
            .fault(Fault::Status(503)),
    );
    let out = hoist(
        &root,
        &["build", "--push", "-t", &target, ctx.to_str().unwrap()],
    );
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains(&host) && err.contains("503"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_store_clean(&root);

    // A 429 asking for more than the client waits (120 s): given up at once, said so.
    proxy.clear_faults();
    proxy.add(
        FaultRule::new("PUT", PathKind::Manifest)
            .always()
            .fault(Fault::TooManyRequests { retry_after: 3600 }),
    );
    let start = Instant::now();
    let out = hoist(&root, &["push", &target]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains(&host) && err.contains("429"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(60), "waited an hour?");

    // Without faults the push completes; then a pull whose blobs always fail.
    proxy.clear_faults();
    hoist_ok(&root, &["push", &target]);
    proxy.add(
        FaultRule::new("GET", PathKind::Blob)
            .always()
            .fault(Fault::Status(500)),
    );
    let pulled = tmp.path().join("pulled");
    let out = hoist(&pulled, &["pull", &target]);
    let err = stderr(&out);
    assert!(!out.status.success());
    assert!(err.contains(&host) && err.contains("500"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        !hoist(&pulled, &["inspect", &target]).status.success(),
        "a failed pull left a tag"
    );
    if pulled.join("blobs").exists() {
        assert_store_clean_or_empty(&pulled);
    }

    // Corrupted bodies are never accepted.
    proxy.clear_faults();
    proxy.add(
        FaultRule::new("GET", PathKind::Blob)
            .always()
            .fault(Fault::CorruptBody),
    );
    let out = hoist(&pulled, &["pull", &target]);
    let err = stderr(&out);
    assert!(!out.status.success(), "a corrupt blob was accepted");
    assert!(err.contains("digest"), "{err}");
    assert_store_clean_or_empty(&pulled);

    // And with the registry healthy again, the pull completes.
    proxy.clear_faults();
    hoist_ok(&pulled, &["pull", &target]);
    assert_store_clean(&pulled);
}

fn assert_store_clean_or_empty(root: &Path) {
    let report = Store::open(root).unwrap().verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
}

//! Pull and push against the real registry (distribution), started per test.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns

mod common;

use std::path::Path;

use common::{Registry, client_builder, pseudo_random};
use registry_client::{
    BlobFile, BlobPush, Descriptor, Digest, ErrorKind, ImagePush, Manifest, Platform, Reference,
    media_type,
};
use serde_json::json;

fn blob_file(dir: &Path, name: &str, media: &str, bytes: &[u8]) -> BlobFile {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    BlobFile {
        descriptor: Descriptor::new(media, Digest::sha256_of(bytes), bytes.len() as u64),
        path,
    }
}

/// An image with layers of `sizes` bytes and a config naming `platform`.
fn image(dir: &Path, seed: u64, sizes: &[usize], platform: &str, manifest_type: &str) -> ImagePush {
    let layer_type = if manifest_type == media_type::DOCKER_MANIFEST {
        media_type::DOCKER_LAYER_GZIP
    } else {
        media_type::OCI_LAYER_GZIP
    };
    let layers: Vec<BlobFile> = sizes
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let bytes = pseudo_random(*n, seed * 100 + i as u64);
            blob_file(dir, &format!("layer-{seed}-{i}"), layer_type, &bytes)
        })
        .collect();
    let p = Platform::parse(platform).unwrap();
    let config_bytes = serde_json::to_vec(&json!({
        "architecture": p.architecture, "os": p.os, "variant": p.variant,
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| l.descriptor.digest.to_string()).collect::<Vec<_>>()},
        "config": {"Env": [format!("SEED={seed}")]},
    }))
    .unwrap();
    let config_type = if manifest_type == media_type::DOCKER_MANIFEST {
        media_type::DOCKER_CONFIG
    } else {
        media_type::OCI_CONFIG
    };
    let config = blob_file(dir, &format!("config-{seed}"), config_type, &config_bytes);
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": config.descriptor,
        "layers": layers.iter().map(|l| &l.descriptor).collect::<Vec<_>>(),
    }))
    .unwrap();
    ImagePush {
        layers,
        config,
        manifest_media_type: manifest_type.to_owned(),
        manifest,
    }
}

#[tokio::test]
async fn push_then_pull_round_trip_is_byte_identical() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let client = client_builder().build().unwrap();
    let img = image(
        tmp.path(),
        1,
        &[1024, 300 * 1024, 3 << 20, 0],
        "linux/amd64",
        media_type::OCI_MANIFEST,
    );
    let target = reg.reference("test/app:v1");

    let digest = client.push_image(&target, &img, None).await.unwrap();
    assert_eq!(digest, Digest::sha256_of(&img.manifest));

    let resolved = client
        .resolve(&target, &Platform::parse("linux/amd64").unwrap())
        .await
        .unwrap();
    assert!(resolved.index.is_none());
    assert_eq!(
        resolved.manifest.bytes, img.manifest,
        "manifest bytes kept exactly"
    );
    assert_eq!(resolved.manifest.digest, digest);
    assert_eq!(resolved.manifest.media_type, media_type::OCI_MANIFEST);
    assert_eq!(resolved.reference.digest(), Some(&digest));

    let out = tmp.path().join("pulled");
    std::fs::create_dir(&out).unwrap();
    let paths = client
        .fetch_blobs_to_dir(&target, &resolved.image.layers, &out)
        .await
        .unwrap();
    for (path, layer) in paths.iter().zip(&img.layers) {
        assert_eq!(
            std::fs::read(path).unwrap(),
            std::fs::read(&layer.path).unwrap()
        );
    }
    let config_out = out.join("config");
    client
        .fetch_blob_to_file(&target, &resolved.image.config, &config_out)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(config_out).unwrap(),
        std::fs::read(&img.config.path).unwrap()
    );

    let mut in_memory = Vec::new();
    let n = client
        .fetch_blob(&target, &img.layers[1].descriptor, &mut in_memory)
        .await
        .unwrap();
    assert_eq!(n, 300 * 1024);
    assert_eq!(in_memory, std::fs::read(&img.layers[1].path).unwrap());

    assert_eq!(client.list_tags(&target).await.unwrap(), ["v1"]);
    let head = client.head_manifest(&target).await.unwrap().unwrap();
    assert_eq!(head.digest, digest);

    if Path::new("/usr/bin/skopeo").exists() {
        let out = std::process::Command::new("skopeo")
            .args([
                "inspect",
                "--raw",
                "--tls-verify=false",
                &format!("docker://{}/test/app:v1", reg.host),
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout, img.manifest,
            "skopeo reads the manifest we pushed"
        );
    }
}

#[tokio::test]
async fn re_push_uploads_nothing() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let client = client_builder().build().unwrap();
    let img = image(
        tmp.path(),
        2,
        &[2048, 4096],
        "linux/amd64",
        media_type::DOCKER_MANIFEST,
    );
    let target = reg.reference("test/again:latest");
    let first = client
        .push_blob_files(&target, &img.layers, None)
        .await
        .unwrap();
    assert_eq!(first, [BlobPush::Uploaded, BlobPush::Uploaded]);
    client.push_image(&target, &img, None).await.unwrap();
    let uploads_before = reg
        .log()
        .matches("PUT /v2/test/again/blobs/uploads")
        .count();
    let again = client
        .push_blob_files(&target, &img.layers, None)
        .await
        .unwrap();
    assert_eq!(again, [BlobPush::AlreadyExists, BlobPush::AlreadyExists]);
    client.push_image(&target, &img, None).await.unwrap();
    let uploads_after = reg
        .log()
        .matches("PUT /v2/test/again/blobs/uploads")
        .count();
    assert_eq!(uploads_before, uploads_after, "no blob upload on re-push");
    let got = client.get_manifest(&target).await.unwrap();
    assert_eq!(got.media_type, media_type::DOCKER_MANIFEST);
    assert!(matches!(got.manifest, Manifest::Image(_)));
}

#[tokio::test]
async fn cross_repository_mount_and_fallback() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let client = client_builder().build().unwrap();
    let source = reg.reference("team/base:1");
    let target = reg.reference("team/app:1");
    let shared = blob_file(
        tmp.path(),
        "shared",
        media_type::OCI_LAYER_GZIP,
        &pseudo_random(100_000, 3),
    );
    let own = blob_file(
        tmp.path(),
        "own",
        media_type::OCI_LAYER_GZIP,
        &pseudo_random(50_000, 4),
    );
    let pushed = client
        .push_blob_file(&source, &shared.descriptor, &shared.path, None)
        .await
        .unwrap();
    assert_eq!(pushed, BlobPush::Uploaded);

    let mounted = client
        .push_blob_file(&target, &shared.descriptor, &shared.path, Some(&source))
        .await
        .unwrap();
    assert_eq!(mounted, BlobPush::Mounted);
    assert!(
        client
            .blob_exists(&target, &shared.descriptor.digest)
            .await
            .unwrap()
    );

    // The source does not have this one: the registry answers 202 and the upload goes on.
    let fallback = client
        .push_blob_file(&target, &own.descriptor, &own.path, Some(&source))
        .await
        .unwrap();
    assert_eq!(fallback, BlobPush::Uploaded);
    let mut back = Vec::new();
    client
        .fetch_blob(&target, &own.descriptor, &mut back)
        .await
        .unwrap();
    assert_eq!(back, std::fs::read(&own.path).unwrap());
}

#[tokio::test]
async fn chunked_upload_of_a_multi_mib_blob() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let client = client_builder()
        .chunk_size(1 << 20)
        .monolithic_upload_limit(512 * 1024)
        .build()
        .unwrap();
    let target = reg.reference("test/chunked:1");
    let size = (5 << 20) + 12345;
    let blob = blob_file(
        tmp.path(),
        "big",
        media_type::OCI_LAYER_GZIP,
        &pseudo_random(size, 5),
    );
    let pushed = client
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .unwrap();
    assert_eq!(pushed, BlobPush::Uploaded);
    let patches = reg
        .log()
        .matches("PATCH /v2/test/chunked/blobs/uploads")
        .count();
    assert!(patches >= 6, "expected one PATCH per MiB, saw {patches}");
    let out = tmp.path().join("back");
    client
        .fetch_blob_to_file(&target, &blob.descriptor, &out)
        .await
        .unwrap();
    assert_eq!(
        std::fs::read(out).unwrap(),
        std::fs::read(&blob.path).unwrap()
    );
}

#[tokio::test]
async fn interrupted_download_resumes_with_range() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let client = client_builder().build().unwrap();
    let target = reg.reference("test/resume:1");
    let bytes = pseudo_random(2 << 20, 6);
    let blob = blob_file(tmp.path(), "blob", media_type::OCI_LAYER_GZIP, &bytes);
    client
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .unwrap();

    // A previous download stopped after 1 MiB + 7 bytes.
    let out = tmp.path().join("out");
    std::fs::write(tmp.path().join("out.partial"), &bytes[..(1 << 20) + 7]).unwrap();
    client
        .fetch_blob_to_file(&target, &blob.descriptor, &out)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), bytes);
    assert!(!tmp.path().join("out.partial").exists());

    // A corrupt partial file is caught by the digest check and removed.
    let mut corrupt = bytes[..1000].to_vec();
    corrupt[10] ^= 0xff;
    std::fs::write(tmp.path().join("bad.partial"), &corrupt).unwrap();
    let e = client
        .fetch_blob_to_file(&target, &blob.descriptor, &tmp.path().join("bad"))
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::DigestMismatch { .. }), "{e}");
    assert!(!tmp.path().join("bad").exists() && !tmp.path().join("bad.partial").exists());
}

#[tokio::test]
async fn index_push_and_platform_resolution() {
    let reg = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let client = client_builder().build().unwrap();
    let target = reg.reference("test/multi:1");
    let mut entries = Vec::new();
    for (seed, platform) in [
        (10, "linux/amd64"),
        (11, "linux/arm64/v8"),
        (12, "linux/arm/v7"),
    ] {
        let img = image(
            tmp.path(),
            seed,
            &[10_000 + seed as usize],
            platform,
            media_type::OCI_MANIFEST,
        );
        let by_digest = target.with_digest(Digest::sha256_of(&img.manifest));
        let digest = client.push_image(&by_digest, &img, None).await.unwrap();
        let mut d = Descriptor::new(media_type::OCI_MANIFEST, digest, img.manifest.len() as u64);
        d.platform = Some(Platform::parse(platform).unwrap());
        entries.push((d, img));
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": entries.iter().map(|(d, _)| d).collect::<Vec<_>>(),
    }))
    .unwrap();
    let index_digest = client
        .put_manifest(&target, media_type::OCI_INDEX, &index)
        .await
        .unwrap();

    let fetched = client.get_manifest(&target).await.unwrap();
    assert_eq!(fetched.bytes, index);
    assert_eq!(fetched.digest, index_digest);
    assert!(matches!(fetched.manifest, Manifest::Index(_)));

    let arm64 = client
        .resolve(&target, &Platform::parse("linux/arm64").unwrap())
        .await
        .unwrap();
    assert_eq!(arm64.manifest.bytes, entries[1].1.manifest);
    assert_eq!(arm64.index.as_ref().map(|i| &i.digest), Some(&index_digest));
    let arm = client
        .resolve(&target, &Platform::parse("linux/arm").unwrap())
        .await
        .unwrap();
    assert_eq!(arm.manifest.bytes, entries[2].1.manifest);
    let e = client
        .resolve(&target, &Platform::parse("linux/s390x").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::NoMatchingPlatform(_)), "{e}");
}

#[tokio::test]
async fn missing_things_are_typed_errors_without_retries() {
    let reg = Registry::start();
    let client = client_builder().build().unwrap();
    let started = std::time::Instant::now();
    let e = client
        .get_manifest(&reg.reference("nobody/here:1"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);
    assert_eq!(e.status(), Some(404));
    assert!(
        e.has_code("MANIFEST_UNKNOWN") || e.has_code("NAME_UNKNOWN"),
        "{e}"
    );
    assert!(e.to_string().contains(&reg.host), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "a 404 is not retried"
    );
    assert_eq!(
        client
            .head_manifest(&reg.reference("nobody/here:1"))
            .await
            .unwrap(),
        None
    );

    let wrong = Descriptor::new(media_type::OCI_LAYER_GZIP, Digest::sha256_of(b"absent"), 6);
    let e = client
        .fetch_blob(&reg.reference("nobody/here:1"), &wrong, &mut Vec::new())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), &ErrorKind::NotFound);

    // A manifest that names a different digest than its bytes is refused before sending.
    let r: Reference = reg
        .reference("x/y:1")
        .with_digest(Digest::sha256_of(b"other"));
    let e = client
        .put_manifest(&r, media_type::OCI_MANIFEST, b"{}")
        .await
        .unwrap_err();
    assert!(matches!(e.kind(), ErrorKind::DigestMismatch { .. }));
}

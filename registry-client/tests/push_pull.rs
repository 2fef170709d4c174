//! Pull and push against the real registry (distribution 2.8), anonymous, with the fault proxy
//! in front as a counter (no faults here), and interop with skopeo.

mod harness;

use harness::client::{
    blob_file, client_builder, descriptor, image_push, layered_image, reference,
};
use harness::{FaultProxy, PathKind, Registry, Skopeo, random_blob};
use registry_client::{BlobPush, Descriptor, Digest, ErrorKind, Manifest, Platform, media_type};
use serde_json::json;

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).expect("read file")
}

/// Push a three-layer image, pull it back (manifest and every blob byte-identical), push it
/// again: the second push sends no blob bytes and starts no upload.
#[tokio::test]
async fn multi_layer_round_trip_then_re_push_uploads_nothing() {
    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let image = layered_image(1, &[1024, 300 * 1024, 3 << 20]);
    let push = image_push(tmp.path(), &image);
    let target = reference(&proxy.host_port(), "test/app:v1");

    let digest = client.push_image(&target, &push, None).await.expect("push");
    assert_eq!(digest.as_str(), image.manifest.digest);
    let blob_bytes: u64 = image.blobs().iter().map(|b| b.bytes.len() as u64).sum();
    assert_eq!(
        proxy.request_body_bytes(PathKind::BlobUpload),
        blob_bytes,
        "each blob's bytes went up exactly once"
    );

    let resolved = client
        .resolve(&target, &Platform::parse("linux/amd64").expect("platform"))
        .await
        .expect("resolve");
    assert!(resolved.index.is_none());
    assert_eq!(
        resolved.manifest.bytes, image.manifest.bytes,
        "manifest bytes kept"
    );
    assert_eq!(resolved.manifest.digest, digest);
    assert_eq!(resolved.manifest.media_type, media_type::OCI_MANIFEST);
    assert_eq!(resolved.reference.digest(), Some(&digest));
    assert_eq!(resolved.image.layers.len(), 3);

    let out = tmp.path().join("pulled");
    std::fs::create_dir(&out).expect("mkdir");
    let paths = client
        .fetch_blobs_to_dir(&target, &resolved.image.layers, &out)
        .await
        .expect("pull layers");
    for (path, layer) in paths.iter().zip(&image.layers) {
        assert!(read(path) == layer.bytes, "layer {} differs", layer.digest);
    }
    let config_out = out.join("config.json");
    client
        .fetch_blob_to_file(&target, &resolved.image.config, &config_out)
        .await
        .expect("pull config");
    assert_eq!(read(&config_out), image.config.bytes);
    let mut in_memory = Vec::new();
    let n = client
        .fetch_blob(&target, &descriptor(&image.layers[1]), &mut in_memory)
        .await
        .expect("fetch to a writer");
    assert_eq!(n, image.layers[1].bytes.len() as u64);
    assert!(in_memory == image.layers[1].bytes);
    assert_eq!(client.list_tags(&target).await.expect("tags"), ["v1"]);
    let head = client.head_manifest(&target).await.expect("head");
    assert_eq!(head.map(|d| d.digest), Some(digest.clone()));

    // The same image again, with a fresh client (no state carried over): nothing uploaded.
    proxy.reset_stats();
    let again = client_builder().build().expect("client");
    let outcomes = again
        .push_blob_files(&target, &push.layers, None)
        .await
        .expect("re-push layers");
    assert_eq!(outcomes, [BlobPush::AlreadyExists; 3]);
    let digest_again = again
        .push_image(&target, &push, None)
        .await
        .expect("re-push");
    assert_eq!(digest_again, digest);
    assert_eq!(proxy.request_body_bytes(PathKind::BlobUpload), 0);
    assert_eq!(proxy.request_count("POST", PathKind::BlobUpload), 0);
    assert_eq!(proxy.request_count("PUT", PathKind::Manifest), 1);
}

/// Docker schema2 manifests go up and come back with their media type.
#[tokio::test]
async fn docker_schema2_manifest_round_trip() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let layer = blob_file(
        tmp.path(),
        "layer",
        media_type::DOCKER_LAYER_GZIP,
        &random_blob(2, 4096),
    );
    let config = blob_file(
        tmp.path(),
        "config",
        media_type::DOCKER_CONFIG,
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
    );
    let manifest = serde_json::to_vec_pretty(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::DOCKER_MANIFEST,
        "config": config.descriptor,
        "layers": [layer.descriptor],
    }))
    .expect("json");
    let push = registry_client::ImagePush {
        layers: vec![layer],
        config,
        manifest_media_type: media_type::DOCKER_MANIFEST.to_owned(),
        manifest: manifest.clone(),
    };
    let target = reference(&registry.host_port(), "test/docker:latest");
    client.push_image(&target, &push, None).await.expect("push");
    let got = client.get_manifest(&target).await.expect("get");
    assert_eq!(got.media_type, media_type::DOCKER_MANIFEST);
    assert_eq!(got.bytes, manifest);
    assert!(matches!(got.manifest, Manifest::Image(_)));
}

/// A blob over the monolithic limit goes up in one PATCH per chunk, then an empty PUT.
#[tokio::test]
async fn chunked_upload_of_a_multi_mib_blob() {
    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder()
        .chunk_size(1 << 20)
        .monolithic_upload_limit(512 * 1024)
        .build()
        .expect("client");
    let target = reference(&proxy.host_port(), "test/chunked:1");
    let size = (5 << 20) + 12345;
    let bytes = random_blob(5, size);
    let blob = blob_file(tmp.path(), "big", media_type::OCI_LAYER_GZIP, &bytes);
    let pushed = client
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .expect("push");
    assert_eq!(pushed, BlobPush::Uploaded);
    assert_eq!(proxy.request_count("PATCH", PathKind::BlobUpload), 6);
    assert_eq!(proxy.request_count("PUT", PathKind::BlobUpload), 1);
    assert_eq!(proxy.request_body_bytes(PathKind::BlobUpload), size as u64);
    let out = tmp.path().join("back");
    client
        .fetch_blob_to_file(&target, &blob.descriptor, &out)
        .await
        .expect("pull");
    assert!(read(&out) == bytes);
}

/// A blob the target lacks is mounted from another repository of the registry (no bytes
/// sent); one the source lacks either falls back to an upload.
#[tokio::test]
async fn cross_repository_mount_and_fallback() {
    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let source = reference(&proxy.host_port(), "team/base:1");
    let target = reference(&proxy.host_port(), "team/app:1");
    let shared = blob_file(
        tmp.path(),
        "shared",
        media_type::OCI_LAYER_GZIP,
        &random_blob(3, 100_000),
    );
    let own = blob_file(
        tmp.path(),
        "own",
        media_type::OCI_LAYER_GZIP,
        &random_blob(4, 50_000),
    );
    let pushed = client
        .push_blob_file(&source, &shared.descriptor, &shared.path, None)
        .await
        .expect("push to source");
    assert_eq!(pushed, BlobPush::Uploaded);

    proxy.reset_stats();
    let mounted = client
        .push_blob_file(&target, &shared.descriptor, &shared.path, Some(&source))
        .await
        .expect("mount");
    assert_eq!(mounted, BlobPush::Mounted);
    assert_eq!(proxy.request_body_bytes(PathKind::BlobUpload), 0);
    let posts = proxy.stats().log;
    assert!(
        posts.iter().any(|r| r.method == "POST"
            && r.path.contains("mount=")
            && r.path.contains("from=team%2Fbase")),
        "{posts:?}"
    );
    assert!(
        client
            .blob_exists(&target, &shared.descriptor.digest)
            .await
            .expect("head")
    );

    let fallback = client
        .push_blob_file(&target, &own.descriptor, &own.path, Some(&source))
        .await
        .expect("fallback upload");
    assert_eq!(fallback, BlobPush::Uploaded);
    let mut back = Vec::new();
    client
        .fetch_blob(&target, &own.descriptor, &mut back)
        .await
        .expect("pull");
    assert!(back == read(&own.path));
}

/// A download a previous run left as `<dest>.partial` resumes with `Range`; a corrupt partial
/// file is caught by the digest check and removed, and nothing appears at the destination.
#[tokio::test]
async fn partial_download_resumes_and_corrupt_partial_is_removed() {
    let registry = Registry::start();
    let proxy = FaultProxy::in_front_of(&registry);
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let target = reference(&proxy.host_port(), "test/resume:1");
    let bytes = random_blob(6, 2 << 20);
    let blob = blob_file(tmp.path(), "blob", media_type::OCI_LAYER_GZIP, &bytes);
    client
        .push_blob_file(&target, &blob.descriptor, &blob.path, None)
        .await
        .expect("push");

    proxy.reset_stats();
    let kept = (1 << 20) + 7;
    let out = tmp.path().join("out");
    std::fs::write(tmp.path().join("out.partial"), &bytes[..kept]).expect("write partial");
    client
        .fetch_blob_to_file(&target, &blob.descriptor, &out)
        .await
        .expect("resume");
    assert!(read(&out) == bytes);
    assert!(!tmp.path().join("out.partial").exists());
    assert_eq!(
        proxy.response_body_bytes(PathKind::Blob),
        (bytes.len() - kept) as u64,
        "only the missing bytes were fetched"
    );

    let mut corrupt = bytes[..1000].to_vec();
    corrupt[10] ^= 0xff;
    std::fs::write(tmp.path().join("bad.partial"), &corrupt).expect("write partial");
    let e = client
        .fetch_blob_to_file(&target, &blob.descriptor, &tmp.path().join("bad"))
        .await
        .expect_err("corrupt partial must fail");
    assert!(matches!(e.kind(), ErrorKind::DigestMismatch { .. }), "{e}");
    assert!(!tmp.path().join("bad").exists());
    assert!(!tmp.path().join("bad.partial").exists());
}

/// Three platform images under one index; resolution picks by platform (arm falls back to the
/// v7 variant) and refuses a platform the index lacks.
#[tokio::test]
async fn index_push_and_platform_resolution() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let target = reference(&registry.host_port(), "test/multi:1");
    let mut entries = Vec::new();
    for (seed, platform) in [
        (10, "linux/amd64"),
        (11, "linux/arm64/v8"),
        (12, "linux/arm/v7"),
    ] {
        let p = Platform::parse(platform).expect("platform");
        let layer = blob_file(
            tmp.path(),
            &format!("layer-{seed}"),
            media_type::OCI_LAYER_GZIP,
            &random_blob(seed, 10_000),
        );
        let config_bytes = serde_json::to_vec(&json!({
            "architecture": p.architecture, "os": p.os, "variant": p.variant,
            "rootfs": {"type": "layers", "diff_ids": [layer.descriptor.digest]},
        }))
        .expect("json");
        let config = blob_file(
            tmp.path(),
            &format!("config-{seed}"),
            media_type::OCI_CONFIG,
            &config_bytes,
        );
        let manifest = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_MANIFEST,
            "config": config.descriptor,
            "layers": [layer.descriptor],
        }))
        .expect("json");
        let push = registry_client::ImagePush {
            layers: vec![layer],
            config,
            manifest_media_type: media_type::OCI_MANIFEST.to_owned(),
            manifest: manifest.clone(),
        };
        let by_digest = target.with_digest(Digest::sha256_of(&manifest));
        let digest = client
            .push_image(&by_digest, &push, None)
            .await
            .expect("push");
        let mut d = Descriptor::new(media_type::OCI_MANIFEST, digest, manifest.len() as u64);
        d.platform = Some(p);
        entries.push((d, manifest));
    }
    let index = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": entries.iter().map(|(d, _)| d).collect::<Vec<_>>(),
    }))
    .expect("json");
    let index_digest = client
        .put_manifest(&target, media_type::OCI_INDEX, &index)
        .await
        .expect("put index");

    let fetched = client.get_manifest(&target).await.expect("get index");
    assert_eq!(fetched.bytes, index);
    assert_eq!(fetched.digest, index_digest);
    assert!(matches!(fetched.manifest, Manifest::Index(_)));
    let arm64 = client
        .resolve(&target, &Platform::parse("linux/arm64").expect("platform"))
        .await
        .expect("resolve arm64");
    assert_eq!(arm64.manifest.bytes, entries[1].1);
    assert_eq!(arm64.index.as_ref().map(|i| &i.digest), Some(&index_digest));
    let arm = client
        .resolve(&target, &Platform::parse("linux/arm").expect("platform"))
        .await
        .expect("resolve arm");
    assert_eq!(arm.manifest.bytes, entries[2].1);
    let e = client
        .resolve(&target, &Platform::parse("linux/s390x").expect("platform"))
        .await
        .expect_err("no s390x");
    assert!(matches!(e.kind(), ErrorKind::NoMatchingPlatform(_)), "{e}");
    assert!(e.to_string().contains("linux/amd64"), "{e}");

    // A manifest whose bytes do not match the digest in the reference is refused before sending.
    let wrong = target.with_digest(Digest::sha256_of(b"other"));
    let e = client
        .put_manifest(&wrong, media_type::OCI_MANIFEST, b"{}")
        .await
        .expect_err("digest mismatch");
    assert!(matches!(e.kind(), ErrorKind::DigestMismatch { .. }), "{e}");
}

/// Interop: what the client pushed, skopeo reads (`inspect`) and copies to an OCI layout.
#[tokio::test]
async fn skopeo_inspects_and_copies_an_image_the_client_pushed() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().expect("temp dir");
    let client = client_builder().build().expect("client");
    let image = layered_image(7, &[2048, 70_000]);
    let target = reference(&registry.host_port(), "interop/app:v1");
    client
        .push_image(&target, &image_push(tmp.path(), &image), None)
        .await
        .expect("push");

    let source = format!("docker://{}", registry.reference("interop/app", "v1"));
    let inspected = Skopeo::inspect(&source)
        .insecure()
        .run_json()
        .expect("skopeo inspect");
    assert_eq!(inspected["Digest"], image.manifest.digest.as_str());
    assert_eq!(inspected["Architecture"], "amd64");
    let layers: Vec<&str> = inspected["Layers"]
        .as_array()
        .expect("Layers")
        .iter()
        .filter_map(|l| l.as_str())
        .collect();
    let expected: Vec<&str> = image.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(layers, expected);

    let layout = tmp.path().join("layout");
    Skopeo::copy(&source, &format!("oci:{}:v1", layout.display()))
        .insecure()
        .run()
        .expect("skopeo copy");
    let index: serde_json::Value =
        serde_json::from_slice(&read(&layout.join("index.json"))).expect("index.json");
    let entry = &index["manifests"][0];
    assert_eq!(
        entry["annotations"]["org.opencontainers.image.ref.name"],
        "v1"
    );
    // skopeo writes its own manifest, compressing the uncompressed layers on the way; the
    // config is copied as it is, and each layer decompresses to the bytes pushed.
    let blob_path = |digest: &str| {
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let copied: serde_json::Value =
        serde_json::from_slice(&read(&blob_path(entry["digest"].as_str().expect("digest"))))
            .expect("copied manifest");
    assert_eq!(copied["config"]["digest"], image.config.digest.as_str());
    assert!(read(&blob_path(&image.config.digest)) == image.config.bytes);
    let copied_layers = copied["layers"].as_array().expect("layers");
    assert_eq!(copied_layers.len(), image.layers.len());
    for (copied, pushed) in copied_layers.iter().zip(&image.layers) {
        let path = blob_path(copied["digest"].as_str().expect("layer digest"));
        let bytes = if copied["mediaType"] == pushed.media_type.as_str() {
            read(&path)
        } else {
            assert_eq!(copied["mediaType"], media_type::OCI_LAYER_GZIP);
            let out = std::process::Command::new("gzip")
                .arg("-dc")
                .arg(&path)
                .output()
                .expect("run gzip");
            assert!(out.status.success(), "gzip -dc {}", path.display());
            out.stdout
        };
        assert!(bytes == pushed.bytes, "layer {} differs", pushed.digest);
    }
}

use std::time::Duration;

use registry_client::{Descriptor, media_type};

use super::*;
use crate::store::{CacheKey, CachedLayer};

/// A store with one tagged image (config + layer `in-image`) and two cache records: one for the
/// image's layer, one dangling (`intermediate`, older), plus an orphan blob and snapshots.
struct Fixture {
    _dir: tempfile::TempDir,
    store: Store,
    image_layer: Digest,
    intermediate: Digest,
    orphan: Digest,
    manifest: Digest,
}

fn record(store: &Store, key: &str, layer: &Digest, size: u64, created_at: u64) {
    let diff_id = Digest::sha256_of(format!("diff-{layer}").as_bytes());
    let record = CacheRecord {
        layer: Some(CachedLayer {
            descriptor: Descriptor::new(media_type::OCI_LAYER_GZIP, layer.clone(), size),
            diff_id,
        }),
        payload: serde_json::Value::Null,
        created_at,
    };
    store
        .cache_put(&CacheKey::sha256_of(key.as_bytes()), &record)
        .unwrap();
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (image_layer, n1) = store.put_blob(b"in-image").unwrap();
    let (intermediate, n2) = store.put_blob(b"intermediate").unwrap();
    let (orphan, _) = store.put_blob(b"orphan").unwrap();
    let image_diff = Digest::sha256_of(format!("diff-{image_layer}").as_bytes());
    let config = serde_json::json!({"rootfs": {"type": "layers", "diff_ids": [image_diff]}});
    let (config_digest, config_size) = store.put_blob(config.to_string().as_bytes()).unwrap();
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "config": Descriptor::new(media_type::OCI_CONFIG, config_digest, config_size),
        "layers": [Descriptor::new(media_type::OCI_LAYER_GZIP, image_layer.clone(), n1)],
    });
    let (manifest_digest, manifest_size) = store.put_blob(manifest.to_string().as_bytes()).unwrap();
    let descriptor = Descriptor::new(
        media_type::OCI_MANIFEST,
        manifest_digest.clone(),
        manifest_size,
    );
    store.tag("app:latest", &descriptor).unwrap();
    record(&store, "image", &image_layer, n1, 200);
    record(&store, "intermediate", &intermediate, n2, 100);
    for layer in [&image_layer, &intermediate, &orphan] {
        let diff_id = Digest::sha256_of(format!("diff-{layer}").as_bytes());
        let snapshot = store.snapshot_dir(&diff_id);
        fs::create_dir_all(snapshot.join("etc")).unwrap();
        fs::write(snapshot.join("etc/file"), "12345").unwrap();
    }
    Fixture {
        _dir: dir,
        store,
        image_layer,
        intermediate,
        orphan,
        manifest: manifest_digest,
    }
}

fn snapshot_of(store: &Store, layer: &Digest) -> PathBuf {
    store.snapshot_dir(&Digest::sha256_of(format!("diff-{layer}").as_bytes()))
}

#[test]
fn default_prune_keeps_images_and_their_cache_and_removes_the_rest() {
    let f = fixture();
    fs::create_dir(f.store.tmp_dir().join("build-dead")).unwrap();
    let report = f.store.prune(&PruneOptions::default()).unwrap();
    assert_eq!(report.count(PrunedKind::CacheRecord), 1, "{report:?}");
    assert_eq!(report.count(PrunedKind::Blob), 2, "{report:?}");
    assert_eq!(report.count(PrunedKind::Snapshot), 2, "{report:?}");
    assert_eq!(report.count(PrunedKind::Temporary), 1, "{report:?}");
    assert!(f.store.has_blob(&f.image_layer) && f.store.has_blob(&f.manifest));
    assert!(!f.store.has_blob(&f.intermediate) && !f.store.has_blob(&f.orphan));
    assert!(snapshot_of(&f.store, &f.image_layer).exists());
    assert!(!snapshot_of(&f.store, &f.intermediate).exists());
    let key = CacheKey::sha256_of(b"image");
    assert!(f.store.cache_get(&key).unwrap().is_some());
    assert!(f.store.verify().unwrap().is_clean());
    // Two blobs, two snapshots of 5 bytes, plus the cache record's JSON.
    let freed = "intermediate".len() + "orphan".len() + 2 * "12345".len();
    assert!(report.bytes_freed() > freed as u64, "{report:?}");
    // Nothing left to do.
    assert!(
        f.store
            .prune(&PruneOptions::default())
            .unwrap()
            .removed
            .is_empty()
    );
}

#[test]
fn all_removes_every_cache_record_and_keep_storage_keeps_the_newest() {
    let f = fixture();
    let report = f.store.prune(&PruneOptions::new(true, Some(8))).unwrap();
    // Budget 8 bytes: the newest record ("in-image", 8 bytes) stays, the older one goes.
    assert_eq!(report.count(PrunedKind::CacheRecord), 1, "{report:?}");
    assert!(
        f.store
            .cache_get(&CacheKey::sha256_of(b"image"))
            .unwrap()
            .is_some()
    );

    let report = f.store.prune(&PruneOptions::new(true, None)).unwrap();
    assert_eq!(report.count(PrunedKind::CacheRecord), 1, "{report:?}");
    assert!(f.store.has_blob(&f.image_layer), "the image still uses it");
    assert!(f.store.verify().unwrap().is_clean());
}

#[test]
fn prune_waits_for_a_lease_and_spares_held_temporary_files() {
    let f = fixture();
    let held = crate::store::temp::TempFile::create(&f.store.tmp_dir(), "blob").unwrap();
    let lease = f.store.lease().unwrap();
    let store = f.store.clone();
    let pruner = std::thread::spawn(move || store.prune(&PruneOptions::default()).unwrap());
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        !pruner.is_finished(),
        "prune must wait for the build's lease"
    );
    assert!(f.store.has_blob(&f.orphan));
    drop(lease);
    let report = pruner.join().unwrap();
    assert_eq!(report.count(PrunedKind::Temporary), 0);
    assert!(held.path().exists());
}

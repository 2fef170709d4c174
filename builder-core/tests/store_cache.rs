//! The store's cache index.

use std::io::Write;

use builder_core::store::{CacheKey, CacheRecord, CachedLayer, Store};
use registry_client::{Descriptor, media_type};

fn record(store: &Store) -> CacheRecord {
    let mut w = store.blob_writer().expect("writer");
    w.write_all(b"layer").expect("write");
    let (digest, size) = w.commit(None).expect("commit");
    CacheRecord {
        layer: Some(CachedLayer {
            descriptor: Descriptor::new(media_type::OCI_LAYER_GZIP, digest.clone(), size),
            diff_id: digest,
        }),
        payload: serde_json::json!({"env": ["A=1"], "cmd": ["sh"]}),
        created_at: 1_700_000_000,
    }
}

#[test]
fn put_then_get() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let key = CacheKey::sha256_of(b"hoist.exec.v1 ...");
    assert_eq!(store.cache_get(&key).expect("get"), None);
    let rec = record(&store);
    store.cache_put(&key, &rec).expect("put");
    assert_eq!(store.cache_get(&key).expect("get"), Some(rec.clone()));
    let file = dir.path().join("hoist/cache").join(key.hex());
    assert!(file.is_file());
    // Sorted keys: the same record always has the same bytes.
    let text = std::fs::read_to_string(&file).expect("read");
    assert!(
        text.contains(r#""payload":{"cmd":["sh"],"env":["A=1"]}"#),
        "{text}"
    );

    // A record without a layer is fine.
    let meta_only = CacheRecord {
        layer: None,
        payload: serde_json::Value::Null,
        created_at: 0,
    };
    let key2 = CacheKey::sha256_of(b"meta");
    store.cache_put(&key2, &meta_only).expect("put");
    assert_eq!(store.cache_get(&key2).expect("get"), Some(meta_only));
    assert!(store.verify().expect("verify").is_clean());
}

#[test]
fn a_record_whose_blob_is_gone_is_a_miss() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let key = CacheKey::sha256_of(b"k");
    let rec = record(&store);
    store.cache_put(&key, &rec).expect("put");
    let layer = rec.layer.as_ref().expect("layer");
    std::fs::remove_file(
        dir.path()
            .join("blobs/sha256")
            .join(layer.descriptor.digest.encoded()),
    )
    .expect("remove");
    assert_eq!(store.cache_get(&key).expect("get"), None);
    let report = store.verify().expect("verify");
    assert_eq!(report.missing_blobs.len(), 1);
    assert_eq!(
        report.missing_blobs[0].referenced_by,
        format!("cache {}", key.hex())
    );
}

#[test]
fn a_corrupt_record_is_a_miss_and_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let key = CacheKey::sha256_of(b"k");
    std::fs::write(dir.path().join("hoist/cache").join(key.hex()), b"{not json").expect("write");
    assert_eq!(store.cache_get(&key).expect("get"), None);
    assert_eq!(store.verify().expect("verify").bad_cache_records.len(), 1);
}

#[test]
fn cache_keys_parse_only_sha256_hex() {
    let key = CacheKey::sha256_of(b"x");
    assert_eq!(CacheKey::from_hex(key.hex()).expect("parse"), key);
    assert!(CacheKey::from_hex("xyz").is_err());
    assert!(CacheKey::from_hex(&"A".repeat(64)).is_err());
    let json = serde_json::to_string(&key).expect("ser");
    assert_eq!(json, format!("\"sha256:{}\"", key.hex()));
    assert_eq!(serde_json::from_str::<CacheKey>(&json).expect("de"), key);
}

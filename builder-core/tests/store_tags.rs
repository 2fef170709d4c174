//! Store tags: index.json, read by skopeo and umoci as an OCI image layout.

use std::path::Path;
use std::process::Command;

use builder_core::ErrorKind;
use builder_core::store::{Store, StoreError};
use registry_client::{Descriptor, Digest, media_type};

/// Stores a one-layer image and returns its manifest descriptor.
fn put_image(store: &Store, marker: &str) -> Descriptor {
    let mut tar = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_ustar();
    header.set_size(marker.len() as u64);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, "marker.txt", marker.as_bytes())
        .expect("append");
    let layer = tar.into_inner().expect("tar");
    let (layer_digest, layer_size) = store.put_blob(&layer).expect("layer");
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{}},"rootfs":{{"type":"layers","diff_ids":["{layer_digest}"]}}}}"#
    );
    let (config_digest, config_size) = store.put_blob(config.as_bytes()).expect("config");
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"{}","config":{{"mediaType":"{}","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"{}","digest":"{layer_digest}","size":{layer_size}}}]}}"#,
        media_type::OCI_MANIFEST,
        media_type::OCI_CONFIG,
        media_type::OCI_LAYER_TAR,
    );
    let (digest, size) = store.put_blob(manifest.as_bytes()).expect("manifest");
    Descriptor::new(media_type::OCI_MANIFEST, digest, size)
}

fn tool_output(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn skopeo_digest(root: &Path, tag: &str) -> String {
    let out = tool_output(Command::new("skopeo").args([
        "inspect",
        "--format",
        "{{.Digest}}",
        &format!("oci:{}:{tag}", root.display()),
    ]));
    out.trim().to_owned()
}

#[test]
fn tag_resolve_untag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let a = put_image(&store, "a");
    let b = put_image(&store, "b");
    store.tag("localhost/app:2", &b).expect("tag");
    store.tag("localhost/app:1", &a).expect("tag");
    store.tag("localhost/app:latest", &a).expect("tag");
    let resolved = store
        .resolve("localhost/app:1")
        .expect("resolve")
        .expect("tagged");
    assert_eq!(resolved.digest, a.digest);
    assert_eq!(store.resolve("nope").expect("resolve"), None);

    // Retagging moves the tag.
    store.tag("localhost/app:latest", &b).expect("retag");
    let tags: Vec<(String, Digest)> = store
        .tags()
        .expect("tags")
        .into_iter()
        .map(|(t, d)| (t, d.digest))
        .collect();
    assert_eq!(
        tags,
        [
            ("localhost/app:1".to_owned(), a.digest.clone()),
            ("localhost/app:2".to_owned(), b.digest.clone()),
            ("localhost/app:latest".to_owned(), b.digest.clone()),
        ]
    );
    assert!(store.untag("localhost/app:2").expect("untag"));
    assert!(!store.untag("localhost/app:2").expect("untag again"));
    assert_eq!(store.tags().expect("tags").len(), 2);
    // The blobs stay until GC.
    assert!(store.has_blob(&b.digest));
}

#[test]
fn tagging_a_missing_manifest_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let absent = Descriptor::new(media_type::OCI_MANIFEST, Digest::sha256_of(b"x"), 1);
    let err = store.tag("x", &absent).expect_err("missing");
    assert!(matches!(
        err.kind(),
        ErrorKind::Store(StoreError::BlobNotFound { .. })
    ));
}

#[test]
fn index_json_is_deterministic() {
    let write = |order: &[&str]| {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path()).expect("open");
        let image = put_image(&store, "same");
        for t in order {
            store.tag(t, &image).expect("tag");
        }
        std::fs::read(dir.path().join("index.json")).expect("index")
    };
    assert_eq!(write(&["b", "a", "c"]), write(&["c", "b", "a"]));
}

#[test]
fn skopeo_and_umoci_read_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path()).expect("open");
    let a = put_image(&store, "a");
    let b = put_image(&store, "b");
    store.tag("app:1", &a).expect("tag");
    store.tag("app:2", &b).expect("tag");
    assert_eq!(skopeo_digest(dir.path(), "app:1"), a.digest.to_string());
    assert_eq!(skopeo_digest(dir.path(), "app:2"), b.digest.to_string());

    let listed = tool_output(
        Command::new("umoci")
            .args(["ls", "--layout"])
            .arg(dir.path()),
    );
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort_unstable();
    assert_eq!(listed, ["app:1", "app:2"]);

    // skopeo can copy out of it, which reads and checks every blob.
    let out = tempfile::tempdir().expect("tempdir");
    tool_output(Command::new("skopeo").args([
        "copy",
        "--quiet",
        &format!("oci:{}:app:2", dir.path().display()),
        &format!("oci:{}:copy", out.path().display()),
    ]));
    assert!(store.verify().expect("verify").is_clean());
}

//! `hoist store verify [--repair]`: clean after a build; every kind of damage reported, one
//! line each, with exit status 1; leftovers of dead processes removed by `--repair` and by the
//! next command's recovery.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reliability_support;

use std::fs;
use std::path::Path;

use reliability_support::{assert_clean, busybox_context, hoist_ok, verify};

/// A store with one image built from a busybox context with a RUN step.
fn built_store(tmp: &Path) -> std::path::PathBuf {
    let root = tmp.join("store");
    let ctx = busybox_context(tmp, "ctx", "RUN echo hi > /hi\n");
    hoist_ok(&root, &["build", "-t", "img", ctx.to_str().unwrap()]);
    root
}

/// The blob path of `digest` (`sha256:<hex>`).
fn blob(root: &Path, digest: &str) -> std::path::PathBuf {
    root.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn manifest(root: &Path) -> (String, serde_json::Value) {
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    let manifest = serde_json::from_slice(&fs::read(blob(root, &digest)).unwrap()).unwrap();
    (digest, manifest)
}

#[test]
fn a_built_store_verifies_clean() {
    let tmp = tempfile::tempdir().unwrap();
    let root = built_store(tmp.path());
    let (out, _) = hoist_ok(&root, &["store", "verify"]);
    assert!(out.starts_with("store clean: "), "{out}");
}

#[test]
fn every_kind_of_damage_is_listed_and_fails_the_command() {
    let tmp = tempfile::tempdir().unwrap();
    let root = built_store(tmp.path());
    let (_, manifest) = manifest(&root);
    let layers = manifest["layers"].as_array().unwrap();
    // A corrupt layer, a missing layer, a config that is not JSON (same size), a stray file,
    // a cache record that does not parse, a snapshot that is not a directory.
    let corrupt = layers[0]["digest"].as_str().unwrap();
    let mut bytes = fs::read(blob(&root, corrupt)).unwrap();
    bytes[10] ^= 0xff;
    fs::write(blob(&root, corrupt), bytes).unwrap();
    let missing = layers[1]["digest"].as_str().unwrap();
    fs::remove_file(blob(&root, missing)).unwrap();
    let config = manifest["config"]["digest"].as_str().unwrap();
    let size = fs::metadata(blob(&root, config)).unwrap().len() as usize;
    fs::write(blob(&root, config), vec![b'x'; size]).unwrap();
    fs::write(root.join("blobs/sha256/not-a-digest"), b"?").unwrap();
    let record = fs::read_dir(root.join("hoist/cache"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    fs::write(&record, b"{ truncated").unwrap();
    fs::write(root.join("hoist/snapshots").join("a".repeat(64)), b"").unwrap();

    let v = verify(&root, false);
    assert!(!v.clean, "{}", v.text);
    let has = |needle: &str| v.text.lines().any(|l| l.contains(needle));
    assert!(has(&format!("corrupt blob {corrupt}")), "{}", v.text);
    assert!(
        has(&format!("missing blob {missing} (referenced by manifest")),
        "{}",
        v.text
    );
    assert!(has(&format!("corrupt blob {config}")), "{}", v.text);
    assert!(has(&format!("unreadable config {config}")), "{}", v.text);
    assert!(has("stray file") && has("not-a-digest"), "{}", v.text);
    assert!(has("bad cache record"), "{}", v.text);
    assert!(has("bad snapshot"), "{}", v.text);
    assert!(v.text.contains("problem(s)"), "{}", v.text);
}

#[test]
fn a_dangling_tag_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let root = built_store(tmp.path());
    let (digest, _) = manifest(&root);
    fs::remove_file(blob(&root, &digest)).unwrap();
    let v = verify(&root, false);
    assert!(
        v.text.contains(&format!(
            "missing blob {digest} (referenced by index.json tag img:latest)"
        )),
        "{}",
        v.text
    );
}

#[test]
fn leftovers_of_dead_processes_are_listed_and_repaired() {
    let tmp = tempfile::tempdir().unwrap();
    let root = built_store(tmp.path());
    // What a SIGKILLed build leaves: its scratch directory, a half-written blob, a partial
    // snapshot (pid 4999999 cannot exist: above the kernel's pid limit).
    fs::create_dir_all(root.join("hoist/tmp/build-4999999-abc/run-x")).unwrap();
    fs::write(root.join("hoist/tmp/blob-4999999-0-00000000"), b"half").unwrap();
    fs::create_dir(root.join("hoist/snapshots/.tmp-4999999-def")).unwrap();
    let v = verify(&root, false);
    assert!(!v.clean);
    assert!(v.damage().is_empty(), "{}", v.text);
    assert_eq!(v.problems.len(), 3, "{}", v.text);
    let repaired = verify(&root, true);
    assert!(repaired.clean, "{}", repaired.text);
    assert_eq!(
        repaired.text.matches("removed ").count(),
        3,
        "{}",
        repaired.text
    );
    assert_clean(&root);

    // Normal operation recovers too: any command opening the store removes them.
    fs::create_dir_all(root.join("hoist/tmp/build-4999999-ghi")).unwrap();
    hoist_ok(&root, &["images"]);
    assert_clean(&root);
}

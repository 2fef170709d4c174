//! builder-core's `examples/build_and_push.rs`, run as a user runs it: it builds
//! `testdata/examples/scratch-copy` and pushes it to the real registry on a loopback port; skopeo
//! then reads the pushed image back from the registry and it is validated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registry_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use registry_support::{Registry, run, skopeo_json, validated};

/// The example's binary: `cargo test` builds the examples next to the test binaries
/// (`target/<profile>/examples/`); when only this test was asked for, cargo builds it now.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap();
    let binary = profile_dir.join("examples").join("build_and_push");
    if !binary.is_file() {
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        run(Command::new(env!("CARGO")).current_dir(workspace).args([
            "build",
            "-p",
            "builder-core",
            "--example",
            "build_and_push",
        ]));
    }
    assert!(binary.is_file(), "{}", binary.display());
    binary
}

#[test]
fn the_build_and_push_example_pushes_an_image_skopeo_reads() {
    let registry = Registry::start();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let context = workspace.join("testdata/examples/scratch-copy");
    let reference = format!("{}/examples/scratch-copy:latest", registry.host());
    let out = Command::new(example_binary())
        .arg(&context)
        .arg(&reference)
        .arg(&store)
        .env("DOCKER_CONFIG", tmp.path().join("no-docker-config"))
        .env("SOURCE_DATE_EPOCH", "0")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let pushed = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(pushed.starts_with("sha256:"), "{pushed}");
    assert!(stderr.contains("DONE"), "progress goes to stderr: {stderr}");
    assert!(
        stderr.contains(" pushing sha256:"),
        "the push reports its bytes: {stderr}"
    );

    // The registry serves what the example pushed, under the tag, with that digest.
    let image = format!("docker://{reference}");
    let inspected = skopeo_json(&["inspect", "--tls-verify=false", &image]);
    assert_eq!(inspected["Digest"], pushed.as_str());
    // Copied back into an OCI layout, the image is complete and valid.
    let copy = tmp.path().join("copy");
    run(Command::new("skopeo").args([
        "--insecure-policy",
        "copy",
        "--src-tls-verify=false",
        &image,
        &format!("oci:{}:latest", copy.display()),
    ]));
    let (layers, config) = validated(&copy, &pushed);
    assert!(!layers.is_empty());
    assert_eq!(
        config["architecture"],
        std::env::consts::ARCH.replace("x86_64", "amd64")
    );
}

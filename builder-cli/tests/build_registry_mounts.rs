//! RUN with mounts on a base pulled from the real registry: the busybox image built by hoist,
//! pushed to a registry on a loopback port, then `FROM <registry>/busybox` + RUN steps with a
//! cache mount and a bind mount from the registry image itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registry_support;

use std::fs;
use std::process::Command;

use registry_support::{Registry, app_context, busybox_context, hoist_ok, run, validated};

#[test]
fn run_with_mounts_on_a_base_from_the_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let mut registry = Registry::start();
    let busybox_ref = format!("{}/busybox:1", registry.host());
    let context = busybox_context(tmp.path());
    hoist_ok(
        &tmp.path().join("store-a"),
        &[
            "build",
            "--push",
            "-t",
            &busybox_ref,
            context.to_str().unwrap(),
        ],
    );

    let store = tmp.path().join("store-b");
    let app = app_context(
        tmp.path(),
        "app",
        &format!(
            "FROM {busybox_ref}\n\
             RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             RUN --mount=type=cache,target=/cache echo hit >> /cache/log && cp /cache/log /log\n\
             RUN --mount=from={busybox_ref},source=/bin/busybox,target=/mnt/bb \
             cmp /mnt/bb /bin/busybox && echo same > /bb-same\n\
             RUN --mount=source=app.txt,target=/app.txt cat /app.txt > /app-copy\n"
        ),
    );
    let digest = hoist_ok(&store, &["build", "-t", "app", app.to_str().unwrap()]);
    validated(&store, &digest);
    let bundle = tmp.path().join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:app:latest", store.display()))
        .arg(&bundle));
    let rootfs = bundle.join("rootfs");
    assert_eq!(fs::read_to_string(rootfs.join("log")).unwrap(), "hit\n");
    assert_eq!(
        fs::read_to_string(rootfs.join("bb-same")).unwrap(),
        "same\n"
    );
    assert_eq!(
        fs::read_to_string(rootfs.join("app-copy")).unwrap(),
        "app\n"
    );
    for target in ["cache", "mnt", "app.txt"] {
        assert!(!rootfs.join(target).exists(), "{target} is in the image");
    }
    registry.stop();
}

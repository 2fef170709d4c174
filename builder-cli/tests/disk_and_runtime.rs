//! Local faults: the store's disk filling up during a build (a 20 MB tmpfs store), and the OCI
//! runtime failing (a `runc` that exits 1, one killed by SIGKILL). Each gives a clear error,
//! leaves nothing mounted, and `hoist store verify` clean; after the disk grows the same build
//! succeeds.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reliability_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use reliability_support::{
    Rng, assert_clean, assert_no_mounts, busybox_context, hoist, hoist_command, hoist_ok,
    random_bytes,
};

/// A tmpfs of `size` at `dir`, unmounted on drop.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        fs::create_dir_all(dir).unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(status.success(), "mount tmpfs");
        Tmpfs(dir.to_owned())
    }

    fn resize(&self, size: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(status.success(), "remount tmpfs");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Builds `ctx` on a 20 MB store, expecting a clear disk-full error; then on the same store
/// grown to 200 MB, expecting success. Returns the first failure's error output.
fn fill_then_grow(tmp: &Path, name: &str, rest: &str, big_mib: usize) -> String {
    let mut rng = Rng::new(7);
    let ctx = busybox_context(tmp, name, rest);
    fs::write(ctx.join("big"), random_bytes(&mut rng, big_mib << 20)).unwrap();
    let mnt = tmp.join(format!("{name}-disk"));
    let disk = Tmpfs::mount(&mnt, "20m");
    let root = mnt.join("store");
    let out = hoist(&root, &["build", "-t", "full", ctx.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("No space left on device") && stderr.contains("hint: the disk is full"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_no_mounts(&root);
    assert_clean(&root);
    disk.resize("200m");
    hoist_ok(&root, &["build", "-t", "full", ctx.to_str().unwrap()]);
    assert_clean(&root);
    assert_no_mounts(&root);
    stderr
}

#[test]
fn a_full_disk_during_copy_is_a_clear_error_and_the_store_stays_clean() {
    let tmp = tempfile::tempdir().unwrap();
    fill_then_grow(tmp.path(), "copy", "COPY big /big\n", 30);
}

#[test]
fn a_full_disk_while_writing_a_layer_blob_is_a_clear_error_and_the_store_stays_clean() {
    let tmp = tempfile::tempdir().unwrap();
    // 12 MB fits in the step's directory, not again as the (incompressible) layer blob.
    fill_then_grow(tmp.path(), "blob", "COPY big /big\n", 12);
}

#[test]
fn a_full_disk_during_run_is_a_clear_error_and_the_store_stays_clean() {
    let tmp = tempfile::tempdir().unwrap();
    // The RUN writes 30 MB into its (store-backed) upper directory.
    fill_then_grow(
        tmp.path(),
        "run",
        "RUN dd if=/dev/zero of=/zeros bs=1M count=30\n",
        0,
    );
}

/// A directory holding a fake `runc` running `script`.
fn fake_runc(dir: &Path, script: &str) -> std::path::PathBuf {
    let bin = dir.join("fake-bin");
    fs::create_dir_all(&bin).unwrap();
    let runc = bin.join("runc");
    fs::write(&runc, format!("#!/bin/sh\n{script}\n")).unwrap();
    fs::set_permissions(&runc, fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

fn build_with_runc(tmp: &Path, script: &str) -> String {
    let bin = fake_runc(tmp, script);
    let ctx = busybox_context(tmp, "ctx", "RUN echo hello > /hello\n");
    let root = tmp.join("store");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = hoist_command(&root)
        .args(["build", ctx.to_str().unwrap()])
        .env("PATH", path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_no_mounts(&root);
    assert_clean(&root);
    assert!(
        fs::read_dir(root.join("hoist/tmp"))
            .unwrap()
            .next()
            .is_none(),
        "temporary files left"
    );
    stderr
}

#[test]
fn a_failing_runtime_is_a_clear_error_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let stderr = build_with_runc(tmp.path(), "echo 'runc: broken on purpose' >&2; exit 1");
    assert!(
        stderr.contains("did not complete successfully: exit code: 1"),
        "{stderr}"
    );
    assert!(stderr.contains("runc: broken on purpose"), "{stderr}");
}

#[test]
fn a_killed_runtime_is_a_clear_error_and_leaves_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let stderr = build_with_runc(tmp.path(), "kill -9 $$");
    assert!(
        stderr.contains("the OCI runtime") && stderr.contains("runc was killed by signal 9"),
        "{stderr}"
    );
}

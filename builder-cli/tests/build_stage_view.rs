//! A step on a cached stage reads the stage through its layer snapshots (a read-only overlay
//! view), never by extracting the stage's layers again; a `COPY`'s diff becomes its layer's
//! snapshot; and the image is the same as with the naive snapshotter (which materialises
//! every layer from its blob).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod build_support;

use std::fs;
use std::path::Path;
use std::process::Output;

use build_support::{build, hoist, umoci_rootfs};

/// Busybox with `/etc/passwd` naming `app` (1000) and `/etc/group` naming `staff` (50), a
/// directory of files copied in, then a late `COPY` whose `--chown` names are read from the
/// stage and whose destination directory exists in a layer below, then a `RUN` that records
/// what it sees (mtimes included: those of an adopted snapshot must be the layer's).
const DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \
 && echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd \
 && printf 'root:x:0:\nstaff:x:50:app\napp:x:1000:\n' > /etc/group && ln -s /data /link
COPY many /data/many
COPY --chown=app:staff late.txt /link/
RUN ls -ln /data /data/many > /seen && stat -c '%n %y %u:%g %a' /data/many/* /data/late.txt >> /seen
"#;

fn context(dir: &Path) -> std::path::PathBuf {
    let ctx = dir.join("ctx");
    fs::create_dir_all(ctx.join("many")).unwrap();
    fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    for i in 0..50 {
        fs::write(ctx.join(format!("many/f{i:02}")), format!("file {i}\n")).unwrap();
    }
    fs::write(ctx.join("late.txt"), "late 0\n").unwrap();
    fs::write(ctx.join("Dockerfile"), DOCKERFILE).unwrap();
    ctx
}

/// Empties every layer blob of the store (files starting with the gzip magic): whatever
/// extracts one of them from now on fails.
fn empty_layer_blobs(root: &Path) -> usize {
    let mut emptied = 0;
    for entry in fs::read_dir(root.join("blobs/sha256")).unwrap() {
        let path = entry.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        if bytes.starts_with(&[0x1f, 0x8b]) {
            fs::write(&path, b"").unwrap();
            emptied += 1;
        }
    }
    emptied
}

fn snapshots(root: &Path) -> usize {
    fs::read_dir(root.join("hoist/snapshots"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            !name.to_string_lossy().starts_with('.')
        })
        .count()
}

#[test]
fn a_step_on_a_cached_stage_reads_snapshots_not_layer_blobs() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let epoch = Some("1700000000");
    let store = tmp.path().join("store");
    build(&store, &ctx, "view", epoch);
    // Each of the 6 layers has its snapshot, made from the diff (a COPY's) or the overlay
    // upper directory (a RUN's) that the layer was written from: nothing was extracted.
    assert_eq!(snapshots(&store), 6);
    assert_eq!(empty_layer_blobs(&store), 6);

    // Only the late input changes: the steps before it are cached, and the late COPY and the
    // RUN after it must not read any layer blob (they are all empty now).
    fs::write(ctx.join("late.txt"), "late 1\n").unwrap();
    let out = hoist(
        &store,
        &["build", "-t", "view", ctx.to_str().unwrap()],
        epoch,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "build failed:\n{stderr}");
    let overlay_digest = String::from_utf8(out.stdout).unwrap().trim().to_owned();

    // The same build from scratch with the naive snapshotter (every layer materialised from
    // its blob) gives the same image, byte for byte.
    let naive = tmp.path().join("naive");
    let out = naive_build(&naive, &ctx, epoch);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "naive build failed:\n{stderr}");
    let naive_digest = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(overlay_digest, naive_digest);
    assert!(
        !naive.join("hoist/snapshots").exists() || snapshots(&naive) == 0,
        "the naive snapshotter keeps no snapshots"
    );
}

/// `hoist build --snapshotter naive -t view CTX` into the store `root`.
fn naive_build(root: &Path, ctx: &Path, epoch: Option<&str>) -> Output {
    let ctx = ctx.to_str().unwrap();
    hoist(
        root,
        &["build", "--snapshotter", "naive", "-t", "view", ctx],
        epoch,
    )
}

/// With an epoch later than every mtime nothing is clamped: the snapshot adopted from a diff
/// must still have the layer's whole-second mtimes, as the last `RUN` sees them (its own files
/// have the time of each build, so the images differ; what it recorded must not).
#[test]
fn a_snapshot_adopted_from_a_diff_has_the_layers_mtimes() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path());
    let epoch = Some("4000000000");
    let overlay = tmp.path().join("a");
    build(&overlay, &ctx, "view", epoch);
    let naive = tmp.path().join("b");
    let out = naive_build(&naive, &ctx, epoch);
    assert!(out.status.success());
    let seen = |root: &Path, dir: &str| {
        let rootfs = umoci_rootfs(root, "view:latest", &tmp.path().join(dir));
        fs::read_to_string(rootfs.join("seen")).unwrap()
    };
    let (a, b) = (seen(&overlay, "ua"), seen(&naive, "ub"));
    assert!(a.contains(".000000000 "), "{a}");
    assert_eq!(a, b);
}

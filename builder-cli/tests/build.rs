//! `hoist build` end to end: real store, read back by skopeo and umoci.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;

mod build_support;

use build_support::{build, hoist, skopeo_config, umoci_rootfs};

const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../testdata/examples/scratch-copy"
);

/// Copies the example into `dest` with fixed modes (a checkout's umask varies).
fn example_context(dest: &Path) -> PathBuf {
    let context = dest.join("context");
    copy_tree(Path::new(EXAMPLE), &context);
    for dir in ["", "app", "app/sub"] {
        fs::set_permissions(context.join(dir), fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (file, mode) in [
        ("app/hello.txt", 0o644),
        ("app/sub/nested.txt", 0o644),
        ("app/run.sh", 0o755),
        ("Dockerfile", 0o644),
    ] {
        fs::set_permissions(context.join(file), fs::Permissions::from_mode(mode)).unwrap();
    }
    context
}

fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            symlink(fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            fs::copy(&src, &dst).unwrap();
        }
    }
}

fn blob_count(root: &Path) -> usize {
    fs::read_dir(root.join("blobs/sha256")).unwrap().count()
}

/// The step numbers the progress reports as CACHED.
fn cached_steps(progress: &str) -> Vec<String> {
    progress
        .lines()
        .filter_map(|l| l.strip_suffix(" CACHED"))
        .map(str::to_owned)
        .collect()
}

/// The `#N` of the step whose line contains `text`.
fn step_of(progress: &str, text: &str) -> String {
    let line = progress.lines().find(|l| l.contains(text)).unwrap();
    line.split(' ').next().unwrap().to_owned()
}

#[test]
fn scratch_copy_image_reads_back_with_skopeo_and_umoci() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = example_context(tmp.path());
    build(&root, &context, "scratch-copy", None);

    let config = skopeo_config(&root, "scratch-copy:latest");
    let c = &config["config"];
    assert_eq!(c["Labels"]["maintainer"], "hoist");
    assert_eq!(
        c["Labels"]["org.opencontainers.image.title"],
        "scratch-copy"
    );
    let env: Vec<&str> = c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(
        env,
        [
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "GREETING=hello",
            "APP_HOME=/srv/app"
        ]
    );
    assert_eq!(c["Cmd"], serde_json::json!(["/srv/app/run.sh"]));
    assert_eq!(c["WorkingDir"], "/srv");
    assert_eq!(
        c["ExposedPorts"],
        serde_json::json!({"53/udp": {}, "8080/tcp": {}})
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 4);

    let rootfs = umoci_rootfs(&root, "scratch-copy:latest", tmp.path());
    // (path, mode, content) — None for directories; owners are root:root.
    let expected: &[(&str, u32, Option<&str>)] = &[
        ("etc", 0o755, None),
        ("etc/greeting", 0o644, Some("hi\n")),
        ("etc/motd", 0o600, Some("hello from hoist\n")),
        ("srv", 0o755, None),
        ("srv/app", 0o755, None),
        ("srv/app/hello.txt", 0o644, Some("hello from hoist\n")),
        ("srv/app/run.sh", 0o755, Some("#!/bin/sh\necho run\n")),
        ("srv/app/sub", 0o755, None),
        ("srv/app/sub/nested.txt", 0o644, Some("nested\n")),
    ];
    for (path, mode, content) in expected {
        let meta = fs::symlink_metadata(rootfs.join(path)).unwrap();
        assert_eq!(meta.mode() & 0o7777, *mode, "{path}");
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "{path}");
        match content {
            Some(text) => assert_eq!(fs::read_to_string(rootfs.join(path)).unwrap(), *text),
            None => assert!(meta.is_dir(), "{path}"),
        }
    }
    let link = rootfs.join("srv/app/link.txt");
    assert!(fs::symlink_metadata(&link).unwrap().is_symlink());
    assert_eq!(fs::read_link(&link).unwrap(), Path::new("hello.txt"));
    assert!(!rootfs.join("srv/app/ignored.log").exists());
    assert!(!rootfs.join("srv/ignored.log").exists());

    let images = hoist(&root, &["images"], None);
    let listing = String::from_utf8(images.stdout).unwrap();
    assert!(listing.contains("scratch-copy:latest"), "{listing}");
}

#[test]
fn warm_rebuild_reuses_every_layer_and_one_change_rebuilds_one_copy() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = example_context(tmp.path());
    let (first, cold) = build(&root, &context, "warm", None);
    assert!(cached_steps(&cold).is_empty(), "{cold}");

    let blobs = blob_count(&root);
    let (second, warm) = build(&root, &context, "warm", None);
    assert_eq!(first, second);
    assert_eq!(blob_count(&root), blobs, "a warm rebuild writes no blob");
    let layer_steps = ["WORKDIR /srv", "/etc/greeting", "/etc/motd", "COPY app/"];
    let cached = cached_steps(&warm);
    for step in layer_steps {
        assert!(cached.contains(&step_of(&warm, step)), "{step}:\n{warm}");
    }

    // Touching a file without changing it (a new mtime, same content and mode) reuses the COPY.
    let touched = fs::File::options()
        .append(true)
        .open(context.join("app/sub/nested.txt"))
        .unwrap();
    touched
        .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(60))
        .unwrap();
    drop(touched);
    let (touched_digest, touched_log) = build(&root, &context, "warm", None);
    assert_eq!(touched_digest, first, "{touched_log}");
    assert_eq!(blob_count(&root), blobs, "a touched file writes no blob");
    assert!(
        cached_steps(&touched_log).contains(&step_of(&touched_log, "COPY app/")),
        "{touched_log}"
    );

    fs::write(context.join("app/sub/nested.txt"), "nesteD\n").unwrap();
    let (third, changed) = build(&root, &context, "warm", None);
    assert_ne!(third, first);
    let cached = cached_steps(&changed);
    assert_eq!(cached.len(), 3, "{changed}");
    assert!(
        !cached.contains(&step_of(&changed, "COPY app/")),
        "{changed}"
    );
}

#[test]
fn source_date_epoch_gives_the_same_digest_in_separate_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let context = example_context(tmp.path());
    let (a, _) = build(&tmp.path().join("a"), &context, "x", Some("0"));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (b, _) = build(&tmp.path().join("b"), &context, "x", Some("0"));
    assert_eq!(a, b);
    let config = skopeo_config(&tmp.path().join("a"), "x:latest");
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");
}

#[test]
fn copy_from_an_earlier_stage_with_numeric_chown() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = example_context(tmp.path());
    fs::write(
        context.join("Dockerfile"),
        "FROM scratch AS build\nCOPY app /out/\n\
         FROM build AS more\nCOPY app/hello.txt /out/extra\n\
         FROM scratch\nCOPY --from=more --chown=1000:1001 /out/sub/nested.txt /out/extra /dst/\n",
    )
    .unwrap();
    build(&root, &context, "multi", None);
    let bundle = tmp.path().join("bundle");
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:multi:latest", root.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nested = fs::metadata(bundle.join("rootfs/dst/nested.txt")).unwrap();
    assert_eq!((nested.uid(), nested.gid()), (1000, 1001));
    let extra = fs::read_to_string(bundle.join("rootfs/dst/extra")).unwrap();
    assert_eq!(extra, "hello from hoist\n");
}

#[test]
fn copying_a_directory_into_an_existing_one_keeps_its_metadata() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = example_context(tmp.path());
    fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nWORKDIR /srv\nCOPY --chmod=0700 app/sub .\nCOPY --chown=7 app/sub /new\n",
    )
    .unwrap();
    build(&root, &context, "dirs", Some("0"));
    let bundle = tmp.path().join("bundle");
    let out = Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:dirs:latest", root.display()))
        .arg(&bundle)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = |p: &str| fs::symlink_metadata(bundle.join("rootfs").join(p)).unwrap();
    assert_eq!(mode("srv").mode() & 0o7777, 0o755);
    assert_eq!(mode("srv/nested.txt").mode() & 0o7777, 0o700);
    let new = mode("new");
    assert_eq!((new.mode() & 0o7777, new.uid(), new.gid()), (0o755, 7, 7));
    assert_eq!(mode("new/nested.txt").uid(), 7);
}

fn failing_build(dockerfile: &str) -> String {
    failing_build_with(dockerfile, 1)
}

/// Builds `dockerfile`, which must fail with exit code `code`; returns standard error.
fn failing_build_with(dockerfile: &str, code: i32) -> String {
    let tmp = tempfile::tempdir().unwrap();
    let context = tmp.path().join("ctx");
    fs::create_dir(&context).unwrap();
    fs::write(context.join("a.txt"), "a").unwrap();
    fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    let out = hoist(
        &tmp.path().join("store"),
        &["build", context.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(code));
    assert!(out.stdout.is_empty());
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn unsupported_instructions_fail_clearly() {
    let stderr =
        failing_build("FROM scratch\nCOPY a.txt /\nRUN --mount=type=ssh,mode=0600 echo hi\n");
    assert!(
        stderr.contains("RUN --mount: mode/uid/gid on type=ssh is not supported yet"),
        "{stderr}"
    );
    assert!(stderr.contains("Dockerfile:3:1"), "{stderr}");

    // RUN runs now: in an image without a shell it fails with the runtime's words.
    let stderr = failing_build("FROM scratch\nCOPY a.txt /\nRUN echo hi\n");
    assert!(stderr.contains("did not complete successfully"), "{stderr}");
    assert!(stderr.contains("/bin/sh"), "{stderr}");

    let stderr = failing_build("FROM scratch\nCOPY --chown=app a.txt /\n");
    assert!(stderr.contains("--chown=app"), "{stderr}");
    assert!(stderr.contains("unable to find user app"), "{stderr}");

    // No registry is reachable from the tests: the pull fails, located at the FROM, and the
    // build exits 4 (a registry could not be reached).
    let stderr = failing_build_with("FROM scratch\nCOPY a.txt /\nFROM 127.0.0.1:1/alpine\n", 4);
    assert!(
        stderr.contains("cannot pull 127.0.0.1:1/alpine:latest"),
        "{stderr}"
    );
    assert!(stderr.contains("Dockerfile:3:1"), "{stderr}");

    let stderr = failing_build("FROM scratch\nCOPY a.txt Dockerfile /dir\n");
    assert!(stderr.contains("must be a directory"), "{stderr}");
}

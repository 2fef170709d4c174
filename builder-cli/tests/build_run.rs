//! `hoist build` with RUN steps, end to end: real runc, real overlayfs, a busybox base made
//! here (busybox-static's binary copied into a scratch image), images read back with umoci
//! and run with runc.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{layout_blob, layout_manifest, unpack};

const BUSYBOX: &str = "/bin/busybox";

/// The lines every test's Dockerfile starts with: busybox and its applets, `/etc/passwd` with
/// a user `app` (1000) and a group `staff` (50) it is a member of.
const BASE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc /tmp && chmod 1777 /tmp \
 && echo 'root:x:0:0:root:/root:/bin/sh' > /etc/passwd \
 && echo 'app:x:1000:1000:app:/home/app:/bin/sh' >> /etc/passwd \
 && printf 'root:x:0:\nstaff:x:50:app\napp:x:1000:\n' > /etc/group
"#;

fn context(tmp: &Path, dockerfile: &str) -> PathBuf {
    let dir = tmp.join("context");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(BUSYBOX, dir.join("busybox")).unwrap();
    fs::write(dir.join("Dockerfile"), format!("{BASE}{dockerfile}")).unwrap();
    dir
}

fn hoist(root: &Path, args: &[&str], epoch: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoist"));
    cmd.args(args)
        .env("HOIST_ROOT", root)
        .env_remove("SOURCE_DATE_EPOCH")
        .env_remove("HOIST_RUNTIME");
    if let Some(e) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", e);
    }
    cmd.output().expect("run hoist")
}

fn build_with(
    root: &Path,
    context: &Path,
    extra: &[&str],
    epoch: Option<&str>,
) -> (String, String) {
    let mut args = vec!["build", "-t", "img"];
    args.extend_from_slice(extra);
    args.push(context.to_str().unwrap());
    let out = hoist(root, &args, epoch);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{stderr}");
    (
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        stderr,
    )
}

fn config(root: &Path) -> serde_json::Value {
    let manifest = layout_manifest(root);
    let config = layout_blob(root, manifest["config"]["digest"].as_str().unwrap());
    serde_json::from_slice(&fs::read(config).unwrap()).unwrap()
}

fn read(rootfs: &Path, path: &str) -> String {
    fs::read_to_string(rootfs.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Nothing of the store under `root` is still mounted.
fn assert_no_mounts(root: &Path) {
    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    let root = root.to_str().unwrap();
    assert!(!mounts.contains(root), "left mounted:\n{mounts}");
}

/// No runc container of the hoist process `pid` is left.
fn assert_no_containers(pid: u32) {
    let out = Command::new("runc").arg("list").output().unwrap();
    let list = String::from_utf8_lossy(&out.stdout);
    assert!(!list.contains(&format!("hoist-{pid}-")), "{list}");
}

#[test]
fn run_forms_layers_users_and_env_in_the_image() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let dockerfile = r#"RUN mkdir -p /data/keep /data/replaced && echo old > /data/changed \
 && echo gone > /data/deleted && echo a > /data/replaced/a && echo b > /data/replaced/b
RUN echo new > /data/changed && rm /data/deleted && rm -rf /data/replaced \
 && mkdir /data/replaced && echo c > /data/replaced/c
ARG BUILD_ONLY=from-arg
ENV FROM_ENV=env-value
RUN echo "$BUILD_ONLY $FROM_ENV" > /data/env.txt
RUN ["/bin/sh", "-c", "echo exec-form > /data/exec.txt"]
RUN <<EOF
echo heredoc-one > /data/heredoc.txt
echo heredoc-two >> /data/heredoc.txt
EOF
RUN <<EOF
#!/bin/sh
echo "shebang $0" > /data/shebang.txt
EOF
WORKDIR /work/dir
RUN pwd > /data/pwd.txt
USER app
RUN id -u > /tmp/uid-name && id -G > /tmp/groups-name
USER 1000:50
RUN id -u > /tmp/uid-number && id -g > /tmp/gid-number
USER root
RUN cat /proc/self/status | grep CapEff > /data/caps.txt
"#;
    let ctx = context(tmp.path(), dockerfile);
    let (_, progress) = build_with(&root, &ctx, &[], None);
    assert!(progress.contains("DONE"), "{progress}");
    let config = config(&root);
    let env = config["config"]["Env"].to_string();
    assert!(env.contains("FROM_ENV=env-value"), "{env}");
    assert!(
        !env.contains("BUILD_ONLY"),
        "ARG leaked into the config: {env}"
    );

    let bundle = tmp.path().join("bundle");
    let rootfs = unpack(&root, &bundle);
    assert_eq!(read(&rootfs, "data/changed"), "new\n");
    assert!(!rootfs.join("data/deleted").exists());
    assert!(rootfs.join("data/keep").is_dir());
    assert!(!rootfs.join("data/replaced/a").exists(), "opaque directory");
    assert_eq!(read(&rootfs, "data/replaced/c"), "c\n");
    assert_eq!(read(&rootfs, "data/env.txt"), "from-arg env-value\n");
    assert_eq!(read(&rootfs, "data/exec.txt"), "exec-form\n");
    assert_eq!(
        read(&rootfs, "data/heredoc.txt"),
        "heredoc-one\nheredoc-two\n"
    );
    assert_eq!(
        read(&rootfs, "data/shebang.txt"),
        "shebang /dev/pipes/EOF\n"
    );
    assert_eq!(read(&rootfs, "data/pwd.txt"), "/work/dir\n");
    assert_eq!(read(&rootfs, "tmp/uid-name"), "1000\n");
    assert_eq!(read(&rootfs, "tmp/groups-name").trim(), "1000 50");
    assert_eq!(read(&rootfs, "tmp/uid-number"), "1000\n");
    assert_eq!(read(&rootfs, "tmp/gid-number"), "50\n");
    assert_eq!(
        fs::metadata(rootfs.join("tmp/uid-name")).unwrap().uid(),
        1000
    );
    // Docker's default capability set: 0x00000000a80425fb.
    assert_eq!(
        read(&rootfs, "data/caps.txt").trim(),
        "CapEff:\t00000000a80425fb"
    );
    // Mount points of the runtime are not in any layer.
    for path in [
        "etc/resolv.conf",
        "etc/hosts",
        "proc",
        "sys",
        "dev",
        "dev/pipes",
    ] {
        assert!(!rootfs.join(path).exists(), "{path} leaked into the image");
    }

    // The image runs with runc on umoci's bundle.
    let mut spec: serde_json::Value =
        serde_json::from_slice(&fs::read(bundle.join("config.json")).unwrap()).unwrap();
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["/bin/cat", "/data/changed", "/data/replaced/c"]);
    fs::write(bundle.join("config.json"), spec.to_string()).unwrap();
    let id = format!("hoist-test-{}", std::process::id());
    let out = Command::new("runc")
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "new\nc\n");

    // A warm rebuild runs nothing and mounts nothing.
    let before = fs::read_dir(root.join("hoist/snapshots")).unwrap().count();
    let (_, progress) = build_with(&root, &ctx, &[], None);
    let runs: Vec<&str> = progress
        .lines()
        .filter(|l| l.contains("] RUN "))
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    for id in &runs {
        assert!(progress.contains(&format!("{id} CACHED")), "{progress}");
    }
    assert_eq!(
        fs::read_dir(root.join("hoist/snapshots")).unwrap().count(),
        before
    );
    assert_no_mounts(&root);

    // A fully cached rebuild reads no layer: with every snapshot gone and every layer blob
    // overwritten with zeros (same size, so the cache still trusts it), it still gives the
    // same image and extracts nothing.
    let (digest, _) = build_with(&root, &ctx, &[], None);
    fs::remove_dir_all(root.join("hoist/snapshots")).unwrap();
    fs::create_dir(root.join("hoist/snapshots")).unwrap();
    for layer in layer_digests(&root) {
        let path = root.join("blobs/sha256").join(layer);
        let size = fs::metadata(&path).unwrap().len();
        fs::write(&path, vec![0u8; usize::try_from(size).unwrap()]).unwrap();
    }
    let (again, _) = build_with(&root, &ctx, &[], None);
    assert_eq!(digest, again);
    assert_eq!(
        fs::read_dir(root.join("hoist/snapshots")).unwrap().count(),
        0
    );
}

/// The hex digests of `img:latest`'s layers.
fn layer_digests(root: &Path) -> Vec<String> {
    layout_manifest(root)["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
                .to_owned()
        })
        .collect()
}

#[test]
fn run_is_isolated_from_the_host() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let marker = tmp.path().join("host-marker");
    fs::write(&marker, "host").unwrap();
    let dockerfile = format!(
        r#"RUN ls /proc | grep -c '^[0-9]' > /procs.txt
RUN test ! -e {marker} && ! echo x > /proc/sysrq-trigger && echo isolated > /isolated.txt
RUN --network=none ls /sys/class/net > /net-none.txt
RUN --network=host ls /sys/class/net > /net-host.txt
"#,
        marker = marker.display()
    );
    let ctx = context(tmp.path(), &dockerfile);
    build_with(&root, &ctx, &[], None);
    let rootfs = unpack(&root, &tmp.path().join("bundle"));
    // ls and grep and the shell: a handful of processes, never the host's.
    let procs: u32 = read(&rootfs, "procs.txt").trim().parse().unwrap();
    assert!(procs <= 4, "{procs} processes visible");
    assert_eq!(read(&rootfs, "isolated.txt"), "isolated\n");
    assert_eq!(read(&rootfs, "net-none.txt"), "lo\n");
    assert_ne!(read(&rootfs, "net-host.txt"), "lo\n");
    assert_eq!(fs::read_to_string(&marker).unwrap(), "host");
}

#[test]
fn a_failing_run_reports_command_code_and_output_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(
        tmp.path(),
        "RUN for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do echo line-$i; done; exit 3\n",
    );
    let out = hoist(&root, &["build", ctx.to_str().unwrap()], None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("did not complete successfully: exit code: 3"),
        "{stderr}"
    );
    assert!(stderr.contains("for i in 1 2 3"), "{stderr}");
    assert!(
        stderr.contains("line-25") && stderr.contains("line-6\n"),
        "{stderr}"
    );
    assert!(stderr.contains("hoist/logs/"), "{stderr}");
    let logs: Vec<_> = fs::read_dir(root.join("hoist/logs")).unwrap().collect();
    let log = fs::read_to_string(logs[0].as_ref().unwrap().path()).unwrap();
    assert!(
        log.contains("line-1\n") && log.contains("line-25\n"),
        "{log}"
    );
    assert_no_mounts(&root);
    assert!(
        fs::read_dir(root.join("hoist/tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn sigint_mid_run_kills_the_container_and_cleans_up() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), "RUN echo started && sleep 60\n");
    let child = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["build", ctx.to_str().unwrap()])
        .env("HOIST_ROOT", &root)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let log_dir = root.join("hoist/logs");
    let started = Instant::now();
    loop {
        let running = fs::read_dir(&log_dir)
            .map(|d| {
                d.flatten().any(|e| {
                    fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .contains("started")
                })
            })
            .unwrap_or(false);
        if running {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "RUN never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "the container was not killed"
    );
    // Exit 128 + SIGINT, as shells report an interrupted command.
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("cancelled"), "{stderr}");
    assert_no_containers(pid);
    assert_no_mounts(&root);
    assert!(
        fs::read_dir(root.join("hoist/tmp"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn a_deep_image_of_200_layers_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(tmp.path(), "");
    let mut dockerfile = fs::read_to_string(ctx.join("Dockerfile")).unwrap();
    fs::write(ctx.join("f"), "x").unwrap();
    for i in 0..200 {
        dockerfile.push_str(&format!("COPY f /deep/{i}\n"));
    }
    dockerfile.push_str("RUN ls /deep | wc -l > /count && rm /deep/0\n");
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    build_with(&root, &ctx, &["--compression", "none"], None);
    let rootfs = unpack(&root, &tmp.path().join("bundle"));
    assert_eq!(read(&rootfs, "count").trim(), "200");
    assert!(!rootfs.join("deep/0").exists());
    assert!(rootfs.join("deep/199").exists());
    assert_no_mounts(&root);
}

#[test]
fn naive_and_overlay_snapshotters_give_the_same_image() {
    let tmp = tempfile::tempdir().unwrap();
    let dockerfile = "RUN mkdir -p /a/b && echo 1 > /a/b/f && echo 2 > /a/g\n\
                      RUN echo 3 > /a/b/f && rm /a/g && ln -s /a/b/f /a/link && ln /a/b/f /a/hard\n";
    let ctx = context(tmp.path(), dockerfile);
    let epoch = Some("1700000000");
    let (overlay, _) = build_with(
        &tmp.path().join("s1"),
        &ctx,
        &["--snapshotter", "overlay"],
        epoch,
    );
    let (naive, _) = build_with(
        &tmp.path().join("s2"),
        &ctx,
        &["--snapshotter", "naive"],
        epoch,
    );
    assert_eq!(overlay, naive);
}

#[test]
fn a_missing_runtime_says_how_to_install_it() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path(), "");
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["build", "--runtime", "crun", ctx.to_str().unwrap()])
        .env("HOIST_ROOT", tmp.path().join("store"))
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("apt-get install crun"), "{stderr}");
}

#[test]
fn insecure_runs_need_the_entitlement() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path(), "RUN --security=insecure true\n");
    let out = hoist(
        &tmp.path().join("store"),
        &["build", ctx.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("security.insecure"), "{stderr}");
}

/// Ports of BuildKit's `testIgnoreEntrypoint`, `testEmptyStringArgInEnv`,
/// `testDockerfileInvalidCommand` (dockerfile_test.go).
#[test]
fn buildkit_run_behaviours() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(
        tmp.path(),
        "ENTRYPOINT [\"/nosuchcmd\"]\nARG BAR=\nARG FOO\nRUN [\"ls\"]\nRUN env > /env.txt\n",
    );
    build_with(&root, &ctx, &[], None);
    let rootfs = unpack(&root, &tmp.path().join("bundle"));
    let env = read(&rootfs, "env.txt");
    assert!(env.lines().any(|l| l == "BAR="), "{env}");
    assert!(!env.lines().any(|l| l.starts_with("FOO=")), "{env}");

    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path(), "RUN invalidcmd\n");
    let out = hoist(
        &tmp.path().join("store"),
        &["build", ctx.to_str().unwrap()],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("/bin/sh -c invalidcmd"), "{stderr}");
    assert!(stderr.contains("did not complete successfully"), "{stderr}");
}

/// Ports of BuildKit's `testUser` and `testUserAdditionalGids` (dockerfile_test.go).
#[test]
fn buildkit_user_behaviours() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(
        tmp.path(),
        "RUN mkdir -m 0777 /out && echo 'nobody:x:65534:65534::/:/bin/sh' >> /etc/passwd\n\
         USER app\nRUN id -u > /out/name && id -g >> /out/name && id -G >> /out/name\n\
         USER 1000\nRUN id -u > /out/uid && id -g >> /out/uid\n\
         USER app:staff\nRUN id -u > /out/name-group && id -g >> /out/name-group && id -G >> /out/name-group\n\
         USER 1000:1001\nRUN id -u > /out/uid-gid && id -g >> /out/uid-gid\n\
         USER 1000:staff\nRUN id -g > /out/uid-groupname\n\
         USER 1234\nRUN id -u > /out/unknown && id -g >> /out/unknown && id -G >> /out/unknown\n\
         USER nobody\n",
    );
    build_with(&root, &ctx, &[], None);
    assert_eq!(config(&root)["config"]["User"], "nobody");
    let rootfs = unpack(&root, &tmp.path().join("bundle"));
    assert_eq!(read(&rootfs, "out/name"), "1000\n1000\n1000 50\n");
    assert_eq!(read(&rootfs, "out/uid"), "1000\n1000\n");
    assert_eq!(read(&rootfs, "out/name-group"), "1000\n50\n50\n");
    assert_eq!(read(&rootfs, "out/uid-gid"), "1000\n1001\n");
    assert_eq!(read(&rootfs, "out/uid-groupname"), "50\n");
    // An unknown uid gets gid 0, which is also its (only) group.
    assert_eq!(read(&rootfs, "out/unknown"), "1234\n0\n0\n");
}

/// Ports of BuildKit's heredoc RUN cases (dockerfile_heredoc_test.go): `testRunBasicHeredoc`,
/// `testRunFakeHeredoc`, `testRunShebangHeredoc`, `testRunComplexHeredoc`, `testHeredocIndent`;
/// and `testEnvEmptyFormatting`, `testMultiArgs` (the in-stage part).
#[test]
fn buildkit_heredoc_and_env_behaviours() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let dockerfile = "RUN mkdir /dest\n\
RUN <<EOF\necho i am > /dest/basic\nid -un >> /dest/basic\nEOF\n\
RUN <<EOF\n#!/bin/awk -f\nBEGIN { print \"shebang\" > \"/dest/shebang\" }\nEOF\n\
RUN <<-EOF\n\t#!/bin/awk -f\n\tBEGIN { print \"chomped\" > \"/dest/chomped\" }\nEOF\n\
RUN cat <<EOF1 | tr '[:upper:]' '[:lower:]' > /dest/piped\nHELLO WORLD\nEOF1\n\
RUN cat /proc/self/fd/3 /proc/self/fd/4 > /dest/fds 3<<IN1 4<<IN2\nfd3\nIN1\nfd4\nIN2\n\
RUN <<EOF\n\techo tabs kept > /dest/tabs\nEOF\n\
RUN <<EOF sh > /dest/redirect\necho redirected\nEOF\n\
ENV myenv foo%sbar\n\
RUN echo -n \"$myenv\" > /dest/env-format\n\
ARG a1=\"foo bar\" a2=box\n\
RUN echo \"$a1:$a2\" > /dest/multi-args\n\
SHELL [\"/bin/awk\"]\n\
RUN <<EOF\nBEGIN { print \"fake\" > \"/dest/fake\" }\nEOF\n";
    let ctx = context(tmp.path(), dockerfile);
    build_with(&root, &ctx, &[], None);
    let rootfs = unpack(&root, &tmp.path().join("bundle"));
    assert_eq!(read(&rootfs, "dest/basic"), "i am\nroot\n");
    assert_eq!(read(&rootfs, "dest/shebang"), "shebang\n");
    assert_eq!(read(&rootfs, "dest/chomped"), "chomped\n");
    assert_eq!(read(&rootfs, "dest/piped"), "hello world\n");
    assert_eq!(read(&rootfs, "dest/fds"), "fd3\nfd4\n");
    assert_eq!(read(&rootfs, "dest/tabs"), "tabs kept\n");
    assert_eq!(read(&rootfs, "dest/redirect"), "redirected\n");
    assert_eq!(read(&rootfs, "dest/env-format"), "foo%sbar");
    assert_eq!(read(&rootfs, "dest/multi-args"), "foo bar:box\n");
    assert_eq!(read(&rootfs, "dest/fake"), "fake\n");
}

/// Ports of BuildKit's `testNoCache` (every RUN reruns) and `testInvalidJSONCommands`.
#[test]
fn buildkit_no_cache_and_invalid_json() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(
        tmp.path(),
        "RUN cat /proc/sys/kernel/random/uuid > /random\n",
    );
    let (first, _) = build_with(&root, &ctx, &[], None);
    let (cached, _) = build_with(&root, &ctx, &[], None);
    assert_eq!(first, cached);
    let (fresh, _) = build_with(&root, &ctx, &["--no-cache"], None);
    assert_ne!(first, fresh);

    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(tmp.path(), "RUN [\"echo\", \"hello\"]this is invalid\n");
    let out = hoist(
        &tmp.path().join("store"),
        &["build", ctx.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("this is invalid"), "{stderr}");
}

//! `hoist build` with `RUN --mount` (cache, bind, tmpfs, secret, ssh) and concurrent stages,
//! end to end: real runc, real overlayfs, the busybox base of `build_run.rs`; images read back
//! with umoci. Includes ports of BuildKit's mount and secret tests (dockerfile_mount_test.go,
//! dockerfile_secrets_test.go).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::{files_under, layout_blob, layout_manifest, unpack};

const BUSYBOX: &str = "/bin/busybox";

/// busybox and its applets.
const BASE: &str = r#"FROM scratch AS base
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc /tmp /run && chmod 1777 /tmp
"#;

/// The tests of this file run one at a time: the timing test must not compete for the CPU with
/// its neighbours' containers.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn context(tmp: &Path, dockerfile: &str) -> PathBuf {
    let dir = tmp.join("context");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(BUSYBOX, dir.join("busybox")).unwrap();
    fs::write(dir.join("Dockerfile"), format!("{BASE}{dockerfile}")).unwrap();
    dir
}

fn hoist(root: &Path, args: &[&str]) -> Output {
    // `--epoch N` (first) sets SOURCE_DATE_EPOCH for this run.
    let (epoch, args) = match args {
        ["--epoch", n, rest @ ..] => (Some(*n), rest),
        _ => (None, args),
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoist"));
    if let Some(n) = epoch {
        cmd.env("SOURCE_DATE_EPOCH", n);
    } else {
        cmd.env_remove("SOURCE_DATE_EPOCH");
    }
    cmd.args(args)
        .env("HOIST_ROOT", root)
        .env_remove("HOIST_RUNTIME")
        .env_remove("SSH_AUTH_SOCK")
        .output()
        .expect("run hoist")
}

fn build_with(root: &Path, context: &Path, extra: &[&str]) -> (String, String) {
    let mut args = match extra {
        ["--epoch", n, ..] => vec!["--epoch", n],
        _ => Vec::new(),
    };
    let extra = extra
        .strip_prefix(&["--epoch"][..])
        .map_or(extra, |r| &r[1..]);
    args.extend(["build", "-t", "img"]);
    args.extend_from_slice(extra);
    args.push(context.to_str().unwrap());
    let out = hoist(root, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "build failed:\n{stderr}");
    validate(root);
    (
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        stderr,
    )
}

fn failing_build(root: &Path, context: &Path, extra: &[&str]) -> String {
    let mut args = vec!["build"];
    args.extend_from_slice(extra);
    args.push(context.to_str().unwrap());
    let out = hoist(root, &args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "build succeeded:\n{stderr}");
    stderr
}

/// The image's manifest and config pass the OCI schemas.
fn validate(root: &Path) {
    use builder_core::image::validate::{DocumentKind, SchemaValidator};
    let m = layout_manifest(root);
    let v = SchemaValidator::new();
    v.validate(DocumentKind::Manifest, &serde_json::to_vec(&m).unwrap())
        .unwrap();
    let config = fs::read(layout_blob(root, m["config"]["digest"].as_str().unwrap())).unwrap();
    v.validate(DocumentKind::Config, &config).unwrap();
}

fn read(rootfs: &Path, path: &str) -> String {
    fs::read_to_string(rootfs.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn exists(rootfs: &Path, path: &str) -> bool {
    fs::symlink_metadata(rootfs.join(path)).is_ok()
}

fn assert_no_mounts(root: &Path) {
    let mounts = fs::read_to_string("/proc/mounts").unwrap();
    let root = root.to_str().unwrap();
    assert!(!mounts.contains(root), "left mounted:\n{mounts}");
}

fn sha256sum(bytes: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Whether `needle` is in any file under `dir`, or in any gzip blob decompressed.
fn store_contains(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    let mut files = Vec::new();
    files_under(dir, &mut files);
    let has = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    for file in files {
        let bytes = fs::read(&file).unwrap();
        if has(&bytes) {
            return Some(file);
        }
        if bytes.starts_with(&[0x1f, 0x8b]) {
            let plain = Command::new("gzip")
                .arg("-dc")
                .arg(&file)
                .output()
                .unwrap()
                .stdout;
            assert!(!plain.is_empty(), "{}", file.display());
            if has(&plain) {
                return Some(file);
            }
        }
    }
    None
}

/// Cache mounts: persisted between builds in the store, never in a layer; default id is the
/// target; uid/gid/mode; a `source` leading out through a symlink fails. Ports of BuildKit's
/// `testCacheMountUser`, `testCacheMountDefaultID`, `testCacheMountSourceEscape`.
#[test]
fn cache_mounts_persist_and_stay_out_of_layers() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(
        tmp.path(),
        r#"RUN --mount=type=cache,target=/var/cache/app,id=app-cache \
    echo run >> /var/cache/app/log && cat /var/cache/app/log > /seen
RUN --mount=type=cache,target=/mycache,uid=1001,gid=1002,mode=0751 \
    stat -c "%u %g %f" /mycache > /cache-stat
RUN --mount=type=cache,target=/c1 touch /c1/foo
RUN --mount=type=cache,target=/c2 [ ! -f /c2/foo ]
RUN --mount=type=cache,target=/c1,sharing=locked [ -f /c1/foo ]
RUN --mount=type=cache,target=/c1,sharing=private ls /c1 > /private-ls
RUN --mount=type=cache,target=/c1,ro [ -f /c1/foo ] && ! touch /c1/bar 2>/dev/null
"#,
    );
    build_with(&root, &ctx, &[]);
    let rootfs = unpack(&root, &tmp.path().join("b1"));
    assert_eq!(read(&rootfs, "seen"), "run\n");
    assert_eq!(read(&rootfs, "cache-stat"), "1001 1002 41e9\n");
    assert_eq!(read(&rootfs, "private-ls"), "foo\n");
    for target in ["var/cache/app", "mycache", "c1", "c2"] {
        assert!(!exists(&rootfs, target), "{target} is in the image");
    }
    assert!(!exists(&rootfs, "var"), "/var was made for the mount only");
    // A second build (no cache for steps) finds the cache mount's content of the first.
    build_with(&root, &ctx, &["--no-cache"]);
    let rootfs = unpack(&root, &tmp.path().join("b2"));
    assert_eq!(read(&rootfs, "seen"), "run\nrun\n");
    assert!(!exists(&rootfs, "var/cache/app"));
    assert!(root.join("hoist/cache-mounts").is_dir() || root.join("cache-mounts").is_dir());
    assert_no_mounts(&root);

    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(
        tmp.path(),
        r#"RUN --mount=type=cache,target=/c,id=esc ln -s /etc /c/foo
RUN --mount=type=cache,target=/x,id=esc,source=foo ls /x
"#,
    );
    let stderr = failing_build(&tmp.path().join("store"), &ctx, &[]);
    assert!(stderr.contains("escapes the cache directory"), "{stderr}");
}

/// Bind mounts: the context by default (read-only, `.dockerignore` applied), a file, a stage
/// `rw` with writes discarded; keys follow the bound files only. Ports of BuildKit's
/// `testMountContext`, `testMountRWCache`, `testMountDuplicate`.
#[test]
fn bind_mounts_from_context_and_stages() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(
        tmp.path(),
        r#"FROM base AS build
RUN mkdir -p /out && echo built > /out/foo
FROM base
RUN --mount=source=testfile,target=/testfile [ "$(cat /testfile)" = "contents0" ]
RUN --mount=from=build,src=out,target=/out,rw touch /out/bar && cat /out/foo > /foo-contents
RUN --mount=from=build,src=out,target=/out [ ! -f /out/bar ] && ls /out > /out-ls
RUN --mount=target=/context --mount=source=a.txt,target=/a.txt \
    [ "$(cat /context/testfile)" = "contents0" ] && [ ! -e /context/ignored.txt ] \
    && ! touch /context/new 2>/dev/null && cat /context/a.txt /a.txt > /a-twice
"#,
    );
    fs::write(ctx.join("testfile"), "contents0").unwrap();
    fs::write(ctx.join("ignored.txt"), "x").unwrap();
    fs::write(ctx.join(".dockerignore"), "ignored.txt\n").unwrap();
    fs::write(ctx.join("a.txt"), "a1\n").unwrap();
    fs::write(ctx.join("b.txt"), "b1\n").unwrap();
    build_with(&root, &ctx, &[]);
    let rootfs = unpack(&root, &tmp.path().join("b1"));
    assert_eq!(read(&rootfs, "foo-contents"), "built\n");
    assert_eq!(read(&rootfs, "out-ls"), "foo\n");
    assert_eq!(read(&rootfs, "a-twice"), "a1\na1\n");
    for target in ["context", "out", "testfile", "a.txt"] {
        assert!(!exists(&rootfs, target), "{target} is in the image");
    }
    // Only the last RUN binds a.txt: it alone reruns, and a.txt's new content shows.
    fs::write(ctx.join("a.txt"), "a2\n").unwrap();
    let (_, stderr) = build_with(&root, &ctx, &[]);
    let rootfs = unpack(&root, &tmp.path().join("b2"));
    assert_eq!(read(&rootfs, "a-twice"), "a2\na2\n");
    let cached = stderr.lines().filter(|l| l.ends_with(" CACHED")).count();
    assert_eq!(cached, 7, "{stderr}");
    assert_no_mounts(&root);
}

/// tmpfs mounts: nothing written there is kept; `size`. Ports of BuildKit's `testMountTmpfs`,
/// `testMountTmpfsSize`, `testMountEnvVar`, `testMountArg`, `testMountMetaArg`,
/// `testMountEnvAcrossStages`.
#[test]
fn tmpfs_mounts_and_variables_in_mount_options() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = context(
        tmp.path(),
        r#"ENV SOME_PATH=/mnt/path MNT_TYPE2=cache MNT_ID=shared-id
ARG MNT_TYPE=tmpfs
RUN --mount=type=tmpfs,target=/mytmp echo gone > /mytmp/file && ls /mytmp > /tmp-ls
RUN --mount=type=tmpfs,target=/dev/shm,size=128m grep /dev/shm /proc/mounts > /shm-mount
RUN --mount=target=$SOME_PATH,type=tmpfs touch $SOME_PATH/foo && echo ok > /env-target
RUN --mount=type=$MNT_TYPE,target=/argmnt touch /argmnt/x && grep -q /argmnt /proc/mounts
FROM base AS child
RUN --mount=type=$MNT_TYPE2,id=$MNT_ID,target=/cache1 touch /cache1/shared
FROM child
RUN --mount=type=$MNT_TYPE2,id=$MNT_ID,target=/cache2 [ -f /cache2/shared ] && echo ok > /inherited
"#,
    );
    // The last two stages need the env of the first: rebuild them on it.
    let text = fs::read_to_string(ctx.join("Dockerfile")).unwrap();
    let text = text.replace(
        "FROM base AS child",
        "FROM base AS envbase\nENV MNT_TYPE2=cache MNT_ID=shared-id\nFROM envbase AS child",
    );
    fs::write(ctx.join("Dockerfile"), text).unwrap();
    build_with(&root, &ctx, &[]);
    let rootfs = unpack(&root, &tmp.path().join("b1"));
    assert_eq!(read(&rootfs, "inherited"), "ok\n");
    assert!(!exists(&rootfs, "cache1") && !exists(&rootfs, "cache2"));

    let ctx2 = tmp.path().join("two");
    fs::create_dir_all(&ctx2).unwrap();
    let first = context(
        &ctx2,
        r#"ENV SOME_PATH=/mnt/path
ARG MNT_TYPE=tmpfs
RUN --mount=type=tmpfs,target=/mytmp echo gone > /mytmp/file && ls /mytmp > /tmp-ls
RUN --mount=type=tmpfs,target=/dev/shm,size=128m grep /dev/shm /proc/mounts > /shm-mount
RUN --mount=target=$SOME_PATH,type=tmpfs touch $SOME_PATH/foo && echo ok > /env-target
RUN --mount=type=$MNT_TYPE,target=/argmnt touch /argmnt/x && grep -q /argmnt /proc/mounts
"#,
    );
    build_with(&root, &first, &[]);
    let rootfs = unpack(&root, &tmp.path().join("b2"));
    assert_eq!(read(&rootfs, "tmp-ls"), "file\n");
    assert!(!exists(&rootfs, "mytmp"));
    assert!(read(&rootfs, "shm-mount").contains("size=131072k"));
    assert_eq!(read(&rootfs, "env-target"), "ok\n");
    assert!(
        !exists(&rootfs, "mnt"),
        "the $SOME_PATH mount point is in the image"
    );
    assert!(!exists(&rootfs, "argmnt"));
    assert_no_mounts(&root);
}

/// Meta ARGs in mount options, `from` with a variable, typos. Ports of BuildKit's
/// `testMountMetaArg`, `testMountFromError`, `testMountInvalid`.
#[test]
fn mount_option_errors_and_meta_args() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let dir = tmp.path().join("meta");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(BUSYBOX, dir.join("busybox")).unwrap();
    fs::write(
        dir.join("Dockerfile"),
        format!(
            "ARG META_PATH=/tmp/meta\n{BASE}ARG META_PATH\n\
             RUN --mount=type=cache,id=mycache,target=$META_PATH [ -d /tmp/meta ] \
             && echo ok > /meta-ok\n"
        ),
    )
    .unwrap();
    build_with(&root, &dir, &[]);
    let rootfs = unpack(&root, &tmp.path().join("b1"));
    assert_eq!(read(&rootfs, "meta-ok"), "ok\n");

    for (dockerfile, expected) in [
        (
            "ENV ttt=base\nRUN --mount=from=$ttt,type=cache,target=/tmp ls\n",
            "'from' doesn't support variable expansion, define alias stage instead",
        ),
        (
            "RUN --mont=target=/mytmp,type=tmpfs /bin/true\n",
            "unknown flag --mont for RUN (known: --mount",
        ),
        (
            "RUN --mount=typ=tmpfs,target=/mytmp /bin/true\n",
            "unexpected key 'typ'",
        ),
        (
            "RUN --mount=type=tmp,target=/mytmp /bin/true\n",
            "invalid value \"tmp\" for mount type: expected one of bind, cache, tmpfs",
        ),
    ] {
        let t = tempfile::tempdir().unwrap();
        let ctx = context(t.path(), dockerfile);
        let stderr = failing_build(&t.path().join("store"), &ctx, &[]);
        assert!(stderr.contains(expected), "{dockerfile}: {stderr}");
    }
}

const SECRET: &str = "s3cr3t-Value-7e1d9a";

/// Secrets as files and env vars: present during the step, absent from every layer, the
/// config, the history, the logs, the whole store. Ports of BuildKit's `testSecretFileParams`,
/// `testSecretAsEnviron`, `testSecretAsEnvironWithFileMount`, `testSecretRequiredWithoutValue`.
#[test]
fn secrets_reach_the_step_and_nothing_else() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let secret_file = tmp.path().join("token.txt");
    fs::write(&secret_file, SECRET).unwrap();
    let ctx = context(
        tmp.path(),
        r#"RUN --mount=type=secret,id=tok sha256sum < /run/secrets/tok > /file-sum
RUN --mount=type=secret,id=tok,mode=741,uid=100,gid=102,target=/mysecret \
    stat -c "%u %g %f" /mysecret > /secret-stat
RUN --mount=type=secret,id=envtok,env=SECRET_ENV \
    printf %s "$SECRET_ENV" | sha256sum > /env-sum && [ ! -e /run/secrets/envtok ] \
    && echo no-file > /env-only
RUN --mount=type=secret,id=envtok,env=SECRET_ENV,target=/both \
    [ "$SECRET_ENV" = "$(cat /both)" ] && echo same > /both-ok
RUN --mount=type=secret,id=absent [ ! -e /run/secrets/absent ] && echo skipped > /absent
"#,
    );
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["build", "-t", "img", "--secret"])
        .arg(format!("id=tok,src={}", secret_file.display()))
        .args(["--secret", "id=envtok,env=HOIST_TEST_SECRET"])
        .arg(&ctx)
        .env("HOIST_ROOT", &root)
        .env("HOIST_TEST_SECRET", SECRET)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    validate(&root);
    let rootfs = unpack(&root, &tmp.path().join("b1"));
    let sum = sha256sum(SECRET.as_bytes());
    assert!(read(&rootfs, "file-sum").starts_with(&sum));
    assert!(read(&rootfs, "env-sum").starts_with(&sum));
    assert_eq!(read(&rootfs, "secret-stat"), "100 102 81e1\n");
    assert_eq!(read(&rootfs, "env-only"), "no-file\n");
    assert_eq!(read(&rootfs, "both-ok"), "same\n");
    assert_eq!(read(&rootfs, "absent"), "skipped\n");
    for stub in ["run/secrets", "mysecret", "both"] {
        assert!(!exists(&rootfs, stub), "{stub} is in the image");
    }
    assert!(!stderr.contains(SECRET), "{stderr}");
    let found = store_contains(&root, SECRET.as_bytes());
    assert!(found.is_none(), "the secret is in {found:?}");
    assert_no_mounts(&root);

    let stderr = failing_build(
        &root,
        &context(
            &tmp.path().join("req"),
            "RUN --mount=type=secret,required,id=mysecret true\n",
        ),
        &[],
    );
    assert!(stderr.contains("secret mysecret: not found"), "{stderr}");
}

/// SSH agent forwarding: the socket bind-mounted at `/run/buildkit/ssh_agent.0` with
/// `SSH_AUTH_SOCK` set; absent from the image; `required` without `--ssh` fails.
#[test]
fn ssh_agent_socket_is_forwarded() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let socket = tmp.path().join("agent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let ctx = context(
        tmp.path(),
        r#"RUN --mount=type=ssh [ -S "$SSH_AUTH_SOCK" ] && echo "$SSH_AUTH_SOCK" > /sock
RUN --mount=type=ssh,id=other,target=/agent [ -S /agent ] && echo ok > /other
"#,
    );
    let default = format!("default={}", socket.display());
    let other = format!("other={}", socket.display());
    build_with(&root, &ctx, &["--ssh", &default, "--ssh", &other]);
    let rootfs = unpack(&root, &tmp.path().join("b1"));
    assert_eq!(read(&rootfs, "sock"), "/run/buildkit/ssh_agent.0\n");
    assert_eq!(read(&rootfs, "other"), "ok\n");
    assert!(!exists(&rootfs, "run/buildkit") && !exists(&rootfs, "agent"));

    let stderr = failing_build(
        &root,
        &context(
            &tmp.path().join("req"),
            "RUN --mount=type=ssh,required true\n",
        ),
        &[],
    );
    assert!(stderr.contains("--ssh default"), "{stderr}");
}

/// Stages that do not depend on each other build at the same time, and give the same image
/// (same digest, with SOURCE_DATE_EPOCH) as a one-at-a-time build; step ids are the same.
#[test]
fn independent_stages_run_concurrently() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context(
        tmp.path(),
        r#"FROM base AS one
RUN cut -d" " -f1 /proc/uptime > /t0 && sleep 2 && cut -d" " -f1 /proc/uptime > /t1
FROM base AS two
RUN echo two > /name && cut -d" " -f1 /proc/uptime > /t0 && sleep 2 \
 && cut -d" " -f1 /proc/uptime > /t1
FROM base
COPY --from=one /t0 /one-start
COPY --from=one /t1 /one-end
COPY --from=two /t0 /two-start
COPY --from=two /t1 /two-end
"#,
    );
    // Warm the shared base first, so the timing covers the two sleeping stages only.
    let root = tmp.path().join("store");
    let base_only = tmp.path().join("base-only");
    let _ = context(&base_only, "");
    build_with(&root, &base_only.join("context"), &["--epoch", "0"]);
    let started = Instant::now();
    let (parallel, progress) = build_with(&root, &ctx, &["--epoch", "0", "--jobs", "2"]);
    let elapsed = started.elapsed();
    eprintln!("two independent `sleep 2` stages: {elapsed:?}");
    let times = |root: &Path, dir: &str| -> [f64; 4] {
        let rootfs = unpack(root, &tmp.path().join(dir));
        ["one-start", "one-end", "two-start", "two-end"]
            .map(|f| read(&rootfs, f).trim().parse::<f64>().unwrap())
    };
    // The two sleeps overlapped (the host's uptime, read in each container).
    let [s1, e1, s2, e2] = times(&root, "t-parallel");
    assert!(s1 < e2 && s2 < e1, "{s1} {e1} {s2} {e2}");
    // No wall-time assertion: the overlap above is the proof (timing belongs to bench/).
    let root1 = tmp.path().join("store1");
    build_with(&root1, &base_only.join("context"), &["--epoch", "0"]);
    let started = Instant::now();
    let (sequential, progress1) = build_with(&root1, &ctx, &["--epoch", "0", "--jobs", "1"]);
    let elapsed1 = started.elapsed();
    eprintln!("the same with --jobs 1: {elapsed1:?}");
    let [s1, e1, s2, e2] = times(&root1, "t-sequential");
    assert!(e1 <= s2 || e2 <= s1, "{s1} {e1} {s2} {e2}");
    let layers = |r: &Path| -> Vec<String> {
        layout_manifest(r)["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned())
            .collect()
    };
    // Same steps, same bytes but for the times the containers read.
    assert_eq!(layers(&root).len(), layers(&root1).len());
    assert_eq!(layers(&root)[..3], layers(&root1)[..3]);
    let _ = (parallel, sequential);
    // Without times in the files: the same image digest from --jobs 2 and --jobs 1.
    let same = tmp.path().join("same");
    let ctx = context(
        &same,
        "FROM base AS one\nRUN sleep 1 && echo one > /one\nFROM base AS two\n\
         RUN sleep 1 && echo two > /two\nFROM base\nCOPY --from=one /one /one\n\
         COPY --from=two /two /two\n",
    );
    let (d2, _) = build_with(&same.join("s2"), &ctx, &["--epoch", "0", "--jobs", "2"]);
    let (d1, _) = build_with(&same.join("s1"), &ctx, &["--epoch", "0", "--jobs", "1"]);
    assert_eq!(d2, d1);
    let started_steps = |p: &str| -> Vec<String> {
        let mut v: Vec<String> = p
            .lines()
            .filter(|l| {
                l.starts_with('#') && l.split_once(' ').is_some_and(|(_, r)| r.starts_with('['))
            })
            .map(str::to_owned)
            .collect();
        // The plain view repeats a step's header when interleaved output switches steps.
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(started_steps(&progress), started_steps(&progress1));
    assert!(progress.contains("#6 [one 2/2] RUN cut"), "{progress}");
    assert!(progress.contains("#8 [two 2/2] RUN echo two"), "{progress}");
}

/// Ports of BuildKit's `testBuiltinArgs` (proxy args reach RUN without ARG and stay out of the
/// key), `testDefaultEnvWithArgs`, `testQuotedMetaArgs`, `testRunNoNetwork`,
/// `testRunSecurityDefault` / `testRunSecuritySandbox`.
#[test]
fn buildkit_arg_env_network_and_security_behaviours() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let dir = tmp.path().join("ctx");
    fs::create_dir_all(&dir).unwrap();
    fs::copy(BUSYBOX, dir.join("busybox")).unwrap();
    fs::write(
        dir.join("Dockerfile"),
        format!(
            r#"ARG a1="box"
ARG a2="$a1-foo"
{BASE}ARG a2
ARG a3="bar-$a2"
RUN echo -n $a3 > /quoted
ARG my_arg
ENV my_arg "my_arg=${{my_arg:-def_val}}"
ENV my_trimmed_arg "${{my_arg%%e*}}"
RUN echo -n $my_arg $my_trimmed_arg > /env-out
RUN echo -n "$HTTP_PROXY $no_proxy" > /proxy
RUN --network=none cat /proc/net/dev > /netdev
RUN --security=sandbox grep CapBnd /proc/self/status > /capbnd-sandbox
RUN grep CapBnd /proc/self/status > /capbnd
"#
        ),
    )
    .unwrap();
    let proxy = ["--build-arg", "HTTP_PROXY=http://proxy.one:3128"];
    let no_proxy = ["--build-arg", "no_proxy=example.com"];
    let args = [&proxy[..], &no_proxy[..]].concat();
    build_with(&root, &dir, &args);
    let rootfs = unpack(&root, &tmp.path().join("b1"));
    assert_eq!(read(&rootfs, "quoted"), "bar-box-foo");
    assert_eq!(read(&rootfs, "env-out"), "my_arg=def_val my_arg=d");
    assert_eq!(read(&rootfs, "proxy"), "http://proxy.one:3128 example.com");
    let netdev = read(&rootfs, "netdev");
    let interfaces: Vec<&str> = netdev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(interfaces, ["lo"], "{netdev}");
    assert_eq!(read(&rootfs, "capbnd"), "CapBnd:\t00000000a80425fb\n");
    assert_eq!(
        read(&rootfs, "capbnd-sandbox"),
        "CapBnd:\t00000000a80425fb\n"
    );
    // A changed proxy alone reuses the cached RUN (its output keeps the first value).
    let changed = [
        "--build-arg",
        "HTTP_PROXY=http://proxy.two:3128",
        "--build-arg",
        "no_proxy=example.com",
    ];
    let (_, stderr) = build_with(&root, &dir, &changed);
    let rootfs = unpack(&root, &tmp.path().join("b2"));
    assert_eq!(
        read(&rootfs, "proxy"),
        "http://proxy.one:3128 example.com",
        "{stderr}"
    );
    // A build arg changes the ENV and reruns what follows.
    build_with(&root, &dir, &["--build-arg", "my_arg=other_val"]);
    let rootfs = unpack(&root, &tmp.path().join("b3"));
    assert_eq!(read(&rootfs, "env-out"), "my_arg=other_val my_arg=oth");
}

/// `from=` a named context (`--build-context NAME=DIR`): bind and cache seed read from it.
#[test]
fn mounts_from_a_named_context() {
    let _serial = serial();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let data = tmp.path().join("data");
    fs::create_dir_all(data.join("sub")).unwrap();
    fs::write(data.join("sub/file.txt"), "named\n").unwrap();
    let ctx = context(
        tmp.path(),
        r#"RUN --mount=from=data,source=sub/file.txt,target=/f cat /f > /from-named
RUN --mount=type=cache,target=/seeded,id=seeded,from=data,source=sub cat /seeded/file.txt > /seed
"#,
    );
    let named = format!("data={}", data.display());
    build_with(&root, &ctx, &["--build-context", &named]);
    let rootfs = unpack(&root, &tmp.path().join("b1"));
    assert_eq!(read(&rootfs, "from-named"), "named\n");
    assert_eq!(read(&rootfs, "seed"), "named\n");
    assert!(!exists(&rootfs, "f") && !exists(&rootfs, "seeded"));
    // A change in the named context reruns the bind step.
    fs::write(data.join("sub/file.txt"), "changed\n").unwrap();
    build_with(&root, &ctx, &["--build-context", &named]);
    let rootfs = unpack(&root, &tmp.path().join("b2"));
    assert_eq!(read(&rootfs, "from-named"), "changed\n");
}

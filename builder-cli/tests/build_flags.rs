//! `hoist build` flags end to end: `--label`, `--build-arg-file`, `--network`, a context of
//! `-` (a tar on standard input) and `-f -`; each checked in the built image (skopeo, GNU tar)
//! or by its error message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod build_support;

use build_support::{context_with, hoist, skopeo_config, tar_rootfs, validate};

/// Runs `hoist` with the store at `root`, `stdin` on its standard input.
fn hoist_stdin(root: &Path, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(args)
        .env("HOIST_ROOT", root)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env_remove("HOIST_RUNTIME")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run hoist");
    let mut input = child.stdin.take().unwrap();
    // hoist may fail before reading it all (a usage error): a broken pipe is expected then.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

fn succeeded(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "build failed:\n{stderr}");
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn failed_with_usage(out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    stderr
}

#[test]
fn labels_go_into_the_config_over_the_dockerfile_and_add_no_history() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = context_with(
        tmp.path(),
        "FROM scratch\nCOPY Dockerfile /\nLABEL a=dockerfile keep=yes\n",
    );
    let ctx = context.to_str().unwrap();
    let args = [
        "build", "-t", "lab", "--label", "a=cli", "--label", "b=x=y", ctx,
    ];
    succeeded(&hoist(&root, &args, None));
    validate(&root, "lab");
    let config = skopeo_config(&root, "lab:latest");
    let labels = &config["config"]["Labels"];
    assert_eq!(labels["a"], "cli");
    assert_eq!(labels["b"], "x=y");
    assert_eq!(labels["keep"], "yes");
    // BuildKit adds no history entry for --label: COPY and LABEL only.
    assert_eq!(config["history"].as_array().unwrap().len(), 2, "{config}");

    let out = hoist(&root, &["build", "--label", "novalue", ctx], None);
    assert!(failed_with_usage(&out).contains("invalid --label \"novalue\""));
}

#[test]
fn build_arg_files_are_read_and_build_args_win() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = context_with(
        tmp.path(),
        "FROM scratch\nARG A\nARG B\nARG C=default\nCOPY Dockerfile /\nLABEL a=$A b=$B c=$C\n",
    );
    let file = tmp.path().join("args.env");
    fs::write(
        &file,
        "# build args\n\nA=from-file\nB=from-file\n# C=commented\n",
    )
    .unwrap();
    let (ctx, file_arg) = (context.to_str().unwrap(), file.to_str().unwrap());
    let args = [
        "build",
        "-t",
        "args",
        "--build-arg-file",
        file_arg,
        "--build-arg",
        "B=from-flag",
        ctx,
    ];
    succeeded(&hoist(&root, &args, None));
    validate(&root, "args");
    let labels = &skopeo_config(&root, "args:latest")["config"]["Labels"];
    assert_eq!(labels["a"], "from-file");
    assert_eq!(labels["b"], "from-flag");
    assert_eq!(labels["c"], "default");

    let missing = tmp.path().join("missing.env");
    let args = ["build", "--build-arg-file", missing.to_str().unwrap(), ctx];
    let stderr = failed_with_usage(&hoist(&root, &args, None));
    assert!(stderr.contains("--build-arg-file: cannot read"), "{stderr}");
}

/// How many network interfaces a RUN step saw, written by `RUN ... > /<name>`.
fn interfaces(rootfs: &Path, name: &str) -> u32 {
    fs::read_to_string(rootfs.join(name))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn network_sets_the_default_of_run_steps_and_run_network_overrides_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = context_with(
        tmp.path(),
        "FROM scratch\nCOPY busybox /bin/busybox\n\
         RUN [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox grep -c : /proc/net/dev > /default\"]\n\
         RUN --network=host [\"/bin/busybox\", \"sh\", \"-c\", \"/bin/busybox grep -c : /proc/net/dev > /host\"]\n",
    );
    fs::copy("/bin/busybox", context.join("busybox")).unwrap();
    let ctx = context.to_str().unwrap();
    let host_ifaces = fs::read_to_string("/proc/net/dev")
        .unwrap()
        .matches(':')
        .count() as u32;

    succeeded(&hoist(
        &root,
        &["build", "-t", "none", "--network", "none", ctx],
        None,
    ));
    validate(&root, "none");
    let rootfs = tar_rootfs(&root, "none", &tmp.path().join("none"));
    assert_eq!(interfaces(&rootfs, "default"), 1, "only loopback");
    assert_eq!(interfaces(&rootfs, "host"), host_ifaces);

    succeeded(&hoist(
        &root,
        &["build", "-t", "host", "--network", "host", ctx],
        None,
    ));
    let rootfs = tar_rootfs(&root, "host", &tmp.path().join("host"));
    assert_eq!(interfaces(&rootfs, "default"), host_ifaces);

    let stderr = failed_with_usage(&hoist(&root, &["build", "--network", "bridge", ctx], None));
    assert!(
        stderr.contains("unsupported --network \"bridge\""),
        "{stderr}"
    );
}

/// `tar -c` of `dir`, compressed with `flag` (`-z`) when given.
fn tar_of(dir: &Path, flag: Option<&str>) -> Vec<u8> {
    let mut cmd = Command::new("tar");
    cmd.arg("-C").arg(dir).arg("-c");
    if let Some(f) = flag {
        cmd.arg(f);
    }
    let out = cmd.arg(".").output().unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn a_context_of_dash_is_a_tar_on_stdin() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = context_with(tmp.path(), "FROM scratch\nCOPY hello.txt /\n");
    fs::write(context.join("hello.txt"), "hello from a tar\n").unwrap();
    fs::create_dir(context.join("sub")).unwrap();
    fs::write(
        context.join("sub/Other.Dockerfile"),
        "FROM scratch\nCOPY hello.txt /other.txt\n",
    )
    .unwrap();

    let plain = tar_of(&context, None);
    let digest = succeeded(&hoist_stdin(&root, &["build", "-t", "tar", "-"], &plain));
    validate(&root, "tar");
    let rootfs = tar_rootfs(&root, "tar", &tmp.path().join("tar"));
    assert_eq!(
        fs::read_to_string(rootfs.join("hello.txt")).unwrap(),
        "hello from a tar\n"
    );
    // gzip gives the same image; `-f` is a path inside the archive.
    let gzip = tar_of(&context, Some("-z"));
    assert_eq!(
        succeeded(&hoist_stdin(&root, &["build", "-t", "tgz", "-"], &gzip)),
        digest
    );
    let args = ["build", "-t", "other", "-f", "sub/Other.Dockerfile", "-"];
    succeeded(&hoist_stdin(&root, &args, &gzip));
    let rootfs = tar_rootfs(&root, "other", &tmp.path().join("other"));
    assert!(rootfs.join("other.txt").is_file());
    // Nothing is left in the store's tmp dir, and no stat cache for the temporary context.
    assert_eq!(
        fs::read_dir(root.join("hoist/tmp")).map_or(0, |d| d.count()),
        0
    );
    let stat_caches = fs::read_dir(root.join("hoist/stat-cache")).map_or(0, |d| d.count());
    assert_eq!(stat_caches, 0);

    // bzip2, xz and zstd too, found by their magic bytes as docker does.
    for (flag, tag) in [("-j", "tbz"), ("-J", "txz"), ("--zstd", "tzst")] {
        let compressed = tar_of(&context, Some(flag));
        assert_eq!(
            succeeded(&hoist_stdin(&root, &["build", "-t", tag, "-"], &compressed)),
            digest,
            "{flag}"
        );
    }
    let stderr = failed_with_usage(&hoist_stdin(&root, &["build", "-"], b"\x1f\x8b\x08junk"));
    assert!(
        stderr.contains("not a valid compressed tar archive"),
        "{stderr}"
    );
    let stderr = failed_with_usage(&hoist_stdin(&root, &["build", "-f", "-", "-"], &plain));
    assert!(
        stderr.contains("cannot both come from standard input"),
        "{stderr}"
    );
}

#[test]
fn a_context_of_dash_may_be_a_dockerfile_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    // `docker build - < Dockerfile`: the context holds only the Dockerfile.
    let text = b"FROM scratch\nCOPY . /ctx/\nLABEL from=stdin\n";
    succeeded(&hoist_stdin(&root, &["build", "-t", "plain", "-"], text));
    validate(&root, "plain");
    let rootfs = tar_rootfs(&root, "plain", &tmp.path().join("rootfs"));
    let names: Vec<_> = fs::read_dir(rootfs.join("ctx"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["Dockerfile"]);
    assert_eq!(fs::read(rootfs.join("ctx/Dockerfile")).unwrap(), text);
    // A COPY of anything else fails: the context is empty.
    let out = hoist_stdin(&root, &["build", "-"], b"FROM scratch\nCOPY missing /\n");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // `-f` names a file in a tar context: with a Dockerfile on stdin it is an error.
    let stderr = failed_with_usage(&hoist_stdin(&root, &["build", "-f", "x", "-"], text));
    assert!(stderr.contains("holds a Dockerfile"), "{stderr}");
    assert_eq!(
        fs::read_dir(root.join("hoist/tmp")).map_or(0, |d| d.count()),
        0
    );
}

#[test]
fn dockerfile_from_stdin_with_a_context_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let context = context_with(tmp.path(), "FROM scratch\nCOPY Dockerfile /wrong\n");
    fs::write(context.join("hello.txt"), "hi\n").unwrap();
    let args = ["build", "-t", "stdin", "-f", "-", context.to_str().unwrap()];
    succeeded(&hoist_stdin(
        &root,
        &args,
        b"FROM scratch\nCOPY hello.txt /from-stdin\n",
    ));
    validate(&root, "stdin");
    let rootfs = tar_rootfs(&root, "stdin", &tmp.path().join("rootfs"));
    assert!(rootfs.join("from-stdin").is_file());
    assert!(!rootfs.join("wrong").exists());
}

//! `hoist build` end to end for ADD (archives, URLs, git), `--chown` by name, `COPY --parents`,
//! `WORKDIR` after `USER`, a tree of every file kind, and every metadata instruction, read back
//! with skopeo, umoci and GNU tar.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod build_support;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use build_support::{
    build, build_fails, context_with, skopeo_config, skopeo_raw_config, tar_rootfs, umoci_rootfs,
};
use serde_json::json;

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// How many steps the progress reports as CACHED.
fn cached_count(progress: &str) -> usize {
    progress.lines().filter(|l| l.ends_with(" CACHED")).count()
}

fn mode(path: &Path) -> (u32, u32, u32) {
    let m = fs::symlink_metadata(path).unwrap();
    (m.mode() & 0o7777, m.uid(), m.gid())
}

#[test]
fn copy_keeps_symlinks_hardlinks_setuid_xattrs_long_names_and_skips_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context_with(tmp.path(), "FROM scratch\nCOPY tree /tree/\n");
    let tree = ctx.join("tree");
    let long_name = "n".repeat(150);
    let deep = tree.join("d".repeat(100)).join("e".repeat(100));
    fs::create_dir_all(&deep).unwrap();
    fs::create_dir_all(tree.join("ignored/sub")).unwrap();
    fs::write(tree.join("ignored/sub/secret"), "no").unwrap();
    fs::write(tree.join("file"), "content\n").unwrap();
    fs::hard_link(tree.join("file"), tree.join("hardlink")).unwrap();
    symlink("file", tree.join("link")).unwrap();
    fs::write(tree.join("suid"), "#!/bin/sh\n").unwrap();
    fs::write(tree.join(&long_name), "long\n").unwrap();
    fs::write(deep.join(&long_name), "deep\n").unwrap();
    fs::write(tree.join("xattr"), "x\n").unwrap();
    fs::write(ctx.join(".dockerignore"), "tree/ignored\n").unwrap();
    let has_xattrs = xattr::set(tree.join("xattr"), "user.hoist", b"value").is_ok();
    for (path, m) in [
        (tree.join("file"), 0o644),
        (tree.join("suid"), 0o4755),
        (tree.join(&long_name), 0o640),
        (deep.join(&long_name), 0o600),
        (tree.join("xattr"), 0o644),
    ] {
        fs::set_permissions(path, fs::Permissions::from_mode(m)).unwrap();
    }
    let root = tmp.path().join("store");
    build(&root, &ctx, "tree", Some("0"));
    let out = tar_rootfs(&root, "tree", &tmp.path().join("rootfs"));
    let t = out.join("tree");
    assert_eq!(fs::read_to_string(t.join("file")).unwrap(), "content\n");
    assert_eq!(
        fs::metadata(t.join("file")).unwrap().ino(),
        fs::metadata(t.join("hardlink")).unwrap().ino(),
        "the hard link is kept"
    );
    assert_eq!(fs::read_link(t.join("link")).unwrap(), Path::new("file"));
    assert_eq!(mode(&t.join("suid")), (0o4755, 0, 0));
    assert_eq!(mode(&t.join(&long_name)), (0o640, 0, 0));
    let deep_out = t
        .join("d".repeat(100))
        .join("e".repeat(100))
        .join(&long_name);
    assert!(deep_out.as_os_str().len() > 255 + out.as_os_str().len());
    assert_eq!(fs::read_to_string(&deep_out).unwrap(), "deep\n");
    assert_eq!(mode(&deep_out), (0o600, 0, 0));
    assert!(!t.join("ignored").exists(), "ignored subtree left out");
    if has_xattrs {
        assert_eq!(
            xattr::get(t.join("xattr"), "user.hoist")
                .unwrap()
                .as_deref(),
            Some(&b"value"[..])
        );
    }
    // umoci reads the same image.
    let rootfs = umoci_rootfs(&root, "tree:latest", tmp.path());
    assert_eq!(mode(&rootfs.join("tree/suid")), (0o4755, 0, 0));
}

/// A file capability (`security.capability`) survives `COPY --chown` and `ADD --chown` of an
/// archive: the owner is set before the capability (a chown clears a file's capabilities).
#[test]
fn copy_and_add_keep_file_capabilities() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context_with(
        tmp.path(),
        "FROM scratch\nCOPY --chown=7:8 ping /ping\nADD --chown=7:8 caps.tar /unpacked/\n",
    );
    fs::write(ctx.join("ping"), "x\n").unwrap();
    // cap_net_raw=ep as setcap(8) writes it (VFS_CAP_REVISION_2, little-endian masks).
    let cap = [
        1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    if xattr::set(ctx.join("ping"), "security.capability", &cap).is_err() {
        return; // not root, or a filesystem without security xattrs: nothing to copy
    }
    run(Command::new("tar")
        .args(["--xattrs", "--xattrs-include=*", "-cf"])
        .arg(ctx.join("caps.tar"))
        .arg("-C")
        .arg(&ctx)
        .arg("ping"));
    let root = tmp.path().join("store");
    build(&root, &ctx, "cap", Some("0"));
    let out = tar_rootfs(&root, "cap", &tmp.path().join("rootfs"));
    for path in ["ping", "unpacked/ping"] {
        let file = out.join(path);
        let found = xattr::get(&file, "security.capability").unwrap();
        assert_eq!(found.as_deref(), Some(&cap[..]), "{path}");
        assert_eq!(fs::metadata(&file).unwrap().uid(), 7, "{path}");
    }
}

/// `tar <flag>` of `dir`'s `files` into `out`.
fn make_tar(flag: &str, dir: &Path, out: &Path) {
    run(Command::new("tar")
        .args(["-c", flag, "-f"])
        .arg(out)
        .arg("-C")
        .arg(dir)
        .args(["--owner=5", "--group=6", "--numeric-owner", "top"]));
}

#[test]
fn add_extracts_local_archives_by_content() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context_with(
        tmp.path(),
        "FROM scratch\n\
         ADD gz.tgz /gz/\n\
         ADD xz.bin bz2.data zst.tar /many/\n\
         ADD --unpack=false gz.tgz /kept/\n\
         COPY gz.tgz /copied/\n\
         ADD --chown=100:200 gz.tgz /owned\n\
         ADD not-a-tar.tar.gz /plain/\n\
         ADD link.tar /\n\
         COPY not-a-tar.tar.gz /symlink/\n",
    );
    let src = tmp.path().join("src");
    fs::create_dir_all(src.join("top/sub")).unwrap();
    fs::write(src.join("top/a.txt"), "a\n").unwrap();
    fs::write(src.join("top/sub/b.txt"), "b\n").unwrap();
    fs::set_permissions(src.join("top/a.txt"), fs::Permissions::from_mode(0o4750)).unwrap();
    make_tar("-z", &src, &ctx.join("gz.tgz"));
    make_tar("-J", &src, &ctx.join("xz.bin"));
    make_tar("-j", &src, &ctx.join("bz2.data"));
    make_tar("--zstd", &src, &ctx.join("zst.tar"));
    fs::write(ctx.join("not-a-tar.tar.gz"), "just text\n").unwrap();
    // A relative symlink out of its directory; a later COPY writes through it, inside the image.
    let linked = tmp.path().join("linked");
    fs::create_dir_all(linked.join("top")).unwrap();
    symlink("../tmp/symlink-target", linked.join("top/symlink")).unwrap();
    run(Command::new("tar")
        .arg("-cf")
        .arg(ctx.join("link.tar"))
        .arg("-C")
        .arg(linked.join("top"))
        .arg("symlink"));
    let root = tmp.path().join("store");
    build(&root, &ctx, "archives", None);
    let rootfs = umoci_rootfs(&root, "archives:latest", tmp.path());
    assert_eq!(
        fs::read_to_string(rootfs.join("gz/top/sub/b.txt")).unwrap(),
        "b\n"
    );
    assert_eq!(mode(&rootfs.join("gz/top/a.txt")), (0o4750, 5, 6));
    assert_eq!(mode(&rootfs.join("many/top/sub/b.txt")).1, 5);
    assert_eq!(
        fs::read_to_string(rootfs.join("many/top/a.txt")).unwrap(),
        "a\n"
    );
    assert!(rootfs.join("kept/gz.tgz").is_file());
    assert!(rootfs.join("copied/gz.tgz").is_file());
    assert_eq!(mode(&rootfs.join("owned/top/a.txt")), (0o4750, 100, 200));
    assert_eq!(mode(&rootfs.join("owned/top/sub")).1, 100);
    assert_eq!(
        fs::read_to_string(rootfs.join("plain/not-a-tar.tar.gz")).unwrap(),
        "just text\n"
    );
    assert!(
        fs::symlink_metadata(rootfs.join("symlink"))
            .unwrap()
            .is_symlink()
    );
    assert!(rootfs.join("tmp/symlink-target/not-a-tar.tar.gz").is_file());
}

/// A one-thread HTTP/1.1 server on 127.0.0.1 answering every GET with `body` and a
/// `Last-Modified`; returns its base URL.
fn serve(body: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 2 {
                line.clear();
            }
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\
                 Last-Modified: Tue, 14 Nov 2023 22:13:20 GMT\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(body);
        }
    });
    format!("http://{addr}")
}

#[test]
fn add_downloads_urls_and_checks_checksums() {
    const BODY: &[u8] = b"downloaded content\n";
    let digest = "sha256:2c4c88e5b1f7fdbe5cfcd1adb2ec4f8a6c16c0f1c4a18e4c2bdc8e0bd64d94b6";
    let real = format!(
        "sha256:{}",
        registry_client::Digest::sha256_of(BODY).encoded()
    );
    let url = serve(BODY);
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context_with(
        tmp.path(),
        &format!(
            "FROM scratch\nADD --checksum={real} {url}/files/data.txt /dl/\n\
             ADD {url}/files/named /dl/renamed\nADD --chmod=755 {url}/x/ /unnamed/\n"
        ),
    );
    let root = tmp.path().join("store");
    build(&root, &ctx, "urls", None);
    let rootfs = umoci_rootfs(&root, "urls:latest", tmp.path());
    let data = rootfs.join("dl/data.txt");
    assert_eq!(fs::read(&data).unwrap(), BODY);
    assert_eq!(mode(&data), (0o600, 0, 0));
    assert_eq!(fs::metadata(&data).unwrap().mtime(), 1_700_000_000);
    assert_eq!(fs::read(rootfs.join("dl/renamed")).unwrap(), BODY);
    assert_eq!(mode(&rootfs.join("unnamed/__unnamed__")).0, 0o755);
    // Downloaded again, same content digest: every ADD is a cache hit.
    let (_, progress) = build(&root, &ctx, "urls", None);
    assert_eq!(cached_count(&progress), 3, "{progress}");

    let bad = context_with(
        &tmp.path().join("bad"),
        &format!("FROM scratch\nADD --checksum={digest} {url}/files/data.txt /dl/\n"),
    );
    let stderr = build_fails(&root, &bad);
    assert!(stderr.contains("digest mismatch"), "{stderr}");
    assert!(stderr.contains(&real), "{stderr}");
}

/// `git daemon` serving `base` on a free loopback port, killed on drop.
struct GitDaemon(Child, u16);

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git_daemon(base: &Path) -> GitDaemon {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("git")
        .args([
            "daemon",
            "--export-all",
            "--reuseaddr",
            "--listen=127.0.0.1",
        ])
        .arg(format!("--port={port}"))
        .arg(format!("--base-path={}", base.display()))
        .arg(base)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return GitDaemon(child, port);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("git daemon did not start");
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@t"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn add_clones_git_repositories() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repos/app.git");
    fs::create_dir_all(repo.join("docs")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    fs::write(repo.join("README"), "v1\n").unwrap();
    fs::write(repo.join("docs/guide.md"), "guide\n").unwrap();
    fs::write(repo.join("run.sh"), "#!/bin/sh\n").unwrap();
    fs::set_permissions(repo.join("run.sh"), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(repo.join("README"), fs::Permissions::from_mode(0o600)).unwrap();
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    git(&repo, &["tag", "-a", "v1", "-m", "v1"]);
    let commit = git(&repo, &["rev-parse", "HEAD"]);
    fs::write(repo.join("README"), "v2\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "two"]);
    let daemon = git_daemon(&tmp.path().join("repos"));
    let url = format!("git://127.0.0.1:{}/app.git", daemon.1);

    let ctx = context_with(
        tmp.path(),
        &format!(
            "FROM scratch\nADD {url}#v1 /v1/\nADD {url}#main:docs /docs/\n\
             ADD --keep-git-dir=true --checksum={commit} {url}#v1 /keep/\n\
             ADD --chown=7:8 {url} /head/\n"
        ),
    );
    let root = tmp.path().join("store");
    build(&root, &ctx, "git", None);
    let rootfs = umoci_rootfs(&root, "git:latest", tmp.path());
    assert_eq!(
        fs::read_to_string(rootfs.join("v1/README")).unwrap(),
        "v1\n"
    );
    assert!(!rootfs.join("v1/.git").exists());
    assert_eq!(mode(&rootfs.join("v1/README")), (0o644, 0, 0));
    assert_eq!(mode(&rootfs.join("v1/run.sh")), (0o755, 0, 0));
    assert_eq!(
        fs::read_to_string(rootfs.join("docs/guide.md")).unwrap(),
        "guide\n"
    );
    assert!(!rootfs.join("docs/README").exists());
    assert!(rootfs.join("keep/.git").is_dir());
    assert_eq!(
        fs::read_to_string(rootfs.join("head/README")).unwrap(),
        "v2\n"
    );
    assert_eq!(mode(&rootfs.join("head/README")).1, 7);
    // Same commits: cache hits; a new commit on main rebuilds only the steps that follow it.
    let (_, progress) = build(&root, &ctx, "git", None);
    assert_eq!(cached_count(&progress), 4, "{progress}");
    fs::write(repo.join("README"), "v3\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "three"]);
    let (_, progress) = build(&root, &ctx, "git", None);
    assert_eq!(cached_count(&progress), 1, "{progress}");

    let bad = context_with(
        &tmp.path().join("bad"),
        &format!("FROM scratch\nADD --checksum=0000000000 {url}#v1 /v1/\n"),
    );
    let stderr = build_fails(&root, &bad);
    assert!(stderr.contains("digest mismatch"), "{stderr}");
}

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\napp:x:1001:\nstaff:x:50:app\n";

#[test]
fn chown_by_name_and_workdir_after_user_use_the_stage_passwd() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context_with(
        tmp.path(),
        "FROM scratch\nCOPY passwd group /etc/\n\
         COPY --chown=app a.txt /x/a\n\
         COPY --chown=app:staff a.txt /x/b\n\
         ADD --chown=1000:staff a.txt /x/c\n\
         COPY --chown=app dir /made/deep/\n\
         USER app\nWORKDIR /home/app/work\n\
         USER 0\nWORKDIR /home/app/work\n",
    );
    fs::write(ctx.join("passwd"), PASSWD).unwrap();
    fs::write(ctx.join("group"), GROUP).unwrap();
    fs::write(ctx.join("a.txt"), "a").unwrap();
    fs::create_dir(ctx.join("dir")).unwrap();
    fs::write(ctx.join("dir/f"), "f").unwrap();
    let root = tmp.path().join("store");
    build(&root, &ctx, "owners", None);
    let rootfs = umoci_rootfs(&root, "owners:latest", tmp.path());
    let owner = |p: &str| {
        let (_, u, g) = mode(&rootfs.join(p));
        (u, g)
    };
    assert_eq!(owner("x/a"), (1000, 1001));
    assert_eq!(owner("x/b"), (1000, 50));
    assert_eq!(owner("x/c"), (1000, 50));
    assert_eq!(owner("x"), (1000, 1001), "the copy created /x");
    assert_eq!(
        owner("made"),
        (1000, 1001),
        "created parents take the owner"
    );
    assert_eq!(owner("made/deep/f"), (1000, 1001));
    assert_eq!(owner("home"), (1000, 1001));
    assert_eq!(owner("home/app/work"), (1000, 1001));
    assert_eq!(mode(&rootfs.join("home/app/work")).0, 0o755);

    let bad = context_with(
        &tmp.path().join("bad"),
        "FROM scratch\nCOPY --chown=ghost Dockerfile /\n",
    );
    let stderr = build_fails(&root, &bad);
    assert!(stderr.contains("unable to find user ghost"), "{stderr}");
}

#[test]
fn copy_parents_keeps_the_source_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context_with(
        tmp.path(),
        "FROM scratch\nCOPY --parents x/a.txt y/a.txt /parents/\n\
         COPY --parents ./x/./y/*.txt /pivot/\n\
         COPY --parents x/y /dirs/\n\
         COPY --parents ./x/**/*.txt /deep/\n",
    );
    for dir in ["x/y", "y"] {
        fs::create_dir_all(ctx.join(dir)).unwrap();
    }
    fs::set_permissions(ctx.join("x"), fs::Permissions::from_mode(0o750)).unwrap();
    for file in ["x/a.txt", "y/a.txt", "x/y/b.txt", "x/y/c.txt"] {
        fs::write(ctx.join(file), file).unwrap();
    }
    let root = tmp.path().join("store");
    build(&root, &ctx, "parents", None);
    let rootfs = umoci_rootfs(&root, "parents:latest", tmp.path());
    assert_eq!(
        fs::read_to_string(rootfs.join("parents/x/a.txt")).unwrap(),
        "x/a.txt"
    );
    assert!(rootfs.join("parents/y/a.txt").is_file());
    assert_eq!(mode(&rootfs.join("parents/x")).0, 0o750);
    assert!(rootfs.join("pivot/y/b.txt").is_file());
    assert!(rootfs.join("pivot/y/c.txt").is_file());
    assert!(!rootfs.join("pivot/x").exists());
    assert!(rootfs.join("dirs/x/y/b.txt").is_file());
    // `**` spans any number of directories, zero included.
    assert!(rootfs.join("deep/x/a.txt").is_file());
    assert!(rootfs.join("deep/x/y/b.txt").is_file());
    assert_eq!(mode(&rootfs.join("deep/x")).0, 0o750);

    // From a stage, an absolute source keeps its whole path; a pivot cuts it.
    fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch AS one\nCOPY x /out/x\n\
         FROM scratch\nCOPY --from=one --parents /out/x/a.txt /full/\n\
         COPY --from=one --parents /out/./x/y /cut/\n",
    )
    .unwrap();
    build(&root, &ctx, "parents2", None);
    let rootfs = umoci_rootfs(&root, "parents2:latest", tmp.path());
    assert!(rootfs.join("full/out/x/a.txt").is_file());
    assert!(rootfs.join("cut/x/y/b.txt").is_file());
    assert!(!rootfs.join("cut/out").exists());
}

#[test]
fn every_metadata_instruction_lands_in_the_config_and_history() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = context_with(
        tmp.path(),
        "FROM scratch\n\
         ARG VERSION=1.0\n\
         ENV APP=/app MODE=prod\n\
         LABEL version=$VERSION org.example=\"a b\"\n\
         MAINTAINER someone@example.com\n\
         EXPOSE 8080 53/udp\n\
         VOLUME /data\n\
         WORKDIR /app\n\
         USER 1000:1000\n\
         SHELL [\"/bin/bash\", \"-c\"]\n\
         STOPSIGNAL SIGTERM\n\
         HEALTHCHECK --interval=30s --timeout=5s --retries=2 CMD [\"/bin/check\"]\n\
         ONBUILD RUN echo triggered\n\
         ENTRYPOINT [\"/bin/app\"]\n\
         CMD [\"--serve\"]\n",
    );
    let root = tmp.path().join("store");
    build(&root, &ctx, "meta", Some("1700000000"));
    // skopeo's parsed view drops Docker's fields (Shell, Healthcheck, OnBuild): read it raw.
    let config = skopeo_raw_config(&root, "meta:latest");
    assert_eq!(
        skopeo_config(&root, "meta:latest")["config"]["Entrypoint"],
        json!(["/bin/app"])
    );
    let c = &config["config"];
    assert_eq!(
        c["Env"],
        json!([
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "APP=/app",
            "MODE=prod"
        ])
    );
    assert_eq!(c["Labels"], json!({"version": "1.0", "org.example": "a b"}));
    assert_eq!(config["author"], "someone@example.com");
    assert_eq!(c["ExposedPorts"], json!({"53/udp": {}, "8080/tcp": {}}));
    assert_eq!(c["Volumes"], json!({"/data": {}}));
    assert_eq!(c["WorkingDir"], "/app");
    assert_eq!(c["User"], "1000:1000");
    assert_eq!(c["Shell"], json!(["/bin/bash", "-c"]));
    assert_eq!(c["StopSignal"], "SIGTERM");
    assert_eq!(
        c["Healthcheck"],
        json!({"Test": ["CMD", "/bin/check"], "Interval": 30_000_000_000_u64,
               "Timeout": 5_000_000_000_u64, "Retries": 2})
    );
    assert_eq!(c["OnBuild"], json!(["RUN echo triggered"]));
    assert_eq!(c["Entrypoint"], json!(["/bin/app"]));
    assert_eq!(c["Cmd"], json!(["--serve"]));
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    let history: Vec<(String, bool)> = config["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            assert_eq!(h["created"], "2023-11-14T22:13:20Z");
            assert_eq!(h["comment"], "buildkit.dockerfile.v0");
            (
                h["created_by"].as_str().unwrap().to_owned(),
                h["empty_layer"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    let expected: Vec<(String, bool)> = [
        ("ARG VERSION=1.0", true),
        ("ENV APP=/app MODE=prod", true),
        ("LABEL version=1.0 org.example=a b", true),
        ("MAINTAINER someone@example.com", true),
        ("EXPOSE [53/udp 8080/tcp]", true),
        ("VOLUME [/data]", true),
        ("WORKDIR /app", false),
        ("USER 1000:1000", true),
        ("SHELL [/bin/bash -c]", true),
        ("STOPSIGNAL SIGTERM", true),
        (
            "HEALTHCHECK {Test:[CMD /bin/check] Interval:30s Timeout:5s StartPeriod:0s \
             StartInterval:0s Retries:2}",
            true,
        ),
        // BuildKit's ONBUILD changes the config without a history entry.
        ("ENTRYPOINT [\"/bin/app\"]", true),
        ("CMD [\"--serve\"]", true),
    ]
    .into_iter()
    .map(|(t, e)| (t.to_owned(), e))
    .collect();
    assert_eq!(history, expected);
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 1);
}

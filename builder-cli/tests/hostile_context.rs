//! Hostile contexts and Dockerfiles through `hoist build`: sources reaching out of the context
//! (`../x`, absolute paths, symlinks), an ADD tar bomb, a Dockerfile of 100,000 lines, a context
//! of 200,000 files. Nothing from outside the context reaches the store; memory stays bounded
//! (peak RSS measured with GNU time).
//! (Source selection itself is unit-tested in builder-core/tests/context_select.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod hostile_support;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{hoist, hoist_command, stderr};
use hostile_support::*;

const MARKER: &str = "outside-the-context-3f9a1c";

/// Whether `needle` is in any file under `dir` (gzip and zstd blobs decompressed).
fn store_contains(dir: &Path, needle: &[u8]) -> Option<PathBuf> {
    let has = |hay: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
                continue;
            }
            if meta.file_type().is_symlink() {
                let target = fs::read_link(&path).unwrap();
                if has(target.as_os_str().as_encoded_bytes()) {
                    return Some(path);
                }
                continue;
            }
            if !meta.is_file() {
                continue;
            }
            let bytes = fs::read(&path).unwrap();
            if has(&bytes) {
                return Some(path);
            }
            let decoder = match bytes.get(..4) {
                Some([0x1f, 0x8b, ..]) => Some("gzip"),
                Some([0x28, 0xb5, 0x2f, 0xfd]) => Some("zstd"),
                _ => None,
            };
            if let Some(decoder) = decoder {
                let plain = Command::new(decoder)
                    .args(["-dc"])
                    .arg(&path)
                    .output()
                    .unwrap()
                    .stdout;
                if has(&plain) {
                    return Some(path);
                }
            }
        }
    }
    None
}

/// Sources naming paths outside the context: `../`, absolute, a symlink to a file outside, a
/// symlink to a directory outside (and a path through it). Each either fails naming the
/// source or copies what is inside the context; the outside file's content never reaches the
/// store.
#[test]
fn sources_outside_the_context_never_reach_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).unwrap();
    fs::write(outside.join("secret.txt"), MARKER).unwrap();
    let ctx = tmp.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("a.txt"), "a\n").unwrap();
    std::os::unix::fs::symlink(outside.join("secret.txt"), ctx.join("file-link")).unwrap();
    std::os::unix::fs::symlink("../outside", ctx.join("dir-link")).unwrap();
    std::os::unix::fs::symlink(&outside, ctx.join("abs-dir-link")).unwrap();
    let secret = outside.join("secret.txt").display().to_string();
    let root = tmp.path().join("store");

    let failing = [
        ("COPY ../outside/secret.txt /x", "outside/secret.txt"),
        (&format!("COPY {secret} /x") as &str, "secret.txt"),
        ("COPY dir-link/secret.txt /x", "dir-link/secret.txt"),
        ("COPY abs-dir-link/secret.txt /x", "abs-dir-link/secret.txt"),
        ("ADD ../outside/secret.txt /x", "outside/secret.txt"),
        ("COPY file-link /x", "file-link"),
        ("ADD file-link /x", "file-link"),
        ("COPY ../outside/ /x/", "outside"),
        // The wildcard matches the links, which are followed as top-level sources are.
        ("COPY * /star/", "points outside the build context"),
    ];
    for (line, named) in failing {
        fs::write(ctx.join("Dockerfile"), format!("FROM scratch\n{line}\n")).unwrap();
        let out = hoist(&root, &["build", ctx.to_str().unwrap()]);
        let err = stderr(&out);
        assert!(!out.status.success(), "{line} should fail:\n{err}");
        assert!(err.contains(named), "{line}: {named:?} not in:\n{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Whole-context copies keep the links as links: their targets' content is not copied.
    for line in ["COPY . /ctx/", "ADD . /ctx/"] {
        fs::write(ctx.join("Dockerfile"), format!("FROM scratch\n{line}\n")).unwrap();
        let out = hoist(&root, &["build", ctx.to_str().unwrap()]);
        assert!(out.status.success(), "{line}:\n{}", stderr(&out));
    }
    if let Some(path) = store_contains(&root, MARKER.as_bytes()) {
        panic!("the outside file's content is in {}", path.display());
    }
    assert_eq!(
        fs::read_to_string(outside.join("secret.txt")).unwrap(),
        MARKER
    );
}

/// Writes a tar.gz to `path` holding one file of `mib` MiB of zeros (a few hundred KiB per GiB
/// compressed), streaming through `gzip`.
fn tar_bomb(path: &Path, mib: u64) {
    let out = fs::File::create(path).unwrap();
    let mut gzip = Command::new("gzip")
        .args(["-1", "-c", "-n"])
        .stdin(Stdio::piped())
        .stdout(out)
        .spawn()
        .unwrap();
    let mut stdin = gzip.stdin.take().unwrap();
    let header = Tar::new().lying_file("zeros", mib << 20, b"").unfinished();
    stdin.write_all(&header).unwrap();
    let chunk = vec![0u8; 1 << 20];
    for _ in 0..mib {
        stdin.write_all(&chunk).unwrap();
    }
    stdin.write_all(&[0u8; 1024]).unwrap();
    drop(stdin);
    assert!(gzip.wait().unwrap().success());
}

/// ADD of a small tar.gz expanding to `HOIST_TEST_BOMB_MIB` MiB (default 512): extraction
/// and layer writing stream, so peak RSS stays flat; the size is not capped (as BuildKit: the
/// disk is the limit), see RELIABILITY.md.
#[test]
fn an_add_tar_bomb_streams_in_bounded_memory() {
    let mib: u64 = std::env::var("HOIST_TEST_BOMB_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(512);
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    tar_bomb(&ctx.join("bomb.tar.gz"), mib);
    let compressed = fs::metadata(ctx.join("bomb.tar.gz")).unwrap().len();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nADD bomb.tar.gz /x/\n",
    )
    .unwrap();
    let root = tmp.path().join("store");
    let start = Instant::now();
    let mut cmd = hoist_command(&root);
    cmd.args(["build", "--compression", "zstd:1", "-t", "bomb"])
        .arg(&ctx);
    let (out, rss_kib) = with_peak_rss(&mut cmd);
    let secs = start.elapsed().as_secs_f64();
    assert!(out.status.success(), "{}", stderr(&out));
    eprintln!(
        "ADD tar bomb: {compressed} bytes -> {mib} MiB, {secs:.1} s, peak RSS {} MiB",
        rss_kib / 1024
    );
    assert!(rss_kib < 128 * 1024, "peak RSS {rss_kib} KiB");
}

/// `n` lines of Dockerfile made by `line(i)` after `FROM scratch`.
fn big_dockerfile(ctx: &Path, n: usize, line: impl Fn(usize) -> String) {
    let mut text = String::from("FROM scratch\n");
    for i in 0..n {
        text.push_str(&line(i));
        text.push('\n');
    }
    if text.ends_with("\\\n") {
        text.push_str("  last=1\n");
    }
    text.push_str("COPY a.txt /\n");
    fs::write(ctx.join("Dockerfile"), text).unwrap();
}

/// Dockerfiles of 100,000 lines (comments; one LABEL of 100,000 pairs continued over every
/// line): each parses, plans and builds in seconds with bounded memory.
/// A name and a line generator for a big Dockerfile.
type Shape = (&'static str, fn(usize) -> String);

#[test]
fn a_dockerfile_of_100000_lines_builds_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("a.txt"), "a\n").unwrap();
    let root = tmp.path().join("store");
    // 100,000 LABEL or ENV instructions are not here: each is a step whose cost grows with the
    // config, so they take minutes (quadratic; see RELIABILITY.md, "Hostile inputs").
    let shapes: [Shape; 2] = [
        ("comments", |i| format!("# comment {i}")),
        ("continuation", |i| {
            if i == 0 {
                "LABEL a=b \\".to_owned()
            } else {
                format!("  c{i}=d \\")
            }
        }),
    ];
    for (name, line) in shapes {
        big_dockerfile(&ctx, 100_000, line);
        let start = Instant::now();
        let mut cmd = hoist_command(&root);
        cmd.args(["build", "-t", name]).arg(&ctx);
        let (out, rss_kib) = with_peak_rss(&mut cmd);
        let secs = start.elapsed().as_secs_f64();
        eprintln!(
            "100,000-line Dockerfile ({name}): {secs:.1} s, peak RSS {} MiB, success {}",
            rss_kib / 1024,
            out.status.success()
        );
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert!(rss_kib < 1024 * 1024, "{name}: peak RSS {rss_kib} KiB");
    }
}

/// A context of `HOIST_TEST_CONTEXT_FILES` files (default 200,000) in 200 directories, copied
/// whole: time and peak RSS reported. Long (tens of seconds): run with `--ignored`.
#[test]
#[ignore = "long: a context of 200,000 files (scripts/reliability runs it)"]
fn a_context_of_200000_files() {
    let files: usize = std::env::var("HOIST_TEST_CONTEXT_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let tmp = tempfile::tempdir().unwrap();
    let ctx = tmp.path().join("ctx");
    let per_dir = 1000;
    for d in 0..files.div_ceil(per_dir) {
        let dir = ctx.join(format!("d{d:03}"));
        fs::create_dir_all(&dir).unwrap();
        for f in 0..per_dir.min(files - d * per_dir) {
            fs::write(dir.join(format!("f{f:04}")), format!("{d}/{f}\n")).unwrap();
        }
    }
    fs::write(ctx.join("Dockerfile"), "FROM scratch\nCOPY . /ctx/\n").unwrap();
    let root = tmp.path().join("store");
    for round in ["cold", "warm"] {
        let start = Instant::now();
        let mut cmd = hoist_command(&root);
        cmd.args(["build", "--compression", "zstd:1", "-t", "many"])
            .arg(&ctx);
        let (out, rss_kib) = with_peak_rss(&mut cmd);
        let secs = start.elapsed().as_secs_f64();
        assert!(out.status.success(), "{}", stderr(&out));
        eprintln!(
            "context of {files} files, {round}: {secs:.1} s, peak RSS {} MiB",
            rss_kib / 1024
        );
        assert!(rss_kib < 1024 * 1024, "peak RSS {rss_kib} KiB");
    }
}

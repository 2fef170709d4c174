//! Build-context selection: wildcards, directories, excludes, `.dockerignore`, symlinks.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use builder_core::context::{Context, ContextError, EntryKind, Selection};

/// Writes `files` (path, content) under a fresh directory; paths ending in `/` are directories.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in files {
        let full = dir.path().join(path);
        if path.ends_with('/') {
            fs::create_dir_all(&full).expect("mkdir");
        } else {
            fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
            fs::write(&full, content).expect("write");
        }
    }
    dir
}

fn open(dir: &Path) -> Context {
    Context::open(dir, None, None).expect("open")
}

fn roots(selection: &Selection) -> Vec<&str> {
    selection
        .roots
        .iter()
        .map(|r| r.matched_path.as_str())
        .collect()
}

fn entries(selection: &Selection) -> Vec<String> {
    selection.roots[0]
        .entries
        .iter()
        .map(|e| e.rel_path.to_string_lossy().into_owned())
        .collect()
}

fn walked(context: &Context) -> Vec<String> {
    context
        .walk()
        .expect("walk")
        .map(|e| e.expect("entry").rel_path.to_string_lossy().into_owned())
        .collect()
}

#[test]
fn wildcards_match_per_component_in_sorted_order() {
    let dir = tree(&[
        ("b.txt", "b"),
        ("a.txt", "a"),
        ("c.md", "c"),
        ("sub/d.txt", "d"),
        ("sub/inner/e.txt", "e"),
    ]);
    let context = open(dir.path());
    assert_eq!(
        roots(&context.select("*.txt", &[]).expect("*.txt")),
        ["a.txt", "b.txt"]
    );
    assert_eq!(
        roots(&context.select("sub/*.txt", &[]).expect("sub")),
        ["sub/d.txt"]
    );
    assert_eq!(
        roots(&context.select("*/d.txt", &[]).expect("*/d")),
        ["sub/d.txt"]
    );
    assert_eq!(roots(&context.select("s?b", &[]).expect("s?b")), ["sub"]);
    assert_eq!(
        roots(&context.select("[ab].txt", &[]).expect("class")),
        ["a.txt", "b.txt"]
    );
    let err = context.select("*.rs", &[]).expect_err("no match");
    assert!(
        matches!(
            err,
            ContextError::NotFound {
                is_wildcard: true,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_directory_selects_its_contents_parents_first() {
    let dir = tree(&[("sub/z", "z"), ("sub/a/b", "b"), ("sub/a/c/", "")]);
    let context = open(dir.path());
    for source in ["sub", "sub/", "sub/.", "/sub", "./sub"] {
        let selection = context.select(source, &[]).expect(source);
        assert_eq!(roots(&selection), ["sub"], "{source}");
        assert!(selection.roots[0].entry.is_dir());
        assert_eq!(entries(&selection), ["a", "a/b", "a/c", "z"], "{source}");
    }
    let all = context.select(".", &[]).expect(".");
    assert_eq!(
        entries(&all),
        ["sub", "sub/a", "sub/a/b", "sub/a/c", "sub/z"]
    );
}

#[test]
fn excludes_match_relative_to_the_selected_root() {
    let dir = tree(&[("a.md", ""), ("a.txt", ""), ("d/b.md", ""), ("d/b.txt", "")]);
    let context = open(dir.path());
    let one = context.select(".", &["*.md".to_string()]).expect("select");
    assert_eq!(entries(&one), ["a.txt", "d", "d/b.md", "d/b.txt"]);
    let deep = context
        .select(".", &["**/*.md".to_string()])
        .expect("select");
    assert_eq!(entries(&deep), ["a.txt", "d", "d/b.txt"]);
    let in_dir = context.select("d", &["*.md".to_string()]).expect("select");
    assert_eq!(entries(&in_dir), ["b.txt"]);
    // Wildcard matches are checked too (as the Dockerfile reference documents).
    let wild = context
        .select("a.*", &["*.md".to_string()])
        .expect("select");
    assert_eq!(roots(&wild), ["a.txt"]);
    let bad = context
        .select(".", &["[".to_string()])
        .expect_err("bad pattern");
    assert!(matches!(bad, ContextError::BadPattern { .. }), "{bad:?}");
}

#[test]
fn dockerignore_with_reinclude_inside_an_ignored_directory() {
    let dir = tree(&[
        (".dockerignore", "# comment\ndir\n!dir/keep\n*.log\n"),
        ("dir/drop", ""),
        ("dir/keep", "k"),
        ("dir/sub/x", ""),
        ("a.log", ""),
        ("b.txt", ""),
    ]);
    let context = open(dir.path());
    assert_eq!(
        walked(&context),
        [".dockerignore", "b.txt", "dir", "dir/keep"]
    );
    let selection = context
        .select("dir", &[])
        .expect("dir is visible through dir/keep");
    assert_eq!(entries(&selection), ["keep"]);
    assert!(context.select("dir/drop", &[]).is_err());
    assert!(context.select("a.log", &[]).is_err());
    assert_eq!(
        roots(&context.select("*", &[]).expect("*")),
        [".dockerignore", "b.txt", "dir"]
    );
    assert!(context.is_ignored("dir/drop").expect("match"));
    assert!(!context.is_ignored("dir/keep").expect("match"));
}

#[test]
fn wildcard_exceptions_walk_into_ignored_directories() {
    let dir = tree(&[
        (".dockerignore", "dir\n!**/keep\n"),
        ("dir/a/keep", ""),
        ("dir/a/drop", ""),
        ("other/keep", ""),
    ]);
    let context = open(dir.path());
    assert_eq!(
        walked(&context),
        [
            ".dockerignore",
            "dir",
            "dir/a",
            "dir/a/keep",
            "other",
            "other/keep"
        ]
    );
}

#[test]
fn dockerfile_specific_ignore_file_wins() {
    let dir = tree(&[
        (".dockerignore", "a\n"),
        ("build.Dockerfile", "FROM scratch\n"),
        ("build.Dockerfile.dockerignore", "b\n"),
        ("a", ""),
        ("b", ""),
    ]);
    let dockerfile = dir.path().join("build.Dockerfile");
    let own = Context::open(dir.path(), Some(&dockerfile), None).expect("open");
    assert!(own.select("a", &[]).is_ok());
    assert!(own.select("b", &[]).is_err());
    assert_eq!(
        own.ignore_file(),
        Some(dir.path().join("build.Dockerfile.dockerignore").as_path())
    );
    let other =
        Context::open(dir.path(), Some(&dir.path().join("Dockerfile")), None).expect("open");
    assert!(other.select("a", &[]).is_err());
    assert!(other.select("b", &[]).is_ok());
}

#[test]
fn dot_dot_and_absolute_sources_are_clamped_to_the_root() {
    let dir = tree(&[("ctx/a.txt", "a"), ("outside.txt", "secret")]);
    let context = open(&dir.path().join("ctx"));
    for source in ["../../a.txt", "/a.txt", "../a.txt", "x/../../a.txt"] {
        let selection = context.select(source, &[]).expect(source);
        assert_eq!(selection.source, "/a.txt");
        assert_eq!(roots(&selection), ["a.txt"]);
    }
    let err = context
        .select("../outside.txt", &[])
        .expect_err("clamped, not found");
    assert_eq!(
        err.to_string(),
        "failed to compute cache key: \"/outside.txt\": not found"
    );
}

#[test]
fn top_level_symlinks_are_followed_inside_the_context() {
    let dir = tree(&[("real/f", "data"), ("a.txt", "a")]);
    symlink("a.txt", dir.path().join("link")).expect("symlink");
    symlink("real", dir.path().join("dirlink")).expect("symlink");
    symlink("/a.txt", dir.path().join("abslink")).expect("symlink");
    let context = open(dir.path());
    let link = context.select("link", &[]).expect("link");
    assert_eq!(link.roots[0].matched_path, "link");
    assert_eq!(link.roots[0].resolved_path, "a.txt");
    assert_eq!(link.roots[0].entry.kind, EntryKind::File);
    // An absolute target is resolved with the context root as "/".
    let abs = context.select("abslink", &[]).expect("abslink");
    assert_eq!(abs.roots[0].resolved_path, "a.txt");
    // A symlinked directory on the way is followed.
    let through = context.select("dirlink/f", &[]).expect("through");
    assert_eq!(through.roots[0].resolved_path, "real/f");
    let dir_sel = context.select("dirlink", &[]).expect("dirlink");
    assert_eq!(entries(&dir_sel), ["f"]);
}

#[test]
fn symlinks_out_of_the_context_are_refused_or_kept_as_links() {
    let dir = tree(&[("ctx/sub/f", ""), ("secret", "s")]);
    let ctx = dir.path().join("ctx");
    symlink("../secret", ctx.join("out")).expect("symlink");
    symlink("../../secret", ctx.join("sub/out")).expect("symlink");
    symlink(dir.path().join("secret"), ctx.join("abs")).expect("symlink");
    let context = open(&ctx);
    for source in ["out", "abs"] {
        let err = context.select(source, &[]).expect_err(source);
        assert!(
            matches!(err, ContextError::EscapesContext { .. }),
            "{source}: {err:?}"
        );
    }
    let sub = context.select("sub", &[]).expect("sub");
    let link = sub.roots[0]
        .entries
        .iter()
        .find(|e| e.rel_path == Path::new("out"));
    assert_eq!(
        link.map(|e| &e.kind),
        Some(&EntryKind::Symlink(PathBuf::from("../../secret")))
    );
}

#[test]
fn a_symlink_loop_is_an_error_not_a_hang() {
    let dir = tree(&[]);
    symlink("b", dir.path().join("a")).expect("symlink");
    symlink("a", dir.path().join("b")).expect("symlink");
    let context = open(dir.path());
    let err = context.select("a", &[]).expect_err("loop");
    assert!(matches!(err, ContextError::SymlinkLoop { .. }), "{err:?}");
    // Walking never follows links, so the loop is just two entries.
    assert_eq!(walked(&context), ["a", "b"]);
}

#[test]
fn a_lone_exclamation_mark_in_dockerignore_is_an_error() {
    let dir = tree(&[(".dockerignore", "a\n!\n")]);
    let err = Context::open(dir.path(), None, None).expect_err("bad ignore file");
    assert!(matches!(err, ContextError::BadPattern { .. }), "{err:?}");
    let as_crate_error = builder_core::Error::from(err);
    assert!(
        as_crate_error
            .to_string()
            .contains("illegal exclusion pattern")
    );
}

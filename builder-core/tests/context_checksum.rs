//! Content checksums of selections and the stat cache behind them.

use std::fs::{self, File, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use builder_core::context::{ChecksumStats, Context};

/// A small context whose files last changed an hour ago (so their stat data is settled).
fn context_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    for (path, content) in [
        ("app/main.rs", "fn main() {}\n"),
        ("app/lib.rs", "// lib\n"),
        ("README", "hi\n"),
    ] {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().expect("parent")).expect("mkdir");
        fs::write(&full, content).expect("write");
        age(&full, 3600);
    }
    dir
}

/// Sets `path`'s mtime `secs` seconds in the past.
fn age(path: &Path, secs: u64) {
    let when = SystemTime::now() - Duration::from_secs(secs);
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(when))
        .expect("set mtime");
}

fn checksum(context: &Context, source: &str) -> String {
    let selection = context.select(source, &[]).expect("select");
    context.checksum(&selection).expect("checksum").to_string()
}

#[test]
fn touching_keeps_the_checksum_one_byte_or_chmod_changes_it() {
    let dir = context_dir();
    let main = dir.path().join("app/main.rs");
    let context = Context::open(dir.path(), None, None).expect("open");
    let before = checksum(&context, "app");
    assert!(before.starts_with("sha256:"));

    age(&main, 60);
    assert_eq!(
        checksum(&Context::open(dir.path(), None, None).expect("open"), "app"),
        before
    );

    fs::write(&main, "fn main() {}\r").expect("write");
    age(&main, 3600);
    let edited = checksum(&Context::open(dir.path(), None, None).expect("open"), "app");
    assert_ne!(edited, before);

    fs::write(&main, "fn main() {}\n").expect("write");
    assert_eq!(
        checksum(&Context::open(dir.path(), None, None).expect("open"), "app"),
        before
    );
    fs::set_permissions(&main, Permissions::from_mode(0o755)).expect("chmod");
    assert_ne!(
        checksum(&Context::open(dir.path(), None, None).expect("open"), "app"),
        before
    );
}

#[test]
fn names_and_selection_shape_are_part_of_the_checksum() {
    let dir = context_dir();
    let context = Context::open(dir.path(), None, None).expect("open");
    let all = checksum(&context, "app/*.rs");
    fs::rename(
        dir.path().join("app/lib.rs"),
        dir.path().join("app/lib2.rs"),
    )
    .expect("rename");
    assert_ne!(checksum(&context, "app/*.rs"), all);
    assert_ne!(checksum(&context, "app"), checksum(&context, "README"));
}

#[test]
fn an_unchanged_tree_is_not_read_twice_even_across_opens() {
    let dir = context_dir();
    let cache = tempfile::tempdir().expect("cache dir");
    let context = Context::open(dir.path(), None, Some(cache.path())).expect("open");
    let first = checksum(&context, ".");
    assert_eq!(
        context.checksum_stats(),
        ChecksumStats {
            files_hashed: 3,
            files_from_cache: 0
        }
    );
    assert_eq!(checksum(&context, "."), first);
    assert_eq!(
        context.checksum_stats(),
        ChecksumStats {
            files_hashed: 3,
            files_from_cache: 3
        }
    );

    let reopened = Context::open(dir.path(), None, Some(cache.path())).expect("reopen");
    assert_eq!(checksum(&reopened, "."), first);
    assert_eq!(
        reopened.checksum_stats(),
        ChecksumStats {
            files_hashed: 0,
            files_from_cache: 3
        }
    );

    // One changed file is the only one read again.
    let readme = dir.path().join("README");
    fs::write(&readme, "hello\n").expect("write");
    age(&readme, 3600);
    let third = Context::open(dir.path(), None, Some(cache.path())).expect("reopen");
    assert_ne!(checksum(&third, "."), first);
    assert_eq!(
        third.checksum_stats(),
        ChecksumStats {
            files_hashed: 1,
            files_from_cache: 2
        }
    );
}

#[test]
fn freshly_written_files_are_not_trusted_by_the_cache() {
    let dir = context_dir();
    let fresh = dir.path().join("fresh");
    fs::write(&fresh, "new").expect("write");
    let cache = tempfile::tempdir().expect("cache dir");
    let context = Context::open(dir.path(), None, Some(cache.path())).expect("open");
    checksum(&context, ".");
    checksum(&context, ".");
    // The fresh file is read both times: its mtime is within the settle window.
    assert_eq!(context.checksum_stats().files_hashed, 5);
}

#[test]
fn a_corrupt_cache_file_is_an_empty_cache() {
    let dir = context_dir();
    let cache = tempfile::tempdir().expect("cache dir");
    let context = Context::open(dir.path(), None, Some(cache.path())).expect("open");
    let first = checksum(&context, ".");
    let files: Vec<_> = fs::read_dir(cache.path())
        .expect("ls")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(
        files.len(),
        1,
        "one cache file, no temp files left: {files:?}"
    );
    fs::write(&files[0], b"{not json").expect("corrupt");
    let reopened = Context::open(dir.path(), None, Some(cache.path())).expect("open");
    assert_eq!(checksum(&reopened, "."), first);
    assert_eq!(reopened.checksum_stats().files_hashed, 3);
}

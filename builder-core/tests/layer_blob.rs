//! Layer blobs: the same input gives the same bytes whatever the thread count, chunking or
//! tree history; the digests match what sha256sum, gzip and zstd say; PAX edge cases.

mod noise_support;

use std::fs;
use std::io::Write;
use std::num::NonZeroUsize;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use builder_core::layer::{
    Compression, Entry, EntryKind, LayerBlob, LayerWriter, Mtime, TarWriter, WalkOptions,
    write_tree,
};
use noise_support::noise;

/// ~3 MiB: compressible text, random bytes, many small files; created in `order`.
fn build_tree(root: &Path, reverse: bool) {
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let text: Vec<u8> = (0..40_000)
        .flat_map(|i| format!("line {i} of some fairly repetitive text\n").into_bytes())
        .collect();
    files.push(("a/text.txt".into(), text));
    files.push(("a/random.bin".into(), noise(1 << 20, 7)));
    for i in 0..200 {
        files.push((format!("b/c/small-{i:03}"), noise(i * 37, i as u64)));
    }
    if reverse {
        files.reverse();
    }
    for (rel, data) in files {
        let path = root.join(rel);
        fs::create_dir_all(path.parent().unwrap_or(root)).unwrap_or_else(|e| panic!("{e}"));
        fs::write(&path, data).unwrap_or_else(|e| panic!("{e}"));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644))
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

/// Writes `root` as a layer; returns the blob bytes and info.
fn layer_of(root: &Path, compression: Compression, threads: usize) -> (Vec<u8>, LayerBlob) {
    let mut blob = Vec::new();
    let threads = NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN);
    let layer = LayerWriter::with_threads(&mut blob, compression, threads)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tar = TarWriter::new(layer).mtime_clamp(Some(1_000_000_000));
    write_tree(&mut tar, root, WalkOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let info = tar
        .finish()
        .and_then(LayerWriter::finish)
        .unwrap_or_else(|e| panic!("{e}"));
    (blob, info)
}

/// Runs `cmd` with `input` on stdin; returns stdout (panics on failure).
fn pipe(cmd: &mut Command, input: &[u8]) -> Vec<u8> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let mut stdin = child.stdin.take().unwrap_or_else(|| panic!("stdin"));
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    let _ = feeder.join();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sha256sum(bytes: &[u8]) -> String {
    let out = pipe(&mut Command::new("sha256sum"), bytes);
    let hex = String::from_utf8_lossy(&out);
    format!(
        "sha256:{}",
        hex.split_whitespace().next().unwrap_or_default()
    )
}

/// Checks a blob against the system tools; returns the decompressed tar.
fn check_blob(blob: &[u8], info: &LayerBlob, tool: Option<&str>) -> Vec<u8> {
    let tar = match tool {
        Some(tool) => {
            pipe(Command::new(tool).arg("-t"), blob);
            pipe(Command::new(tool).arg("-dc"), blob)
        }
        None => blob.to_vec(),
    };
    assert_eq!(info.digest.as_str(), sha256sum(blob));
    assert_eq!(info.diff_id.as_str(), sha256sum(&tar));
    assert_eq!(info.size, blob.len() as u64);
    assert_eq!(info.uncompressed_size, tar.len() as u64);
    tar
}

#[test]
fn bytes_do_not_depend_on_thread_count_or_run() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    build_tree(dir.path(), false);
    let (plain, plain_info) = layer_of(dir.path(), Compression::None, 1);
    let tar = check_blob(&plain, &plain_info, None);
    assert_eq!(
        plain_info.media_type,
        "application/vnd.oci.image.layer.v1.tar"
    );
    for (compression, tool) in [(Compression::gzip(), "gzip"), (Compression::zstd(), "zstd")] {
        let (first, info) = layer_of(dir.path(), compression, 1);
        assert_eq!(check_blob(&first, &info, Some(tool)), tar);
        assert_eq!(info.diff_id, plain_info.diff_id);
        for threads in [1, 2, 4] {
            let (again, again_info) = layer_of(dir.path(), compression, threads);
            assert!(
                again == first,
                "{tool}: {threads} threads changed the bytes"
            );
            assert_eq!(again_info, info);
        }
        eprintln!(
            "{tool}: {} -> {} bytes, {}",
            info.uncompressed_size, info.size, info.digest
        );
    }
}

#[test]
fn trees_made_in_different_orders_and_times_give_the_same_blob() {
    let a = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let b = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    build_tree(a.path(), false);
    std::thread::sleep(std::time::Duration::from_millis(1100));
    build_tree(b.path(), true);
    let (blob_a, info_a) = layer_of(a.path(), Compression::gzip(), 2);
    let (blob_b, info_b) = layer_of(b.path(), Compression::gzip(), 1);
    assert!(blob_a == blob_b);
    assert_eq!(info_a, info_b);
}

/// Writes the same tar through a LayerWriter in chunks of the given sizes (cycled).
fn compress_in_chunks(tar: &[u8], compression: Compression, chunks: &[usize]) -> Vec<u8> {
    compress_with(tar, compression, chunks, 2)
}

fn compress_with(
    tar: &[u8],
    compression: Compression,
    chunks: &[usize],
    threads: usize,
) -> Vec<u8> {
    let mut blob = Vec::new();
    let threads = NonZeroUsize::new(threads).unwrap_or(NonZeroUsize::MIN);
    let mut w = LayerWriter::with_threads(&mut blob, compression, threads)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut rest = tar;
    for size in chunks.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let (now, later) = rest.split_at((*size).min(rest.len()));
        w.write_all(now).unwrap_or_else(|e| panic!("{e}"));
        w.flush().unwrap_or_else(|e| panic!("{e}"));
        rest = later;
    }
    w.finish().unwrap_or_else(|e| panic!("{e}"));
    blob
}

#[test]
fn bytes_do_not_depend_on_write_sizes_or_flushes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    build_tree(dir.path(), false);
    let (tar, _) = layer_of(dir.path(), Compression::None, 1);
    for compression in [Compression::gzip(), Compression::zstd()] {
        let whole = compress_in_chunks(&tar, compression, &[usize::MAX]);
        let odd = compress_in_chunks(&tar, compression, &[1, 7, 4096, 100_003, 512]);
        assert!(whole == odd, "{compression:?}");
    }
}

/// zstd's multi-threaded mode splits its input into jobs of several MiB, so only a large input
/// shows whether the worker count changes the bytes.
#[test]
fn zstd_bytes_match_across_worker_counts_on_a_large_input() {
    let mut data = Vec::with_capacity(48 << 20);
    let mut i = 0u64;
    while data.len() < 48 << 20 {
        data.extend_from_slice(
            format!("record {i} with a payload of moderate entropy\n").as_bytes(),
        );
        data.extend_from_slice(&noise(64, i));
        i += 1;
    }
    let one = compress_with(&data, Compression::zstd(), &[1 << 20], 1);
    for threads in [2, 4] {
        let many = compress_with(&data, Compression::zstd(), &[65_536, 3], threads);
        assert!(
            one == many,
            "zstd with {threads} workers differs from 1 worker"
        );
    }
    assert_eq!(pipe(Command::new("zstd").arg("-dc"), &one), data);
    let gz = compress_with(&data, Compression::gzip(), &[1 << 20], 1);
    assert!(gz == compress_with(&data, Compression::gzip(), &[65_536, 3], 4));
}

/// Writes `entries` (files get `size` zero bytes) to an uncompressed tar.
fn tar_of(entries: &[Entry], clamp: Option<i64>) -> Vec<u8> {
    let mut tar = TarWriter::new(Vec::new()).mtime_clamp(clamp);
    for e in entries {
        let mut zeros = std::io::repeat(0).take_exact(e.content_size());
        tar.append(e, Some(&mut zeros))
            .unwrap_or_else(|e| panic!("{e}"));
    }
    tar.finish().unwrap_or_else(|e| panic!("{e}"))
}

trait TakeExact: std::io::Read + Sized {
    fn take_exact(self, n: u64) -> std::io::Take<Self> {
        self.take(n)
    }
}
impl<R: std::io::Read> TakeExact for R {}

#[test]
fn mtime_clamp_caps_only_later_times_and_drops_nanoseconds() {
    let mut old = Entry::file("old", 0, 0o644);
    old.mtime = Mtime {
        secs: 100,
        nanos: 999_999_999,
    };
    let mut new = Entry::file("new", 0, 0o644);
    new.mtime = Mtime::from_secs(5000);
    let tar = tar_of(&[old, new], Some(1000));
    let mut archive = tar::Archive::new(&tar[..]);
    let mtimes: Vec<u64> = archive
        .entries()
        .unwrap_or_else(|e| panic!("{e}"))
        .map(|e| {
            e.ok()
                .and_then(|e| e.header().mtime().ok())
                .unwrap_or(u64::MAX)
        })
        .collect();
    assert_eq!(mtimes, [100, 1000]);
}

#[test]
fn pax_carries_what_ustar_cannot() {
    let mut big = Entry::file("dïr/fïle", 3, 0o640);
    big.uid = 3_000_000;
    big.gid = 4_000_000;
    big.mtime = Mtime::from_secs(-1);
    let long_target = "t/".repeat(100);
    let link = Entry::new(
        "sym",
        EntryKind::Symlink {
            target: long_target.clone(),
        },
        0o777,
    );
    let mut cap = Entry::file("cap", 0, 0o755);
    // VFS_CAP_REVISION_2 | effective, permitted = CAP_NET_RAW.
    let cap_value = [
        1u8, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    cap.xattrs
        .insert("security.capability".into(), cap_value.to_vec());
    let tar = tar_of(&[big, link, cap], None);

    let mut archive = tar::Archive::new(&tar[..]);
    let mut entries = archive.entries().unwrap_or_else(|e| panic!("{e}"));
    let mut first = entries
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("entry"));
    assert_eq!(&*first.path_bytes(), "dïr/fïle".as_bytes());
    let pax: Vec<(String, String)> = first
        .pax_extensions()
        .ok()
        .flatten()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|x| {
            (
                x.key().unwrap_or("").to_owned(),
                x.value().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let expected = [
        ("gid", "4000000"),
        ("mtime", "-1"),
        ("path", "dïr/fïle"),
        ("uid", "3000000"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(pax, expected, "sorted PAX records");
    let second = entries
        .next()
        .and_then(Result::ok)
        .unwrap_or_else(|| panic!("entry"));
    assert_eq!(
        second.link_name_bytes().as_deref(),
        Some(long_target.as_bytes())
    );

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let listing = pipe(
        Command::new("tar").args(["--numeric-owner", "-tvf", "-"]),
        &tar,
    );
    let listing = String::from_utf8_lossy(&listing);
    assert!(listing.contains("3000000/4000000"), "{listing}");
    assert!(listing.contains("dïr/fïle"), "{listing}");
    pipe(
        Command::new("tar")
            .args(["--xattrs", "--xattrs-include=*", "-xpf", "-", "-C"])
            .arg(dir.path()),
        &tar,
    );
    let got = xattr::get(dir.path().join("cap"), "security.capability")
        .ok()
        .flatten();
    assert_eq!(
        got.as_deref(),
        Some(&cap_value[..]),
        "security.capability restored"
    );
    let target = fs::read_link(dir.path().join("sym")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(target.to_str(), Some(long_target.as_str()));
}

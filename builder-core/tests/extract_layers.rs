//! Ordinary layers: every entry type, compared with GNU tar; whiteouts across layers.

mod extract_support;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use builder_core::snapshot::{
    Compression, ExtractOptions, LayerReader, WhiteoutMode, extract_layer,
};
use extract_support::{LayerTar, MTIME, raw_header, tree};
use tar::{EntryType, Header};

/// A Linux VFS capability (revision 2, effective) granting `cap_net_raw`.
const CAP_NET_RAW: [u8; 20] = [
    0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

fn owned(mut h: Header, uid: u64, gid: u64) -> Header {
    h.set_uid(uid);
    h.set_gid(gid);
    h
}

fn device(name: &str, kind: EntryType, mode: u32, major: u32, minor: u32) -> Header {
    let mut h = raw_header(name.as_bytes(), kind, mode, 0, b"");
    h.set_device_major(major).expect("major");
    h.set_device_minor(minor).expect("minor");
    h
}

/// A layer with one of everything.
fn everything() -> Vec<u8> {
    let mut t = LayerTar::default();
    t.dir("./", 0o755)
        .dir("bin/", 0o755)
        .file("bin/busybox", 0o755, b"\x7fELF busybox")
        .symlink("bin/sh", "busybox")
        .hardlink("bin/ls", "bin/busybox")
        .file("bin/su", 0o4755, b"setuid")
        .file("bin/sgid", 0o2711, b"setgid")
        .pax(&[
            ("SCHILY.xattr.security.capability", &CAP_NET_RAW),
            ("SCHILY.xattr.user.note", b"hi"),
            ("SCHILY.xattr.trusted.ignored", b"x"),
        ])
        .file("bin/ping", 0o755, b"ping")
        .dir("etc/", 0o755)
        .file("etc/hosts", 0o644, b"127.0.0.1 localhost\n")
        .dir("home/", 0o755)
        .entry(
            owned(
                raw_header(b"home/u/", EntryType::Directory, 0o700, 0, b""),
                1234,
                5678,
            ),
            b"",
        )
        .entry(
            owned(
                raw_header(b"home/u/f", EntryType::Regular, 0o600, 3, b""),
                1234,
                5678,
            ),
            b"abc",
        )
        .entry(
            owned(
                raw_header(b"home/u/l", EntryType::Symlink, 0o777, 0, b"f"),
                1234,
                5678,
            ),
            b"",
        )
        // Depth-first order: GNU tar sets a directory's time as soon as an entry outside it
        // comes, so later additions to it would change its time (Hoist sets them at the end).
        .dir("run/", 0o755)
        .entry(raw_header(b"run/fifo", EntryType::Fifo, 0o600, 0, b""), b"")
        .dir("dev/", 0o755)
        .entry(device("dev/null", EntryType::Char, 0o666, 1, 3), b"")
        .entry(device("dev/loop9", EntryType::Block, 0o660, 7, 9), b"");
    let mut late = raw_header(b"var/", EntryType::Directory, 0o755, 0, b"");
    late.set_mtime(MTIME + 1000);
    t.entry(late, b"").file("var/log", 0o640, b"log");
    t.file("big", 0o644, &vec![0x5a; 3 << 20]);
    t.finish()
}

fn gnu_tar_extract(tar: &[u8], dest: &Path) {
    let file = dest.with_extension("tar");
    std::fs::write(&file, tar).expect("write tar");
    let status = Command::new("tar")
        .args([
            "--extract",
            "--same-owner",
            "--preserve-permissions",
            "--numeric-owner",
            "--xattrs",
            "--xattrs-include=*",
            "--file",
        ])
        .arg(&file)
        .arg("--directory")
        .arg(dest)
        .status()
        .expect("run tar");
    assert!(status.success());
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

#[test]
fn matches_gnu_tar() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (ours, gnu) = (tmp.path().join("ours"), tmp.path().join("gnu"));
    std::fs::create_dir(&ours).expect("mkdir");
    std::fs::create_dir(&gnu).expect("mkdir");
    let tar = everything();
    let stats = extract_layer(tar.as_slice(), &ours, ExtractOptions::default()).expect("extract");
    gnu_tar_extract(&tar, &gnu);

    let (a, b) = (tree(&ours), tree(&gnu));
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, node) in &a {
        assert_eq!(Some(node), b.get(path), "{}", path.display());
    }
    for (path, mode) in [("bin/su", 0o4755), ("bin/sgid", 0o2711), ("home/u", 0o700)] {
        assert_eq!(a[Path::new(path)].mode, mode, "{path}");
    }
    assert_eq!(a[Path::new("home/u/f")].uid, 1234);
    assert_eq!(a[Path::new("home/u/l")].gid, 5678);
    assert_eq!(a[Path::new("bin/ls")].nlink, 2);
    assert_eq!(a[Path::new("var")].mtime, (MTIME + 1000) as i64);
    assert_eq!(a[Path::new("dev/null")].kind, "char");
    assert_eq!(a[Path::new("run/fifo")].kind, "fifo");

    let ping = ours.join("bin/ping");
    assert_eq!(
        xattr(&ping, "security.capability").as_deref(),
        Some(&CAP_NET_RAW[..])
    );
    assert_eq!(xattr(&ping, "user.note").as_deref(), Some(&b"hi"[..]));
    assert_eq!(xattr(&ping, "trusted.ignored"), None);
    assert_eq!(
        xattr(&ping, "security.capability"),
        xattr(&gnu.join("bin/ping"), "security.capability")
    );
    // The root entry `./` applies to the destination.
    let root_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&ours).expect("stat").permissions(),
    );
    assert_eq!(root_mode & 0o7777, 0o755);

    assert_eq!(stats.files, 8);
    assert_eq!(stats.symlinks, 2);
    assert_eq!(stats.hardlinks, 1);
    assert_eq!(stats.nodes, 3);
    assert_eq!(stats.skipped_xattrs, 1);
    assert_eq!(stats.bytes, 12 + 6 + 6 + 4 + 20 + 3 + 3 + (3 << 20));
    assert_eq!(stats.directories, 8);
}

#[test]
fn compressed_layers_give_the_same_tree() {
    let tar = everything();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(6));
    gz.write_all(&tar).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let zst = zstd::encode_all(tar.as_slice(), 3).expect("zstd");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut trees = Vec::new();
    for (name, bytes, expected) in [
        ("plain", &tar, Compression::None),
        ("gzip", &gz, Compression::Gzip),
        ("zstd", &zst, Compression::Zstd),
    ] {
        let dest = tmp.path().join(name);
        std::fs::create_dir(&dest).expect("mkdir");
        let reader = LayerReader::new(bytes.as_slice()).expect("reader");
        assert_eq!(reader.compression(), expected);
        extract_layer(reader, &dest, ExtractOptions::default()).expect("extract");
        trees.push(tree(&dest));
    }
    assert_eq!(trees[0], trees[1]);
    assert_eq!(trees[0], trees[2]);
    // Empty and tiny inputs are plain.
    assert_eq!(
        LayerReader::new(&b""[..]).expect("empty").compression(),
        Compression::None
    );
    assert_eq!(
        LayerReader::new(&[0x1f][..]).expect("tiny").compression(),
        Compression::None
    );
}

fn names(dir: &Path) -> Vec<String> {
    tree(dir)
        .into_keys()
        .map(|p| p.display().to_string())
        .collect()
}

#[test]
fn whiteouts_across_two_layers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lower = LayerTar::default()
        .dir("a/", 0o755)
        .file("a/f1", 0o644, b"1")
        .file("a/f2", 0o644, b"2")
        .dir("b/", 0o755)
        .file("b/g", 0o644, b"g")
        .symlink("s", "/etc/passwd")
        .finish();
    let upper = LayerTar::default()
        .file("a/.wh.f1", 0o644, b"")
        .file(".wh.b", 0o644, b"")
        .file(".wh.s", 0o644, b"")
        .file(".wh.never-existed", 0o644, b"")
        .file("a/.wh..wh.plnk", 0o644, b"")
        .finish();
    extract_layer(lower.as_slice(), tmp.path(), ExtractOptions::default()).expect("lower");
    let stats =
        extract_layer(upper.as_slice(), tmp.path(), ExtractOptions::default()).expect("upper");
    assert_eq!(names(tmp.path()), ["a", "a/f2"]);
    assert_eq!(stats.whiteouts, 4);
    assert_eq!(stats.skipped_entries, 1);
}

#[test]
fn opaque_directory_across_two_layers() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let lower = LayerTar::default()
        .dir("d/", 0o755)
        .file("d/old", 0o644, b"old")
        .dir("d/sub/", 0o755)
        .file("d/sub/x", 0o644, b"x")
        .file("d/sub/y", 0o644, b"y")
        .file("keep", 0o644, b"k")
        .finish();
    // Entries of this layer that come before the marker survive it; lower ones do not, even
    // inside a directory this layer also writes to.
    let upper = LayerTar::default()
        .dir("d/", 0o755)
        .file("d/early", 0o644, b"e")
        .file("d/sub/y", 0o644, b"new y")
        .file("d/.wh..wh..opq", 0o644, b"")
        .file("d/late", 0o644, b"l")
        .finish();
    extract_layer(lower.as_slice(), tmp.path(), ExtractOptions::default()).expect("lower");
    extract_layer(upper.as_slice(), tmp.path(), ExtractOptions::default()).expect("upper");
    assert_eq!(
        names(tmp.path()),
        ["d", "d/early", "d/late", "d/sub", "d/sub/y", "keep"]
    );
    assert_eq!(
        std::fs::read(tmp.path().join("d/sub/y")).expect("y"),
        b"new y"
    );
}

#[test]
fn overlay_mode_writes_overlay_whiteouts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let upper = LayerTar::default()
        .file("a/.wh.f1", 0o644, b"")
        .file("d/.wh..wh..opq", 0o644, b"")
        .file("d/new", 0o644, b"n")
        .finish();
    let mut options = ExtractOptions::default();
    options.whiteouts = WhiteoutMode::Overlay;
    extract_layer(upper.as_slice(), tmp.path(), options).expect("extract");
    let t = tree(tmp.path());
    let wh = &t[Path::new("a/f1")];
    assert_eq!((wh.kind, wh.rdev), ("char", 0));
    assert_eq!(
        xattr(&tmp.path().join("d"), "trusted.overlay.opaque").as_deref(),
        Some(&b"y"[..])
    );
    assert_eq!(names(tmp.path()), ["a", "a/f1", "d", "d/new"]);
}

#[test]
fn later_entries_replace_earlier_ones() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = LayerTar::default()
        .dir("x/", 0o755)
        .file("x/inner", 0o644, b"i")
        .file("x", 0o600, b"file now")
        .symlink("y", "x")
        .dir("y/", 0o700)
        .file("z", 0o644, b"1")
        .file("z", 0o644, b"2")
        .finish();
    extract_layer(layer.as_slice(), tmp.path(), ExtractOptions::default()).expect("extract");
    let t = tree(tmp.path());
    assert_eq!(t[Path::new("x")].content, b"file now");
    assert_eq!(t[Path::new("y")].kind, "dir");
    assert_eq!(t[Path::new("z")].content, b"2");
}

#[test]
fn old_style_directories_and_missing_destinations() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layer = LayerTar::default()
        .file("olddir/", 0o750, b"")
        .file("olddir/f", 0o644, b"f")
        .finish();
    extract_layer(layer.as_slice(), tmp.path(), ExtractOptions::default()).expect("extract");
    let t = tree(tmp.path());
    assert_eq!(
        (t[Path::new("olddir")].kind, t[Path::new("olddir")].mode),
        ("dir", 0o750)
    );

    let err = extract_layer(
        layer.as_slice(),
        &tmp.path().join("absent"),
        ExtractOptions::default(),
    )
    .expect_err("no destination");
    assert!(matches!(
        err.kind(),
        builder_core::ErrorKind::Extract(builder_core::snapshot::ExtractError::Destination { .. })
    ));
}

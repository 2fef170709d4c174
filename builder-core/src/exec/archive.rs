//! `ADD` of a local archive: a tar, plain or compressed (gzip, bzip2, xz, zstd), found by its
//! content as Docker does (`archive.DecompressStream` + one tar header), never by its name.
//!
//! The archive is extracted into a staging directory with [`extract_layer`] (names clamped to
//! the root, parents opened with `openat2(RESOLVE_IN_ROOT)`: nothing lands outside it), given
//! `--chown`'s owner if any, then merged into the step's diff at the destination. Entries keep
//! the owners, modes and mtimes of their headers, as `docker build` does.

use std::fs::{self, File};
use std::io::{self, BufReader, Read};
use std::os::unix::fs::{MetadataExt, PermissionsExt, lchown};
use std::path::Path;

use super::ExecError;
use super::diff::DiffDir;
use crate::snapshot::{ExtractOptions, extract_layer};

/// What an archive is compressed with, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

fn compression_of(magic: &[u8]) -> Compression {
    if magic.starts_with(&[0x1f, 0x8b, 0x08]) {
        Compression::Gzip
    } else if magic.starts_with(b"BZh") {
        Compression::Bzip2
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// The file at `path`, decompressed as its first bytes say.
fn open_decompressed(path: &Path) -> io::Result<Box<dyn Read>> {
    Ok(decompress_stream(File::open(path)?)?.1)
}

/// `source` decompressed as its first bytes say (gzip, bzip2, xz or zstd; anything else passes
/// through unchanged), as Docker's `archive.DecompressStream` does, streaming. Returns whether
/// the stream was compressed, and the reader.
pub fn decompress_stream<'a>(mut source: impl Read + 'a) -> io::Result<(bool, Box<dyn Read + 'a>)> {
    let mut magic = Vec::with_capacity(6);
    (&mut source).take(6).read_to_end(&mut magic)?;
    let source = BufReader::with_capacity(128 * 1024, io::Cursor::new(magic.clone()).chain(source));
    let compression = compression_of(&magic);
    let reader: Box<dyn Read + 'a> = match compression {
        Compression::None => Box::new(source),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(source)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(source)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(source, true)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(source)?),
    };
    Ok((compression != Compression::None, reader))
}

/// Whether the 512-byte `block` is a tar header with a valid checksum (Go's `tar.Reader.Next`
/// accepts the unsigned or the signed sum).
pub fn is_tar_header(block: &[u8; 512]) -> bool {
    if block.iter().all(|b| *b == 0) {
        return false;
    }
    let field = &block[148..156];
    let text: String = field
        .iter()
        .map(|b| *b as char)
        .filter(|c| c.is_ascii_digit())
        .collect();
    let Ok(recorded) = i64::from_str_radix(&text, 8) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0_i64, 0_i64);
    for (i, b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { *b };
        unsigned += i64::from(b);
        signed += i64::from(b as i8);
    }
    recorded == unsigned || recorded == signed
}

/// Whether the file at `path` is a tar archive, plain or compressed. A corrupt compressed
/// stream or a file shorter than a tar header is not an archive: it is copied as a file.
pub(super) fn is_archive(path: &Path) -> Result<bool, ExecError> {
    let mut reader = open_decompressed(path).map_err(ExecError::io("read", path))?;
    let mut block = [0_u8; 512];
    let mut filled = 0;
    while filled < block.len() {
        match reader.read(&mut block[filled..]) {
            Ok(0) | Err(_) => return Ok(false),
            Ok(n) => filled += n,
        }
    }
    Ok(is_tar_header(&block))
}

/// Extracts the archive at `archive` into `diff` at the directory `dest` (which the diff
/// already holds), every entry owned by `owner` when given.
pub(super) fn extract(
    archive: &Path,
    diff: &mut DiffDir,
    dest: &[String],
    owner: Option<(u32, u32)>,
) -> Result<(), ExecError> {
    let scratch = diff.scratch_dir().to_owned();
    let staging = tempfile::Builder::new()
        .prefix("unpack-")
        .tempdir_in(&scratch)
        .map_err(ExecError::io("create a directory in", &scratch))?;
    let reader = open_decompressed(archive).map_err(ExecError::io("read", archive))?;
    extract_layer(reader, staging.path(), ExtractOptions::default()).map_err(|e| {
        ExecError::BadArchive {
            path: archive.to_owned(),
            reason: e.kind().to_string(),
        }
    })?;
    if let Some(owner) = owner {
        chown_tree(staging.path(), owner)?;
    }
    merge(staging.path(), &diff.host_path_of(dest))?;
    staging.close().map_err(ExecError::io("remove", &scratch))
}

/// Gives every entry below `dir` the owner `(uid, gid)`, keeping setuid/setgid bits and file
/// capabilities (which `chown` clears).
fn chown_tree(dir: &Path, (uid, gid): (u32, u32)) -> Result<(), ExecError> {
    const CAPABILITY: &str = "security.capability";
    for entry in fs::read_dir(dir).map_err(ExecError::io("read directory", dir))? {
        let path = entry.map_err(ExecError::io("read directory", dir))?.path();
        let meta = fs::symlink_metadata(&path).map_err(ExecError::io("stat", &path))?;
        let capability = match meta.is_file() {
            true => xattr::get(&path, CAPABILITY).ok().flatten(),
            false => None,
        };
        lchown(&path, Some(uid), Some(gid)).map_err(ExecError::io("chown", &path))?;
        if meta.is_dir() {
            chown_tree(&path, (uid, gid))?;
        }
        if !meta.file_type().is_symlink() {
            fs::set_permissions(&path, fs::Permissions::from_mode(meta.mode() & 0o7777))
                .map_err(ExecError::io("chmod", &path))?;
        }
        if let Some(value) = capability {
            xattr::set(&path, CAPABILITY, &value)
                .map_err(ExecError::io("set an xattr on", &path))?;
        }
    }
    Ok(())
}

/// Moves the entries of `from` into the directory `to`: an entry replaces what `to` has at its
/// name, except that two directories merge (the archive's metadata wins, as in `tar x`).
fn merge(from: &Path, to: &Path) -> Result<(), ExecError> {
    let mut names: Vec<_> = fs::read_dir(from)
        .map_err(ExecError::io("read directory", from))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(ExecError::io("read directory", from))?;
    names.sort();
    for name in names {
        let (src, dst) = (from.join(&name), to.join(&name));
        let src_meta = fs::symlink_metadata(&src).map_err(ExecError::io("stat", &src))?;
        match fs::symlink_metadata(&dst) {
            Ok(d) if d.is_dir() && src_meta.is_dir() => {
                merge(&src, &dst)?;
                copy_dir_meta(&src_meta, &dst)?;
                continue;
            }
            Ok(d) if d.is_dir() => {
                fs::remove_dir_all(&dst).map_err(ExecError::io("remove", &dst))?
            }
            Ok(_) => fs::remove_file(&dst).map_err(ExecError::io("remove", &dst))?,
            Err(_) => {}
        }
        fs::rename(&src, &dst).map_err(ExecError::io("move", &src))?;
    }
    Ok(())
}

fn copy_dir_meta(meta: &fs::Metadata, path: &Path) -> Result<(), ExecError> {
    lchown(path, Some(meta.uid()), Some(meta.gid())).map_err(ExecError::io("chown", path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(meta.mode() & 0o7777))
        .map_err(ExecError::io("chmod", path))?;
    let time = rustix::fs::Timespec {
        tv_sec: meta.mtime(),
        tv_nsec: meta.mtime_nsec() as _,
    };
    let times = rustix::fs::Timestamps {
        last_access: time,
        last_modification: time,
    };
    rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &times,
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    )
    .map_err(ExecError::io("set the modification time of", path))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn compression_is_found_by_magic_bytes() {
        assert_eq!(compression_of(&[0x1f, 0x8b, 8, 0]), Compression::Gzip);
        assert_eq!(compression_of(b"BZh91AY"), Compression::Bzip2);
        assert_eq!(
            compression_of(&[0xfd, b'7', b'z', b'X', b'Z', 0]),
            Compression::Xz
        );
        assert_eq!(compression_of(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        assert_eq!(compression_of(b"hello"), Compression::None);
    }

    #[test]
    fn a_tar_is_an_archive_and_text_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let tar_path = dir.path().join("x.txt");
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(2);
        header.set_mode(0o644);
        header.set_cksum();
        builder.append_data(&mut header, "a", &b"hi"[..]).unwrap();
        fs::write(&tar_path, builder.into_inner().unwrap()).unwrap();
        assert!(is_archive(&tar_path).unwrap());
        let text = dir.path().join("y.tar");
        fs::write(&text, "x".repeat(2000)).unwrap();
        assert!(!is_archive(&text).unwrap());
        let short = dir.path().join("z.tar.gz");
        fs::write(&short, [0x1f, 0x8b, 8, 0, 1]).unwrap();
        assert!(!is_archive(&short).unwrap());
    }
}

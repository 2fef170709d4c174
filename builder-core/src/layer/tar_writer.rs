//! [`TarWriter`]: a deterministic tar stream from [`Entry`] values, the way Docker writes layers.
//!
//! Every header field comes from the entry and nothing else (no clock, no user database):
//!
//! - ustar headers; a path that does not fit is split into prefix/name as Go's `archive/tar` does,
//!   and a PAX extended header (`x`) carries what ustar cannot: paths and link targets longer
//!   than the fields or not ASCII, uid/gid above `0o7777777`, sizes above `0o77777777777`,
//!   mtimes outside ustar's range, and xattrs as `SCHILY.xattr.<name>` records (sorted by key);
//! - mtimes are whole seconds, truncated, and never in PAX otherwise: Docker (`moby/pkg/archive`)
//!   and containerd's diff writer (BuildKit) truncate to seconds too, so sub-second times would
//!   only make equal trees hash differently; `mtime_clamp` caps them (SOURCE_DATE_EPOCH);
//! - uname/gname are empty; devmajor/devminor are set for devices only;
//! - directories are written with a trailing `/`; the archive ends with two zero blocks and no
//!   record padding (as Go's `tar.Writer` ends).
//!
//! The `tar` crate is used only for its header layout and checksum, never for its walking or
//! `HeaderMode` logic.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use tar::{EntryType, Header};

use super::{Entry, EntryKind, LayerError, validate_path};

const BLOCK: usize = 512;
/// Largest value of an 8-byte octal field (uid, gid, mode).
const MAX_OCTAL_8: u64 = 0o7777777;
/// Largest value of a 12-byte octal field (size, mtime).
const MAX_OCTAL_12: u64 = 0o77777777777;
/// Go's `maxSpecialFileSize`: the largest PAX header we write.
const MAX_PAX_SIZE: usize = 1 << 20;

/// Writes [`Entry`] values as a deterministic tar stream to `W`.
#[derive(Debug)]
pub struct TarWriter<W: Write> {
    out: W,
    mtime_clamp: Option<i64>,
}

impl<W: Write> TarWriter<W> {
    /// A writer to `out`, with no mtime clamp.
    pub fn new(out: W) -> Self {
        TarWriter {
            out,
            mtime_clamp: None,
        }
    }

    /// Caps every entry's mtime at `epoch` seconds (BuildKit's `rewrite-timestamp` with
    /// `SOURCE_DATE_EPOCH`); `None` keeps mtimes as they are.
    #[must_use]
    pub fn mtime_clamp(mut self, epoch: Option<i64>) -> Self {
        self.mtime_clamp = epoch;
        self
    }

    /// Appends `entry`; a regular file's content is read from `content`, which must yield
    /// exactly the entry's size (else [`LayerError::SizeMismatch`] and the stream is unusable).
    ///
    /// Entries are written in the order given: sort them with
    /// [`sort_entries`](super::sort_entries) first.
    pub fn append(
        &mut self,
        entry: &Entry,
        content: Option<&mut dyn Read>,
    ) -> Result<(), LayerError> {
        validate_path(&entry.path)?;
        let (header, pax) = self.header_for(entry)?;
        if !pax.is_empty() {
            self.write_pax(entry, &pax)?;
        }
        self.out
            .write_all(header.as_bytes())
            .map_err(LayerError::write)?;
        let size = entry.content_size();
        if size == 0 {
            return Ok(());
        }
        let Some(content) = content else {
            return Err(LayerError::MissingContent {
                path: entry.path.clone(),
                size,
            });
        };
        self.copy_content(entry, content, size)?;
        self.pad(size)
    }

    /// Writes the end-of-archive marker (two zero blocks) and returns the output.
    pub fn finish(mut self) -> Result<W, LayerError> {
        self.out
            .write_all(&[0u8; 2 * BLOCK])
            .and_then(|()| self.out.flush())
            .map_err(LayerError::write)?;
        Ok(self.out)
    }

    /// The output, for callers that wrap it.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// Streams exactly `size` bytes from `content`, then checks it has no more.
    fn copy_content(
        &mut self,
        entry: &Entry,
        content: &mut dyn Read,
        size: u64,
    ) -> Result<(), LayerError> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = match content.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(LayerError::SizeMismatch {
                        path: entry.path.clone(),
                        expected: size,
                        actual: size - left,
                    });
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LayerError::read(&entry.path, e)),
            };
            self.out.write_all(&buf[..n]).map_err(LayerError::write)?;
            left -= n as u64;
        }
        let grown = loop {
            match content.read(&mut buf[..1]) {
                Ok(n) => break n > 0,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(LayerError::read(&entry.path, e)),
            }
        };
        if grown {
            return Err(LayerError::SizeMismatch {
                path: entry.path.clone(),
                expected: size,
                actual: size + 1,
            });
        }
        Ok(())
    }

    /// Zero padding after `size` content bytes, up to the next block.
    fn pad(&mut self, size: u64) -> Result<(), LayerError> {
        let rem = (size % BLOCK as u64) as usize;
        if rem == 0 {
            return Ok(());
        }
        self.out
            .write_all(&[0u8; BLOCK][..BLOCK - rem])
            .map_err(LayerError::write)
    }

    /// The ustar header of `entry` and the PAX records it needs.
    fn header_for(&self, entry: &Entry) -> Result<(Header, PaxRecords), LayerError> {
        let mut pax = PaxRecords::new();
        let mut h = Header::new_ustar();
        let name = tar_name(entry);
        set_name(&mut h, &name, &mut pax);
        h.set_mode(entry.mode & 0o7777);
        h.set_uid(numeric(&mut pax, "uid", entry.uid, MAX_OCTAL_8));
        h.set_gid(numeric(&mut pax, "gid", entry.gid, MAX_OCTAL_8));
        h.set_size(numeric(
            &mut pax,
            "size",
            entry.content_size(),
            MAX_OCTAL_12,
        ));
        let secs = entry.mtime.clamped(self.mtime_clamp).secs;
        match u64::try_from(secs) {
            Ok(s) if s <= MAX_OCTAL_12 => h.set_mtime(s),
            _ => {
                pax.insert("mtime".into(), secs.to_string().into_bytes());
                h.set_mtime(0);
            }
        }
        let (ty, link) = match &entry.kind {
            EntryKind::File { .. } => (EntryType::Regular, None),
            EntryKind::Dir => (EntryType::Directory, None),
            EntryKind::Symlink { target } => (EntryType::Symlink, Some(target)),
            EntryKind::Hardlink { target } => (EntryType::Link, Some(target)),
            EntryKind::CharDevice { major, minor } => {
                set_device(&mut h, entry, *major, *minor)?;
                (EntryType::Char, None)
            }
            EntryKind::BlockDevice { major, minor } => {
                set_device(&mut h, entry, *major, *minor)?;
                (EntryType::Block, None)
            }
            EntryKind::Fifo => (EntryType::Fifo, None),
        };
        h.set_entry_type(ty);
        if let Some(link) = link {
            set_link(&mut h, entry, link, &mut pax)?;
        }
        for (key, value) in &entry.xattrs {
            pax.insert(format!("SCHILY.xattr.{key}"), value.clone());
        }
        h.set_cksum();
        Ok((h, pax))
    }

    /// Writes the PAX extended header for `entry`.
    fn write_pax(&mut self, entry: &Entry, pax: &PaxRecords) -> Result<(), LayerError> {
        let mut data = Vec::new();
        for (key, value) in pax {
            pax_record(&mut data, key, value);
        }
        if data.len() > MAX_PAX_SIZE {
            return Err(LayerError::ExtendedHeaderTooLarge {
                path: entry.path.clone(),
                size: data.len(),
            });
        }
        let mut h = Header::new_ustar();
        let name = ascii_truncated(&pax_header_name(&entry.path), 100);
        ustar(&mut h).name[..name.len()].copy_from_slice(&name);
        h.set_mode(0);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(0);
        h.set_size(data.len() as u64);
        h.set_entry_type(EntryType::XHeader);
        h.set_cksum();
        self.out
            .write_all(h.as_bytes())
            .and_then(|()| self.out.write_all(&data))
            .map_err(LayerError::write)?;
        self.pad(data.len() as u64)
    }
}

/// PAX records by key (sorted, hence deterministic).
type PaxRecords = BTreeMap<String, Vec<u8>>;

/// The name as written in the tar: directories get a trailing `/`.
fn tar_name(entry: &Entry) -> String {
    if entry.is_dir() {
        format!("{}/", entry.path)
    } else {
        entry.path.clone()
    }
}

/// The ustar view of a header made by `Header::new_ustar`.
fn ustar(h: &mut Header) -> &mut tar::UstarHeader {
    h.as_ustar_mut()
        .unwrap_or_else(|| unreachable!("Header::new_ustar has the ustar magic"))
}

/// Sets name (and prefix) fields, or a PAX `path` and a truncated ASCII name.
fn set_name(h: &mut Header, name: &str, pax: &mut PaxRecords) {
    let u = ustar(h);
    if name.is_ascii() && name.len() <= 100 {
        u.name[..name.len()].copy_from_slice(name.as_bytes());
    } else if let Some((prefix, rest)) = split_ustar_path(name) {
        u.prefix[..prefix.len()].copy_from_slice(prefix.as_bytes());
        u.name[..rest.len()].copy_from_slice(rest.as_bytes());
    } else {
        let short = ascii_truncated(name, 100);
        u.name[..short.len()].copy_from_slice(&short);
        pax.insert("path".into(), name.as_bytes().to_vec());
    }
}

/// Sets the link name, or a PAX `linkpath` and a truncated ASCII link name.
fn set_link(
    h: &mut Header,
    entry: &Entry,
    link: &str,
    pax: &mut PaxRecords,
) -> Result<(), LayerError> {
    if link.is_empty() || link.contains('\0') {
        return Err(LayerError::InvalidPath {
            path: entry.path.clone(),
            reason: "empty link target or NUL in it",
        });
    }
    if let EntryKind::Hardlink { target } = &entry.kind {
        validate_path(target)?;
    }
    let u = ustar(h);
    if link.is_ascii() && link.len() <= 100 {
        u.linkname[..link.len()].copy_from_slice(link.as_bytes());
    } else {
        let short = ascii_truncated(link, 100);
        u.linkname[..short.len()].copy_from_slice(&short);
        pax.insert("linkpath".into(), link.as_bytes().to_vec());
    }
    Ok(())
}

/// Device numbers in the ustar fields (7 octal digits each).
fn set_device(h: &mut Header, entry: &Entry, major: u32, minor: u32) -> Result<(), LayerError> {
    if u64::from(major) > MAX_OCTAL_8 || u64::from(minor) > MAX_OCTAL_8 {
        return Err(LayerError::Unrepresentable {
            path: entry.path.clone(),
            field: "device number",
        });
    }
    let written = h
        .set_device_major(major)
        .and_then(|()| h.set_device_minor(minor));
    written.map_err(|_| LayerError::Unrepresentable {
        path: entry.path.clone(),
        field: "device number",
    })
}

/// `value` for the header if it fits `max`; otherwise a PAX record and 0.
fn numeric(pax: &mut PaxRecords, key: &str, value: u64, max: u64) -> u64 {
    if value <= max {
        value
    } else {
        pax.insert(key.into(), value.to_string().into_bytes());
        0
    }
}

/// Go's `splitUSTARPath`: a prefix (<= 155 bytes) and name (<= 100 bytes) split at a `/`.
fn split_ustar_path(name: &str) -> Option<(&str, &str)> {
    if name.len() <= 100 || !name.is_ascii() {
        return None;
    }
    let mut length = name.len();
    if length > 156 {
        length = 156;
    } else if name.as_bytes()[length - 1] == b'/' {
        length -= 1;
    }
    let i = name[..length].rfind('/')?;
    let rest_len = name.len() - i - 1;
    if i == 0 || rest_len > 100 || rest_len == 0 || i > 155 {
        return None;
    }
    Some((&name[..i], &name[i + 1..]))
}

/// The name of an entry's PAX header: `<dir>/PaxHeaders.0/<base>`, as Go writes it.
fn pax_header_name(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((dir, base)) => format!("{dir}/PaxHeaders.0/{base}"),
        None => format!("PaxHeaders.0/{path}"),
    }
}

/// The ASCII bytes of `s` (others dropped), at most `max` of them.
fn ascii_truncated(s: &str, max: usize) -> Vec<u8> {
    s.bytes().filter(u8::is_ascii).take(max).collect()
}

/// Appends one PAX record, `"<len> <key>=<value>\n"`, where `<len>` counts the whole record.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let base = key.len() + value.len() + 3; // ' ', '=', '\n'
    let mut len = base + decimal_digits(base);
    if decimal_digits(len) > decimal_digits(base) {
        len += 1;
    }
    out.extend_from_slice(len.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(key.as_bytes());
    out.push(b'=');
    out.extend_from_slice(value);
    out.push(b'\n');
}

fn decimal_digits(n: usize) -> usize {
    n.to_string().len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for vlen in [
            0usize, 1, 3, 4, 5, 90, 95, 96, 97, 98, 990, 995, 996, 997, 1000,
        ] {
            let mut out = Vec::new();
            pax_record(&mut out, "path", &vec![b'a'; vlen]);
            let s = String::from_utf8(out.clone()).unwrap_or_default();
            let (len, _) = s.split_once(' ').unwrap_or_default();
            assert_eq!(len.parse::<usize>().ok(), Some(out.len()), "{vlen}");
        }
    }

    #[test]
    fn ustar_split_follows_go() {
        let long = format!("{}/{}", "d".repeat(60), "f".repeat(60));
        assert_eq!(split_ustar_path(&long), Some((&long[..60], &long[61..])));
        assert_eq!(split_ustar_path(&"f".repeat(120)), None);
        assert_eq!(split_ustar_path("short"), None);
        let dir = format!("{}/{}/", "d".repeat(60), "e".repeat(60));
        assert_eq!(split_ustar_path(&dir), Some((&dir[..60], &dir[61..])));
    }

    #[test]
    fn size_mismatch_is_an_error() {
        let mut w = TarWriter::new(Vec::new());
        let e = Entry::file("f", 10, 0o644);
        let err = w.append(&e, Some(&mut &b"short"[..])).err();
        assert!(matches!(
            err,
            Some(LayerError::SizeMismatch { actual: 5, .. })
        ));
        let mut w = TarWriter::new(Vec::new());
        let err = w.append(&e, Some(&mut &b"much too long"[..])).err();
        assert!(matches!(
            err,
            Some(LayerError::SizeMismatch { actual: 11, .. })
        ));
        let mut w = TarWriter::new(Vec::new());
        let err = w.append(&e, None).err();
        assert!(matches!(err, Some(LayerError::MissingContent { .. })));
    }
}

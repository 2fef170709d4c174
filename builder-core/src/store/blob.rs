//! Content-addressed blobs: streaming writes verified before they get their name.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use registry_client::Digest;
use registry_client::digest::{Algorithm, Hasher};

use super::Store;
use super::error::{StoreError, io_error};
use super::temp::TempFile;
use crate::Result;

/// Buffer between the caller's writes and the temporary file.
const WRITE_BUFFER: usize = 256 * 1024;

/// A blob being written: a [`Write`] that hashes the bytes into a temporary file under
/// `hoist/tmp/`. Nothing is visible in `blobs/` until [`BlobWriter::commit`]; dropping the
/// writer without committing removes the temporary file.
#[derive(Debug)]
pub struct BlobWriter {
    out: BufWriter<TempFile>,
    hasher: Hasher,
    /// `false` in a [`PrehashedBlobWriter`], whose caller hashes the bytes.
    hashing: bool,
    size: u64,
    store: Store,
}

impl Write for TempFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file().flush()
    }
}

impl BlobWriter {
    pub(super) fn new(store: &Store) -> Result<BlobWriter> {
        let temp = TempFile::create(&store.tmp_dir(), "blob")?;
        Ok(BlobWriter {
            out: BufWriter::with_capacity(WRITE_BUFFER, temp),
            hasher: Hasher::new(Algorithm::Sha256),
            hashing: true,
            size: 0,
            store: store.clone(),
        })
    }

    /// A writer for a caller that hashes what it writes ([`PrehashedBlobWriter`]).
    pub(super) fn prehashed(store: &Store) -> Result<PrehashedBlobWriter> {
        let mut writer = BlobWriter::new(store)?;
        writer.hashing = false;
        Ok(PrehashedBlobWriter(writer))
    }

    /// The number of bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Finishes the blob: fsyncs it, checks it against `expected` when given, and renames it to
    /// `blobs/sha256/<hex>` (keeping an existing blob of that name), then fsyncs the directory.
    ///
    /// On a digest mismatch the temporary file is removed and [`StoreError::DigestMismatch`]
    /// returned. Returns the blob's digest and size.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64)> {
        if let Some(expected) = expected {
            require_sha256(expected)?;
        }
        let BlobWriter {
            out,
            hasher,
            store,
            size,
            ..
        } = self;
        let digest = hasher.finish();
        if let Some(expected) = expected
            && expected != &digest
        {
            return Err(StoreError::DigestMismatch {
                expected: expected.clone(),
                actual: digest,
            }
            .into());
        }
        persist(out, &store, &digest)?;
        Ok((digest, size))
    }
}

/// Flushes and fsyncs the temporary file and renames it to the blob `digest`.
fn persist(out: BufWriter<TempFile>, store: &Store, digest: &Digest) -> Result<()> {
    let path = out.get_ref().path().to_path_buf();
    let mut temp = out
        .into_inner()
        .map_err(|e| io_error("write", &path)(e.into_error()))?;
    temp.sync()?;
    temp.persist_noclobber(&store.blob_path(digest))?;
    Ok(())
}

/// A blob being written by a caller that hashes every byte it writes itself (a layer writer
/// hashes its compressed output as it streams): the same as [`BlobWriter`] without a second
/// SHA-256 pass over the bytes, named by the caller's digest.
#[derive(Debug)]
pub struct PrehashedBlobWriter(BlobWriter);

impl PrehashedBlobWriter {
    /// Finishes the blob as [`BlobWriter::commit`] does, named `digest`: the SHA-256 the caller
    /// computed of exactly the bytes it wrote here.
    pub fn commit(self, digest: &Digest) -> Result<(Digest, u64)> {
        require_sha256(digest)?;
        let BlobWriter {
            out, store, size, ..
        } = self.0;
        persist(out, &store, digest)?;
        Ok((digest.clone(), size))
    }
}

impl Write for PrehashedBlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.out.write(buf)?;
        if self.hashing {
            self.hasher.update(&buf[..n]);
        }
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Fails unless `digest` is SHA-256, the only algorithm blobs are stored under.
pub(super) fn require_sha256(digest: &Digest) -> Result<()> {
    match digest.algorithm() {
        Algorithm::Sha256 => Ok(()),
        _ => Err(StoreError::UnsupportedAlgorithm {
            digest: digest.clone(),
        }
        .into()),
    }
}

impl Store {
    /// Starts writing a blob; see [`BlobWriter`].
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        BlobWriter::new(self)
    }

    /// A [`PrehashedBlobWriter`]: for a writer that hashes its output itself (a layer writer).
    pub fn prehashed_blob_writer(&self) -> Result<PrehashedBlobWriter> {
        BlobWriter::prehashed(self)
    }

    /// Stores a small in-memory blob (a manifest, a config) and returns its digest and size.
    pub fn put_blob(&self, bytes: &[u8]) -> Result<(Digest, u64)> {
        let digest = Digest::sha256_of(bytes);
        let size = bytes.len() as u64;
        if self.blob_size(&digest)? == Some(size) {
            return Ok((digest, size));
        }
        let mut w = self.blob_writer()?;
        let path = w.out.get_ref().path().to_path_buf();
        w.write_all(bytes).map_err(io_error("write", &path))?;
        w.commit(Some(&digest))
    }

    /// Opens a blob for reading.
    pub fn open_blob(&self, digest: &Digest) -> Result<File> {
        require_sha256(digest)?;
        let path = self.blob_path(digest);
        File::open(&path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::BlobNotFound {
                digest: digest.clone(),
            }
            .into(),
            _ => io_error("open", &path)(e),
        })
    }

    /// Whether the store holds the blob.
    pub fn has_blob(&self, digest: &Digest) -> bool {
        digest.algorithm() == Algorithm::Sha256 && self.blob_path(digest).is_file()
    }

    /// The size of a stored blob, or `None` when the store does not hold it.
    pub fn blob_size(&self, digest: &Digest) -> Result<Option<u64>> {
        require_sha256(digest)?;
        let path = self.blob_path(digest);
        match std::fs::metadata(&path) {
            Ok(m) => Ok(Some(m.len())),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("stat", &path)(e)),
        }
    }
}

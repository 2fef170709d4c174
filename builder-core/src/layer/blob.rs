//! [`LayerWriter`]: compresses a tar stream and computes its diff_id and digest in one pass.

use std::io::{self, Write};
use std::num::NonZeroUsize;

use registry_client::Digest;
use registry_client::digest::{Algorithm, Hasher};
use registry_client::media_type;

use super::LayerError;
use super::gzip::ParallelGzip;

/// BuildKit's gzip level: Go's `gzip.DefaultCompression`, which is level 6.
pub const DEFAULT_GZIP_LEVEL: u32 = 6;
/// BuildKit's zstd level (`zstd.SpeedDefault`, zstd's level 3).
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// How a layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// Uncompressed tar (`application/vnd.oci.image.layer.v1.tar`).
    None,
    /// gzip, one member, parallel blocks (`...tar+gzip`); level 0–9.
    Gzip {
        /// The deflate level.
        level: u32,
    },
    /// zstd, one frame with a checksum (`...tar+zstd`); level 1–22.
    Zstd {
        /// The zstd level.
        level: i32,
    },
}

impl Default for Compression {
    /// gzip at [`DEFAULT_GZIP_LEVEL`], what registries and every engine accept.
    fn default() -> Self {
        Compression::Gzip {
            level: DEFAULT_GZIP_LEVEL,
        }
    }
}

impl Compression {
    /// gzip at the default level.
    pub fn gzip() -> Self {
        Compression::default()
    }

    /// zstd at the default level.
    pub fn zstd() -> Self {
        Compression::Zstd {
            level: DEFAULT_ZSTD_LEVEL,
        }
    }

    /// The OCI media type of a layer compressed this way.
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::None => media_type::OCI_LAYER_TAR,
            Compression::Gzip { .. } => media_type::OCI_LAYER_GZIP,
            Compression::Zstd { .. } => media_type::OCI_LAYER_ZSTD,
        }
    }
}

/// What a finished layer blob is: its digests, sizes and media type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerBlob {
    /// sha256 of the uncompressed tar (the image config's `rootfs.diff_ids`).
    pub diff_id: Digest,
    /// sha256 of the blob as written (the manifest's layer digest).
    pub digest: Digest,
    /// Bytes written (compressed).
    pub size: u64,
    /// Bytes of the uncompressed tar.
    pub uncompressed_size: u64,
    /// The blob's OCI media type.
    pub media_type: &'static str,
}

/// Takes a tar stream through [`Write`], compresses it to `W` and hashes both sides as they
/// stream: no second pass and no buffer that grows with the layer.
///
/// The output bytes depend on the input and the [`Compression`] only, never on the thread count.
/// To keep the output (e.g. to fsync a temp file), pass `&mut file`.
pub struct LayerWriter<W: Write> {
    diff_id: Hasher,
    uncompressed_size: u64,
    media_type: &'static str,
    sink: Sink<W>,
}

impl<W: Write> std::fmt::Debug for LayerWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerWriter")
            .field("media_type", &self.media_type)
            .field("uncompressed_size", &self.uncompressed_size)
            .finish_non_exhaustive()
    }
}

/// The compressor in front of the hashed output.
enum Sink<W: Write> {
    Plain(HashingWriter<W>),
    Gzip(Box<ParallelGzip<HashingWriter<W>>>),
    Zstd(zstd::stream::write::Encoder<'static, HashingWriter<W>>),
}

impl<W: Write> LayerWriter<W> {
    /// A writer using as many threads as the machine has cores.
    pub fn new(out: W, compression: Compression) -> Result<Self, LayerError> {
        let threads = std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN);
        Self::with_threads(out, compression, threads)
    }

    /// A writer compressing on `threads` threads (gzip blocks or zstd workers).
    pub fn with_threads(
        out: W,
        compression: Compression,
        threads: NonZeroUsize,
    ) -> Result<Self, LayerError> {
        let out = HashingWriter::new(out);
        let sink = match compression {
            Compression::None => Sink::Plain(out),
            Compression::Gzip { level } => {
                if level > 9 {
                    return Err(LayerError::InvalidOption("gzip level must be 0 to 9"));
                }
                let gz = ParallelGzip::new(out, level, threads.get()).map_err(LayerError::write)?;
                Sink::Gzip(Box::new(gz))
            }
            Compression::Zstd { level } => Sink::Zstd(zstd_encoder(out, level, threads)?),
        };
        Ok(LayerWriter {
            diff_id: Hasher::new(Algorithm::Sha256),
            uncompressed_size: 0,
            media_type: compression.media_type(),
            sink,
        })
    }

    /// Ends the compressed stream, flushes the output and returns what the blob is.
    pub fn finish(self) -> Result<LayerBlob, LayerError> {
        let out = match self.sink {
            Sink::Plain(out) => out,
            Sink::Gzip(gz) => gz.finish().map_err(LayerError::write)?,
            Sink::Zstd(z) => z.finish().map_err(LayerError::write)?,
        };
        let (digest, size) = out.finish().map_err(LayerError::write)?;
        Ok(LayerBlob {
            diff_id: self.diff_id.finish(),
            digest,
            size,
            uncompressed_size: self.uncompressed_size,
            media_type: self.media_type,
        })
    }
}

/// Input bytes per zstdmt job. zstd's default for level 3 is 8 MiB (4 × its 2 MiB window), and
/// zstdmt keeps an input round buffer of about `workers + 3` jobs and up to `2 × workers + 3`
/// output buffers of a job's size: ~98 MiB of RSS with 2 workers. 2 MiB jobs bound it to a quarter (the whole build stays under 64 MiB) and
/// cost well under 1% of ratio (each job still sees a window-sized overlap of the previous one).
pub const ZSTD_JOB_SIZE: u32 = 2 << 20;

/// A zstd encoder in multi-threaded mode with at least one worker and a fixed job size:
/// zstd's output is then the same for every worker count >= 1 (facebook/zstd#2238) but
/// differs from its single-threaded mode, so that mode is never used.
fn zstd_encoder<W: Write>(
    out: HashingWriter<W>,
    level: i32,
    threads: NonZeroUsize,
) -> Result<zstd::stream::write::Encoder<'static, HashingWriter<W>>, LayerError> {
    if !(1..=22).contains(&level) {
        return Err(LayerError::InvalidOption("zstd level must be 1 to 22"));
    }
    let workers = u32::try_from(threads.get()).unwrap_or(u32::MAX);
    let mut z = zstd::stream::write::Encoder::new(out, level).map_err(LayerError::write)?;
    z.include_checksum(true).map_err(LayerError::write)?;
    z.multithread(workers).map_err(LayerError::write)?;
    z.set_parameter(zstd::zstd_safe::CParameter::JobSize(ZSTD_JOB_SIZE))
        .map_err(LayerError::write)?;
    Ok(z)
}

impl<W: Write> Write for LayerWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = match &mut self.sink {
            Sink::Plain(out) => out.write(buf)?,
            Sink::Gzip(gz) => gz.write(buf)?,
            Sink::Zstd(z) => z.write(buf)?,
        };
        self.diff_id.update(&buf[..n]);
        self.uncompressed_size += n as u64;
        Ok(n)
    }

    /// Flushes the output without ending or padding the compressed stream.
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Plain(out) => out.flush(),
            Sink::Gzip(gz) => gz.flush(),
            // zstd's flush would end a block early, making bytes depend on flush timing.
            Sink::Zstd(z) => z.get_mut().flush(),
        }
    }
}

/// A writer that hashes and counts what it passes on.
struct HashingWriter<W> {
    inner: W,
    hasher: Hasher,
    count: u64,
}

impl<W: Write> HashingWriter<W> {
    fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Hasher::new(Algorithm::Sha256),
            count: 0,
        }
    }

    fn finish(mut self) -> io::Result<(Digest, u64)> {
        self.inner.flush()?;
        Ok((self.hasher.finish(), self.count))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

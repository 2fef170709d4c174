//! Layer decompression chosen by the stream's magic bytes.

use std::io::{self, BufReader, Read};

/// The compression of a layer blob, as found from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compression {
    /// A plain tar.
    None,
    /// gzip (`1f 8b`).
    Gzip,
    /// zstd (`28 b5 2f fd`).
    Zstd,
}

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];

/// An uncompressed view of a layer stream, whatever its compression.
pub struct LayerReader<R: Read> {
    inner: Decoder<R>,
}

/// The stream with the bytes read to detect its compression put back in front.
type Source<R> = BufReader<io::Chain<io::Cursor<Vec<u8>>, R>>;

enum Decoder<R: Read> {
    Plain(Source<R>),
    Gzip(Box<flate2::bufread::MultiGzDecoder<Source<R>>>),
    Zstd(Box<zstd::stream::read::Decoder<'static, Source<R>>>),
}

impl<R: Read> LayerReader<R> {
    /// Reads the first bytes of `reader` and wraps it in the matching decompressor.
    pub fn new(mut reader: R) -> io::Result<LayerReader<R>> {
        let mut magic = Vec::with_capacity(ZSTD_MAGIC.len());
        (&mut reader)
            .take(ZSTD_MAGIC.len() as u64)
            .read_to_end(&mut magic)?;
        let compression = if magic.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else if magic.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else {
            Compression::None
        };
        let source = BufReader::with_capacity(128 * 1024, io::Cursor::new(magic).chain(reader));
        let inner = match compression {
            Compression::Gzip => {
                Decoder::Gzip(Box::new(flate2::bufread::MultiGzDecoder::new(source)))
            }
            Compression::Zstd => {
                Decoder::Zstd(Box::new(zstd::stream::read::Decoder::with_buffer(source)?))
            }
            Compression::None => Decoder::Plain(source),
        };
        Ok(LayerReader { inner })
    }

    /// The compression found.
    pub fn compression(&self) -> Compression {
        match self.inner {
            Decoder::Plain(_) => Compression::None,
            Decoder::Gzip(_) => Compression::Gzip,
            Decoder::Zstd(_) => Compression::Zstd,
        }
    }
}

impl<R: Read> std::fmt::Debug for LayerReader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LayerReader")
            .field("compression", &self.compression())
            .finish_non_exhaustive()
    }
}

impl<R: Read> Read for LayerReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            Decoder::Plain(r) => r.read(buf),
            Decoder::Gzip(r) => r.read(buf),
            Decoder::Zstd(r) => r.read(buf),
        }
    }
}

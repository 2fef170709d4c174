//! Layers: a filesystem change in, a compressed, digested tar blob out.
//!
//! ```text
//! entries_from_dir(root) / your own Entry values (sorted: sort_entries)
//!   -> TarWriter          deterministic tar: ustar + PAX, whole-second mtimes, xattrs
//!   -> LayerWriter        gzip (parallel, thread-count independent) | zstd | none,
//!                         sha256 of both sides on the fly -> LayerBlob { diff_id, digest, .. }
//! ```
//!
//! ```
//! use builder_core::layer::{Compression, Entry, LayerWriter, TarWriter};
//!
//! let mut blob = Vec::new();
//! let layer = LayerWriter::new(&mut blob, Compression::gzip())?;
//! let mut tar = TarWriter::new(layer).mtime_clamp(Some(0));
//! tar.append(&Entry::dir("etc", 0o755), None)?;
//! tar.append(&Entry::file("etc/motd", 3, 0o644), Some(&mut &b"hi\n"[..]))?;
//! let info = tar.finish()?.finish()?;
//! assert_eq!(info.size, blob.len() as u64);
//! assert_eq!(info.media_type, "application/vnd.oci.image.layer.v1.tar+gzip");
//! # Ok::<(), builder_core::layer::LayerError>(())
//! ```

mod blob;
mod entry;
mod error;
mod gzip;
mod tar_writer;
mod walk;

pub use blob::{Compression, DEFAULT_GZIP_LEVEL, DEFAULT_ZSTD_LEVEL, LayerBlob, LayerWriter};
pub use entry::{Entry, EntryKind, Mtime, compare_paths, sort_entries, validate_path};
pub use error::{IoCause, LayerError};
pub use gzip::{BLOCK_SIZE as GZIP_BLOCK_SIZE, DICT_SIZE as GZIP_DICT_SIZE};
pub use tar_writer::TarWriter;
pub use walk::{TreeWalk, WalkOptions, WhiteoutMode, entries_from_dir, write_tree};

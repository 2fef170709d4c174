//! A diff directory -> a layer blob in the store; a layer blob -> applied onto a stage's
//! filesystem. Both stream: memory never grows with the layer.

use std::path::Path;

use registry_client::Descriptor;

use super::ExecError;
use crate::error::Result;
use crate::layer::{Compression, LayerWriter, TarWriter, WalkOptions, WhiteoutMode, write_tree};
use crate::snapshot::{ExtractOptions, LayerReader, extract_layer};
use crate::store::{CachedLayer, Store};

/// Writes the tree under `diff` as a layer blob into `store` (mtimes clamped to
/// `source_date_epoch`), committed under its verified digest.
pub(super) fn write_layer(
    store: &Store,
    diff: &Path,
    compression: Compression,
    source_date_epoch: Option<i64>,
) -> Result<CachedLayer> {
    write_layer_with(
        store,
        diff,
        compression,
        source_date_epoch,
        WhiteoutMode::Keep,
    )
}

/// [`write_layer`] with overlay whiteouts turned into OCI ones (`WhiteoutMode::Overlay`, for
/// an overlay upper directory or a diff in that form).
pub(super) fn write_layer_with(
    store: &Store,
    diff: &Path,
    compression: Compression,
    source_date_epoch: Option<i64>,
    whiteouts: WhiteoutMode,
) -> Result<CachedLayer> {
    // The layer writer hashes the blob as it compresses: the store does not hash it again.
    let mut blob = store.prehashed_blob_writer()?;
    let layer = LayerWriter::new(&mut blob, compression)?;
    let mut tar = TarWriter::new(layer).mtime_clamp(source_date_epoch);
    write_tree(&mut tar, diff, WalkOptions { whiteouts })?;
    let info = tar.finish()?.finish()?;
    let (digest, size) = blob.commit(&info.digest)?;
    Ok(CachedLayer {
        descriptor: Descriptor::new(info.media_type, digest, size),
        diff_id: info.diff_id,
    })
}

/// Extracts the stored `layer` onto `rootfs` (whiteouts applied, owners kept).
pub(super) fn apply_layer(store: &Store, layer: &Descriptor, rootfs: &Path) -> Result<()> {
    let digest = &layer.digest;
    let blob = store.open_blob(digest)?;
    let path = Path::new(digest.as_str());
    let reader = LayerReader::new(blob).map_err(ExecError::io("read layer", path))?;
    extract_layer(reader, rootfs, ExtractOptions::default())?;
    Ok(())
}

/// RFC 3339 UTC (`2024-01-02T03:04:05Z`) of `secs` since the epoch, as image configs record.
pub(super) fn format_created(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::format_created;

    #[test]
    fn created_times_are_rfc3339() {
        assert_eq!(format_created(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_created(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_created(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}

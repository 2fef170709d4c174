//! Memory stays flat while a 1 GiB file streams through the tar writer and parallel gzip.
//!
//! Alone in its binary: VmHWM is per process, so no other test may run beside it.

use std::fs;
use std::io;
use std::num::NonZeroUsize;
use std::time::Instant;

use builder_core::layer::{Compression, LayerWriter, TarWriter, WalkOptions, write_tree};

/// Peak resident set size of this process, in KiB.
fn vm_hwm_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in /proc/self/status"))
}

#[test]
fn one_gib_file_streams_in_bounded_memory() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = fs::File::create(dir.path().join("zeros")).unwrap_or_else(|e| panic!("{e}"));
    file.set_len(1 << 30).unwrap_or_else(|e| panic!("{e}"));
    drop(file);

    let before = vm_hwm_kib();
    let start = Instant::now();
    let threads = NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN);
    let layer = LayerWriter::with_threads(io::sink(), Compression::gzip(), threads)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tar = TarWriter::new(layer);
    write_tree(&mut tar, dir.path(), WalkOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let info = tar
        .finish()
        .and_then(LayerWriter::finish)
        .unwrap_or_else(|e| panic!("{e}"));
    let elapsed = start.elapsed();
    let growth_mib = (vm_hwm_kib().saturating_sub(before)) as f64 / 1024.0;
    eprintln!(
        "1 GiB through tar + gzip(2 threads): {:.1} s, peak RSS growth {growth_mib:.1} MiB, blob {} bytes",
        elapsed.as_secs_f64(),
        info.size
    );
    assert_eq!(info.uncompressed_size, (1 << 30) + 512 + 1024);
    assert!(growth_mib < 64.0, "peak RSS grew by {growth_mib:.1} MiB");
}

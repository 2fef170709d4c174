//! `hoist prune`: build cache, unreferenced blobs, unused snapshots and temporary files.

use std::io::Write;

use builder_core::store::{PruneOptions, PrunedKind};

use super::images::open_store;
use crate::Failure;
use crate::args::PruneArgs;
use crate::size::{human_size, parse_size};

/// Runs `hoist prune`; prints what it removed by kind and the space freed.
pub fn run(args: &PruneArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let keep_storage = match &args.keep_storage {
        None => None,
        Some(text) => Some(parse_size(text).ok_or_else(|| {
            Failure::usage(format!(
                "invalid --keep-storage {text:?}: expected a size such as 500MB or 2GiB"
            ))
        })?),
    };
    let store = open_store()?;
    let report = store.prune(&PruneOptions::new(args.all, keep_storage))?;
    if args.verbose {
        for item in &report.removed {
            writeln!(
                out,
                "deleted {} {} ({})",
                kind_name(item.kind),
                item.name,
                human_size(item.bytes)
            )?;
        }
    }
    let kinds = [
        PrunedKind::CacheRecord,
        PrunedKind::Blob,
        PrunedKind::Snapshot,
        PrunedKind::StatCache,
        PrunedKind::Temporary,
    ];
    for kind in kinds {
        let bytes: u64 = report
            .removed
            .iter()
            .filter(|p| p.kind == kind)
            .map(|p| p.bytes)
            .sum();
        writeln!(
            out,
            "{:<18} {:>5} removed, {}",
            format!("{}s:", kind_name(kind)),
            report.count(kind),
            human_size(bytes)
        )?;
    }
    writeln!(
        out,
        "Total reclaimed space: {}",
        human_size(report.bytes_freed())
    )?;
    Ok(())
}

fn kind_name(kind: PrunedKind) -> &'static str {
    match kind {
        PrunedKind::CacheRecord => "cache record",
        PrunedKind::Blob => "blob",
        PrunedKind::Snapshot => "snapshot",
        PrunedKind::StatCache => "stat cache",
        PrunedKind::Temporary => "temporary file",
        _ => "item",
    }
}

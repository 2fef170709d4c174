//! `hoist store verify [--repair]`: check the local store, one line per problem.
//!
//! Output: one line per problem (`corrupt blob <digest>`, `missing blob <digest> (referenced
//! by <what>)`, `leftover <kind> <path>`, ...), then a summary line. With `--repair` the
//! leftovers of dead processes are removed first (`removed <kind> <path>` lines). Exit status 0
//! when the store is clean, 1 otherwise.

use std::io::Write;
use std::time::Duration;

use builder_core::store::{LeftoverKind, Store, VerifyReport};

use crate::Failure;
use crate::args::StoreCommand;
use crate::options::store_root;

/// `--repair` removes unlocked temporary entries older than this even when their creator's
/// pid is alive again (reused); those of a dead creator at once.
const REPAIR_AGE: Duration = Duration::from_secs(60);

/// Runs `hoist store ...`.
pub fn run(command: &StoreCommand, out: &mut dyn Write) -> Result<(), Failure> {
    match command {
        StoreCommand::Verify(args) => verify(args.repair, out),
    }
}

fn verify(repair: bool, out: &mut dyn Write) -> Result<(), Failure> {
    let env = |k: &str| std::env::var(k).ok();
    let store = Store::open_without_recovery(store_root(&env)?)?;
    if repair {
        for item in store.recover(REPAIR_AGE)? {
            writeln!(
                out,
                "removed {} {}",
                kind_name(item.kind),
                item.path.display()
            )?;
        }
    }
    let report = store.verify()?;
    let problems = print_problems(&report, out)?;
    if problems == 0 {
        writeln!(out, "store clean: {} blobs verified", report.blobs_checked)?;
        return Ok(());
    }
    writeln!(
        out,
        "store has {problems} problem(s) ({} blobs verified){}",
        report.blobs_checked,
        if report.leftovers.is_empty() || repair {
            ""
        } else {
            "; `hoist store verify --repair` removes leftovers of dead processes"
        }
    )?;
    Err(Failure::Reported(crate::exit::FAILED))
}

/// Prints one line per problem; returns how many.
fn print_problems(report: &VerifyReport, out: &mut dyn Write) -> std::io::Result<usize> {
    let mut lines = Vec::new();
    for d in &report.corrupt_blobs {
        lines.push(format!(
            "corrupt blob {d} (content does not hash to its name)"
        ));
    }
    for p in &report.stray_files {
        lines.push(format!(
            "stray file {} (not named by a digest)",
            p.display()
        ));
    }
    for d in &report.unreadable_manifests {
        lines.push(format!("unreadable manifest {d}"));
    }
    for d in &report.unreadable_configs {
        lines.push(format!("unreadable config {d}"));
    }
    for m in &report.missing_blobs {
        lines.push(format!(
            "missing blob {} (referenced by {})",
            m.digest, m.referenced_by
        ));
    }
    for p in &report.bad_cache_records {
        lines.push(format!("bad cache record {}", p.display()));
    }
    for p in &report.bad_snapshots {
        lines.push(format!("bad snapshot {}", p.display()));
    }
    for l in &report.leftovers {
        lines.push(format!(
            "leftover {} {}",
            kind_name(l.kind),
            l.path.display()
        ));
    }
    for line in &lines {
        writeln!(out, "{line}")?;
    }
    Ok(lines.len())
}

fn kind_name(kind: LeftoverKind) -> &'static str {
    match kind {
        LeftoverKind::TempFile => "temp-file",
        LeftoverKind::TempDir => "temp-dir",
        LeftoverKind::PartialSnapshot => "partial-snapshot",
        LeftoverKind::Mount => "mount",
        _ => "entry",
    }
}

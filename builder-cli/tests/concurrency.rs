//! Concurrency: 4 `hoist build` processes at once on one store, sharing a base image and the
//! build cache, two of them with the same context. All succeed, their digests equal those of
//! the same builds run one after another on another store, and `hoist store verify` is clean.
//!
//! `HOIST_CONCURRENCY_ROUNDS` (default 1) repeats the whole test on fresh stores;
//! `scripts/reliability` runs 10. A summary line goes to stdout (`--nocapture` shows it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod reliability_support;

use std::fs;
use std::path::{Path, PathBuf};

use reliability_support::{
    assert_clean, assert_no_mounts, busybox_context, env_number, hoist, hoist_ok,
};

/// A Dockerfile tail: a shared step (same context file, same command in every context) then
/// one of the context's own.
fn tail(own: &str) -> String {
    format!(
        "COPY shared.txt /shared.txt\nRUN cat /shared.txt > /shared-copy\n\
         COPY own.txt /own.txt\nRUN {own}\n"
    )
}

/// The contexts of one phase: (name, dockerfile). `x` is built twice at once.
fn contexts(dir: &Path, from: Option<&str>) -> Vec<(String, PathBuf)> {
    let specs = [
        ("x", "md5sum /own.txt > /sum"),
        ("y", "wc -c /own.txt > /count"),
        ("z", "mkdir -p /z && cp /own.txt /z/own && rm /shared-copy"),
    ];
    let mut out = Vec::new();
    for (name, own) in specs {
        let label = format!("{}-{name}", from.unwrap_or("cold"));
        let ctx = match from {
            None => busybox_context(dir, &label, &tail(own)),
            Some(base) => {
                let ctx = dir.join(&label);
                fs::create_dir_all(&ctx).unwrap();
                fs::write(
                    ctx.join("Dockerfile"),
                    format!("FROM {base}\n{}", tail(own)),
                )
                .unwrap();
                ctx
            }
        };
        fs::write(ctx.join("shared.txt"), "shared by every context\n").unwrap();
        fs::write(ctx.join("own.txt"), format!("context {name}\n")).unwrap();
        out.push((name.to_owned(), ctx));
    }
    // Two builds of the same context.
    out.insert(1, ("x2".to_owned(), out[0].1.clone()));
    out
}

/// Builds every context at once on `root` (4 processes); returns the digests in order.
fn build_at_once(root: &Path, builds: &[(String, PathBuf)], prefix: &str) -> Vec<String> {
    let children: Vec<_> = builds
        .iter()
        .map(|(name, ctx)| {
            reliability_support::hoist_command(root)
                .args(["build", "-t", &format!("{prefix}-{name}")])
                .arg(ctx)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .zip(builds)
        .map(|(child, (name, _))| {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "concurrent build {name} failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_owned()
        })
        .collect()
}

/// Builds every context one after another on `root`; returns the digests in order.
fn build_in_turn(root: &Path, builds: &[(String, PathBuf)], prefix: &str) -> Vec<String> {
    builds
        .iter()
        .map(|(name, ctx)| {
            let tag = format!("{prefix}-{name}");
            hoist_ok(root, &["build", "-t", &tag, ctx.to_str().unwrap()]).0
        })
        .collect()
}

#[test]
fn four_builds_at_once_on_one_store_equal_sequential_builds() {
    let rounds = env_number("HOIST_CONCURRENCY_ROUNDS", 1);
    let mut concurrent_builds = 0;
    for round in 0..rounds {
        let tmp = tempfile::tempdir().unwrap();
        let shared = tmp.path().join("shared-store");
        let alone = tmp.path().join("sequential-store");
        // Phase 1, cold store: the 4 builds race on the same base steps and cache keys.
        let cold = contexts(tmp.path(), None);
        let got = build_at_once(&shared, &cold, "cold");
        let want = build_in_turn(&alone, &cold, "cold");
        assert_eq!(got, want, "round {round}: cold concurrent != sequential");
        assert_eq!(got[0], got[1], "the same context twice");
        // Phase 2: a shared base image in the store (one of phase 1's results).
        let warm = contexts(tmp.path(), Some("cold-x"));
        let got = build_at_once(&shared, &warm, "warm");
        let want = build_in_turn(&alone, &warm, "warm");
        assert_eq!(
            got, want,
            "round {round}: concurrent on a base != sequential"
        );
        concurrent_builds += 8;
        assert_clean(&shared);
        assert_clean(&alone);
        assert_no_mounts(&shared);
        let images = hoist(&shared, &["images"]);
        assert!(images.status.success());
    }
    println!(
        "concurrency: {rounds} round(s), {concurrent_builds} builds 4 at a time, digests equal \
         to sequential builds, store verify clean"
    );
}

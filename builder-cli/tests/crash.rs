//! Crash harness: `hoist build` and `hoist push` killed with SIGKILL at seeded random moments.
//! After each kill, `hoist store verify` finds no damage (only leftovers of the dead process,
//! which the next command's recovery removes), the next build succeeds and reuses every step
//! the killed one finished, and the next push succeeds and reads back with skopeo.
//!
//! `HOIST_CRASH_KILLS` (default 5) sets the kills per test, `HOIST_CRASH_SEED` (default 1)
//! the seed; `scripts/reliability` runs 50 of each. A summary line per test goes to stdout
//! (`--nocapture` shows it).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registry_support;
mod reliability_support;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use registry_support::Registry;
use reliability_support::{
    Rng, assert_clean, assert_no_mounts, busybox_context, env_number, hoist_command, hoist_ok,
    random_bytes, step_states, verify,
};

/// After the base: a constant big file, a file that changes per trial, RUN steps reading them,
/// a per-trial big file, and another RUN (so kills land in COPY, RUN, compression, commit).
const STEPS: &str = "COPY big-a /data/a\nCOPY trial.txt /data/trial.txt\n\
                     RUN cat /data/a /data/trial.txt > /data/b && md5sum /data/b > /sum\n\
                     COPY big-b /data/c\nRUN md5sum /data/c >> /sum && echo done > /done\n\
                     ENV TRIAL=1\n";

/// How a killed process ended.
struct Killed {
    /// It had already exited when the kill came.
    finished: bool,
    /// Its standard error up to the kill.
    stderr: String,
}

/// Spawns `hoist args...` and kills it (SIGKILL) after `delay`.
fn run_and_kill(root: &Path, args: &[&str], delay: Duration) -> Killed {
    let stderr_path = root.with_file_name(format!(
        "killed-{}.log",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    let mut child = hoist_command(root)
        .args(args)
        .stdout(Stdio::null())
        .stderr(fs::File::create(&stderr_path).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let finished = child.try_wait().unwrap().is_some();
    if !finished {
        child.kill().unwrap(); // SIGKILL
    }
    child.wait().unwrap();
    let stderr = fs::read_to_string(&stderr_path).unwrap_or_default();
    fs::remove_file(&stderr_path).unwrap();
    Killed { finished, stderr }
}

/// What a series of kills found.
#[derive(Default)]
struct Tally {
    kills: u64,
    finished_before_kill: u64,
    leftovers: BTreeMap<String, usize>,
    steps_done_before_kill: usize,
}

/// Asserts that after a kill the store has no damage; adds its leftovers to `tally`.
fn check_after_kill(root: &Path, tally: &mut Tally) {
    let v = verify(root, false);
    assert!(v.damage().is_empty(), "damage after a kill:\n{}", v.text);
    for (kind, n) in v.leftovers() {
        *tally.leftovers.entry(kind).or_insert(0) += n;
    }
}

fn write_trial(ctx: &Path, rng: &mut Rng, trial: u64) {
    fs::write(ctx.join("trial.txt"), format!("trial {trial}\n")).unwrap();
    fs::write(ctx.join("big-b"), random_bytes(rng, 3 << 20)).unwrap();
}

#[test]
fn sigkilled_builds_leave_a_consistent_store_and_their_finished_steps() {
    let kills = env_number("HOIST_CRASH_KILLS", 5);
    let seed = env_number("HOIST_CRASH_SEED", 1);
    let mut rng = Rng::new(seed);
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = busybox_context(tmp.path(), "ctx", STEPS);
    fs::write(ctx.join("big-a"), random_bytes(&mut rng, 3 << 20)).unwrap();
    let ctx_arg = ctx.to_str().unwrap();
    let build_args = ["build", "--progress", "plain", "-t", "crash", ctx_arg];

    // A cold build, then an uninterrupted trial build (only the steps after the trial file
    // change) tells how long one takes: kills are spread over that time.
    write_trial(&ctx, &mut rng, 0);
    hoist_ok(&root, &build_args);
    write_trial(&ctx, &mut rng, u64::MAX);
    let started = Instant::now();
    hoist_ok(&root, &build_args);
    let full = started.elapsed().max(Duration::from_millis(200));

    let mut tally = Tally::default();
    let mut trial = 0;
    while tally.kills < kills {
        trial += 1;
        write_trial(&ctx, &mut rng, trial);
        let delay = Duration::from_millis(rng.below(full.as_millis() as u64));
        let killed = run_and_kill(&root, &build_args, delay);
        if killed.finished {
            tally.finished_before_kill += 1;
        } else {
            tally.kills += 1;
        }
        check_after_kill(&root, &mut tally);
        // The next build succeeds and reuses every step the killed one finished.
        let (done, _) = step_states(&killed.stderr);
        tally.steps_done_before_kill += done.len();
        let (_, progress) = hoist_ok(&root, &build_args);
        let (_, cached) = step_states(&progress);
        // Layer steps are cached; metadata steps (FROM, ENV) are always redone.
        let layer_step = |s: &&String| {
            ["] COPY ", "] RUN ", "] ADD "]
                .iter()
                .any(|k| s.contains(k))
        };
        for step in done.iter().filter(layer_step) {
            assert!(
                cached.contains(step),
                "trial {trial}: {step} finished before the kill but was not reused:\n{progress}"
            );
        }
        assert_clean(&root);
        assert_no_mounts(&root);
    }
    reliability_support::hoist_ok(&root, &["store", "verify"]);
    println!(
        "crash build: seed {seed}, {} kills ({} runs finished before their kill), {} steps \
         finished before a kill all reused, leftovers recovered: {:?}, damage: none",
        tally.kills, tally.finished_before_kill, tally.steps_done_before_kill, tally.leftovers
    );
}

#[test]
fn sigkilled_pushes_leave_a_consistent_store_and_the_next_push_succeeds() {
    let kills = env_number("HOIST_CRASH_KILLS", 5);
    let seed = env_number("HOIST_CRASH_SEED", 1) + 1000;
    let mut rng = Rng::new(seed);
    let registry = Registry::start();
    let host = registry.host();
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("store");
    let ctx = busybox_context(tmp.path(), "ctx", STEPS);
    fs::write(ctx.join("big-a"), random_bytes(&mut rng, 3 << 20)).unwrap();
    write_trial(&ctx, &mut rng, 0);
    let (digest, _) = hoist_ok(&root, &["build", "-t", "crash", ctx.to_str().unwrap()]);

    // An uninterrupted push to a fresh repository tells how long one takes.
    let started = Instant::now();
    let first = format!("{host}/crash-0:latest");
    hoist_ok(&root, &["tag", "crash", &first]);
    hoist_ok(&root, &["push", &first]);
    let full = started.elapsed().max(Duration::from_millis(100));

    let mut tally = Tally::default();
    let mut trial = 0;
    while tally.kills < kills {
        trial += 1;
        // A fresh repository each time, so that every push uploads every blob.
        let target = format!("{host}/crash-{trial}:latest");
        hoist_ok(&root, &["tag", "crash", &target]);
        let delay = Duration::from_millis(rng.below(full.as_millis() as u64));
        let killed = run_and_kill(&root, &["push", &target], delay);
        if killed.finished {
            tally.finished_before_kill += 1;
        } else {
            tally.kills += 1;
        }
        check_after_kill(&root, &mut tally);
        let (pushed, _) = hoist_ok(&root, &["push", &target]);
        assert_eq!(pushed, digest, "trial {trial}");
        read_back(&host, trial, &digest, tmp.path());
        assert_clean(&root);
    }
    println!(
        "crash push: seed {seed}, {} kills ({} pushes finished before their kill), every \
         re-push read back with skopeo, leftovers: {:?}, damage: none",
        tally.kills, tally.finished_before_kill, tally.leftovers
    );
}

/// The pushed image reads back with skopeo: its manifest digest is `digest` and a copy into
/// an OCI layout (which checks every blob's digest) succeeds.
fn read_back(host: &str, trial: u64, digest: &str, tmp: &Path) {
    let reference = format!("docker://{host}/crash-{trial}:latest");
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &reference])
        .output()
        .unwrap();
    assert!(raw.status.success(), "{raw:?}");
    let remote = registry_client::Digest::sha256_of(&raw.stdout);
    assert_eq!(remote.as_str(), digest, "trial {trial}");
    let dest = tmp.join(format!("readback-{trial}"));
    let copy = Command::new("skopeo")
        .args(["copy", "--src-tls-verify=false", &reference])
        .arg(format!("oci:{}:x", dest.display()))
        .output()
        .unwrap();
    assert!(
        copy.status.success(),
        "{}",
        String::from_utf8_lossy(&copy.stderr)
    );
    fs::remove_dir_all(&dest).unwrap();
}

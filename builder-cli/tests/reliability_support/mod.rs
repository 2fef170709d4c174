//! Shared by the reliability tests (crash.rs, concurrency.rs, disk_full.rs): a busybox context
//! with RUN steps, `hoist` runs, `hoist store verify`, a seeded random generator.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `hoist` binary with the store at `root`, a fixed `SOURCE_DATE_EPOCH`, runc, no docker
/// config.
pub fn hoist_command(root: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hoist"));
    cmd.env("HOIST_ROOT", root)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("DOCKER_CONFIG", root.with_file_name("no-docker-config"))
        .env_remove("HOIST_RUNTIME")
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::null());
    cmd
}

/// Runs `hoist args...`.
pub fn hoist(root: &Path, args: &[&str]) -> Output {
    hoist_command(root).args(args).output().expect("run hoist")
}

/// Runs `hoist args...`, asserting success; returns (stdout trimmed, stderr).
pub fn hoist_ok(root: &Path, args: &[&str]) -> (String, String) {
    let out = hoist(root, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "hoist {args:?} failed ({:?}):\n{stderr}",
        out.status.code()
    );
    (
        String::from_utf8(out.stdout).unwrap().trim().to_owned(),
        stderr,
    )
}

/// The lines a build context's Dockerfile starts with: busybox and its applets.
pub const BASE: &str = "FROM scratch\nCOPY busybox /bin/busybox\n\
                        RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n";

/// A context directory `dir/name` holding busybox and `Dockerfile` = [`BASE`] + `rest`.
pub fn busybox_context(dir: &Path, name: &str, rest: &str) -> PathBuf {
    let ctx = dir.join(name);
    fs::create_dir_all(&ctx).unwrap();
    fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    fs::write(ctx.join("Dockerfile"), format!("{BASE}{rest}")).unwrap();
    ctx
}

/// `n` pseudo-random bytes from `rng` (incompressible, so that layers take real work).
pub fn random_bytes(rng: &mut Rng, n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        out.extend_from_slice(&rng.next().to_le_bytes());
    }
    out.truncate(n);
    out
}

/// What `hoist store verify` said: the problem lines by their first two words.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Whether it exited 0.
    pub clean: bool,
    /// Problem lines (everything but the summary).
    pub problems: Vec<String>,
    /// The whole output.
    pub text: String,
}

impl Verdict {
    /// Problems that are not leftovers of dead processes (which recovery removes).
    pub fn damage(&self) -> Vec<&String> {
        self.problems
            .iter()
            .filter(|l| !l.starts_with("leftover "))
            .collect()
    }

    /// The leftovers by kind (`temp-dir`, `temp-file`, `partial-snapshot`, `mount`).
    pub fn leftovers(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for l in &self.problems {
            if let Some(kind) = l
                .strip_prefix("leftover ")
                .and_then(|r| r.split(' ').next())
            {
                *out.entry(kind.to_owned()).or_insert(0) += 1;
            }
        }
        out
    }
}

/// Runs `hoist store verify` (with `--repair` when `repair`).
pub fn verify(root: &Path, repair: bool) -> Verdict {
    let mut args = vec!["store", "verify"];
    if repair {
        args.push("--repair");
    }
    let out = hoist(root, &args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code();
    assert!(
        code == Some(0) || code == Some(1),
        "store verify crashed ({code:?}):\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let problems = text
        .lines()
        .filter(|l| !l.starts_with("store ") && !l.starts_with("removed "))
        .map(str::to_owned)
        .collect();
    Verdict {
        clean: code == Some(0),
        problems,
        text,
    }
}

/// Asserts `hoist store verify` finds nothing wrong.
pub fn assert_clean(root: &Path) {
    let v = verify(root, false);
    assert!(
        v.clean && v.problems.is_empty(),
        "store not clean:\n{}",
        v.text
    );
}

/// Nothing of the store under `root` is still mounted.
pub fn assert_no_mounts(root: &Path) {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = root.to_str().unwrap();
    assert!(!mounts.contains(root), "left mounted:\n{mounts}");
}

/// The steps of a `--progress plain` log that ended `DONE` and those that were `CACHED`, by
/// their title (`[stage 2/5] COPY ...`).
pub fn step_states(progress: &str) -> (Vec<String>, Vec<String>) {
    let mut titles = BTreeMap::new();
    let (mut done, mut cached) = (Vec::new(), Vec::new());
    for line in progress.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((id, what)) = rest.split_once(' ') else {
            continue;
        };
        if what.starts_with('[') {
            titles.insert(id.to_owned(), what.to_owned());
        } else if let Some(title) = titles.get(id) {
            if what.starts_with("DONE") {
                done.push(title.clone());
            } else if what == "CACHED" {
                cached.push(title.clone());
            }
        }
    }
    (done, cached)
}

/// A small seeded generator (xorshift64*): the same seed gives the same trials.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (0 is replaced).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// An integer from the environment variable `name`, else `default`.
pub fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

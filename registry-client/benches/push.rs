//! Push and pull of one large blob (1 GiB by default) to the real registry on loopback, next
//! to curl doing the same in the same run, with the client's peak memory per phase.
//!
//! Run it with `registry-client/bench/run.sh` (or `cargo bench -p registry-client --bench
//! push`); `HOIST_BENCH_MIB` sets the blob size in MiB and `HOIST_BENCH_ROUNDS` the rounds
//! (default 2; the best round of each side is compared). curl uploads monolithically:
//! `POST /blobs/uploads/`, then one `PUT "$LOCATION&digest=..."` with the whole file as body.
//! The body is sent with `--upload-file` (streamed from the file), not `--data-binary @file`:
//! curl 7.88 reads `@file` into memory and refuses files of 1 GiB and more ("out of memory");
//! on the wire both are the same PUT with a `Content-Length`. The figures are printed, not
//! asserted: a timed assertion would only measure the machine.

#[path = "../tests/harness/mod.rs"]
mod harness;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use harness::Registry;
use harness::client::{peak_rss, reference, reset_peak_rss};
use registry_client::{BlobPush, Client, Descriptor, Digest, media_type};
use sha2::Digest as _;

const MIB: u64 = 1 << 20;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Writes `size` pseudo-random bytes to `path` (streamed, 8 MiB at a time) and digests them.
fn write_blob(path: &Path, size: u64) -> Descriptor {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("create blob"));
    let mut hasher = sha2::Sha256::new();
    let mut left = size;
    let mut seed = 1;
    while left > 0 {
        let n = left.min(8 * MIB);
        let chunk = harness::random_blob(seed, n as usize);
        hasher.update(&chunk);
        file.write_all(&chunk).expect("write blob");
        left -= n;
        seed += 1;
    }
    file.flush().expect("flush");
    let digest =
        Digest::parse(&format!("sha256:{}", hex::encode(hasher.finalize()))).expect("digest");
    Descriptor::new(media_type::OCI_LAYER_GZIP, digest, size)
}

/// One measured transfer.
#[derive(Debug, Clone, Copy)]
struct Run {
    seconds: f64,
    /// Peak RSS growth of this process during the transfer (the client only).
    rss_growth: Option<u64>,
    /// Peak RSS of this process at the end of the phase.
    rss_peak: Option<u64>,
}

impl Run {
    fn mb_per_s(&self, size: u64) -> f64 {
        size as f64 / 1e6 / self.seconds
    }
}

/// curl: `POST` an upload session, then one monolithic `PUT --upload-file`.
fn curl_push(base: &str, repository: &str, path: &Path, descriptor: &Descriptor) -> Run {
    let post = Command::new("curl")
        .args(["-sS", "-X", "POST", "-o", "/dev/null", "-D", "-"])
        .arg(format!("{base}/v2/{repository}/blobs/uploads/"))
        .output()
        .expect("run curl");
    let head = String::from_utf8_lossy(&post.stdout);
    let location = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("location")
                .then(|| value.trim().to_string())
        })
        .expect("upload Location");
    let location = if location.starts_with("http") {
        location
    } else {
        format!("{base}{location}")
    };
    let separator = if location.contains('?') { '&' } else { '?' };
    let out = Command::new("curl")
        .args(["-sS", "-f", "-X", "PUT", "-H", "Expect:", "-o", "/dev/null"])
        .args(["-H", "Content-Type: application/octet-stream"])
        .args(["-w", "%{time_total}"])
        .arg("--upload-file")
        .arg(path)
        .arg(format!("{location}{separator}digest={}", descriptor.digest))
        .output()
        .expect("run curl");
    assert!(
        out.status.success(),
        "curl PUT failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // curl's own transfer time (connect to last byte).
    let seconds = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("curl time_total");
    Run {
        seconds,
        rss_growth: None,
        rss_peak: None,
    }
}

/// curl: `GET` the blob to a file.
fn curl_pull(base: &str, repository: &str, descriptor: &Descriptor, out: &Path) -> Run {
    let run = Command::new("curl")
        .args(["-sS", "-f", "-o"])
        .arg(out)
        .args(["-w", "%{time_total}"])
        .arg(format!(
            "{base}/v2/{repository}/blobs/{}",
            descriptor.digest
        ))
        .output()
        .expect("run curl");
    assert!(run.status.success(), "curl GET failed");
    let seconds = String::from_utf8_lossy(&run.stdout)
        .trim()
        .parse()
        .expect("curl time_total");
    std::fs::remove_file(out).expect("remove curl download");
    Run {
        seconds,
        rss_growth: None,
        rss_peak: None,
    }
}

/// Runs `phase` and measures its wall time and this process's peak RSS growth.
async fn measured<F: std::future::Future<Output = ()>>(phase: F) -> Run {
    let resettable = reset_peak_rss();
    let before = peak_rss();
    let started = Instant::now();
    phase.await;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss();
    Run {
        seconds,
        rss_growth: resettable.then(|| peak.saturating_sub(before)),
        rss_peak: Some(peak),
    }
}

fn best(runs: &[Run]) -> Run {
    *runs
        .iter()
        .min_by(|a, b| a.seconds.total_cmp(&b.seconds))
        .expect("at least one round")
}

fn mib(bytes: Option<u64>) -> String {
    bytes.map_or("n/a".into(), |b| {
        format!("{:.1} MiB", b as f64 / MIB as f64)
    })
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let size = env_u64("HOIST_BENCH_MIB", 1024) * MIB;
    let rounds = env_u64("HOIST_BENCH_ROUNDS", 2).max(1);
    let dir = tempfile::Builder::new()
        .prefix("hoist-bench-")
        .tempdir()
        .expect("temp dir");
    let path = dir.path().join("blob");
    eprintln!("writing a {} MiB blob...", size / MIB);
    let descriptor = write_blob(&path, size);
    let registry = Registry::start();
    let base = registry.url();
    let mut builder = Client::builder()
        .default_keychain(false)
        .certs_dirs(Vec::new());
    // Tuning experiments: HOIST_BENCH_CHUNK_MIB sets the chunk size (and so the monolithic
    // limit, which follows it unless HOIST_BENCH_MONOLITHIC_MIB is given).
    if let Some(chunk) = std::env::var("HOIST_BENCH_CHUNK_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        builder = builder
            .chunk_size(chunk * MIB)
            .monolithic_upload_limit(chunk * MIB);
    }
    if let Some(limit) = std::env::var("HOIST_BENCH_MONOLITHIC_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        builder = builder.monolithic_upload_limit(limit * MIB);
    }
    let client = builder.build().expect("client");

    let (mut curl_pushes, mut client_pushes, mut curl_pulls, mut client_pulls) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        let curl_repo = format!("bench/curl-{round}");
        let curl = curl_push(&base, &curl_repo, &path, &descriptor);
        eprintln!(
            "round {round}: curl push   {:8.1} MB/s",
            curl.mb_per_s(size)
        );
        curl_pushes.push(curl);

        let target = reference(&registry.host_port(), &format!("bench/client-{round}:1"));
        let run = measured(async {
            let pushed = client
                .push_blob_file(&target, &descriptor, &path, None)
                .await
                .expect("client push");
            assert_eq!(pushed, BlobPush::Uploaded);
        })
        .await;
        eprintln!(
            "round {round}: client push {:8.1} MB/s, peak RSS +{}",
            run.mb_per_s(size),
            mib(run.rss_growth)
        );
        client_pushes.push(run);

        let curl_out = dir.path().join("curl-out");
        let curl = curl_pull(&base, &curl_repo, &descriptor, &curl_out);
        eprintln!(
            "round {round}: curl pull   {:8.1} MB/s",
            curl.mb_per_s(size)
        );
        curl_pulls.push(curl);

        let out = dir.path().join("client-out");
        let run = measured(async {
            client
                .fetch_blob_to_file(&target, &descriptor, &out)
                .await
                .expect("client pull");
        })
        .await;
        std::fs::remove_file(&out).expect("remove client download");
        eprintln!(
            "round {round}: client pull {:8.1} MB/s (digest verified), peak RSS +{}",
            run.mb_per_s(size),
            mib(run.rss_growth)
        );
        client_pulls.push(run);
        // Let the registry's storage settle between rounds.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let (cp, kp, cl, kl) = (
        best(&curl_pushes),
        best(&client_pushes),
        best(&curl_pulls),
        best(&client_pulls),
    );
    println!(
        "\nblob {} MiB, best of {rounds} round(s), registry-client vs curl on loopback:",
        size / MIB
    );
    println!(
        "  push: client {:7.1} MB/s  curl {:7.1} MB/s  ratio {:.2} (target >= 0.80)",
        kp.mb_per_s(size),
        cp.mb_per_s(size),
        kp.mb_per_s(size) / cp.mb_per_s(size)
    );
    println!(
        "  pull: client {:7.1} MB/s  curl {:7.1} MB/s  ratio {:.2} (client also verifies the digest)",
        kl.mb_per_s(size),
        cl.mb_per_s(size),
        kl.mb_per_s(size) / cl.mb_per_s(size)
    );
    let worst = |runs: &[Run]| runs.iter().filter_map(|r| r.rss_growth).max();
    println!(
        "  client peak RSS: push +{} (process peak {}), pull +{} (process peak {})",
        mib(worst(&client_pushes)),
        mib(kp.rss_peak),
        mib(worst(&client_pulls)),
        mib(kl.rss_peak)
    );
}

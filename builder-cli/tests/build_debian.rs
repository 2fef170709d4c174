//! The realistic image: a Debian bookworm minbase root filesystem (made once with
//! `debootstrap` and cached as `target/test-cache/bookworm-minbase.tar`), imported as a base
//! through an OCI layout (`--build-context base=oci-layout://...`), then
//! `RUN apt-get update && apt-get install curl` with a cache mount for apt's archives; the image
//! runs `curl --version` in a following stage and under runc after `umoci unpack`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The deb.debian.org mirror, as this machine's apt sources name it.
const MIRROR: &str = "http://deb.debian.org/debian";

/// The cached rootfs tarball, made with debootstrap on first use.
fn bookworm_tar() -> PathBuf {
    let cache = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-cache");
    fs::create_dir_all(&cache).unwrap();
    let tar = cache.join("bookworm-minbase.tar");
    if tar.is_file() {
        return tar;
    }
    let work = tempfile::tempdir_in(&cache).unwrap();
    let rootfs = work.path().join("rootfs");
    let started = Instant::now();
    run(Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&rootfs)
        .arg(MIRROR));
    eprintln!("debootstrap: {:?}", started.elapsed());
    let partial = cache.join("bookworm-minbase.tar.partial");
    run(Command::new("tar")
        .arg("-C")
        .arg(&rootfs)
        .args(["--numeric-owner", "-cf"])
        .arg(&partial)
        .arg("."));
    fs::rename(&partial, &tar).unwrap();
    tar
}

/// An OCI layout `dir` holding the tarball as the one layer of the image tagged `bookworm`.
fn bookworm_layout(dir: &Path) -> PathBuf {
    let layout = dir.join("layout");
    let bundle = dir.join("bundle");
    let image = format!("{}:bookworm", layout.display());
    run(Command::new("umoci")
        .args(["init", "--layout"])
        .arg(&layout));
    run(Command::new("umoci").args(["new", "--image", &image]));
    run(Command::new("umoci")
        .args(["unpack", "--image", &image])
        .arg(&bundle));
    run(Command::new("tar")
        .arg("-C")
        .arg(bundle.join("rootfs"))
        .args(["--numeric-owner", "-xpf"])
        .arg(bookworm_tar()));
    run(Command::new("umoci")
        .args(["repack", "--image", &image])
        .arg(&bundle));
    run(Command::new("umoci").args([
        "config",
        "--image",
        &image,
        "--config.env",
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ]));
    layout
}

#[test]
fn debian_base_installs_curl_with_apt_and_runs_it() {
    let tmp = tempfile::tempdir().unwrap();
    let layout = bookworm_layout(tmp.path());
    let context = tmp.path().join("context");
    fs::create_dir_all(&context).unwrap();
    fs::write(
        context.join("Dockerfile"),
        r#"FROM base AS curl
RUN rm -f /etc/apt/apt.conf.d/docker-clean
RUN --mount=type=cache,target=/var/cache/apt,sharing=locked \
    --mount=type=cache,target=/var/lib/apt/lists,sharing=locked \
    apt-get update && apt-get install -y --no-install-recommends curl
FROM curl
RUN curl --version > /curl-version
"#,
    )
    .unwrap();
    let root = tmp.path().join("store");
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(["build", "-t", "img", "--build-context"])
        .arg(format!("base=oci-layout://{}:bookworm", layout.display()))
        .arg(&context)
        .env("HOIST_ROOT", &root)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    eprintln!("bookworm + apt-get install curl: {:?}", started.elapsed());
    let bundle = tmp.path().join("img");
    run(Command::new("umoci")
        .args(["unpack", "--image"])
        .arg(format!("{}:img:latest", root.display()))
        .arg(&bundle));
    let rootfs = bundle.join("rootfs");
    let version = fs::read_to_string(rootfs.join("curl-version")).unwrap();
    assert!(version.starts_with("curl 7.88"), "{version}");
    // apt's downloads went to the cache mounts: the image has the base's package lists and
    // archives (debootstrap leaves its own), no curl .deb.
    let names = |dir: &Path| -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|d| {
                d.flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let base_lists = names(&tmp.path().join("bundle/rootfs/var/lib/apt/lists"));
    assert_eq!(names(&rootfs.join("var/lib/apt/lists")), base_lists);
    let debs = names(&rootfs.join("var/cache/apt/archives"));
    assert!(!debs.iter().any(|n| n.starts_with("curl_")), "{debs:?}");
    assert_eq!(
        debs,
        names(&tmp.path().join("bundle/rootfs/var/cache/apt/archives"))
    );
    // The image runs curl under runc, as unpacked by umoci.
    let config = bundle.join("config.json");
    let mut spec: serde_json::Value = serde_json::from_slice(&fs::read(&config).unwrap()).unwrap();
    spec["process"]["args"] = serde_json::json!(["curl", "--version"]);
    spec["process"]["terminal"] = serde_json::json!(false);
    fs::write(&config, serde_json::to_vec(&spec).unwrap()).unwrap();
    let id = format!("hoist-debian-{}", std::process::id());
    let out = run(Command::new("runc")
        .args(["run", "--bundle"])
        .arg(&bundle)
        .arg(&id));
    assert!(out.starts_with("curl 7.88"), "{out}");
}

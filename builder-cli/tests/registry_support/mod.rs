//! Shared by the registry build tests: the real registry on a loopback port, `hoist` runs,
//! test contexts, and image validation from any OCI layout.
// Each test binary uses a different subset.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io::{self, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use builder_core::image::validate::{BlobSource, SchemaValidator, validate_image};
use builder_core::image::{ConfigBlob, Layout};
use builder_core::snapshot::LayerReader;
use registry_client::{Descriptor, Digest, media_type};
use serde_json::Value;

/// The real registry (`docker-registry`, distribution 2.8) on a free loopback port, stopped on
/// drop. (The registry-client harness does much more; this is all these tests need.)
pub struct Registry {
    child: Option<Child>,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Starts the registry and waits until it accepts connections.
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let config = dir.path().join("config.yml");
            fs::write(
                &config,
                format!(
                    "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    \
                     rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n",
                    dir.path().join("storage").display()
                ),
            )
            .unwrap();
            let log = fs::File::create(dir.path().join("registry.log")).unwrap();
            let mut child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config)
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("docker-registry is installed (scripts/install-deps)");
            let deadline = Instant::now() + Duration::from_secs(20);
            while Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Registry {
                        child: Some(child),
                        port,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("the registry did not start");
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// What the registry logged (each request, at level info).
    pub fn log(&self) -> String {
        fs::read_to_string(self._dir.path().join("registry.log")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `hoist` with the store at `root`.
pub fn hoist(root: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hoist"))
        .args(args)
        .env("HOIST_ROOT", root)
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .env("DOCKER_CONFIG", root.join("no-docker-config"))
        .output()
        .expect("run hoist")
}

/// Runs `hoist`, asserting success; returns stdout.
pub fn hoist_ok(root: &Path, args: &[&str]) -> String {
    let out = hoist(root, args);
    assert!(
        out.status.success(),
        "hoist {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

pub fn skopeo_json(args: &[&str]) -> Value {
    serde_json::from_str(&run(Command::new("skopeo").args(args))).unwrap()
}

/// A context holding a static busybox and a Dockerfile: FROM scratch + COPY + ENV + CMD.
pub fn busybox_context(dir: &Path) -> PathBuf {
    let context = dir.join("busybox");
    fs::create_dir_all(&context).unwrap();
    fs::copy("/bin/busybox", context.join("busybox")).unwrap();
    fs::write(
        context.join("Dockerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENV BASE=busybox PATH=/bin\n\
         WORKDIR /work\nCMD [\"/bin/busybox\", \"sh\"]\n",
    )
    .unwrap();
    context
}

/// A context whose Dockerfile is `dockerfile`, with a file `app.txt`.
pub fn app_context(dir: &Path, name: &str, dockerfile: &str) -> PathBuf {
    let context = dir.join(name);
    fs::create_dir_all(&context).unwrap();
    fs::write(context.join("app.txt"), "app\n").unwrap();
    fs::write(context.join("Dockerfile"), dockerfile).unwrap();
    context
}

/// The store (or any OCI layout) as [`validate_image`] reads it.
pub struct LayoutBlobs(Layout);

impl BlobSource for LayoutBlobs {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(fs::File::open(self.0.blob_path(digest))?))
    }

    fn decompress<'a>(
        &self,
        _: &str,
        compressed: Box<dyn Read + 'a>,
    ) -> io::Result<Box<dyn Read + 'a>> {
        Ok(Box::new(LayerReader::new(compressed)?))
    }
}

/// Reads the image `manifest_digest` from the layout at `root`, validates it, and returns its
/// layer digests and config.
pub fn validated(root: &Path, manifest_digest: &str) -> (Vec<String>, Value) {
    let layout = Layout::new(root);
    let digest = Digest::parse(manifest_digest).unwrap();
    let descriptor = Descriptor::new(media_type::OCI_MANIFEST, digest, 0);
    let image = layout
        .image(&descriptor, None)
        .unwrap()
        .expect("image in layout");
    let config = ConfigBlob::parse(image.config.bytes().to_vec()).unwrap();
    validate_image(
        &SchemaValidator::new(),
        &image.manifest,
        &config,
        &LayoutBlobs(layout),
    )
    .unwrap();
    let layers = image
        .manifest
        .layers
        .iter()
        .map(|l| l.digest.to_string())
        .collect();
    (layers, serde_json::from_slice(config.bytes()).unwrap())
}

pub fn env_of(config: &Value) -> Vec<String> {
    config["config"]["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

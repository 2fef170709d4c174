//! Hostile base images through `hoist build`: layers, manifests and configs written by hand
//! into an OCI layout used as `--build-context base=oci-layout://DIR`, then `FROM base` + RUN
//! (which extracts the layers into the store's snapshots and runs runc on them). Nothing may
//! appear outside the snapshot, and every refusal names what was wrong.
//! (The extraction rules themselves are unit-tested in builder-core/tests/extract_hostile.rs.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod hostile_support;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use common::{hoist, hoist_command, stderr};
use hostile_support::*;
use serde_json::json;

/// Builds `dockerfile` (`FROM base` + ...) with `layout` as the `base` context; returns
/// (success, stderr).
fn build(root: &Path, layout: &LayoutDir, dockerfile: &str) -> (bool, String) {
    let ctx = root.with_file_name("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("Dockerfile"), dockerfile).unwrap();
    let out = hoist(
        root,
        &[
            "build",
            "-t",
            "hostile",
            "--build-context",
            &layout.context_arg("base"),
            ctx.to_str().unwrap(),
        ],
    );
    (out.status.success(), stderr(&out))
}

fn assert_fails_with(root: &Path, layout: &LayoutDir, dockerfile: &str, needles: &[&str]) {
    let (ok, err) = build(root, layout, dockerfile);
    assert!(!ok, "the build should fail:\n{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in:\n{err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

/// A temp dir holding `outside/secret` (the host file an image tries to reach), a store and a
/// layout dir; the absolute path of `outside`.
fn setup() -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("outside")).unwrap();
    fs::write(tmp.path().join("outside/secret"), "host secret\n").unwrap();
    let outside = tmp.path().join("outside").display().to_string();
    (tmp, outside)
}

/// `outside` holds only the untouched secret, `/` gained nothing, the temp dir holds only what
/// the test made.
fn assert_nothing_escaped(tmp: &Path, outside: &str) {
    assert_eq!(tree(Path::new(outside)), ["secret"]);
    let secret = Path::new(outside).join("secret");
    assert_eq!(fs::read_to_string(&secret).unwrap(), "host secret\n");
    assert_eq!(fs::metadata(&secret).unwrap().nlink(), 1, "hard-linked");
    let mut top: Vec<String> = fs::read_dir(tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    top.sort();
    let allowed = ["ctx", "docker", "layout", "outside", "store"];
    assert!(top.iter().all(|n| allowed.contains(&n.as_str())), "{top:?}");
    for name in ["absolute", "dotdot", "through-abs", "through-rel"] {
        assert!(!Path::new("/").join(name).exists(), "/{name} written");
    }
}

/// `../` names, an absolute name, symlinks (absolute and relative) leading out followed by
/// writes through them: all land inside the snapshot, where the container sees them; the
/// host's directory is untouched.
#[test]
fn escaping_names_and_symlinks_in_a_base_layer_stay_inside() {
    let (tmp, outside) = setup();
    let up = "../".repeat(12);
    let hostile = Tar::new()
        .entry(
            &format!("{up}{outside}/dotdot"),
            Kind::File(b"dotdot\n".to_vec()),
        )
        .entry(
            &format!("{outside}/absolute"),
            Kind::File(b"absolute\n".to_vec()),
        )
        .entry("esc", Kind::Symlink(outside.clone()))
        .entry("esc/through-abs", Kind::File(b"through-abs\n".to_vec()))
        .entry("up", Kind::Symlink(format!("{up}{outside}")))
        .entry("up/through-rel", Kind::File(b"through-rel\n".to_vec()))
        .entry("../../dotdot", Kind::File(b"dotdot\n".to_vec()))
        .entry("/absolute", Kind::File(b"absolute\n".to_vec()))
        .finish();
    let layout = LayoutDir::image(
        &tmp.path().join("layout"),
        &[busybox_layer(), Layer::gzip(&hostile)],
    );
    let root = tmp.path().join("store");
    let dockerfile = format!(
        "FROM base\nRUN cat /esc/through-abs /up/through-rel {outside}/dotdot {outside}/absolute \
         /dotdot /absolute > /seen && test ! -e {outside}/secret\n"
    );
    let (ok, err) = build(&root, &layout, &dockerfile);
    assert!(ok, "{err}");
    assert_nothing_escaped(tmp.path(), &outside);
    // The snapshot holds them, under the store.
    let snapshots = root.join("hoist/snapshots");
    let found: Vec<String> = tree(&snapshots)
        .into_iter()
        .filter(|p| p.ends_with("through-abs") || p.ends_with("/dotdot"))
        .collect();
    assert!(!found.is_empty(), "{:?}", tree(&snapshots));
}

/// Hard links whose targets are outside (absolute, `../`) are resolved inside the destination,
/// where nothing is: a typed error naming the entry, the host file keeps one link.
#[test]
fn hard_links_to_outside_fail_clearly() {
    let (tmp, outside) = setup();
    let root = tmp.path().join("store");
    for target in [
        format!("{outside}/secret"),
        format!("{}{outside}/secret", "../".repeat(12)),
    ] {
        let hostile = Tar::new()
            .entry("link", Kind::Hardlink(target.clone()))
            .finish();
        let dir = tmp.path().join("layout");
        let _ = fs::remove_dir_all(&dir);
        let layout = LayoutDir::image(&dir, &[busybox_layer(), Layer::tar(hostile)]);
        assert_fails_with(
            &root,
            &layout,
            "FROM base\nRUN true\n",
            &["\"link\"", "hard link target", "does not exist"],
        );
        assert_nothing_escaped(tmp.path(), &outside);
    }
}

/// A header claiming a terabyte, followed by a few bytes: a read error naming the entry, no
/// allocation of the claimed size, nothing left in the snapshots.
#[test]
fn a_header_claiming_a_huge_size_is_a_read_error() {
    let (tmp, outside) = setup();
    let root = tmp.path().join("store");
    for size in [1u64 << 40, u64::MAX >> 1, 0o77777777776] {
        let hostile = Tar::new().lying_file("huge", size, b"tiny").unfinished();
        let dir = tmp.path().join("layout");
        let _ = fs::remove_dir_all(&dir);
        let layout = LayoutDir::image(&dir, &[busybox_layer(), Layer::gzip(&hostile)]);
        let mut cmd = hoist_command(&root);
        let ctx = tmp.path().join("ctx");
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), "FROM base\nRUN true\n").unwrap();
        cmd.args(["build", "--build-context", &layout.context_arg("base")])
            .arg(&ctx);
        let (out, rss_kib) = with_peak_rss(&mut cmd);
        let err = stderr(&out);
        assert!(!out.status.success());
        assert!(
            err.contains("reading layer") && err.contains("\"huge\""),
            "{err}"
        );
        assert!(rss_kib < 200 * 1024, "peak RSS {rss_kib} KiB");
        assert_nothing_escaped(tmp.path(), &outside);
        let leftovers: Vec<String> = tree(&root.join("hoist/snapshots"))
            .into_iter()
            .filter(|p| p.contains("huge"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}

/// A config whose diff_id is another layer's (here: busybox's, stated for a layer holding a
/// fake `/bin/sh`): refused before the snapshot is named, so no later image sharing that
/// diff_id can be served the forged content.
#[test]
fn a_config_lying_about_a_diff_id_cannot_poison_the_snapshots() {
    let (tmp, _) = setup();
    let root = tmp.path().join("store");
    let busybox = busybox_layer();
    let real_diff_id = busybox.diff_id.clone();
    let forged = Tar::new()
        .entry("bin/", Kind::Dir)
        .entry("bin/sh", Kind::File(b"#!forged\n".to_vec()))
        .finish();
    let mut forged = Layer::gzip(&forged);
    forged.diff_id = real_diff_id.clone();
    let layout = LayoutDir::image(&tmp.path().join("layout"), &[forged]);
    assert_fails_with(
        &root,
        &layout,
        "FROM base\nRUN true\n",
        &[
            &format!("the image config says {real_diff_id}"),
            "corrupt or forged",
        ],
    );
    let hex = real_diff_id.strip_prefix("sha256:").unwrap();
    assert!(
        !tree(&root.join("hoist/snapshots"))
            .iter()
            .any(|p| p.contains(hex)),
        "a snapshot was named after the forged diff_id"
    );
    // The honest image with that layer then builds and runs.
    let honest = tmp.path().join("honest");
    let layout = LayoutDir::image(&honest, &[busybox_layer()]);
    let (ok, err) = build(&root, &layout, "FROM base\nRUN test -x /bin/busybox\n");
    assert!(ok, "{err}");
}

/// Manifests and configs that are enormous, deeply nested, or lie about digests and sizes.
#[test]
fn lying_enormous_and_nested_documents_fail_clearly() {
    let (tmp, _) = setup();
    // A fresh store for each case: a store holding the honest blob never reads the lying one.
    let root = tmp.path().join("store");
    let dir = tmp.path().join("layout");
    let fresh = || {
        let _ = fs::remove_dir_all(&dir);
        let _ = fs::remove_dir_all(&root);
        LayoutDir::new(&dir)
    };
    const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
    const INDEX: &str = "application/vnd.oci.image.index.v1+json";
    let run = "FROM base\nRUN true\n";

    // A 9 MiB manifest (an annotation of padding).
    let layout = fresh();
    let manifest = layout.manifest(&[busybox_layer()], None);
    let mut value: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    value["annotations"] = json!({"pad": "x".repeat(9 << 20)});
    layout.index(MANIFEST, &serde_json::to_vec(&value).unwrap());
    assert_fails_with(&root, &layout, run, &["larger than 8 MiB"]);

    // A 9 MiB config.
    let layout = fresh();
    let busybox = busybox_layer();
    let mut config = LayoutDir::config(std::slice::from_ref(&busybox.diff_id));
    config["config"]["Labels"] = json!({"pad": "x".repeat(9 << 20)});
    let manifest = layout.manifest(&[busybox], Some(config));
    layout.index(MANIFEST, &manifest);
    assert_fails_with(&root, &layout, run, &["larger than 8 MiB"]);

    // A manifest nested 100,000 arrays deep.
    let layout = fresh();
    let deep = format!(
        "{{\"schemaVersion\":2,\"x\":{}{}}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    layout.index(MANIFEST, deep.as_bytes());
    assert_fails_with(&root, &layout, run, &["invalid manifest"]);

    // index.json itself nested deep.
    let layout = fresh();
    fs::write(
        dir.join("index.json"),
        format!(
            "{{\"schemaVersion\":2,\"x\":{}{}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    )
    .unwrap();
    assert_fails_with(
        &root,
        &layout,
        run,
        &["not an OCI image layout", "index.json"],
    );

    // An index of an index of ... 300 deep.
    let layout = fresh();
    let mut doc = layout.manifest(&[busybox_layer()], None);
    let mut media = MANIFEST;
    for _ in 0..300 {
        let digest = layout.blob(&doc);
        doc = serde_json::to_vec(&json!({
            "schemaVersion": 2,
            "mediaType": INDEX,
            "manifests": [{
                "mediaType": media,
                "digest": digest,
                "size": doc.len(),
                "platform": {"os": "linux", "architecture": host_arch()},
            }],
        }))
        .unwrap();
        media = INDEX;
    }
    layout.index(INDEX, &doc);
    assert_fails_with(&root, &layout, run, &["nested"]);

    // A layer blob whose content is not its digest.
    let layout = fresh();
    let manifest = layout.manifest(&[busybox_layer()], None);
    let value: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layer_digest = value["layers"][0]["digest"].as_str().unwrap().to_owned();
    layout.blob_at(&layer_digest, b"not the layer");
    layout.index(MANIFEST, &manifest);
    assert_fails_with(&root, &layout, run, &[&layer_digest]);

    // A layer descriptor lying about the size.
    let layout = fresh();
    let mut busybox = busybox_layer();
    busybox.declared_size = Some(10);
    let manifest = layout.manifest(&[busybox], None);
    layout.index(MANIFEST, &manifest);
    assert_fails_with(&root, &layout, run, &["size"]);

    // A config whose content is not its digest.
    let layout = fresh();
    let manifest = layout.manifest(&[busybox_layer()], None);
    let value: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let config_digest = value["config"]["digest"].as_str().unwrap().to_owned();
    layout.blob_at(&config_digest, b"{}");
    layout.index(MANIFEST, &manifest);
    assert_fails_with(&root, &layout, run, &["does not match its digest"]);

    // More diff_ids than layers.
    let layout = fresh();
    let busybox = busybox_layer();
    let config = LayoutDir::config(&[busybox.diff_id.clone(), busybox.diff_id.clone()]);
    let manifest = layout.manifest(&[busybox], Some(config));
    layout.index(MANIFEST, &manifest);
    assert_fails_with(&root, &layout, run, &["diff_id"]);
}

/// Device nodes in a base layer (the host's root disk, /dev/mem, /dev/kmsg) are extracted (as
/// Docker does) but cannot be opened from a RUN step: the runtime's device rules allow only the
/// standard /dev nodes. The same for nodes made with mknod inside the step. Checked with runc
/// (and crun with `HOIST_TEST_CRUN=1`, on hosts where crun runs).
#[test]
fn device_nodes_in_a_base_layer_cannot_be_opened_by_run() {
    let (tmp, _) = setup();
    let root_dev = fs::metadata("/").unwrap().dev();
    let (major, minor) = (
        ((root_dev >> 8) & 0xfff) as u32,
        ((root_dev & 0xff) | ((root_dev >> 12) & 0xfff00)) as u32,
    );
    let hostile = Tar::new()
        .entry("disk", Kind::Block(major, minor))
        .entry("vda", Kind::Block(254, 0))
        .entry("mem", Kind::Char(1, 1))
        .entry("kmsg", Kind::Char(1, 11))
        .entry("fifo", Kind::Fifo)
        .finish();
    let layout = LayoutDir::image(
        &tmp.path().join("layout"),
        &[busybox_layer(), Layer::tar(hostile)],
    );
    let dockerfile = format!(
        "FROM base\n\
         RUN test -b /disk && test -c /mem && test -p /fifo\n\
         RUN for d in /disk /vda /mem /kmsg; do if head -c 1 $d > /dev/null; then echo \"read $d\"; exit 1; fi; done\n\
         RUN mknod /made b {major} {minor} && if head -c 1 /made > /dev/null; then echo read; exit 1; fi\n\
         RUN head -c 1 /dev/urandom > /dev/null && echo x > /dev/null\n"
    );
    // crun refuses to run at all on hosts with hybrid cgroups (this CI machine): opt in.
    let mut runtimes = vec!["runc"];
    if std::env::var_os("HOIST_TEST_CRUN").is_some() {
        runtimes.push("crun");
    }
    for runtime in runtimes {
        let root = tmp.path().join("store");
        let ctx = tmp.path().join("ctx");
        fs::create_dir_all(&ctx).unwrap();
        fs::write(ctx.join("Dockerfile"), &dockerfile).unwrap();
        let out = hoist_command(&root)
            .args(["build", "--no-cache", "--runtime", runtime])
            .args(["--build-context", &layout.context_arg("base")])
            .arg(&ctx)
            .output()
            .unwrap();
        assert!(out.status.success(), "{runtime}: {}", stderr(&out));
    }
}

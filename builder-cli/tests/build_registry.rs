//! `hoist build` with base images, outputs and pushes: the real registry on a loopback port,
//! every result read back with skopeo, umoci or tar and validated.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod registry_support;

use std::fs;
use std::path::Path;
use std::process::Command;

use registry_client::media_type;
use serde_json::Value;

use registry_support::{
    Registry, app_context, busybox_context, env_of, hoist, hoist_ok, run, skopeo_json, validated,
};

#[test]
fn push_then_build_on_the_pushed_image_pulling_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut registry = Registry::start();
    let host = registry.host();
    let busybox_ref = format!("{host}/busybox:1");

    // 1. A busybox image built by hoist itself, pushed with --push.
    let builder_store = tmp.path().join("store-a");
    let context = busybox_context(tmp.path());
    let iid = tmp.path().join("iid");
    let meta = tmp.path().join("meta.json");
    let digest = hoist_ok(
        &builder_store,
        &[
            "build",
            "--push",
            "-t",
            &busybox_ref,
            "--iidfile",
            iid.to_str().unwrap(),
            "--metadata-file",
            meta.to_str().unwrap(),
            context.to_str().unwrap(),
        ],
    );
    let (base_layers, base_config) = validated(&builder_store, &digest);
    assert_eq!(base_layers.len(), 2, "COPY and WORKDIR layers");
    let iid = fs::read_to_string(&iid).unwrap();
    let meta: Value = serde_json::from_slice(&fs::read(&meta).unwrap()).unwrap();
    assert_eq!(meta["containerimage.digest"], digest.as_str());
    assert_eq!(meta["containerimage.config.digest"], iid.as_str());
    assert_eq!(meta["containerimage.descriptor"]["digest"], digest.as_str());
    assert_eq!(
        meta["containerimage.descriptor"]["mediaType"],
        media_type::OCI_MANIFEST
    );
    assert_eq!(meta["image.name"], busybox_ref.as_str());
    assert!(iid.starts_with("sha256:") && iid.len() == 71, "{iid}");

    // 2. skopeo copies it back: the same manifest digest, the same layers.
    let copied = tmp.path().join("copied");
    run(Command::new("skopeo").args([
        "copy",
        "--src-tls-verify=false",
        &format!("docker://{busybox_ref}"),
        &format!("oci:{}:b", copied.display()),
    ]));
    let remote = skopeo_json(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{busybox_ref}"),
    ]);
    assert_eq!(remote["Digest"], digest.as_str());
    let copied_index: Value =
        serde_json::from_slice(&fs::read(copied.join("index.json")).unwrap()).unwrap();
    assert_eq!(copied_index["manifests"][0]["digest"], digest.as_str());

    // 3. A fresh store builds FROM the pushed image: base layers byte for byte, config inherited.
    let store = tmp.path().join("store-b");
    let derived = "FROM {BASE}\nCOPY app.txt /app/\nENV APP=1\n".replace("{BASE}", &busybox_ref);
    let app = app_context(tmp.path(), "app", &derived);
    let first = hoist(&store, &["build", "-t", "app", app.to_str().unwrap()]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let progress = String::from_utf8_lossy(&first.stderr);
    assert!(
        progress.contains(&format!("load metadata for {busybox_ref}")),
        "{progress}"
    );
    let app_digest = String::from_utf8(first.stdout).unwrap().trim().to_owned();
    let (layers, config) = validated(&store, &app_digest);
    assert_eq!(layers[..2], base_layers[..]);
    assert_eq!(layers.len(), 3);
    assert_eq!(env_of(&config), ["PATH=/bin", "BASE=busybox", "APP=1"]);
    assert_eq!(config["config"]["WorkingDir"], "/work");
    assert_eq!(config["config"]["Cmd"], base_config["config"]["Cmd"]);
    // The pull is recorded as a tag in the store (index.json), as docker does.
    let images = hoist_ok(&store, &["images"]);
    assert!(images.contains(&busybox_ref), "{images}");

    // 4. `hoist pull` and `hoist push` are thin wrappers over the same code.
    let pull_store = tmp.path().join("store-c");
    let pulled = hoist_ok(&pull_store, &["pull", &busybox_ref]);
    assert_eq!(pulled, digest);
    hoist_ok(
        &store,
        &[
            "build",
            "-t",
            &format!("{host}/app:2"),
            app.to_str().unwrap(),
        ],
    );
    let pushed = hoist_ok(&store, &["push", &format!("{host}/app:2")]);
    assert_eq!(pushed, app_digest);
    // The base layers were mounted from the repository they were pulled from, not uploaded.
    let log = registry.log();
    assert!(
        log.lines()
            .any(|l| l.contains("/v2/app/blobs/uploads/") && l.contains("from=busybox")),
        "no cross-repository mount in the registry log:\n{log}"
    );
    let remote = skopeo_json(&[
        "inspect",
        "--tls-verify=false",
        &format!("docker://{host}/app:2"),
    ]);
    assert_eq!(remote["Digest"], app_digest.as_str());

    // 5. The registry stops: a second build still works (the base is in the store), a build
    //    that needs a change on top of it too; --pull must go to the registry and fails.
    registry.stop();
    let again = hoist_ok(&store, &["build", "--no-cache", app.to_str().unwrap()]);
    assert_eq!(again, app_digest);
    let other = app_context(
        tmp.path(),
        "other",
        &"FROM {BASE}\nLABEL other=1\n".replace("{BASE}", &busybox_ref),
    );
    let offline = hoist_ok(&store, &["build", other.to_str().unwrap()]);
    validated(&store, &offline);
    // RUN on the pulled base: its layers are the container's lower layers.
    let ran = app_context(
        tmp.path(),
        "ran",
        &"FROM {BASE}\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo $BASE > /ran.txt\"]\n"
            .replace("{BASE}", &busybox_ref),
    );
    let ran_out = tmp.path().join("ran-rootfs");
    let ran_digest = hoist_ok(
        &store,
        &[
            "build",
            "-o",
            ran_out.to_str().unwrap(),
            ran.to_str().unwrap(),
        ],
    );
    let (layers, _) = validated(&store, &ran_digest);
    assert_eq!(layers[..2], base_layers[..]);
    assert_eq!(
        fs::read_to_string(ran_out.join("ran.txt")).unwrap(),
        "busybox\n"
    );
    let pull = hoist(&store, &["build", "--pull", other.to_str().unwrap()]);
    assert!(!pull.status.success());
    let err = String::from_utf8_lossy(&pull.stderr);
    assert!(
        err.contains(&format!("cannot pull {host}/busybox:1")),
        "{err}"
    );
}

#[test]
fn local_tags_named_contexts_and_copy_from_an_image_need_no_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let context = busybox_context(tmp.path());
    let base_digest = hoist_ok(
        &store,
        &["build", "-t", "localbase", context.to_str().unwrap()],
    );
    let (base_layers, _) = validated(&store, &base_digest);

    // FROM a local tag: no registry is running, none is contacted.
    let app = app_context(
        tmp.path(),
        "app",
        "FROM localbase\nCOPY --from=localbase /bin/busybox /copy/busybox\n\
         COPY --from=src hello.txt /from-dir/\nENV APP=1\n",
    );
    let src = tmp.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("hello.txt"), "hello from a named context\n").unwrap();
    let src_arg = format!("src={}", src.display());
    let digest = hoist_ok(
        &store,
        &[
            "build",
            "--build-context",
            &src_arg,
            "-t",
            "app",
            app.to_str().unwrap(),
        ],
    );
    let (layers, config) = validated(&store, &digest);
    assert_eq!(layers[..2], base_layers[..]);
    assert_eq!(env_of(&config), ["PATH=/bin", "BASE=busybox", "APP=1"]);

    // The base's ENV feeds expansion, its ONBUILD triggers run first (in the child's context),
    // and the child does not inherit them.
    let trigger_base = app_context(
        tmp.path(),
        "trigger-base",
        "FROM localbase\nUSER 1000\nONBUILD ENV TRIGGERED=yes\nONBUILD COPY app.txt /onbuild/\n",
    );
    hoist_ok(
        &store,
        &["build", "-t", "trigbase", trigger_base.to_str().unwrap()],
    );
    let child = app_context(
        tmp.path(),
        "child",
        "FROM trigbase\nCOPY app.txt /$BASE/$TRIGGERED/\n",
    );
    let child_out = tmp.path().join("child-rootfs");
    let digest = hoist_ok(
        &store,
        &[
            "build",
            "-o",
            child_out.to_str().unwrap(),
            child.to_str().unwrap(),
        ],
    );
    let (layers, config) = validated(&store, &digest);
    assert_eq!(layers[..2], base_layers[..]);
    assert_eq!(layers.len(), 4, "base 2 + trigger COPY + COPY");
    assert_eq!(
        env_of(&config),
        ["PATH=/bin", "BASE=busybox", "TRIGGERED=yes"]
    );
    assert_eq!(config["config"]["User"], "1000");
    assert!(config["config"].get("OnBuild").is_none_or(Value::is_null));
    assert!(child_out.join("onbuild/app.txt").is_file());
    assert!(child_out.join("busybox/yes/app.txt").is_file());

    // The filesystem, exported as a directory and as a tar.
    let rootfs = tmp.path().join("rootfs");
    let rootfs_tar = tmp.path().join("rootfs.tar");
    hoist_ok(
        &store,
        &[
            "build",
            "--build-context",
            &src_arg,
            "--output",
            &format!("type=local,dest={}", rootfs.display()),
            "--output",
            &format!("type=tar,dest={}", rootfs_tar.display()),
            app.to_str().unwrap(),
        ],
    );
    let busybox = fs::read("/bin/busybox").unwrap();
    assert_eq!(fs::read(rootfs.join("bin/busybox")).unwrap(), busybox);
    assert_eq!(fs::read(rootfs.join("copy/busybox")).unwrap(), busybox);
    assert_eq!(
        fs::read_to_string(rootfs.join("from-dir/hello.txt")).unwrap(),
        "hello from a named context\n"
    );
    let listing = run(Command::new("tar").arg("tf").arg(&rootfs_tar));
    for path in ["bin/busybox", "copy/busybox", "from-dir/hello.txt", "work/"] {
        assert!(
            listing.lines().any(|l| l.trim_start_matches("./") == path),
            "{path} in {listing}"
        );
    }

    // An OCI layout tar, unpacked, is a named context: FROM it by name.
    let oci_tar = tmp.path().join("base-oci.tar");
    hoist_ok(
        &store,
        &[
            "build",
            "-t",
            "localbase",
            "--output",
            &format!("type=oci,dest={}", oci_tar.display()),
            context.to_str().unwrap(),
        ],
    );
    let layout = tmp.path().join("layout");
    fs::create_dir_all(&layout).unwrap();
    run(Command::new("tar")
        .arg("xf")
        .arg(&oci_tar)
        .arg("-C")
        .arg(&layout));
    let inspected = skopeo_json(&["inspect", &format!("oci:{}:latest", layout.display())]);
    assert_eq!(inspected["Digest"], base_digest.as_str());
    let fresh = tmp.path().join("store-fresh");
    let from_layout = app_context(tmp.path(), "from-layout", "FROM mybase\nCOPY app.txt /\n");
    let digest = hoist_ok(
        &fresh,
        &[
            "build",
            "--build-context",
            &format!("mybase=oci-layout://{}:latest", layout.display()),
            from_layout.to_str().unwrap(),
        ],
    );
    let (layers, _) = validated(&fresh, &digest);
    assert_eq!(layers[..2], base_layers[..]);

    // docker-image:// names another image for a name.
    let aliased = app_context(tmp.path(), "aliased", "FROM alias\nCOPY app.txt /\n");
    let digest = hoist_ok(
        &store,
        &[
            "build",
            "--build-context",
            "alias=docker-image://localbase:latest",
            aliased.to_str().unwrap(),
        ],
    );
    let (layers, _) = validated(&store, &digest);
    assert_eq!(layers[..2], base_layers[..]);

    // A directory named context as a FROM base: its files are the root filesystem.
    let from_dir = app_context(tmp.path(), "from-dir", "FROM src\nCOPY app.txt /\n");
    let digest = hoist_ok(
        &fresh,
        &[
            "build",
            "--build-context",
            &src_arg,
            from_dir.to_str().unwrap(),
        ],
    );
    let (layers, _) = validated(&fresh, &digest);
    assert_eq!(layers.len(), 2);

    // An unknown image with no registry reachable fails with a clear error.
    let missing = app_context(tmp.path(), "missing", "FROM 127.0.0.1:1/nothing:1\n");
    let out = hoist(&fresh, &["build", missing.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot pull 127.0.0.1:1/nothing:1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn docker_and_oci_archives_read_back_with_skopeo() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let context = busybox_context(tmp.path());
    let docker_tar = tmp.path().join("image-docker.tar");
    let digest = hoist_ok(
        &store,
        &[
            "build",
            "-t",
            "bb:1",
            "--output",
            &format!("type=docker,dest={}", docker_tar.display()),
            context.to_str().unwrap(),
        ],
    );
    let (layers, config) = validated(&store, &digest);
    let listing = run(Command::new("tar").arg("tf").arg(&docker_tar));
    for name in ["manifest.json", "repositories", "index.json", "oci-layout"] {
        assert!(listing.lines().any(|l| l == name), "{name} in {listing}");
    }
    let inspected = skopeo_json(&[
        "inspect",
        &format!("docker-archive:{}", docker_tar.display()),
    ]);
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), layers.len());
    assert_eq!(inspected["Env"], config["config"]["Env"]);
    assert_eq!(inspected["RepoTags"], serde_json::json!([]));
    let out = tmp.path().join("from-docker");
    run(Command::new("skopeo").args([
        "copy",
        &format!("docker-archive:{}", docker_tar.display()),
        &format!("oci:{}:x", out.display()),
    ]));
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:x", out.display()))
        .arg(tmp.path().join("bundle")));
    assert_eq!(
        fs::read(tmp.path().join("bundle/rootfs/bin/busybox")).unwrap(),
        fs::read("/bin/busybox").unwrap()
    );

    // type=oci to stdout: the digest moves to stderr, the archive is the only stdout.
    let out = hoist(
        &store,
        &["build", "-o", "type=oci,dest=-", context.to_str().unwrap()],
    );
    assert!(out.status.success());
    let oci_tar = tmp.path().join("stdout.tar");
    fs::write(&oci_tar, &out.stdout).unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains(&digest));
    let layout = tmp.path().join("layout");
    fs::create_dir_all(&layout).unwrap();
    run(Command::new("tar")
        .arg("xf")
        .arg(&oci_tar)
        .arg("-C")
        .arg(&layout));
    let (oci_layers, _) = validated(&layout, &digest);
    assert_eq!(oci_layers, layers);

    // Bad output specs are refused before anything is built.
    for bad in ["type=image,dest=x", "type=oci", "type=oci,dest=x,foo=1"] {
        let out = hoist(&store, &["build", "-o", bad, context.to_str().unwrap()]);
        assert!(!out.status.success(), "{bad}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("--output"),
            "{bad}"
        );
    }
}

/// Builds `context` for `platform` into `root`, pushes it to `target`; returns its descriptor.
fn build_push_for(root: &Path, context: &Path, platform: &str, target: &str) -> Value {
    let meta = root.with_extension(format!("{}.json", platform.replace('/', "-")));
    hoist_ok(
        root,
        &[
            "build",
            "--platform",
            platform,
            "--push",
            "-t",
            target,
            "--metadata-file",
            meta.to_str().unwrap(),
            context.to_str().unwrap(),
        ],
    );
    let meta: Value = serde_json::from_slice(&fs::read(&meta).unwrap()).unwrap();
    meta["containerimage.descriptor"].clone()
}

#[test]
fn an_index_gives_the_manifest_of_the_platform_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let host = registry.host();
    let context = busybox_context(tmp.path());
    let builder_store = tmp.path().join("store-a");
    let mut entries = Vec::new();
    for (platform, arch) in [("linux/amd64", "amd64"), ("linux/arm64", "arm64")] {
        let mut d = build_push_for(
            &builder_store,
            &context,
            platform,
            &format!("{host}/multi:{arch}"),
        );
        let variant = if arch == "arm64" { Some("v8") } else { None };
        d["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
        if let Some(v) = variant {
            d["platform"]["variant"] = v.into();
        }
        entries.push(d);
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": media_type::OCI_INDEX,
        "manifests": entries,
    });
    let index_path = tmp.path().join("index.json");
    fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    run(Command::new("curl").args([
        "-fsS",
        "-X",
        "PUT",
        "-H",
        &format!("Content-Type: {}", media_type::OCI_INDEX),
        "--data-binary",
        &format!("@{}", index_path.display()),
        &format!("http://{host}/v2/multi/manifests/1"),
    ]));

    // One store: the arm64 build pulls the arm64 manifest; an amd64 build then finds the local
    // tag is for another platform and resolves the index again.
    let store = tmp.path().join("store-b");
    let app = app_context(
        tmp.path(),
        "app",
        &"FROM {BASE}\nCOPY app.txt /\n".replace("{BASE}", &format!("{host}/multi:1")),
    );
    for arch in ["arm64", "amd64"] {
        let digest = hoist_ok(
            &store,
            &[
                "build",
                "--platform",
                &format!("linux/{arch}"),
                app.to_str().unwrap(),
            ],
        );
        let (_, config) = validated(&store, &digest);
        assert_eq!(config["architecture"], arch);
        assert_eq!(config["os"], "linux");
    }
    // A platform the index lacks is a clear error.
    let out = hoist(
        &store,
        &["build", "--platform", "linux/s390x", app.to_str().unwrap()],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("s390x"), "{err}");
}

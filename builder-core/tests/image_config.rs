//! Image config and manifest bytes: round trips, pinned canonical bytes, image validation.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::Path;

use builder_core::image::validate::{BlobSource, SchemaValidator, validate_image};
use builder_core::image::{
    ConfigBlob, Healthcheck, ImageConfig, ImageError, ManifestFormat, canonical_json, image_index,
    image_manifest,
};
use registry_client::{Descriptor, Digest, Platform, media_type};

/// A config as BuildKit writes it: sorted top level (with an unknown key), Go struct order inside
/// `config`, Docker's fields, an unknown `config` field, Go's `\u003e` escaping.
const BUILDKIT_CONFIG: &str = concat!(
    r#"{"architecture":"amd64","config":{"User":"app","ExposedPorts":{"53/udp":{},"80/tcp":{}},"#,
    r#""Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","A=1"],"#,
    r#""Entrypoint":["/bin/sh","-c","run \u003e /log"],"Cmd":["--help"],"Volumes":{"/data":{}},"#,
    r#""WorkingDir":"/app","Labels":{"a":"b","z":"\u0026"},"StopSignal":"SIGTERM","ArgsEscaped":true,"#,
    r#""Healthcheck":{"Test":["CMD-SHELL","curl -f http://localhost/"],"Interval":30000000000,"#,
    r#""Timeout":5000000000,"StartPeriod":1000000000,"StartInterval":2000000000,"Retries":3},"#,
    r#""OnBuild":["RUN echo hi"],"Shell":["/bin/bash","-c"],"Zzz":{"k":[1,2]}},"#,
    r#""created":"2024-05-01T10:11:12.123456789Z","history":[{"created":"2024-05-01T10:11:12.123456789Z","#,
    r#""created_by":"RUN /bin/sh -c echo hi \u003e /f # buildkit","comment":"buildkit.dockerfile.v0"},"#,
    r#"{"created_by":"USER app","comment":"buildkit.dockerfile.v0","empty_layer":true}],"#,
    r#""moby.buildkit.buildinfo.v1":"e30=","os":"linux","rootfs":{"type":"layers","diff_ids":["#,
    r#""sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"]},"variant":"v2"}"#
);

#[test]
fn buildkit_config_round_trips_byte_for_byte() {
    let blob = ConfigBlob::parse(BUILDKIT_CONFIG.as_bytes().to_vec()).unwrap();
    let c = blob.config();
    assert_eq!(c.config.user, "app");
    assert!(c.config.args_escaped);
    assert_eq!(c.config.on_build, ["RUN echo hi"]);
    assert_eq!(c.config.shell, ["/bin/bash", "-c"]);
    let hc = c.config.healthcheck.as_ref().unwrap();
    assert_eq!(
        (hc.interval, hc.start_interval, hc.retries),
        (30_000_000_000, 2_000_000_000, 3)
    );
    assert!(c.extra.contains_key("moby.buildkit.buildinfo.v1"));
    assert!(c.config.extra.contains_key("Zzz"));
    assert_eq!(c.to_canonical_json(), BUILDKIT_CONFIG.as_bytes());
    assert_eq!(
        blob.digest(),
        &Digest::sha256_of(BUILDKIT_CONFIG.as_bytes())
    );
}

#[test]
fn old_docker_config_keeps_unknown_fields_and_drops_nulls() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(
        "../testdata/conformance/image-spec/fixtures/TestBackwardsCompatibilityConfig/002-pass.json",
    );
    let bytes = std::fs::read(path).unwrap();
    let blob = ConfigBlob::parse(bytes.clone()).unwrap();
    // The digest is over the bytes as read, never a re-serialisation.
    assert_eq!(blob.bytes(), bytes.as_slice());
    let config = blob.config();
    assert!(config.extra.contains_key("container_config"));
    assert!(config.extra.contains_key("docker_version"));
    assert!(config.config.extra.contains_key("Hostname"));
    assert_eq!(config.config.cmd, None);
    let once = config.to_canonical_json();
    let again = ImageConfig::from_slice(&once).unwrap().to_canonical_json();
    assert_eq!(once, again);
    let value: serde_json::Value = serde_json::from_slice(&once).unwrap();
    for dropped in ["Cmd", "Labels", "OnBuild", "Volumes", "User"] {
        assert!(value["config"].get(dropped).is_none(), "{dropped}");
    }
    assert_eq!(value["config"]["Hostname"], "8dfe43d80430");
    assert_eq!(value["container_config"]["Labels"], serde_json::json!({}));
    let text = String::from_utf8(once).unwrap();
    assert!(text.contains(r#""author":"Patrick Uiterwijk \u003cpatrick@puiterwijk.org\u003e""#));
}

fn sample_config() -> ImageConfig {
    let diff_id = Digest::sha256_of(b"layer");
    ImageConfig::scratch(&Platform::new("linux", "arm64", Some("v8")))
        .with_default_path_env()
        .with_env("LANG", "C.UTF-8")
        .with_workdir("/srv")
        .with_exposed_port("8080")
        .expect("a valid port")
        .with_label("org.opencontainers.image.title", "sample")
        .with_cmd(vec!["serve".into()])
        .with_healthcheck(Healthcheck {
            test: vec!["NONE".into()],
            ..Healthcheck::default()
        })
        .with_layer(diff_id)
        .with_history("WORKDIR /srv", false, Some("1970-01-01T00:00:00Z".into()))
        .with_history("CMD [\"serve\"]", true, Some("1970-01-01T00:00:00Z".into()))
        .with_created(Some("1970-01-01T00:00:00Z".into()))
}

const SAMPLE_CONFIG: &str = concat!(
    r#"{"architecture":"arm64","config":{"ExposedPorts":{"8080/tcp":{}},"#,
    r#""Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","LANG=C.UTF-8"],"#,
    r#""Cmd":["serve"],"WorkingDir":"/srv","Labels":{"org.opencontainers.image.title":"sample"},"#,
    r#""ArgsEscaped":true,"Healthcheck":{"Test":["NONE"]}},"created":"1970-01-01T00:00:00Z","#,
    r#""history":[{"created":"1970-01-01T00:00:00Z","created_by":"WORKDIR /srv","comment":"buildkit.dockerfile.v0"},"#,
    r#"{"created":"1970-01-01T00:00:00Z","created_by":"CMD [\"serve\"]","comment":"buildkit.dockerfile.v0","empty_layer":true}],"#,
    r#""os":"linux","rootfs":{"type":"layers","diff_ids":["#,
    r#""sha256:dac1d7cfa95021764849fd102524e141488c5e3a90f861dbb5a12d9ac8584f85"]},"variant":"v8"}"#
);

#[test]
fn sample_config_bytes_are_pinned() {
    let bytes = sample_config().to_canonical_json();
    assert_eq!(String::from_utf8(bytes.clone()).unwrap(), SAMPLE_CONFIG);
    let validator = SchemaValidator::new();
    validator
        .validate(builder_core::image::validate::DocumentKind::Config, &bytes)
        .unwrap();
}

fn layer_descriptor(bytes: &[u8]) -> Descriptor {
    Descriptor::new(
        media_type::OCI_LAYER_TAR,
        Digest::sha256_of(bytes),
        bytes.len() as u64,
    )
}

#[test]
fn manifest_and_index_bytes_are_pinned() {
    let config = ConfigBlob::from_config(sample_config());
    let config_desc = Descriptor::new("x", config.digest().clone(), config.bytes().len() as u64);
    let layer = layer_descriptor(b"layer");
    let mut annotations = BTreeMap::new();
    annotations.insert("z".to_owned(), "1".to_owned());
    annotations.insert("a".to_owned(), "2".to_owned());
    let manifest = image_manifest(
        ManifestFormat::Oci,
        &config_desc,
        std::slice::from_ref(&layer),
        Some(annotations),
    )
    .unwrap();
    let bytes = String::from_utf8(canonical_json(&manifest)).unwrap();
    let expected = format!(
        concat!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","#,
            r#""config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":{}}},"#,
            r#""layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","#,
            r#""digest":"sha256:dac1d7cfa95021764849fd102524e141488c5e3a90f861dbb5a12d9ac8584f85","size":5}}],"#,
            r#""annotations":{{"a":"2","z":"1"}}}}"#
        ),
        config.digest(),
        config.bytes().len()
    );
    assert_eq!(bytes, expected);

    let docker = image_manifest(ManifestFormat::Docker, &config_desc, &[layer], None).unwrap();
    assert_eq!(
        docker.media_type.as_deref(),
        Some(media_type::DOCKER_MANIFEST)
    );
    assert_eq!(docker.config.media_type, media_type::DOCKER_CONFIG);
    assert_eq!(
        docker.layers[0].media_type,
        "application/vnd.docker.image.rootfs.diff.tar"
    );
    let zstd = Descriptor::new(media_type::OCI_LAYER_ZSTD, Digest::sha256_of(b""), 0);
    assert!(matches!(
        image_manifest(ManifestFormat::Docker, &config_desc, &[zstd], None),
        Err(ImageError::NoDockerMediaType { .. })
    ));

    let manifest_bytes = canonical_json(&manifest);
    let mut entry = Descriptor::new(
        media_type::OCI_MANIFEST,
        Digest::sha256_of(&manifest_bytes),
        manifest_bytes.len() as u64,
    );
    entry.annotations = Some(BTreeMap::from([(
        "org.opencontainers.image.ref.name".to_owned(),
        "latest".to_owned(),
    )]));
    let index = canonical_json(&image_index(vec![entry], None));
    let validator = SchemaValidator::new();
    use builder_core::image::validate::DocumentKind;
    validator
        .validate(DocumentKind::Manifest, &manifest_bytes)
        .unwrap();
    validator.validate(DocumentKind::Index, &index).unwrap();
    assert!(String::from_utf8(index).unwrap().starts_with(
        r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:"#
    ));
}

/// Blobs in memory, uncompressed layers.
struct MemoryBlobs(Vec<Vec<u8>>);

impl BlobSource for MemoryBlobs {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + '_>> {
        self.0
            .iter()
            .find(|b| &Digest::sha256_of(b) == digest)
            .map(|b| Box::new(b.as_slice()) as Box<dyn Read>)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }
}

#[test]
fn validate_image_checks_digests_sizes_and_diff_ids() {
    let layer = b"layer".to_vec();
    let config = ConfigBlob::from_config(sample_config());
    let config_desc = Descriptor::new(
        media_type::OCI_CONFIG,
        config.digest().clone(),
        config.bytes().len() as u64,
    );
    let manifest = image_manifest(
        ManifestFormat::Oci,
        &config_desc,
        &[layer_descriptor(&layer)],
        None,
    )
    .unwrap();
    let validator = SchemaValidator::new();
    let blobs = MemoryBlobs(vec![layer.clone()]);
    validate_image(&validator, &manifest, &config, &blobs).unwrap();

    let mut wrong_size = manifest.clone();
    wrong_size.layers[0].size = 4;
    assert!(matches!(
        validate_image(&validator, &wrong_size, &config, &blobs),
        Err(ImageError::SizeMismatch { .. })
    ));

    let other = b"other".to_vec();
    let wrong_layer = image_manifest(
        ManifestFormat::Oci,
        &config_desc,
        &[layer_descriptor(&other)],
        None,
    )
    .unwrap();
    let err =
        validate_image(&validator, &wrong_layer, &config, &MemoryBlobs(vec![other])).unwrap_err();
    assert!(matches!(&err, ImageError::DigestMismatch { what, .. } if what == "layer 0 diff_id"));

    let no_layers = ConfigBlob::from_config(ImageConfig {
        rootfs: Default::default(),
        ..sample_config()
    });
    let desc = Descriptor::new(
        media_type::OCI_CONFIG,
        no_layers.digest().clone(),
        no_layers.bytes().len() as u64,
    );
    let m = image_manifest(
        ManifestFormat::Oci,
        &desc,
        &[layer_descriptor(&layer)],
        None,
    )
    .unwrap();
    assert!(matches!(
        validate_image(&validator, &m, &no_layers, &blobs),
        Err(ImageError::LayerCountMismatch {
            layers: 1,
            diff_ids: 0
        })
    ));
    assert!(matches!(
        validate_image(&validator, &manifest, &no_layers, &blobs),
        Err(ImageError::DigestMismatch { what, .. }) if what == "config"
    ));
}

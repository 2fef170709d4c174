//! The `exec::Builder` API as a library user calls it: events, typed errors, tags.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{self, Read};
use std::sync::Arc;

use builder_core::events::{Event, EventLog};
use builder_core::exec::{BuildRequest, Builder, ExecError, FetchError, RunOptions};
use builder_core::image::ConfigBlob;
use builder_core::image::validate::{BlobSource, SchemaValidator, validate_image};
use builder_core::layer::Compression;
use builder_core::plan::PlanOptions;
use builder_core::snapshot::LayerReader;
use builder_core::store::Store;
use builder_core::{ErrorKind, SourceFile};
use registry_client::{Digest, ImageManifest};

/// The store as [`validate_image`] reads it.
struct StoreBlobs<'s>(&'s Store);

impl BlobSource for StoreBlobs<'_> {
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + '_>> {
        let file = self.0.open_blob(digest).map_err(io::Error::other)?;
        Ok(Box::new(file))
    }

    fn decompress<'a>(
        &self,
        _media_type: &str,
        compressed: Box<dyn Read + 'a>,
    ) -> io::Result<Box<dyn Read + 'a>> {
        Ok(Box::new(LayerReader::new(compressed)?))
    }
}

fn read_blob(store: &Store, digest: &Digest) -> Vec<u8> {
    let mut bytes = Vec::new();
    store
        .open_blob(digest)
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

fn request(context: &std::path::Path, dockerfile: &str) -> BuildRequest {
    BuildRequest {
        context_dir: context.to_owned(),
        dockerfile: SourceFile::new("Dockerfile", dockerfile),
        dockerfile_path: None,
        plan_options: PlanOptions::default(),
        tags: vec!["lib".into(), "lib:v1".into()],
        no_cache: false,
        compression: Compression::zstd(),
        source_date_epoch: Some(1_700_000_000),
        run: RunOptions::default(),
        labels: Default::default(),
    }
}

#[test]
fn a_build_reports_events_tags_and_reuses_its_cache() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.txt"), "a").unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let log = Arc::new(EventLog::default());
    let builder = Builder::new(store.clone(), log.clone());
    let dockerfile = "FROM scratch\nCOPY a.txt /a\nLABEL x=y\n";
    let first = builder.build(request(tmp.path(), dockerfile)).unwrap();
    assert_eq!(first.tags, ["lib:latest", "lib:v1"]);
    assert_eq!(
        store.resolve("lib:v1").unwrap().unwrap().digest,
        first.manifest_digest
    );
    let started = |events: &[Event]| {
        events
            .iter()
            .filter(|e| matches!(e, Event::StepStarted { .. }))
            .count()
    };
    assert_eq!(started(&log.events()), 3);

    // Digests, sizes, diff_ids, schemas and history all agree with the blobs.
    let manifest: ImageManifest =
        serde_json::from_slice(&read_blob(&store, &first.manifest_digest)).unwrap();
    let config = ConfigBlob::parse(read_blob(&store, &first.config_digest)).unwrap();
    assert_eq!(
        config.config().created.as_deref(),
        Some("2023-11-14T22:13:20Z")
    );
    validate_image(
        &SchemaValidator::new(),
        &manifest,
        &config,
        &StoreBlobs(&store),
    )
    .unwrap();
    assert!(
        !log.events()
            .iter()
            .any(|e| matches!(e, Event::StepCached { .. }))
    );

    let log = Arc::new(EventLog::default());
    let again = Builder::new(store.clone(), log.clone())
        .build(request(tmp.path(), dockerfile))
        .unwrap();
    assert_eq!(again, first);
    let cached = log
        .events()
        .iter()
        .filter(|e| matches!(e, Event::StepCached { .. }))
        .count();
    assert_eq!(cached, 1);
}

#[test]
fn step_errors_are_typed_with_their_location() {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let builder = Builder::new(store, Arc::new(EventLog::default()));
    let err = builder
        .build(request(
            tmp.path(),
            "FROM scratch\nADD --checksum=sha256:00 x /x\n",
        ))
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &ErrorKind::Exec(ExecError::Fetch(FetchError::ChecksumOnLocalSource {
            source_path: "x".into()
        }))
    );
    assert_eq!(err.location().unwrap().span.start.line, 2);
}

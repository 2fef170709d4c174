//! Base images through the library: a local tag, a named directory context, and what happens
//! with no registry access configured.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use builder_core::events::{Event, EventLog};
use builder_core::exec::{BaseSources, BuildRequest, Builder, NamedContext, RunOptions};
use builder_core::image::{Layout, TransferError};
use builder_core::layer::Compression;
use builder_core::plan::PlanOptions;
use builder_core::store::Store;
use builder_core::{ErrorKind, SourceFile};
use registry_client::{Descriptor, media_type};

fn request(context: &std::path::Path, dockerfile: &str, tag: &str) -> BuildRequest {
    BuildRequest {
        context_dir: context.to_owned(),
        dockerfile: SourceFile::new("Dockerfile", dockerfile),
        dockerfile_path: None,
        plan_options: PlanOptions::default(),
        tags: vec![tag.into()],
        no_cache: false,
        compression: Compression::gzip(),
        source_date_epoch: Some(1_700_000_000),
        run: RunOptions::default(),
        labels: Default::default(),
    }
}

#[test]
fn a_local_tag_and_a_named_directory_are_bases_without_a_registry() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("a.txt"), "a").unwrap();
    let named = tmp.path().join("named");
    std::fs::create_dir(&named).unwrap();
    std::fs::write(named.join("n.txt"), "n").unwrap();
    let store = Store::open(tmp.path().join("store")).unwrap();
    let base = Builder::new(store.clone(), Arc::new(EventLog::default()))
        .build(request(
            tmp.path(),
            "FROM scratch\nCOPY a.txt /\nENV X=1\n",
            "base",
        ))
        .unwrap();

    let mut sources = BaseSources::default();
    sources
        .named_contexts
        .insert("files".into(), NamedContext::Directory(named.clone()));
    let log = Arc::new(EventLog::default());
    let child = Builder::new(store.clone(), log.clone())
        .with_base_sources(sources)
        .build(request(
            tmp.path(),
            "FROM base\nCOPY --from=files n.txt /$X/\n",
            "child",
        ))
        .unwrap();
    let events = log.events();
    assert!(events.iter().any(|e| matches!(
        e,
        Event::StepStarted { name, .. } if name == "[internal] load metadata for base"
    )));
    assert!(events.iter().any(|e| matches!(e, Event::StepCached { .. })));

    let layout = Layout::of_store(&store);
    let image = |digest: &registry_client::Digest| {
        let d = Descriptor::new(media_type::OCI_MANIFEST, digest.clone(), 0);
        layout.image(&d, None).unwrap().unwrap()
    };
    let (base, child) = (image(&base.manifest_digest), image(&child.manifest_digest));
    assert_eq!(child.manifest.layers[0], base.manifest.layers[0]);
    assert_eq!(child.manifest.layers.len(), 2);
    assert!(child.config.config().config.env.contains(&"X=1".to_owned()));

    // Not in the store and no registry client: a typed error, located at the FROM.
    let err = Builder::new(store, Arc::new(EventLog::default()))
        .build(request(tmp.path(), "FROM scratch\nFROM elsewhere:1\n", "x"))
        .unwrap_err();
    assert!(
        matches!(err.kind(), ErrorKind::Transfer(TransferError::NotFound { name, .. }) if name == "elsewhere:1"),
        "{err:?}"
    );
    assert_eq!(err.location().unwrap().span.start.line, 2);
}

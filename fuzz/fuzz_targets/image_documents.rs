//! Manifest, index and config parsing: the first byte picks the declared content type, the rest
//! is the document. Runs registry-client's `Manifest::from_bytes` (and `select`/`platforms` on an
//! index), builder-core's `ImageConfig::from_slice`, `ConfigBlob::parse` and the schema validator
//! for every document kind. Errors are fine; panics are not.
#![no_main]

use std::sync::OnceLock;

use builder_core::image::validate::{DocumentKind, SchemaValidator};
use builder_core::image::{ConfigBlob, ImageConfig};
use libfuzzer_sys::fuzz_target;
use registry_client::{Manifest, Platform};

const CONTENT_TYPES: [Option<&str>; 6] = [
    None,
    Some("application/vnd.oci.image.manifest.v1+json"),
    Some("application/vnd.oci.image.index.v1+json"),
    Some("application/vnd.docker.distribution.manifest.v2+json"),
    Some("application/vnd.docker.distribution.manifest.list.v2+json"),
    Some("application/json"),
];

const KINDS: [DocumentKind; 5] = [
    DocumentKind::Descriptor,
    DocumentKind::Manifest,
    DocumentKind::Index,
    DocumentKind::Config,
    DocumentKind::Layout,
];

fn validator() -> &'static SchemaValidator {
    static V: OnceLock<SchemaValidator> = OnceLock::new();
    V.get_or_init(SchemaValidator::new)
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, doc)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[usize::from(selector) % CONTENT_TYPES.len()];
    if let Ok(manifest) = Manifest::from_bytes(doc, content_type) {
        let _ = manifest.media_type();
        if let Manifest::Index(index) = &manifest {
            let _ = index.platforms();
            let _ = index.select(&Platform::new("linux", "amd64", None));
            let _ = index.select(&Platform::new("linux", "arm", Some("v7")));
        }
        let _ = serde_json::to_vec(&manifest_value(&manifest));
    }
    if let Ok(config) = ImageConfig::from_slice(doc) {
        let canonical = config.to_canonical_json();
        // What we write we can read back.
        ImageConfig::from_slice(&canonical).expect("canonical config re-parses");
    }
    if let Ok(blob) = ConfigBlob::parse(doc.to_vec()) {
        let _ = blob.digest();
    }
    let kind = KINDS[usize::from(selector >> 4) % KINDS.len()];
    let _ = validator().validate(kind, doc);
});

fn manifest_value(m: &Manifest) -> serde_json::Value {
    match m {
        Manifest::Image(i) => serde_json::to_value(i).unwrap_or_default(),
        Manifest::Index(i) => serde_json::to_value(i).unwrap_or_default(),
    }
}

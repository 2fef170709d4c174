//! Validation: documents against the OCI image-spec v1.1.1 JSON schemas, plus the checks
//! image-spec's Go validator makes beyond them; whole images against their blobs.
//!
//! The schemas (in `schema/`, copied from image-spec with their notice) are draft-04 and are
//! checked with `boon`, a Rust port of the Go `santhosh-tekuri/jsonschema` that image-spec's
//! own validator uses, so `format` (`uri`, `date-time`) is asserted just as upstream.
//! The extra checks are those of image-spec's `schema/validator.go` and Go's decoding:
//! `Env` entries are `KEY=value`; a `sha256`/`sha384`/`sha512` digest has lowercase hex of the
//! right length (go-digest); `data` is padded standard base64; `size` is not negative
//! (image-spec HEAD's schema).

use std::io::{self, Read};

use base64::Engine as _;
use boon::{Compiler, Draft, SchemaIndex, Schemas, UrlLoader};
use registry_client::digest::{Algorithm, Hasher};
use registry_client::{Descriptor, Digest, ImageManifest, media_type};
use serde_json::Value;

use super::ImageError;
use super::config::ConfigBlob;

/// The kinds of document the image spec defines schemas for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// A content descriptor.
    Descriptor,
    /// An image manifest.
    Manifest,
    /// An image index.
    Index,
    /// An image config.
    Config,
    /// An `oci-layout` file.
    Layout,
}

impl DocumentKind {
    const ALL: [DocumentKind; 5] = [
        Self::Descriptor,
        Self::Manifest,
        Self::Index,
        Self::Config,
        Self::Layout,
    ];

    /// The kind for a media type (OCI or Docker), if it has a schema.
    pub fn from_media_type(media_type: &str) -> Option<Self> {
        Some(match media_type::essence(media_type) {
            "application/vnd.oci.descriptor.v1+json" => Self::Descriptor,
            media_type::OCI_MANIFEST | media_type::DOCKER_MANIFEST => Self::Manifest,
            media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST => Self::Index,
            media_type::OCI_CONFIG | media_type::DOCKER_CONFIG => Self::Config,
            "application/vnd.oci.layout.header.v1+json" => Self::Layout,
            _ => return None,
        })
    }

    /// A name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Descriptor => "content descriptor",
            Self::Manifest => "image manifest",
            Self::Index => "image index",
            Self::Config => "image config",
            Self::Layout => "image layout",
        }
    }

    fn schema_file(self) -> &'static str {
        match self {
            Self::Descriptor => "content-descriptor.json",
            Self::Manifest => "image-manifest-schema.json",
            Self::Index => "image-index-schema.json",
            Self::Config => "config-schema.json",
            Self::Layout => "image-layout-schema.json",
        }
    }
}

/// The schema files, by name.
const SCHEMA_FILES: [(&str, &str); 7] = [
    (
        "config-schema.json",
        include_str!("schema/config-schema.json"),
    ),
    (
        "content-descriptor.json",
        include_str!("schema/content-descriptor.json"),
    ),
    (
        "defs-descriptor.json",
        include_str!("schema/defs-descriptor.json"),
    ),
    ("defs.json", include_str!("schema/defs.json")),
    (
        "image-index-schema.json",
        include_str!("schema/image-index-schema.json"),
    ),
    (
        "image-layout-schema.json",
        include_str!("schema/image-layout-schema.json"),
    ),
    (
        "image-manifest-schema.json",
        include_str!("schema/image-manifest-schema.json"),
    ),
];

const SCHEMA_BASE: &str = "https://opencontainers.org/schema/";

/// Serves the embedded schemas by file name, whatever directory the `$ref` resolved to (the
/// schemas' `id`s put their siblings under different paths), as image-spec's loader does.
struct EmbeddedSchemas;

impl UrlLoader for EmbeddedSchemas {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        let name = url.rsplit('/').next().unwrap_or(url);
        let (_, text) = SCHEMA_FILES
            .iter()
            .find(|(file, _)| *file == name)
            .ok_or_else(|| format!("no embedded schema {name}"))?;
        Ok(serde_json::from_str(text)?)
    }
}

/// The compiled image-spec schemas. Compile once, validate many documents.
pub struct SchemaValidator {
    schemas: Schemas,
    roots: Vec<(DocumentKind, SchemaIndex)>,
}

impl std::fmt::Debug for SchemaValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchemaValidator").finish_non_exhaustive()
    }
}

impl Default for SchemaValidator {
    fn default() -> Self {
        Self::new()
    }
}

impl SchemaValidator {
    /// Compiles the embedded schemas.
    pub fn new() -> Self {
        let mut compiler = Compiler::new();
        compiler.set_default_draft(Draft::V4);
        compiler.use_loader(Box::new(EmbeddedSchemas));
        let mut schemas = Schemas::new();
        let mut roots = Vec::new();
        for kind in DocumentKind::ALL {
            let url = format!("{SCHEMA_BASE}{}", kind.schema_file());
            // The embedded schemas are fixed, and a test compiles every one of them.
            if let Ok(index) = compiler.compile(&url, &mut schemas) {
                roots.push((kind, index));
            }
        }
        Self { schemas, roots }
    }

    /// Validates `bytes` as a document of `kind`: JSON, the schema, then the extra checks.
    pub fn validate(&self, kind: DocumentKind, bytes: &[u8]) -> Result<(), ImageError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| ImageError::InvalidJson {
            document: kind.name(),
            reason: e.to_string(),
        })?;
        self.validate_value(kind, &value)
    }

    /// Validates a parsed document of `kind`.
    pub fn validate_value(&self, kind: DocumentKind, value: &Value) -> Result<(), ImageError> {
        let index = self
            .roots
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, i)| *i)
            .ok_or_else(|| schema_error(kind, "", "schema not available".into()))?;
        if let Err(error) = self.schemas.validate(value, index) {
            let mut leaf = &error;
            while let Some(cause) = leaf.causes.first() {
                leaf = cause;
            }
            return Err(schema_error(
                kind,
                &leaf.instance_location.to_string(),
                leaf.kind.to_string(),
            ));
        }
        extra_checks(kind, value)
    }
}

fn schema_error(kind: DocumentKind, path: &str, reason: String) -> ImageError {
    ImageError::Schema {
        document: kind.name(),
        path: path.to_owned(),
        reason,
    }
}

/// The checks image-spec's validator and Go's decoding make beyond the schema.
fn extra_checks(kind: DocumentKind, value: &Value) -> Result<(), ImageError> {
    match kind {
        DocumentKind::Descriptor => check_descriptor(kind, "", value),
        DocumentKind::Manifest => {
            for key in ["config", "subject"] {
                if let Some(d) = value.get(key) {
                    check_descriptor(kind, &format!("/{key}"), d)?;
                }
            }
            check_descriptor_list(kind, "layers", value)
        }
        DocumentKind::Index => {
            if let Some(d) = value.get("subject") {
                check_descriptor(kind, "/subject", d)?;
            }
            check_descriptor_list(kind, "manifests", value)
        }
        DocumentKind::Config => check_env(value),
        DocumentKind::Layout => Ok(()),
    }
}

fn check_descriptor_list(kind: DocumentKind, key: &str, value: &Value) -> Result<(), ImageError> {
    let items = value
        .get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (i, d) in items.enumerate() {
        check_descriptor(kind, &format!("/{key}/{i}"), d)?;
    }
    Ok(())
}

fn check_descriptor(kind: DocumentKind, path: &str, d: &Value) -> Result<(), ImageError> {
    let fail = |field: &str, reason: &str| {
        Err(schema_error(
            kind,
            &format!("{path}/{field}"),
            reason.into(),
        ))
    };
    if let Some(digest) = d.get("digest").and_then(Value::as_str) {
        let known = matches!(
            digest.split_once(':').map(|(a, _)| a),
            Some("sha256" | "sha384" | "sha512")
        );
        if known && Digest::parse(digest).is_err() {
            return fail(
                "digest",
                "the encoded part must be lowercase hex of the algorithm's length",
            );
        }
    }
    if d.get("size").and_then(Value::as_i64).is_some_and(|s| s < 0) {
        return fail("size", "must not be negative");
    }
    if let Some(data) = d.get("data").and_then(Value::as_str)
        && base64::engine::general_purpose::STANDARD
            .decode(data)
            .is_err()
    {
        return fail("data", "must be padded standard base64");
    }
    Ok(())
}

/// image-spec's validator: every `Env` entry matches `^[^=]+=.*$`.
fn check_env(value: &Value) -> Result<(), ImageError> {
    let env = value.pointer("/config/Env").and_then(Value::as_array);
    for (i, entry) in env.into_iter().flatten().enumerate() {
        let ok = entry
            .as_str()
            .and_then(|e| e.split_once('='))
            .is_some_and(|(k, _)| !k.is_empty());
        if !ok {
            return Err(schema_error(
                DocumentKind::Config,
                &format!("/config/Env/{i}"),
                "an Env entry must be KEY=value".into(),
            ));
        }
    }
    Ok(())
}

/// Where [`validate_image`] reads blobs from.
pub trait BlobSource {
    /// The blob named `digest`, as a stream.
    fn open(&self, digest: &Digest) -> io::Result<Box<dyn Read + '_>>;

    /// `compressed` decompressed for a layer of `media_type`. The default handles
    /// uncompressed tar layers only; a store with gzip/zstd support overrides it.
    fn decompress<'a>(
        &self,
        media_type: &str,
        compressed: Box<dyn Read + 'a>,
    ) -> io::Result<Box<dyn Read + 'a>> {
        match media_type::essence(media_type) {
            media_type::OCI_LAYER_TAR | "application/vnd.docker.image.rootfs.diff.tar" => {
                Ok(compressed)
            }
            other => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("no decompressor for {other}"),
            )),
        }
    }
}

/// Checks an image against its blobs: the config matches its descriptor, the manifest and
/// config follow the schemas, there are as many layers as diff_ids (and as non-empty history
/// entries, when there is a history), and every layer's digest, size and diff_id match. Reads
/// each layer once, streaming, in bounded memory.
pub fn validate_image(
    validator: &SchemaValidator,
    manifest: &ImageManifest,
    config: &ConfigBlob,
    blobs: &dyn BlobSource,
) -> Result<(), ImageError> {
    let manifest_value = serde_json::to_value(manifest).map_err(|e| ImageError::InvalidJson {
        document: "image manifest",
        reason: e.to_string(),
    })?;
    validator.validate_value(DocumentKind::Manifest, &manifest_value)?;
    validator.validate(DocumentKind::Config, config.bytes())?;
    check_matches(
        "config",
        &manifest.config,
        config.digest(),
        config.bytes().len() as u64,
    )?;
    let diff_ids = &config.config().rootfs.diff_ids;
    if diff_ids.len() != manifest.layers.len() {
        return Err(ImageError::LayerCountMismatch {
            layers: manifest.layers.len(),
            diff_ids: diff_ids.len(),
        });
    }
    let history = &config.config().history;
    let layered = history.iter().filter(|h| !h.empty_layer).count();
    if !history.is_empty() && layered != manifest.layers.len() {
        return Err(ImageError::HistoryMismatch {
            history: layered,
            layers: manifest.layers.len(),
        });
    }
    for (i, (layer, diff_id)) in manifest.layers.iter().zip(diff_ids).enumerate() {
        let (digest, size, uncompressed) = read_layer(blobs, layer)?;
        check_matches(&format!("layer {i}"), layer, &digest, size)?;
        if &uncompressed != diff_id {
            return Err(ImageError::DigestMismatch {
                what: format!("layer {i} diff_id"),
                expected: diff_id.clone(),
                actual: uncompressed,
            });
        }
    }
    Ok(())
}

fn check_matches(what: &str, d: &Descriptor, digest: &Digest, size: u64) -> Result<(), ImageError> {
    if &d.digest != digest {
        return Err(ImageError::DigestMismatch {
            what: what.to_owned(),
            expected: d.digest.clone(),
            actual: digest.clone(),
        });
    }
    if d.size != size {
        return Err(ImageError::SizeMismatch {
            what: what.to_owned(),
            expected: d.size,
            actual: size,
        });
    }
    Ok(())
}

/// A reader that hashes and counts what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// One pass over a layer blob: (digest, size, diff_id).
fn read_layer(
    blobs: &dyn BlobSource,
    layer: &Descriptor,
) -> Result<(Digest, u64, Digest), ImageError> {
    let failed = |e: io::Error| ImageError::BlobRead {
        digest: layer.digest.clone(),
        reason: e.to_string(),
    };
    let blob = blobs.open(&layer.digest).map_err(failed)?;
    let compressed = std::rc::Rc::new(std::cell::RefCell::new(HashingReader {
        inner: blob,
        hasher: Hasher::new(Algorithm::Sha256),
        count: 0,
    }));
    let shared = SharedReader(std::rc::Rc::clone(&compressed));
    let mut uncompressed = HashingReader {
        inner: blobs
            .decompress(&layer.media_type, Box::new(shared))
            .map_err(failed)?,
        hasher: Hasher::new(Algorithm::Sha256),
        count: 0,
    };
    io::copy(&mut uncompressed, &mut io::sink()).map_err(failed)?;
    drop(uncompressed.inner);
    let diff_id = uncompressed.hasher.finish();
    // The decompressor may stop before the end of the blob (trailing padding).
    let mut rest = SharedReader(std::rc::Rc::clone(&compressed));
    io::copy(&mut rest, &mut io::sink()).map_err(failed)?;
    drop(rest);
    let compressed = std::rc::Rc::try_unwrap(compressed)
        .map_err(|_| failed(io::Error::other("layer reader still borrowed")))?
        .into_inner();
    Ok((compressed.hasher.finish(), compressed.count, diff_id))
}

/// A [`Read`] over a shared [`HashingReader`], so the blob can be drained after the
/// decompressor is done with it.
struct SharedReader<'a>(std::rc::Rc<std::cell::RefCell<HashingReader<Box<dyn Read + 'a>>>>);

impl Read for SharedReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_compiles() {
        let v = SchemaValidator::new();
        for kind in DocumentKind::ALL {
            assert!(v.roots.iter().any(|(k, _)| *k == kind), "{kind:?}");
        }
    }

    #[test]
    fn reports_where_and_why() {
        let v = SchemaValidator::new();
        let err = v
            .validate(DocumentKind::Config, br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{"Env":["A=1","B"]}}"#)
            .unwrap_err();
        assert!(
            matches!(&err, ImageError::Schema { path, .. } if path == "/config/Env/1"),
            "{err}"
        );
    }
}

//! The 84 image-spec v1.1.1 fixtures: `pass` ones validate, `fail` ones are rejected.

use std::path::Path;

use builder_core::image::validate::{DocumentKind, SchemaValidator};
use registry_client::Digest;
use serde_json::Value;

#[test]
fn image_spec_fixtures() {
    let root =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/conformance/image-spec/fixtures");
    let index: Vec<Value> =
        serde_json::from_slice(&std::fs::read(root.join("INDEX.json")).unwrap()).unwrap();
    let validator = SchemaValidator::new();
    let mut ok = 0;
    let mut failures = Vec::new();
    for case in &index {
        let file = case["file"].as_str().unwrap();
        let bytes = std::fs::read(root.join(file)).unwrap();
        let media_type = case["validator_media_type"].as_str().unwrap();
        let kind = DocumentKind::from_media_type(media_type).expect(media_type);
        let expect_pass = case["expect"] == "pass";
        let result = validator.validate(kind, &bytes);
        if let Some(digest) = case["digest_of_exact_bytes"].as_str() {
            assert_eq!(Digest::sha256_of(&bytes).as_str(), digest, "{file}");
        }
        match (&result, expect_pass) {
            (Ok(()), true) | (Err(_), false) => ok += 1,
            _ => failures.push(format!(
                "{file}: expected {}, got {result:?}",
                case["expect"]
            )),
        }
    }
    println!("image-spec fixtures: {ok}/{}", index.len());
    assert_eq!(index.len(), 84);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

//! Image reference parsing (registry-client): bytes -> lossy UTF-8 -> `Reference::parse`,
//! `parse_normalized`, `parse_strict` and `AnyReference::parse`. Whatever parses must print
//! back to a string that the same function parses to the same reference (only `parse` adds
//! `:latest`), and its accessors must not panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use registry_client::{AnyReference, Reference};

type Parser = fn(&str) -> Result<Reference, registry_client::ReferenceError>;

fn exercise(r: &Reference, parse: Parser) {
    let _ = r.registry();
    let _ = r.registry_host();
    let _ = r.repository();
    let _ = r.name();
    let _ = r.tag();
    let _ = r.digest();
    let _ = r.manifest_reference();
    let _ = r.familiar_name();
    let _ = r.familiar_string();
    let _ = r.with_tag("latest");
    let printed = r.to_string();
    let again = parse(&printed)
        .unwrap_or_else(|e| panic!("{printed:?} (printed from a parsed reference) fails: {e}"));
    assert_eq!(&again, r, "round trip through {printed:?}");
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(r) = Reference::parse(&text) {
        exercise(&r, Reference::parse);
    }
    if let Ok(r) = Reference::parse_normalized(&text) {
        exercise(&r, Reference::parse_normalized);
    }
    if let Ok(r) = Reference::parse_strict(&text) {
        exercise(&r, Reference::parse_strict);
    }
    if let Ok(any) = AnyReference::parse(&text) {
        let _ = any.to_string();
    }
    let _ = Reference::with_repository("registry.example:5000", &text);
});

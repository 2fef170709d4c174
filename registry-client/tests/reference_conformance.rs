//! docker/reference conformance: every case of `testdata/conformance/reference/reference-parsing.json`
//! through the three parse functions, compared field by field and error message by message.

use registry_client::{AnyReference, Reference};
use serde_json::{Map, Value, json};

fn fields(r: &Reference) -> Value {
    let mut m = Map::new();
    m.insert("domain".into(), json!(r.registry()));
    m.insert("path".into(), json!(r.repository()));
    m.insert("name".into(), json!(r.name()));
    m.insert("string".into(), json!(r.to_string()));
    m.insert("familiar_name".into(), json!(r.familiar_name()));
    m.insert("familiar_string".into(), json!(r.familiar_string()));
    if let Some(t) = r.tag() {
        m.insert("tag".into(), json!(t));
    }
    if let Some(d) = r.digest() {
        m.insert("digest".into(), json!(d.to_string()));
    }
    Value::Object(m)
}

fn outcome<T>(r: Result<T, registry_client::ReferenceError>, f: impl Fn(T) -> Value) -> Value {
    match r {
        Ok(v) => f(v),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

#[test]
fn reference_parsing_conformance() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../testdata/conformance/reference/reference-parsing.json"
    );
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let cases = data["cases"].as_array().unwrap();
    let mut failures = Vec::new();
    for case in cases {
        let input = case["input"].as_str().unwrap();
        let got = [
            (
                "Parse",
                outcome(Reference::parse_strict(input), |r| fields(&r)),
            ),
            (
                "ParseNormalizedNamed",
                outcome(Reference::parse_normalized(input), |r| fields(&r)),
            ),
            (
                "ParseAnyReference",
                outcome(AnyReference::parse(input), |a| match a {
                    AnyReference::Named(r) => fields(&r),
                    AnyReference::Digest(d) => {
                        json!({ "digest": d.to_string(), "string": d.to_string() })
                    }
                }),
            ),
        ];
        for (func, value) in got {
            if case[func] != value {
                failures.push(format!(
                    "{func}({input:?}):\n  want {}\n  got  {value}",
                    case[func]
                ));
            }
        }
    }
    println!(
        "reference-parsing: {}/{} cases",
        cases.len() - failures.len(),
        cases.len()
    );
    assert_eq!(cases.len(), 218);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

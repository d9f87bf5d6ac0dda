//! Keeps `proto-spec/SPEC.md`, `proto-spec/schemas/` and the code in step.
//!
//! - each field table of SPEC.md §4 lists exactly the properties of its JSON Schema;
//! - every record in a valid vector validates against its schema;
//! - SPEC.md §11.3 lists exactly the rejection codes the implementation returns.

use std::collections::BTreeSet;
use std::path::Path;

use portal_proto::Rejection;
use portal_proto::record::RecordType;
use serde_json::Value;

fn spec_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../proto-spec"))
}

fn spec() -> String {
    std::fs::read_to_string(spec_dir().join("SPEC.md")).expect("SPEC.md is readable")
}

fn schema(name: &str) -> Value {
    let path = spec_dir().join("schemas").join(format!("{name}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("schema is JSON")
}

/// The first-column names of the table(s) in the section whose heading contains `marker`.
fn section_fields(spec: &str, heading_prefix: &str, marker: &str) -> BTreeSet<String> {
    let mut in_section = false;
    let mut fields = BTreeSet::new();
    for line in spec.lines() {
        if line.starts_with("#") {
            in_section = line.starts_with(heading_prefix) && line.contains(marker);
            continue;
        }
        if in_section && line.starts_with("| `") {
            let cell = line.split('|').nth(1).unwrap_or("").trim();
            fields.insert(cell.trim_matches('`').to_owned());
        }
    }
    fields
}

#[test]
fn field_tables_match_the_schemas() {
    let spec = spec();
    for t in RecordType::ALL {
        let schema = schema(t.as_str());
        let props: BTreeSet<String> =
            schema["properties"].as_object().expect("properties").keys().cloned().collect();
        let table = section_fields(&spec, "### 4.", &format!("`{}`", t.as_str()));
        assert_eq!(
            table, props,
            "SPEC.md §4 table for `{t}` and schemas/{t}.schema.json list different fields"
        );
    }
}

#[test]
fn rejection_codes_table_matches_the_implementation() {
    let spec = spec();
    let table = section_fields(&spec, "### 11.3", "Rejection codes");
    let codes: BTreeSet<String> = Rejection::CODES.iter().map(|c| (*c).to_owned()).collect();
    assert_eq!(table, codes, "SPEC.md §11.3 and Rejection::CODES differ");
}

#[test]
fn spec_has_no_unfilled_sections() {
    let spec = spec();
    for word in spec.split(|c: char| !(c.is_ascii_uppercase() || c == '_')) {
        assert!(
            !(word.len() > 8 && word.ends_with("_SECTION")
                || word == "WORKED_EXAMPLE"
                || word == "NOTE_LIMITS"),
            "SPEC.md still has the placeholder {word}"
        );
    }
}

#[test]
fn valid_vectors_conform_to_the_schemas() {
    let validators: Vec<(String, jsonschema::Validator)> = RecordType::ALL
        .iter()
        .map(|t| {
            let v = jsonschema::draft202012::new(&schema(t.as_str())).expect("schema compiles");
            (t.as_str().to_owned(), v)
        })
        .collect();
    let envelope =
        jsonschema::draft202012::new(&schema("envelope")).expect("envelope schema compiles");
    let mut checked = 0;
    for (path, text) in crate::conformance::vector_files() {
        let is_valid_dir = path.contains("/valid/");
        let v: Value = serde_json::from_str(&text).expect("vector JSON");
        let mut records = Vec::new();
        if v["kind"] == "record" {
            records.push(&v["input"]);
        }
        if v["kind"] == "log" {
            records.extend(
                v["steps"].as_array().expect("steps").iter().filter_map(|s| s.get("record")),
            );
        }
        for env in records {
            let mut bare = env.clone();
            bare.as_object_mut().expect("envelope object").remove("record_json");
            if is_valid_dir {
                assert!(
                    envelope.is_valid(&bare),
                    "{path}: envelope does not match envelope.schema.json"
                );
                let record = &env["record_json"];
                let t = record["type"].as_str().expect("type");
                let (_, validator) =
                    validators.iter().find(|(n, _)| n == t).expect("schema for type");
                let errors: Vec<String> =
                    validator.iter_errors(record).map(|e| e.to_string()).collect();
                assert!(
                    errors.is_empty(),
                    "{path}: record does not match schemas/{t}.schema.json: {errors:?}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} valid records were checked against the schemas");
}

#[test]
fn worked_example_matches_the_vectors() {
    let spec = spec();
    let files = crate::conformance::vector_files();
    let v: Value = serde_json::from_str(&files["records/valid/item-news-v1.json"]).expect("vector");
    let input = &v["input"];
    let record = portal_proto::crypto::decode_base64(input["record"].as_str().expect("record"))
        .expect("base64");
    let text = String::from_utf8(record.clone()).expect("utf-8");
    let envelope = format!(
        "{{\"kid\":\"{}\",\"record\":\"{}\",\"sig\":\"{}\"}}",
        input["kid"].as_str().expect("kid"),
        input["record"].as_str().expect("record"),
        input["sig"].as_str().expect("sig")
    );
    let digest = portal_proto::ids::Digest::of(&record);
    let log: Value =
        serde_json::from_str(&files["log/valid/history-with-rotation.json"]).expect("vector");
    let steps = log["steps"].as_array().expect("steps");
    let note = steps.last().and_then(|s| s["checkpoint"].as_str()).expect("checkpoint step");
    for (what, needle) in [
        ("record bytes", text.as_str()),
        ("signature", input["sig"].as_str().expect("sig")),
        ("envelope", envelope.as_str()),
        ("record digest", digest.as_str()),
        ("checkpoint", note),
    ] {
        assert!(
            spec.contains(needle),
            "SPEC.md §15 no longer shows the vector's {what}: regenerate the worked example"
        );
    }
}

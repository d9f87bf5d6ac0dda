//! Keeps `proto-spec/SPEC.md`, `proto-spec/schemas/` and the code in step.
//!
//! - each field table of SPEC.md §4 lists exactly the properties of its JSON Schema;
//! - every record in a valid vector validates against its schema;
//! - SPEC.md §11.3 lists exactly the rejection codes the implementation returns;
//! - each table of SPEC.md §8.1 lists exactly the members of its body schema and of the body
//!   examples the `portal_proto::api` types write, every example validates against its schema,
//!   §8.2 lists exactly `ErrorCode::ALL` with their statuses, and §8 names exactly the endpoints
//!   a node declares and lists every route of `portal_proto::api::paths`.

use std::collections::{BTreeMap, BTreeSet};
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
    for (path, text) in crate::committed::vector_files() {
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
    let files = crate::committed::vector_files();
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

// ---------------------------------------------------------------------------------------------
// The HTTP bodies (SPEC.md §8.1, §8.2; `portal_proto::api`; `schemas/`; `examples/`)

/// The examples of the HTTP bodies: file name (without `.json`) → the JSON.
fn body_examples() -> BTreeMap<String, Value> {
    let dir = spec_dir().join("examples");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).expect("proto-spec/examples").flatten() {
        let path = e.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        let Some(stem) = name.strip_suffix(".json") else { continue };
        let text = std::fs::read_to_string(&path).expect("example is readable");
        out.insert(stem.to_owned(), serde_json::from_str(&text).expect("example is JSON"));
    }
    out
}

/// The schema an example follows: the part of its name before the first dot.
fn schema_of(example: &str) -> &str {
    example.split('.').next().unwrap_or(example)
}

/// Each table of SPEC.md §8.1: its name, its schema file and the JSON pointer of its object
/// in it, and where its objects are in that schema's examples (`*` for every array element).
const BODY_TABLES: [(&str, &str, &str, &str); 24] = [
    ("log-page", "log-page", "", ""),
    ("log-entry", "log-page", "/$defs/logEntry", "entries/*"),
    ("national-log-page", "national-log-page", "", ""),
    ("national-log-entry", "national-log-page", "/$defs/nationalLogEntry", "entries/*"),
    ("inclusion-proof", "inclusion-proof", "", ""),
    ("consistency-proof", "consistency-proof", "", ""),
    ("item-history", "item-history", "", ""),
    ("national-item", "national-item", "", ""),
    ("member-item-history", "national-item", "/$defs/memberItemHistory", "members/*"),
    ("published", "published", "", ""),
    ("uploaded", "uploaded", "", ""),
    ("members", "members", "", ""),
    ("member-health", "members", "/$defs/memberHealth", "members/*"),
    ("sync-health", "members", "/$defs/syncHealth", "members/*/health"),
    ("member", "member", "", ""),
    ("member", "members", "/$defs/member", "members/*/member"),
    ("member", "member-list", "/$defs/member", "members/*"),
    ("member-list", "member-list", "", ""),
    ("incidents", "incidents", "", ""),
    ("incident", "incidents", "/$defs/incident", "incidents/*"),
    ("healthz", "healthz", "", ""),
    ("error", "error", "", ""),
    ("api-error", "error", "/properties/error", "error"),
    ("field-error", "error", "/$defs/fieldError", "error/fields/*"),
];

/// The first-column names of the table under the `#### `name`` heading of SPEC.md §8.1.
fn body_table(spec: &str, name: &str) -> BTreeSet<String> {
    let heading = format!("#### `{name}`");
    let mut in_section = false;
    let mut fields = BTreeSet::new();
    for line in spec.lines() {
        if line.starts_with('#') {
            in_section = line.starts_with(&heading);
        } else if in_section && line.starts_with("| `") {
            let cell = line.split('|').nth(1).unwrap_or("").trim();
            fields.insert(cell.trim_matches('`').to_owned());
        }
    }
    fields
}

/// The keys of the objects at `path` in `v` (`*` walks every array element; `null`s skipped).
fn keys_at(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    let mut parts = path.splitn(2, '/');
    match (parts.next().unwrap_or(""), parts.next()) {
        ("", _) => out.extend(v.as_object().into_iter().flat_map(|o| o.keys().cloned())),
        ("*", rest) => {
            for e in v.as_array().into_iter().flatten() {
                keys_at(e, rest.unwrap_or(""), out);
            }
        }
        (key, rest) => {
            if let Some(inner) = v.get(key) {
                keys_at(inner, rest.unwrap_or(""), out);
            }
        }
    }
}

#[test]
fn body_tables_match_their_schemas_and_examples() {
    let spec = spec();
    let examples = body_examples();
    for (name, file, pointer, at) in BODY_TABLES {
        let schema = schema(file);
        let object = schema.pointer(pointer).unwrap_or_else(|| panic!("{file}#{pointer}"));
        let props: BTreeSet<String> =
            object["properties"].as_object().expect("properties").keys().cloned().collect();
        let table = body_table(&spec, name);
        assert_eq!(
            table, props,
            "SPEC.md §8.1 table `{name}` and schemas/{file}.schema.json#{pointer} list different \
             members"
        );
        let mut seen = BTreeSet::new();
        for (_, v) in examples.iter().filter(|(n, _)| schema_of(n) == file) {
            keys_at(v, at, &mut seen);
        }
        assert_eq!(
            seen, props,
            "the examples/{file}*.json (written by the portal_proto::api types) show other members \
             at {at:?} than schemas/{file}.schema.json#{pointer}: the type and its schema drifted"
        );
    }
    let headings: BTreeSet<String> = spec
        .lines()
        .filter_map(|l| l.strip_prefix("#### `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    let mapped: BTreeSet<String> = BODY_TABLES.iter().map(|t| t.0.to_owned()).collect();
    assert_eq!(headings, mapped, "a table of SPEC.md §8.1 that no test checks, or the reverse");
}

#[test]
fn body_examples_conform_to_their_schemas() {
    let examples = body_examples();
    let files: BTreeSet<&str> = BODY_TABLES.iter().map(|t| t.1).collect();
    for file in &files {
        assert!(
            examples.keys().any(|n| schema_of(n) == *file),
            "schemas/{file}.schema.json has no example in proto-spec/examples/"
        );
    }
    for (name, v) in &examples {
        let file = schema_of(name);
        assert!(files.contains(file), "examples/{name}.json: no body schema {file}");
        let validator = jsonschema::draft202012::new(&schema(file)).expect("body schema compiles");
        let errors: Vec<String> = validator.iter_errors(v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "examples/{name}.json breaks schemas/{file}: {errors:?}");
    }
    // The three copies of the member's schema are one schema.
    let member = schema("member");
    for file in ["members", "member-list"] {
        let copy = &schema(file)["$defs"]["member"];
        for key in ["required", "properties", "additionalProperties"] {
            assert_eq!(copy[key], member[key], "schemas/{file} $defs/member.{key} differs");
        }
    }
    // A bad entry shape is refused by the schema, not only by the client.
    let v = jsonschema::draft202012::new(&schema("national-log-page")).expect("compiles");
    let mut page = examples["national-log-page"].clone();
    page["entries"][1]["record"] = page["entries"][1]["receipt"].clone();
    assert!(!v.is_valid(&page), "an entry with member, receipt and record must be refused");
}

#[test]
fn error_codes_table_matches_the_implementation() {
    use portal_proto::api::ErrorCode;
    let spec = spec();
    let mut rows = BTreeMap::new();
    let mut in_section = false;
    for line in spec.lines() {
        if line.starts_with('#') {
            in_section = line.starts_with("### 8.2");
        } else if in_section && line.starts_with("| `") {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            rows.insert(cells[1].trim_matches('`').to_owned(), cells[2].to_owned());
        }
    }
    let codes: BTreeMap<String, String> =
        ErrorCode::ALL.iter().map(|c| (c.as_str().to_owned(), c.status().to_string())).collect();
    assert_eq!(rows, codes, "SPEC.md §8.2 (code and status) and ErrorCode::ALL differ");
    let schema = schema("error");
    let in_schema: Vec<&str> = schema["properties"]["error"]["properties"]["code"]["enum"]
        .as_array()
        .expect("code enum")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let all: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(in_schema, all, "schemas/error.schema.json's codes and ErrorCode::ALL differ");
}

#[test]
fn http_table_lists_the_descriptor_endpoints_and_every_route() {
    use portal_proto::api::paths;
    let spec = spec();
    let table = section_fields(&spec, "## 8.", "HTTP interface");
    let declared: BTreeSet<String> =
        paths::descriptor_endpoints("https://gov.vn", true).into_keys().collect();
    assert_eq!(table, declared, "SPEC.md §8's names and the endpoints a node declares differ");
    let section: String = spec
        .split("## 8. HTTP interface")
        .nth(1)
        .and_then(|s| s.split("### 8.1").next())
        .expect("SPEC.md §8")
        .to_owned();
    for route in paths::ROUTES {
        assert!(
            section.contains(route.path),
            "SPEC.md §8 does not list {:?} {} (portal_proto::api::paths::ROUTES)",
            route.method,
            route.path
        );
    }
}

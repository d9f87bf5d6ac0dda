//! Runs every committed vector in `proto-spec/vectors/` through portal-proto, the way a third
//! party's verifier would, and checks each result against the vector's `expect`.
//!
//! This reads only the committed files, never the generator: the files are the contract.

use portal_proto::Rejection;
use portal_proto::envelope::{self, KeyResolver, SignedRecord, TrustStore};
use portal_proto::feed;
use portal_proto::ids::NodeId;
use portal_proto::merkle::Hash;
use portal_proto::record::{Descriptor, KeyGrant};
use portal_proto::time::Timestamp;
use portal_proto::verifier::LogVerifier;
use serde_json::Value;

use crate::committed::vector_files;

fn trust_store(v: &Value) -> TrustStore {
    let mut store = TrustStore::new();
    for (origin, grants) in v.as_object().expect("trust is an object") {
        let grants: Vec<KeyGrant> =
            serde_json::from_value(grants.clone()).expect("trust grants parse");
        store.set(NodeId::new(origin).expect("trust origin"), grants);
    }
    store
}

/// The envelope a verifier sees: the vector's `input` without its `record_json` (which is there
/// for human readers only).
fn envelope_bytes(v: &Value) -> Vec<u8> {
    let mut env = v.clone();
    if let Some(obj) = env.as_object_mut() {
        obj.remove("record_json");
    }
    serde_json::to_vec(&env).expect("envelope serialises")
}

fn outcome<T>(r: Result<T, Rejection>) -> String {
    match r {
        Ok(_) => "valid".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

fn run_record(v: &Value) -> String {
    let trust = trust_store(&v["trust"]);
    let input = envelope_bytes(&v["input"]);
    let signed = match SignedRecord::from_json(&input) {
        Ok(s) => s,
        Err(e) => return e.code().to_owned(),
    };
    match v.get("expect_type").and_then(Value::as_str) {
        Some("descriptor") => outcome(envelope::open_as::<Descriptor>(&signed, &trust)),
        Some(other) => panic!("unknown expect_type {other}"),
        None => outcome(envelope::open(&signed, &trust)),
    }
}

fn run_log(v: &Value) -> Vec<String> {
    let trust = trust_store(&v["trust"]);
    let origin = NodeId::new(v["origin"].as_str().expect("origin")).expect("origin id");
    let grants = trust.grants(&origin).expect("origin in trust").to_vec();
    let now = Timestamp::parse(v["now"].as_str().expect("now")).expect("now parses");
    let age = v["max_checkpoint_age"].as_u64().expect("max age");
    let mut verifier = LogVerifier::new(origin, grants).with_max_checkpoint_age(age);
    v["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .map(|step| {
            if let Some(rec) = step.get("record") {
                match SignedRecord::from_json(&envelope_bytes(rec)) {
                    Ok(s) => outcome(verifier.push(&s)),
                    Err(e) => e.code().to_owned(),
                }
            } else {
                let note = step["checkpoint"].as_str().expect("checkpoint note");
                let proof: Option<Vec<Hash>> = step.get("proof").map(|p| {
                    p.as_array()
                        .expect("proof array")
                        .iter()
                        .map(|h| {
                            portal_proto::crypto::decode_base64_array::<32>(
                                h.as_str().expect("b64"),
                            )
                            .expect("32-byte hash")
                        })
                        .collect()
                });
                outcome(verifier.push_checkpoint(note, now, proof.as_deref()))
            }
        })
        .collect()
}

fn run_feed(v: &Value, kind: &str) -> Value {
    let trust = trust_store(&v["trust"]);
    let input = v["input"].as_str().expect("feed input is text").as_bytes();
    let decoded = match kind {
        "atom" => feed::decode_atom(input),
        _ => feed::decode_json(input),
    };
    match decoded {
        Err(e) => Value::String(e.code().to_owned()),
        Ok(f) => Value::Array(
            feed::verify_entries(&f, &trust)
                .into_iter()
                .map(|r| Value::String(outcome(r)))
                .collect(),
        ),
    }
}

/// An evidence bundle (SPEC.md §11.4): parse `input`, verify it offline against `trust`.
fn run_bundle(v: &Value) -> String {
    let trust = trust_store(&v["trust"]);
    let bytes = serde_json::to_vec(&v["input"]).expect("bundle serialises");
    match portal_proto::bundle::Bundle::from_slice(&bytes) {
        Ok(b) => outcome(b.verify(&trust)),
        Err(e) => e.code().to_owned(),
    }
}

#[test]
fn every_vector_behaves_as_it_says() {
    let files = vector_files();
    assert!(files.len() > 50, "expected the committed vectors, found {}", files.len());
    let mut failures = Vec::new();
    let (mut valid, mut invalid) = (0, 0);
    let mut codes_seen = std::collections::BTreeSet::new();
    for (path, text) in &files {
        if path == "keys.json" {
            continue;
        }
        let v: Value = serde_json::from_str(text).expect("vector is JSON");
        let kind = v["kind"].as_str().expect("kind");
        let got = match kind {
            "record" => Value::String(run_record(&v)),
            "log" => Value::Array(run_log(&v).into_iter().map(Value::String).collect()),
            "atom" | "json-feed" => run_feed(&v, kind),
            "bundle" => Value::String(run_bundle(&v)),
            other => panic!("{path}: unknown kind {other}"),
        };
        let expect = &v["expect"];
        let expected_codes: Vec<&str> = match expect {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let bad = expected_codes.iter().filter(|c| **c != "valid").count();
        if bad > 0 {
            invalid += 1;
        } else {
            valid += 1;
        }
        codes_seen.extend(expected_codes.iter().filter(|c| **c != "valid").map(|c| c.to_string()));
        if &got != expect {
            failures.push(format!("{path}: expected {expect}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{} vectors failed:\n{}", failures.len(), failures.join("\n"));
    assert!(invalid >= 40, "the spec promises at least 40 invalid vectors, found {invalid}");
    for code in &codes_seen {
        assert!(Rejection::CODES.contains(&code.as_str()), "vector expects unknown code {code}");
    }
    eprintln!(
        "{valid} valid and {invalid} invalid vectors behaved as expected; codes: {codes_seen:?}"
    );
}

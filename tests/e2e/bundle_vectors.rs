//! Evidence-bundle vectors (`proto-spec/vectors/bundles/`, SPEC.md §11.4), generated from the
//! fixtures' fixed seeds with the vector generator (`vectors.rs` calls [`generate`]).
//!
//! The log behind them is the `bo-y-te` history of `log/valid/history-with-rotation.json`:
//! news item A v1 (0), alert B (1), A v2 (2), rotation to key 2 (3), news C by key 2 (4), A's
//! withdrawal by key 2 (5); its checkpoint of size 6 is signed by key 2 and cosigned by the
//! central node `chinh-phu`.

use portal_proto::bundle::{Bundle, KeyHistory, ProvenEntry, Witness};
use portal_proto::checkpoint::{self, Checkpoint};
use portal_proto::envelope::SignedRecord;
use portal_proto::merkle;
use portal_proto::record::*;
use portal_proto::verifier::checkpoint_origin;
use portal_tests::fixtures::{trust_json as trust, *};
use serde_json::{Value, json};

/// The keys of `bo-y-te` after its rotation at index 3 (key 2 from index 4).
fn rotated_grants() -> Vec<KeyGrant> {
    let mut k1 = MOH.grant();
    k1.until_index = Some(4);
    let mut k2 = MOH2.grant();
    k2.from_index = 4;
    vec![k1, k2]
}

struct Fixture {
    history: Vec<SignedRecord>,
    leaves: Vec<merkle::Hash>,
    /// Checkpoint of size 6 by key 2.
    note: String,
    /// The same, cosigned by the central node.
    cosigned: String,
    descriptor: SignedRecord,
    central_descriptor: SignedRecord,
    roster: SignedRecord,
}

fn fixture() -> Fixture {
    let history = history_with_rotation();
    let leaves = leaves(&history);
    let note = checkpoint_note(6, merkle::root_from_leaf_hashes(&leaves), 10, &MOH2);
    let cp = Checkpoint::with_time(
        checkpoint_origin(&node("bo-y-te")),
        6,
        merkle::root_from_leaf_hashes(&leaves),
        at(10).unix(),
    );
    let line = checkpoint::cosign(
        &cp,
        &checkpoint_origin(&node("chinh-phu")),
        &CENTRAL.signer(),
        at(11).unix(),
    )
    .expect("cosign");
    let cosigned = checkpoint::add_signature_line(&note, &line).expect("add cosignature");

    let mut d = descriptor();
    d.keys = rotated_grants();
    d.log_size = 6;
    d.time = at(12);
    let descriptor = sign(&d, &MOH2);

    let mut cd = descriptor_for_central();
    cd.time = at(12);
    let central_descriptor = sign(&cd, &CENTRAL);

    let mut r = roster();
    for m in &mut r.members {
        if m.id == node("bo-y-te") {
            m.keys = rotated_grants();
        }
    }
    r.serial = 4;
    r.time = at(12);
    let roster = sign(&r, &CENTRAL);
    Fixture { history, leaves, note, cosigned, descriptor, central_descriptor, roster }
}

fn descriptor_for_central() -> Descriptor {
    let mut d = descriptor();
    d.origin = node("chinh-phu");
    d.name = [(lang("en"), "Government".to_owned()), (lang("vi"), "Chính phủ".to_owned())]
        .into_iter()
        .collect();
    d.url = "https://gov.example.vn".into();
    d.endpoints = d
        .endpoints
        .iter()
        .map(|(k, v)| {
            (k.clone(), v.replace("https://moh.example.gov.vn", "https://gov.example.vn"))
        })
        .collect();
    d.keys = vec![CENTRAL.grant()];
    d
}

impl Fixture {
    fn proven(&self, index: u64) -> ProvenEntry {
        ProvenEntry::prove(self.leaves.as_slice(), 6, index, self.history[index as usize].clone())
            .expect("proof")
    }

    /// The node's bundle of item A (versions 1 and 2, withdrawal), with its descriptor.
    fn node_bundle(&self) -> Bundle {
        Bundle {
            origin: node("bo-y-te"),
            item: item_id(1),
            checkpoint: self.note.clone(),
            entries: vec![self.proven(0), self.proven(2), self.proven(5)],
            keys: KeyHistory {
                descriptor: Some(self.descriptor.clone()),
                roster: None,
                events: vec![self.proven(3)],
            },
            witness: None,
        }
    }

    /// The central node's bundle of item A: its roster, its cosignature and descriptor.
    fn central_bundle(&self) -> Bundle {
        Bundle {
            checkpoint: self.cosigned.clone(),
            keys: KeyHistory {
                descriptor: None,
                roster: Some(self.roster.clone()),
                events: vec![self.proven(3)],
            },
            witness: Some(Witness {
                origin: node("chinh-phu"),
                descriptor: self.central_descriptor.clone(),
            }),
            ..self.node_bundle()
        }
    }
}

fn vector(
    name: &str,
    description: &str,
    trust: Value,
    input: Value,
    expect: &str,
) -> (String, Value) {
    let dir = if expect == "valid" { "valid" } else { "invalid" };
    (
        format!("bundles/{dir}/{name}.json"),
        json!({"description": description, "kind": "bundle", "trust": trust, "input": input, "expect": expect}),
    )
}

fn input(b: &Bundle) -> Value {
    serde_json::from_str(&b.to_json()).expect("bundle JSON")
}

/// Every bundle vector: relative path → vector.
pub(crate) fn generate() -> Vec<(String, Value)> {
    let f = fixture();
    let mut out = valid(&f);
    out.extend(tampered(&f));
    out.extend(wrong_keys_or_entries(&f));
    out
}

fn moh() -> Value {
    trust(&[("bo-y-te", vec![MOH.grant()])])
}

fn central() -> Value {
    trust(&[("chinh-phu", vec![CENTRAL.grant()])])
}

/// Valid bundles: from the node (trusting either key, or none) and from the central.
fn valid(f: &Fixture) -> Vec<(String, Value)> {
    let node_b = f.node_bundle();
    let central_b = f.central_bundle();
    let mut out = Vec::new();
    out.push(vector(
        "node-withdrawn-item-trusting-first-key",
        "A node's bundle of a corrected then withdrawn item (3 entries). The verifier trusts the \
         node's first key; the rotation in the key history grants key 2, which signed the \
         withdrawal and the checkpoint.",
        moh(),
        input(&node_b),
        "valid",
    ));
    out.push(vector(
        "node-withdrawn-item-trusting-current-key",
        "The same bundle, the verifier trusting only the node's current key (key 2): the \
         descriptor it signed vouches for key 1 before index 4.",
        trust(&[("bo-y-te", vec![MOH2.grant()])]),
        input(&node_b),
        "valid",
    ));
    out.push(vector(
        "node-bundle-self-certified",
        "No trusted key: the bundle verifies against its own descriptor (self-certified; a \
         verifier must say so and show the key ids).",
        trust(&[]),
        input(&node_b),
        "valid",
    ));
    let single = Bundle { item: item_id(4), entries: vec![f.proven(4)], ..f.node_bundle() };
    out.push(vector(
        "node-single-version",
        "An item with one version, signed by key 2 after the rotation.",
        moh(),
        input(&single),
        "valid",
    ));
    out.push(vector(
        "central-cosigned-trusting-central",
        "The central node's bundle: the checkpoint cosigned by chinh-phu, the member's keys \
         from the central's roster; the verifier trusts only the central key.",
        central(),
        input(&central_b),
        "valid",
    ));
    out.push(vector(
        "central-cosigned-trusting-member",
        "The central node's bundle, the verifier trusting the member's first key and the \
         central key.",
        trust(&[("bo-y-te", vec![MOH.grant()]), ("chinh-phu", vec![CENTRAL.grant()])]),
        input(&central_b),
        "valid",
    ));
    out
}

/// Bundles whose bytes were altered: a record, a proof hash, a signature or cosignature.
fn tampered(f: &Fixture) -> Vec<(String, Value)> {
    let node_b = f.node_bundle();
    let central_b = f.central_bundle();
    let mut altered = node_b.clone();
    let text = String::from_utf8(f.history[0].bytes().to_vec()).expect("utf-8");
    let edited = text.replacen("hằng tuần", "hằng tháng", 1).into_bytes();
    altered.entries[0].signed =
        SignedRecord::from_parts(edited, f.history[0].kid().clone(), *f.history[0].sig());
    let mut bad_proof = node_b.clone();
    bad_proof.entries[1].proof[0][0] ^= 0x01;
    let mut bad_cp = node_b.clone();
    bad_cp.checkpoint = flip_note_signature(&f.note, "ipsp/1/bo-y-te", 0);
    let mut bad_cosig = central_b.clone();
    bad_cosig.checkpoint = flip_note_signature(&f.cosigned, "ipsp/1/chinh-phu", 0);
    let mut no_cosig = central_b;
    no_cosig.checkpoint = f.note.clone();
    #[rustfmt::skip]
    let cases = [
        ("altered-record", "The text of version 1 edited after signing (still canonical JSON).", moh(), &altered, "bad-signature"),
        ("wrong-proof-hash", "One bit of a hash of version 2's inclusion proof flipped.", moh(), &bad_proof, "inconsistent-checkpoint"),
        ("checkpoint-signature-altered", "One bit of the node's checkpoint signature flipped.", moh(), &bad_cp, "bad-signature"),
        ("cosignature-altered", "One bit of the witness's cosignature flipped.", central(), &bad_cosig, "bad-signature"),
        ("cosignature-missing", "A bundle naming a witness whose checkpoint carries no cosignature by it.", central(), &no_cosig, "bad-signature"),
    ];
    cases
        .into_iter()
        .map(|(name, desc, trust, b, expect)| vector(name, desc, trust, input(b), expect))
        .collect()
}

/// Bundles signed by the wrong key, with a key history or entries left out or added, or of
/// another format.
fn wrong_keys_or_entries(f: &Fixture) -> Vec<(String, Value)> {
    let node_b = f.node_bundle();
    let single = Bundle { item: item_id(4), entries: vec![f.proven(4)], ..f.node_bundle() };
    let mut out = Vec::new();
    let mut retired = single.clone();
    let s4 = &f.history[4];
    let by_key1 =
        MOH.signer().sign(&portal_proto::envelope::signing_input(RecordType::Item, s4.bytes()));
    retired.entries[0].signed =
        SignedRecord::from_parts(s4.bytes().to_vec(), MOH.public_key().key_id(), by_key1);
    out.push(vector(
        "key-not-valid-at-index",
        "Index 4 signed by key 1, which the rotation at index 3 retired from index 4 (the leaf \
         is the record bytes, so the inclusion proof still holds).",
        moh(),
        input(&retired),
        "revoked-key",
    ));
    out.push(vector(
        "trust-key-mismatch",
        "The verifier trusts another key for bo-y-te than the ones that signed.",
        trust(&[("bo-y-te", vec![MALLORY.grant()])]),
        input(&node_b),
        "unknown-key",
    ));
    let mut no_events = node_b.clone();
    no_events.keys.events.clear();
    out.push(vector(
        "key-history-missing-rotation",
        "The rotation left out of the key history: trusting key 1 only, nothing grants key 2.",
        moh(),
        input(&no_events),
        "unknown-key",
    ));
    let mut gap = node_b.clone();
    gap.entries.remove(1);
    out.push(vector(
        "version-chain-gap",
        "Version 2 left out: the withdrawal names version 2, the bundle's last version is 1.",
        moh(),
        input(&gap),
        "version-chain",
    ));
    let mut other = node_b.clone();
    other.entries.insert(1, f.proven(1));
    out.push(vector(
        "entry-of-another-item",
        "An entry of another item slipped into the bundle.",
        moh(),
        input(&other),
        "version-chain",
    ));
    let mut short = node_b.clone();
    short.checkpoint = checkpoint_note(5, merkle::root_from_leaf_hashes(&f.leaves[..5]), 9, &MOH2);
    out.push(vector(
        "entry-beyond-checkpoint",
        "The withdrawal at index 5 is not covered by a checkpoint of size 5.",
        moh(),
        input(&short),
        "inconsistent-checkpoint",
    ));
    let mut v2 = input(&node_b);
    v2["version"] = json!(2);
    out.push(vector(
        "unsupported-version",
        "A bundle of format version 2.",
        moh(),
        v2,
        "unsupported-version",
    ));
    let mut extra = input(&node_b);
    extra["signed_by_central"] = json!(true);
    out.push(vector(
        "malformed-unknown-member",
        "A member the format does not define.",
        moh(),
        extra,
        "malformed",
    ));
    out
}

fn spec_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../proto-spec/SPEC.md"))
        .expect("SPEC.md is readable")
}

fn bundle_schema() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../proto-spec/schemas/bundle.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("bundle schema is readable"))
        .expect("bundle schema is JSON")
}

/// SPEC.md §11.4's member table lists exactly the schema's top-level properties.
#[test]
fn bundle_table_matches_the_schema() {
    let spec = spec_text();
    let mut in_section = false;
    let mut table = std::collections::BTreeSet::new();
    for line in spec.lines() {
        if line.starts_with('#') {
            in_section = line.starts_with("### 11.4");
            continue;
        }
        if in_section && line.starts_with("| `") {
            let cell = line.split('|').nth(1).unwrap_or("").trim();
            table.insert(cell.trim_matches('`').to_owned());
        }
    }
    let schema = bundle_schema();
    let props: std::collections::BTreeSet<String> =
        schema["properties"].as_object().expect("properties").keys().cloned().collect();
    assert_eq!(table, props, "SPEC.md §11.4 and schemas/bundle.schema.json list different members");
}

/// Every valid bundle vector matches `schemas/bundle.schema.json`, and every generated bundle
/// parses back to the same bytes (the wire form has one spelling).
#[test]
fn valid_bundle_vectors_conform_to_the_schema() {
    let validator = jsonschema::draft202012::new(&bundle_schema()).expect("schema compiles");
    let mut checked = 0;
    for (path, text) in crate::committed::vector_files() {
        if !path.starts_with("bundles/valid/") {
            continue;
        }
        let v: Value = serde_json::from_str(&text).expect("vector JSON");
        let errors: Vec<String> =
            validator.iter_errors(&v["input"]).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{path}: bundle does not match the schema: {errors:?}");
        let bytes = serde_json::to_vec(&v["input"]).expect("bytes");
        let parsed = Bundle::from_slice(&bytes).expect("valid bundle parses");
        assert_eq!(input(&parsed), v["input"], "{path}: does not round-trip");
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} valid bundle vectors");
}

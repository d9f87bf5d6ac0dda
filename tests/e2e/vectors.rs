//! Generates `proto-spec/vectors/` from fixed seeds, and fails when the committed files differ.
//!
//! `cargo xtask vectors` (= `IPSP_UPDATE_VECTORS=1 cargo test -p portal-tests --test e2e
//! vectors::`) rewrites the files. Without the variable the test compares: change the wire
//! types and forget the spec, and this test says which file drifted.
//!
//! Each vector is one JSON file: `{"description", "kind", "trust", "now", "input" | "steps",
//! "expect"}`; see `proto-spec/vectors/README.md`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portal_proto::checkpoint::Checkpoint;
use portal_proto::crypto::encode_base64;
use portal_proto::envelope::{self, SignedRecord, signing_input};
use portal_proto::feed::{self, ArchiveLinks, FeedMeta};
use portal_proto::jcs;
use portal_proto::merkle;
use portal_proto::record::*;
use portal_proto::verifier::checkpoint_origin;
use serde_json::{Value, json};

use crate::fixtures::*;

pub(crate) fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto-spec/vectors")
}

/// All vector files: relative path → contents.
pub(crate) fn generate() -> BTreeMap<String, String> {
    let mut g = Gen::default();
    g.keys();
    g.records();
    g.logs();
    g.feeds();
    for (path, v) in crate::bundle_vectors::generate() {
        g.put(&path, v);
    }
    g.files
}

#[derive(Default)]
struct Gen {
    files: BTreeMap<String, String>,
}

fn sign<R: RecordBody>(r: &R, key: &TestKey) -> SignedRecord {
    envelope::sign(r, &key.signer()).expect("fixture records are valid")
}

/// Sign arbitrary bytes as a record of `t` (for invalid vectors whose signature must be good).
fn sign_raw(t: RecordType, bytes: Vec<u8>, key: &TestKey) -> SignedRecord {
    let signer = key.signer();
    let sig = signer.sign(&signing_input(t, &bytes));
    SignedRecord::from_parts(bytes, signer.public_key().key_id(), sig)
}

/// Re-encode a record after editing its JSON, canonically, and sign it properly.
fn edit(
    signed: &SignedRecord,
    t: RecordType,
    key: &TestKey,
    f: impl FnOnce(&mut Value),
) -> SignedRecord {
    let mut v: Value = serde_json::from_slice(signed.bytes()).expect("fixture is JSON");
    f(&mut v);
    sign_raw(t, jcs::to_canonical_vec(&v).expect("edited fixture encodes"), key)
}

/// Replace text in the record bytes and sign the result properly.
fn replace(
    signed: &SignedRecord,
    t: RecordType,
    key: &TestKey,
    from: &str,
    to: &str,
) -> SignedRecord {
    let text = std::str::from_utf8(signed.bytes()).expect("fixture is UTF-8");
    assert!(text.contains(from), "fixture must contain {from:?}");
    sign_raw(t, text.replacen(from, to, 1).into_bytes(), key)
}

fn env(s: &SignedRecord) -> Value {
    let mut v = serde_json::to_value(s).expect("envelope serialises");
    if let Ok(record) = serde_json::from_slice::<Value>(s.bytes()) {
        // For readers only; verifiers use "record" (the exact bytes).
        v["record_json"] = record;
    }
    v
}

fn trust(entries: &[(&str, Vec<KeyGrant>)]) -> Value {
    let m: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(origin, grants)| {
            ((*origin).to_owned(), serde_json::to_value(grants).expect("grants"))
        })
        .collect();
    Value::Object(m)
}

fn moh_trust() -> Value {
    trust(&[("bo-y-te", vec![MOH.grant()])])
}

impl Gen {
    fn put(&mut self, path: &str, v: Value) {
        let mut text = serde_json::to_string_pretty(&v).expect("vector serialises");
        text.push('\n');
        assert!(self.files.insert(path.to_owned(), text).is_none(), "duplicate vector {path}");
    }

    fn record(
        &mut self,
        name: &str,
        description: &str,
        trust: Value,
        s: &SignedRecord,
        expect: &str,
    ) {
        let dir = if expect == "valid" { "valid" } else { "invalid" };
        self.put(
            &format!("records/{dir}/{name}.json"),
            json!({"description": description, "kind": "record", "trust": trust, "input": env(s), "expect": expect}),
        );
    }

    fn keys(&mut self) {
        let keys: Vec<Value> = ALL_KEYS
            .iter()
            .map(|k| {
                let pk = k.signer().public_key();
                json!({"name": k.name, "seed": portal_proto::ids::Digest::from_bytes(&k.seed).as_str(),
                       "public_key": pk.to_base64(), "kid": pk.key_id().to_string()})
            })
            .collect();
        self.put(
            "keys.json",
            json!({"description": "Test keys. NEVER use these seeds outside tests: they are public.", "keys": keys}),
        );
    }

    fn records(&mut self) {
        let t = RecordType::Item;
        let n = news("bo-y-te", 0, 1);
        let sn = sign(&n, &MOH);
        let both = trust(&[("bo-y-te", vec![MOH.grant()]), ("bo-tai-chinh", vec![MOF.grant()])]);

        // ---- valid records of every type
        self.record(
            "item-news-v1",
            "A news item, version 1, Vietnamese with an English translation.",
            moh_trust(),
            &sn,
            "valid",
        );
        let c = correction(&n, sn.digest(), 1);
        self.record("item-correction-v2", "Version 2 of the news item: prev is the SHA-256 of version 1's bytes, with a major update note.", moh_trust(), &sign(&c, &MOH), "valid");
        let d = decree("bo-tai-chinh", 0, 2);
        self.record(
            "item-legal-decree",
            "A decree with legal metadata and a PDF attachment bound by SHA-256 and size.",
            both.clone(),
            &sign(&d, &MOF),
            "valid",
        );
        let mut alert = news("bo-y-te", 2, 3);
        alert.kind = ItemKind::Alert;
        alert.translations.clear();
        alert.categories.clear();
        self.record(
            "item-alert-minimal",
            "An alert with no optional fields: they are omitted, never null or empty.",
            moh_trust(),
            &sign(&alert, &MOH),
            "valid",
        );
        for (state, name) in [
            (WithdrawalState::Withdrawn, "withdrawal-withdrawn"),
            (WithdrawalState::Redirected, "withdrawal-redirected"),
            (WithdrawalState::Gone, "withdrawal-gone"),
        ] {
            let w = withdrawal(&n, sn.digest(), 3, state);
            self.record(
                name,
                &format!(
                    "A withdrawal with state {:?} and its public explanation.",
                    state.as_str()
                ),
                moh_trust(),
                &sign(&w, &MOH),
                "valid",
            );
        }
        self.record(
            "key-event-rotate",
            "A rotation to key 2, signed by key 1; key 2 signs from the next index.",
            moh_trust(),
            &sign(&rotation("bo-y-te", 4, &MOH2), &MOH),
            "valid",
        );
        self.record(
            "key-event-revoke",
            "A revocation of key 2 from log index 7, signed by key 1.",
            trust(&[("bo-y-te", vec![MOH.grant(), MOH2.grant()])]),
            &sign(&revocation("bo-y-te", 5, &MOH2, 7), &MOH),
            "valid",
        );
        self.record(
            "descriptor",
            "A node descriptor, signed by the node's own key.",
            moh_trust(),
            &sign(&descriptor(), &MOH),
            "valid",
        );
        self.record(
            "roster",
            "A federation roster, signed by the central key.",
            trust(&[("chinh-phu", vec![CENTRAL.grant()])]),
            &sign(&roster(), &CENTRAL),
            "valid",
        );
        self.record(
            "receipt",
            "An aggregator's receipt for the news item, in the central's log.",
            trust(&[("chinh-phu", vec![CENTRAL.grant()])]),
            &sign(&receipt(sn.digest(), 0, 0), &CENTRAL),
            "valid",
        );

        // ---- signatures and keys
        let mut flipped = *sn.sig();
        flipped[10] ^= 0x01;
        self.record(
            "bad-signature-bit-flip",
            "One bit of the signature flipped.",
            moh_trust(),
            &SignedRecord::from_parts(sn.bytes().to_vec(), sn.kid().clone(), flipped),
            "bad-signature",
        );
        let forged = sign(&n, &MALLORY);
        self.record(
            "bad-signature-other-key",
            "Signed by another key but naming the ministry's key id.",
            moh_trust(),
            &SignedRecord::from_parts(sn.bytes().to_vec(), sn.kid().clone(), *forged.sig()),
            "bad-signature",
        );
        let cross = MOH.signer().sign(&signing_input(RecordType::Withdrawal, sn.bytes()));
        self.record("bad-signature-wrong-domain", "An item signed with the withdrawal domain prefix: signatures cannot cross record types.", moh_trust(),
            &SignedRecord::from_parts(sn.bytes().to_vec(), sn.kid().clone(), cross), "bad-signature");
        let no_prefix = MOH.signer().sign(sn.bytes());
        self.record(
            "bad-signature-no-prefix",
            "Signed over the bare record bytes without the domain prefix.",
            moh_trust(),
            &SignedRecord::from_parts(sn.bytes().to_vec(), sn.kid().clone(), no_prefix),
            "bad-signature",
        );
        let text = String::from_utf8(sn.bytes().to_vec()).expect("utf-8");
        let altered = text.replacen("hằng tuần", "hằng tháng", 1).into_bytes();
        self.record(
            "bad-signature-edited-title",
            "The record's text edited after signing (still canonical).",
            moh_trust(),
            &SignedRecord::from_parts(altered, sn.kid().clone(), *sn.sig()),
            "bad-signature",
        );
        let mut short = serde_json::to_value(&sn).expect("env");
        short["sig"] = json!(encode_base64(&sn.sig()[..63]));
        self.put("records/invalid/bad-signature-short.json", json!({"description": "A 63-byte signature.", "kind": "record", "trust": moh_trust(), "input": short, "expect": "bad-signature"}));
        self.record(
            "unknown-key",
            "Signed by a key the verifier does not trust for this origin.",
            moh_trust(),
            &sign(&n, &MALLORY),
            "unknown-key",
        );
        self.record(
            "unknown-origin",
            "A record from an origin the verifier has no keys for.",
            trust(&[("bo-tai-chinh", vec![MOF.grant()])]),
            &sn,
            "unknown-origin",
        );
        let mut revoked = MOH.grant();
        revoked.revoked_from = Some(0);
        self.record(
            "revoked-key",
            "The key was revoked from log index 0.",
            trust(&[("bo-y-te", vec![revoked])]),
            &sn,
            "revoked-key",
        );
        let mut retired = MOH.grant();
        retired.until_index = Some(1);
        self.record(
            "retired-key",
            "Key 1 was retired by rotation at index 1; this record is at index 1.",
            trust(&[("bo-y-te", vec![retired])]),
            &sign(&c, &MOH),
            "revoked-key",
        );
        let mut future = MOH.grant();
        future.from_index = 5;
        self.record(
            "key-not-yet-valid",
            "The key is only valid from index 5; the record is at index 0.",
            trust(&[("bo-y-te", vec![future])]),
            &sn,
            "revoked-key",
        );

        // ---- canonical form (each properly signed over the non-canonical bytes)
        self.record(
            "non-canonical-whitespace",
            "A space after the opening brace.",
            moh_trust(),
            &replace(&sn, t, &MOH, "{", "{ "),
            "non-canonical",
        );
        self.record(
            "non-canonical-key-order",
            "Members out of order (\"version\" moved before \"updated\").",
            moh_trust(),
            &{
                let text = std::str::from_utf8(sn.bytes()).expect("utf-8");
                let v = format!(",\"version\":{}", n.version);
                let moved = text
                    .replacen(&v, "", 1)
                    .replacen("\"updated\"", &format!("{}, \"updated\"", &v[1..]), 1)
                    .replacen(", \"updated\"", ",\"updated\"", 1);
                sign_raw(t, moved.into_bytes(), &MOH)
            },
            "non-canonical",
        );
        self.record(
            "non-canonical-duplicate-key",
            "The \"title\" member appears twice.",
            moh_trust(),
            &replace(&sn, t, &MOH, "\"title\":", "\"title\":\"x\",\"title\":"),
            "non-canonical",
        );
        self.record(
            "non-canonical-escape",
            "A character written as a \\u escape where RFC 8785 writes it raw.",
            moh_trust(),
            &replace(&sn, t, &MOH, "Bộ Y tế", "B\\u1ed9 Y t\\u1ebf"),
            "non-canonical",
        );
        self.record(
            "non-canonical-number",
            "The version written as 1.0.",
            moh_trust(),
            &replace(&sn, t, &MOH, "\"version\":1", "\"version\":1.0"),
            "non-canonical",
        );
        self.record(
            "non-canonical-exponent",
            "The log index written as 0e0.",
            moh_trust(),
            &replace(&sn, t, &MOH, "\"log_index\":0", "\"log_index\":0e0"),
            "non-canonical",
        );
        self.record(
            "non-canonical-trailing-newline",
            "A newline after the closing brace.",
            moh_trust(),
            &{
                let mut b = sn.bytes().to_vec();
                b.push(b'\n');
                sign_raw(t, b, &MOH)
            },
            "non-canonical",
        );

        // ---- not even JSON
        let mut bad_b64 = serde_json::to_value(&sn).expect("env");
        bad_b64["record"] = json!("not base64!");
        self.put("records/invalid/malformed-base64.json", json!({"description": "The record field is not base64.", "kind": "record", "trust": moh_trust(), "input": bad_b64, "expect": "malformed"}));
        self.record(
            "malformed-truncated",
            "The record bytes cut in half.",
            moh_trust(),
            &{
                let b = sn.bytes();
                sign_raw(t, b[..b.len() / 2].to_vec(), &MOH)
            },
            "malformed",
        );
        self.record(
            "malformed-not-json",
            "The record is plain text.",
            moh_trust(),
            &sign_raw(t, b"B\xe1\xbb\x99 Y t\xe1\xba\xbf".to_vec(), &MOH),
            "malformed",
        );
        self.record(
            "malformed-lone-surrogate",
            "A string with an unpaired UTF-16 surrogate escape.",
            moh_trust(),
            &replace(&sn, t, &MOH, "\"summary\":\"", "\"summary\":\"\\ud800"),
            "malformed",
        );
        self.record(
            "malformed-array",
            "The record is a JSON array, not an object.",
            moh_trust(),
            &sign_raw(t, b"[1]".to_vec(), &MOH),
            "schema",
        );

        // ---- schema and field rules (canonical, correctly signed, still invalid)
        let item_edit = |f: &dyn Fn(&mut Value)| edit(&sn, t, &MOH, |v| f(v));
        let cases: Vec<(&str, &str, SignedRecord, &str)> = vec![
            (
                "schema-unknown-field",
                "An unknown member \"author\".",
                item_edit(&|v| {
                    v["author"] = json!("x");
                }),
                "schema",
            ),
            (
                "schema-missing-title",
                "No \"title\".",
                item_edit(&|v| {
                    v.as_object_mut().expect("obj").remove("title");
                }),
                "schema",
            ),
            (
                "schema-empty-title",
                "An empty title.",
                item_edit(&|v| {
                    v["title"] = json!("");
                }),
                "schema",
            ),
            (
                "schema-null-optional",
                "\"prev\": null on version 1: absent fields are omitted, never null.",
                item_edit(&|v| {
                    v["prev"] = Value::Null;
                }),
                "schema",
            ),
            (
                "schema-empty-array",
                "\"attachments\": [] : empty arrays are omitted.",
                item_edit(&|v| {
                    v["attachments"] = json!([]);
                }),
                "schema",
            ),
            (
                "schema-unsorted-categories",
                "Categories not sorted.",
                item_edit(&|v| {
                    v["categories"] = json!(["y-te-du-phong", "suc-khoe"]);
                }),
                "schema",
            ),
            (
                "schema-duplicate-category",
                "A category listed twice.",
                item_edit(&|v| {
                    v["categories"] = json!(["suc-khoe", "suc-khoe"]);
                }),
                "schema",
            ),
            (
                "schema-bad-item-id",
                "An item id that is not 26 base32 characters.",
                item_edit(&|v| {
                    v["id"] = json!("tin-tuc-2026-11-28");
                }),
                "schema",
            ),
            (
                "schema-bad-kind",
                "An unknown kind.",
                item_edit(&|v| {
                    v["kind"] = json!("blog");
                }),
                "schema",
            ),
            (
                "schema-legal-without-metadata",
                "Kind \"legal\" without legal metadata.",
                item_edit(&|v| {
                    v["kind"] = json!("legal");
                }),
                "schema",
            ),
            (
                "schema-v2-without-prev",
                "Version 2 with no prev and no update note.",
                item_edit(&|v| {
                    v["version"] = json!(2);
                }),
                "schema",
            ),
            (
                "schema-bad-timestamp",
                "A timestamp with an offset instead of Z.",
                item_edit(&|v| {
                    v["updated"] = json!("2026-11-28T16:00:00+07:00");
                }),
                "schema",
            ),
            (
                "schema-updated-before-published",
                "updated earlier than published.",
                item_edit(&|v| {
                    v["published"] = json!("2026-11-28T10:00:00Z");
                }),
                "schema",
            ),
            (
                "schema-negative-number",
                "A negative log index.",
                item_edit(&|v| {
                    v["log_index"] = json!(-1);
                }),
                "schema",
            ),
            (
                "schema-bad-language",
                "A language tag in upper case.",
                item_edit(&|v| {
                    v["language"] = json!("VI");
                }),
                "schema",
            ),
            (
                "schema-bad-origin",
                "An origin with upper case and spaces.",
                item_edit(&|v| {
                    v["origin"] = json!("Bo Y Te");
                }),
                "schema",
            ),
            (
                "schema-control-character",
                "A control character in the title.",
                item_edit(&|v| {
                    v["title"] = json!("Bộ Y tế\u{0007}");
                }),
                "schema",
            ),
            (
                "schema-unknown-type",
                "An unknown record type.",
                item_edit(&|v| {
                    v["type"] = json!("comment");
                }),
                "schema",
            ),
            (
                "unsupported-version",
                "\"ipsp\": 2.",
                item_edit(&|v| {
                    v["ipsp"] = json!(2);
                }),
                "unsupported-version",
            ),
        ];
        for (name, desc, s, expect) in cases {
            self.record(name, desc, moh_trust(), &s, expect);
        }
        self.record(
            "schema-integer-above-2-53",
            "A log index of 2^53: integers must stay below 2^53 to survive every JSON parser.",
            moh_trust(),
            &replace(&sn, t, &MOH, "\"log_index\":0", "\"log_index\":9007199254740992"),
            "schema",
        );

        let w = withdrawal(&n, sn.digest(), 3, WithdrawalState::Redirected);
        let sw = sign(&w, &MOH);
        let wt = RecordType::Withdrawal;
        self.record(
            "schema-withdrawal-empty-explanation",
            "A withdrawal must explain itself in public.",
            moh_trust(),
            &edit(&sw, wt, &MOH, |v| {
                v["explanation"] = json!("");
            }),
            "schema",
        );
        self.record(
            "schema-redirect-missing",
            "State \"redirected\" without a redirect URL.",
            moh_trust(),
            &edit(&sw, wt, &MOH, |v| {
                v.as_object_mut().expect("obj").remove("redirect");
            }),
            "schema",
        );
        self.record(
            "schema-redirect-javascript",
            "A redirect to a javascript: URL.",
            moh_trust(),
            &edit(&sw, wt, &MOH, |v| {
                v["redirect"] = json!("javascript:alert(1)");
            }),
            "schema",
        );
        let rot = sign(&rotation("bo-y-te", 4, &MOH2), &MOH);
        self.record(
            "schema-rotation-without-key",
            "A rotation without the new public key.",
            moh_trust(),
            &edit(&rot, RecordType::KeyEvent, &MOH, |v| {
                v.as_object_mut().expect("obj").remove("public_key");
            }),
            "schema",
        );
        self.record(
            "schema-rotation-kid-mismatch",
            "A rotation whose kid is not derived from its public key.",
            moh_trust(),
            &edit(&rot, RecordType::KeyEvent, &MOH, |v| {
                v["kid"] = json!("0000000000000000");
            }),
            "schema",
        );
        let sd = sign(&descriptor(), &MOH);
        self.record(
            "schema-descriptor-http-endpoint-relative",
            "A descriptor endpoint that is not an absolute URL.",
            moh_trust(),
            &edit(&sd, RecordType::Descriptor, &MOH, |v| {
                v["endpoints"]["atom"] = json!("/feeds/atom");
            }),
            "schema",
        );
        let sr = sign(&roster(), &CENTRAL);
        self.record(
            "schema-roster-unsorted-members",
            "Roster members out of order.",
            trust(&[("chinh-phu", vec![CENTRAL.grant()])]),
            &edit(&sr, RecordType::Roster, &CENTRAL, |v| {
                if let Some(a) = v["members"].as_array_mut() {
                    a.reverse();
                }
            }),
            "schema",
        );

        // ---- wrong type where a specific type is required
        self.put("records/invalid/wrong-type-descriptor.json", json!({
            "description": "An item served where a descriptor is required (e.g. at /.well-known/portal-node).",
            "kind": "record", "expect_type": "descriptor", "trust": moh_trust(), "input": env(&sn), "expect": "wrong-type"}));
    }

    fn log(
        &mut self,
        name: &str,
        description: &str,
        trust: Value,
        now_min: u64,
        steps: Vec<Value>,
        expect: &[&str],
    ) {
        assert_eq!(steps.len(), expect.len(), "{name}");
        let dir = if expect.iter().all(|e| *e == "valid") { "valid" } else { "invalid" };
        self.put(&format!("log/{dir}/{name}.json"), json!({
            "description": description, "kind": "log", "origin": "bo-y-te", "trust": trust,
            "now": at(now_min).to_string(), "max_checkpoint_age": 86400, "steps": steps, "expect": expect}));
    }

    fn logs(&mut self) {
        // A 6-entry history: news v1, decree-like alert, correction, rotation, item by key 2, withdrawal.
        let n = news("bo-y-te", 0, 1);
        let s0 = sign(&n, &MOH);
        let mut a = news("bo-y-te", 1, 3);
        a.kind = ItemKind::Alert;
        let s1 = sign(&a, &MOH);
        let c = correction(&n, s0.digest(), 2);
        let s2 = sign(&c, &MOH);
        let s3 = sign(&rotation("bo-y-te", 3, &MOH2), &MOH);
        let s4 = sign(&news("bo-y-te", 4, 4), &MOH2);
        let s5 = sign(&withdrawal(&c, s2.digest(), 5, WithdrawalState::Withdrawn), &MOH2);
        let history = [&s0, &s1, &s2, &s3, &s4, &s5];
        let leaves: Vec<merkle::Hash> = history.iter().map(|s| s.leaf_hash()).collect();
        let rec = |s: &SignedRecord| json!({"record": env(s)});
        let cp = |size: usize, minute: u64, key: &TestKey| -> String {
            let root = merkle::root_from_leaf_hashes(&leaves[..size]);
            checkpoint_note(size as u64, root, minute, key)
        };
        let proof = |m: usize, n: usize| -> Value {
            let p =
                merkle::consistency_proof(leaves.as_slice(), m as u64, n as u64).expect("proof");
            json!(p.iter().map(|h| encode_base64(h)).collect::<Vec<_>>())
        };
        let t = moh_trust();
        let full: Vec<Value> = history.iter().map(|s| rec(s)).collect();
        let all_valid = vec!["valid"; 6];

        let mut steps = full.clone();
        steps.push(json!({"checkpoint": cp(6, 10, &MOH2)}));
        self.log("history-with-rotation", "Six entries: news, alert, correction, rotation to key 2, an item and a withdrawal signed by key 2, then a checkpoint signed by key 2.", t.clone(), 20, steps, &[all_valid.as_slice(), &["valid"]].concat());

        // Trust that already holds the rotation (a descriptor or roster listing both grants).
        let after_rotation = trust(&[(
            "bo-y-te",
            vec![
                KeyGrant { until_index: Some(4), ..MOH.grant() },
                KeyGrant { from_index: 4, ..MOH2.grant() },
            ],
        )]);
        let mut steps = full.clone();
        steps.push(json!({"checkpoint": cp(6, 10, &MOH2)}));
        self.log("rotation-already-trusted", "The same history verified with trust that already lists both grants (key 1 until index 4, key 2 from index 4, as a descriptor or roster after the rotation): the rotation confirms the known grant.", after_rotation, 20, steps, &[all_valid.as_slice(), &["valid"]].concat());
        let other_validity = trust(&[("bo-y-te", vec![MOH.grant(), MOH2.grant()])]);
        self.log(
            "rotation-to-key-already-granted",
            "A rotation to key 2 from index 4, when key 2 is already trusted from index 0.",
            other_validity,
            20,
            vec![rec(&s0), rec(&s1), rec(&s2), rec(&s3)],
            &["valid", "valid", "valid", "schema"],
        );

        let steps = vec![
            rec(&s0),
            rec(&s1),
            json!({"checkpoint": cp(2, 2, &MOH)}),
            json!({"checkpoint": cp(3, 3, &MOH), "proof": proof(2, 3)}),
            rec(&s2),
            rec(&s3),
            rec(&s4),
            rec(&s5),
        ];
        self.log("checkpoint-ahead-with-proof", "A checkpoint of size 3 arrives after 2 records, with a consistency proof from size 2; the next record then matches its root.", t.clone(), 20, steps, &["valid"; 8]);

        // ---- invalid sequences
        self.log(
            "index-gap",
            "Index 2 arrives after index 0.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&s2)],
            &["valid", "index-gap"],
        );
        let other = sign(&news("bo-y-te", 1, 9), &MOH);
        self.log(
            "fork",
            "A second, different record signed for index 1: equivocation.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&s1), rec(&other)],
            &["valid", "valid", "fork"],
        );
        self.log(
            "replay",
            "The record at index 0 sent again.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&s1), rec(&s0)],
            &["valid", "valid", "replay"],
        );
        let bad_prev = {
            let mut c = correction(&n, s1.digest(), 2);
            c.prev = Some(s1.digest());
            sign(&c, &MOH)
        };
        self.log(
            "version-chain-wrong-prev",
            "Version 2 whose prev is the hash of another record.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&s1), rec(&bad_prev)],
            &["valid", "valid", "version-chain"],
        );
        let skip = {
            let mut c = correction(&n, s0.digest(), 1);
            c.version = 3;
            sign(&c, &MOH)
        };
        self.log(
            "version-chain-skipped-version",
            "Version 3 directly after version 1.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&skip)],
            &["valid", "version-chain"],
        );
        let orphan =
            sign(&withdrawal(&news("bo-y-te", 0, 7), s0.digest(), 1, WithdrawalState::Gone), &MOH);
        self.log(
            "version-chain-withdraw-unknown",
            "A withdrawal of an item that was never published.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&orphan)],
            &["valid", "version-chain"],
        );
        let w1 = sign(&withdrawal(&n, s0.digest(), 1, WithdrawalState::Withdrawn), &MOH);
        let after = sign(&correction(&n, s0.digest(), 2), &MOH);
        self.log(
            "version-chain-after-withdrawal",
            "A new version after the item was withdrawn.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&w1), rec(&after)],
            &["valid", "valid", "version-chain"],
        );
        let foreign = sign(&news("bo-tai-chinh", 1, 5), &MOH);
        self.log(
            "wrong-origin",
            "A record whose origin is another node, inside this node's log.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&foreign)],
            &["valid", "wrong-origin"],
        );
        let old_key = sign(&news("bo-y-te", 4, 4), &MOH);
        self.log(
            "retired-key-after-rotation",
            "Key 1 signs index 4 after rotating to key 2 from index 4.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&s1), rec(&s2), rec(&s3), rec(&old_key)],
            &["valid", "valid", "valid", "valid", "revoked-key"],
        );
        let t2 = trust(&[("bo-y-te", vec![MOH.grant(), MOH2.grant()])]);
        let revoke = sign(&revocation("bo-y-te", 1, &MOH2, 2), &MOH);
        let by_revoked = sign(&news("bo-y-te", 2, 6), &MOH2);
        self.log(
            "revoked-key-after-revocation",
            "Key 2 is revoked from index 2 by a key event; it then signs index 2.",
            t2,
            20,
            vec![rec(&s0), rec(&revoke), rec(&by_revoked)],
            &["valid", "valid", "revoked-key"],
        );
        let unknown = sign(&news("bo-y-te", 1, 6), &MALLORY);
        self.log(
            "unknown-key-in-log",
            "An entry signed by a key never granted to the node.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&unknown)],
            &["valid", "unknown-key"],
        );

        self.log(
            "checkpoint-rollback",
            "A checkpoint of size 2 after one of size 3.",
            t.clone(),
            20,
            vec![
                rec(&s0),
                rec(&s1),
                rec(&s2),
                json!({"checkpoint": cp(3, 3, &MOH)}),
                json!({"checkpoint": cp(2, 4, &MOH)}),
            ],
            &["valid", "valid", "valid", "valid", "rollback"],
        );
        self.log(
            "checkpoint-stale",
            "A checkpoint dated more than a day before now.",
            t.clone(),
            2 * 1440,
            vec![rec(&s0), json!({"checkpoint": cp(1, 1, &MOH)})],
            &["valid", "stale-checkpoint"],
        );
        self.log(
            "checkpoint-future",
            "A checkpoint dated an hour in the future.",
            t.clone(),
            0,
            vec![rec(&s0), json!({"checkpoint": cp(1, 60, &MOH)})],
            &["valid", "stale-checkpoint"],
        );
        let wrong_root = checkpoint_note(2, leaves[0], 2, &MOH);
        self.log(
            "checkpoint-wrong-root",
            "A checkpoint of size 2 whose root is not the root of the records.",
            t.clone(),
            20,
            vec![rec(&s0), rec(&s1), json!({"checkpoint": wrong_root})],
            &["valid", "valid", "inconsistent-checkpoint"],
        );
        self.log(
            "checkpoint-bad-proof",
            "A checkpoint ahead of the records with a consistency proof that does not prove it.",
            t.clone(),
            20,
            vec![
                rec(&s0),
                rec(&s1),
                json!({"checkpoint": cp(2, 2, &MOH)}),
                json!({"checkpoint": cp(3, 3, &MOH), "proof": proof(1, 3)}),
            ],
            &["valid", "valid", "valid", "inconsistent-checkpoint"],
        );
        self.log(
            "checkpoint-ahead-without-proof",
            "A checkpoint ahead of the records with no consistency proof.",
            t.clone(),
            20,
            vec![
                rec(&s0),
                rec(&s1),
                json!({"checkpoint": cp(2, 2, &MOH)}),
                json!({"checkpoint": cp(3, 3, &MOH)}),
            ],
            &["valid", "valid", "valid", "inconsistent-checkpoint"],
        );
        let forged_cp = checkpoint_note(1, leaves[0], 1, &MOH).replacen("\n1\n", "\n2\n", 1);
        self.log(
            "checkpoint-bad-signature",
            "A checkpoint whose size was changed after signing.",
            t.clone(),
            20,
            vec![rec(&s0), json!({"checkpoint": forged_cp})],
            &["valid", "bad-signature"],
        );
        let foreign_cp = checkpoint_note_for("bo-tai-chinh", 1, leaves[0], 1, &MOH);
        self.log(
            "checkpoint-wrong-origin",
            "A checkpoint whose origin line names another node.",
            t.clone(),
            20,
            vec![rec(&s0), json!({"checkpoint": foreign_cp})],
            &["valid", "wrong-origin"],
        );
        self.log(
            "checkpoint-fork",
            "Two checkpoints of the same size with different roots.",
            t,
            20,
            vec![
                rec(&s0),
                rec(&s1),
                json!({"checkpoint": cp(2, 2, &MOH)}),
                json!({"checkpoint": checkpoint_note(2, leaves[0], 3, &MOH)}),
            ],
            &["valid", "valid", "valid", "inconsistent-checkpoint"],
        );
    }

    fn feed(
        &mut self,
        name: &str,
        description: &str,
        format: &str,
        trust: Value,
        input: String,
        expect: Value,
    ) {
        let invalid = match &expect {
            Value::String(s) => s != "valid",
            Value::Array(a) => a.iter().any(|e| e != "valid"),
            _ => true,
        };
        let dir = if invalid { "invalid" } else { "valid" };
        self.put(&format!("feeds/{dir}/{name}.json"), json!({
            "description": description, "kind": format, "trust": trust, "input": input, "expect": expect}));
    }

    fn feeds(&mut self) {
        let n = news("bo-y-te", 0, 1);
        let s0 = sign(&n, &MOH);
        let s1 = sign(&decree("bo-y-te", 1, 2), &MOH);
        let s2 = sign(&correction(&n, s0.digest(), 2), &MOH);
        let s3 = sign(
            &withdrawal(&decree("bo-y-te", 1, 2), s1.digest(), 3, WithdrawalState::Withdrawn),
            &MOH,
        );
        let entries = vec![s2.clone(), s3.clone()];
        let meta = feed_meta(false);
        let atom = feed::encode_atom(&meta, &entries).expect("atom encodes");
        let jf = feed::encode_json(&meta, &entries).expect("json feed encodes");
        let t = moh_trust();
        self.feed(
            "atom-latest",
            "The latest page: a corrected item (version 2) and a tombstone for a withdrawn decree.",
            "atom",
            t.clone(),
            atom.clone(),
            json!(["valid", "valid"]),
        );
        self.feed(
            "json-feed-latest",
            "The same page as JSON Feed 1.1.",
            "json-feed",
            t.clone(),
            jf.clone(),
            json!(["valid", "valid"]),
        );
        let mut archive = feed_meta(true);
        archive.archive.next_archive =
            Some("https://moh.example.gov.vn/feeds/atom/archive/1".into());
        self.feed(
            "atom-archive",
            "An RFC 5005 archive page (log range 0-2).",
            "atom",
            t.clone(),
            feed::encode_atom(&archive, &[s0.clone(), s1.clone()]).expect("atom"),
            json!(["valid", "valid"]),
        );

        let vi_title = "Bộ Y tế khuyến cáo phòng chống sốt xuất huyết mùa mưa";
        self.feed(
            "atom-title-mismatch",
            "The visible title differs from the signed record's title.",
            "atom",
            t.clone(),
            atom.replacen(
                &format!(">{vi_title}<"),
                ">Bộ Y tế: dịch bệnh đã được kiểm soát hoàn toàn<",
                1,
            ),
            json!(["feed-mismatch", "valid"]),
        );
        self.feed(
            "json-feed-content-mismatch",
            "The visible content_html differs from the signed record.",
            "json-feed",
            t.clone(),
            jf.replacen("đi khám ngay", "không cần đi khám", 1),
            json!(["feed-mismatch", "valid"]),
        );
        self.feed(
            "atom-tombstone-comment-mismatch",
            "The tombstone's comment differs from the signed explanation.",
            "atom",
            t.clone(),
            atom.replacen("Superseded by a newer notice<", "Published in error<", 1),
            json!(["valid", "feed-mismatch"]),
        );
        let forged = sign(&correction(&n, s0.digest(), 2), &MALLORY);
        self.feed(
            "atom-forged-entry",
            "An entry signed by an untrusted key.",
            "atom",
            t.clone(),
            feed::encode_atom(&meta, &[forged, s3.clone()]).expect("atom"),
            json!(["unknown-key", "valid"]),
        );
        let b64 = s2.record_base64();
        let tampered = String::from_utf8(s2.bytes().to_vec()).expect("utf-8").replacen(
            "hằng tuần",
            "hằng tháng",
            1,
        );
        self.feed(
            "atom-tampered-record",
            "One byte of the embedded signed record changed.",
            "atom",
            t.clone(),
            atom.replacen(&b64, &encode_base64(tampered.as_bytes()), 1),
            json!(["bad-signature", "valid"]),
        );
        let doctype = atom.replacen("<feed", "<!DOCTYPE feed [<!ENTITY x \"x\">]>\n<feed", 1);
        self.feed(
            "atom-doctype",
            "A DOCTYPE with an entity declaration: refused before parsing.",
            "atom",
            t.clone(),
            doctype,
            json!("doctype"),
        );
        let start = atom.find("<ipsp:record").expect("extension present");
        let end =
            atom[start..].find("</ipsp:record>").expect("closed") + start + "</ipsp:record>".len();
        let unsigned = format!("{}{}", &atom[..start], &atom[end..]);
        self.feed(
            "atom-unsigned-entry",
            "An entry without its ipsp:record: a verifier cannot accept it.",
            "atom",
            t.clone(),
            unsigned,
            json!("malformed"),
        );
        self.feed(
            "atom-not-xml",
            "Not XML.",
            "atom",
            t.clone(),
            "{\"title\": \"not a feed\"}".into(),
            json!("malformed"),
        );
        self.feed(
            "json-feed-not-json",
            "Not JSON.",
            "json-feed",
            t.clone(),
            "<feed/>".into(),
            json!("malformed"),
        );
        let start = jf.find("\"_ipsp\"").expect("ext");
        self.feed(
            "json-feed-truncated",
            "A JSON Feed cut off mid-document.",
            "json-feed",
            t,
            jf[..start].to_owned(),
            json!("malformed"),
        );
    }
}

pub(crate) fn feed_meta(is_archive: bool) -> FeedMeta {
    FeedMeta {
        feed_id: "urn:ipsp:bo-y-te:feed".into(),
        title: "Bộ Y tế — Ministry of Health".into(),
        author: "Bộ Y tế".into(),
        self_url: if is_archive {
            "https://moh.example.gov.vn/feeds/atom/archive/0".into()
        } else {
            "https://moh.example.gov.vn/feeds/atom".into()
        },
        alternate_url: "https://moh.example.gov.vn/".into(),
        updated: at(3),
        archive: ArchiveLinks {
            is_archive,
            current: is_archive.then(|| "https://moh.example.gov.vn/feeds/atom".to_owned()),
            prev_archive: None,
            next_archive: None,
            next_page: None,
        },
        item_url: "https://moh.example.gov.vn/items/{id}".into(),
    }
}

pub(crate) fn checkpoint_note(size: u64, root: merkle::Hash, minute: u64, key: &TestKey) -> String {
    checkpoint_note_for("bo-y-te", size, root, minute, key)
}

pub(crate) fn checkpoint_note_for(
    origin: &str,
    size: u64,
    root: merkle::Hash,
    minute: u64,
    key: &TestKey,
) -> String {
    let cp = Checkpoint::with_time(checkpoint_origin(&node(origin)), size, root, at(minute).unix());
    portal_proto::checkpoint::sign_checkpoint(&cp, &cp.origin, &key.signer())
        .expect("fixture checkpoints sign")
}

/// The drift check: the committed vectors are exactly what the code generates.
#[test]
fn vectors_match_the_code() {
    let generated = generate();
    let dir = vectors_dir();
    if std::env::var_os("IPSP_UPDATE_VECTORS").is_some() {
        for sub in ["records", "log", "feeds", "bundles"] {
            let _ = std::fs::remove_dir_all(dir.join(sub));
        }
        for (path, text) in &generated {
            let p = dir.join(path);
            std::fs::create_dir_all(p.parent().expect("has parent")).expect("mkdir");
            std::fs::write(&p, text).expect("write vector");
        }
        eprintln!("wrote {} vectors to {}", generated.len(), dir.display());
        return;
    }
    let committed = crate::conformance::vector_files();
    let committed_names: Vec<&String> = committed.keys().collect();
    let generated_names: Vec<&String> = generated.keys().collect();
    assert_eq!(
        committed_names, generated_names,
        "the set of vector files differs from what the code generates: run `cargo xtask vectors` and review the diff"
    );
    for (path, text) in &generated {
        assert!(
            committed[path] == *text,
            "proto-spec/vectors/{path} differs from what the code generates: the wire format changed. \
             Run `cargo xtask vectors`, review the diff, and update SPEC.md and the schemas with it."
        );
    }
}

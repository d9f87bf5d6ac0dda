//! Record vectors: valid records of every type, then every way a record is refused.

use portal_proto::crypto::encode_base64;
use portal_proto::envelope::{SignedRecord, signing_input};
use portal_proto::record::*;
use portal_tests::fixtures::{trust_json as trust, *};
use serde_json::{Value, json};

use super::{Gen, edit, env, moh_trust, replace};

/// The news item every record vector starts from, and its envelope.
fn first_news() -> (ItemVersion, SignedRecord) {
    let n = news("bo-y-te", 0, 1);
    let sn = sign(&n, &MOH);
    (n, sn)
}

/// A schema case: name, description, the record edited, its type, and the edit.
type Edit<'a> = (&'a str, &'a str, &'a SignedRecord, RecordType, fn(&mut Value));

impl Gen {
    /// Valid records of every type.
    pub(super) fn records_valid(&mut self) {
        let (n, sn) = first_news();
        let both = trust(&[("bo-y-te", vec![MOH.grant()]), ("bo-tai-chinh", vec![MOF.grant()])]);

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
        let central = || trust(&[("chinh-phu", vec![CENTRAL.grant()])]);
        let both_keys = trust(&[("bo-y-te", vec![MOH.grant(), MOH2.grant()])]);
        #[rustfmt::skip]
        let others = [
            ("key-event-rotate", "A rotation to key 2, signed by key 1; key 2 signs from the next index.", moh_trust(), sign(&rotation("bo-y-te", 4, &MOH2), &MOH)),
            ("key-event-revoke", "A revocation of key 2 from log index 7, signed by key 1.", both_keys, sign(&revocation("bo-y-te", 5, &MOH2, 7), &MOH)),
            ("descriptor", "A node descriptor, signed by the node's own key.", moh_trust(), sign(&descriptor(), &MOH)),
            ("roster", "A federation roster, signed by the central key.", central(), sign(&roster(), &CENTRAL)),
            ("receipt", "An aggregator's receipt for the news item, in the central's log.", central(), sign(&receipt(sn.digest(), 0, 0), &CENTRAL)),
        ];
        for (name, desc, trust, record) in others {
            self.record(name, desc, trust, &record, "valid");
        }
    }

    /// Signatures and keys: flipped, forged, cross-domain, edited; unknown, revoked, retired
    /// and not-yet-valid keys.
    pub(super) fn records_signatures_and_keys(&mut self) {
        let (n, sn) = first_news();
        let c = correction(&n, sn.digest(), 1);
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
        // Keys the verifier does not trust, or not at that index.
        let moh_with = |change: fn(&mut KeyGrant)| {
            let mut grant = MOH.grant();
            change(&mut grant);
            trust(&[("bo-y-te", vec![grant])])
        };
        let revoked = moh_with(|g| g.revoked_from = Some(0));
        let retired = moh_with(|g| g.until_index = Some(1));
        let future = moh_with(|g| g.from_index = 5);
        let mof_only = trust(&[("bo-tai-chinh", vec![MOF.grant()])]);
        #[rustfmt::skip]
        let keys: [(&str, &str, Value, SignedRecord, &str); 5] = [
            ("unknown-key", "Signed by a key the verifier does not trust for this origin.", moh_trust(), sign(&n, &MALLORY), "unknown-key"),
            ("unknown-origin", "A record from an origin the verifier has no keys for.", mof_only, sn.clone(), "unknown-origin"),
            ("revoked-key", "The key was revoked from log index 0.", revoked, sn.clone(), "revoked-key"),
            ("retired-key", "Key 1 was retired by rotation at index 1; this record is at index 1.", retired, sign(&c, &MOH), "revoked-key"),
            ("key-not-yet-valid", "The key is only valid from index 5; the record is at index 0.", future, sn, "revoked-key"),
        ];
        for (name, desc, trust, record, expect) in keys {
            self.record(name, desc, trust, &record, expect);
        }
    }

    /// Canonical form: each properly signed over the non-canonical bytes.
    pub(super) fn records_canonical_form(&mut self) {
        let (n, sn) = first_news();
        let t = RecordType::Item;
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
    }

    /// Not even JSON: bad base64, truncated bytes, plain text, a lone surrogate, an array.
    pub(super) fn records_malformed(&mut self) {
        let (_, sn) = first_news();
        let t = RecordType::Item;
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
    }

    /// Schema and field rules of an item: canonical, correctly signed, still invalid. Each
    /// case sets one field (or removes it, `None`).
    pub(super) fn records_item_schema(&mut self) {
        let (_, sn) = first_news();
        let t = RecordType::Item;
        #[rustfmt::skip]
        let cases: [(&str, &str, &str, Option<Value>, &str); 19] = [
            ("schema-unknown-field", "An unknown member \"author\".", "author", Some(json!("x")), "schema"),
            ("schema-missing-title", "No \"title\".", "title", None, "schema"),
            ("schema-empty-title", "An empty title.", "title", Some(json!("")), "schema"),
            ("schema-null-optional", "\"prev\": null on version 1: absent fields are omitted, never null.", "prev", Some(Value::Null), "schema"),
            ("schema-empty-array", "\"attachments\": [] : empty arrays are omitted.", "attachments", Some(json!([])), "schema"),
            ("schema-unsorted-categories", "Categories not sorted.", "categories", Some(json!(["y-te-du-phong", "suc-khoe"])), "schema"),
            ("schema-duplicate-category", "A category listed twice.", "categories", Some(json!(["suc-khoe", "suc-khoe"])), "schema"),
            ("schema-bad-item-id", "An item id that is not 26 base32 characters.", "id", Some(json!("tin-tuc-2026-11-28")), "schema"),
            ("schema-bad-kind", "An unknown kind.", "kind", Some(json!("blog")), "schema"),
            ("schema-legal-without-metadata", "Kind \"legal\" without legal metadata.", "kind", Some(json!("legal")), "schema"),
            ("schema-v2-without-prev", "Version 2 with no prev and no update note.", "version", Some(json!(2)), "schema"),
            ("schema-bad-timestamp", "A timestamp with an offset instead of Z.", "updated", Some(json!("2026-11-28T16:00:00+07:00")), "schema"),
            ("schema-updated-before-published", "updated earlier than published.", "published", Some(json!("2026-11-28T10:00:00Z")), "schema"),
            ("schema-negative-number", "A negative log index.", "log_index", Some(json!(-1)), "schema"),
            ("schema-bad-language", "A language tag in upper case.", "language", Some(json!("VI")), "schema"),
            ("schema-bad-origin", "An origin with upper case and spaces.", "origin", Some(json!("Bo Y Te")), "schema"),
            ("schema-control-character", "A control character in the title.", "title", Some(json!("Bộ Y tế\u{0007}")), "schema"),
            ("schema-unknown-type", "An unknown record type.", "type", Some(json!("comment")), "schema"),
            ("unsupported-version", "\"ipsp\": 2.", "ipsp", Some(json!(2)), "unsupported-version"),
        ];
        for (name, desc, field, value, expect) in cases {
            let s = edit(&sn, t, &MOH, |v| match value {
                Some(value) => v[field] = value,
                None => drop(v.as_object_mut().expect("obj").remove(field)),
            });
            self.record(name, desc, moh_trust(), &s, expect);
        }
        self.record(
            "schema-integer-above-2-53",
            "A log index of 2^53: integers must stay below 2^53 to survive every JSON parser.",
            moh_trust(),
            &replace(&sn, t, &MOH, "\"log_index\":0", "\"log_index\":9007199254740992"),
            "schema",
        );
    }

    /// Schema rules of the other record types, and a record of the wrong type.
    pub(super) fn records_other_schema(&mut self) {
        let (n, sn) = first_news();

        let sw = sign(&withdrawal(&n, sn.digest(), 3, WithdrawalState::Redirected), &MOH);
        let rot = sign(&rotation("bo-y-te", 4, &MOH2), &MOH);
        let sd = sign(&descriptor(), &MOH);
        let sr = sign(&roster(), &CENTRAL);
        let (wt, kt, dt) = (RecordType::Withdrawal, RecordType::KeyEvent, RecordType::Descriptor);
        #[rustfmt::skip]
        let cases: [Edit<'_>; 7] = [
            ("schema-withdrawal-empty-explanation", "A withdrawal must explain itself in public.", &sw, wt, |v| v["explanation"] = json!("")),
            ("schema-redirect-missing", "State \"redirected\" without a redirect URL.", &sw, wt, |v| drop(v.as_object_mut().expect("obj").remove("redirect"))),
            ("schema-redirect-javascript", "A redirect to a javascript: URL.", &sw, wt, |v| v["redirect"] = json!("javascript:alert(1)")),
            ("schema-rotation-without-key", "A rotation without the new public key.", &rot, kt, |v| drop(v.as_object_mut().expect("obj").remove("public_key"))),
            ("schema-rotation-kid-mismatch", "A rotation whose kid is not derived from its public key.", &rot, kt, |v| v["kid"] = json!("0000000000000000")),
            ("schema-descriptor-http-endpoint-relative", "A descriptor endpoint that is not an absolute URL.", &sd, dt, |v| v["endpoints"]["atom"] = json!("/feeds/atom")),
            ("schema-roster-unsorted-members", "Roster members out of order.", &sr, RecordType::Roster, |v| v["members"].as_array_mut().into_iter().for_each(|a| a.reverse())),
        ];
        for (name, desc, signed, t, change) in cases {
            let (key, trust) = match t {
                RecordType::Roster => (&CENTRAL, trust(&[("chinh-phu", vec![CENTRAL.grant()])])),
                _ => (&MOH, moh_trust()),
            };
            self.record(name, desc, trust, &edit(signed, t, key, change), "schema");
        }

        // ---- wrong type where a specific type is required
        self.put("records/invalid/wrong-type-descriptor.json", json!({
            "description": "An item served where a descriptor is required (e.g. at /.well-known/portal-node).",
            "kind": "record", "expect_type": "descriptor", "trust": moh_trust(), "input": env(&sn), "expect": "wrong-type"}));
    }
}

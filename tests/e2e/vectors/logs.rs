//! Log vectors: a history with its rotation, then invalid sequences and checkpoints.

use portal_proto::crypto::encode_base64;
use portal_proto::envelope::SignedRecord;
use portal_proto::merkle;
use portal_proto::record::*;
use portal_tests::fixtures::{trust_json as trust, *};
use serde_json::{Value, json};

use super::{Gen, env, moh_trust};

/// `bo-y-te`'s six-entry history with rotation, its leaves, and the steps made from it.
struct History {
    s: Vec<SignedRecord>,
    leaves: Vec<merkle::Hash>,
}

impl History {
    fn new() -> History {
        let s = history_with_rotation();
        let leaves = leaves(&s);
        History { s, leaves }
    }

    /// A record step.
    fn rec(s: &SignedRecord) -> Value {
        json!({"record": env(s)})
    }

    /// The checkpoint of the first `size` entries at `minute`, signed by `key`.
    fn cp(&self, size: usize, minute: u64, key: &TestKey) -> String {
        let root = merkle::root_from_leaf_hashes(&self.leaves[..size]);
        checkpoint_note(size as u64, root, minute, key)
    }

    /// The consistency proof from size `m` to `n`, as a step carries it.
    fn proof(&self, m: usize, n: usize) -> Value {
        let p =
            merkle::consistency_proof(self.leaves.as_slice(), m as u64, n as u64).expect("proof");
        json!(p.iter().map(|h| encode_base64(h)).collect::<Vec<_>>())
    }
}

impl Gen {
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
    /// Valid logs: the history with its rotation (trusted before or learned), and a
    /// checkpoint ahead of the records with its consistency proof.
    pub(super) fn logs_valid(&mut self) {
        let h = History::new();
        let [s0, s1, s2, s3, s4, s5]: [SignedRecord; 6] = h.s.clone().try_into().expect("six");
        let (rec, cp) = (History::rec, |n, m, k: &TestKey| h.cp(n, m, k));
        let proof = |a, b| h.proof(a, b);
        let t = moh_trust();
        let full: Vec<Value> = h.s.iter().map(rec).collect();
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
    }

    /// An invalid log whose every step is valid but the last, which is refused with `code`.
    fn invalid_log(
        &mut self,
        (name, desc): (&str, &str),
        t: Value,
        now: u64,
        steps: Vec<Value>,
        code: &str,
    ) {
        let mut expect = vec!["valid"; steps.len() - 1];
        expect.push(code);
        self.log(name, desc, t, now, steps, &expect);
    }

    /// Invalid sequences: gaps, forks, replays, broken version chains, foreign origins, keys
    /// used after their rotation or revocation, unknown keys.
    pub(super) fn logs_invalid_sequences(&mut self) {
        let n = news("bo-y-te", 0, 1);
        let h = History::new();
        let [s0, s1, s2, s3, ..]: [SignedRecord; 6] = h.s.clone().try_into().expect("six");
        let other = sign(&news("bo-y-te", 1, 9), &MOH);
        let bad_prev = {
            let mut c = correction(&n, s1.digest(), 2);
            c.prev = Some(s1.digest());
            sign(&c, &MOH)
        };
        let skip = {
            let mut c = correction(&n, s0.digest(), 1);
            c.version = 3;
            sign(&c, &MOH)
        };
        let orphan =
            sign(&withdrawal(&news("bo-y-te", 0, 7), s0.digest(), 1, WithdrawalState::Gone), &MOH);
        let w1 = sign(&withdrawal(&n, s0.digest(), 1, WithdrawalState::Withdrawn), &MOH);
        let after = sign(&correction(&n, s0.digest(), 2), &MOH);
        let foreign = sign(&news("bo-tai-chinh", 1, 5), &MOH);
        let old_key = sign(&news("bo-y-te", 4, 4), &MOH);
        let t2 = trust(&[("bo-y-te", vec![MOH.grant(), MOH2.grant()])]);
        let revoke = sign(&revocation("bo-y-te", 1, &MOH2, 2), &MOH);
        let by_revoked = sign(&news("bo-y-te", 2, 6), &MOH2);
        let unknown = sign(&news("bo-y-te", 1, 6), &MALLORY);
        let t = moh_trust();
        #[rustfmt::skip]
        let cases: [(&str, &str, &Value, Vec<&SignedRecord>, &str); 11] = [
            ("index-gap", "Index 2 arrives after index 0.", &t, vec![&s0, &s2], "index-gap"),
            ("fork", "A second, different record signed for index 1: equivocation.", &t, vec![&s0, &s1, &other], "fork"),
            ("replay", "The record at index 0 sent again.", &t, vec![&s0, &s1, &s0], "replay"),
            ("version-chain-wrong-prev", "Version 2 whose prev is the hash of another record.", &t, vec![&s0, &s1, &bad_prev], "version-chain"),
            ("version-chain-skipped-version", "Version 3 directly after version 1.", &t, vec![&s0, &skip], "version-chain"),
            ("version-chain-withdraw-unknown", "A withdrawal of an item that was never published.", &t, vec![&s0, &orphan], "version-chain"),
            ("version-chain-after-withdrawal", "A new version after the item was withdrawn.", &t, vec![&s0, &w1, &after], "version-chain"),
            ("wrong-origin", "A record whose origin is another node, inside this node's log.", &t, vec![&s0, &foreign], "wrong-origin"),
            ("retired-key-after-rotation", "Key 1 signs index 4 after rotating to key 2 from index 4.", &t, vec![&s0, &s1, &s2, &s3, &old_key], "revoked-key"),
            ("revoked-key-after-revocation", "Key 2 is revoked from index 2 by a key event; it then signs index 2.", &t2, vec![&s0, &revoke, &by_revoked], "revoked-key"),
            ("unknown-key-in-log", "An entry signed by a key never granted to the node.", &t, vec![&s0, &unknown], "unknown-key"),
        ];
        for (name, desc, trust, records, code) in cases {
            let steps = records.into_iter().map(History::rec).collect();
            self.invalid_log((name, desc), trust.clone(), 20, steps, code);
        }
    }

    /// Invalid checkpoints: rollback, stale and future, wrong root, bad or missing proof, bad
    /// signature, wrong origin, fork.
    pub(super) fn logs_invalid_checkpoints(&mut self) {
        let h = History::new();
        let [s0, s1, s2, ..]: [SignedRecord; 6] = h.s.clone().try_into().expect("six");
        let leaves = &h.leaves;
        let rec = History::rec;
        let cp = |size, minute| json!({"checkpoint": h.cp(size, minute, &MOH)});
        let note = |text: String| json!({"checkpoint": text});
        let wrong_root = checkpoint_note(2, leaves[0], 2, &MOH);
        let forged_cp = checkpoint_note(1, leaves[0], 1, &MOH).replacen("\n1\n", "\n2\n", 1);
        let foreign_cp = checkpoint_note_for("bo-tai-chinh", 1, leaves[0], 1, &MOH);
        let ahead = |proof: Option<(usize, usize)>| {
            let mut step = cp(3, 3);
            if let Some((m, n)) = proof {
                step["proof"] = h.proof(m, n);
            }
            vec![rec(&s0), rec(&s1), cp(2, 2), step]
        };
        #[rustfmt::skip]
        let cases: [(&str, &str, u64, Vec<Value>, &str); 9] = [
            ("checkpoint-rollback", "A checkpoint of size 2 after one of size 3.", 20, vec![rec(&s0), rec(&s1), rec(&s2), cp(3, 3), cp(2, 4)], "rollback"),
            ("checkpoint-stale", "A checkpoint dated more than a day before now.", 2 * 1440, vec![rec(&s0), cp(1, 1)], "stale-checkpoint"),
            ("checkpoint-future", "A checkpoint dated an hour in the future.", 0, vec![rec(&s0), cp(1, 60)], "stale-checkpoint"),
            ("checkpoint-wrong-root", "A checkpoint of size 2 whose root is not the root of the records.", 20, vec![rec(&s0), rec(&s1), note(wrong_root)], "inconsistent-checkpoint"),
            ("checkpoint-bad-proof", "A checkpoint ahead of the records with a consistency proof that does not prove it.", 20, ahead(Some((1, 3))), "inconsistent-checkpoint"),
            ("checkpoint-ahead-without-proof", "A checkpoint ahead of the records with no consistency proof.", 20, ahead(None), "inconsistent-checkpoint"),
            ("checkpoint-bad-signature", "A checkpoint whose size was changed after signing.", 20, vec![rec(&s0), note(forged_cp)], "bad-signature"),
            ("checkpoint-wrong-origin", "A checkpoint whose origin line names another node.", 20, vec![rec(&s0), note(foreign_cp)], "wrong-origin"),
            ("checkpoint-fork", "Two checkpoints of the same size with different roots.", 20, vec![rec(&s0), rec(&s1), cp(2, 2), note(checkpoint_note(2, leaves[0], 3, &MOH))], "inconsistent-checkpoint"),
        ];
        for (name, desc, now, steps, code) in cases {
            self.invalid_log((name, desc), moh_trust(), now, steps, code);
        }
    }
}

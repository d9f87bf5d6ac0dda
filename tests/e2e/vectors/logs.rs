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

    /// Invalid sequences: gaps, forks, replays, broken version chains, foreign origins, keys
    /// used after their rotation or revocation, unknown keys.
    pub(super) fn logs_invalid_sequences(&mut self) {
        let n = news("bo-y-te", 0, 1);
        let h = History::new();
        let [s0, s1, s2, s3, ..]: [SignedRecord; 6] = h.s.clone().try_into().expect("six");
        let rec = History::rec;
        let t = moh_trust();
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
    }

    /// Invalid checkpoints: rollback, stale and future, wrong root, bad or missing proof, bad
    /// signature, wrong origin, fork.
    pub(super) fn logs_invalid_checkpoints(&mut self) {
        let h = History::new();
        let [s0, s1, s2, ..]: [SignedRecord; 6] = h.s.clone().try_into().expect("six");
        let leaves = &h.leaves;
        let (rec, cp) = (History::rec, |n, m, k: &TestKey| h.cp(n, m, k));
        let proof = |a, b| h.proof(a, b);
        let t = moh_trust();
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
}

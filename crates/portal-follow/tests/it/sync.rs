//! Reading and verifying a member's log: catching up, checkpoints ahead of the entries,
//! cosigning, and what each refusal records and leaves behind.

use portal_follow::{Action, FailureReason, FetchFailure};
use portal_proto::checkpoint::{NoteVerifier, open_checkpoint};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::verifier::checkpoint_origin;
use serde_json::json;

use crate::sim::{CENTRAL, Log, Shell, T0, at, count, id, item, key, pages, sleep, witness};

/// A member with `stored` entries already followed (and their checkpoint), then `more` new
/// ones under a checkpoint of them all.
fn behind(stored: usize, more: usize) -> Shell {
    let k = key(1);
    let mut shell = Shell::new("bo-y-te", &k);
    shell.log.publish_many(&k, stored);
    shell.sign(0, &k);
    shell.store_all();
    shell.log.publish_many(&k, more);
    shell.sign(10, &k);
    shell
}

fn is_proof(a: &Action) -> bool {
    matches!(a, Action::FetchConsistencyProof { .. })
}

#[test]
fn catching_up_after_a_gap_reads_page_after_page_without_waiting() {
    let mut shell = behind(5, 20);
    let mut config = shell.config();
    config.page_size = 8;
    let mut f = shell.follower(config);
    let now = at(20);
    let first = shell.round(&mut f, now);
    assert_eq!(first[1], Action::LoadStored { from: 0, limit: 1000 }, "{first:?}");
    assert_eq!((pages(&first), sleep(&first)), (vec![(5, false)], now));
    // The checkpoint of 25 is ahead of the 13 entries verified: proved from the stored 5.
    let proof = Action::FetchConsistencyProof {
        url: "https://bo-y-te.example.gov.vn/api/v1/consistency-proof".into(),
        from: 5,
        to: 25,
    };
    assert_eq!(count(&first, |a| *a == proof), 1);
    let second = shell.round(&mut f, now);
    assert_eq!((pages(&second), sleep(&second)), (vec![(13, false)], now));
    let third = shell.round(&mut f, now);
    assert_eq!((pages(&third), sleep(&third)), (vec![(21, false)], at(80)));
    assert_eq!(count(&second, is_proof) + count(&third, is_proof), 0, "the same note again");

    let batches: Vec<(u64, usize, u64)> =
        shell.ingested.iter().map(|b| (b.start, b.entries.len(), b.size)).collect();
    assert_eq!(batches, [(5, 8, 25), (13, 8, 25), (21, 4, 25)]);
    assert!(shell.ingested.iter().all(|b| b.root == shell.log.root(25)));
    assert_eq!(shell.stored, shell.log.entries);
    assert!(shell.incidents.is_empty(), "{:?}", shell.incidents);
    assert_eq!((shell.health.last_ok, shell.health.member_size), (Some(T0 + 20), 25));
    let latest = f.verifier().latest_checkpoint().expect("a checkpoint");
    assert!(latest.covered && latest.checkpoint.size == 25);
}

#[test]
fn a_checkpoint_ahead_of_the_entries_is_accepted_on_its_proof_and_cosigned_by_the_witness() {
    let mut shell = behind(4, 6);
    let mut config = shell.config();
    config.page_size = 3;
    let mut f = shell.follower(config);
    let round = shell.round(&mut f, at(30));
    let asked: Vec<(u64, u64)> = round
        .iter()
        .filter_map(|a| match a {
            Action::FetchConsistencyProof { from, to, .. } => Some((*from, *to)),
            _ => None,
        })
        .collect();
    assert_eq!(asked, [(4, 10)]);
    // The proof is asked for after the entries verified and before anything is cosigned.
    let proof = round.iter().position(is_proof);
    let cosign = round.iter().position(|a| matches!(a, Action::Cosign { .. }));
    assert!(proof < cosign, "{round:?}");
    let batch = &shell.ingested[0];
    assert_eq!((batch.start, batch.entries.len(), batch.size), (4, 3, 10));
    assert_eq!((batch.root, batch.checkpoint.as_str()), (shell.log.root(10), shell.note.as_str()));
    assert!(!f.verifier().latest_checkpoint().expect("accepted").covered);

    // The cosigned note carries the member's signature and this aggregator's cosignature.
    let member = NoteVerifier::ed25519(
        &checkpoint_origin(&shell.log.origin),
        key(1).public_key().as_bytes(),
    );
    let cosigner = NoteVerifier::cosignature(
        &checkpoint_origin(&id(CENTRAL)),
        witness().public_key().as_bytes(),
    );
    let verifiers = [member.expect("a key"), cosigner.expect("a key")];
    let opened = open_checkpoint(&batch.cosigned, &verifiers).expect("both signatures verify");
    assert_eq!(opened.checkpoint.size, 10);
    assert_eq!(opened.cosignatures.len(), 1);
    assert_eq!(opened.cosignatures[0].timestamp, Some(T0 + 30));
    // The rest of the log then covers the checkpoint.
    shell.round(&mut f, at(30));
    assert!(f.verifier().latest_checkpoint().expect("accepted").covered);
    assert_eq!(shell.stored, shell.log.entries);
}

#[test]
fn a_checkpoint_ahead_of_the_entries_with_a_bad_proof_is_refused_as_equivocation() {
    let mut shell = behind(4, 6);
    let previous = shell.stored_note.clone();
    shell.proof_hook = Some(Box::new(|mut proof| {
        proof[0][0] ^= 1;
        proof
    }));
    let mut config = shell.config();
    config.page_size = 3;
    let mut f = shell.follower(config);
    let round = shell.round(&mut f, at(30));
    assert_eq!(count(&round, |a| matches!(a, Action::Cosign { .. } | Action::Ingest(_))), 0);
    assert_eq!(shell.codes(), ["inconsistent-checkpoint"]);
    let incident = &shell.incidents[0];
    assert!(incident.message.starts_with("equivocation: "), "{}", incident.message);
    assert_eq!(incident.evidence["note"], shell.note);
    assert_eq!(incident.evidence["previous"], json!(previous));
    assert_eq!(
        incident.evidence["proof"].as_array().map(Vec::len),
        Some(shell.log.proof(4, 10).len())
    );
    assert_eq!(shell.stored.len(), 4);

    // The verifier had moved past the store: the next round rebuilds it and asks again from
    // the stored size; the same refusal is not recorded twice in one episode.
    let again = shell.round(&mut f, sleep(&round));
    assert_eq!(again[1], Action::LoadStored { from: 0, limit: 1000 });
    assert_eq!(pages(&again), [(4, false)]);
    assert_eq!((shell.incidents.len(), shell.health.failures), (1, 2));
}

#[test]
fn a_fork_is_refused_with_both_signed_records_as_evidence() {
    let k = key(1);
    let mut shell = behind(5, 1);
    // Index 5 of the page is a second, different record signed for index 3.
    let forged = envelope::sign(&item(&shell.log.origin, 3, "Bản khác"), &k).expect("signed");
    let f2 = forged.clone();
    shell.page_hook = Some(Box::new(move |page| page.entries[0] = f2.clone()));
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(30));
    assert_eq!(shell.codes(), ["fork"]);
    let incident = &shell.incidents[0];
    assert!(incident.message.starts_with("log entry 5: "), "{}", incident.message);
    assert_eq!(incident.attach_stored, Some(3));
    assert_eq!(incident.evidence["index"], 5);
    assert_eq!(incident.evidence["envelope"], json!(forged));
    assert_eq!(incident.evidence["stored"], json!(shell.stored[3]));
    assert!(shell.ingested.is_empty());
    assert_eq!(f.verifier().next_index(), 5);
}

#[test]
fn two_roots_signed_for_one_size_is_an_equivocation_with_both_notes() {
    let k = key(1);
    let mut shell = behind(5, 0);
    let previous = shell.stored_note.clone().expect("a stored checkpoint");
    // Another history of five entries, signed by the same key.
    let mut other = Log::new("bo-y-te");
    for s in &shell.log.entries[..4] {
        other.push(s.clone());
    }
    other.publish(&k, "Lịch sử khác");
    shell.note = other.checkpoint(5, 20, &k);
    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(30));
    assert_eq!(count(&round, is_proof), 0);
    assert_eq!(shell.codes(), ["inconsistent-checkpoint"]);
    let evidence = &shell.incidents[0].evidence;
    assert_eq!(
        (evidence["note"].as_str(), evidence["previous"].as_str()),
        (Some(shell.note.as_str()), Some(previous.as_str()))
    );
    assert!(shell.incidents[0].message.contains("two different roots signed for size 5"));
    assert_eq!(shell.cosigned, None, "a refused checkpoint is never cosigned");
}

#[test]
fn a_bad_signature_is_one_incident_and_changes_nothing() {
    let k = key(1);
    let mut shell = behind(3, 0);
    let genuine = envelope::sign(&item(&shell.log.origin, 3, "Tin giả"), &k).expect("signed");
    let mut sig = *genuine.sig();
    sig[10] ^= 0x40;
    shell.log.push(SignedRecord::from_parts(genuine.bytes().to_vec(), genuine.kid().clone(), sig));
    shell.sign(20, &k);
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(30));
    let (index, root) = (f.verifier().next_index(), f.verifier().root());
    assert_eq!(shell.codes(), ["bad-signature"]);
    assert!(
        shell.incidents[0].message.starts_with("log entry 3: bad signature"),
        "{}",
        shell.incidents[0].message
    );
    assert_eq!(shell.incidents[0].attach_stored, None);
    assert!(shell.ingested.is_empty());
    assert_eq!((index, root), (3, shell.log.root(3)));
    assert_eq!(shell.health.failures, 1);

    let again = shell.round(&mut f, at(45));
    assert_eq!(pages(&again), [(3, false)]);
    assert_eq!((f.verifier().next_index(), f.verifier().root()), (index, root));
    assert_eq!((shell.incidents.len(), shell.health.failures), (1, 2));
    assert_eq!(
        shell.health.last_error.as_deref().map(|e| e.starts_with("bad-signature: log entry 3")),
        Some(true)
    );
}

#[test]
fn a_log_that_shrank_is_a_rollback_and_the_verifier_is_kept() {
    let k = key(1);
    let mut shell = behind(5, 0);
    let mut shorter = Log::new("bo-y-te");
    for s in &shell.log.entries[..3] {
        shorter.push(s.clone());
    }
    shell.log = shorter;
    shell.sign(20, &k);
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(30));
    assert_eq!(shell.codes(), ["rollback"]);
    let incident = &shell.incidents[0];
    assert_eq!(incident.message, "the log shrank: 5 entries verified, the member now has 3");
    let e = &incident.evidence;
    assert_eq!((e["stored"].as_u64(), e["served"].as_u64()), (Some(5), Some(3)));
    assert_eq!(
        (e["checkpoint"].as_str(), e["url"].as_str()),
        (Some(shell.note.as_str()), Some("https://bo-y-te.example.gov.vn/api/v1/log"))
    );
    let again = shell.round(&mut f, at(45));
    assert_eq!(count(&again, |a| matches!(a, Action::LoadStored { .. })), 0, "nothing to rebuild");
    assert_eq!(pages(&again), [(5, false)]);
    assert_eq!(shell.incidents.len(), 1);
}

#[test]
fn a_page_of_another_origin_and_an_impostors_descriptor_are_refused() {
    let mut shell = behind(2, 1);
    shell.page_hook = Some(Box::new(|page| page.origin = id("bo-tai-chinh")));
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(30));
    assert_eq!(shell.codes(), ["wrong-origin"]);
    assert_eq!(
        shell.incidents[0].message,
        "the log at https://bo-y-te.example.gov.vn/api/v1/log is of bo-tai-chinh"
    );

    // A descriptor signed by a key the member never had, at first contact: `unknown-key`.
    let mut shell = behind(2, 1);
    let impostor = key(66);
    let grants = vec![portal_proto::record::KeyGrant::pinned(impostor.public_key())];
    shell.descriptor =
        crate::sim::descriptor(&shell.log.origin, grants, 3600, (false, false), &impostor);
    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(30));
    assert_eq!((shell.codes(), pages(&round)), (vec!["unknown-key"], vec![]));

    // Endpoints off the members' origins, as the shell reports them: `refused`.
    let mut shell = behind(2, 1);
    let url = "https://evil.example.com/log";
    let message = format!("endpoint {url} is not on the member's registered origin");
    shell.endpoints_override =
        Some(Err(FetchFailure::new(FailureReason::Refused, url, message.clone())));
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(30));
    assert_eq!(shell.codes(), ["refused"]);
    assert_eq!(
        (shell.incidents[0].message.as_str(), &shell.incidents[0].evidence),
        (message.as_str(), &json!({"url": url}))
    );
}

#[test]
fn restoring_reads_the_store_in_chunks_and_a_store_shorter_than_its_cursor_is_local() {
    let mut shell = behind(7, 0);
    shell.stored_chunk = 3;
    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(30));
    let froms: Vec<u64> = round
        .iter()
        .filter_map(|a| match a {
            Action::LoadStored { from, .. } => Some(*from),
            _ => None,
        })
        .collect();
    assert_eq!(froms, [0, 3, 6]);
    assert_eq!(f.verifier().next_index(), 7);
    assert_eq!(
        f.verifier().latest_checkpoint().map(|c| c.note.as_str()),
        Some(shell.note.as_str())
    );
    assert_eq!(shell.health.failures, 0);

    // The store answers no entries although its cursor says 7: a local failure, no incident.
    shell.stored_chunk = 0;
    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(30));
    assert_eq!(pages(&round), []);
    assert!(shell.incidents.is_empty());
    assert_eq!(
        shell.health.last_error.as_deref(),
        Some("bo-y-te: stored log ends at 0, cursor says 7")
    );
    let again = shell.round(&mut f, sleep(&round));
    assert_eq!(again[1], Action::LoadStored { from: 0, limit: 1000 }, "tried again");
}

#[test]
fn a_failed_ingest_is_a_local_failure_and_the_next_round_starts_from_the_store() {
    let mut shell = behind(0, 3);
    shell.fail_ingest = Some("disk full".into());
    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(30));
    assert_eq!(shell.health.last_error.as_deref(), Some("ingest: disk full"));
    assert!(shell.incidents.is_empty() && shell.stored.is_empty());
    assert_eq!(sleep(&round), at(45));
    let again = shell.round(&mut f, at(45));
    assert_eq!(again[1], Action::LoadStored { from: 0, limit: 1000 });
    assert_eq!(pages(&again), [(0, false)]);
    assert_eq!(shell.stored, shell.log.entries);
    assert_eq!(shell.health.failures, 0);
}

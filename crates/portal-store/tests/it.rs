//! portal-store across its public API, on real files in a temporary directory.

use portal_proto::crypto::Signer;
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::merkle;
use portal_proto::record::*;
use portal_proto::time::Timestamp;
use portal_store::{Append, Store, StoreError};
use portal_tests::fixtures;

/// Open the store in `dir`. sled releases its file lock from a background thread shortly
/// after the last handle of a closed store is dropped, so a reopen in the same process may
/// briefly find it `Locked`: wait for that (bounded), as a restarted process would.
fn open(dir: &std::path::Path) -> Store {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match Store::open(dir) {
            Err(StoreError::Locked(_)) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other.unwrap(),
        }
    }
}

fn item(index: u64, id: u8, version: u64, prev: Option<&SignedRecord>) -> (Record, SignedRecord) {
    let t = Timestamp::from_unix(1_795_856_400 + index).unwrap();
    let record = ItemVersion {
        version,
        prev: prev.map(SignedRecord::digest),
        update: prev
            .map(|_| Update {
                update_type: UpdateType::Minor, note: "Sửa lỗi chính tả".into()
            }),
        ..fixtures::item(fixtures::node("bo-y-te"), index, ItemId::from_random([id; 16]), t)
    };
    let signed = envelope::sign(&record, &Signer::from_seed([1; 32])).unwrap();
    (Record::Item(record), signed)
}

fn append_all(store: &Store, entries: &[(Record, SignedRecord)]) -> u64 {
    let batch: Vec<Append<'_>> =
        entries.iter().map(|(r, s)| Append { record: r, signed: s }).collect();
    store.append(&batch, "checkpoint\n").unwrap()
}

#[test]
fn appends_are_read_back_byte_for_byte_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<_> = (0..5).map(|i| item(i, i as u8, 1, None)).collect();
    {
        let store = open(dir.path());
        assert_eq!(store.size(), 0);
        assert_eq!(append_all(&store, &entries[..2]), 2);
        assert_eq!(append_all(&store, &entries[2..]), 5);
    }
    let store = open(dir.path());
    assert_eq!(store.size(), 5);
    for (i, (_, s)) in entries.iter().enumerate() {
        assert_eq!(store.entry(i as u64).unwrap().as_ref(), Some(s));
    }
    let page = store.entries(1, 3).unwrap();
    assert_eq!(page, entries[1..4].iter().map(|e| e.1.clone()).collect::<Vec<_>>());
    assert!(store.entries(5, 10).unwrap().is_empty());
    let newest: Vec<u64> =
        store.entries_rev(5, 2, |_| true).unwrap().into_iter().map(|e| e.0).collect();
    assert_eq!(newest, vec![4, 3]);
    assert_eq!(store.checkpoint().unwrap().as_deref(), Some("checkpoint\n"));
}

#[test]
fn merkle_roots_and_proofs_come_from_stored_hashes_for_every_size() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let entries: Vec<_> = (0..37).map(|i| item(i, i as u8, 1, None)).collect();
    let leaves: Vec<merkle::Hash> = entries.iter().map(|e| e.1.leaf_hash()).collect();
    // Uneven batches, so perfect subtrees complete both inside one batch and across batches.
    let mut at = 0;
    for n in [1, 2, 3, 5, 8, 13, 5] {
        append_all(&store, &entries[at..at + n]);
        at += n;
        assert_eq!(
            store.root().unwrap(),
            merkle::root_from_leaf_hashes(&leaves[..at]),
            "size {at}"
        );
    }
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.root().unwrap(), merkle::root_from_leaf_hashes(&leaves));
    for size in 1..=37u64 {
        let root = store.root_at(size).unwrap();
        assert_eq!(root, merkle::root_from_leaf_hashes(&leaves[..size as usize]));
        for index in [0, size / 2, size - 1] {
            let proof = merkle::inclusion_proof(&store, index, size).unwrap();
            merkle::verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
        }
        let proof = merkle::consistency_proof(&store, size, 37).unwrap();
        merkle::verify_consistency(size, 37, &root, &store.root().unwrap(), &proof).unwrap();
    }
}

#[test]
fn the_item_index_follows_versions_and_withdrawals_within_and_across_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let v1 = item(0, 9, 1, None);
    let v2 = item(1, 9, 2, Some(&v1.1));
    append_all(&store, &[v1.clone(), v2.clone()]);
    let id = ItemId::from_random([9; 16]);
    let idx = store.item(&id).unwrap().unwrap();
    assert_eq!((idx.versions.clone(), idx.version, idx.withdrawal), (vec![0, 1], 2, None));
    assert_eq!(idx.digest, v2.1.digest());

    let Record::Item(ref latest) = v2.0 else { unreachable!() };
    let w = Withdrawal {
        ipsp: 1,
        record_type: RecordType::Withdrawal,
        origin: latest.origin.clone(),
        log_index: 2,
        id: id.clone(),
        version: 2,
        prev: v2.1.digest(),
        state: WithdrawalState::Gone,
        explanation: "Đăng nhầm".into(),
        redirect: None,
        time: latest.updated,
    };
    let sw = envelope::sign(&w, &Signer::from_seed([1; 32])).unwrap();
    append_all(&store, &[(Record::Withdrawal(w), sw)]);
    assert_eq!(store.item(&id).unwrap().unwrap().withdrawal, Some(2));
}

#[test]
fn the_log_only_ever_continues() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    append_all(&store, &[item(0, 1, 1, None)]);
    let skip = item(2, 2, 1, None);
    let err = store.append(&[Append { record: &skip.0, signed: &skip.1 }], "x\n").unwrap_err();
    assert!(matches!(err, StoreError::NotNext { expected: 1, got: 2 }), "{err}");
    let again = item(0, 3, 1, None);
    let err = store.append(&[Append { record: &again.0, signed: &again.1 }], "x\n").unwrap_err();
    assert!(matches!(err, StoreError::NotNext { expected: 1, got: 0 }), "{err}");
    assert_eq!(store.size(), 1, "a refused append writes nothing");
    assert!(store.entry(1).unwrap().is_none());
}

#[test]
fn blobs_are_content_addressed() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let d = store.put_blob(b"%PDF-1.7 decree").unwrap();
    assert_eq!(d, portal_proto::ids::Digest::of(b"%PDF-1.7 decree"));
    assert_eq!(store.blob(&d).unwrap().as_deref(), Some(&b"%PDF-1.7 decree"[..]));
    assert!(store.blob(&portal_proto::ids::Digest::of(b"other")).unwrap().is_none());
}

#[test]
fn a_second_process_cannot_open_a_store_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _store = open(dir.path());
    // sled takes an exclusive file lock; a second open (even in this process) must be refused
    // with a message that says what to do, not corrupt anything.
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    assert!(err.to_string().contains("portal serve"));
}

// ---- WebSub: subscriptions and the delivery queue

use portal_store::{Delivery, DeliveryCounts, DeliveryState, Subscription};

fn sub(topic: &str, callback: &str, lease_expires: u64) -> Subscription {
    Subscription {
        topic: topic.into(),
        callback: callback.into(),
        secret: "s3cret-value".into(),
        lease_expires,
        created: 1_000,
    }
}

#[test]
fn subscriptions_are_keyed_by_topic_and_callback_and_survive_reopening() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        store.put_subscription(&sub("https://n/log", "http://a/cb", 2_000)).unwrap();
        store.put_subscription(&sub("https://n/feeds/atom", "http://a/cb", 2_000)).unwrap();
        // Topic and callback cannot run into each other.
        store.put_subscription(&sub("https://n/lo", "ghttp://a/cb", 2_000)).unwrap();
        // Renewal replaces.
        store.put_subscription(&sub("https://n/log", "http://a/cb", 9_000)).unwrap();
    }
    let store = open(dir.path());
    let all = store.subscriptions().unwrap();
    assert_eq!(all.len(), 3);
    let log = store.subscription("https://n/log", "http://a/cb").unwrap().unwrap();
    assert_eq!(log.lease_expires, 9_000);
    assert!(log.is_active(8_999) && !log.is_active(9_000));
    assert!(!format!("{log:?}").contains("s3cret"), "Debug never shows the secret");
    assert!(store.remove_subscription("https://n/log", "http://a/cb").unwrap());
    assert!(!store.remove_subscription("https://n/log", "http://a/cb").unwrap());
    assert!(store.subscription("https://n/log", "http://a/cb").unwrap().is_none());
    assert_eq!(store.subscriptions().unwrap().len(), 2);
}

#[test]
fn the_delivery_queue_claims_retries_buries_and_resumes_after_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let d = |cb: &str, due: u64| Delivery::new("https://n/log", cb, 0, 3, due);
    {
        let store = open(dir.path());
        assert_eq!(store.notified_size().unwrap(), None);
        assert_eq!(store.next_due().unwrap(), None);
        let ids = store.enqueue_deliveries(&[d("http://a", 100), d("http://b", 50)], 3).unwrap();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        assert_eq!(store.notified_size().unwrap(), Some(3));
        assert_eq!(store.delivery_counts().unwrap(), DeliveryCounts { pending: 2, dead: 0 });
        assert_eq!(store.next_due().unwrap(), Some(50));
        // Nothing is due before its time; the earliest comes first.
        assert!(store.take_due(49, 10, 1_000).unwrap().is_empty());
        let taken = store.take_due(100, 1, 1_000).unwrap();
        assert_eq!(taken.len(), 1);
        assert_eq!(taken[0].delivery.callback, "http://b");
        assert_eq!(taken[0].due_ms, 1_000, "claimed until 1000");
        // A claimed delivery is not taken again.
        let taken_a = store.take_due(100, 10, 1_000).unwrap();
        assert_eq!(taken_a.len(), 1);
        assert_eq!(taken_a[0].delivery.callback, "http://a");
        // b fails and is rescheduled; a is acknowledged.
        let b = store.reschedule_delivery(&taken[0], 200, "HTTP 503").unwrap().unwrap();
        assert_eq!((b.delivery.attempts, b.due_ms), (1, 200));
        assert_eq!(b.delivery.last_error.as_deref(), Some("HTTP 503"));
        assert!(store.complete_delivery(&taken_a[0]).unwrap());
        assert!(!store.complete_delivery(&taken_a[0]).unwrap(), "already gone");
        assert!(
            store.reschedule_delivery(&taken[0], 300, "x").unwrap().is_none(),
            "a stale handle writes nothing"
        );
        // Claimed again, then the process "stops" mid-attempt.
        let again = store.take_due(200, 10, 5_000).unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(store.pending_deliveries(10).unwrap()[0].due_ms, 5_000);
    }
    let store = open(dir.path());
    assert_eq!(store.delivery_counts().unwrap(), DeliveryCounts { pending: 1, dead: 0 });
    assert_eq!(store.release_claims().unwrap(), 1, "the stale claim is released");
    assert_eq!(store.next_due().unwrap(), Some(200));
    let b = store.take_due(200, 10, 1_000).unwrap().remove(0);
    assert_eq!(b.delivery.attempts, 1, "attempts survive reopening");
    let dead = store.mark_dead(&b, "HTTP 500").unwrap().unwrap();
    assert_eq!(dead.delivery.state, DeliveryState::Dead);
    assert_eq!(dead.delivery.attempts, 2);
    assert!(store.take_due(u64::MAX - 1, 10, u64::MAX - 1).unwrap().is_empty(), "never due");
    assert_eq!(store.next_due().unwrap(), None);
    assert_eq!(store.dead_letters(10).unwrap(), vec![dead.clone()]);
    assert!(store.pending_deliveries(10).unwrap().is_empty());
    assert_eq!(store.delivery_counts().unwrap(), DeliveryCounts { pending: 0, dead: 1 });
    assert_eq!(store.release_claims().unwrap(), 0, "dead letters stay where they are");
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.dead_letters(10).unwrap(), vec![dead]);
    // Ids never repeat after reopening.
    let id = store.enqueue_deliveries(&[d("http://c", 10)], 4).unwrap()[0];
    assert!(id != b.id);
    assert_eq!(store.notified_size().unwrap(), Some(4));
}

#[test]
fn websub_state_does_not_disturb_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    append_all(&store, &[item(0, 1, 1, None)]);
    store.put_subscription(&sub("https://n/log", "http://a/cb", 2_000)).unwrap();
    store.enqueue_deliveries(&[Delivery::new("https://n/log", "http://a/cb", 0, 1, 5)], 1).unwrap();
    append_all(&store, &[item(1, 2, 1, None)]);
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.size(), 2);
    assert_eq!(store.entries(0, 10).unwrap().len(), 2);
}

#[test]
fn an_ingest_stores_receipts_member_records_and_the_cursor_together_or_not_at_all() {
    use portal_store::federation::{Incident, MemberBatch};
    let dir = tempfile::tempdir().unwrap();
    let member = NodeId::new("bo-y-te").unwrap();
    // Stand-ins for the aggregator's receipts (the store does not look at their type).
    let own: Vec<_> = (0..3).map(|i| item(i, 100 + i as u8, 1, None)).collect();
    let theirs: Vec<_> = (0..3).map(|i| item(i, i as u8, 1, None)).collect();
    let appends = |range: std::ops::Range<usize>| -> Vec<Append<'_>> {
        own[range].iter().map(|(r, s)| Append { record: r, signed: s }).collect()
    };
    {
        let store = open(dir.path());
        let batch = MemberBatch {
            member: &member,
            start: 0,
            records: &theirs[..2],
            checkpoint: Some("member checkpoint\n"),
            cosigned: Some("cosigned\n"),
        };
        assert_eq!(store.ingest(&appends(0..2), &[batch], "ours\n").unwrap(), 2);
        // A batch that does not continue the member's stored log changes nothing at all.
        let gap = MemberBatch { start: 5, records: &theirs[2..], ..batch };
        assert!(matches!(
            store.ingest(&appends(2..3), &[gap], "ours 2\n"),
            Err(StoreError::NotNext { expected: 2, got: 5 })
        ));
        assert_eq!(store.size(), 2, "no receipt without its record");
        assert_eq!(store.member_cursor(&member).unwrap().size, 2);
        store
            .add_incident(Incident {
                seq: 0,
                member: "bo-y-te".into(),
                code: "fork".into(),
                message: "two records for index 1".into(),
                time: 1,
                evidence: serde_json::json!({"index": 1}),
            })
            .unwrap();
    }
    let store = open(dir.path());
    let cursor = store.member_cursor(&member).unwrap();
    assert_eq!(cursor.size, 2);
    assert_eq!(cursor.cosigned.as_deref(), Some("cosigned\n"));
    assert_eq!(
        store.member_entries(&member, 0, 10).unwrap(),
        vec![theirs[0].1.clone(), theirs[1].1.clone()]
    );
    assert_eq!(store.member_ids().unwrap(), vec![member.clone()]);
    let id = ItemId::from_random([1; 16]);
    assert_eq!(store.national_item(&member, &id).unwrap().map(|i| i.versions), Some(vec![1]));
    // Relayed records keep the stored checkpoint.
    let relayed = MemberBatch {
        member: &member,
        start: 2,
        records: &theirs[2..],
        checkpoint: None,
        cosigned: None,
    };
    store.ingest(&appends(2..3), &[relayed], "ours 3\n").unwrap();
    assert_eq!(
        store.member_cursor(&member).unwrap(),
        portal_store::federation::MemberCursor {
            size: 3,
            checkpoint: Some("member checkpoint\n".into()),
            cosigned: Some("cosigned\n".into()),
        }
    );
    let found = store.incidents(None, 10, |i| i.member == "bo-y-te").unwrap();
    assert_eq!(found.len(), 1);
    assert!(found[0].seq > 0);
    assert!(store.incidents(None, 10, |i| i.member == "other").unwrap().is_empty());
}

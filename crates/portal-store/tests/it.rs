//! portal-store across its public API, on real files in a temporary directory.

use portal_proto::crypto::Signer;
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::merkle;
use portal_proto::record::*;
use portal_proto::time::Timestamp;
use portal_store::{Append, Store, StoreError};

fn item(index: u64, id: u8, version: u64, prev: Option<&SignedRecord>) -> (Record, SignedRecord) {
    let t = Timestamp::from_unix(1_795_856_400 + index).unwrap();
    let record = ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin: NodeId::new("bo-y-te").unwrap(),
        log_index: index,
        id: ItemId::from_random([id; 16]),
        version,
        prev: prev.map(SignedRecord::digest),
        update: prev
            .map(|_| Update {
                update_type: UpdateType::Minor, note: "Sửa lỗi chính tả".into()
            }),
        kind: ItemKind::News,
        language: Lang::new("vi").unwrap(),
        title: format!("Tin số {index}"),
        summary: String::new(),
        content_html: "<p>Nội dung</p>".into(),
        translations: Default::default(),
        categories: vec![],
        attachments: vec![],
        legal: None,
        published: t,
        updated: t,
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
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.size(), 0);
        assert_eq!(append_all(&store, &entries[..2]), 2);
        assert_eq!(append_all(&store, &entries[2..]), 5);
    }
    let store = Store::open(dir.path()).unwrap();
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
    let store = Store::open(dir.path()).unwrap();
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
    let store = Store::open(dir.path()).unwrap();
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
    let store = Store::open(dir.path()).unwrap();
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
    let store = Store::open(dir.path()).unwrap();
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
    let store = Store::open(dir.path()).unwrap();
    let d = store.put_blob(b"%PDF-1.7 decree").unwrap();
    assert_eq!(d, portal_proto::ids::Digest::of(b"%PDF-1.7 decree"));
    assert_eq!(store.blob(&d).unwrap().as_deref(), Some(&b"%PDF-1.7 decree"[..]));
    assert!(store.blob(&portal_proto::ids::Digest::of(b"other")).unwrap().is_none());
}

#[test]
fn a_second_process_cannot_open_a_store_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let _store = Store::open(dir.path()).unwrap();
    // sled takes an exclusive file lock; a second open (even in this process) must be refused
    // with a message that says what to do, not corrupt anything.
    let err = Store::open(dir.path()).unwrap_err();
    assert!(matches!(err, StoreError::Locked(_)), "{err}");
    assert!(err.to_string().contains("portal serve"));
}

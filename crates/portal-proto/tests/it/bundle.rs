//! Evidence bundles (SPEC.md §11.4): the decoder never panics on arbitrary input, and a bundle
//! built from a real log verifies, then fails with the right code once tampered. The full set
//! of cases is in `proto-spec/vectors/bundles/` (run by the e2e conformance test).

use portal_proto::bundle::{Bundle, KeyHistory, ProvenEntry, TrustBasis};
use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::crypto::Signer;
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::merkle;
use portal_proto::record::{ItemKind, ItemVersion, KeyGrant, RecordType};
use portal_proto::time::Timestamp;
use portal_proto::verifier::checkpoint_origin;
use proptest::prelude::*;

fn item(signer: &Signer, index: u64, id: u8) -> SignedRecord {
    let now = Timestamp::parse("2026-11-28T09:00:00Z").expect("time");
    let record = ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin: NodeId::new("bo-y-te").expect("id"),
        log_index: index,
        id: ItemId::from_random([id; 16]),
        version: 1,
        prev: None,
        update: None,
        kind: ItemKind::News,
        language: Lang::new("vi").expect("lang"),
        title: format!("Thông báo số {index}"),
        summary: String::new(),
        content_html: "<p>Nội dung</p>".into(),
        translations: Default::default(),
        categories: vec![],
        attachments: vec![],
        legal: None,
        published: now,
        updated: now,
    };
    envelope::sign(&record, signer).expect("sign")
}

/// A 3-entry log and the bundle of its middle item.
fn bundle(signer: &Signer) -> Bundle {
    let log: Vec<SignedRecord> = (0..3).map(|i| item(signer, i, i as u8 + 1)).collect();
    let leaves: Vec<_> = log.iter().map(SignedRecord::leaf_hash).collect();
    let origin = NodeId::new("bo-y-te").expect("id");
    let name = checkpoint_origin(&origin);
    let cp = Checkpoint::with_time(&name, 3, merkle::root_from_leaf_hashes(&leaves), 1_795_857_000);
    let entry = ProvenEntry::prove(leaves.as_slice(), 3, 1, log[1].clone()).expect("proof");
    Bundle {
        origin,
        item: ItemId::from_random([2; 16]),
        checkpoint: sign_checkpoint(&cp, &name, signer).expect("checkpoint"),
        entries: vec![entry],
        keys: KeyHistory::default(),
        witness: None,
    }
}

#[test]
fn a_bundle_round_trips_verifies_and_fails_when_tampered() {
    let signer = Signer::from_seed([0x11; 32]);
    let b = bundle(&signer);
    let parsed = Bundle::from_slice(b.to_json().as_bytes()).expect("parses");
    assert_eq!(parsed, b);
    let mut trust = TrustStore::new();
    trust.add(b.origin.clone(), KeyGrant::pinned(signer.public_key()));
    let report = b.verify(&trust).expect("verifies");
    assert_eq!(report.basis, TrustBasis::Trusted);
    assert_eq!((report.entries.len(), report.checkpoint.size), (1, 3));
    // No trust and no descriptor: nothing says which keys the origin has.
    assert_eq!(b.verify(&TrustStore::new()).map(|_| ()).unwrap_err().code(), "unknown-origin");
    let mut moved = b.clone();
    moved.entries[0].index = 2;
    assert_eq!(moved.verify(&trust).unwrap_err().code(), "malformed", "index is not log_index");
    let mut short = b.clone();
    short.entries[0].proof.pop();
    assert_eq!(short.verify(&trust).unwrap_err().code(), "inconsistent-checkpoint");
    let other = Signer::from_seed([0x66; 32]);
    let mut wrong = TrustStore::new();
    wrong.add(b.origin.clone(), KeyGrant::pinned(other.public_key()));
    assert_eq!(b.verify(&wrong).unwrap_err().code(), "unknown-key");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn bundle_decoder_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = Bundle::from_slice(&bytes);
    }

    #[test]
    fn a_flipped_byte_in_a_bundle_never_verifies_as_something_else(pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let signer = Signer::from_seed([0x11; 32]);
        let b = bundle(&signer);
        let mut trust = TrustStore::new();
        trust.add(b.origin.clone(), KeyGrant::pinned(signer.public_key()));
        let mut bytes = b.to_json().into_bytes();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        // Either refused, or it still says exactly what the original said.
        if let Ok(parsed) = Bundle::from_slice(&bytes)
            && let Ok(report) = parsed.verify(&trust)
        {
            prop_assert_eq!(report, b.verify(&trust).expect("original verifies"));
        }
    }
}

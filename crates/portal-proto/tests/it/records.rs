//! Record signing and verification across the public API: properties that must hold for every
//! record, not just the committed vectors.

use portal_proto::crypto::Signer;
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::record::*;
use portal_proto::time::Timestamp;
use portal_proto::verifier::LogVerifier;
use proptest::prelude::*;

fn item(title: String, summary: String, categories: Vec<String>, log_index: u64) -> ItemVersion {
    let t = Timestamp::from_unix(1_795_856_400).unwrap();
    ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin: NodeId::new("bo-y-te").unwrap(),
        log_index,
        id: ItemId::from_random([log_index as u8; 16]),
        version: 1,
        prev: None,
        update: None,
        kind: ItemKind::Announcement,
        language: Lang::new("vi").unwrap(),
        title,
        summary,
        content_html: "<p>Nội dung</p>".into(),
        translations: Default::default(),
        categories,
        attachments: vec![],
        legal: None,
        published: t,
        updated: t,
    }
}

fn trust(signer: &Signer) -> TrustStore {
    let mut t = TrustStore::new();
    t.add(NodeId::new("bo-y-te").unwrap(), KeyGrant::pinned(signer.public_key()));
    t
}

fn text() -> impl Strategy<Value = String> {
    // Vietnamese letters, ASCII, quotes, backslashes, emoji and newlines: everything JCS escapes
    // or must leave raw. It starts with a letter: a blank title is (rightly) refused.
    proptest::string::string_regex(
        "[a-zA-Zđệ😀][a-zA-Zàáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệ \"\\\\/\\n\\t😀<>&]{0,60}",
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn sign_then_open_succeeds(title in text(), summary in text(), mut cats in proptest::collection::vec("[a-z-]{1,12}", 0..5)) {
        cats.sort();
        cats.dedup();
        let signer = Signer::from_seed([3; 32]);
        let record = item(title.clone(), summary, cats, 0);
        let signed = envelope::sign(&record, &signer).unwrap();
        let verified = envelope::open(&signed, &trust(&signer)).unwrap();
        prop_assert_eq!(verified.record(), &Record::Item(record));
        // The envelope survives its JSON form byte for byte.
        let again = SignedRecord::from_json(signed.to_json().as_bytes()).unwrap();
        prop_assert_eq!(again, signed);
    }

    #[test]
    fn any_one_byte_change_fails(pos in any::<prop::sample::Index>(), delta in 1u8..=255) {
        let signer = Signer::from_seed([4; 32]);
        let signed = envelope::sign(&item("Thông báo".into(), "Tóm tắt".into(), vec![], 0), &signer).unwrap();
        let mut bytes = signed.bytes().to_vec();
        let i = pos.index(bytes.len());
        bytes[i] = bytes[i].wrapping_add(delta);
        let tampered = SignedRecord::from_parts(bytes, signed.kid().clone(), *signed.sig());
        prop_assert!(envelope::open(&tampered, &trust(&signer)).is_err());
    }

    #[test]
    fn any_signature_bit_flip_fails(bit in 0usize..512) {
        let signer = Signer::from_seed([5; 32]);
        let signed = envelope::sign(&item("Thông báo".into(), "Tóm tắt".into(), vec![], 0), &signer).unwrap();
        let mut sig = *signed.sig();
        sig[bit / 8] ^= 1 << (bit % 8);
        let tampered = SignedRecord::from_parts(signed.bytes().to_vec(), signed.kid().clone(), sig);
        let err = envelope::open(&tampered, &trust(&signer)).unwrap_err();
        prop_assert_eq!(err.code(), "bad-signature");
    }

    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let _ = SignedRecord::from_json(&bytes);
        let _ = envelope::parse_record(&bytes);
        let text = String::from_utf8_lossy(&bytes);
        let mut v = LogVerifier::new(NodeId::new("bo-y-te").unwrap(), vec![]);
        let _ = v.push_checkpoint(&text, Timestamp::from_unix(1_795_856_400).unwrap(), None);
    }
}

#[test]
fn signing_refuses_invalid_records_and_names_every_field() {
    let signer = Signer::from_seed([6; 32]);
    let mut bad = item(String::new(), "x".into(), vec!["b".into(), "a".into()], 0);
    bad.kind = ItemKind::Legal;
    let err = envelope::sign(&bad, &signer).unwrap_err();
    let envelope::SignError::Invalid(fields) = err else { panic!("expected field errors") };
    let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    assert!(
        names.contains(&"title") && names.contains(&"categories") && names.contains(&"legal"),
        "{names:?}"
    );
}

#[test]
fn a_rejected_log_entry_leaves_the_verifier_unchanged() {
    let signer = Signer::from_seed([7; 32]);
    let origin = NodeId::new("bo-y-te").unwrap();
    let mut v = LogVerifier::new(origin, vec![KeyGrant::pinned(signer.public_key())]);
    let first = envelope::sign(&item("Một".into(), "".into(), vec![], 0), &signer).unwrap();
    let gap = envelope::sign(&item("Ba".into(), "".into(), vec![], 2), &signer).unwrap();
    let second = envelope::sign(&item("Hai".into(), "".into(), vec![], 1), &signer).unwrap();
    v.push(&first).unwrap();
    let root = v.root();
    assert_eq!(v.push(&gap).unwrap_err().code(), "index-gap");
    assert_eq!((v.next_index(), v.root()), (1, root));
    v.push(&second).unwrap();
    assert_eq!(v.next_index(), 2);
}

#[test]
fn key_ids_are_sixteen_hex_characters_of_the_key_hash() {
    let pk = Signer::from_seed([8; 32]).public_key();
    let kid = pk.key_id().to_string();
    assert_eq!(kid.len(), 16);
    let digest = portal_proto::ids::Digest::of(pk.as_bytes());
    assert_eq!(&digest.as_str()[..16], kid);
}

#[test]
fn blank_titles_are_refused_like_empty_ones() {
    let signer = Signer::from_seed([9; 32]);
    for title in ["", "\t", "   ", "\n"] {
        let err = envelope::sign(&item(title.into(), "x".into(), vec![], 0), &signer).unwrap_err();
        assert!(
            matches!(err, envelope::SignError::Invalid(ref f) if f[0].field == "title"),
            "{title:?}: {err}"
        );
    }
}

#[test]
fn control_characters_are_refused_but_newlines_tabs_and_latin1_letters_are_not() {
    let signer = Signer::from_seed([10; 32]);
    for bad in ["a\u{0007}b", "a\u{007f}", "a\u{0085}b", "\u{009f}x", "a\rb"] {
        let err = envelope::sign(&item(bad.into(), "x".into(), vec![], 0), &signer).unwrap_err();
        assert!(err.to_string().contains("control characters"), "{bad:?}: {err}");
    }
    for good in ["a\nb\tc", "Đà Nẵng © 2026\u{00a0}", "ệ"] {
        envelope::sign(&item(good.into(), "x".into(), vec![], 0), &signer).expect(good);
    }
}

mod roster {
    use portal_proto::crypto::Signer;
    use portal_proto::envelope::{self, KeyResolver, TrustStore};
    use portal_proto::ids::{Lang, NodeId};
    use portal_proto::record::*;
    use portal_proto::time::Timestamp;
    use portal_proto::verifier::RosterTrust;

    fn roster(serial: u64, member_key: &Signer, revoked_from: Option<u64>) -> Roster {
        let mut grant = KeyGrant::pinned(member_key.public_key());
        grant.revoked_from = revoked_from;
        Roster {
            ipsp: 1,
            record_type: RecordType::Roster,
            origin: NodeId::new("chinh-phu").unwrap(),
            serial,
            members: vec![Member {
                id: NodeId::new("bo-y-te").unwrap(),
                url: "https://moh.example.gov.vn".into(),
                name: [(Lang::new("vi").unwrap(), "Bộ Y tế".to_owned())].into(),
                status: MemberStatus::Active,
                keys: vec![grant],
            }],
            time: Timestamp::from_unix(1_795_856_400).unwrap(),
        }
    }

    #[test]
    fn roster_trust_resolves_members_and_refuses_rollback_and_forgery() {
        let central = Signer::from_seed([1; 32]);
        let member = Signer::from_seed([2; 32]);
        let mut pinned = TrustStore::new();
        pinned.add(NodeId::new("chinh-phu").unwrap(), KeyGrant::pinned(central.public_key()));

        let r3 = envelope::sign(&roster(3, &member, None), &central).unwrap();
        let trust = RosterTrust::open(&r3, &pinned, None).unwrap();
        let moh = NodeId::new("bo-y-te").unwrap();
        assert_eq!(trust.grants(&moh).unwrap()[0].kid, member.public_key().key_id());
        assert!(trust.log_verifier(&moh).is_some());

        // Revocation "from log index 5" carried by a newer roster applies to the member's log.
        let r4 = envelope::sign(&roster(4, &member, Some(5)), &central).unwrap();
        let newer = RosterTrust::open(&r4, &pinned, Some(&trust)).unwrap();
        assert_eq!(newer.grants(&moh).unwrap()[0].status_at(5), KeyStatus::Revoked);

        let err = RosterTrust::open(&r3, &pinned, Some(&newer)).unwrap_err();
        assert_eq!(err.code(), "rollback");
        let forged = envelope::sign(&roster(9, &member, None), &member).unwrap();
        assert_eq!(RosterTrust::open(&forged, &pinned, None).unwrap_err().code(), "unknown-key");
    }
}

/// `push_many` (parallel prechecks) gives exactly what pushing one entry at a time gives, on
/// any number of threads: across a key rotation, and with a bad entry before, at or after it.
#[test]
fn pushing_many_entries_at_once_matches_pushing_them_one_by_one() {
    let origin = NodeId::new("bo-y-te").unwrap();
    let (old, new) = (Signer::from_seed([7; 32]), Signer::from_seed([8; 32]));
    let t = Timestamp::from_unix(1_795_856_400).unwrap();
    let rotation = KeyEvent {
        ipsp: 1,
        record_type: RecordType::KeyEvent,
        origin: origin.clone(),
        log_index: 150,
        event: KeyEventKind::Rotate,
        kid: new.public_key().key_id(),
        public_key: Some(new.public_key()),
        from_index: 151,
        reason: "rotation".into(),
        time: t,
    };
    let log: Vec<SignedRecord> = (0..300u64)
        .map(|i| match i {
            150 => envelope::sign(&rotation, &old).unwrap(),
            _ => {
                let by = if i < 150 { &old } else { &new };
                envelope::sign(&item(format!("Tin {i}"), String::new(), vec![], i), by).unwrap()
            }
        })
        .collect();
    let old_key_after_rotation =
        envelope::sign(&item("Cũ".into(), String::new(), vec![], 200), &old).unwrap();
    let gap = envelope::sign(&item("Nhảy".into(), String::new(), vec![], 101), &old).unwrap();
    let mut variants = vec![("valid", log.clone())];
    for (name, at, bad) in [("retired key", 200, old_key_after_rotation), ("gap", 100, gap)] {
        let mut l = log.clone();
        l[at] = bad;
        variants.push((name, l));
    }
    let stranger = Signer::from_seed([9; 32]);
    let mut foreign = log.clone();
    foreign[250] =
        envelope::sign(&item("Lạ".into(), String::new(), vec![], 250), &stranger).unwrap();
    variants.push(("unknown key", foreign));

    for (name, entries) in &variants {
        let mut one = LogVerifier::new(origin.clone(), vec![KeyGrant::pinned(old.public_key())]);
        let mut expected = None;
        for (position, s) in entries.iter().enumerate() {
            if let Err(e) = one.push(s) {
                expected = Some((position, e.code().to_owned()));
                break;
            }
        }
        for threads in [1, 2, 3, 8] {
            let mut many =
                LogVerifier::new(origin.clone(), vec![KeyGrant::pinned(old.public_key())]);
            let refs: Vec<&SignedRecord> = entries.iter().collect();
            let (accepted, rejected) = many.push_many(&refs, threads);
            let rejected = rejected.map(|(p, e)| (p, e.code().to_owned()));
            assert_eq!(rejected, expected, "{name}, {threads} threads");
            assert_eq!(accepted.len(), expected.as_ref().map_or(300, |(p, _)| *p), "{name}");
            assert_eq!((many.next_index(), many.root()), (one.next_index(), one.root()), "{name}");
        }
    }
}

#[test]
fn page_and_checkpoint_plans_follow_the_order_of_section_11_2() {
    use portal_proto::checkpoint::{self, Checkpoint};
    use portal_proto::verifier::{CheckpointPlan, PageMismatch, checkpoint_origin};
    let signer = Signer::from_seed([11; 32]);
    let origin = NodeId::new("bo-y-te").unwrap();
    let mut v = LogVerifier::new(origin.clone(), vec![KeyGrant::pinned(signer.public_key())]);
    let other = NodeId::new("bo-tai-chinh").unwrap();
    assert_eq!(v.check_page(&other, 0), Err(PageMismatch::WrongOrigin { got: other }));
    let entries: Vec<_> = (0..3)
        .map(|i| envelope::sign(&item(format!("Tin {i}"), "".into(), vec![], i), &signer).unwrap())
        .collect();
    let note = |size: u64, root| {
        let cp = Checkpoint::with_time(checkpoint_origin(&origin), size, root, 1_795_856_400);
        checkpoint::sign_checkpoint(&cp, &cp.origin, &signer).unwrap()
    };
    let now = portal_proto::time::Timestamp::from_unix(1_795_856_460).unwrap();
    // Nothing verified: no proof can be asked for (base 0), the checkpoint is pushed as is.
    assert_eq!(v.plan_checkpoint(&note(2, [0; 32])), Ok(CheckpointPlan::Push));
    assert_eq!(v.plan_checkpoint("").unwrap_err().code(), "malformed");
    assert_eq!(v.plan_checkpoint("not a note").unwrap_err().code(), "malformed");
    for e in &entries[..2] {
        v.push(e).unwrap();
    }
    let at_two = note(2, v.root());
    assert_eq!(v.plan_checkpoint(&at_two), Ok(CheckpointPlan::Push));
    let accepted = v.push_checkpoint(&at_two, now, None).unwrap();
    assert_eq!(v.plan_checkpoint(&at_two), Ok(CheckpointPlan::Accepted(accepted)));
    // Ahead of the two verified entries: a proof from the accepted size 2 to 3.
    assert_eq!(v.plan_checkpoint(&note(3, [1; 32])), Ok(CheckpointPlan::Proof { from: 2, to: 3 }));
    assert_eq!(v.check_page(&origin, 1), Err(PageMismatch::Shrunk { verified: 2, served: 1 }));
    assert_eq!(v.check_page(&origin, 2), Ok(()));
}

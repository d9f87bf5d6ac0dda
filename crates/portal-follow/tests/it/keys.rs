//! Key lifecycle (SPEC.md §4.3, §13): a rotation followed without re-pinning, the retired key
//! refused, and a retroactive revocation reported with the stored records it invalidates.

use portal_follow::Action;
use portal_proto::record::{KeyEventKind, KeyGrant};

use crate::sim::{Shell, at, count, descriptor, key, pages};

#[test]
fn a_key_rotation_is_followed_without_re_pinning() {
    let (a, b) = (key(1), key(2));
    let mut shell = Shell::new("bo-y-te", &a);
    shell.log.publish_many(&a, 3);
    shell.sign(0, &a);
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(0));
    assert_eq!(shell.stored.len(), 3);

    // The member rotates to B from index 4, signs on with B, and its descriptor is now
    // signed by B: a key its log has granted, not yet this aggregator's verifier.
    shell.log.key_event(&a, KeyEventKind::Rotate, &b, 4);
    shell.log.publish_many(&b, 2);
    shell.sign(700, &b);
    let mut retired = KeyGrant::pinned(a.public_key());
    retired.until_index = Some(4);
    let mut new = KeyGrant::pinned(b.public_key());
    new.from_index = 4;
    let after = vec![retired, new];
    shell.descriptor = descriptor(&shell.log.origin, after.clone(), 3600, (false, false), &b);

    // Past the descriptor's 600 s: asked for with the old grants, refused as `unknown-key`,
    // and the known endpoints are kept: the log itself grants B.
    let round = shell.round(&mut f, at(700));
    let asked: Vec<Vec<KeyGrant>> = round
        .iter()
        .filter_map(|a| match a {
            Action::FetchDescriptor { grants, .. } => Some(grants.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(asked, [vec![KeyGrant::pinned(a.public_key())]]);
    assert_eq!(pages(&round), [(3, false)]);
    assert!(shell.incidents.is_empty(), "{:?}", shell.incidents);
    assert_eq!(shell.stored, shell.log.entries);
    assert_eq!(f.verifier().grants(), after.as_slice());

    // The next descriptor read uses the rotated grants and verifies.
    let round = shell.round(&mut f, at(1400));
    assert!(
        round.contains(&Action::FetchDescriptor { base: shell.member.url.clone(), grants: after })
    );
    assert!(shell.incidents.is_empty() && shell.health.failures == 0, "{:?}", shell.incidents);
    assert_eq!(
        f.endpoints().map(|e| e.log.as_str()),
        Some("https://bo-y-te.example.gov.vn/api/v1/log")
    );
}

#[test]
fn an_entry_signed_by_the_retired_key_after_a_rotation_is_refused() {
    let (a, b) = (key(1), key(2));
    let mut shell = Shell::new("bo-y-te", &a);
    shell.log.publish_many(&a, 3);
    shell.sign(0, &a);
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(0));

    shell.log.key_event(&a, KeyEventKind::Rotate, &b, 4);
    shell.log.publish(&a, "Ký bằng khoá cũ");
    shell.sign(60, &b);
    let round = shell.round(&mut f, at(60));
    assert_eq!(shell.codes(), ["revoked-key"]);
    let message = &shell.incidents[0].message;
    assert!(message.starts_with("log entry 4: ") && message.contains("retired"), "{message}");
    // Nothing of the page is ingested, not even the rotation before the refused entry.
    assert_eq!(count(&round, |a| matches!(a, Action::Ingest(_))), 0);
    assert_eq!(shell.stored.len(), 3);
    let again = shell.round(&mut f, at(75));
    assert_eq!(again[1], Action::LoadStored { from: 0, limit: 1000 });
    assert_eq!((shell.stored.len(), shell.incidents.len(), shell.health.failures), (3, 1, 2));
}

#[test]
fn a_retroactive_revocation_reports_the_stored_records_it_invalidates() {
    let (a, b) = (key(1), key(2));
    let mut shell = Shell::new("bo-y-te", &a);
    let both = vec![KeyGrant::pinned(a.public_key()), KeyGrant::pinned(b.public_key())];
    shell.member.keys = both.clone();
    shell.descriptor = descriptor(&shell.log.origin, both, 3600, (false, false), &b);
    shell.log.publish_many(&a, 2);
    shell.log.publish(&b, "Ký bằng khoá B");
    shell.log.publish_many(&a, 2);
    shell.sign(0, &a);
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(0));
    assert_eq!(shell.stored.len(), 5);

    // A was compromised: revoked from index 1, by a revocation signed with B at index 5.
    shell.log.key_event(&b, KeyEventKind::Revoke, &a, 1);
    shell.sign(60, &b);
    let round = shell.round(&mut f, at(60));
    let ingest = round.iter().position(|a| matches!(a, Action::Ingest(_)));
    let reexamine = round.iter().position(|a| matches!(a, Action::Reexamine { .. }));
    assert!(ingest.is_some() && ingest < reexamine, "looked at again once stored: {round:?}");
    match &round[reexamine.unwrap_or_default()] {
        Action::Reexamine { member, event } => {
            assert_eq!(member, &shell.log.origin);
            assert_eq!((event.from_index, event.log_index), (1, 5));
            assert_eq!(event.kid, a.public_key().key_id());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(shell.codes(), ["revoked-key"]);
    let incident = &shell.incidents[0];
    assert_eq!(incident.evidence["records"], serde_json::json!([1, 3, 4]), "index 2 is B's");
    assert_eq!(incident.evidence["count"], 3);
    assert_eq!(incident.evidence["key_event_index"], 5);
    assert_eq!(incident.evidence["kid"], a.public_key().key_id().to_string());
    assert!(
        incident.message.contains("3 record(s) accepted before the revocation"),
        "{}",
        incident.message
    );
    assert_eq!(shell.health.failures, 0, "the revocation itself is accepted");

    // A revocation that does not reach back (from its own index on) looks at nothing.
    shell.log.key_event(&b, KeyEventKind::Revoke, &a, 6);
    shell.sign(120, &b);
    let round = shell.round(&mut f, at(120));
    assert_eq!(count(&round, |a| matches!(a, Action::Reexamine { .. })), 0);
    assert_eq!(shell.incidents.len(), 1);
}

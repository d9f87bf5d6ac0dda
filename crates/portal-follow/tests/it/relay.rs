//! An aggregating member (a province's aggregator) followed through its national log: its
//! members' records relayed, checked against its roster (SPEC.md §13, "Levels").

use portal_follow::Action;
use portal_proto::crypto::Signer;
use portal_proto::envelope;
use portal_proto::record::KeyGrant;

use crate::sim::{
    Log, Shell, at, count, descriptor, id, key, pages, receipt, roster, roster_entry,
};

const PROVINCE: &str = "so-y-te-ha-noi";
const HOSPITAL: &str = "benh-vien-bach-mai";

/// The province's shell: a national log of `n` receipts for the hospital's first `n` records,
/// each paired with the record, and its roster listing the hospital.
fn province(n: usize) -> (Shell, Log, Signer) {
    let (pk, hk) = (key(20), key(21));
    let mut shell = Shell::new(PROVINCE, &pk);
    let grants = shell.member.keys.clone();
    shell.descriptor = descriptor(&shell.log.origin, grants, 3600, (false, true), &pk);
    let mut hospital = Log::new(HOSPITAL);
    hospital.publish_many(&hk, n);
    let size = hospital.len();
    for i in 0..n {
        let record = hospital.entries[i].clone();
        let r = receipt(
            &id(PROVINCE),
            i as u64,
            &id(HOSPITAL),
            i as u64,
            &record,
            (size, hospital.root(size)),
        );
        shell.log.push(envelope::sign(&r, &pk).expect("a valid receipt"));
        shell.paired.push(Some(record));
    }
    shell.sign(0, &pk);
    let listed = roster_entry(&id(HOSPITAL), vec![KeyGrant::pinned(hk.public_key())]);
    shell.sub_roster = Some(roster(&id(PROVINCE), 1, vec![listed], &pk));
    (shell, hospital, pk)
}

#[test]
fn an_aggregating_members_national_log_relays_its_members_records() {
    let (mut shell, hospital, pk) = province(3);
    // A receipt for a member this aggregator follows itself: that record is not relayed.
    let direct = Log::new("bo-y-te");
    let own =
        envelope::sign(&crate::sim::item(&direct.origin, 0, "Trực tiếp"), &key(5)).expect("signed");
    let r = receipt(&id(PROVINCE), 3, &direct.origin, 0, &own, (1, [7; 32]));
    shell.log.push(envelope::sign(&r, &pk).expect("a valid receipt"));
    shell.paired.push(Some(own));
    shell.sign(0, &pk);
    shell.direct.insert(direct.origin.clone());

    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(10));
    assert_eq!(pages(&round), [(0, true)]);
    let national = round.iter().find_map(|a| match a {
        Action::FetchLogPage { url, .. } => Some(url.clone()),
        _ => None,
    });
    assert_eq!(
        national.as_deref(),
        Some("https://so-y-te-ha-noi.example.gov.vn/api/v1/national-log")
    );
    // The roster is fetched once, with the province's keys; the hospital's stored size once.
    let roster = Action::FetchRoster {
        url: "https://so-y-te-ha-noi.example.gov.vn/api/v1/roster".into(),
        grants: shell.member.keys.clone(),
    };
    assert_eq!(count(&round, |a| *a == roster), 1);
    assert_eq!(
        count(&round, |a| matches!(a, Action::LoadCursor { member } if *member == id(HOSPITAL))),
        1
    );
    assert!(shell.incidents.is_empty(), "{:?}", shell.incidents);

    let batch = &shell.ingested[0];
    assert_eq!(batch.entries, shell.log.entries, "the province's own receipts");
    assert_eq!(batch.relayed.len(), 1, "only the hospital is relayed: {:?}", batch.relayed);
    let relayed = &batch.relayed[0];
    assert_eq!((&relayed.member, relayed.start), (&id(HOSPITAL), 0));
    assert_eq!(relayed.entries, hospital.entries);
    assert_eq!(relayed.checkpoints, vec![(3, hospital.root(3)); 3]);

    // The next records continue from what is stored; the cached roster still lists them.
    let hk = key(21);
    let mut hospital = hospital;
    let record = hospital.publish(&hk, "Tin tiếp");
    let r = receipt(&id(PROVINCE), 4, &id(HOSPITAL), 3, &record, (4, hospital.root(4)));
    shell.log.push(envelope::sign(&r, &pk).expect("a valid receipt"));
    shell.paired.push(Some(record.clone()));
    shell.sign(60, &pk);
    let round = shell.round(&mut f, at(60));
    assert_eq!(count(&round, |a| matches!(a, Action::FetchRoster { .. })), 0);
    let relayed = &shell.ingested[1].relayed[0];
    assert_eq!((relayed.start, relayed.entries.clone()), (3, vec![record]));
}

#[test]
fn a_relayed_record_that_is_not_the_one_its_receipt_names_is_refused() {
    let (mut shell, hospital, _) = province(3);
    // The pairing of entry 1 is another record than the receipt's digest names.
    let other =
        envelope::sign(&crate::sim::item(&hospital.origin, 1, "Khác"), &key(21)).expect("signed");
    shell.paired[1] = Some(other);
    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(10));
    assert_eq!(shell.codes(), ["bad-signature"]);
    let incident = &shell.incidents[0];
    assert_eq!(
        incident.message,
        "national log entry 1: the member record is not the one its receipt names"
    );
    assert_eq!(incident.evidence["index"], 1);
    assert_eq!(count(&round, |a| matches!(a, Action::Ingest(_))), 0);
    assert!(shell.relayed_stored.is_empty());
}

#[test]
fn a_relayed_record_of_a_node_the_members_roster_does_not_list_is_refused() {
    let (mut shell, _, pk) = province(2);
    let stranger = key(30);
    let unlisted = Log::new("bo-tai-chinh");
    let record =
        envelope::sign(&crate::sim::item(&unlisted.origin, 0, "Lạ"), &stranger).expect("signed");
    let r = receipt(&id(PROVINCE), 2, &unlisted.origin, 0, &record, (1, [1; 32]));
    shell.log.push(envelope::sign(&r, &pk).expect("a valid receipt"));
    shell.paired.push(Some(record));
    shell.sign(0, &pk);
    let mut f = shell.follower(shell.config());
    let round = shell.round(&mut f, at(10));
    // The cached roster lists the hospital, not this node: fetched again, then refused.
    assert_eq!(count(&round, |a| matches!(a, Action::FetchRoster { .. })), 2);
    assert_eq!(shell.codes(), ["unknown-origin"]);
    assert_eq!(
        shell.incidents[0].message,
        "so-y-te-ha-noi relays records of bo-tai-chinh, which its roster does not list"
    );
    assert!(shell.ingested.is_empty());

    // A record signed by a key the roster does not grant the hospital: refused with its code.
    let (mut shell, hospital, _) = province(2);
    let forged =
        envelope::sign(&crate::sim::item(&hospital.origin, 1, "Giả"), &key(31)).expect("signed");
    let r = receipt(&id(PROVINCE), 1, &hospital.origin, 1, &forged, (2, hospital.root(2)));
    let mut log = Log::new(PROVINCE);
    log.push(shell.log.entries[0].clone());
    log.push(envelope::sign(&r, &key(20)).expect("a valid receipt"));
    shell.log = log;
    shell.paired[1] = Some(forged);
    shell.sign(0, &key(20));
    let mut f = shell.follower(shell.config());
    shell.round(&mut f, at(10));
    assert_eq!(shell.codes(), ["unknown-key"]);
    assert!(
        shell.incidents[0]
            .message
            .starts_with("record benh-vien-bach-mai#1 relayed by so-y-te-ha-noi: ")
    );
}

//! Real signed IPSP/1 documents for the test servers, built with portal-proto.

use std::collections::BTreeMap;

use portal_proto::api::log::{ConsistencyProof, InclusionProof, LogEntry, LogPage};
use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::crypto::Signer;
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::merkle::{self, Hash};
use portal_proto::record::*;
use portal_proto::time::Timestamp;

pub(crate) const NODE: &str = "bo-y-te";
pub(crate) const CENTRAL: &str = "chinh-phu";
/// 2026-11-28T09:00:00Z.
pub(crate) const T0: u64 = 1_795_856_400;

pub(crate) fn key() -> Signer {
    Signer::from_seed([0x11; 32])
}

pub(crate) fn other_key() -> Signer {
    Signer::from_seed([0x66; 32])
}

pub(crate) fn central_key() -> Signer {
    Signer::from_seed([0x01; 32])
}

pub(crate) fn node_id(id: &str) -> NodeId {
    NodeId::new(id).unwrap()
}

pub(crate) fn at(seconds: u64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds).unwrap()
}

fn names() -> BTreeMap<Lang, String> {
    BTreeMap::from([(Lang::new("vi").unwrap(), "Bộ Y tế".to_owned())])
}

/// The descriptor of a node at `base`, listing `key()`.
pub(crate) fn descriptor(base: &str) -> Descriptor {
    let endpoints = [
        ("checkpoint", "/api/v1/checkpoint"),
        ("consistency-proof", "/api/v1/proof/consistency"),
        ("inclusion-proof", "/api/v1/proof/inclusion"),
        ("log", "/api/v1/log"),
        ("roster", "/api/v1/roster"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), format!("{base}{v}")))
    .collect();
    Descriptor {
        ipsp: 1,
        record_type: RecordType::Descriptor,
        origin: node_id(NODE),
        name: names(),
        url: base.into(),
        keys: vec![KeyGrant::pinned(key().public_key())],
        endpoints,
        heartbeat: 3600,
        log_size: 3,
        time: at(0),
    }
}

pub(crate) fn roster(member_base: &str) -> Roster {
    Roster {
        ipsp: 1,
        record_type: RecordType::Roster,
        origin: node_id(CENTRAL),
        serial: 1,
        members: vec![Member {
            id: node_id(NODE),
            url: member_base.into(),
            name: names(),
            status: MemberStatus::Active,
            keys: vec![KeyGrant::pinned(key().public_key())],
        }],
        time: at(0),
    }
}

pub(crate) fn news(log_index: u64) -> ItemVersion {
    ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin: node_id(NODE),
        log_index,
        id: ItemId::from_random([log_index as u8 + 1; 16]),
        version: 1,
        prev: None,
        update: None,
        kind: ItemKind::News,
        language: Lang::new("vi").unwrap(),
        title: format!("Tin số {log_index}"),
        summary: "Tóm tắt.".into(),
        content_html: "<p>Nội dung.</p>".into(),
        translations: BTreeMap::new(),
        categories: vec![],
        attachments: vec![],
        legal: None,
        published: at(log_index),
        updated: at(log_index),
    }
}

/// `n` signed log entries of `NODE`.
pub(crate) fn entries(n: u64) -> Vec<SignedRecord> {
    (0..n).map(|i| envelope::sign(&news(i), &key()).unwrap()).collect()
}

pub(crate) fn leaves(entries: &[SignedRecord]) -> Vec<Hash> {
    entries.iter().map(SignedRecord::leaf_hash).collect()
}

/// The signed checkpoint note over `entries`, dated `T0 + 60`.
pub(crate) fn checkpoint(entries: &[SignedRecord]) -> String {
    let root = merkle::root_from_leaf_hashes(&leaves(entries));
    let origin = format!("ipsp/1/{NODE}");
    let cp = Checkpoint::with_time(origin.clone(), entries.len() as u64, root, T0 + 60);
    sign_checkpoint(&cp, &origin, &key()).unwrap()
}

/// A log page as a node serves it (`portal_proto::api::log::LogPage`), with the entries given
/// as (index, envelope): the indices may be wrong on purpose.
pub(crate) fn page_json(
    start: u64,
    size: u64,
    entries: &[(u64, &SignedRecord)],
    checkpoint: &str,
    next: Option<String>,
) -> Vec<u8> {
    let page = LogPage {
        checkpoint: checkpoint.to_owned(),
        entries: entries.iter().map(|(i, s)| LogEntry::new(*i, s)).collect(),
        next,
        origin: NodeId::new(NODE).unwrap(),
        size,
        start,
    };
    serde_json::to_vec(&page).unwrap()
}

/// `{"from", "proof", "to"}` as a node serves it.
pub(crate) fn consistency_json(from: u64, to: u64, proof: &[Hash]) -> Vec<u8> {
    serde_json::to_vec(&ConsistencyProof::new(from, to, proof)).unwrap()
}

/// `{"index", "proof", "size"}` as a node serves it.
pub(crate) fn inclusion_json(index: u64, size: u64, proof: &[Hash]) -> Vec<u8> {
    serde_json::to_vec(&InclusionProof::new(index, size, proof)).unwrap()
}

//! Real signed IPSP/1 documents for the test servers: the kit's fixed-seed keys and record
//! builders (`portal_tests::fixtures`), named as these tests use them.

use std::collections::BTreeMap;

use portal_proto::api::log::{ConsistencyProof, InclusionProof, LogEntry, LogPage};
use portal_proto::crypto::Signer;
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::merkle::Hash;
use portal_proto::record::*;
use portal_proto::time::Timestamp;
use portal_tests::fixtures::{self as kit, CENTRAL as CENTRAL_KEY, MALLORY, MOH};

pub(crate) use portal_tests::fixtures::leaves;

pub(crate) const NODE: &str = "bo-y-te";
pub(crate) const CENTRAL: &str = "chinh-phu";

pub(crate) fn key() -> Signer {
    MOH.signer()
}

pub(crate) fn other_key() -> Signer {
    MALLORY.signer()
}

pub(crate) fn central_key() -> Signer {
    CENTRAL_KEY.signer()
}

pub(crate) fn node_id(id: &str) -> NodeId {
    kit::node(id)
}

/// The fixtures' epoch (2026-11-28T09:00:00Z) plus `seconds`.
pub(crate) fn at(seconds: u64) -> Timestamp {
    kit::at_second(seconds)
}

fn names() -> BTreeMap<portal_proto::ids::Lang, String> {
    BTreeMap::from([(kit::lang("vi"), "Bộ Y tế".to_owned())])
}

/// The descriptor of a node at `base`, listing `key()`.
pub(crate) fn descriptor(base: &str) -> Descriptor {
    let endpoints = kit::endpoints(
        base,
        &["checkpoint", "consistency-proof", "inclusion-proof", "log", "roster"],
    );
    Descriptor {
        ipsp: 1,
        record_type: RecordType::Descriptor,
        origin: node_id(NODE),
        name: names(),
        url: base.into(),
        keys: vec![MOH.grant()],
        endpoints,
        heartbeat: 3600,
        log_size: 3,
        time: at(0),
    }
}

pub(crate) fn roster(member_base: &str) -> Roster {
    let member = Member {
        id: node_id(NODE),
        url: member_base.into(),
        name: names(),
        status: MemberStatus::Active,
        keys: vec![MOH.grant()],
    };
    Roster {
        ipsp: 1,
        record_type: RecordType::Roster,
        origin: node_id(CENTRAL),
        serial: 1,
        members: vec![member],
        time: at(0),
    }
}

/// Item `log_index` of `NODE`: the kit's smallest valid item.
pub(crate) fn news(log_index: u64) -> ItemVersion {
    let id = ItemId::from_random([log_index as u8 + 1; 16]);
    kit::item(node_id(NODE), log_index, id, at(log_index))
}

/// `n` signed log entries of `NODE`.
pub(crate) fn entries(n: u64) -> Vec<SignedRecord> {
    (0..n).map(|i| envelope::sign(&news(i), &key()).unwrap()).collect()
}

/// The signed checkpoint note over `entries`, dated a minute after the epoch.
pub(crate) fn checkpoint(entries: &[SignedRecord]) -> String {
    kit::checkpoint_note(entries.len() as u64, kit::root(entries), 1, &MOH)
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

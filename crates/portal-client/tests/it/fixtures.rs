//! Real signed IPSP/1 documents for the test servers, built with portal-proto.

use std::collections::BTreeMap;

use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::crypto::{Signer, encode_base64};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::merkle::{self, Hash};
use portal_proto::record::*;
use portal_proto::time::Timestamp;
use serde_json::json;

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

/// A log page as `portal-node` serves it (crates/portal-node/src/http.rs `log_page`), with the
/// entries given as (index, envelope).
pub(crate) fn page_json(
    start: u64,
    size: u64,
    entries: &[(u64, &SignedRecord)],
    checkpoint: &str,
    next: Option<String>,
) -> Vec<u8> {
    let mut body = json!({
        "origin": NODE,
        "start": start,
        "size": size,
        "entries": entries.iter().map(|(i, s)| json!({
            "index": i, "kid": s.kid(), "record": s.record_base64(), "sig": s.sig_base64()}))
            .collect::<Vec<_>>(),
        "checkpoint": checkpoint,
    });
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    serde_json::to_vec(&body).unwrap()
}

pub(crate) fn proof_json(names: (&str, &str), values: (u64, u64), proof: &[Hash]) -> Vec<u8> {
    let hashes: Vec<String> = proof.iter().map(|h| encode_base64(h)).collect();
    serde_json::to_vec(&json!({names.0: values.0, names.1: values.1, "proof": hashes})).unwrap()
}

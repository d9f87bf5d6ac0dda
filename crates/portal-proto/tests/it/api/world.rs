//! A small federation from fixed seeds, and every HTTP body built from it with the
//! `portal_proto::api` types: a ministry (`bo-y-te`) with three log entries (an item, its
//! correction, its withdrawal) and the central (`chinh-phu`) with an item of its own and two
//! receipts for the ministry's entries.
//!
//! Each body is built with struct literals, so a field added to a type does not compile until
//! it is added here, and then the example files (and, through the e2e spec tests, the schemas
//! and SPEC.md) must follow.

use std::collections::BTreeMap;

use portal_proto::api::federation::{
    Incident, IncidentList, MemberHealth, MemberHealthList, MemberList, MemberView, NodeHealth,
    SyncHealth,
};
use portal_proto::api::items::{ItemHistory, MemberItemHistory, NationalItem, Published, Uploaded};
use portal_proto::api::log::{
    ConsistencyProof, InclusionProof, LogEntry, LogPage, NationalLogEntry, NationalLogPage,
    next_url,
};
use portal_proto::api::{ApiError, ErrorBody, ErrorCode, paths};
use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::crypto::{Signer, encode_base64};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{Digest, ItemId, Lang, NodeId};
use portal_proto::merkle::{self, Hash};
use portal_proto::record::{
    CheckpointRef, FieldError, ItemKind, ItemVersion, MemberStatus, Receipt, RecordType, Update,
    UpdateType, Withdrawal, WithdrawalState,
};
use portal_proto::time::Timestamp;
use portal_proto::verifier::checkpoint_origin;
use serde_json::json;

pub(crate) const MEMBER_URL: &str = "https://byt.gov.vn";
pub(crate) const CENTRAL_URL: &str = "https://gov.vn";

pub(crate) fn node(id: &str) -> NodeId {
    NodeId::new(id).expect("fixture node id")
}

fn at(minutes: u64) -> Timestamp {
    Timestamp::from_unix(1_795_856_400 + minutes * 60).expect("fixture time")
}

fn item(origin: &str, log_index: u64, id: u8, title: &str) -> ItemVersion {
    ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin: node(origin),
        log_index,
        id: ItemId::from_random([id; 16]),
        version: 1,
        prev: None,
        update: None,
        kind: ItemKind::News,
        language: Lang::new("vi").expect("vi"),
        title: title.into(),
        summary: "Tóm tắt.".into(),
        content_html: "<p>Nội dung.</p>".into(),
        translations: BTreeMap::new(),
        categories: vec!["suc-khoe".into()],
        attachments: vec![],
        legal: None,
        published: at(log_index),
        updated: at(log_index),
    }
}

/// The two logs, signed, with their trees and checkpoints.
pub(crate) struct World {
    pub(crate) member: Vec<SignedRecord>,
    pub(crate) member_tree: Vec<Hash>,
    pub(crate) member_note: String,
    pub(crate) central: Vec<SignedRecord>,
    pub(crate) central_note: String,
}

fn note(origin: &NodeId, log: &[SignedRecord], signer: &Signer, minutes: u64) -> String {
    let leaves: Vec<Hash> = log.iter().map(SignedRecord::leaf_hash).collect();
    let root = merkle::root_from_leaf_hashes(&leaves);
    let name = checkpoint_origin(origin);
    let cp = Checkpoint::with_time(name.clone(), log.len() as u64, root, at(minutes).unix());
    sign_checkpoint(&cp, &name, signer).expect("checkpoint signs")
}

impl World {
    pub(crate) fn new() -> World {
        let moh = Signer::from_seed([0x11; 32]);
        let central = Signer::from_seed([0x01; 32]);
        let v1 = item("bo-y-te", 0, 1, "Khuyến cáo phòng chống sốt xuất huyết");
        let v1s = envelope::sign(&v1, &moh).expect("signs");
        let mut v2 = v1.clone();
        v2.log_index = 1;
        v2.version = 2;
        v2.prev = Some(v1s.digest());
        v2.update =
            Some(Update { update_type: UpdateType::Minor, note: "Sửa tiêu đề.".into() });
        v2.updated = at(1);
        let v2s = envelope::sign(&v2, &moh).expect("signs");
        let w = Withdrawal {
            ipsp: 1,
            record_type: RecordType::Withdrawal,
            origin: node("bo-y-te"),
            log_index: 2,
            id: v1.id.clone(),
            version: 2,
            prev: v2s.digest(),
            state: WithdrawalState::Withdrawn,
            explanation: "Đăng nhầm.".into(),
            redirect: None,
            time: at(2),
        };
        let ws = envelope::sign(&w, &moh).expect("signs");
        let member = vec![v1s, v2s, ws];
        let member_tree: Vec<Hash> = member.iter().map(SignedRecord::leaf_hash).collect();
        let member_note = note(&node("bo-y-te"), &member, &moh, 3);
        let root = encode_base64(&merkle::root_from_leaf_hashes(&member_tree));
        let own = envelope::sign(&item("chinh-phu", 0, 9, "Thông báo của Chính phủ"), &central)
            .expect("signs");
        let mut central_log = vec![own];
        for (i, m) in member.iter().take(2).enumerate() {
            let r = Receipt {
                ipsp: 1,
                record_type: RecordType::Receipt,
                origin: node("chinh-phu"),
                log_index: 1 + i as u64,
                member: node("bo-y-te"),
                member_index: i as u64,
                record: m.digest(),
                checkpoint: CheckpointRef { size: 3, root: root.clone() },
                time: at(4),
            };
            central_log.push(envelope::sign(&r, &central).expect("signs"));
        }
        let central_note = note(&node("chinh-phu"), &central_log, &central, 5);
        World { member, member_tree, member_note, central: central_log, central_note }
    }

    pub(crate) fn item_id(&self) -> ItemId {
        ItemId::from_random([1; 16])
    }

    /// `GET /api/v1/log?after={after}&limit={limit}` of the ministry.
    pub(crate) fn log_page(&self, after: u64, limit: u64) -> LogPage {
        let size = self.member.len() as u64;
        let start = after.min(size);
        let end = (start + limit).min(size);
        let endpoint = format!("{MEMBER_URL}{}", paths::LOG);
        LogPage {
            checkpoint: self.member_note.clone(),
            entries: (start..end).map(|i| LogEntry::new(i, &self.member[i as usize])).collect(),
            next: (end < size).then(|| next_url(&endpoint, end, limit)),
            origin: node("bo-y-te"),
            size,
            start,
        }
    }

    /// `GET /api/v1/national/log?after={after}&limit={limit}` of the central.
    pub(crate) fn national_page(&self, after: u64, limit: u64) -> NationalLogPage {
        let size = self.central.len() as u64;
        let start = after.min(size);
        let end = (start + limit).min(size);
        let entry = |i: u64| match i {
            0 => NationalLogEntry::own(0, &self.central[0]),
            i => NationalLogEntry::receipt(
                i,
                &self.central[i as usize],
                &self.member[i as usize - 1],
            ),
        };
        let endpoint = format!("{CENTRAL_URL}{}", paths::NATIONAL_LOG);
        NationalLogPage {
            checkpoint: self.central_note.clone(),
            entries: (start..end).map(entry).collect(),
            next: (end < size).then(|| next_url(&endpoint, end, limit)),
            origin: node("chinh-phu"),
            size,
            start,
        }
    }

    pub(crate) fn inclusion(&self) -> InclusionProof {
        let proof = merkle::inclusion_proof(self.member_tree.as_slice(), 1, 3).expect("proof");
        InclusionProof::new(1, 3, &proof)
    }

    pub(crate) fn consistency(&self) -> ConsistencyProof {
        let proof = merkle::consistency_proof(self.member_tree.as_slice(), 1, 3).expect("proof");
        ConsistencyProof::new(1, 3, &proof)
    }

    pub(crate) fn item_history(&self) -> ItemHistory {
        ItemHistory::new(self.item_id(), &self.member[..2], Some(&self.member[2]))
    }

    /// The central's own item: no withdrawal.
    pub(crate) fn current_item(&self) -> ItemHistory {
        ItemHistory::new(ItemId::from_random([9; 16]), &self.central[..1], None)
    }

    pub(crate) fn national_item(&self) -> NationalItem {
        let h = self.item_history();
        NationalItem {
            id: self.item_id(),
            members: vec![MemberItemHistory {
                id: h.id,
                member: node("bo-y-te"),
                versions: h.versions,
                withdrawal: h.withdrawal,
            }],
        }
    }
}

pub(crate) fn published() -> Published {
    Published { id: ItemId::from_random([1; 16]), version: 2, log_index: 1 }
}

pub(crate) fn uploaded() -> Uploaded {
    let pdf = b"%PDF-1.7 nghi dinh";
    Uploaded { sha256: Digest::of(pdf), size: pdf.len() as u64 }
}

pub(crate) fn member_view(
    id: &str,
    url: &str,
    seed: u8,
    status: MemberStatus,
    size: u64,
) -> MemberView {
    let key = Signer::from_seed([seed; 32]).public_key();
    MemberView {
        id: node(id),
        keys: vec![(key.key_id(), key)],
        name: BTreeMap::from([
            (Lang::new("en").expect("en"), format!("{id} (en)")),
            (Lang::new("vi").expect("vi"), format!("{id} (vi)")),
        ]),
        size,
        status,
        url: url.into(),
    }
}

pub(crate) fn ministry() -> MemberView {
    member_view("bo-y-te", MEMBER_URL, 0x11, MemberStatus::Active, 3)
}

pub(crate) fn suspended() -> MemberView {
    member_view("bo-tai-chinh", "https://mof.gov.vn", 0x21, MemberStatus::Suspended, 0)
}

pub(crate) fn sync_health() -> SyncHealth {
    SyncHealth {
        failures: 2,
        heartbeat: Some(3600),
        last_attempt: Some(1_795_857_000),
        last_error: Some("https://byt.gov.vn/api/v1/log: timeout".into()),
        last_ok: Some(1_795_856_700),
        member_size: 3,
        push_lease_until: Some(1_796_461_200),
    }
}

pub(crate) fn members(w: &World) -> MemberHealthList {
    MemberHealthList {
        members: vec![
            MemberHealth {
                cosigned_checkpoint: Some(w.member_note.clone()),
                health: Some(sync_health()),
                member: ministry(),
            },
            MemberHealth { cosigned_checkpoint: None, health: None, member: suspended() },
        ],
    }
}

pub(crate) fn member_list() -> MemberList {
    MemberList { members: vec![ministry(), suspended()] }
}

pub(crate) fn incidents(w: &World) -> IncidentList {
    IncidentList {
        incidents: vec![
            Incident {
                code: "fork".into(),
                evidence: json!({"index": 1, "envelope": w.member[1], "stored": w.member[0]}),
                member: node("bo-y-te"),
                message: "a second record for index 1".into(),
                seq: 2,
                time: 1_795_857_100,
            },
            Incident {
                code: "unreachable".into(),
                evidence: json!({"url": "https://byt.gov.vn/api/v1/log", "since": 1_795_856_000}),
                member: node("bo-y-te"),
                message: "no answer for 600 s".into(),
                seq: 1,
                time: 1_795_856_600,
            },
        ],
    }
}

pub(crate) fn healthz() -> NodeHealth {
    NodeHealth::new(3, None)
}

pub(crate) fn healthz_degraded() -> NodeHealth {
    NodeHealth::new(3, Some("the clock went back 120 s".into()))
}

pub(crate) fn not_found() -> ErrorBody {
    ApiError::not_found(format!("no item {}", ItemId::from_random([7; 16]))).into_body()
}

pub(crate) fn invalid_draft() -> ErrorBody {
    ApiError::invalid_draft(vec![
        FieldError::new(
            "kind",
            "unknown variant `bogus`, expected one of `news`, `announcement`, `legal`, `alert`",
        ),
        FieldError::new("title", "1 to 1000 characters"),
    ])
    .into_body()
}

pub(crate) fn websub_error() -> ErrorBody {
    ApiError::new(ErrorCode::InvalidRequest, "hub.callback: not a public http(s) URL")
        .with_parameter("hub.callback")
        .into_body()
}

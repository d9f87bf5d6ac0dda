//! Deterministic keys, times and records shared by the vector generator and the tests.
//!
//! Everything here is a pure function of fixed seeds, so the generated vectors are
//! byte-identical on every machine.

use portal_proto::crypto::Signer;
use portal_proto::ids::{Digest, ItemId, Lang, NodeId};
use portal_proto::record::*;
use portal_proto::time::{Date, Timestamp};
use std::collections::BTreeMap;

/// A named test key.
pub(crate) struct TestKey {
    pub(crate) name: &'static str,
    pub(crate) seed: [u8; 32],
}

pub(crate) const MOH: TestKey = TestKey { name: "bo-y-te key 1", seed: [0x11; 32] };
pub(crate) const MOH2: TestKey = TestKey { name: "bo-y-te key 2 (rotation)", seed: [0x12; 32] };
pub(crate) const MOF: TestKey = TestKey { name: "bo-tai-chinh key", seed: [0x21; 32] };
pub(crate) const CENTRAL: TestKey = TestKey { name: "chinh-phu key", seed: [0x01; 32] };
pub(crate) const MALLORY: TestKey = TestKey { name: "attacker key", seed: [0x66; 32] };

pub(crate) const ALL_KEYS: [&TestKey; 5] = [&MOH, &MOH2, &MOF, &CENTRAL, &MALLORY];

impl TestKey {
    pub(crate) fn signer(&self) -> Signer {
        Signer::from_seed(self.seed)
    }

    pub(crate) fn grant(&self) -> KeyGrant {
        KeyGrant::pinned(self.signer().public_key())
    }
}

pub(crate) fn node(id: &str) -> NodeId {
    NodeId::new(id).expect("fixture node ids are valid")
}

pub(crate) fn lang(tag: &str) -> Lang {
    Lang::new(tag).expect("fixture language tags are valid")
}

pub(crate) fn item_id(n: u8) -> ItemId {
    ItemId::from_random([n; 16])
}

/// 2026-11-28T09:00:00Z plus `minutes`.
pub(crate) fn at(minutes: u64) -> Timestamp {
    Timestamp::from_unix(1_795_856_400 + minutes * 60).expect("fixture times are in range")
}

pub(crate) fn date(s: &str) -> Date {
    Date::parse(s).expect("fixture dates are valid")
}

/// News item, version 1, in Vietnamese with an English translation.
pub(crate) fn news(origin: &str, log_index: u64, id: u8) -> ItemVersion {
    let mut translations = BTreeMap::new();
    translations.insert(
        lang("en"),
        Translation {
            title: "Ministry of Health advises on dengue prevention in the rainy season".into(),
            summary: "Households should remove standing water every week.".into(),
            content_html: "<p>Households should remove standing water every week and see a doctor \
                           at the first sign of fever.</p>"
                .into(),
        },
    );
    ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin: node(origin),
        log_index,
        id: item_id(id),
        version: 1,
        prev: None,
        update: None,
        kind: ItemKind::News,
        language: lang("vi"),
        title: "Bộ Y tế khuyến cáo phòng chống sốt xuất huyết mùa mưa".into(),
        summary: "Các hộ gia đình cần loại bỏ nước đọng hằng tuần.".into(),
        content_html: "<p>Các hộ gia đình cần loại bỏ nước đọng hằng tuần và đi khám ngay khi có \
                       dấu hiệu sốt.</p>"
            .into(),
        translations,
        categories: vec!["suc-khoe".into(), "y-te-du-phong".into()],
        attachments: vec![],
        legal: None,
        published: at(log_index),
        updated: at(log_index),
    }
}

/// A correction of `prev` (version + 1).
pub(crate) fn correction(prev: &ItemVersion, prev_digest: Digest, log_index: u64) -> ItemVersion {
    let mut next = prev.clone();
    next.log_index = log_index;
    next.version = prev.version + 1;
    next.prev = Some(prev_digest);
    next.update = Some(Update {
        update_type: UpdateType::Major,
        note: "Sửa số điện thoại đường dây nóng / Corrected the hotline number".into(),
    });
    next.content_html.push_str("<p>Đường dây nóng: 1900 9095.</p>");
    next.updated = at(log_index);
    next
}

/// A decree with its legal metadata and a PDF attachment.
pub(crate) fn decree(origin: &str, log_index: u64, id: u8) -> ItemVersion {
    let mut item = news(origin, log_index, id);
    item.kind = ItemKind::Legal;
    item.title = "Nghị định 15/2026/NĐ-CP quy định chi tiết Luật Ngân sách nhà nước".into();
    item.summary = "Quy định chi tiết một số điều của Luật Ngân sách nhà nước.".into();
    item.content_html = "<p>Nghị định này quy định chi tiết một số điều.</p>".into();
    item.translations.clear();
    item.categories = vec!["ngan-sach".into(), "van-ban-phap-luat".into()];
    item.attachments = vec![Attachment {
        name: "15-2026-ND-CP.pdf".into(),
        media_type: "application/pdf".into(),
        sha256: Digest::of(b"%PDF-1.7 fixture decree"),
        size: 23,
    }];
    item.legal = Some(LegalMeta {
        number: "15/2026/NĐ-CP".into(),
        issuer: "Chính phủ".into(),
        signer: "Thủ tướng Chính phủ".into(),
        issued: date("2026-11-20"),
        effective: date("2027-01-01"),
        expires: None,
    });
    item
}

pub(crate) fn withdrawal(
    item: &ItemVersion,
    digest: Digest,
    log_index: u64,
    state: WithdrawalState,
) -> Withdrawal {
    Withdrawal {
        ipsp: 1,
        record_type: RecordType::Withdrawal,
        origin: item.origin.clone(),
        log_index,
        id: item.id.clone(),
        version: item.version,
        prev: digest,
        state,
        explanation: "Thông tin đã được thay thế bằng thông báo mới / Superseded by a newer notice"
            .into(),
        redirect: (state == WithdrawalState::Redirected)
            .then(|| "https://moh.example.gov.vn/items/new".to_owned()),
        time: at(log_index),
    }
}

pub(crate) fn rotation(origin: &str, log_index: u64, new: &TestKey) -> KeyEvent {
    let pk = new.signer().public_key();
    KeyEvent {
        ipsp: 1,
        record_type: RecordType::KeyEvent,
        origin: node(origin),
        log_index,
        event: KeyEventKind::Rotate,
        kid: pk.key_id(),
        public_key: Some(pk),
        from_index: log_index + 1,
        reason: "Scheduled annual rotation".into(),
        time: at(log_index),
    }
}

pub(crate) fn revocation(origin: &str, log_index: u64, key: &TestKey, from_index: u64) -> KeyEvent {
    KeyEvent {
        ipsp: 1,
        record_type: RecordType::KeyEvent,
        origin: node(origin),
        log_index,
        event: KeyEventKind::Revoke,
        kid: key.signer().public_key().key_id(),
        public_key: None,
        from_index,
        reason: "Key material exposed on a decommissioned server".into(),
        time: at(log_index),
    }
}

fn names(vi: &str, en: &str) -> BTreeMap<Lang, String> {
    BTreeMap::from([(lang("en"), en.to_owned()), (lang("vi"), vi.to_owned())])
}

pub(crate) fn descriptor() -> Descriptor {
    let base = "https://moh.example.gov.vn";
    let endpoints = [
        ("atom", "/feeds/atom"),
        ("checkpoint", "/api/v1/checkpoint"),
        ("consistency-proof", "/api/v1/proof/consistency"),
        ("inclusion-proof", "/api/v1/proof/inclusion"),
        ("items", "/api/v1/items"),
        ("json-feed", "/feeds/json"),
        ("log", "/api/v1/log"),
        ("websub-hub", "/websub"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), format!("{base}{v}")))
    .collect();
    Descriptor {
        ipsp: 1,
        record_type: RecordType::Descriptor,
        origin: node("bo-y-te"),
        name: names("Bộ Y tế", "Ministry of Health"),
        url: base.into(),
        keys: vec![MOH.grant()],
        endpoints,
        heartbeat: 3600,
        log_size: 12,
        time: at(0),
    }
}

pub(crate) fn roster() -> Roster {
    Roster {
        ipsp: 1,
        record_type: RecordType::Roster,
        origin: node("chinh-phu"),
        serial: 3,
        members: vec![
            Member {
                id: node("bo-tai-chinh"),
                url: "https://mof.example.gov.vn".into(),
                name: names("Bộ Tài chính", "Ministry of Finance"),
                status: MemberStatus::Active,
                keys: vec![MOF.grant()],
            },
            Member {
                id: node("bo-y-te"),
                url: "https://moh.example.gov.vn".into(),
                name: names("Bộ Y tế", "Ministry of Health"),
                status: MemberStatus::Active,
                keys: vec![MOH.grant()],
            },
        ],
        time: at(0),
    }
}

pub(crate) fn receipt(record: Digest, member_index: u64, log_index: u64) -> Receipt {
    Receipt {
        ipsp: 1,
        record_type: RecordType::Receipt,
        origin: node("chinh-phu"),
        log_index,
        member: node("bo-y-te"),
        member_index,
        record,
        checkpoint: CheckpointRef {
            size: member_index + 1,
            root: "LYHYy3rz8nSqc1C/Z8bSZHA0xk3TDtL8ZM0YlNG/ZOk=".into(),
        },
        time: at(log_index + 1),
    }
}

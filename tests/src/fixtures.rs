//! Keys from fixed seeds and the records built from them: everything here is a pure function
//! of its arguments (no clock, no randomness), so vectors generated from it are byte-identical
//! on every machine, and a test that signs with [`MOH`] is checked against the same key as the
//! committed `proto-spec/vectors/keys.json`. [`now`] is the one exception, named so.

use std::collections::BTreeMap;

use portal_proto::checkpoint::{self, Checkpoint};
use portal_proto::crypto::{PublicKey, Signer, encode_base64};
use portal_proto::envelope::{self, SignedRecord, signing_input};
use portal_proto::feed::{ArchiveLinks, FeedMeta};
use portal_proto::ids::{Digest, ItemId, Lang, NodeId};
use portal_proto::merkle::{self, Hash};
use portal_proto::record::*;
use portal_proto::time::{Date, Timestamp};
use portal_proto::verifier::checkpoint_origin;
use serde_json::{Value, json};

/// A named test key: an Ed25519 seed that is public, so never to be used outside tests.
#[derive(Clone, Copy, Debug)]
pub struct TestKey {
    /// What the key stands for (printed in `keys.json`).
    pub name: &'static str,
    /// The Ed25519 seed.
    pub seed: [u8; 32],
}

/// The Ministry of Health's first key (`bo-y-te`).
pub const MOH: TestKey = TestKey { name: "bo-y-te key 1", seed: [0x11; 32] };
/// The Ministry of Health's second key, the target of the vectors' rotation.
pub const MOH2: TestKey = TestKey { name: "bo-y-te key 2 (rotation)", seed: [0x12; 32] };
/// The Ministry of Finance's key (`bo-tai-chinh`).
pub const MOF: TestKey = TestKey { name: "bo-tai-chinh key", seed: [0x21; 32] };
/// The central node's key (`chinh-phu`).
pub const CENTRAL: TestKey = TestKey { name: "chinh-phu key", seed: [0x01; 32] };
/// A key nobody trusts.
pub const MALLORY: TestKey = TestKey { name: "attacker key", seed: [0x66; 32] };
/// Every named key, in the order of `keys.json`.
pub const ALL_KEYS: [&TestKey; 5] = [&MOH, &MOH2, &MOF, &CENTRAL, &MALLORY];

impl TestKey {
    /// The signer of this seed.
    pub fn signer(&self) -> Signer {
        Signer::from_seed(self.seed)
    }

    /// Its public key.
    pub fn public_key(&self) -> PublicKey {
        self.signer().public_key()
    }

    /// The key pinned from index 0, as a trust grant.
    pub fn grant(&self) -> KeyGrant {
        KeyGrant::pinned(self.public_key())
    }

    /// `ORIGIN=KEY`, as `portal verify --trust` takes it.
    pub fn trust_arg(&self, origin: &str) -> String {
        format!("{origin}={}", self.public_key().to_base64())
    }
}

/// The `k`-th key of a numbered series (the bench's fake members): seed `[7; 32]` with `k`
/// big-endian in its first 8 bytes.
pub fn numbered_key(k: u64) -> TestKey {
    let mut seed = [7u8; 32];
    seed[..8].copy_from_slice(&k.to_be_bytes());
    TestKey { name: "numbered key", seed }
}

/// A node id that the fixtures know to be valid.
pub fn node(id: &str) -> NodeId {
    NodeId::new(id).expect("fixture node ids are valid")
}

/// A language tag that the fixtures know to be valid.
pub fn lang(tag: &str) -> Lang {
    Lang::new(tag).expect("fixture language tags are valid")
}

/// The item id made of sixteen bytes `n`.
pub fn item_id(n: u8) -> ItemId {
    ItemId::from_random([n; 16])
}

/// 2026-11-28T09:00:00Z, the fixtures' epoch, in Unix seconds.
pub const T0: u64 = 1_795_856_400;

/// [`T0`] plus `minutes`.
pub fn at(minutes: u64) -> Timestamp {
    at_second(minutes * 60)
}

/// [`T0`] plus `seconds`.
pub fn at_second(seconds: u64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds).expect("fixture times are in range")
}

/// A calendar date that the fixtures know to be valid.
pub fn date(s: &str) -> Date {
    Date::parse(s).expect("fixture dates are valid")
}

/// The wall clock, as the protocol's timestamp: for checking what a live node signed (a
/// checkpoint's age, a request signature's skew). Never used to build a fixture.
pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    Timestamp::from_unix(secs).expect("now is in range")
}

/// The smallest valid item: version 1 of a Vietnamese news item with no optional field, its
/// text a placeholder. Builders below and the tests' own set what they need on top.
pub fn item(origin: NodeId, log_index: u64, id: ItemId, time: Timestamp) -> ItemVersion {
    ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin,
        log_index,
        id,
        version: 1,
        prev: None,
        update: None,
        kind: ItemKind::News,
        language: lang("vi"),
        title: format!("Tin số {log_index}"),
        summary: "Tóm tắt.".into(),
        content_html: "<p>Nội dung.</p>".into(),
        translations: BTreeMap::new(),
        categories: vec![],
        attachments: vec![],
        legal: None,
        published: time,
        updated: time,
    }
}

/// News item `id`, version 1, in Vietnamese with an English translation, at [`at`]`(log_index)`.
pub fn news(origin: &str, log_index: u64, id: u8) -> ItemVersion {
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
        title: "Bộ Y tế khuyến cáo phòng chống sốt xuất huyết mùa mưa".into(),
        summary: "Các hộ gia đình cần loại bỏ nước đọng hằng tuần.".into(),
        content_html: "<p>Các hộ gia đình cần loại bỏ nước đọng hằng tuần và đi khám ngay khi có \
                       dấu hiệu sốt.</p>"
            .into(),
        translations,
        categories: vec!["suc-khoe".into(), "y-te-du-phong".into()],
        ..item(node(origin), log_index, item_id(id), at(log_index))
    }
}

/// The benchmark's item record (about 1.5 KB signed): `origin`'s entry `i`, version 1.
pub fn bulletin(origin: NodeId, i: usize, id: ItemId, time: Timestamp) -> ItemVersion {
    ItemVersion {
        title: format!("Bộ Y tế hướng dẫn phòng chống dịch bệnh mùa mưa, bản tin số {i}"),
        summary:
            "Các hộ gia đình cần loại bỏ nước đọng hằng tuần và đi khám ngay khi có dấu hiệu sốt."
                .into(),
        content_html: "<p>Theo Cục Y tế dự phòng, số ca mắc sốt xuất huyết tăng trong tháng qua. \
            Người dân cần diệt bọ gậy, loại bỏ dụng cụ chứa nước đọng, ngủ màn kể cả ban ngày, \
            và đến cơ sở y tế ngay khi có dấu hiệu sốt cao liên tục.</p>"
            .repeat(3),
        categories: vec!["suc-khoe".into(), "y-te-du-phong".into()],
        ..item(origin, i as u64, id, time)
    }
}

/// A correction of `prev` (version + 1).
pub fn correction(prev: &ItemVersion, prev_digest: Digest, log_index: u64) -> ItemVersion {
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
pub fn decree(origin: &str, log_index: u64, id: u8) -> ItemVersion {
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

/// The withdrawal of `item` (whose signed bytes have `digest`) in `state`.
pub fn withdrawal(
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

/// A rotation to `new`, effective from the next index.
pub fn rotation(origin: &str, log_index: u64, new: &TestKey) -> KeyEvent {
    let pk = new.public_key();
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

/// A revocation of `key` from `from_index`.
pub fn revocation(origin: &str, log_index: u64, key: &TestKey, from_index: u64) -> KeyEvent {
    KeyEvent {
        ipsp: 1,
        record_type: RecordType::KeyEvent,
        origin: node(origin),
        log_index,
        event: KeyEventKind::Revoke,
        kid: key.public_key().key_id(),
        public_key: None,
        from_index,
        reason: "Key material exposed on a decommissioned server".into(),
        time: at(log_index),
    }
}

/// A node's names in Vietnamese and English.
pub fn names(vi: &str, en: &str) -> BTreeMap<Lang, String> {
    BTreeMap::from([(lang("en"), en.to_owned()), (lang("vi"), vi.to_owned())])
}

/// The path of the descriptor endpoint `name` (SPEC.md §8), from `portal_proto::api::paths`.
pub fn endpoint(name: &str) -> &'static str {
    portal_proto::api::paths::named(name).expect("a known endpoint")
}

/// The descriptor's endpoint table at `base` for the endpoints `names`.
pub fn endpoints(base: &str, names: &[&str]) -> BTreeMap<String, String> {
    names.iter().map(|n| ((*n).to_owned(), format!("{base}{}", endpoint(n)))).collect()
}

/// The endpoints every node declares (an aggregator declares more).
pub fn node_endpoints(base: &str) -> BTreeMap<String, String> {
    portal_proto::api::paths::descriptor_endpoints(base, false)
}

/// The descriptor of `bo-y-te` at `https://moh.example.gov.vn`, listing [`MOH`].
pub fn descriptor() -> Descriptor {
    let base = "https://moh.example.gov.vn";
    Descriptor {
        ipsp: 1,
        record_type: RecordType::Descriptor,
        origin: node("bo-y-te"),
        name: names("Bộ Y tế", "Ministry of Health"),
        url: base.into(),
        keys: vec![MOH.grant()],
        endpoints: node_endpoints(base),
        heartbeat: 3600,
        log_size: 12,
        time: at(0),
    }
}

/// The federation roster, serial 3: `bo-tai-chinh` and `bo-y-te`, pinned.
pub fn roster() -> Roster {
    let member = |id: &str, url: &str, vi: &str, en: &str, key: &TestKey| Member {
        id: node(id),
        url: url.into(),
        name: names(vi, en),
        status: MemberStatus::Active,
        keys: vec![key.grant()],
    };
    Roster {
        ipsp: 1,
        record_type: RecordType::Roster,
        origin: node("chinh-phu"),
        serial: 3,
        members: vec![
            member(
                "bo-tai-chinh",
                "https://mof.example.gov.vn",
                "Bộ Tài chính",
                "Ministry of Finance",
                &MOF,
            ),
            member("bo-y-te", "https://moh.example.gov.vn", "Bộ Y tế", "Ministry of Health", &MOH),
        ],
        time: at(0),
    }
}

/// The central's receipt for `bo-y-te`'s record `member_index` (digest `record`).
pub fn receipt(record: Digest, member_index: u64, log_index: u64) -> Receipt {
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

/// `r` signed by `key`.
pub fn sign<R: RecordBody>(r: &R, key: &TestKey) -> SignedRecord {
    envelope::sign(r, &key.signer()).expect("fixture records are valid")
}

/// Arbitrary bytes signed as a record of type `t` (for invalid vectors whose signature must
/// be good).
pub fn sign_raw(t: RecordType, bytes: Vec<u8>, key: &TestKey) -> SignedRecord {
    let signer = key.signer();
    let sig = signer.sign(&signing_input(t, &bytes));
    SignedRecord::from_parts(bytes, signer.public_key().key_id(), sig)
}

/// `bo-y-te`'s six-entry history: news item A v1 (0), alert B (1), A v2 (2), rotation to
/// [`MOH2`] (3), news C by key 2 (4), A's withdrawal by key 2 (5).
pub fn history_with_rotation() -> Vec<SignedRecord> {
    let n = news("bo-y-te", 0, 1);
    let s0 = sign(&n, &MOH);
    let mut a = news("bo-y-te", 1, 3);
    a.kind = ItemKind::Alert;
    let s1 = sign(&a, &MOH);
    let c = correction(&n, s0.digest(), 2);
    let s2 = sign(&c, &MOH);
    let s3 = sign(&rotation("bo-y-te", 3, &MOH2), &MOH);
    let s4 = sign(&news("bo-y-te", 4, 4), &MOH2);
    let s5 = sign(&withdrawal(&c, s2.digest(), 5, WithdrawalState::Withdrawn), &MOH2);
    vec![s0, s1, s2, s3, s4, s5]
}

/// The leaf hashes of `entries`.
pub fn leaves(entries: &[SignedRecord]) -> Vec<Hash> {
    entries.iter().map(SignedRecord::leaf_hash).collect()
}

/// `bo-y-te`'s checkpoint note of `size` and `root`, dated [`at`]`(minute)`, signed by `key`.
pub fn checkpoint_note(size: u64, root: Hash, minute: u64, key: &TestKey) -> String {
    checkpoint_note_for("bo-y-te", size, root, minute, key)
}

/// The same for `origin`.
pub fn checkpoint_note_for(
    origin: &str,
    size: u64,
    root: Hash,
    minute: u64,
    key: &TestKey,
) -> String {
    let cp = Checkpoint::with_time(checkpoint_origin(&node(origin)), size, root, at(minute).unix());
    checkpoint::sign_checkpoint(&cp, &cp.origin, &key.signer()).expect("fixture checkpoints sign")
}

/// The feed metadata of `bo-y-te`'s latest Atom page, or of archive 0.
pub fn feed_meta(is_archive: bool) -> FeedMeta {
    FeedMeta {
        feed_id: "urn:ipsp:bo-y-te:feed".into(),
        title: "Bộ Y tế — Ministry of Health".into(),
        author: "Bộ Y tế".into(),
        self_url: if is_archive {
            "https://moh.example.gov.vn/feeds/atom/archive/0".into()
        } else {
            "https://moh.example.gov.vn/feeds/atom".into()
        },
        alternate_url: "https://moh.example.gov.vn/".into(),
        updated: at(3),
        archive: ArchiveLinks {
            is_archive,
            current: is_archive.then(|| "https://moh.example.gov.vn/feeds/atom".to_owned()),
            prev_archive: None,
            next_archive: None,
            next_page: None,
        },
        item_url: "https://moh.example.gov.vn/items/{id}".into(),
    }
}

/// One entry of a log page (`GET /api/v1/log`): the envelope and its `index`.
pub fn log_entry(index: u64, s: &SignedRecord) -> Value {
    json!({"index": index, "kid": s.kid().to_string(), "record": s.record_base64(),
           "sig": s.sig_base64()})
}

/// A log page as a node serves it (`portal-node`'s `log_page`), with the entries given as
/// (index, envelope).
pub fn log_page(
    origin: &str,
    (start, size): (u64, u64),
    entries: &[(u64, &SignedRecord)],
    checkpoint: &str,
    next: Option<String>,
) -> Value {
    let mut body = json!({
        "origin": origin,
        "start": start,
        "size": size,
        "entries": entries.iter().map(|(i, s)| log_entry(*i, s)).collect::<Vec<_>>(),
        "checkpoint": checkpoint,
    });
    if let Some(next) = next {
        body["next"] = json!(next);
    }
    body
}

/// A proof answer (`/api/v1/proof/…`): two named numbers and the hashes.
pub fn proof_body(names: (&str, &str), values: (u64, u64), proof: &[Hash]) -> Value {
    let hashes: Vec<String> = proof.iter().map(|h| encode_base64(h)).collect();
    json!({names.0: values.0, names.1: values.1, "proof": hashes})
}

/// The root of `entries`, as a checkpoint carries it.
pub fn root(entries: &[SignedRecord]) -> Hash {
    merkle::root_from_leaf_hashes(&leaves(entries))
}

/// A vector's `trust` member: origin → its grants.
pub fn trust_json(entries: &[(&str, Vec<KeyGrant>)]) -> Value {
    let m: serde_json::Map<String, Value> = entries
        .iter()
        .map(|(origin, grants)| {
            ((*origin).to_owned(), serde_json::to_value(grants).expect("grants serialise"))
        })
        .collect();
    Value::Object(m)
}

/// `note` with one bit flipped in the `nth` signature line named `key_name`.
pub fn flip_note_signature(note: &str, key_name: &str, nth: usize) -> String {
    let mut parsed = checkpoint::SignedNote::parse(note).expect("a signed note");
    let sig = parsed
        .signatures
        .iter_mut()
        .filter(|s| s.name == key_name)
        .nth(nth)
        .expect("the signature line");
    let last = sig.signature.len() - 1;
    sig.signature[last] ^= 0x01;
    parsed.format()
}

//! Feed encodings: round trips through Atom and JSON Feed, snapshots, tampering, hostile HTML,
//! decoder limits, fuzzing, and the feedvalidator and feedparser-sanitize corpora.

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use portal_proto::crypto::Signer;
use portal_proto::envelope::{self, TrustStore};
use portal_proto::feed::{
    ArchiveLinks, DecodedFeed, FeedError, FeedMeta, Visible, check_visible, decode_atom,
    decode_json, encode_atom, encode_json, entry_id, verify_entries,
};
use portal_proto::html::{html_to_text, sanitize_html};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::limits::{MAX_FEED_BYTES, MAX_PAGE_ENTRIES};
use portal_proto::record::{
    ItemKind, ItemVersion, KeyEvent, KeyEventKind, KeyGrant, LegalMeta, Record, RecordType, Update,
    UpdateType, Withdrawal, WithdrawalState,
};
use portal_proto::time::{Date, Timestamp};
use portal_proto::{Rejection, SignedRecord};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Fixtures

fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

fn origin() -> NodeId {
    NodeId::new("bo-y-te").unwrap()
}

fn signer() -> Signer {
    Signer::from_seed([7; 32])
}

fn trust() -> TrustStore {
    let mut t = TrustStore::new();
    t.add(origin(), KeyGrant::pinned(signer().public_key()));
    t
}

#[allow(clippy::too_many_arguments)]
fn item(
    log_index: u64,
    id: u8,
    kind: ItemKind,
    lang: &str,
    title: &str,
    summary: &str,
    content_html: &str,
    categories: &[&str],
    time: &str,
) -> ItemVersion {
    ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin: origin(),
        log_index,
        id: ItemId::from_random([id; 16]),
        version: 1,
        prev: None,
        update: None,
        kind,
        language: Lang::new(lang).unwrap(),
        title: title.into(),
        summary: summary.into(),
        content_html: content_html.into(),
        translations: Default::default(),
        categories: categories.iter().map(|c| (*c).to_owned()).collect(),
        attachments: vec![],
        legal: None,
        published: ts(time),
        updated: ts(time),
    }
}

fn sign<R: portal_proto::record::RecordBody>(r: &R) -> SignedRecord {
    envelope::sign(r, &signer()).unwrap()
}

/// Vietnamese news, English announcement, a legal document, a correction (version 2 of the
/// news) and the withdrawal of the announcement, in log order.
struct Fixture {
    news: ItemVersion,
    announcement: ItemVersion,
    records: Vec<SignedRecord>,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let news = item(
        0,
        1,
        ItemKind::News,
        "vi",
        "Bộ Y tế khuyến cáo phòng chống sốt xuất huyết",
        "Người dân cần chủ động diệt lăng quăng, bọ gậy trong mùa mưa.",
        "<p>Theo <strong>Cục Phòng bệnh</strong>, số ca mắc tăng 20%.</p>\
         <ul><li>Đậy kín dụng cụ chứa nước</li><li>Ngủ màn</li></ul>\
         <p>Xem <a href=\"https://moh.example/huong-dan\">hướng dẫn</a>.</p>",
        &["dịch bệnh", "sức khỏe"],
        "2026-11-28T09:00:00Z",
    );
    let announcement = item(
        1,
        2,
        ItemKind::Announcement,
        "en",
        "Ministry of Health opens vaccination registration",
        "",
        "<p>Registration opens on <em>1 December</em>.</p>",
        &[],
        "2026-11-28T10:00:00Z",
    );
    let mut legal = item(
        2,
        3,
        ItemKind::Legal,
        "vi",
        "Nghị định 15/2026/NĐ-CP quy định xử phạt vi phạm hành chính trong lĩnh vực y tế",
        "Nghị định có hiệu lực từ 01/01/2027.",
        "<h2>Chương I</h2><p>Điều 1. Phạm vi điều chỉnh</p>\
         <table><tr><th>Hành vi</th><th>Mức phạt</th></tr><tr><td>Không khai báo</td><td>1–3 triệu đồng</td></tr></table>",
        &["văn bản pháp luật"],
        "2026-11-28T11:00:00Z",
    );
    legal.legal = Some(LegalMeta {
        number: "15/2026/NĐ-CP".into(),
        issuer: "Chính phủ".into(),
        signer: "Thủ tướng Chính phủ".into(),
        issued: Date::new(2026, 11, 20).unwrap(),
        effective: Date::new(2027, 1, 1).unwrap(),
        expires: None,
    });
    let news_signed = sign(&news);
    let announcement_signed = sign(&announcement);
    let legal_signed = sign(&legal);

    let mut correction = news.clone();
    correction.log_index = 3;
    correction.version = 2;
    correction.prev = Some(news_signed.digest());
    correction.update =
        Some(Update { update_type: UpdateType::Minor, note: "Sửa số liệu: 25%.".into() });
    correction.content_html = correction.content_html.replace("20%", "25%");
    correction.updated = ts("2026-11-28T15:30:00Z");
    let correction_signed = sign(&correction);

    let withdrawal = Withdrawal {
        ipsp: 1,
        record_type: RecordType::Withdrawal,
        origin: origin(),
        log_index: 4,
        id: announcement.id.clone(),
        version: 1,
        prev: announcement_signed.digest(),
        state: WithdrawalState::Withdrawn,
        explanation: "Thông báo đăng nhầm ngày; xem thông báo mới.".into(),
        redirect: None,
        time: ts("2026-11-29T08:00:00Z"),
    };
    let withdrawal_signed = sign(&withdrawal);
    Fixture {
        news,
        announcement,
        records: vec![
            news_signed,
            announcement_signed,
            legal_signed,
            correction_signed,
            withdrawal_signed,
        ],
    }
});

fn meta() -> FeedMeta {
    FeedMeta {
        feed_id: "urn:ipsp:bo-y-te:feed".into(),
        title: "Bộ Y tế — Tin tức".into(),
        author: "Bộ Y tế".into(),
        self_url: "https://moh.example/feeds/atom".into(),
        alternate_url: "https://moh.example/".into(),
        updated: ts("2026-11-29T08:00:00Z"),
        archive: ArchiveLinks {
            is_archive: false,
            current: None,
            prev_archive: Some("https://moh.example/feeds/atom/archive/0".into()),
            next_archive: None,
            next_page: Some("https://moh.example/feeds/atom?page=2".into()),
        },
        item_url: "https://moh.example/items/{id}".into(),
    }
}

fn archive_meta() -> FeedMeta {
    FeedMeta {
        self_url: "https://moh.example/feeds/atom/archive/1".into(),
        archive: ArchiveLinks {
            is_archive: true,
            current: Some("https://moh.example/feeds/atom".into()),
            prev_archive: Some("https://moh.example/feeds/atom/archive/0".into()),
            next_archive: Some("https://moh.example/feeds/atom/archive/2".into()),
            next_page: None,
        },
        ..meta()
    }
}

static ATOM: LazyLock<String> = LazyLock::new(|| encode_atom(&meta(), &FIXTURE.records).unwrap());
static JSON: LazyLock<String> =
    LazyLock::new(|| encode_json(&json_meta(), &FIXTURE.records).unwrap());

fn json_meta() -> FeedMeta {
    FeedMeta {
        self_url: "https://moh.example/feeds/json".into(),
        archive: ArchiveLinks {
            prev_archive: Some("https://moh.example/feeds/json/archive/0".into()),
            next_page: Some("https://moh.example/feeds/json?page=2".into()),
            ..meta().archive
        },
        ..meta()
    }
}

fn codes(feed: &DecodedFeed) -> Vec<&'static str> {
    verify_entries(feed, &trust())
        .iter()
        .map(|r| r.as_ref().map_or_else(Rejection::code, |_| "ok"))
        .collect()
}

fn code<T: std::fmt::Debug>(r: Result<T, Rejection>) -> &'static str {
    r.map_or_else(|e| e.code(), |v| panic!("expected a rejection, got {v:?}"))
}

// ---------------------------------------------------------------------------------------------
// Round trips and snapshots

#[test]
fn atom_round_trip_verifies() {
    let feed = decode_atom(ATOM.as_bytes()).unwrap();
    assert_eq!(feed.id, "urn:ipsp:bo-y-te:feed");
    assert_eq!(feed.title, "Bộ Y tế — Tin tức");
    assert!(!feed.is_archive);
    assert_eq!(feed.link("self"), Some("https://moh.example/feeds/atom"));
    assert_eq!(feed.link("alternate"), Some("https://moh.example/"));
    assert_eq!(feed.link("next"), Some("https://moh.example/feeds/atom?page=2"));
    assert_eq!(feed.link("prev-archive"), Some("https://moh.example/feeds/atom/archive/0"));
    // Items first, then tombstones; the fixture's withdrawal is last anyway.
    let signed: Vec<&SignedRecord> = feed.entries.iter().map(|e| &e.signed).collect();
    assert_eq!(signed, FIXTURE.records.iter().collect::<Vec<_>>());
    let results = verify_entries(&feed, &trust());
    assert_eq!(results.len(), 5);
    for r in &results {
        assert!(r.is_ok(), "{r:?}");
    }
    assert!(matches!(results[4].as_ref().unwrap().record(), Record::Withdrawal(_)));
    let Visible::Entry { id, language, link, categories, .. } = &feed.entries[0].visible else {
        panic!()
    };
    assert_eq!(*id, entry_id(&FIXTURE.news.origin, &FIXTURE.news.id));
    assert_eq!(language.as_deref(), Some("vi"));
    assert_eq!(
        link.as_deref(),
        Some(format!("https://moh.example/items/{}", FIXTURE.news.id).as_str())
    );
    assert_eq!(*categories, ["dịch bệnh", "sức khỏe"]);
    // Version 2 of the news has the same entry id as version 1.
    let Visible::Entry { id: id2, .. } = &feed.entries[3].visible else { panic!() };
    assert_eq!(id, id2);
}

#[test]
fn json_round_trip_verifies() {
    let feed = decode_json(JSON.as_bytes()).unwrap();
    assert_eq!(feed.id, "urn:ipsp:bo-y-te:feed");
    assert_eq!(feed.title, "Bộ Y tế — Tin tức");
    assert_eq!(feed.link("next"), Some("https://moh.example/feeds/json?page=2"));
    assert_eq!(feed.link("self"), Some("https://moh.example/feeds/json"));
    assert_eq!(feed.link("prev-archive"), Some("https://moh.example/feeds/json/archive/0"));
    let signed: Vec<&SignedRecord> = feed.entries.iter().map(|e| &e.signed).collect();
    assert_eq!(signed, FIXTURE.records.iter().collect::<Vec<_>>());
    assert_eq!(codes(&feed), ["ok"; 5]);
    let Visible::Tombstone { title, comment, .. } = &feed.entries[4].visible else { panic!() };
    assert_eq!(title.as_deref(), Some("Withdrawn"));
    assert_eq!(comment.as_deref(), Some("Thông báo đăng nhầm ngày; xem thông báo mới."));
}

#[test]
fn archive_pages_round_trip() {
    let atom =
        decode_atom(encode_atom(&archive_meta(), &FIXTURE.records).unwrap().as_bytes()).unwrap();
    let json =
        decode_json(encode_json(&archive_meta(), &FIXTURE.records).unwrap().as_bytes()).unwrap();
    for feed in [&atom, &json] {
        assert!(feed.is_archive);
        assert_eq!(feed.link("current"), Some("https://moh.example/feeds/atom"));
        assert_eq!(feed.link("prev-archive"), Some("https://moh.example/feeds/atom/archive/0"));
        assert_eq!(feed.link("next-archive"), Some("https://moh.example/feeds/atom/archive/2"));
        assert_eq!(feed.link("next"), None);
        assert_eq!(codes(feed), ["ok"; 5]);
    }
}

#[test]
fn empty_feeds_round_trip() {
    for feed in [
        decode_atom(encode_atom(&meta(), &[]).unwrap().as_bytes()).unwrap(),
        decode_json(encode_json(&meta(), &[]).unwrap().as_bytes()).unwrap(),
    ] {
        assert!(feed.entries.is_empty());
    }
}

#[test]
fn whitespace_that_xml_normalises_still_verifies() {
    // A tab in a category becomes a space in an XML attribute; surrounding whitespace of an
    // explanation is dropped by extension-element parsers. Neither is a mismatch.
    let mut odd = item(
        0,
        5,
        ItemKind::News,
        "vi",
        "Tiêu đề\nhai dòng",
        "",
        "",
        &["a\tb", "c\nd"],
        "2026-11-28T09:00:00Z",
    );
    odd.summary = "  tóm tắt  ".into();
    let odd_signed = sign(&odd);
    let withdrawal = Withdrawal {
        ipsp: 1,
        record_type: RecordType::Withdrawal,
        origin: origin(),
        log_index: 1,
        id: odd.id.clone(),
        version: 1,
        prev: odd_signed.digest(),
        state: WithdrawalState::Gone,
        explanation: "\n  Đăng nhầm.  \n".into(),
        redirect: None,
        time: ts("2026-11-29T00:00:00Z"),
    };
    let records = [odd_signed, sign(&withdrawal)];
    let atom = decode_atom(encode_atom(&meta(), &records).unwrap().as_bytes()).unwrap();
    assert_eq!(codes(&atom), ["ok", "ok"]);
    let json = decode_json(encode_json(&meta(), &records).unwrap().as_bytes()).unwrap();
    assert_eq!(codes(&json), ["ok", "ok"]);
    let Visible::Tombstone { title, .. } = &json.entries[1].visible else { panic!() };
    assert_eq!(title.as_deref(), Some("Gone"));
}

#[test]
fn encoders_are_deterministic() {
    assert_eq!(encode_atom(&meta(), &FIXTURE.records).unwrap(), *ATOM);
    assert_eq!(encode_json(&json_meta(), &FIXTURE.records).unwrap(), *JSON);
}

#[test]
fn atom_snapshot() {
    insta::assert_snapshot!("atom_feed", *ATOM);
}

#[test]
fn json_snapshot() {
    insta::assert_snapshot!("json_feed", *JSON);
}

#[test]
fn atom_archive_snapshot() {
    insta::assert_snapshot!(
        "atom_archive",
        encode_atom(&archive_meta(), &FIXTURE.records[4..]).unwrap()
    );
}

#[test]
fn atom_output_is_plain_atom() {
    let feed = atom_syndication::Feed::read_from(ATOM.as_bytes()).unwrap();
    assert_eq!(feed.entries().len(), 4);
    let epoch =
        atom_syndication::FixedDateTime::parse_from_rfc3339("1970-01-01T00:00:00Z").unwrap();
    for e in feed.entries() {
        assert!(e.id().starts_with("urn:ipsp:bo-y-te:"), "{}", e.id());
        assert!(!e.title().is_empty());
        assert_ne!(*e.updated(), epoch);
        assert!(e.published().is_some());
        assert_eq!(e.content().and_then(|c| c.content_type()), Some("html"));
    }
    assert_eq!(feed.generator().map(|g| g.value()), Some("Portal Federation"));
    assert_eq!(feed.authors()[0].name(), "Bộ Y tế");
    let tombstones = &feed.extensions()["at"]["deleted-entry"];
    assert_eq!(tombstones.len(), 1);
    assert_eq!(
        tombstones[0].attrs()["ref"],
        entry_id(&FIXTURE.announcement.origin, &FIXTURE.announcement.id)
    );
}

#[test]
fn json_output_is_plain_json_feed() {
    let v: serde_json::Value = serde_json::from_str(&JSON).unwrap();
    assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
    assert_eq!(v["home_page_url"], "https://moh.example/");
    assert_eq!(v["authors"][0]["name"], "Bộ Y tế");
    let items = v["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    for i in items {
        assert!(i["id"].is_string() && i["url"].is_string() && i["title"].is_string());
        assert!(i["content_html"].is_string() || i["content_text"].is_string());
        // The envelope is exactly the JSON envelope of envelope.rs (plus the withdrawal flag).
        let mut env = i["_ipsp"].clone();
        env.as_object_mut().unwrap().remove("withdrawal");
        let parsed = SignedRecord::from_json(env.to_string().as_bytes()).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&parsed.to_json()).unwrap(), env);
    }
    assert_eq!(items[4]["_ipsp"]["withdrawal"], true);
    assert_eq!(items[0]["tags"], serde_json::json!(["dịch bệnh", "sức khỏe"]));
}

// ---------------------------------------------------------------------------------------------
// Encoder errors

#[test]
fn encoder_refuses_other_record_types_and_bad_input() {
    let other = Signer::from_seed([8; 32]);
    let key_event = KeyEvent {
        ipsp: 1,
        record_type: RecordType::KeyEvent,
        origin: origin(),
        log_index: 5,
        event: KeyEventKind::Revoke,
        kid: other.public_key().key_id(),
        public_key: None,
        from_index: 5,
        reason: "Khóa bị lộ.".into(),
        time: ts("2026-11-30T00:00:00Z"),
    };
    let ke = sign(&key_event);
    let mut entries = FIXTURE.records.clone();
    entries.push(ke.clone());
    assert_eq!(
        encode_atom(&meta(), &entries).unwrap_err(),
        FeedError::NotAFeedRecord { index: 5, got: RecordType::KeyEvent }
    );
    assert!(matches!(
        encode_json(&meta(), &entries),
        Err(FeedError::NotAFeedRecord { index: 5, .. })
    ));

    let garbage =
        SignedRecord::from_parts(b"{\"not\":\"a record\"}".to_vec(), ke.kid().clone(), *ke.sig());
    assert!(matches!(
        encode_atom(&meta(), &[garbage]),
        Err(FeedError::InvalidRecord { index: 0, .. })
    ));

    let too_many = vec![FIXTURE.records[0].clone(); MAX_PAGE_ENTRIES + 1];
    assert_eq!(
        encode_json(&meta(), &too_many).unwrap_err(),
        FeedError::TooManyEntries { count: MAX_PAGE_ENTRIES + 1 }
    );

    let bad = FeedMeta { item_url: "https://moh.example/items".into(), ..meta() };
    assert!(matches!(encode_atom(&bad, &[]), Err(FeedError::Meta { field: "item_url", .. })));
    let bad = FeedMeta { self_url: "javascript:alert(1)".into(), ..meta() };
    assert!(matches!(encode_json(&bad, &[]), Err(FeedError::Meta { field: "self_url", .. })));

    // A key event smuggled into a decoded feed is malformed, not a mismatch.
    let mut feed = decode_json(JSON.as_bytes()).unwrap();
    feed.entries[0].signed = ke;
    assert_eq!(codes(&feed)[0], "malformed");
}

mod checks;

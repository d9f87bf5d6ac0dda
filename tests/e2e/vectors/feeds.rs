//! Feed vectors: the latest page and an archive, then tampered and malformed feeds.

use portal_proto::crypto::encode_base64;
use portal_proto::envelope::SignedRecord;
use portal_proto::feed;
use portal_proto::record::*;
use portal_tests::fixtures::*;
use serde_json::{Value, json};

use super::{Gen, moh_trust};

/// The feed vectors' entries and their latest page as Atom and JSON Feed.
struct Feeds {
    n: ItemVersion,
    s0: SignedRecord,
    s1: SignedRecord,
    s2: SignedRecord,
    s3: SignedRecord,
    atom: String,
    jf: String,
}

impl Feeds {
    fn new() -> Feeds {
        let n = news("bo-y-te", 0, 1);
        let s0 = sign(&n, &MOH);
        let s1 = sign(&decree("bo-y-te", 1, 2), &MOH);
        let s2 = sign(&correction(&n, s0.digest(), 2), &MOH);
        let s3 = sign(
            &withdrawal(&decree("bo-y-te", 1, 2), s1.digest(), 3, WithdrawalState::Withdrawn),
            &MOH,
        );
        let entries = vec![s2.clone(), s3.clone()];
        let meta = feed_meta(false);
        let atom = feed::encode_atom(&meta, &entries).expect("atom encodes");
        let jf = feed::encode_json(&meta, &entries).expect("json feed encodes");
        Feeds { n, s0, s1, s2, s3, atom, jf }
    }
}

impl Gen {
    fn feed(
        &mut self,
        name: &str,
        description: &str,
        format: &str,
        trust: Value,
        input: String,
        expect: Value,
    ) {
        let invalid = match &expect {
            Value::String(s) => s != "valid",
            Value::Array(a) => a.iter().any(|e| e != "valid"),
            _ => true,
        };
        let dir = if invalid { "invalid" } else { "valid" };
        self.put(&format!("feeds/{dir}/{name}.json"), json!({
            "description": description, "kind": format, "trust": trust, "input": input, "expect": expect}));
    }

    /// Valid feeds: the latest page as Atom and JSON Feed, and an archive page.
    pub(super) fn feeds_valid(&mut self) {
        let Feeds { s0, s1, atom, jf, .. } = Feeds::new();
        let t = moh_trust();
        self.feed(
            "atom-latest",
            "The latest page: a corrected item (version 2) and a tombstone for a withdrawn decree.",
            "atom",
            t.clone(),
            atom.clone(),
            json!(["valid", "valid"]),
        );
        self.feed(
            "json-feed-latest",
            "The same page as JSON Feed 1.1.",
            "json-feed",
            t.clone(),
            jf.clone(),
            json!(["valid", "valid"]),
        );
        let mut archive = feed_meta(true);
        archive.archive.next_archive =
            Some("https://moh.example.gov.vn/feeds/atom/archive/1".into());
        self.feed(
            "atom-archive",
            "An RFC 5005 archive page (log range 0-2).",
            "atom",
            t.clone(),
            feed::encode_atom(&archive, &[s0.clone(), s1.clone()]).expect("atom"),
            json!(["valid", "valid"]),
        );
    }

    /// Tampered feeds: visible text that differs from the signed record, a forged entry, an
    /// edited embedded record.
    pub(super) fn feeds_tampered(&mut self) {
        let Feeds { n, s0, s2, s3, atom, jf, .. } = Feeds::new();
        let meta = feed_meta(false);
        let t = moh_trust();
        let vi_title = "Bộ Y tế khuyến cáo phòng chống sốt xuất huyết mùa mưa";
        let retitled = atom.replacen(
            &format!(">{vi_title}<"),
            ">Bộ Y tế: dịch bệnh đã được kiểm soát hoàn toàn<",
            1,
        );
        let recontent = jf.replacen("đi khám ngay", "không cần đi khám", 1);
        let recommented = atom.replacen("Superseded by a newer notice<", "Published in error<", 1);
        let forged = sign(&correction(&n, s0.digest(), 2), &MALLORY);
        let forged = feed::encode_atom(&meta, &[forged, s3.clone()]).expect("atom");
        let b64 = s2.record_base64();
        let tampered = String::from_utf8(s2.bytes().to_vec()).expect("utf-8").replacen(
            "hằng tuần",
            "hằng tháng",
            1,
        );
        let retampered = atom.replacen(&b64, &encode_base64(tampered.as_bytes()), 1);
        #[rustfmt::skip]
        let cases = [
            ("atom-title-mismatch", "The visible title differs from the signed record's title.", "atom", retitled, ["feed-mismatch", "valid"]),
            ("json-feed-content-mismatch", "The visible content_html differs from the signed record.", "json-feed", recontent, ["feed-mismatch", "valid"]),
            ("atom-tombstone-comment-mismatch", "The tombstone's comment differs from the signed explanation.", "atom", recommented, ["valid", "feed-mismatch"]),
            ("atom-forged-entry", "An entry signed by an untrusted key.", "atom", forged, ["unknown-key", "valid"]),
            ("atom-tampered-record", "One byte of the embedded signed record changed.", "atom", retampered, ["bad-signature", "valid"]),
        ];
        for (name, desc, format, input, expect) in cases {
            self.feed(name, desc, format, t.clone(), input, json!(expect));
        }
    }

    /// Malformed feeds: a DOCTYPE, an unsigned entry, not XML, not JSON, truncated.
    pub(super) fn feeds_malformed(&mut self) {
        let Feeds { atom, jf, .. } = Feeds::new();
        let t = moh_trust();
        let doctype = atom.replacen("<feed", "<!DOCTYPE feed [<!ENTITY x \"x\">]>\n<feed", 1);
        self.feed(
            "atom-doctype",
            "A DOCTYPE with an entity declaration: refused before parsing.",
            "atom",
            t.clone(),
            doctype,
            json!("doctype"),
        );
        let start = atom.find("<ipsp:record").expect("extension present");
        let end =
            atom[start..].find("</ipsp:record>").expect("closed") + start + "</ipsp:record>".len();
        let unsigned = format!("{}{}", &atom[..start], &atom[end..]);
        self.feed(
            "atom-unsigned-entry",
            "An entry without its ipsp:record: a verifier cannot accept it.",
            "atom",
            t.clone(),
            unsigned,
            json!("malformed"),
        );
        self.feed(
            "atom-not-xml",
            "Not XML.",
            "atom",
            t.clone(),
            "{\"title\": \"not a feed\"}".into(),
            json!("malformed"),
        );
        self.feed(
            "json-feed-not-json",
            "Not JSON.",
            "json-feed",
            t.clone(),
            "<feed/>".into(),
            json!("malformed"),
        );
        let start = jf.find("\"_ipsp\"").expect("ext");
        self.feed(
            "json-feed-truncated",
            "A JSON Feed cut off mid-document.",
            "json-feed",
            t,
            jf[..start].to_owned(),
            json!("malformed"),
        );
    }
}

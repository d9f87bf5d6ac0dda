//! Typed, verified fetches of real signed documents served over 127.0.0.1.

use portal_client::client::{self, endpoint};
use portal_client::{Client, ClientError, FetchPolicy, Fetcher, LogPage};
use portal_proto::crypto::decode_base64;
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::merkle;
use portal_proto::record::KeyGrant;
use portal_proto::verifier::LogVerifier;

use crate::fixtures::*;
use portal_tests::fake::{FakeServer as TestServer, Reply};

fn client() -> Client {
    Client::new(
        Fetcher::new(FetchPolicy { allow_private: true, ..FetchPolicy::default() }).unwrap(),
    )
}

fn code<T: std::fmt::Debug>(result: Result<T, ClientError>) -> &'static str {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.code(),
    }
}

/// A node serving its descriptor, `n` log entries, its checkpoint and proofs.
async fn node(n: u64) -> (TestServer, Vec<SignedRecord>) {
    let server = TestServer::start().await;
    let entries = entries(n);
    let signed = envelope::sign(&descriptor(&server.base()), &key()).unwrap();
    server.route("/.well-known/portal-node", Reply::json(signed.to_json()));
    server
        .route("/api/v1/checkpoint", Reply::ok("text/plain; charset=utf-8", checkpoint(&entries)));
    (server, entries)
}

#[tokio::test]
async fn a_valid_descriptor_verifies() {
    let (server, _) = node(0).await;
    let verified = client().descriptor(&server.url("/")).await.unwrap();
    let d = verified.record();
    assert_eq!(d.origin.as_str(), NODE);
    assert_eq!(d.url, server.base());
    assert_eq!(endpoint(d, "log").unwrap(), server.url("/api/v1/log"));
    assert_eq!(code(endpoint(d, "nope")), "malformed");
    // With a base that has a trailing path slash too.
    assert!(client().descriptor(&server.url("")).await.is_ok());

    // Pinned: the right key verifies, another key does not.
    let mut pinned = TrustStore::new();
    pinned.add(node_id(NODE), KeyGrant::pinned(key().public_key()));
    assert!(client().descriptor_pinned(&server.url("/"), &pinned).await.is_ok());
    let mut wrong = TrustStore::new();
    wrong.add(node_id(NODE), KeyGrant::pinned(other_key().public_key()));
    assert_eq!(code(client().descriptor_pinned(&server.url("/"), &wrong).await), "unknown-key");
    assert_eq!(
        code(client().descriptor_pinned(&server.url("/"), &TrustStore::new()).await),
        "unknown-origin"
    );
}

#[tokio::test]
async fn a_descriptor_signed_by_a_key_it_does_not_list_is_refused() {
    let server = TestServer::start().await;
    let d = descriptor(&server.base());
    // Signed by another key, claiming the listed key's id: the signature does not verify.
    let forged = envelope::sign(&d, &other_key()).unwrap();
    let claimed = SignedRecord::from_parts(
        forged.bytes().to_vec(),
        key().public_key().key_id(),
        *forged.sig(),
    );
    server.route("/.well-known/portal-node", Reply::json(claimed.to_json()));
    let e = client().descriptor(&server.url("/")).await.unwrap_err();
    assert_eq!(e.code(), "bad-signature", "{e}");
    assert!(matches!(e, ClientError::Rejected { .. }));
    // Signed by another key under its own id: not one the descriptor lists.
    server.route("/.well-known/portal-node", Reply::json(forged.to_json()));
    assert_eq!(code(client().descriptor(&server.url("/")).await), "unknown-key");
}

#[tokio::test]
async fn a_descriptor_of_another_origin_is_refused() {
    let server = TestServer::start().await;
    for base in ["https://byt.gov.vn", "http://127.0.0.1:1"] {
        let signed = envelope::sign(&descriptor(base), &key()).unwrap();
        server.route("/.well-known/portal-node", Reply::json(signed.to_json()));
        let e = client().descriptor(&server.url("/")).await.unwrap_err();
        assert_eq!(e.code(), "wrong-origin", "{base}: {e}");
    }
}

#[tokio::test]
async fn a_record_of_another_type_is_wrong_type() {
    let server = TestServer::start().await;
    let item = envelope::sign(&news(0), &key()).unwrap();
    server.route("/.well-known/portal-node", Reply::json(item.to_json()));
    server.route("/api/v1/roster", Reply::json(item.to_json()));
    assert_eq!(code(client().descriptor(&server.url("/")).await), "wrong-type");
    let mut central = TrustStore::new();
    central.add(node_id(NODE), KeyGrant::pinned(key().public_key()));
    assert_eq!(code(client().roster(&server.url("/api/v1/roster"), &central).await), "wrong-type");
}

#[tokio::test]
async fn envelopes_that_do_not_decode_are_malformed() {
    let server = TestServer::start().await;
    server.route("/.well-known/portal-node", Reply::json("{\"kid\":\"x\"}"));
    assert_eq!(code(client().descriptor(&server.url("/")).await), "malformed");
    server.route("/.well-known/portal-node", Reply::ok("text/html", "<html>"));
    assert_eq!(code(client().descriptor(&server.url("/")).await), "malformed");
    server.route("/.well-known/portal-node", Reply::status(503));
    assert_eq!(code(client().descriptor(&server.url("/")).await), "http-status");
}

#[tokio::test]
async fn a_roster_verifies_under_the_central_key() {
    let server = TestServer::start().await;
    let signed = envelope::sign(&roster("https://byt.gov.vn"), &central_key()).unwrap();
    server.route("/api/v1/roster", Reply::json(signed.to_json()));
    let mut central = TrustStore::new();
    central.add(node_id(CENTRAL), KeyGrant::pinned(central_key().public_key()));
    let verified = client().roster(&server.url("/api/v1/roster"), &central).await.unwrap();
    assert_eq!(verified.record().members.len(), 1);
    let mut wrong = TrustStore::new();
    wrong.add(node_id(CENTRAL), KeyGrant::pinned(other_key().public_key()));
    assert_eq!(code(client().roster(&server.url("/api/v1/roster"), &wrong).await), "unknown-key");
}

#[tokio::test]
async fn log_pages_decode_and_feed_the_log_verifier() {
    let (server, entries) = node(5).await;
    let note = checkpoint(&entries);
    let base = server.base();
    let (first, rest) = (entries[..3].to_vec(), entries[3..].to_vec());
    server.fallback(move |req| {
        if req.path != "/api/v1/log" {
            return None;
        }
        let q = req.query.clone().unwrap_or_default();
        Some(Reply::json(if q.contains("after=0") {
            let page: Vec<_> = (0..).zip(&first).collect();
            page_json(0, 5, &page, &note, Some(format!("{base}/api/v1/log?after=3&limit=3")))
        } else {
            let page: Vec<_> = (3..).zip(&rest).collect();
            page_json(3, 5, &page, &note, None)
        }))
    });
    let c = client();
    let d = c.descriptor(&server.url("/")).await.unwrap();
    let log = endpoint(d.record(), "log").unwrap();

    let page: LogPage = c.log_page(&log, 0, 3).await.unwrap();
    assert_eq!((page.origin.as_str(), page.start, page.size), (NODE, 0, 5));
    assert_eq!(page.entries.len(), 3);
    assert_eq!(page.end(), 3);
    assert!(!page.is_up_to_date());
    assert_eq!(page.next, Some(server.url("/api/v1/log?after=3&limit=3")));
    let page2 = c.log_page(&log, page.end(), 3).await.unwrap();
    assert!(page2.is_up_to_date() && page2.next.is_none());
    assert_eq!(
        server.requests().iter().filter_map(|r| r.query.clone()).collect::<Vec<_>>(),
        ["after=0&limit=3", "after=3&limit=3"]
    );

    // The pages carry exactly the signed bytes: the log verifier accepts them all.
    let mut verifier = LogVerifier::new(node_id(NODE), d.record().keys.clone());
    for (index, signed) in page.entries.iter().chain(&page2.entries) {
        assert_eq!(verifier.next_index(), *index);
        verifier.push(signed).unwrap();
    }
    let note = c.checkpoint(&endpoint(d.record(), "checkpoint").unwrap()).await.unwrap();
    assert_eq!(note, page2.checkpoint);
    verifier.push_checkpoint(&note, at(120), None).unwrap();
}

/// Serve `body` as the log page and return the code `log_page(after, limit)` fails with.
async fn page_code(body: Vec<u8>, after: u64, limit: u32) -> &'static str {
    let server = TestServer::start().await;
    server.route("/api/v1/log", Reply::json(body));
    code(client().log_page(&server.url("/api/v1/log"), after, limit).await)
}

#[tokio::test]
async fn bad_log_pages_are_malformed() {
    let entries = entries(4);
    let note = checkpoint(&entries);
    let e = |i: usize| &entries[i];

    // A gap between entries.
    let gap = page_json(0, 4, &[(0, e(0)), (2, e(2))], &note, None);
    assert_eq!(page_code(gap, 0, 10).await, "malformed");
    // Index fields that do not count from start.
    let shifted = page_json(0, 4, &[(1, e(1)), (2, e(2))], &note, None);
    assert_eq!(page_code(shifted, 0, 10).await, "malformed");
    // Not the start asked for.
    let other_start = page_json(1, 4, &[(1, e(1))], &note, None);
    assert_eq!(page_code(other_start, 0, 10).await, "malformed");
    // More entries than asked for.
    let many = page_json(0, 4, &[(0, e(0)), (1, e(1)), (2, e(2))], &note, None);
    assert_eq!(page_code(many, 0, 2).await, "malformed");
    // Entries past the log size.
    let past = page_json(0, 1, &[(0, e(0)), (1, e(1))], &note, None);
    assert_eq!(page_code(past, 0, 10).await, "malformed");
    // Entries without a checkpoint.
    let bare = page_json(0, 4, &[(0, e(0))], "", None);
    assert_eq!(page_code(bare, 0, 10).await, "malformed");
    // Not JSON, unknown members, a bad next.
    assert_eq!(page_code(b"<html>".to_vec(), 0, 10).await, "malformed");
    let mut extra: serde_json::Value =
        serde_json::from_slice(&page_json(0, 4, &[(0, e(0))], &note, None)).unwrap();
    extra["surprise"] = true.into();
    assert_eq!(page_code(serde_json::to_vec(&extra).unwrap(), 0, 10).await, "malformed");
    let bad_next = page_json(0, 4, &[(0, e(0))], &note, Some("javascript:alert(1)".into()));
    assert_eq!(page_code(bad_next, 0, 10).await, "malformed");

    // Bad base64 in an entry.
    let mut bad: serde_json::Value =
        serde_json::from_slice(&page_json(0, 4, &[(0, e(0)), (1, e(1))], &note, None)).unwrap();
    bad["entries"][1]["record"] = "not base64!".into();
    let body = serde_json::to_vec(&bad).unwrap();
    let server = TestServer::start().await;
    server.route("/api/v1/log", Reply::json(body));
    let err = client().log_page(&server.url("/api/v1/log"), 0, 10).await.unwrap_err();
    assert_eq!(err.code(), "malformed");
    assert!(err.to_string().contains("log entry 1"), "{err}");
    // A signature that is not 64 bytes.
    bad["entries"][1]["record"] = e(1).record_base64().into();
    bad["entries"][1]["sig"] = "AAAA".into();
    assert_eq!(page_code(serde_json::to_vec(&bad).unwrap(), 0, 10).await, "bad-signature");

    // A log now shorter than what the client holds: the page comes back as served, with the
    // signed checkpoint, for the caller to record the rollback.
    let server = TestServer::start().await;
    let small = checkpoint(&entries[..2]);
    server.route("/api/v1/log", Reply::json(page_json(2, 2, &[], &small, None)));
    let page = client().log_page(&server.url("/api/v1/log"), 4, 10).await.unwrap();
    assert_eq!((page.start, page.size, page.checkpoint.as_str()), (2, 2, small.as_str()));
    // ... but not with entries, nor when the log is long enough.
    let odd = page_json(2, 3, &[(2, e(2))], &note, None);
    assert_eq!(page_code(odd, 4, 10).await, "malformed");
    // Up to date: an empty page at start = size.
    let server = TestServer::start().await;
    server.route("/api/v1/log", Reply::json(page_json(4, 4, &[], &note, None)));
    let page = client().log_page(&server.url("/api/v1/log"), 4, 10).await.unwrap();
    assert!(page.entries.is_empty() && page.is_up_to_date());
}

#[tokio::test]
async fn proofs_are_fetched_strictly() {
    let entries = entries(7);
    let leaves = leaves(&entries);
    let server = TestServer::start().await;
    let consistency = merkle::consistency_proof(leaves.as_slice(), 3, 7).unwrap();
    let inclusion = merkle::inclusion_proof(leaves.as_slice(), 2, 7).unwrap();
    server.route("/api/v1/proof/consistency", Reply::json(consistency_json(3, 7, &consistency)));
    server.route("/api/v1/proof/inclusion", Reply::json(inclusion_json(2, 7, &inclusion)));
    let c = client();
    let got = c.consistency_proof(&server.url("/api/v1/proof/consistency"), 3, 7).await.unwrap();
    let root3 = merkle::root_from_leaf_hashes(&leaves[..3]);
    let root7 = merkle::root_from_leaf_hashes(&leaves);
    merkle::verify_consistency(3, 7, &root3, &root7, &got).unwrap();
    let got = c.inclusion_proof(&server.url("/api/v1/proof/inclusion"), 2, 7).await.unwrap();
    merkle::verify_inclusion(&leaves[2], 2, 7, &got, &root7).unwrap();
    let queries: Vec<_> = server.requests().into_iter().filter_map(|r| r.query).collect();
    assert_eq!(queries, ["from=3&to=7", "index=2&size=7"]);

    // Another range than asked for, and a hash of the wrong length: malformed.
    assert_eq!(
        code(c.consistency_proof(&server.url("/api/v1/proof/consistency"), 2, 7).await),
        "malformed"
    );
    server
        .route("/api/v1/proof/inclusion", Reply::json(r#"{"index":2,"size":7,"proof":["AAAA"]}"#));
    assert_eq!(
        code(c.inclusion_proof(&server.url("/api/v1/proof/inclusion"), 2, 7).await),
        "malformed"
    );
    assert!(decode_base64("AAAA").is_ok());
}

#[tokio::test]
async fn checkpoints_are_text() {
    let server = TestServer::start().await;
    server.route("/cp", Reply::ok("text/plain", vec![0xff, 0xfe]));
    assert_eq!(code(client().checkpoint(&server.url("/cp")).await), "malformed");
    server.route("/cp", Reply::status(503));
    assert_eq!(code(client().checkpoint(&server.url("/cp")).await), "http-status");
}

#[test]
fn futures_are_send() {
    fn send<T: Send>(_: &T) {}
    let c = client::Client::new(Fetcher::new(FetchPolicy::default()).unwrap());
    let url = portal_client::Url::parse("https://byt.gov.vn").unwrap();
    let trust = TrustStore::new();
    send(&c.descriptor(&url));
    send(&c.descriptor_pinned(&url, &trust));
    send(&c.roster(&url, &trust));
    send(&c.log_page(&url, 0, 10));
    send(&c.checkpoint(&url));
    send(&c.consistency_proof(&url, 1, 2));
    send(&c.inclusion_proof(&url, 0, 2));
    send(&c.fetcher().get(&url, None));
}

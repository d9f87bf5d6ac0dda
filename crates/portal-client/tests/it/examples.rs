//! The client reads the bodies a node sends, byte for byte as committed in
//! `proto-spec/examples/` (SPEC.md §8.1, written by the `portal_proto::api` types).

use portal_client::verify::VerifiedItem;
use portal_client::{Client, FetchPolicy, Fetcher, Url};
use portal_proto::crypto::Signer;
use portal_proto::envelope::TrustStore;
use portal_proto::ids::NodeId;
use portal_proto::record::KeyGrant;
use serde_json::Value;

use portal_tests::fake::{FakeServer as TestServer, Reply};

fn example(name: &str) -> Vec<u8> {
    let path = format!("{}/../../proto-spec/examples/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn client() -> Client {
    Client::new(
        Fetcher::new(FetchPolicy { allow_private: true, ..FetchPolicy::default() }).unwrap(),
    )
}

#[tokio::test]
async fn the_committed_log_pages_and_proofs_are_read() {
    let server = TestServer::start().await;
    server.route("/api/v1/log", Reply::json(example("log-page")));
    server.route("/api/v1/national/log", Reply::json(example("national-log-page")));
    server.route("/api/v1/proof/inclusion", Reply::json(example("inclusion-proof")));
    server.route("/api/v1/proof/consistency", Reply::json(example("consistency-proof")));
    let c = client();
    let page = c.log_page(&server.url("/api/v1/log"), 0, 2).await.unwrap();
    assert_eq!((page.origin.as_str(), page.start, page.size), ("bo-y-te", 0, 3));
    assert_eq!(page.entries.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [0, 1]);
    let next = Url::parse("https://byt.gov.vn/api/v1/log?after=2&limit=2").unwrap();
    assert_eq!(page.next, Some(next));
    let national = c.national_log_page(&server.url("/api/v1/national/log"), 0, 2).await.unwrap();
    assert_eq!(national.page.origin.as_str(), "chinh-phu");
    assert_eq!(national.page.entries.len(), 2);
    assert!(national.members[0].is_none(), "entry 0 is the central's own record");
    assert_eq!(national.members[1].as_ref().map(|m| m.bytes()), Some(page.entries[0].1.bytes()));
    let inclusion = c.inclusion_proof(&server.url("/api/v1/proof/inclusion"), 1, 3).await;
    assert_eq!(inclusion.unwrap().len(), 2);
    let consistency = c.consistency_proof(&server.url("/api/v1/proof/consistency"), 1, 3).await;
    assert_eq!(consistency.unwrap().len(), 2);
}

#[tokio::test]
async fn a_national_entry_of_neither_shape_is_malformed() {
    let mut page: Value = serde_json::from_slice(&example("national-log-page")).unwrap();
    page["entries"][1]["record"] = page["entries"][1]["receipt"].clone();
    let server = TestServer::start().await;
    server.route("/api/v1/national/log", Reply::json(serde_json::to_vec(&page).unwrap()));
    let err = client().national_log_page(&server.url("/api/v1/national/log"), 0, 2).await;
    let err = err.expect_err("refused");
    assert_eq!(err.code(), "malformed");
    assert!(err.to_string().contains("national log entry 1"), "{err}");
}

#[test]
fn the_committed_item_history_verifies() {
    let mut trust = TrustStore::new();
    let key = Signer::from_seed([0x11; 32]).public_key();
    trust.add(NodeId::new("bo-y-te").unwrap(), KeyGrant::pinned(key));
    let url = Url::parse("https://byt.gov.vn/api/v1/items/aeaqcaibaeaqcaibaeaqcaibae").unwrap();
    let item = VerifiedItem::from_bytes(url, &example("item-history"), &trust).unwrap();
    assert_eq!(item.id, "aeaqcaibaeaqcaibaeaqcaibae");
    assert_eq!((item.versions.len(), item.rejected()), (2, 0));
    assert!(item.withdrawal.as_ref().is_some_and(Result::is_ok));
}

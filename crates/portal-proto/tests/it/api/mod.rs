//! The HTTP API's bodies (`portal_proto::api`): each typed body writes the bytes the node sends
//! today for the same data, the committed examples in `proto-spec/examples/` are those bytes,
//! each example reads back into its type, and insta snapshots show every change to a body or
//! to a schema as a reviewed diff. (`tests/e2e/spec.rs` checks the examples against the
//! schemas and SPEC.md §8.1.)
//!
//! `PORTAL_WRITE_EXAMPLES=1 cargo test -p portal-proto --test it api` rewrites the examples
//! from the types; review the diff with the schemas and SPEC.md.

mod today;
mod world;

use std::path::PathBuf;

use portal_proto::api::federation::{
    IncidentList, MemberHealthList, MemberList, MemberView, NodeHealth,
};
use portal_proto::api::items::{ItemHistory, NationalItem, Published, Uploaded};
use portal_proto::api::log::{ConsistencyProof, InclusionProof, LogPage, NationalLogPage};
use portal_proto::api::{ErrorBody, paths};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use world::World;

/// The schemas of the HTTP bodies (`proto-spec/schemas/{name}.schema.json`); each example's
/// file name starts with its schema's.
const BODY_SCHEMAS: [&str; 14] = [
    "log-page",
    "national-log-page",
    "inclusion-proof",
    "consistency-proof",
    "item-history",
    "national-item",
    "published",
    "uploaded",
    "members",
    "member-list",
    "member",
    "incidents",
    "healthz",
    "error",
];

fn spec_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto-spec")
}

fn to_json<T: Serialize>(body: &T) -> String {
    serde_json::to_string(body).expect("a body serialises")
}

/// An example: its file name (without `.json`), the typed body's bytes, and the same
/// pretty-printed in the same member order (for the snapshots).
struct Example {
    name: &'static str,
    body: String,
    pretty: String,
}

fn ex<T: Serialize>(name: &'static str, body: &T) -> Example {
    let pretty = serde_json::to_string_pretty(body).expect("a body serialises");
    Example { name, body: to_json(body), pretty }
}

/// Every example.
fn examples(w: &World) -> Vec<Example> {
    vec![
        ex("log-page", &w.log_page(0, 2)),
        ex("log-page.last", &w.log_page(2, 2)),
        ex("log-page.up-to-date", &w.log_page(5, 100)),
        ex("national-log-page", &w.national_page(0, 2)),
        ex("national-log-page.last", &w.national_page(2, 2)),
        ex("inclusion-proof", &w.inclusion()),
        ex("consistency-proof", &w.consistency()),
        ex("item-history", &w.item_history()),
        ex("item-history.current", &w.current_item()),
        ex("national-item", &w.national_item()),
        ex("published", &world::published()),
        ex("uploaded", &world::uploaded()),
        ex("members", &world::members(w)),
        ex("member-list", &world::member_list()),
        ex("member", &world::ministry()),
        ex("incidents", &world::incidents(w)),
        ex("healthz", &world::healthz()),
        ex("healthz.degraded", &world::healthz_degraded()),
        ex("error", &world::not_found()),
        ex("error.invalid-draft", &world::invalid_draft()),
        ex("error.websub", &world::websub_error()),
    ]
}

#[test]
fn the_committed_examples_are_the_typed_bodies() {
    let dir = spec_dir().join("examples");
    let write = std::env::var_os("PORTAL_WRITE_EXAMPLES").is_some();
    for Example { name, body, .. } in examples(&World::new()) {
        let path = dir.join(format!("{name}.json"));
        if write {
            std::fs::create_dir_all(&dir).expect("examples directory");
            std::fs::write(&path, format!("{body}\n")).expect("write example");
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{}: {e} (PORTAL_WRITE_EXAMPLES=1 writes it)", path.display())
        });
        assert_eq!(
            committed.strip_suffix('\n'),
            Some(body.as_str()),
            "proto-spec/examples/{name}.json is not what the api type writes: the wire changed"
        );
    }
    let count = std::fs::read_dir(&dir)
        .expect("examples directory")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "json")))
        .count();
    assert_eq!(count, examples(&World::new()).len(), "an example without a body in examples()");
}

/// Read `text` as a `T` and write it again.
fn reparse<T: Serialize + DeserializeOwned>(text: &str) -> Result<String, serde_json::Error> {
    serde_json::from_str::<T>(text).map(|t| to_json(&t))
}

#[test]
fn each_example_reads_back_into_its_type_unchanged() {
    for Example { name, body, .. } in examples(&World::new()) {
        let schema = name.split('.').next().expect("a name");
        let again = match schema {
            "log-page" => reparse::<LogPage>(&body),
            "national-log-page" => reparse::<NationalLogPage>(&body),
            "inclusion-proof" => reparse::<InclusionProof>(&body),
            "consistency-proof" => reparse::<ConsistencyProof>(&body),
            "item-history" => reparse::<ItemHistory>(&body),
            "national-item" => reparse::<NationalItem>(&body),
            "published" => reparse::<Published>(&body),
            "uploaded" => reparse::<Uploaded>(&body),
            "members" => reparse::<MemberHealthList>(&body),
            "member-list" => reparse::<MemberList>(&body),
            "member" => reparse::<MemberView>(&body),
            "incidents" => reparse::<IncidentList>(&body),
            "healthz" => reparse::<NodeHealth>(&body),
            "error" => reparse::<ErrorBody>(&body),
            other => panic!("no type for example {other}"),
        };
        assert_eq!(again.expect(name), body, "{name} does not read back unchanged");
        assert!(BODY_SCHEMAS.contains(&schema), "{name}: {schema} is not in BODY_SCHEMAS");
    }
}

#[test]
fn bodies_refuse_unknown_members() {
    let page = r#"{"checkpoint":"","entries":[],"origin":"bo-y-te","size":0,"start":0,"x":1}"#;
    assert!(serde_json::from_str::<LogPage>(page).is_err());
    let error = r#"{"error":{"code":"teapot","message":"m"}}"#;
    assert!(serde_json::from_str::<ErrorBody>(error).is_err(), "an unknown code is refused");
}

#[test]
fn log_pages_are_todays_bytes() {
    let w = World::new();
    for (after, limit) in [(0, 2), (2, 2), (5, 100), (0, 1000)] {
        let page = w.log_page(after, limit);
        assert_eq!(to_json(&page), today::log_page(&w, &page), "log page after {after}");
    }
    for (after, limit) in [(0, 2), (2, 2), (0, 100)] {
        let page = w.national_page(after, limit);
        assert_eq!(to_json(&page), today::national_page(&w, &page), "national after {after}");
    }
}

#[test]
fn proofs_items_and_uploads_are_todays_bytes() {
    let w = World::new();
    let p = w.inclusion();
    assert_eq!(to_json(&p), today::proof(json!({"index": 1, "size": 3}), &p.proof));
    let p = w.consistency();
    assert_eq!(to_json(&p), today::proof(json!({"from": 1, "to": 3}), &p.proof));
    let id = w.item_id();
    assert_eq!(to_json(&w.item_history()), today::item(&id, &w.member[..2], Some(&w.member[2])));
    assert_eq!(
        to_json(&w.current_item()),
        today::item(&w.current_item().id, &w.central[..1], None)
    );
    assert_eq!(to_json(&w.national_item()), today::national_item(&w, &id));
    let p = world::published();
    let node = today::Published { id: p.id.clone(), version: p.version, log_index: p.log_index };
    assert_eq!(to_json(&p), to_json(&node));
    let u = world::uploaded();
    assert_eq!(to_json(&u), today::uploaded(u.sha256.as_str(), u.size as usize));
}

#[test]
fn members_and_incidents_are_todays_bytes() {
    let w = World::new();
    let list = world::members(&w);
    assert_eq!(to_json(&list), today::members(&list));
    let views = world::member_list();
    assert_eq!(to_json(&views), today::member_list(&views.members));
    let incidents = world::incidents(&w);
    let stored: Vec<today::StoreIncident> = incidents
        .incidents
        .iter()
        .map(|i| today::StoreIncident {
            seq: i.seq,
            member: i.member.to_string(),
            code: i.code.clone(),
            message: i.message.clone(),
            time: i.time,
            evidence: i.evidence.clone(),
        })
        .collect();
    assert_eq!(to_json(&incidents), today::incidents(&stored));
}

/// `POST /api/v1/admin/members` and `…/suspend`, `…/activate` answered the node's
/// `MemberView` struct as it is (`id, url, name, status, keys, size`), while
/// `GET /api/v1/members` and `GET /api/v1/admin/members` wrote it through a `Value` (sorted).
/// One type has one order: the sorted one. The member's bytes there change by key order only.
#[test]
fn a_posted_member_differs_from_todays_only_in_key_order() {
    let view = world::ministry();
    let node = today::NodeMemberView::from(&view);
    let (ours, todays) = (to_json(&view), to_json(&node));
    assert_ne!(ours, todays);
    let as_value = |s: &str| serde_json::from_str::<serde_json::Value>(s).expect("json");
    assert_eq!(as_value(&ours), as_value(&todays));
    assert_eq!(ours, to_json(&as_value(&todays)), "sorted: the order of GET /api/v1/members");
}

#[test]
fn health_and_errors_are_todays_bytes() {
    assert_eq!(to_json(&world::healthz()), today::healthz(3, None));
    let refusal = "the clock went back 120 s";
    assert_eq!(to_json(&world::healthz_degraded()), today::healthz(3, Some(refusal)));
    let nf = world::not_found();
    assert_eq!(to_json(&nf), today::error("not-found", &nf.error.message));
    let bad = world::invalid_draft();
    assert_eq!(to_json(&bad), today::invalid_draft(&bad.error.fields));
    assert_eq!(
        to_json(&world::websub_error()),
        today::websub_invalid("hub.callback", "not a public http(s) URL")
    );
    for e in [
        portal_proto::api::ApiError::internal(),
        portal_proto::api::ApiError::unauthorized(),
        portal_proto::api::ApiError::not_an_aggregator(),
    ] {
        assert_eq!(to_json(&e.clone().into_body()), today::error(e.code.as_str(), &e.message));
    }
}

#[test]
fn the_descriptor_endpoints_are_todays_table() {
    // `http.rs` `descriptor_record` and `national.rs` `ENDPOINTS`, as they are today.
    let node = [
        ("atom", "/feeds/atom"),
        ("checkpoint", "/api/v1/checkpoint"),
        ("consistency-proof", "/api/v1/proof/consistency"),
        ("inclusion-proof", "/api/v1/proof/inclusion"),
        ("items", "/api/v1/items"),
        ("json-feed", "/feeds/json"),
        ("log", "/api/v1/log"),
        ("websub-hub", "/websub"),
    ];
    let aggregator = [
        ("roster", "/api/v1/roster"),
        ("witness", "/api/v1/members/{id}/checkpoint"),
        ("member-log", "/api/v1/members/{id}/log"),
        ("national-log", "/api/v1/national/log"),
        ("national-atom", "/feeds/national/atom"),
        ("national-json-feed", "/feeds/national/json"),
    ];
    let base = "https://gov.vn";
    let table = |rows: &[(&str, &str)]| -> std::collections::BTreeMap<String, String> {
        rows.iter().map(|(k, v)| ((*k).to_owned(), format!("{base}{v}"))).collect()
    };
    assert_eq!(paths::descriptor_endpoints(base, false), table(&node));
    let both: Vec<(&str, &str)> = node.iter().chain(&aggregator).copied().collect();
    assert_eq!(paths::descriptor_endpoints(base, true), table(&both));
}

#[test]
fn snapshots_of_every_body() {
    for Example { name, pretty, .. } in examples(&World::new()) {
        insta::assert_snapshot!(format!("body-{name}"), pretty);
    }
}

#[test]
fn snapshots_of_every_body_schema() {
    for name in BODY_SCHEMAS {
        let path = spec_dir().join("schemas").join(format!("{name}.schema.json"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
        insta::assert_json_snapshot!(format!("schema-{name}"), schema);
    }
}

//! The bodies as `portal-node` builds them today, copied from its handlers (`http.rs`
//! `log_page`, `item_json`, `healthz`, `inclusion`, `consistency`, `upload`, `error`,
//! `publish_error`, `websub`; `national.rs` `national_log`, `national_item`, `members`,
//! `list_members`, `incidents`; `mirror.rs` `member_log`; `aggregate.rs` `MemberView`,
//! `Health`; `portal-store` `Incident`; `node.rs` `Published`), with the same `json!`
//! calls and the same structs, so that the tests can show that the typed bodies write the
//! same bytes. Delete this file once the node serialises the `api` types.

use std::collections::BTreeMap;

use portal_proto::api::federation::{MemberHealthList, MemberView, SyncHealth};
use portal_proto::api::log::{LogPage, NationalLogPage};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::record::{FieldError, Record};
use serde::Serialize;
use serde_json::{Value, json};

use super::world::World;

fn bytes(v: &Value) -> String {
    serde_json::to_string(v).expect("serialises")
}

/// `http.rs` `log_page` and `mirror.rs` `member_log`: the same `json!`.
pub(crate) fn log_page(w: &World, page: &LogPage) -> String {
    let start = page.start;
    let entries: Vec<SignedRecord> =
        w.member[start as usize..start as usize + page.entries.len()].to_vec();
    let mut body = json!({
        "origin": page.origin,
        "start": start,
        "size": page.size,
        "entries": entries.iter().zip(start..).map(|(s, i)| json!({
            "index": i, "kid": s.kid(), "record": s.record_base64(), "sig": s.sig_base64()})).collect::<Vec<_>>(),
        "checkpoint": w.member_note,
    });
    if let Some(next) = &page.next {
        body["next"] = json!(next);
    }
    bytes(&body)
}

/// `national.rs` `national_log`.
pub(crate) fn national_page(w: &World, page: &NationalLogPage) -> String {
    let start = page.start;
    let mut out = Vec::new();
    for (signed, index) in
        w.central[start as usize..start as usize + page.entries.len()].iter().zip(start..)
    {
        match envelope::parse_record(signed.bytes()) {
            Ok(Record::Receipt(r)) => {
                let member = &w.member[r.member_index as usize];
                out.push(json!({"index": index, "member": member, "receipt": signed}))
            }
            _ => out.push(json!({"index": index, "record": signed})),
        }
    }
    let mut body = json!({"origin": page.origin, "start": start, "size": page.size,
                          "entries": out, "checkpoint": w.central_note});
    if let Some(next) = &page.next {
        body["next"] = json!(next);
    }
    bytes(&body)
}

/// `http.rs` `proof_response` after `inclusion` and `consistency`.
pub(crate) fn proof(mut body: Value, proof: &[String]) -> String {
    body["proof"] = json!(proof);
    bytes(&body)
}

/// `http.rs` `item_json`.
pub(crate) fn item(
    id: &ItemId,
    versions: &[SignedRecord],
    withdrawal: Option<&SignedRecord>,
) -> String {
    let mut body = json!({"id": id, "versions": versions});
    if let Some(w) = withdrawal {
        body["withdrawal"] = json!(w);
    }
    bytes(&body)
}

/// `national.rs` `national_item`.
pub(crate) fn national_item(w: &World, id: &ItemId) -> String {
    let member = NodeId::new("bo-y-te").expect("id");
    let mut entry = json!({"member": member, "id": id, "versions": &w.member[..2]});
    entry["withdrawal"] = json!(w.member[2]);
    bytes(&json!({"id": id, "members": [entry]}))
}

/// `node.rs` `Published`, sent with `HttpResponse::json` (no `Value`: declaration order).
#[derive(Serialize)]
pub(crate) struct Published {
    pub(crate) id: ItemId,
    pub(crate) version: u64,
    pub(crate) log_index: u64,
}

/// `aggregate.rs` `MemberView`, field for field.
#[derive(Serialize)]
pub(crate) struct NodeMemberView {
    id: NodeId,
    url: String,
    name: BTreeMap<String, String>,
    status: String,
    keys: Vec<(String, String)>,
    size: u64,
}

impl From<&MemberView> for NodeMemberView {
    fn from(v: &MemberView) -> NodeMemberView {
        NodeMemberView {
            id: v.id.clone(),
            url: v.url.clone(),
            name: v.name.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            status: serde_json::to_value(v.status)
                .ok()
                .and_then(|s| s.as_str().map(str::to_owned))
                .unwrap_or_default(),
            keys: v.keys.iter().map(|(k, p)| (k.to_string(), p.to_base64())).collect(),
            size: v.size,
        }
    }
}

/// `aggregate.rs` `Health` (its `#[serde(skip)]` fields left out), field for field.
#[derive(Serialize)]
struct NodeHealth {
    last_ok: Option<u64>,
    last_attempt: Option<u64>,
    failures: u32,
    last_error: Option<String>,
    member_size: u64,
    heartbeat: Option<u64>,
    push_lease_until: Option<u64>,
}

impl From<&SyncHealth> for NodeHealth {
    fn from(h: &SyncHealth) -> NodeHealth {
        NodeHealth {
            last_ok: h.last_ok,
            last_attempt: h.last_attempt,
            failures: h.failures,
            last_error: h.last_error.clone(),
            member_size: h.member_size,
            heartbeat: h.heartbeat,
            push_lease_until: h.push_lease_until,
        }
    }
}

/// `national.rs` `members`.
pub(crate) fn members(list: &MemberHealthList) -> String {
    let rows: Vec<Value> = list
        .members
        .iter()
        .map(|m| {
            let view = NodeMemberView::from(&m.member);
            let health = m.health.as_ref().map(NodeHealth::from);
            json!({"member": view, "health": health, "cosigned_checkpoint": m.cosigned_checkpoint})
        })
        .collect();
    bytes(&json!({"members": rows}))
}

/// `national.rs` `list_members`.
pub(crate) fn member_list(views: &[MemberView]) -> String {
    let list: Vec<NodeMemberView> = views.iter().map(NodeMemberView::from).collect();
    bytes(&json!({"members": list}))
}

/// `portal-store` `federation::Incident`, field for field.
#[derive(Serialize)]
pub(crate) struct StoreIncident {
    pub(crate) seq: u64,
    pub(crate) member: String,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) time: u64,
    pub(crate) evidence: Value,
}

/// `national.rs` `incidents`.
pub(crate) fn incidents(list: &[StoreIncident]) -> String {
    bytes(&json!({"incidents": list}))
}

/// `http.rs` `healthz`.
pub(crate) fn healthz(log_size: u64, refusal: Option<&str>) -> String {
    bytes(&json!({"status": if refusal.is_some() { "degraded" } else { "ok" },
                  "log_size": log_size, "signing_refused": refusal}))
}

/// `http.rs` `upload`.
pub(crate) fn uploaded(digest: &str, len: usize) -> String {
    bytes(&json!({"sha256": digest, "size": len}))
}

/// `http.rs` `error`.
pub(crate) fn error(code: &str, message: &str) -> String {
    bytes(&json!({"error": {"code": code, "message": message}}))
}

/// `http.rs` `publish_error` for `PublishError::Invalid`.
pub(crate) fn invalid_draft(fields: &[FieldError]) -> String {
    bytes(&json!({"error": {
        "code": "invalid-draft",
        "message": "the draft has invalid fields",
        "fields": fields.iter().map(|f| json!({"field": f.field, "reason": f.reason})).collect::<Vec<_>>(),
    }}))
}

/// `http.rs` `websub` for `RequestError::Invalid`.
pub(crate) fn websub_invalid(parameter: &str, reason: &str) -> String {
    bytes(&json!({
    "error": {"code": "invalid-request", "message": format!("{parameter}: {reason}"),
              "parameter": parameter}}))
}

//! Evidence bundles over HTTP (SPEC.md §11.4, §8): `GET /api/v1/items/{id}/bundle` on every
//! node (its own log and latest checkpoint), built with portal-proto's Merkle code and served
//! as an `application/json` attachment named `<id>.bundle`. The aggregator's national bundles
//! reuse [`serve`], [`Failure`] and [`item_indices`].

#![allow(clippy::result_large_err)]

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web;
use actix_web::{HttpRequest, HttpResponse};
use portal_proto::bundle::{self, Bundle, KeyHistory, ProvenEntry};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::ItemId;
use portal_store::ItemIndex;

use portal_http::{ApiError, SHORT, render};

use crate::node::Node;
use crate::room::Publisher;

/// Entries read from the store at a time while scanning a log.
pub const CHUNK: usize = 1000;

/// Whether a log entry's bytes are a key event. Canonical JSON escapes every `"` inside a
/// string, so this member text only occurs as the record's own `type`.
pub fn is_key_event(signed: &SignedRecord) -> bool {
    signed.bytes().windows(KEY_EVENT.len()).any(|w| w == KEY_EVENT)
}
const KEY_EVENT: &[u8] = b"\"type\":\"key-event\"";

/// The log indices of an item's entries below `size`, in order (versions, then withdrawal).
pub fn item_indices(idx: &ItemIndex, size: u64) -> Vec<u64> {
    idx.versions.iter().copied().chain(idx.withdrawal).filter(|i| *i < size).collect()
}

/// Why no bundle was built (sent back from the blocking thread, then made a JSON error).
#[derive(Debug)]
pub enum Failure {
    /// `404 not-found`.
    NotFound(String),
    /// `503 not-synced`: the aggregator cannot prove the records yet.
    NotSynced(String),
    /// `500`: the store failed.
    Internal(String),
}

impl Failure {
    /// The API error for this failure.
    pub fn response(self) -> HttpResponse {
        match self {
            Failure::NotFound(m) => not_found(m),
            Failure::NotSynced(m) => ApiError::unavailable("not-synced", m).into(),
            Failure::Internal(m) => ApiError::internal(m).into(),
        }
    }
}

/// A store failure as a [`Failure`].
pub fn fail(e: impl std::fmt::Display) -> Failure {
    Failure::Internal(e.to_string())
}

fn not_found(what: String) -> HttpResponse {
    ApiError::not_found(what).into()
}

/// Serve bundle `b` as an attachment named `<item>.bundle`.
pub fn serve(req: &HttpRequest, state: &Publisher, b: &Bundle) -> HttpResponse {
    let r = render(b.to_json().into_bytes(), None);
    let mut resp = state.conditional(req, "application/json", &r, SHORT);
    if let Ok(v) =
        header::HeaderValue::from_str(&format!("attachment; filename=\"{}.bundle\"", b.item))
    {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

/// `GET /api/v1/items/{id}/bundle`: this node's item, proved against its latest checkpoint.
pub async fn item_bundle(
    req: HttpRequest,
    state: web::Data<Publisher>,
    path: web::Path<String>,
) -> HttpResponse {
    state.node.metrics.request();
    let Ok(id) = ItemId::new(path.as_str()) else {
        return not_found(format!("{}: not an item id", path.as_str()));
    };
    let node = Arc::clone(&state.node);
    let descriptor = match envelope::sign(&state.descriptor(), node.signer()) {
        Ok(d) => d,
        Err(e) => return ApiError::internal(e).into(),
    };
    let built = web::block(move || own_bundle(&node, id, descriptor)).await;
    match built {
        Ok(Ok(b)) => serve(&req, &state, &b),
        Ok(Err(failure)) => failure.response(),
        Err(e) => ApiError::internal(e).into(),
    }
}

fn own_bundle(node: &Node, id: ItemId, descriptor: SignedRecord) -> Result<Bundle, Failure> {
    let store = &node.store;
    // The checkpoint first: everything below its size is stored, whatever is appended meanwhile.
    let note = store
        .checkpoint()
        .map_err(fail)?
        .ok_or_else(|| Failure::NotFound(format!("no item {id}")))?;
    let size = bundle::checkpoint_of(&note).map_err(fail)?.size;
    let idx =
        store.item(&id).map_err(fail)?.ok_or_else(|| Failure::NotFound(format!("no item {id}")))?;
    let indices = item_indices(&idx, size);
    if indices.is_empty() {
        return Err(Failure::NotFound(format!("no item {id}")));
    }
    let prove =
        |i: u64, signed: SignedRecord| ProvenEntry::prove(&**store, size, i, signed).map_err(fail);
    let mut entries = Vec::with_capacity(indices.len());
    for i in indices {
        let signed = store
            .entry(i)
            .map_err(fail)?
            .ok_or_else(|| Failure::Internal(format!("entry {i} missing")))?;
        entries.push(prove(i, signed)?);
    }
    let mut events = Vec::new();
    let mut from = 0;
    while from < size {
        let chunk = store.entries(from, CHUNK.min((size - from) as usize)).map_err(fail)?;
        if chunk.is_empty() {
            return Err(Failure::Internal(format!("log ends at {from}, checkpoint says {size}")));
        }
        for (i, signed) in (from..).zip(chunk.iter()) {
            if is_key_event(signed) {
                events.push(prove(i, signed.clone())?);
            }
        }
        from += chunk.len() as u64;
    }
    Ok(Bundle {
        origin: node.config.id.clone(),
        item: id,
        checkpoint: note,
        entries,
        keys: KeyHistory { descriptor: Some(descriptor), roster: None, events },
        witness: None,
    })
}

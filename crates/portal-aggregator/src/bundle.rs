//! Evidence bundles over HTTP (SPEC.md §11.4, §8): `GET /api/v1/items/{id}/bundle` on every
//! node (its own log and latest checkpoint) and `GET /api/v1/national/items/{id}/bundle?member=`
//! on an aggregator (the member's stored records and its latest checkpoint with this node's
//! cosignature). Both are built with portal-proto's Merkle code and served as
//! `application/json` attachments named `<id>.bundle`.

use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::web;
use portal_http::{ApiError, ApiResult};
use portal_proto::bundle::{self, Bundle, KeyHistory, ProvenEntry, Witness};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::merkle::Hash;
use portal_publisher::Node;
use portal_publisher::bundle::{CHUNK, Failure, fail, is_key_event, item_indices, serve};
use serde::Deserialize;

use crate::room::National;

/// `?member=` of the national bundle.
#[derive(Deserialize)]
pub(crate) struct MemberQuery {
    member: Option<String>,
}

/// `GET /api/v1/national/items/{id}/bundle?member=ID`: a member's item, proved against the
/// member's latest checkpoint as this node verified and cosigned it.
pub(crate) async fn national_item_bundle(
    req: HttpRequest,
    state: web::Data<National>,
    path: web::Path<String>,
    q: web::Query<MemberQuery>,
) -> ApiResult {
    state.node.metrics.request();
    let Some(roster) = state.agg().and_then(|agg| agg.roster_envelope()) else {
        return Err(ApiError::not_an_aggregator());
    };
    let Ok(id) = ItemId::new(path.as_str()) else {
        return Err(ApiError::not_found(format!("{}: not an item id", path.as_str())));
    };
    let member = match &q.member {
        Some(m) => NodeId::new(m).map_err(|e| ApiError::invalid_request(format!("member: {e}")))?,
        None => {
            let holders =
                state.node.store.national_item_holders(&id).map_err(ApiError::internal)?;
            match holders.as_slice() {
                [] => return Err(ApiError::not_found(format!("no item {id}"))),
                [(m, _)] => m.clone(),
                _ => {
                    return Err(ApiError::invalid_request(format!(
                        "several members hold item {id}: name one with ?member="
                    )));
                }
            }
        }
    };
    let node = Arc::clone(&state.node);
    let descriptor =
        envelope::sign(&state.descriptor(), node.signer()).map_err(ApiError::internal)?;
    let b = web::block(move || member_bundle(&node, member, id, descriptor, roster))
        .await
        .map_err(ApiError::internal)??;
    Ok(serve(&req, &state, &b))
}

fn member_bundle(
    node: &Node,
    member: NodeId,
    id: ItemId,
    descriptor: SignedRecord,
    roster: SignedRecord,
) -> Result<Bundle, Failure> {
    let store = &node.store;
    let idx = store
        .national_item(&member, &id)
        .map_err(fail)?
        .ok_or_else(|| Failure::NotFound(format!("{member} has no item {id} here")))?;
    let cursor = store.member_cursor(&member).map_err(fail)?;
    let unavailable = Failure::NotSynced;
    let Some(note) = cursor.cosigned else {
        return Err(unavailable(format!(
            "this node holds no checkpoint of {member} that it cosigned (its records reached it \
             through another aggregator); ask {member} or that aggregator"
        )));
    };
    let size = bundle::checkpoint_of(&note).map_err(fail)?.size;
    if size > cursor.size {
        return Err(unavailable(format!(
            "the latest checkpoint of {member} (size {size}) is ahead of the {} records stored; \
             retry after the next sync",
            cursor.size
        )));
    }
    // The member's leaves up to the checkpoint, and its key events among them.
    let mut leaves: Vec<Hash> = Vec::with_capacity(size as usize);
    let mut key_events = Vec::new();
    while (leaves.len() as u64) < size {
        let from = leaves.len() as u64;
        let chunk =
            store.member_entries(&member, from, CHUNK.min((size - from) as usize)).map_err(fail)?;
        if chunk.is_empty() {
            return Err(Failure::Internal(format!("{member}'s stored log ends at {from}")));
        }
        for (i, signed) in (from..).zip(chunk) {
            leaves.push(signed.leaf_hash());
            if is_key_event(&signed) {
                key_events.push((i, signed));
            }
        }
    }
    let prove = |i: u64, signed: SignedRecord| {
        ProvenEntry::prove(leaves.as_slice(), size, i, signed).map_err(fail)
    };
    let mut entries = Vec::new();
    for i in item_indices(&idx, size) {
        let signed = store
            .member_entry(&member, i)
            .map_err(fail)?
            .ok_or_else(|| Failure::Internal(format!("{member}'s entry {i} missing")))?;
        entries.push(prove(i, signed)?);
    }
    if entries.is_empty() {
        return Err(Failure::NotFound(format!("{member} has no item {id} here")));
    }
    let events = key_events.into_iter().map(|(i, s)| prove(i, s)).collect::<Result<_, _>>()?;
    Ok(Bundle {
        origin: member,
        item: id,
        checkpoint: note,
        entries,
        keys: KeyHistory { descriptor: None, roster: Some(roster), events },
        witness: Some(Witness { origin: node.config.id.clone(), descriptor }),
    })
}

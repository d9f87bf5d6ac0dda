//! The aggregator's mirror of a member's log (SPEC.md §8, `member-log`):
//! `GET /api/v1/members/{id}/log?after=N&limit=L`.
//!
//! The same page as a node's own `log`, built from what this aggregator stored while following
//! the member: the member's entries exactly as the member signed them (the bytes, key ids and
//! signatures are stored verbatim), and as `checkpoint` the member's latest accepted checkpoint
//! note with this node's cosignature line (the `witness`). A reader verifies it against the
//! member's keys alone; this is what `portal restore` reads to give a ministry back a lost log
//! without signing any index again.

use actix_web::{HttpRequest, web};
use portal_http::{ApiError, ApiResult, SHORT, render};
use portal_proto::api::log::{LogEntry, LogPage, next_url};
use portal_proto::api::paths;
use portal_proto::ids::NodeId;
use serde::Deserialize;

use crate::room::National;

/// Most entries per page (SPEC.md §12), and the default.
const MAX_LIMIT: u64 = 1000;
const DEFAULT_LIMIT: u64 = 100;

#[derive(Deserialize)]
pub(crate) struct MirrorQuery {
    after: Option<u64>,
    limit: Option<u64>,
}

/// `GET /api/v1/members/{id}/log`: see the module documentation. `404 not-an-aggregator` on a
/// node without members, `404 not-found` for a node whose records are not stored here.
pub(crate) async fn member_log(
    req: HttpRequest,
    state: web::Data<National>,
    path: web::Path<String>,
    q: web::Query<MirrorQuery>,
) -> ApiResult {
    state.node.metrics.request();
    if state.agg().is_none() {
        return Err(ApiError::not_an_aggregator());
    }
    let Ok(id) = NodeId::new(path.as_str()) else {
        return Err(ApiError::not_found(format!("{path}: not a node id")));
    };
    let store = &state.node.store;
    let cursor = store.member_cursor(&id).map_err(ApiError::internal)?;
    if cursor.size == 0 && cursor.checkpoint.is_none() {
        return Err(ApiError::not_found(format!("no log of {id} is stored on this node")));
    }
    let size = cursor.size;
    let start = q.after.unwrap_or(0).min(size);
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let entries = store.member_entries(&id, start, limit as usize).map_err(ApiError::internal)?;
    let end = start + entries.len() as u64;
    if end < size && entries.len() < limit as usize {
        let broken = format!("the stored log of {id} ends at {end}, its cursor says {size}");
        return Err(ApiError::internal(broken));
    }
    let endpoint =
        format!("{}{}", state.node.config.url, paths::expand(paths::MEMBER_LOG, id.as_str()));
    let page = LogPage {
        // Relayed origins (records reaching this node through an aggregating member) have no
        // checkpoint of their own here: "" then, as for a node without one.
        checkpoint: cursor.cosigned.or(cursor.checkpoint).unwrap_or_default(),
        entries: entries.iter().zip(start..).map(|(s, i)| LogEntry::new(i, s)).collect(),
        next: (end < size).then(|| next_url(&endpoint, end, limit)),
        origin: id,
        size,
        start,
    };
    let r = render(serde_json::to_vec(&page).map_err(ApiError::internal)?, None);
    Ok(state.conditional(&req, "application/json", &r, SHORT))
}

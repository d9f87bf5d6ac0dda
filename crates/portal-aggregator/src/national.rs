//! The aggregator's HTTP interface (SPEC.md §8): the roster, the witness, the national log and
//! feeds, incidents, the members' health, the operators' member API and the WebSub callback
//! through which members push.
//!
//! The national log is this node's own log: each receipt (SPEC.md §4.6) is served paired with
//! the member record it acknowledges, byte for byte as the member signed it. The national feeds
//! are the member records of the newest receipts (items and withdrawals), so a reader verifies
//! every entry against its ministry's key, not against this node.

use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::feed::{ArchiveLinks, FeedMeta};
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::push;
use portal_proto::record::{MemberStatus, Record};
use portal_proto::time::Timestamp;
use serde::Deserialize;
use serde_json::json;

use portal_http::{ApiError, ApiResult, SHORT, render};
use portal_proto::api::error::ErrorCode;
use portal_proto::api::federation::{AddMember, Incident, IncidentList};
use portal_proto::api::items::{MemberItemHistory, NationalItem};
use portal_proto::api::log::{Envelope, NationalLogEntry, NationalLogPage, next_url};
use portal_proto::api::paths;
use portal_publisher::http::{self, PAGE};

use crate::aggregate::MemberError;
use crate::room::National;

/// Register the aggregator's routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route(paths::ROSTER, web::get().to(roster))
        .route(paths::MEMBERS, web::get().to(members))
        .route(paths::WITNESS, web::get().to(witness))
        .route(paths::MEMBER_LOG, web::get().to(crate::mirror::member_log))
        .route(paths::INCIDENTS, web::get().to(incidents))
        .route(paths::NATIONAL_LOG, web::get().to(national_log))
        .route(paths::NATIONAL_ITEM, web::get().to(national_item))
        .route(paths::NATIONAL_ITEM_BUNDLE, web::get().to(crate::bundle::national_item_bundle))
        .route(paths::NATIONAL_SEARCH, web::get().to(search))
        .route(paths::NATIONAL_ATOM, web::get().to(atom_latest))
        .route(paths::NATIONAL_JSON_FEED, web::get().to(json_latest))
        .route(paths::NATIONAL_ATOM_ARCHIVE, web::get().to(atom_archive))
        .route(paths::NATIONAL_JSON_FEED_ARCHIVE, web::get().to(json_archive))
        .route(paths::ADMIN_MEMBERS, web::post().to(add_member))
        .route(paths::ADMIN_MEMBERS, web::get().to(list_members))
        .route(paths::ADMIN_MEMBER_SUSPEND, web::post().to(suspend_member))
        .route(paths::ADMIN_MEMBER_ACTIVATE, web::post().to(activate_member))
        .route(paths::ADMIN_MEMBER, web::delete().to(remove_member))
        .service(
            web::resource(paths::WEBSUB_CALLBACK)
                .app_data(web::PayloadConfig::new(portal_proto::limits::MAX_FEED_BYTES))
                .route(web::get().to(callback_verify))
                .route(web::post().to(callback_deliver)),
        );
}

async fn roster(req: HttpRequest, state: web::Data<National>) -> ApiResult {
    match state.agg().and_then(|agg| agg.roster_envelope()) {
        Some(signed) => {
            let r = render(signed.to_json().into_bytes(), None);
            Ok(state.conditional(&req, "application/json", &r, SHORT))
        }
        None => Err(ApiError::not_an_aggregator()),
    }
}

/// Members with their sync health, the last cosigned checkpoint and the lag (public: the
/// federation health board reads it).
async fn members(state: web::Data<National>) -> ApiResult {
    let Some(agg) = state.agg() else {
        return Err(ApiError::not_an_aggregator());
    };
    let rows: Vec<_> = agg
        .health()
        .into_iter()
        .map(|(view, health, cosigned)| json!({"member": view, "health": health, "cosigned_checkpoint": cosigned}))
        .collect();
    Ok(HttpResponse::Ok().json(json!({"members": rows})))
}

fn parse_node_id(raw: &str) -> Result<NodeId, ApiError> {
    NodeId::new(raw).map_err(|e| ApiError::not_found(format!("{raw}: {e}")))
}

/// The latest member checkpoint with this node's cosignature (SPEC.md §7, `witness`).
async fn witness(
    req: HttpRequest,
    state: web::Data<National>,
    path: web::Path<String>,
) -> ApiResult {
    let id = parse_node_id(&path)?;
    let cursor = state.node.store.member_cursor(&id).map_err(ApiError::internal)?;
    let Some(note) = cursor.cosigned else {
        return Err(ApiError::not_found(format!("no checkpoint of {id} yet")));
    };
    let r = render(note.into_bytes(), None);
    Ok(state.conditional(&req, "text/plain; charset=utf-8", &r, SHORT))
}

#[derive(Deserialize)]
struct IncidentQuery {
    before: Option<u64>,
    limit: Option<usize>,
    member: Option<String>,
}

async fn incidents(state: web::Data<National>, q: web::Query<IncidentQuery>) -> ApiResult {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let member = q.member.as_deref();
    let list = state
        .node
        .store
        .incidents(q.before, limit, |i| member.is_none_or(|m| i.member == m))
        .map_err(ApiError::internal)?;
    let incidents = list.into_iter().map(wire_incident).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(IncidentList { incidents }))
}

/// A stored incident as the API carries it.
fn wire_incident(i: portal_store::federation::Incident) -> Result<Incident, ApiError> {
    let member = NodeId::new(&i.member).map_err(ApiError::internal)?;
    Ok(Incident {
        code: i.code,
        evidence: i.evidence,
        member,
        message: i.message,
        seq: i.seq,
        time: i.time,
    })
}

#[derive(Deserialize)]
struct LogQuery {
    after: Option<u64>,
    limit: Option<u64>,
}

/// The member record a receipt acknowledges, if `signed` is a receipt.
fn acknowledged(
    state: &National,
    signed: &SignedRecord,
) -> Result<Option<(NodeId, SignedRecord)>, String> {
    let Ok(Record::Receipt(r)) = envelope::parse_record(signed.bytes()) else {
        return Ok(None);
    };
    match state.node.store.member_entry(&r.member, r.member_index) {
        Ok(Some(m)) => Ok(Some((r.member, m))),
        Ok(None) => Err(format!("receipt for {}#{} without its record", r.member, r.member_index)),
        Err(e) => Err(e.to_string()),
    }
}

/// `GET /api/v1/national/log`: this node's log from `after`, each receipt with the member
/// record it acknowledges (`member`), other entries as `record`.
async fn national_log(
    req: HttpRequest,
    state: web::Data<National>,
    q: web::Query<LogQuery>,
) -> ApiResult {
    let store = &state.node.store;
    let size = store.size();
    let start = q.after.unwrap_or(0).min(size);
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let entries = store.entries(start, limit as usize).map_err(ApiError::internal)?;
    let mut out = Vec::with_capacity(entries.len());
    for (signed, index) in entries.iter().zip(start..) {
        out.push(match acknowledged(&state, signed).map_err(ApiError::internal)? {
            Some((_, member)) => NationalLogEntry::receipt(index, signed, &member),
            None => NationalLogEntry::own(index, signed),
        });
    }
    let end = start + entries.len() as u64;
    let checkpoint = store.checkpoint().map_err(ApiError::internal)?.unwrap_or_default();
    let endpoint = format!("{}{}", state.node.config.url, paths::NATIONAL_LOG);
    let page = NationalLogPage {
        checkpoint,
        entries: out,
        next: (end < size).then(|| next_url(&endpoint, end, limit)),
        origin: state.node.config.id.clone(),
        size,
        start,
    };
    let r = render(serde_json::to_vec(&page).map_err(ApiError::internal)?, None);
    Ok(state.conditional(&req, "application/json", &r, SHORT))
}

/// `GET /api/v1/national/items/{id}`: every member's history of that item id (normally one
/// member), each version and withdrawal as the member signed it.
async fn national_item(state: web::Data<National>, path: web::Path<String>) -> ApiResult {
    let Ok(id) = ItemId::new(path.as_str()) else {
        return Err(ApiError::not_found("not an item id"));
    };
    let store = &state.node.store;
    let holders = store.national_item_holders(&id).map_err(ApiError::internal)?;
    if holders.is_empty() {
        return Err(ApiError::not_found(format!("no item {id}")));
    }
    let mut members = Vec::new();
    for (member, idx) in holders {
        let get =
            |i: u64| store.member_entry(&member, i).ok().flatten().map(|s| Envelope::from(&s));
        let versions = idx.versions.iter().filter_map(|i| get(*i)).collect();
        let withdrawal = idx.withdrawal.and_then(get);
        members.push(MemberItemHistory { id: id.clone(), member, versions, withdrawal });
    }
    Ok(HttpResponse::Ok().json(NationalItem { id, members }))
}

/// Filters of the national feeds (`?member=&kind=&category=&language=&since=&until=`).
#[derive(Deserialize, Default)]
pub(crate) struct FeedFilter {
    member: Option<String>,
    kind: Option<String>,
    category: Option<String>,
    language: Option<String>,
    /// RFC 3339; entries updated at or after.
    since: Option<String>,
    /// RFC 3339; entries updated before.
    until: Option<String>,
}

impl FeedFilter {
    fn is_empty(&self) -> bool {
        self.member.is_none()
            && self.kind.is_none()
            && self.category.is_none()
            && self.language.is_none()
            && self.since.is_none()
            && self.until.is_none()
    }

    fn bounds(&self) -> Result<(Option<Timestamp>, Option<Timestamp>), ApiError> {
        let parse = |name: &str, v: &Option<String>| {
            v.as_deref()
                .map(|s| {
                    Timestamp::parse(s)
                        .map_err(|e| ApiError::invalid_request(format!("{name}: {e}")))
                })
                .transpose()
        };
        Ok((parse("since", &self.since)?, parse("until", &self.until)?))
    }

    /// Whether a member record passes, and its updated time if it is a feed entry.
    fn accepts(
        &self,
        member: &NodeId,
        record: &Record,
        since: Option<Timestamp>,
        until: Option<Timestamp>,
    ) -> Option<Timestamp> {
        if self.member.as_deref().is_some_and(|m| m != member.as_str()) {
            return None;
        }
        let time = match record {
            Record::Item(i) => {
                if self.kind.as_deref().is_some_and(|k| k != i.kind.as_str())
                    || self
                        .category
                        .as_deref()
                        .is_some_and(|c| !i.categories.iter().any(|x| x.as_str() == c))
                    || self.language.as_deref().is_some_and(|l| {
                        i.language.as_str() != l && !i.translations.keys().any(|t| t.as_str() == l)
                    })
                {
                    return None;
                }
                i.updated
            }
            // A withdrawal keeps its place in a filtered feed only when filtering by member
            // or date: it carries no kind, category or language of its own.
            Record::Withdrawal(w) => {
                if self.kind.is_some() || self.category.is_some() || self.language.is_some() {
                    return None;
                }
                w.time
            }
            _ => return None,
        };
        if since.is_some_and(|s| time < s) || until.is_some_and(|u| time >= u) {
            return None;
        }
        Some(time)
    }
}

/// Scan this node's log backwards from `before` (at most `scan` entries) for member records
/// that pass `filter`, newest first, at most `limit`. Returns them and the newest time.
fn national_entries(
    state: &National,
    before: u64,
    scan: u64,
    limit: usize,
    filter: &FeedFilter,
) -> Result<(Vec<SignedRecord>, Timestamp), ApiError> {
    let (since, until) = filter.bounds()?;
    let store = &state.node.store;
    let floor = before.saturating_sub(scan);
    let mut out = Vec::new();
    let mut updated = Timestamp::EPOCH;
    let mut end = before;
    while end > floor && out.len() < limit {
        let from = end.saturating_sub(256).max(floor);
        let chunk = store.entries(from, (end - from) as usize).map_err(ApiError::internal)?;
        for signed in chunk.iter().rev() {
            let Some((member, record)) = acknowledged(state, signed).map_err(ApiError::internal)?
            else {
                continue;
            };
            let Ok(parsed) = envelope::parse_record(record.bytes()) else { continue };
            if let Some(t) = filter.accepts(&member, &parsed, since, until) {
                updated = updated.max(t);
                out.push(record);
                if out.len() >= limit {
                    break;
                }
            }
        }
        end = from;
    }
    Ok((out, updated))
}

fn national_meta(
    state: &National,
    format: &str,
    archive: Option<u64>,
    updated: Timestamp,
) -> FeedMeta {
    // `format` is the cache key (`national-atom`); the URLs use `atom` / `json`.
    let format = format.trim_start_matches("national-");
    let base = &state.node.config.url;
    let complete = state.node.store.size() / PAGE;
    let url = |n: u64| format!("{base}/feeds/national/{format}/archive/{n}");
    FeedMeta {
        feed_id: format!("urn:ipsp:{}:national", state.node.config.id),
        title: format!("{} — national", state.node.config.display_name()),
        author: state.node.config.display_name().to_owned(),
        self_url: archive.map_or_else(|| format!("{base}/feeds/national/{format}"), url),
        alternate_url: format!("{base}/"),
        updated,
        archive: ArchiveLinks {
            is_archive: archive.is_some(),
            current: archive.map(|_| format!("{base}/feeds/national/{format}")),
            prev_archive: match archive {
                Some(n) => n.checked_sub(1).map(url),
                None => complete.checked_sub(1).map(url),
            },
            // Never on archives: their bytes are immutable (SPEC.md §9.1).
            next_archive: None,
            next_page: None,
        },
        item_url: format!("{base}/api/v1/national/items/{{id}}"),
    }
}

/// How far back a filtered latest feed looks (entries of this node's log).
const FILTER_SCAN: u64 = 50_000;

async fn latest(
    req: HttpRequest,
    state: web::Data<National>,
    filter: web::Query<FeedFilter>,
    format: &'static str,
) -> ApiResult {
    if state.agg().is_none() {
        return Err(ApiError::not_an_aggregator());
    }
    // Only the unfiltered page is kept; filtered pages are rendered per request.
    http::serve_latest(&req, &state, format, filter.is_empty(), |size| {
        let (entries, updated) =
            national_entries(&state, size, FILTER_SCAN, PAGE as usize, &filter)?;
        Ok((entries, national_meta(&state, format, None, updated)))
    })
}

async fn atom_latest(
    req: HttpRequest,
    state: web::Data<National>,
    f: web::Query<FeedFilter>,
) -> ApiResult {
    latest(req, state, f, "national-atom").await
}

async fn json_latest(
    req: HttpRequest,
    state: web::Data<National>,
    f: web::Query<FeedFilter>,
) -> ApiResult {
    latest(req, state, f, "national-json").await
}

async fn archive(
    req: HttpRequest,
    state: web::Data<National>,
    n: u64,
    format: &'static str,
) -> ApiResult {
    if state.agg().is_none() {
        return Err(ApiError::not_an_aggregator());
    }
    http::serve_archive(&req, &state, format, n, |end| {
        let (entries, updated) =
            national_entries(&state, end, PAGE, PAGE as usize, &FeedFilter::default())?;
        Ok((entries, national_meta(&state, format, Some(n), updated)))
    })
}

async fn atom_archive(
    req: HttpRequest,
    state: web::Data<National>,
    n: web::Path<u64>,
) -> ApiResult {
    archive(req, state, *n, "national-atom").await
}

async fn json_archive(
    req: HttpRequest,
    state: web::Data<National>,
    n: web::Path<u64>,
) -> ApiResult {
    archive(req, state, *n, "national-json").await
}

#[derive(Deserialize)]
struct SearchParams {
    #[serde(default)]
    q: String,
    member: Option<String>,
    kind: Option<String>,
    category: Option<String>,
    language: Option<String>,
    /// RFC 3339: published at or after.
    from: Option<String>,
    /// RFC 3339: published at or before.
    to: Option<String>,
    #[serde(default)]
    withdrawn: bool,
    #[serde(default)]
    page: usize,
    #[serde(default)]
    per_page: usize,
}

/// `GET /api/v1/national/search`: ranked full-text search over the members' items; finds
/// Vietnamese with or without diacritics; snippets are escaped HTML with `<mark>`.
async fn search(state: web::Data<National>, q: web::Query<SearchParams>) -> ApiResult {
    let Some(agg) = state.agg() else {
        return Err(ApiError::not_an_aggregator());
    };
    let Some(index) = agg.search() else {
        return Err(ApiError::new(ErrorCode::SearchUnavailable, "see the node's log"));
    };
    let time = |name: &str, v: &Option<String>| {
        v.as_deref()
            .map(|s| {
                Timestamp::parse(s)
                    .map(|t| t.unix() as i64)
                    .map_err(|e| ApiError::invalid_request(format!("{name}: {e}")))
            })
            .transpose()
    };
    let (from, to) = (time("from", &q.from)?, time("to", &q.to)?);
    let query = portal_search::SearchQuery {
        text: q.q.chars().take(1000).collect(),
        member: q.member.clone(),
        kind: q.kind.clone(),
        category: q.category.clone(),
        language: q.language.clone(),
        from,
        to,
        include_withdrawn: q.withdrawn,
        page: q.page,
        per_page: q.per_page,
    };
    let page = web::block(move || index.index().search(&query))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let hits: Vec<_> = page
        .hits
        .iter()
        .map(|h| {
            json!({"member": h.member, "id": h.item_id, "kind": h.kind, "score": h.score,
                   "published": Timestamp::from_unix(h.published.max(0) as u64),
                   "title_html": h.title_html, "snippet_html": h.snippet_html})
        })
        .collect();
    let f = &page.facets;
    Ok(HttpResponse::Ok().json(json!({
        "total": page.total, "page": page.page, "per_page": page.per_page, "hits": hits,
        "facets": {"member": f.member, "kind": f.kind, "category": f.category, "language": f.language},
    })))
}

// ---------------------------------------------------------------------------------------------
// Operators: the roster

fn member_error(e: MemberError) -> ApiError {
    let code = match &e {
        MemberError::Invalid(_) => ErrorCode::InvalidRequest,
        MemberError::Fetch(_) => ErrorCode::MemberUnreachable,
        MemberError::PinMismatch(_) => ErrorCode::PinMismatch,
        MemberError::NotFound(_) => ErrorCode::NotFound,
        MemberError::Storage(_) => return ApiError::internal(e),
    };
    ApiError::new(code, e.to_string())
}

async fn add_member(req: HttpRequest, state: web::Data<National>, body: Bytes) -> ApiResult {
    state.authorize(&req)?;
    let add: AddMember =
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid_request(e.to_string()))?;
    let agg = state.agg_or_build().map_err(member_error)?;
    let view = agg.add(&add.url, add.pin.as_deref()).await.map_err(member_error)?;
    Ok(HttpResponse::Created().json(view))
}

async fn list_members(req: HttpRequest, state: web::Data<National>) -> ApiResult {
    state.authorize(&req)?;
    let members = state.agg().map(|agg| agg.list()).unwrap_or_default();
    Ok(HttpResponse::Ok().json(json!({"members": members})))
}

async fn set_status(
    req: HttpRequest,
    state: web::Data<National>,
    id: &str,
    status: MemberStatus,
) -> ApiResult {
    state.authorize(&req)?;
    let agg = state.agg().ok_or_else(|| member_error(MemberError::NotFound(id.to_owned())))?;
    Ok(HttpResponse::Ok().json(agg.set_status(id, status).map_err(member_error)?))
}

async fn suspend_member(
    req: HttpRequest,
    state: web::Data<National>,
    path: web::Path<String>,
) -> ApiResult {
    set_status(req, state, &path, MemberStatus::Suspended).await
}

async fn activate_member(
    req: HttpRequest,
    state: web::Data<National>,
    path: web::Path<String>,
) -> ApiResult {
    set_status(req, state, &path, MemberStatus::Active).await
}

async fn remove_member(
    req: HttpRequest,
    state: web::Data<National>,
    path: web::Path<String>,
) -> ApiResult {
    state.authorize(&req)?;
    let agg = state.agg().ok_or_else(|| member_error(MemberError::NotFound(path.to_string())))?;
    agg.remove(&path).map_err(member_error)?;
    Ok(HttpResponse::NoContent().finish())
}

// ---------------------------------------------------------------------------------------------
// WebSub subscriber side: members push here

#[derive(Deserialize)]
struct Intent {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Verification of intent: confirm only subscriptions this node asked for (a member it
/// follows, with a subscription secret in hand).
async fn callback_verify(
    state: web::Data<National>,
    path: web::Path<String>,
    q: web::Query<Intent>,
) -> HttpResponse {
    let Ok(id) = NodeId::new(path.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    match (q.mode.as_deref(), &q.challenge) {
        (Some("subscribe"), Some(challenge))
            if state.agg().and_then(|a| a.push_secret(&id)).is_some() =>
        {
            HttpResponse::Ok().content_type("text/plain").body(challenge.clone())
        }
        (Some("unsubscribe"), Some(challenge))
            if state.agg().and_then(|a| a.push_secret(&id)).is_none() =>
        {
            HttpResponse::Ok().content_type("text/plain").body(challenge.clone())
        }
        _ => HttpResponse::NotFound().finish(),
    }
}

/// A delivery: checked (HMAC with our secret) and logged, then the member's task is woken to
/// pull: push is a hint, the log is the truth, so a forged push can only cause a pull.
async fn callback_deliver(
    req: HttpRequest,
    state: web::Data<National>,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    let Ok(id) = NodeId::new(path.as_str()) else {
        return HttpResponse::NotFound().finish();
    };
    let Some((agg, secret)) = state.agg().and_then(|a| Some((a, a.push_secret(&id)?))) else {
        return HttpResponse::NotFound().finish();
    };
    let hmac = req.headers().get("x-hub-signature").and_then(|v| v.to_str().ok());
    match hmac.map(|h| push::verify_hub_signature(secret.as_bytes(), &body, h)) {
        Some(Ok(())) => tracing::debug!(member = %id, "websub: push received"),
        Some(Err(e)) => {
            tracing::warn!(member = %id, "websub: push with a bad HMAC ({e}); pulling anyway")
        }
        None => {
            tracing::warn!(member = %id, "websub: push without X-Hub-Signature; pulling anyway")
        }
    }
    agg.wake(&id);
    HttpResponse::Accepted().finish()
}

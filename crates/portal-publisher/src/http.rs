//! The publisher's HTTP interface (SPEC.md §8): the descriptor, the log API, checkpoints and
//! proofs, items, feeds and their archives, attachments, and the editor API. Registered by
//! [`routes`]; every handler answers with a body type of `portal_proto::api` or the one
//! [`ApiError`]. The other rooms read the node through [`Publisher`].

use std::sync::Arc;

use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use portal_http::{ApiError, ApiResult, IMMUTABLE, SHORT, render};
use portal_proto::api::error::ErrorCode;
use portal_proto::api::items::{ItemHistory, Uploaded};
use portal_proto::api::log::{ConsistencyProof, InclusionProof, LogEntry, LogPage, next_url};
use portal_proto::api::{federation::NodeHealth, paths};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::feed::{self, ArchiveLinks, FeedMeta};
use portal_proto::ids::{Digest, ItemId};
use portal_proto::merkle;
use portal_proto::record::Record;
use portal_proto::time::Timestamp;
use serde::Deserialize;

use crate::draft::{Draft, WithdrawRequest};
use crate::node::{Node, PublishError};
use crate::room::Publisher;

/// Entries per feed page and per archive (archives cover log ranges of this many indices).
pub const PAGE: u64 = 100;
/// Default and largest page of the log API.
const LOG_DEFAULT: u64 = 100;
const LOG_MAX: u64 = 1000;

/// Register the publisher's routes (SPEC.md §8: descriptor, log, checkpoint, proofs, items,
/// feeds, attachments, and the editor API) on an actix `App`; a [`Publisher`] must be in its
/// app data.
pub fn routes(cfg: &mut web::ServiceConfig, max_draft: usize, max_attachment: usize) {
    cfg.route(paths::DESCRIPTOR, web::get().to(descriptor))
        .route(paths::HEALTHZ, web::get().to(healthz))
        .route(paths::LOG, web::get().to(log))
        .route(paths::CHECKPOINT, web::get().to(checkpoint))
        .route(paths::INCLUSION_PROOF, web::get().to(inclusion))
        .route(paths::CONSISTENCY_PROOF, web::get().to(consistency))
        .route(paths::ITEM, web::get().to(item_json))
        .route(paths::ITEM_BUNDLE, web::get().to(crate::bundle::item_bundle))
        .route(paths::ATOM, web::get().to(atom_latest))
        .route(paths::JSON_FEED, web::get().to(json_latest))
        .route(paths::ATOM_ARCHIVE, web::get().to(atom_archive))
        .route(paths::JSON_FEED_ARCHIVE, web::get().to(json_archive))
        .route(paths::ATTACHMENT, web::get().to(attachment))
        .service(
            web::resource(paths::ITEMS)
                .app_data(web::PayloadConfig::new(max_draft))
                .route(web::post().to(publish)),
        )
        .service(
            web::resource(paths::ITEM_WITHDRAW)
                .app_data(web::PayloadConfig::new(max_draft))
                .route(web::post().to(withdraw)),
        )
        .service(
            web::resource(paths::UPLOAD)
                .app_data(web::PayloadConfig::new(max_attachment))
                .route(web::post().to(upload)),
        );
}

// ---------------------------------------------------------------------------------------------
// Errors and helpers

fn publish_error(e: PublishError) -> ApiError {
    match e {
        PublishError::Invalid(fields) => ApiError::invalid_draft(fields),
        PublishError::NotFound(id) => ApiError::not_found(format!("no item {id}")),
        PublishError::Withdrawn(id) => ApiError::new(
            ErrorCode::Withdrawn,
            format!("item {id} was withdrawn; it cannot change any more"),
        ),
        PublishError::Refused(reason) => ApiError::new(ErrorCode::SigningRefused, reason),
        other => ApiError::internal(other),
    }
}

fn parse_item_id(raw: &str) -> Result<ItemId, ApiError> {
    ItemId::new(raw).map_err(|e| ApiError::not_found(e.to_string()))
}

/// Render `body` as JSON, once.
fn render_json(body: &impl serde::Serialize) -> Result<portal_http::Rendered, ApiError> {
    Ok(render(serde_json::to_vec(body).map_err(ApiError::internal)?, None))
}

// ---------------------------------------------------------------------------------------------
// Read side

async fn healthz(state: web::Data<Publisher>) -> HttpResponse {
    let body = NodeHealth::new(state.node.store.size(), state.node.refusal());
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}

async fn descriptor(req: HttpRequest, state: web::Data<Publisher>) -> ApiResult {
    state.node.metrics.request();
    let signed =
        envelope::sign(&state.descriptor(), state.node.signer()).map_err(ApiError::internal)?;
    let r = render(signed.to_json().into_bytes(), None);
    Ok(state.conditional(&req, "application/json", &r, "public, max-age=60"))
}

#[derive(Deserialize)]
struct LogQuery {
    after: Option<u64>,
    limit: Option<u64>,
}

async fn log(req: HttpRequest, state: web::Data<Publisher>, q: web::Query<LogQuery>) -> ApiResult {
    state.node.metrics.request();
    let (after, limit) = (q.after.unwrap_or(0), q.limit.unwrap_or(LOG_DEFAULT));
    let store = &state.node.store;
    let note = store.checkpoint().map_err(ApiError::internal)?;
    let current = (after, limit, store.size(), note.unwrap_or_default());
    let r = match state.log_pages.get(&current) {
        Some(r) => r,
        None => {
            let page = log_page(&state.node, after, limit).map_err(ApiError::internal)?;
            // Keyed by what the page embeds, which a commit since `current` may have moved.
            let key = (after, limit, page.size, page.checkpoint.clone());
            let r = Arc::new(render_json(&page)?);
            state.log_pages.put(key, Arc::clone(&r), |_| false);
            r
        }
    };
    // Entries never change, but the embedded checkpoint does: a short max-age for every page.
    Ok(state.conditional(&req, "application/json", &r, SHORT))
}

/// A log page (SPEC.md §8.1, `log-page`): entries from `after` (clamped to the size), at most
/// `limit` (clamped to 1–1000), with the latest checkpoint. Also the body of WebSub deliveries.
pub fn log_page(node: &Node, after: u64, limit: u64) -> Result<LogPage, portal_store::StoreError> {
    let store = &node.store;
    let size = store.size();
    let start = after.min(size);
    let limit = limit.clamp(1, LOG_MAX);
    let entries = store.entries(start, limit as usize)?;
    let checkpoint = store.checkpoint()?.unwrap_or_default();
    let entries: Vec<LogEntry> =
        entries.iter().zip(start..).map(|(s, i)| LogEntry::new(i, s)).collect();
    let end = start + entries.len() as u64;
    let next =
        (end < size).then(|| next_url(&format!("{}{}", node.config.url, paths::LOG), end, limit));
    Ok(LogPage { checkpoint, entries, next, origin: node.config.id.clone(), size, start })
}

async fn checkpoint(req: HttpRequest, state: web::Data<Publisher>) -> ApiResult {
    state.node.metrics.request();
    match state.node.store.checkpoint().map_err(ApiError::internal)? {
        Some(note) => {
            let r = render(note.into_bytes(), None);
            Ok(state.conditional(&req, "text/plain; charset=utf-8", &r, SHORT))
        }
        None => Err(ApiError::new(ErrorCode::NoCheckpoint, "no checkpoint yet")),
    }
}

/// A proof between fixed sizes never changes: immutable.
fn proof_response(body: impl serde::Serialize) -> HttpResponse {
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, IMMUTABLE)).json(body)
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

async fn inclusion(state: web::Data<Publisher>, q: web::Query<InclusionQuery>) -> ApiResult {
    state.node.metrics.request();
    let store = &state.node.store;
    let size = q.size.unwrap_or_else(|| store.size());
    if size > store.size() || q.index >= size {
        let message = format!("need index < size <= {}", store.size());
        return Err(ApiError::new(ErrorCode::OutOfRange, message));
    }
    let proof =
        merkle::inclusion_proof(store.as_ref(), q.index, size).map_err(ApiError::internal)?;
    Ok(proof_response(InclusionProof::new(q.index, size, &proof)))
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

async fn consistency(state: web::Data<Publisher>, q: web::Query<ConsistencyQuery>) -> ApiResult {
    state.node.metrics.request();
    let store = &state.node.store;
    let to = q.to.unwrap_or_else(|| store.size());
    if q.from == 0 || q.from > to || to > store.size() {
        let message = format!("need 0 < from <= to <= {}", store.size());
        return Err(ApiError::new(ErrorCode::OutOfRange, message));
    }
    let proof =
        merkle::consistency_proof(store.as_ref(), q.from, to).map_err(ApiError::internal)?;
    Ok(proof_response(ConsistencyProof::new(q.from, to, &proof)))
}

/// An item's versions, oldest first, and its withdrawal.
type History = (Vec<SignedRecord>, Option<SignedRecord>);

/// All versions (and the withdrawal) of an item.
fn item_history(node: &Node, id: &ItemId) -> Result<Option<History>, ApiError> {
    let Some(idx) = node.store.item(id).map_err(ApiError::internal)? else { return Ok(None) };
    let entry = |i: u64| {
        node.store
            .entry(i)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError::internal(format!("entry {i} missing")))
    };
    let versions = idx.versions.into_iter().map(entry).collect::<Result<Vec<_>, _>>()?;
    let withdrawal = idx.withdrawal.map(entry).transpose()?;
    Ok(Some((versions, withdrawal)))
}

async fn item_json(
    req: HttpRequest,
    state: web::Data<Publisher>,
    path: web::Path<String>,
) -> ApiResult {
    state.node.metrics.request();
    let id = parse_item_id(&path)?;
    let Some((versions, withdrawal)) = item_history(&state.node, &id)? else {
        return Err(ApiError::not_found(format!("no item {id}")));
    };
    let r = render_json(&ItemHistory::new(id, &versions, withdrawal.as_ref()))?;
    Ok(state.conditional(&req, "application/json", &r, SHORT))
}

async fn attachment(state: web::Data<Publisher>, path: web::Path<String>) -> ApiResult {
    state.node.metrics.request();
    let Ok(digest) = Digest::new(path.as_str()) else {
        return Err(ApiError::not_found("attachments are addressed by SHA-256 (64 hex)"));
    };
    match state.node.store.blob(&digest).map_err(ApiError::internal)? {
        Some(bytes) => Ok(HttpResponse::Ok()
            .content_type("application/octet-stream")
            .insert_header((header::ETAG, format!("\"{}\"", digest.as_str())))
            .insert_header((header::CACHE_CONTROL, IMMUTABLE))
            .body(bytes)),
        None => Err(ApiError::not_found("no such attachment")),
    }
}

// ---------------------------------------------------------------------------------------------
// Feeds

/// When a feed entry (item version or withdrawal) was updated; `None` for records that are not
/// feed entries. One parse answers both "does it belong in a feed?" and "when?".
fn feed_entry_time(s: &SignedRecord) -> Option<Timestamp> {
    match envelope::parse_record(s.bytes()) {
        Ok(Record::Item(i)) => Some(i.updated),
        Ok(Record::Withdrawal(w)) => Some(w.time),
        _ => None,
    }
}

/// The feed entries among `entries`, and the newest entry time (the feed's `updated`).
fn feed_entries(entries: impl IntoIterator<Item = SignedRecord>) -> (Vec<SignedRecord>, Timestamp) {
    let mut updated = Timestamp::EPOCH;
    let kept = entries
        .into_iter()
        .filter(|s| feed_entry_time(s).map(|t| updated = updated.max(t)).is_some())
        .collect();
    (kept, updated)
}

fn feed_meta(node: &Node, format: &str, archive: Option<u64>, updated: Timestamp) -> FeedMeta {
    let base = &node.config.url;
    let size = node.store.size();
    let complete = size / PAGE; // number of complete archives
    let url = |n: u64| format!("{base}/feeds/{format}/archive/{n}");
    let links = match archive {
        None => ArchiveLinks {
            is_archive: false,
            current: None,
            prev_archive: complete.checked_sub(1).map(url),
            next_archive: None,
            next_page: None,
        },
        Some(n) => ArchiveLinks {
            is_archive: true,
            current: Some(format!("{base}/feeds/{format}")),
            prev_archive: n.checked_sub(1).map(url),
            // Never a next-archive: an archive's bytes must not change once complete.
            next_archive: None,
            next_page: None,
        },
    };
    FeedMeta {
        feed_id: format!("urn:ipsp:{}:feed", node.config.id),
        title: node.config.display_name().to_owned(),
        author: node.config.display_name().to_owned(),
        self_url: archive.map_or_else(|| format!("{base}/feeds/{format}"), url),
        alternate_url: format!("{base}/"),
        updated,
        archive: links,
        item_url: format!("{base}/items/{{id}}"),
    }
}

/// Encode feed `format` (`atom`, `json`, or a national one) of `entries` with `meta`.
pub fn encode(format: &str, meta: &FeedMeta, entries: &[SignedRecord]) -> Result<Vec<u8>, String> {
    let text = if format.ends_with("atom") {
        feed::encode_atom(meta, entries)
    } else {
        feed::encode_json(meta, entries)
    };
    text.map(String::into_bytes).map_err(|e| e.to_string())
}

/// The media type of a feed format (`atom`, `json`, and the national ones).
pub fn content_type(format: &str) -> &'static str {
    if format.ends_with("atom") { ATOM } else { JSON_FEED }
}

const ATOM: &str = "application/atom+xml; charset=utf-8";
const JSON_FEED: &str = "application/feed+json; charset=utf-8";

/// Serve the latest page of feed `format`: rendered by `build(log size)` into entries and
/// metadata, and, when `cache` says so, kept until the log grows.
pub fn serve_latest(
    req: &HttpRequest,
    state: &Publisher,
    format: &'static str,
    cache: bool,
    build: impl FnOnce(u64) -> Result<(Vec<SignedRecord>, FeedMeta), ApiError>,
) -> ApiResult {
    state.node.metrics.request();
    let size = state.node.store.size();
    let rendered = match state.latest.get(&(format, size)).filter(|_| cache) {
        Some(r) => r,
        None => {
            let (entries, meta) = build(size)?;
            let body = encode(format, &meta, &entries).map_err(ApiError::internal)?;
            let r = Arc::new(render(body, Some(meta.updated)));
            if cache {
                state.latest.put((format, size), Arc::clone(&r), |(f, _)| *f == format);
            }
            r
        }
    };
    Ok(state.conditional(req, content_type(format), &rendered, SHORT))
}

/// Serve archive `n` of feed `format` (log indices `[100·n, 100·n + 100)`): 404 until it is
/// complete, then rendered once by `build(end)` and kept (archives never change).
pub fn serve_archive(
    req: &HttpRequest,
    state: &Publisher,
    format: &'static str,
    n: u64,
    build: impl FnOnce(u64) -> Result<(Vec<SignedRecord>, FeedMeta), ApiError>,
) -> ApiResult {
    state.node.metrics.request();
    let Some(end) = n.checked_mul(PAGE).and_then(|s| s.checked_add(PAGE)) else {
        return Err(ApiError::not_found("no such archive"));
    };
    if end > state.node.store.size() {
        return Err(ApiError::not_found(format!(
            "archive {n} is not complete yet; see the latest page"
        )));
    }
    let rendered = match state.archives.get(&(format, n)) {
        Some(r) => r,
        None => {
            let (entries, meta) = build(end)?;
            let body = encode(format, &meta, &entries).map_err(ApiError::internal)?;
            let r = Arc::new(render(body, Some(meta.updated)));
            state.archives.put((format, n), Arc::clone(&r), |_| false);
            r
        }
    };
    Ok(state.conditional(req, content_type(format), &rendered, IMMUTABLE))
}

async fn latest(req: HttpRequest, state: web::Data<Publisher>, format: &'static str) -> ApiResult {
    serve_latest(&req, &state, format, true, |size| {
        let mut updated = Timestamp::EPOCH;
        let keep =
            |s: &SignedRecord| feed_entry_time(s).map(|t| updated = updated.max(t)).is_some();
        let entries =
            state.node.store.entries_rev(size, PAGE as usize, keep).map_err(ApiError::internal)?;
        let entries = entries.into_iter().map(|(_, s)| s).collect();
        Ok((entries, feed_meta(&state.node, format, None, updated)))
    })
}

async fn atom_latest(req: HttpRequest, state: web::Data<Publisher>) -> ApiResult {
    latest(req, state, "atom").await
}

async fn json_latest(req: HttpRequest, state: web::Data<Publisher>) -> ApiResult {
    latest(req, state, "json").await
}

async fn archive(
    req: HttpRequest,
    state: web::Data<Publisher>,
    n: u64,
    format: &'static str,
) -> ApiResult {
    serve_archive(&req, &state, format, n, |end| {
        let entries = state
            .node
            .store
            .entries_rev(end, PAGE as usize, |_| true)
            .map_err(ApiError::internal)?;
        let (entries, updated) = feed_entries(entries.into_iter().map(|(_, s)| s));
        Ok((entries, feed_meta(&state.node, format, Some(n), updated)))
    })
}

async fn atom_archive(
    req: HttpRequest,
    state: web::Data<Publisher>,
    n: web::Path<u64>,
) -> ApiResult {
    archive(req, state, *n, "atom").await
}

async fn json_archive(
    req: HttpRequest,
    state: web::Data<Publisher>,
    n: web::Path<u64>,
) -> ApiResult {
    archive(req, state, *n, "json").await
}

// ---------------------------------------------------------------------------------------------
// Editor API

async fn publish(req: HttpRequest, state: web::Data<Publisher>, body: Bytes) -> ApiResult {
    state.authorize(&req)?;
    let draft = Draft::from_json(&body).map_err(ApiError::invalid_draft)?;
    let p = state.node.publish(draft).await.map_err(publish_error)?;
    tracing::info!(id = %p.id, version = p.version, log_index = p.log_index, "published");
    let location =
        format!("{}{}", state.node.config.url, paths::expand(paths::ITEM_PAGE, p.id.as_str()));
    Ok(HttpResponse::Created().insert_header((header::LOCATION, location)).json(p))
}

async fn withdraw(
    req: HttpRequest,
    state: web::Data<Publisher>,
    path: web::Path<String>,
    body: Bytes,
) -> ApiResult {
    state.authorize(&req)?;
    let id = parse_item_id(&path)?;
    let request = WithdrawRequest::from_json(&body).map_err(ApiError::invalid_draft)?;
    let p = state.node.withdraw(id, request).await.map_err(publish_error)?;
    tracing::info!(id = %p.id, log_index = p.log_index, "withdrawn");
    Ok(HttpResponse::Ok().json(p))
}

async fn upload(req: HttpRequest, state: web::Data<Publisher>, body: Bytes) -> ApiResult {
    state.authorize(&req)?;
    if body.is_empty() {
        return Err(ApiError::new(ErrorCode::Empty, "the attachment is empty"));
    }
    let store = Arc::clone(&state.node.store);
    let size = body.len() as u64;
    let sha256 = web::block(move || store.put_blob(&body))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let location = format!("{}/attachments/{}", state.node.config.url, sha256);
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(Uploaded { sha256, size }))
}

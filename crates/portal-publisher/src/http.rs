//! The publisher's HTTP interface (SPEC.md §8): the descriptor, the log API, checkpoints and
//! proofs, items, feeds and their archives, attachments, and the editor API. Registered by
//! [`routes`]; the other rooms read the node through [`Publisher`].

// Helpers return a ready `HttpResponse` as their error so handlers can `?`-style return it;
// it is built once per failing request, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, Responder};
use portal_http::{ApiError, IMMUTABLE, SHORT, render};
use portal_proto::crypto::encode_base64;
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::feed::{self, ArchiveLinks, FeedMeta};
use portal_proto::ids::{Digest, ItemId};
use portal_proto::merkle;
use portal_proto::record::Record;
use portal_proto::time::Timestamp;
use serde::Deserialize;
use serde_json::json;

use crate::draft::{Draft, WithdrawRequest};
use crate::node::{Node, PublishError};
use crate::room::Publisher;

/// Entries per feed page and per archive (archives cover log ranges of this many indices).
pub const PAGE: u64 = 100;
/// Default and largest page of the log API.
const LOG_DEFAULT: u64 = 100;
const LOG_MAX: u64 = 1000;

/// Register the publisher's routes (SPEC.md §8: descriptor, log, checkpoint, proofs, items,
/// feeds, attachments, and the editor API) on an actix `App`; `state` must be in its app data.
pub fn routes(cfg: &mut web::ServiceConfig, max_draft: usize, max_attachment: usize) {
    cfg.route("/.well-known/portal-node", web::get().to(descriptor))
        .route("/healthz", web::get().to(healthz))
        .route("/api/v1/log", web::get().to(log))
        .route("/api/v1/checkpoint", web::get().to(checkpoint))
        .route("/api/v1/proof/inclusion", web::get().to(inclusion))
        .route("/api/v1/proof/consistency", web::get().to(consistency))
        .route("/api/v1/items/{id}", web::get().to(item_json))
        .route("/api/v1/items/{id}/bundle", web::get().to(crate::bundle::item_bundle))
        .route("/feeds/atom", web::get().to(atom_latest))
        .route("/feeds/json", web::get().to(json_latest))
        .route("/feeds/atom/archive/{n}", web::get().to(atom_archive))
        .route("/feeds/json/archive/{n}", web::get().to(json_archive))
        .route("/attachments/{sha256}", web::get().to(attachment))
        .service(
            web::resource("/api/v1/items")
                .app_data(web::PayloadConfig::new(max_draft))
                .route(web::post().to(publish)),
        )
        .service(
            web::resource("/api/v1/items/{id}/withdraw")
                .app_data(web::PayloadConfig::new(max_draft))
                .route(web::post().to(withdraw)),
        )
        .service(
            web::resource("/api/v1/attachments")
                .app_data(web::PayloadConfig::new(max_attachment))
                .route(web::post().to(upload)),
        );
}

// ---------------------------------------------------------------------------------------------
// Errors and helpers

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> HttpResponse {
    ApiError::new(status, code, message).into()
}

fn internal(e: impl std::fmt::Display) -> HttpResponse {
    ApiError::internal(e).into()
}

fn publish_error(e: PublishError) -> HttpResponse {
    match e {
        PublishError::Invalid(fields) => {
            ApiError::invalid_fields("invalid-draft", "the draft has invalid fields", fields).into()
        }
        PublishError::NotFound(id) => {
            error(StatusCode::NOT_FOUND, "not-found", format!("no item {id}"))
        }
        PublishError::Withdrawn(id) => error(
            StatusCode::CONFLICT,
            "withdrawn",
            format!("item {id} was withdrawn; it cannot change any more"),
        ),
        PublishError::Refused(reason) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "signing-refused", reason)
        }
        other => internal(other),
    }
}

fn parse_item_id(raw: &str) -> Result<ItemId, HttpResponse> {
    ItemId::new(raw).map_err(|e| error(StatusCode::NOT_FOUND, "not-found", e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Read side

async fn healthz(state: web::Data<Publisher>) -> impl Responder {
    let refusal = state.node.refusal();
    let body = json!({"status": if refusal.is_some() { "degraded" } else { "ok" },
                      "log_size": state.node.store.size(), "signing_refused": refusal});
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}

async fn descriptor(req: HttpRequest, state: web::Data<Publisher>) -> HttpResponse {
    state.node.metrics.request();
    match envelope::sign(&state.descriptor(), state.node.signer()) {
        Ok(signed) => {
            let r = render(signed.to_json().into_bytes(), None);
            state.conditional(&req, "application/json", &r, "public, max-age=60")
        }
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct LogQuery {
    after: Option<u64>,
    limit: Option<u64>,
}

async fn log(
    req: HttpRequest,
    state: web::Data<Publisher>,
    q: web::Query<LogQuery>,
) -> HttpResponse {
    state.node.metrics.request();
    let (after, limit) = (q.after.unwrap_or(0), q.limit.unwrap_or(LOG_DEFAULT));
    let store = &state.node.store;
    let current = match store.checkpoint() {
        Ok(note) => (after, limit, store.size(), note.unwrap_or_default()),
        Err(e) => return internal(e),
    };
    let r = match state.log_pages.get(&current) {
        Some(r) => r,
        None => {
            let body = match log_page(&state.node, after, limit) {
                Ok(b) => b,
                Err(e) => return internal(e),
            };
            // Keyed by what the page embeds, which a commit since `current` may have moved.
            let key = (
                after,
                limit,
                body["size"].as_u64().unwrap_or_default(),
                body["checkpoint"].as_str().unwrap_or_default().to_owned(),
            );
            let r = Arc::new(render(serde_json::to_vec(&body).unwrap_or_default(), None));
            state.log_pages.put(key, Arc::clone(&r), |_| false);
            r
        }
    };
    // Entries never change, but the embedded checkpoint does: a short max-age for every page.
    state.conditional(&req, "application/json", &r, SHORT)
}

/// A log page (SPEC.md §8, `log`): entries from `after` (clamped to the size), at most `limit`
/// (clamped to 1–1000), with the latest checkpoint. Also the body of WebSub deliveries.
pub fn log_page(
    node: &Node,
    after: u64,
    limit: u64,
) -> Result<serde_json::Value, portal_store::StoreError> {
    let store = &node.store;
    let size = store.size();
    let start = after.min(size);
    let limit = limit.clamp(1, LOG_MAX);
    let entries = store.entries(start, limit as usize)?;
    let checkpoint = store.checkpoint()?.unwrap_or_default();
    let end = start + entries.len() as u64;
    let mut body = json!({
        "origin": node.config.id,
        "start": start,
        "size": size,
        "entries": entries.iter().zip(start..).map(|(s, i)| json!({
            "index": i, "kid": s.kid(), "record": s.record_base64(), "sig": s.sig_base64()})).collect::<Vec<_>>(),
        "checkpoint": checkpoint,
    });
    if end < size {
        body["next"] = json!(format!("{}/api/v1/log?after={end}&limit={limit}", node.config.url));
    }
    Ok(body)
}

async fn checkpoint(req: HttpRequest, state: web::Data<Publisher>) -> HttpResponse {
    state.node.metrics.request();
    match state.node.store.checkpoint() {
        Ok(Some(note)) => {
            let r = render(note.into_bytes(), None);
            state.conditional(&req, "text/plain; charset=utf-8", &r, SHORT)
        }
        Ok(None) => error(StatusCode::SERVICE_UNAVAILABLE, "no-checkpoint", "no checkpoint yet"),
        Err(e) => internal(e),
    }
}

/// A proof between fixed sizes never changes: immutable.
fn proof_response(
    proof: Result<Vec<merkle::Hash>, merkle::MerkleError>,
    mut body: serde_json::Value,
) -> HttpResponse {
    match proof {
        Ok(proof) => {
            body["proof"] = json!(proof.iter().map(|h| encode_base64(h)).collect::<Vec<_>>());
            HttpResponse::Ok().insert_header((header::CACHE_CONTROL, IMMUTABLE)).json(body)
        }
        Err(e) => internal(e),
    }
}

#[derive(Deserialize)]
struct InclusionQuery {
    index: u64,
    size: Option<u64>,
}

async fn inclusion(state: web::Data<Publisher>, q: web::Query<InclusionQuery>) -> HttpResponse {
    state.node.metrics.request();
    let store = &state.node.store;
    let size = q.size.unwrap_or_else(|| store.size());
    if size > store.size() || q.index >= size {
        return error(
            StatusCode::BAD_REQUEST,
            "out-of-range",
            format!("need index < size <= {}", store.size()),
        );
    }
    proof_response(
        merkle::inclusion_proof(store.as_ref(), q.index, size),
        json!({"index": q.index, "size": size}),
    )
}

#[derive(Deserialize)]
struct ConsistencyQuery {
    from: u64,
    to: Option<u64>,
}

async fn consistency(state: web::Data<Publisher>, q: web::Query<ConsistencyQuery>) -> HttpResponse {
    state.node.metrics.request();
    let store = &state.node.store;
    let to = q.to.unwrap_or_else(|| store.size());
    if q.from == 0 || q.from > to || to > store.size() {
        return error(
            StatusCode::BAD_REQUEST,
            "out-of-range",
            format!("need 0 < from <= to <= {}", store.size()),
        );
    }
    proof_response(
        merkle::consistency_proof(store.as_ref(), q.from, to),
        json!({"from": q.from, "to": to}),
    )
}

/// An item's versions, oldest first, and its withdrawal.
type History = (Vec<SignedRecord>, Option<SignedRecord>);

/// All versions (and the withdrawal) of an item.
fn item_history(node: &Node, id: &ItemId) -> Result<Option<History>, HttpResponse> {
    let Some(idx) = node.store.item(id).map_err(internal)? else { return Ok(None) };
    let mut versions = Vec::with_capacity(idx.versions.len());
    for i in idx.versions {
        versions.push(
            node.store
                .entry(i)
                .map_err(internal)?
                .ok_or_else(|| internal(format!("entry {i} missing")))?,
        );
    }
    let withdrawal = match idx.withdrawal {
        Some(i) => Some(
            node.store
                .entry(i)
                .map_err(internal)?
                .ok_or_else(|| internal(format!("entry {i} missing")))?,
        ),
        None => None,
    };
    Ok(Some((versions, withdrawal)))
}

async fn item_json(
    req: HttpRequest,
    state: web::Data<Publisher>,
    path: web::Path<String>,
) -> HttpResponse {
    state.node.metrics.request();
    let id = match parse_item_id(&path) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    match item_history(&state.node, &id) {
        Ok(Some((versions, withdrawal))) => {
            let mut body = json!({"id": id, "versions": versions});
            if let Some(w) = withdrawal {
                body["withdrawal"] = json!(w);
            }
            let r = render(serde_json::to_vec(&body).unwrap_or_default(), None);
            state.conditional(&req, "application/json", &r, SHORT)
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "not-found", format!("no item {id}")),
        Err(resp) => resp,
    }
}

async fn attachment(state: web::Data<Publisher>, path: web::Path<String>) -> HttpResponse {
    state.node.metrics.request();
    let Ok(digest) = Digest::new(path.as_str()) else {
        return error(
            StatusCode::NOT_FOUND,
            "not-found",
            "attachments are addressed by SHA-256 (64 hex)",
        );
    };
    match state.node.store.blob(&digest) {
        Ok(Some(bytes)) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .insert_header((header::ETAG, format!("\"{}\"", digest.as_str())))
            .insert_header((header::CACHE_CONTROL, IMMUTABLE))
            .body(bytes),
        Ok(None) => error(StatusCode::NOT_FOUND, "not-found", "no such attachment"),
        Err(e) => internal(e),
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
    build: impl FnOnce(u64) -> Result<(Vec<SignedRecord>, FeedMeta), HttpResponse>,
) -> HttpResponse {
    state.node.metrics.request();
    let size = state.node.store.size();
    let rendered = match state.latest.get(&(format, size)).filter(|_| cache) {
        Some(r) => r,
        None => {
            let (entries, meta) = match build(size) {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            let r = match encode(format, &meta, &entries) {
                Ok(body) => Arc::new(render(body, Some(meta.updated))),
                Err(e) => return internal(e),
            };
            if cache {
                state.latest.put((format, size), Arc::clone(&r), |(f, _)| *f == format);
            }
            r
        }
    };
    state.conditional(req, content_type(format), &rendered, SHORT)
}

/// Serve archive `n` of feed `format` (log indices `[100·n, 100·n + 100)`): 404 until it is
/// complete, then rendered once by `build(end)` and kept (archives never change).
pub fn serve_archive(
    req: &HttpRequest,
    state: &Publisher,
    format: &'static str,
    n: u64,
    build: impl FnOnce(u64) -> Result<(Vec<SignedRecord>, FeedMeta), HttpResponse>,
) -> HttpResponse {
    state.node.metrics.request();
    let Some(end) = n.checked_mul(PAGE).and_then(|s| s.checked_add(PAGE)) else {
        return error(StatusCode::NOT_FOUND, "not-found", "no such archive");
    };
    if end > state.node.store.size() {
        return error(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("archive {n} is not complete yet; see the latest page"),
        );
    }
    let rendered = match state.archives.get(&(format, n)) {
        Some(r) => r,
        None => {
            let (entries, meta) = match build(end) {
                Ok(x) => x,
                Err(resp) => return resp,
            };
            let r = match encode(format, &meta, &entries) {
                Ok(body) => Arc::new(render(body, Some(meta.updated))),
                Err(e) => return internal(e),
            };
            state.archives.put((format, n), Arc::clone(&r), |_| false);
            r
        }
    };
    state.conditional(req, content_type(format), &rendered, IMMUTABLE)
}

async fn latest(
    req: HttpRequest,
    state: web::Data<Publisher>,
    format: &'static str,
) -> HttpResponse {
    serve_latest(&req, &state, format, true, |size| {
        let mut updated = Timestamp::EPOCH;
        let keep =
            |s: &SignedRecord| feed_entry_time(s).map(|t| updated = updated.max(t)).is_some();
        let entries = state.node.store.entries_rev(size, PAGE as usize, keep).map_err(internal)?;
        let entries = entries.into_iter().map(|(_, s)| s).collect();
        Ok((entries, feed_meta(&state.node, format, None, updated)))
    })
}

async fn atom_latest(req: HttpRequest, state: web::Data<Publisher>) -> HttpResponse {
    latest(req, state, "atom").await
}

async fn json_latest(req: HttpRequest, state: web::Data<Publisher>) -> HttpResponse {
    latest(req, state, "json").await
}

async fn archive(
    req: HttpRequest,
    state: web::Data<Publisher>,
    n: u64,
    format: &'static str,
) -> HttpResponse {
    serve_archive(&req, &state, format, n, |end| {
        let entries =
            state.node.store.entries_rev(end, PAGE as usize, |_| true).map_err(internal)?;
        let (entries, updated) = feed_entries(entries.into_iter().map(|(_, s)| s));
        Ok((entries, feed_meta(&state.node, format, Some(n), updated)))
    })
}

async fn atom_archive(
    req: HttpRequest,
    state: web::Data<Publisher>,
    n: web::Path<u64>,
) -> HttpResponse {
    archive(req, state, *n, "atom").await
}

async fn json_archive(
    req: HttpRequest,
    state: web::Data<Publisher>,
    n: web::Path<u64>,
) -> HttpResponse {
    archive(req, state, *n, "json").await
}

// ---------------------------------------------------------------------------------------------
// Editor API

async fn publish(req: HttpRequest, state: web::Data<Publisher>, body: Bytes) -> HttpResponse {
    if let Err(e) = state.authorize(&req) {
        return e.into();
    }
    let draft = match Draft::from_json(&body) {
        Ok(d) => d,
        Err(fields) => return publish_error(PublishError::Invalid(fields)),
    };
    match state.node.publish(draft).await {
        Ok(p) => {
            tracing::info!(id = %p.id, version = p.version, log_index = p.log_index, "published");
            HttpResponse::Created()
                .insert_header((
                    header::LOCATION,
                    format!("{}/items/{}", state.node.config.url, p.id),
                ))
                .json(p)
        }
        Err(e) => publish_error(e),
    }
}

async fn withdraw(
    req: HttpRequest,
    state: web::Data<Publisher>,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    if let Err(e) = state.authorize(&req) {
        return e.into();
    }
    let id = match parse_item_id(&path) {
        Ok(id) => id,
        Err(resp) => return resp,
    };
    let request: WithdrawRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return publish_error(PublishError::Invalid(vec![
                portal_proto::record::FieldError::new("$", e.to_string()),
            ]));
        }
    };
    match state.node.withdraw(id, request).await {
        Ok(p) => {
            tracing::info!(id = %p.id, log_index = p.log_index, "withdrawn");
            HttpResponse::Ok().json(p)
        }
        Err(e) => publish_error(e),
    }
}

async fn upload(req: HttpRequest, state: web::Data<Publisher>, body: Bytes) -> HttpResponse {
    if let Err(e) = state.authorize(&req) {
        return e.into();
    }
    if body.is_empty() {
        return error(StatusCode::BAD_REQUEST, "empty", "the attachment is empty");
    }
    let store = Arc::clone(&state.node.store);
    let len = body.len();
    match web::block(move || store.put_blob(&body)).await {
        Ok(Ok(digest)) => HttpResponse::Created()
            .insert_header((
                header::LOCATION,
                format!("{}/attachments/{}", state.node.config.url, digest),
            ))
            .json(json!({"sha256": digest, "size": len})),
        Ok(Err(e)) => internal(e),
        Err(e) => internal(e),
    }
}

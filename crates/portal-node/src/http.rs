//! The node's HTTP interface (SPEC.md §8), built by [`app`] so tests can drive it in-process
//! and the binary can serve it.

// Helpers return a ready `HttpResponse` as their error so handlers can `?`-style return it;
// it is built once per failing request, so its size does not matter.
#![allow(clippy::result_large_err)]

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse, Responder};
use portal_proto::crypto::encode_base64;
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::feed::{self, ArchiveLinks, FeedMeta};
use portal_proto::ids::{Digest, ItemId};
use portal_proto::merkle;
use portal_proto::record::{Descriptor, Record, RecordType};
use portal_proto::time::Timestamp;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::aggregate::Aggregator;
use crate::draft::{Draft, WithdrawRequest};
use crate::hub::{Hub, RequestError, SubscribeForm};
use crate::node::{Node, PublishError, now};

/// Entries per feed page and per archive (archives cover log ranges of this many indices).
pub const PAGE: u64 = 100;
/// Default and largest page of the log API.
const LOG_DEFAULT: u64 = 100;
const LOG_MAX: u64 = 1000;

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    pub(crate) node: Arc<Node>,
    /// SHA-256 digests of the tokens that may use the editor API.
    tokens: Vec<[u8; 32]>,
    /// Rendered latest feeds, by (format, log size).
    cache: Mutex<Vec<(&'static str, u64, Arc<Rendered>)>>,
    /// Rendered archive pages, by (format, archive number): immutable, so never invalidated,
    /// only evicted oldest-first past [`ARCHIVE_CACHE`] pages.
    archives: Mutex<VecDeque<(ArchiveKey, Arc<Rendered>)>>,
    /// Rendered log API pages, by their query and the log's state (see [`LogPageKey`]):
    /// readers walking the same log (mirrors, verifiers, a restore) are served the same bytes
    /// and gzip without the node encoding and compressing each page again.
    log_pages: Mutex<VecDeque<(LogPageKey, Arc<Rendered>)>>,
    /// The WebSub hub (`POST /websub`).
    hub: Arc<Hub>,
    /// Members, for a node that has some (its routes answer 404 until it does).
    pub(crate) agg: Arc<Aggregator>,
}

/// Archive pages kept rendered (about 2 × 400 KB each for 100 entries of 1–2 KB: identity and
/// gzip), so that a crawler walking the archives does not make the node re-render each page.
const ARCHIVE_CACHE: usize = 64;

/// An archive page: (format, archive number).
type ArchiveKey = (&'static str, u64);

/// Log API pages kept rendered (up to about 2 MB + 0.6 MB gzip each at the largest limit).
const LOG_PAGE_CACHE: usize = 16;

/// A log API page: `after` and `limit` as asked, and the log size and checkpoint note it
/// embeds. A page is current while both are: a new entry or a re-signed checkpoint (a
/// heartbeat) makes a new key, and the stale page ages out.
type LogPageKey = (u64, u64, u64, String);

/// Bodies below this size are not worth compressing.
const GZIP_MIN: usize = 1024;

/// One resource, rendered once and served as many times as asked: the identity bytes, and the
/// gzip bytes made on the first request that accepts them. Each representation has its own
/// strong ETag (RFC 9110 §8.8.3: a strong validator changes with the representation's bytes).
#[derive(Debug)]
pub(crate) struct Rendered {
    body: Bytes,
    etag: String,
    last_modified: Option<String>,
    gzip: OnceLock<Option<(Bytes, String)>>,
}

impl Rendered {
    /// The gzip representation and its ETag, compressed on first use; `None` when the body is
    /// too small to gain from it (or compression failed, which serves identity instead).
    fn gzip(&self) -> Option<&(Bytes, String)> {
        self.gzip
            .get_or_init(|| {
                if self.body.len() < GZIP_MIN {
                    return None;
                }
                let mut enc = flate2::write::GzEncoder::new(
                    Vec::with_capacity(self.body.len() / 4),
                    flate2::Compression::default(),
                );
                enc.write_all(&self.body).ok()?;
                let gz = enc.finish().ok()?;
                let etag = format!("{}-gzip\"", self.etag.trim_end_matches('"'));
                Some((Bytes::from(gz), etag))
            })
            .as_ref()
    }
}

/// Whether the request's `Accept-Encoding` accepts gzip (RFC 9110 §12.5.3): a `gzip` (or
/// `x-gzip`, or `*`) coding whose q-value is not 0.
fn accepts_gzip(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    value.split(',').any(|coding| {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let named = ["gzip", "x-gzip", "*"].iter().any(|n| name.eq_ignore_ascii_case(n));
        let q_zero = parts.any(|p| {
            let p = p.trim();
            p.len() > 2
                && p[..2].eq_ignore_ascii_case("q=")
                && p[2..].trim().parse::<f32>().is_ok_and(|q| q <= 0.0)
        });
        named && !q_zero
    })
}

/// Whether `If-None-Match` lists `etag` (weak comparison, RFC 9110 §13.1.2).
fn etag_matches(if_none_match: &str, etag: &str) -> bool {
    if_none_match.split(',').map(str::trim).any(|t| t == "*" || t.trim_start_matches("W/") == etag)
}

impl AppState {
    /// State for `node`, accepting the editors' admin token and, if given, the local CLI token.
    pub fn new(node: Arc<Node>, agg: Arc<Aggregator>, extra_tokens: &[String]) -> AppState {
        let mut tokens = vec![node.config.admin_token_sha256.to_bytes()];
        tokens.extend(extra_tokens.iter().map(|t| Digest::of(t.as_bytes()).to_bytes()));
        let hub = Hub::new(Arc::clone(&node));
        AppState {
            node,
            tokens,
            cache: Mutex::new(Vec::new()),
            archives: Mutex::new(VecDeque::new()),
            log_pages: Mutex::new(VecDeque::new()),
            hub,
            agg,
        }
    }

    /// The node's WebSub hub (started by [`crate::serve`] with [`Hub::start`]).
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// The rendered latest feed `format` if it is current for log size `size`.
    pub(crate) fn cached(&self, format: &'static str, size: u64) -> Option<Arc<Rendered>> {
        let c = self.cache.lock().ok()?;
        c.iter().find(|(f, s, _)| *f == format && *s == size).map(|(_, _, r)| Arc::clone(r))
    }

    /// Keep `r` as the latest feed `format` for log size `size`.
    pub(crate) fn cache(&self, format: &'static str, size: u64, r: Arc<Rendered>) {
        if let Ok(mut c) = self.cache.lock() {
            c.retain(|(f, _, _)| *f != format);
            c.push((format, size, r));
        }
    }

    /// A rendered archive page.
    pub(crate) fn cached_archive(&self, format: &'static str, n: u64) -> Option<Arc<Rendered>> {
        let c = self.archives.lock().ok()?;
        c.iter().find(|(key, _)| *key == (format, n)).map(|(_, r)| Arc::clone(r))
    }

    /// Keep a rendered archive page (immutable; the oldest kept is evicted past the bound).
    pub(crate) fn cache_archive(&self, format: &'static str, n: u64, r: Arc<Rendered>) {
        if let Ok(mut c) = self.archives.lock()
            && !c.iter().any(|(key, _)| *key == (format, n))
        {
            if c.len() >= ARCHIVE_CACHE {
                c.pop_front();
            }
            c.push_back(((format, n), r));
        }
    }
}

/// Register every route on an actix `App`.
pub fn app(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    let max_draft = state.node.config.max_draft_bytes;
    let max_attachment = state.node.config.max_attachment_bytes;
    cfg.app_data(state)
        .route("/.well-known/portal-node", web::get().to(descriptor))
        .route("/healthz", web::get().to(healthz))
        .route("/metrics", web::get().to(metrics))
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
        .route("/api/v1/admin/deliveries", web::get().to(admin_deliveries))
        .configure(crate::national::routes)
        .configure(crate::web::routes)
        .service(
            web::resource("/websub")
                .app_data(web::FormConfig::default().limit(16 * 1024).error_handler(|e, _| {
                    let resp = error(StatusCode::BAD_REQUEST, "invalid-request", e.to_string());
                    actix_web::error::InternalError::from_response(e, resp).into()
                }))
                .route(web::post().to(websub)),
        )
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

/// A JSON error with a stable code (SPEC.md §8).
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> HttpResponse {
    HttpResponse::build(status).json(json!({"error": {"code": code, "message": message.into()}}))
}

pub(crate) fn internal(e: impl std::fmt::Display) -> HttpResponse {
    tracing::error!("internal error: {e}");
    error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; see the node's log")
}

/// Serve `rendered` with a strong ETag, gzip-compressed when the client accepts it, honouring
/// `If-None-Match` (and `If-Modified-Since` when there is no `If-None-Match`).
pub(crate) fn conditional(
    req: &HttpRequest,
    state: &AppState,
    content_type: &'static str,
    rendered: &Rendered,
    cache_control: &'static str,
) -> HttpResponse {
    let (body, etag, gzip) = match rendered.gzip().filter(|_| accepts_gzip(req)) {
        Some((gz, etag)) => (gz, etag, true),
        None => (&rendered.body, &rendered.etag, false),
    };
    let inm = req.headers().get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok());
    let ims = req.headers().get(header::IF_MODIFIED_SINCE).and_then(|v| v.to_str().ok());
    let fresh = match inm {
        Some(tags) => etag_matches(tags, etag),
        None => ims.is_some() && ims == rendered.last_modified.as_deref(),
    };
    let mut resp = if fresh {
        state.node.metrics.not_modified();
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    resp.insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, cache_control));
    if rendered.gzip().is_some() {
        resp.insert_header((header::VARY, "accept-encoding"));
    }
    if let Some(lm) = &rendered.last_modified {
        resp.insert_header((header::LAST_MODIFIED, lm.as_str()));
    }
    if fresh {
        return resp.finish();
    }
    if gzip {
        resp.insert_header((header::CONTENT_ENCODING, "gzip"));
    }
    resp.content_type(content_type).body(body.clone())
}

pub(crate) fn render(body: Vec<u8>, last_modified: Option<Timestamp>) -> Rendered {
    let etag = format!("\"{}\"", &Digest::of(&body).as_str()[..32]);
    Rendered {
        body: Bytes::from(body),
        etag,
        last_modified: last_modified.map(http_date),
        gzip: OnceLock::new(),
    }
}

/// RFC 9110 IMF-fixdate.
fn http_date(t: Timestamp) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] =
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let s = t.to_string(); // YYYY-MM-DDTHH:MM:SSZ
    let month: usize = s[5..7].parse().unwrap_or(1);
    format!(
        "{}, {} {} {} {} GMT",
        DAYS[((t.unix() / 86_400) % 7) as usize],
        &s[8..10],
        MONTHS[month.saturating_sub(1).min(11)],
        &s[0..4],
        &s[11..19]
    )
}

pub(crate) const SHORT: &str = "public, max-age=5";
pub(crate) const IMMUTABLE: &str = "public, max-age=31536000, immutable";

pub(crate) fn authorized(req: &HttpRequest, state: &AppState) -> bool {
    let Some(token) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let presented = Digest::of(token.trim().as_bytes()).to_bytes();
    // Compare against every accepted token in constant time; never log the token.
    let mut ok = subtle::Choice::from(0u8);
    for t in &state.tokens {
        ok |= presented.ct_eq(t);
    }
    bool::from(ok)
}

pub(crate) fn unauthorized(state: &AppState) -> HttpResponse {
    state.node.metrics.unauthorized();
    let mut resp = error(StatusCode::UNAUTHORIZED, "unauthorized", "missing or wrong bearer token");
    resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    resp
}

fn publish_error(e: PublishError) -> HttpResponse {
    match e {
        PublishError::Invalid(fields) => HttpResponse::BadRequest().json(json!({"error": {
            "code": "invalid-draft",
            "message": "the draft has invalid fields",
            "fields": fields.iter().map(|f| json!({"field": f.field, "reason": f.reason})).collect::<Vec<_>>(),
        }})),
        PublishError::NotFound(id) => error(StatusCode::NOT_FOUND, "not-found", format!("no item {id}")),
        PublishError::Withdrawn(id) => {
            error(StatusCode::CONFLICT, "withdrawn", format!("item {id} was withdrawn; it cannot change any more"))
        }
        PublishError::Refused(reason) => error(StatusCode::SERVICE_UNAVAILABLE, "signing-refused", reason),
        other => internal(other),
    }
}

fn parse_item_id(raw: &str) -> Result<ItemId, HttpResponse> {
    ItemId::new(raw).map_err(|e| error(StatusCode::NOT_FOUND, "not-found", e.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Read side

async fn healthz(state: web::Data<AppState>) -> impl Responder {
    let refusal = state.node.refusal();
    let body = json!({"status": if refusal.is_some() { "degraded" } else { "ok" },
                      "log_size": state.node.store.size(), "signing_refused": refusal});
    HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body)
}

async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let mut body =
        state.node.metrics.render(state.node.store.size(), state.node.refusal().is_some());
    match state.hub.gauges() {
        Ok(gauges) => body.push_str(&state.node.metrics.render_websub(&gauges)),
        Err(e) => return internal(e),
    }
    if state.agg.has_roster() {
        body.push_str(&state.agg.render_metrics());
    }
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(body)
}

pub(crate) fn descriptor_record(node: &Node, agg: &Aggregator) -> Descriptor {
    let base = &node.config.url;
    let endpoints = [
        ("atom", "/feeds/atom"),
        ("checkpoint", "/api/v1/checkpoint"),
        ("consistency-proof", "/api/v1/proof/consistency"),
        ("inclusion-proof", "/api/v1/proof/inclusion"),
        ("items", "/api/v1/items"),
        ("json-feed", "/feeds/json"),
        ("log", "/api/v1/log"),
        ("websub-hub", "/websub"),
    ]
    .into_iter()
    .chain(agg.has_roster().then_some(crate::national::ENDPOINTS).into_iter().flatten())
    .map(|(k, v)| (k.to_owned(), format!("{base}{v}")))
    .collect();
    Descriptor {
        ipsp: 1,
        record_type: RecordType::Descriptor,
        origin: node.config.id.clone(),
        name: node.config.name.clone(),
        url: base.clone(),
        keys: node.key_history().to_vec(),
        endpoints,
        heartbeat: node.config.heartbeat_seconds,
        log_size: node.store.size(),
        time: now(),
    }
}

async fn descriptor(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    state.node.metrics.request();
    match envelope::sign(&descriptor_record(&state.node, &state.agg), state.node.signer()) {
        Ok(signed) => {
            let r = render(signed.to_json().into_bytes(), None);
            conditional(&req, &state, "application/json", &r, "public, max-age=60")
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
    state: web::Data<AppState>,
    q: web::Query<LogQuery>,
) -> HttpResponse {
    state.node.metrics.request();
    let (after, limit) = (q.after.unwrap_or(0), q.limit.unwrap_or(LOG_DEFAULT));
    let store = &state.node.store;
    let current = match store.checkpoint() {
        Ok(note) => (after, limit, store.size(), note.unwrap_or_default()),
        Err(e) => return internal(e),
    };
    let cached = state
        .log_pages
        .lock()
        .ok()
        .and_then(|c| c.iter().find(|(key, _)| *key == current).map(|(_, r)| Arc::clone(r)));
    let r = match cached {
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
            if let Ok(mut c) = state.log_pages.lock() {
                if c.len() >= LOG_PAGE_CACHE {
                    c.pop_front();
                }
                c.push_back((key, Arc::clone(&r)));
            }
            r
        }
    };
    // Entries never change, but the embedded checkpoint does: a short max-age for every page.
    conditional(&req, &state, "application/json", &r, SHORT)
}

/// A log page (SPEC.md §8, `log`): entries from `after` (clamped to the size), at most `limit`
/// (clamped to 1–1000), with the latest checkpoint. Also the body of WebSub deliveries.
pub(crate) fn log_page(
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

async fn checkpoint(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    state.node.metrics.request();
    match state.node.store.checkpoint() {
        Ok(Some(note)) => {
            let r = render(note.into_bytes(), None);
            conditional(&req, &state, "text/plain; charset=utf-8", &r, SHORT)
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

async fn inclusion(state: web::Data<AppState>, q: web::Query<InclusionQuery>) -> HttpResponse {
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

async fn consistency(state: web::Data<AppState>, q: web::Query<ConsistencyQuery>) -> HttpResponse {
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
    state: web::Data<AppState>,
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
            conditional(&req, &state, "application/json", &r, SHORT)
        }
        Ok(None) => error(StatusCode::NOT_FOUND, "not-found", format!("no item {id}")),
        Err(resp) => resp,
    }
}

async fn attachment(state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
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

pub(crate) fn encode(
    format: &str,
    meta: &FeedMeta,
    entries: &[SignedRecord],
) -> Result<Vec<u8>, String> {
    let text = if format.ends_with("atom") {
        feed::encode_atom(meta, entries)
    } else {
        feed::encode_json(meta, entries)
    };
    text.map(String::into_bytes).map_err(|e| e.to_string())
}

/// The media type of a feed format (`atom`, `json`, and the national ones).
pub(crate) fn content_type(format: &str) -> &'static str {
    if format.ends_with("atom") { ATOM } else { JSON_FEED }
}

const ATOM: &str = "application/atom+xml; charset=utf-8";
const JSON_FEED: &str = "application/feed+json; charset=utf-8";

/// Serve the latest page of feed `format`: rendered by `build(log size)` into entries and
/// metadata, and, when `cache` says so, kept until the log grows.
pub(crate) fn serve_latest(
    req: &HttpRequest,
    state: &AppState,
    format: &'static str,
    cache: bool,
    build: impl FnOnce(u64) -> Result<(Vec<SignedRecord>, FeedMeta), HttpResponse>,
) -> HttpResponse {
    state.node.metrics.request();
    let size = state.node.store.size();
    let rendered = match state.cached(format, size).filter(|_| cache) {
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
                state.cache(format, size, Arc::clone(&r));
            }
            r
        }
    };
    conditional(req, state, content_type(format), &rendered, SHORT)
}

/// Serve archive `n` of feed `format` (log indices `[100·n, 100·n + 100)`): 404 until it is
/// complete, then rendered once by `build(end)` and kept (archives never change).
pub(crate) fn serve_archive(
    req: &HttpRequest,
    state: &AppState,
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
    let rendered = match state.cached_archive(format, n) {
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
            state.cache_archive(format, n, Arc::clone(&r));
            r
        }
    };
    conditional(req, state, content_type(format), &rendered, IMMUTABLE)
}

async fn latest(
    req: HttpRequest,
    state: web::Data<AppState>,
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

async fn atom_latest(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    latest(req, state, "atom").await
}

async fn json_latest(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    latest(req, state, "json").await
}

async fn archive(
    req: HttpRequest,
    state: web::Data<AppState>,
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
    state: web::Data<AppState>,
    n: web::Path<u64>,
) -> HttpResponse {
    archive(req, state, *n, "atom").await
}

async fn json_archive(
    req: HttpRequest,
    state: web::Data<AppState>,
    n: web::Path<u64>,
) -> HttpResponse {
    archive(req, state, *n, "json").await
}

// ---------------------------------------------------------------------------------------------
// Editor API

async fn publish(req: HttpRequest, state: web::Data<AppState>, body: Bytes) -> HttpResponse {
    if !authorized(&req, &state) {
        return unauthorized(&state);
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
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: Bytes,
) -> HttpResponse {
    if !authorized(&req, &state) {
        return unauthorized(&state);
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

async fn upload(req: HttpRequest, state: web::Data<AppState>, body: Bytes) -> HttpResponse {
    if !authorized(&req, &state) {
        return unauthorized(&state);
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

// ---------------------------------------------------------------------------------------------
// WebSub hub (SPEC.md §10)

async fn websub(state: web::Data<AppState>, form: web::Form<SubscribeForm>) -> HttpResponse {
    state.node.metrics.request();
    match state.hub.request(form.into_inner()) {
        Ok(()) => HttpResponse::Accepted().finish(),
        Err(RequestError::Invalid { parameter, reason }) => {
            HttpResponse::BadRequest().json(json!({
            "error": {"code": "invalid-request", "message": format!("{parameter}: {reason}"),
                      "parameter": parameter}}))
        }
        Err(e @ RequestError::Full(_)) => {
            error(StatusCode::SERVICE_UNAVAILABLE, "hub-full", e.to_string())
        }
        Err(e @ RequestError::Busy) => {
            let mut resp = error(StatusCode::SERVICE_UNAVAILABLE, "hub-busy", e.to_string());
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
            resp
        }
        Err(e) => internal(e),
    }
}

/// Operators: subscriptions, pending deliveries and dead letters (never the secrets).
async fn admin_deliveries(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    if !authorized(&req, &state) {
        return unauthorized(&state);
    }
    match state.hub.report() {
        Ok(body) => {
            HttpResponse::Ok().insert_header((header::CACHE_CONTROL, "no-store")).json(body)
        }
        Err(e) => internal(e),
    }
}

//! The publisher's room: [`Publisher`], the state its routes share (the node, the editors'
//! tokens, rendered feeds and log pages), through which the other rooms read the node; and
//! the node's descriptor record.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use portal_http::{ApiError, RenderCache, Rendered, Tokens};
use portal_proto::record::{Descriptor, RecordType};

use crate::node::{Node, now};

/// Archive pages kept rendered (about 2 × 400 KB each for 100 entries of 1–2 KB: identity and
/// gzip), so that a crawler walking the archives does not make the node re-render each page.
const ARCHIVE_CACHE: usize = 64;

/// Log API pages kept rendered (up to about 2 MB + 0.6 MB gzip each at the largest limit).
const LOG_PAGE_CACHE: usize = 16;

/// Latest feed pages kept rendered: one per format (own and national, Atom and JSON), with
/// room for filtered variants.
const LATEST_CACHE: usize = 8;

/// A log API page: `after` and `limit` as asked, and the log size and checkpoint note it
/// embeds. A page is current while both are: a new entry or a re-signed checkpoint (a
/// heartbeat) makes a new key, and the stale page ages out.
type LogPageKey = (u64, u64, u64, String);

/// The endpoints a descriptor declares beyond the publisher's own (the aggregator's, when the
/// node has members), asked each time a descriptor is signed.
pub type ExtraEndpoints = Box<dyn Fn() -> &'static [(&'static str, &'static str)] + Send + Sync>;

/// The publisher's room: the node, the editors' tokens, and its rendered feeds and log pages.
/// Every other room reads the node through it.
pub struct Publisher {
    /// The node: sequencer, store, keys, config.
    pub node: Arc<Node>,
    /// The tokens that may use the editor and operator APIs.
    tokens: Tokens,
    /// Rendered latest feeds, by (format, log size): one per format is kept.
    pub(crate) latest: RenderCache<(&'static str, u64)>,
    /// Rendered archive pages, by (format, archive number): immutable, so never invalidated,
    /// only evicted oldest-first past [`ARCHIVE_CACHE`] pages.
    pub(crate) archives: RenderCache<(&'static str, u64)>,
    /// Rendered log API pages, by their query and the log's state (see [`LogPageKey`]):
    /// readers walking the same log (mirrors, verifiers, a restore) are served the same bytes
    /// and gzip without the node encoding and compressing each page again.
    pub(crate) log_pages: RenderCache<LogPageKey>,
    /// The other rooms' endpoints for the descriptor.
    extra_endpoints: ExtraEndpoints,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher").field("node", &self.node.config.id).finish_non_exhaustive()
    }
}

impl Publisher {
    /// The room for `node`, accepting the editors' admin token and `extra_tokens` (the local
    /// CLI token); `extra_endpoints` names the other rooms' endpoints in the descriptor.
    pub fn new(
        node: Arc<Node>,
        extra_tokens: &[String],
        extra_endpoints: ExtraEndpoints,
    ) -> Publisher {
        let mut tokens = Tokens::from_digests([node.config.admin_token_sha256.clone()]);
        for t in extra_tokens {
            tokens.accept(t);
        }
        Publisher {
            node,
            tokens,
            latest: RenderCache::new(LATEST_CACHE),
            archives: RenderCache::new(ARCHIVE_CACHE),
            log_pages: RenderCache::new(LOG_PAGE_CACHE),
            extra_endpoints,
        }
    }

    /// Whether `req` carries an accepted bearer token; counts a refusal in the metrics.
    pub fn authorize(&self, req: &HttpRequest) -> Result<(), ApiError> {
        if self.tokens.authorized(req) {
            Ok(())
        } else {
            self.node.metrics.unauthorized();
            Err(ApiError::unauthorized())
        }
    }

    /// [`portal_http::conditional`], counting `304`s in the node's metrics.
    pub fn conditional(
        &self,
        req: &HttpRequest,
        content_type: &'static str,
        rendered: &Rendered,
        cache_control: &'static str,
    ) -> HttpResponse {
        let resp = portal_http::conditional(req, content_type, rendered, cache_control);
        if resp.status() == StatusCode::NOT_MODIFIED {
            self.node.metrics.not_modified();
        }
        resp
    }

    /// The node's descriptor record, as signed now.
    pub fn descriptor(&self) -> Descriptor {
        descriptor_record(&self.node, (self.extra_endpoints)())
    }
}

/// The descriptor record of `node` declaring its own endpoints and `extra` (SPEC.md §5).
pub fn descriptor_record(node: &Node, extra: &[(&'static str, &'static str)]) -> Descriptor {
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
    .chain(extra.iter().copied())
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

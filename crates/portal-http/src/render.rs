//! Resources rendered once and served many times: identity bytes, gzip bytes made on first
//! demand, a strong ETag for each representation, and conditional GET.

use std::collections::VecDeque;
use std::io::Write as _;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use portal_proto::ids::Digest;
use portal_proto::time::Timestamp;

/// `Cache-Control` for resources that change (the latest feed page, a log page).
pub const SHORT: &str = "public, max-age=5";
/// `Cache-Control` for resources that never change (archives, attachments, proofs).
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Bodies below this size are not worth compressing.
const GZIP_MIN: usize = 1024;

/// One resource, rendered once and served as many times as asked: the identity bytes, and the
/// gzip bytes made on the first request that accepts them. Each representation has its own
/// strong ETag (RFC 9110 §8.8.3: a strong validator changes with the representation's bytes).
#[derive(Debug)]
pub struct Rendered {
    body: Bytes,
    etag: String,
    last_modified: Option<String>,
    gzip: OnceLock<Option<(Bytes, String)>>,
}

impl Rendered {
    /// The identity bytes.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

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

/// Render `body` (with `Last-Modified: last_modified` if given).
pub fn render(body: Vec<u8>, last_modified: Option<Timestamp>) -> Rendered {
    let etag = format!("\"{}\"", &Digest::of(&body).as_str()[..32]);
    Rendered {
        body: Bytes::from(body),
        etag,
        last_modified: last_modified.map(http_date),
        gzip: OnceLock::new(),
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

/// Serve `rendered` with a strong ETag, gzip-compressed when the client accepts it, honouring
/// `If-None-Match` (and `If-Modified-Since` when there is no `If-None-Match`): `304` when the
/// client's copy is fresh.
pub fn conditional(
    req: &HttpRequest,
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
    let mut resp = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
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

/// RFC 9110 IMF-fixdate.
pub fn http_date(t: Timestamp) -> String {
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

/// A bounded set of rendered resources by key, oldest evicted first.
#[derive(Debug)]
pub struct RenderCache<K> {
    entries: Mutex<VecDeque<(K, Arc<Rendered>)>>,
    capacity: usize,
}

impl<K: PartialEq> RenderCache<K> {
    /// A cache of at most `capacity` resources.
    pub fn new(capacity: usize) -> RenderCache<K> {
        RenderCache { entries: Mutex::new(VecDeque::new()), capacity: capacity.max(1) }
    }

    /// The resource kept under `key`.
    pub fn get(&self, key: &K) -> Option<Arc<Rendered>> {
        let c = self.entries.lock().ok()?;
        c.iter().find(|(k, _)| k == key).map(|(_, r)| Arc::clone(r))
    }

    /// Keep `r` under `key`, first dropping every entry `stale` says is superseded.
    pub fn put(&self, key: K, r: Arc<Rendered>, stale: impl Fn(&K) -> bool) {
        if let Ok(mut c) = self.entries.lock() {
            c.retain(|(k, _)| !stale(k) && *k != key);
            if c.len() >= self.capacity {
                c.pop_front();
            }
            c.push_back((key, r));
        }
    }
}

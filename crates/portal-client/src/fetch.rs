//! The safe HTTP fetcher: every outgoing `GET` of an aggregator or verifier goes through
//! [`Fetcher`], which enforces SPEC.md §12's "bound time and size" and the architecture
//! invariant that outgoing requests never reach non-public addresses unless a setting named
//! `allow_private` says so.
//!
//! What it enforces, on every request:
//! - no proxy from the environment; only `http` and `https`; no user information in URLs;
//! - the host, when it is an IP literal (which never reaches a resolver), must be public; a
//!   host name is resolved through [`PublicOnly`], which drops non-public addresses (checked
//!   on the addresses actually connected to, so DNS rebinding does not help);
//! - when an allowlist of origins is set ([`AllowedOrigins`]), the URL's origin must be on it;
//! - redirects: at most [`FetchPolicy::max_redirects`], each hop checked by the same rules, and
//!   never from `https` down to `http`;
//! - connect, read (between two reads) and total timeouts;
//! - the body, after gzip decompression, is read chunk by chunk and abandoned the moment it
//!   passes the cap;
//! - a status other than 2xx is an error ([`FetchError::Status`]); `304` is an answer only to
//!   [`Fetcher::get_conditional`]. ([`Fetcher::post_form`], for WebSub subscriptions, returns
//!   the status instead.)

use std::collections::BTreeSet;
use std::error::Error as StdError;
use std::net::IpAddr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH, LOCATION};
use reqwest::redirect::{Action, Attempt};
use reqwest::{StatusCode, Url};

use crate::net::{NotPublic, PublicOnly, refusal};

/// Longest error detail kept from a transport error, in bytes.
const DETAIL_MAX: usize = 512;

/// Limits and switches of a [`Fetcher`]. Risky switches default off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchPolicy {
    /// Time to establish a TCP (and TLS) connection. Default 5 s.
    pub connect_timeout: Duration,
    /// Longest wait for the next bytes of a response (headers or body). Default 10 s.
    pub read_timeout: Duration,
    /// Deadline for the whole request: redirects, headers and body. Default 30 s.
    pub total_timeout: Duration,
    /// Largest body accepted, in bytes after decompression. Default 16 MiB
    /// ([`portal_proto::limits::MAX_FEED_BYTES`]).
    pub max_body: usize,
    /// Most redirects followed in one request. Default 5.
    pub max_redirects: usize,
    /// Allow loopback, private, link-local and other non-public addresses. Default `false`;
    /// only for loopback deployments and tests.
    pub allow_private: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for FetchPolicy {
    fn default() -> Self {
        FetchPolicy {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(10),
            total_timeout: Duration::from_secs(30),
            max_body: portal_proto::limits::MAX_FEED_BYTES,
            max_redirects: 5,
            allow_private: false,
            user_agent: concat!("portal-client/", env!("CARGO_PKG_VERSION"), " (IPSP/1)").into(),
        }
    }
}

/// Why a fetch failed. Every variant names the URL concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// Refused before anything was sent to it: a scheme other than http(s), a non-public
    /// address, an origin off the allowlist, a redirect down to http or past the limit.
    #[error("refused {url}: {reason}")]
    Refused {
        /// The URL (or redirect target) refused.
        url: String,
        /// Why.
        reason: String,
    },
    /// No connection, no answer, or no complete body within the policy's timeouts.
    #[error("timed out fetching {url}")]
    Timeout {
        /// The URL requested.
        url: String,
    },
    /// The body (after decompression) passed the cap; reading stopped there.
    #[error("{url}: body larger than {limit} bytes")]
    TooLarge {
        /// The URL requested.
        url: String,
        /// The cap that was passed.
        limit: usize,
    },
    /// The server answered with a status other than 2xx (or an unexpected 304).
    #[error("{url}: HTTP status {status}")]
    Status {
        /// The URL that answered (after redirects).
        url: String,
        /// The status code.
        status: u16,
    },
    /// The connection failed or broke: DNS, TCP, TLS, HTTP framing, decompression.
    #[error("{url}: {detail}")]
    Transport {
        /// The URL requested.
        url: String,
        /// What went wrong, in words.
        detail: String,
    },
    /// The HTTP client could not be built (e.g. the TLS backend failed to start).
    #[error("cannot build the HTTP client: {detail}")]
    Setup {
        /// What went wrong.
        detail: String,
    },
}

impl FetchError {
    /// A stable machine-readable code: `refused`, `timeout`, `too-large`, `http-status`,
    /// `unreachable` or `setup`.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Refused { .. } => "refused",
            FetchError::Timeout { .. } => "timeout",
            FetchError::TooLarge { .. } => "too-large",
            FetchError::Status { .. } => "http-status",
            FetchError::Transport { .. } => "unreachable",
            FetchError::Setup { .. } => "setup",
        }
    }

    /// The URL concerned (empty for [`FetchError::Setup`]).
    pub fn url(&self) -> &str {
        match self {
            FetchError::Refused { url, .. }
            | FetchError::Timeout { url }
            | FetchError::TooLarge { url, .. }
            | FetchError::Status { url, .. }
            | FetchError::Transport { url, .. } => url,
            FetchError::Setup { .. } => "",
        }
    }
}

/// A successful response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The URL that answered, after redirects.
    pub url: Url,
    /// The HTTP status (2xx).
    pub status: u16,
    /// The `Content-Type` header, if present and readable.
    pub content_type: Option<String>,
    /// The `ETag` header, if present and readable (for [`Fetcher::get_conditional`]).
    pub etag: Option<String>,
    /// The body, decompressed.
    pub body: Vec<u8>,
}

/// The origins (`scheme://host[:port]`, as [`Url::origin`] serialises them) a fetcher may
/// reach. A shared handle: clones see the same set, so an aggregator can add a member's origin
/// while fetchers are running.
#[derive(Clone, Debug, Default)]
pub struct AllowedOrigins(Arc<RwLock<BTreeSet<String>>>);

impl AllowedOrigins {
    /// An empty allowlist (which allows nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// An allowlist of the origins of `urls`.
    pub fn from_urls<'a>(urls: impl IntoIterator<Item = &'a Url>) -> Self {
        let origins = Self::new();
        for url in urls {
            origins.insert(url);
        }
        origins
    }

    /// Allow `url`'s origin. Returns whether it was new. URLs without a tuple origin (not
    /// http or https, no host) are never allowed and return `false`.
    pub fn insert(&self, url: &Url) -> bool {
        match origin_key(url) {
            Some(key) => self.0.write().unwrap_or_else(PoisonError::into_inner).insert(key),
            None => false,
        }
    }

    /// Stop allowing `url`'s origin. Returns whether it was there.
    pub fn remove(&self, url: &Url) -> bool {
        match origin_key(url) {
            Some(key) => self.0.write().unwrap_or_else(PoisonError::into_inner).remove(&key),
            None => false,
        }
    }

    /// Replace the whole set with the origins of `urls`.
    pub fn replace<'a>(&self, urls: impl IntoIterator<Item = &'a Url>) {
        let set: BTreeSet<String> = urls.into_iter().filter_map(origin_key).collect();
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = set;
    }

    /// Whether `url`'s origin is allowed.
    pub fn contains(&self, url: &Url) -> bool {
        origin_key(url)
            .is_some_and(|key| self.0.read().unwrap_or_else(PoisonError::into_inner).contains(&key))
    }

    /// The allowed origins, sorted.
    pub fn to_vec(&self) -> Vec<String> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).iter().cloned().collect()
    }
}

/// The origin of an http(s) URL with a host, serialised; `None` for opaque origins.
fn origin_key(url: &Url) -> Option<String> {
    let origin = url.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// The rules every URL and every redirect hop must pass. Shared with the redirect policy.
#[derive(Debug)]
struct Rules {
    allow_private: bool,
    max_redirects: usize,
    origins: RwLock<Option<AllowedOrigins>>,
}

impl Rules {
    /// Check `url`, reached from `from` by a redirect (or first, when `from` is `None`).
    fn check(&self, url: &Url, from: Option<&Url>) -> Result<(), String> {
        check_target(url, from, self.allow_private, self.origins().as_ref())
    }

    fn origins(&self) -> Option<AllowedOrigins> {
        self.origins.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn redirect(&self, attempt: Attempt<'_>) -> Action {
        let previous = attempt.previous();
        // `previous` starts with the first URL, which was not a redirect.
        let refusal = if previous.len() > self.max_redirects {
            Some(format!("more than {} redirects", self.max_redirects))
        } else {
            self.check(attempt.url(), previous.last()).err()
        };
        match refusal {
            None => attempt.follow(),
            Some(reason) => {
                let url = attempt.url().to_string();
                attempt.error(HopRefused { url, reason })
            }
        }
    }
}

/// The hop validator: whether a request may go to `url`, reached from `from` by a redirect
/// (`None` for the first request).
fn check_target(
    url: &Url,
    from: Option<&Url>,
    allow_private: bool,
    origins: Option<&AllowedOrigins>,
) -> Result<(), String> {
    let scheme = url.scheme();
    if scheme != "http" && scheme != "https" {
        return Err(format!("scheme {scheme:?} is not allowed (only http and https)"));
    }
    if from.is_some_and(|f| f.scheme() == "https") && scheme == "http" {
        return Err("redirect from https to http".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("URLs with user information are not fetched".into());
    }
    let Some(host) = url.host_str().filter(|h| !h.is_empty()) else {
        return Err("no host".into());
    };
    // An IP literal (IPv6 in brackets). The URL parser has already turned every other
    // spelling of an IPv4 address (`2130706433`, `0x7f.1`, `0177.0.0.1`) into dotted
    // decimal, so a host that does not parse here is a name, checked when it is resolved.
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>().ok();
    if let Some(origins) = origins
        && !origins.contains(url)
    {
        return Err(format!(
            "origin {} is not on the allowlist",
            url.origin().ascii_serialization()
        ));
    }
    if let Some(ip) = ip
        && !allow_private
        && let Some(why) = refusal(ip)
    {
        return Err(format!("{ip} is not a public address: {why}"));
    }
    Ok(())
}

/// The error a refused redirect hop fails with (found again in the reqwest error's sources).
#[derive(Debug, thiserror::Error)]
#[error("redirect to {url} refused: {reason}")]
struct HopRefused {
    url: String,
    reason: String,
}

/// The one HTTP client of aggregators and verifiers. Cheap to clone (clones share the
/// connection pool and the allowlist).
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: Arc<FetchPolicy>,
    rules: Arc<Rules>,
}

impl Fetcher {
    /// A fetcher under `policy`, with no allowlist (any public origin).
    pub fn new(policy: FetchPolicy) -> Result<Fetcher, FetchError> {
        if policy.allow_private {
            tracing::warn!(
                "fetcher: requests to loopback, private and other non-public addresses are \
                 allowed (allow_private)"
            );
        }
        let rules = Arc::new(Rules {
            allow_private: policy.allow_private,
            max_redirects: policy.max_redirects,
            origins: RwLock::new(None),
        });
        let hop_rules = Arc::clone(&rules);
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::custom(move |attempt| hop_rules.redirect(attempt)))
            .connect_timeout(policy.connect_timeout)
            .read_timeout(policy.read_timeout)
            .timeout(policy.total_timeout)
            .gzip(true)
            .referer(false)
            .user_agent(policy.user_agent.clone());
        if !policy.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly));
        }
        let client = builder.build().map_err(|e| FetchError::Setup { detail: describe(e) })?;
        Ok(Fetcher { client, policy: Arc::new(policy), rules })
    }

    /// Restrict every request and every redirect hop to `origins`. The set stays shared with
    /// the caller's handle, so origins added to it later are allowed from then on. This
    /// fetcher and all its clones use the allowlist (it replaces any set before).
    pub fn with_allowed_origins(self, origins: AllowedOrigins) -> Self {
        *self.rules.origins.write().unwrap_or_else(PoisonError::into_inner) = Some(origins);
        self
    }

    /// The allowlist, if one is set.
    pub fn allowed_origins(&self) -> Option<AllowedOrigins> {
        self.rules.origins()
    }

    /// The policy this fetcher enforces.
    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Whether a request to `url` would be allowed to start: scheme, user information,
    /// allowlist, and (for IP literals) a public address. Host names are checked when they are
    /// resolved, so this cannot promise that a name resolves to a public address.
    pub fn check_url(&self, url: &Url) -> Result<(), FetchError> {
        self.rules
            .check(url, None)
            .map_err(|reason| FetchError::Refused { url: url.to_string(), reason })
    }

    /// `GET url`; the body may be at most `cap` bytes (after decompression), or the policy's
    /// `max_body` if that is smaller or `cap` is `None`.
    pub async fn get(&self, url: &Url, cap: Option<usize>) -> Result<Fetched, FetchError> {
        match self.fetch(url, cap, None).await? {
            Some(fetched) => Ok(fetched),
            None => Err(FetchError::Status { url: url.to_string(), status: 304 }),
        }
    }

    /// `GET url` with `If-None-Match: etag` (when given): `None` when the server answers
    /// `304 Not Modified`. The body cap is the policy's `max_body`.
    pub async fn get_conditional(
        &self,
        url: &Url,
        etag: Option<&str>,
    ) -> Result<Option<Fetched>, FetchError> {
        self.fetch(url, None, etag).await
    }

    /// `POST url` with an `application/x-www-form-urlencoded` body (a WebSub subscription
    /// request), under the same rules as `GET`; returns the status. At most 64 KiB of the
    /// answer is read.
    pub async fn post_form(&self, url: &Url, form: &[(&str, String)]) -> Result<u16, FetchError> {
        self.check_url(url)?;
        let send = async {
            let mut response = self
                .client
                .post(url.clone())
                .form(form)
                .send()
                .await
                .map_err(|e| classify(url, e))?;
            let status = response.status().as_u16();
            let mut read = 0usize;
            while let Some(chunk) = response.chunk().await.map_err(|e| classify(url, e))? {
                read += chunk.len();
                if read > 64 * 1024 {
                    break;
                }
            }
            Ok(status)
        };
        match tokio::time::timeout(self.policy.total_timeout, send).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout { url: url.to_string() }),
        }
    }

    async fn fetch(
        &self,
        url: &Url,
        cap: Option<usize>,
        etag: Option<&str>,
    ) -> Result<Option<Fetched>, FetchError> {
        self.check_url(url)?;
        let limit = cap.map_or(self.policy.max_body, |c| c.min(self.policy.max_body));
        // reqwest enforces the total timeout too; this outer deadline also covers anything
        // outside its reach (name resolution included).
        match tokio::time::timeout(self.policy.total_timeout, self.send(url, limit, etag)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout { url: url.to_string() }),
        }
    }

    async fn send(
        &self,
        url: &Url,
        limit: usize,
        etag: Option<&str>,
    ) -> Result<Option<Fetched>, FetchError> {
        let mut request = self.client.get(url.clone());
        if let Some(tag) = etag {
            request = request.header(IF_NONE_MATCH, tag);
        }
        let mut response = request.send().await.map_err(|e| classify(url, e))?;
        let status = response.status();
        let final_url = response.url().clone();
        if status == StatusCode::NOT_MODIFIED && etag.is_some() {
            return Ok(None);
        }
        if status.is_redirection()
            && let Some(refused) = self.unfollowed_redirect(&final_url, &response)
        {
            return Err(refused);
        }
        if !status.is_success() {
            return Err(FetchError::Status { url: final_url.to_string(), status: status.as_u16() });
        }
        let header =
            |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = header(CONTENT_TYPE);
        let etag = header(ETAG);
        let too_large = || FetchError::TooLarge { url: final_url.to_string(), limit };
        // Known length (no content coding): refuse before reading anything.
        if response.content_length().is_some_and(|len| len > limit as u64) {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| classify(&final_url, e))? {
            if chunk.len() > limit - body.len() {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Some(Fetched { url: final_url, status: status.as_u16(), content_type, etag, body }))
    }

    /// A redirect reqwest handed back instead of following: it never offers the redirect
    /// policy a `Location` it cannot send a request to (`file:`, `data:`, `ftp:`…). Such a
    /// hop is refused by the same rules as any other, and named so, rather than reported
    /// as a bare 3xx status.
    fn unfollowed_redirect(&self, from: &Url, response: &reqwest::Response) -> Option<FetchError> {
        let location = response.headers().get(LOCATION)?.to_str().ok()?;
        let target = from.join(location).ok()?;
        let reason = self.rules.check(&target, Some(from)).err()?;
        Some(FetchError::Refused { url: target.to_string(), reason })
    }
}

/// Turn a reqwest error into a [`FetchError`], finding our own refusals among its sources.
fn classify(url: &Url, e: reqwest::Error) -> FetchError {
    let mut source: Option<&(dyn StdError + 'static)> = Some(&e);
    while let Some(s) = source {
        if let Some(hop) = s.downcast_ref::<HopRefused>() {
            return FetchError::Refused { url: hop.url.clone(), reason: hop.reason.clone() };
        }
        if let Some(np) = s.downcast_ref::<NotPublic>() {
            return FetchError::Refused { url: url.to_string(), reason: np.to_string() };
        }
        source = s.source();
    }
    if e.is_timeout() {
        return FetchError::Timeout { url: url.to_string() };
    }
    FetchError::Transport { url: url.to_string(), detail: describe(e) }
}

/// A reqwest error in words with its sources, without the URL (reported beside it).
fn describe(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if text.len() > DETAIL_MAX {
        let mut end = DETAIL_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn hop_validator() {
        let check = |url: &str, from: Option<&str>| {
            check_target(&u(url), from.map(u).as_ref(), false, None)
        };
        assert!(check("https://example.gov.vn/a", None).is_ok());
        assert!(check("http://example.gov.vn/a", None).is_ok());
        assert!(check("https://example.gov.vn/b", Some("http://example.gov.vn/a")).is_ok());
        assert!(check("https://cdn.example.net/b", Some("https://example.gov.vn/a")).is_ok());
        let e = check("http://example.gov.vn/b", Some("https://example.gov.vn/a")).unwrap_err();
        assert!(e.contains("https to http"), "{e}");
        assert!(check("ftp://example.gov.vn/", None).is_err());
        assert!(check("file:///etc/passwd", None).is_err());
        assert!(check("https://user:pw@example.gov.vn/", None).is_err());
        for private in [
            "http://127.0.0.1/",
            "http://10.0.0.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://127.1/",
        ] {
            let e = check(private, None).unwrap_err();
            assert!(e.contains("not a public address"), "{private}: {e}");
            assert!(check_target(&u(private), None, true, None).is_ok(), "{private}");
        }
        // A public page may not redirect to a private address either.
        assert!(check("http://127.0.0.1/", Some("https://example.gov.vn/")).is_err());
    }

    #[test]
    fn encoded_ipv4_hosts_are_normalised_by_the_parser() {
        for (raw, host) in [
            ("http://2130706433/", "127.0.0.1"),
            ("http://0x7f.1/", "127.0.0.1"),
            ("http://0x7f000001/", "127.0.0.1"),
            ("http://0177.0.0.1/", "127.0.0.1"),
            ("http://127.0.0.1./", "127.0.0.1"),
        ] {
            let url = u(raw);
            assert_eq!(url.host_str(), Some(host), "{raw}");
        }
    }

    #[test]
    fn allowlist_applies_to_every_hop() {
        let allowed =
            AllowedOrigins::from_urls([&u("https://a.gov.vn/x"), &u("http://b.gov.vn:8080/")]);
        let check = |url: &str, from: Option<&str>| {
            check_target(&u(url), from.map(u).as_ref(), false, Some(&allowed))
        };
        assert!(check("https://a.gov.vn/other/path?q=1", None).is_ok());
        assert!(check("https://a.gov.vn:443/", None).is_ok());
        assert!(check("http://b.gov.vn:8080/y", None).is_ok());
        assert!(check("http://b.gov.vn/y", None).is_err());
        assert!(check("http://a.gov.vn/", None).is_err());
        assert!(check("https://c.gov.vn/", Some("https://a.gov.vn/")).is_err());
        allowed.insert(&u("https://c.gov.vn/"));
        assert!(check("https://c.gov.vn/", Some("https://a.gov.vn/")).is_ok());
        assert!(allowed.remove(&u("https://c.gov.vn/z")));
        assert!(check("https://c.gov.vn/", None).is_err());
        assert_eq!(allowed.to_vec(), ["http://b.gov.vn:8080", "https://a.gov.vn"]);
        assert!(!allowed.insert(&u("data:text/plain,hi")));
    }

    #[test]
    fn redirect_limit_and_codes() {
        let policy = FetchPolicy::default();
        assert_eq!(policy.max_body, 16 * 1024 * 1024);
        assert_eq!(policy.max_redirects, 5);
        assert!(!policy.allow_private);
        let e = FetchError::Timeout { url: "u".into() };
        assert_eq!((e.code(), e.url()), ("timeout", "u"));
    }
}

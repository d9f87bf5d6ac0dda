//! The node's WebSub hub (SPEC.md §10): subscriptions with verification of intent, and signed
//! deliveries of new log entries with retries and dead letters.
//!
//! - `POST /websub` ([`routes`]) validates the form and answers `202`; a verifier
//!   task then `GET`s the callback with a fresh challenge, and only an exact echo stores (or
//!   removes) the subscription.
//! - After every durable commit the sequencer bumps [`Node::commits`]; the delivery worker
//!   enqueues one delivery per active subscription for the new log range, durably, in one store
//!   batch that also advances the store's "notified" size. A commit the hub has not announced
//!   yet (a crash in between, `portal publish` with no server running) is announced at the next
//!   start, so nothing committed is ever left out.
//! - The worker claims due deliveries and posts each as a log page (the `log` endpoint's shape)
//!   with `X-Hub-Signature`, `Content-Digest` and the RFC 9421 signature of portal-proto's
//!   [`push`] module. `2xx` acknowledges; anything else is retried with exponential backoff and
//!   becomes a dead letter after `max_attempts` failures.
//!
//! The network is never touched by the sequencer thread, and every store write of the worker
//! runs on the blocking pool.

#![deny(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portal_proto::push::{self, SignedRequest};
use portal_proto::time::Timestamp;
use portal_store::{Delivery, QueuedDelivery, Store, StoreError, Subscription};
use reqwest::Url;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{Notify, Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

use portal_publisher::Node;
use portal_publisher::metrics::HubGauges;

mod routes;
pub use routes::routes;

/// Shortest lease granted, in seconds.
pub const LEASE_MIN: u64 = 300;
/// Longest lease granted, in seconds.
pub const LEASE_MAX: u64 = 864_000;
/// Lease granted when the subscriber asks for none, in seconds.
pub const LEASE_DEFAULT: u64 = 86_400;
/// Longest `hub.secret`, in bytes.
pub const SECRET_MAX: usize = 199;
/// Longest callback URL, in bytes (SPEC.md §12).
const URL_MAX: usize = 2048;
/// Total time allowed for one outgoing request (verification or delivery).
const TIMEOUT: Duration = Duration::from_secs(10);
/// Most bytes read from a subscriber's response.
const BODY_CAP: usize = 64 * 1024;
/// Longest wait between two delivery attempts, before jitter.
const RETRY_CAP_MS: u64 = 3_600_000;
/// How long a claimed delivery stays out of the queue's due range while it is attempted
/// (longer than any attempt; a stopped process's claims are released at the next start).
const CLAIM_MS: u64 = 60_000;
/// Deliveries attempted at once.
const MAX_IN_FLIGHT: usize = 16;
/// Verifications of intent run at once.
const MAX_VERIFYING: usize = 8;
/// Verifications of intent waiting to run; beyond this `POST /websub` answers `503`.
const VERIFY_QUEUE: usize = 64;
/// Entries in one delivery (the log page maximum); a longer range says `next`.
const PAGE_MAX: u64 = 1000;
/// Most entries per list in the admin report (the counts are always complete).
const REPORT_MAX: usize = 1000;
/// Longest `last_error` kept.
const ERROR_MAX: usize = 300;

/// What can stop the hub.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HubError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP client could not be built.
    #[error("HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// [`Hub::start`] was called twice.
    #[error("the hub is already running")]
    AlreadyStarted,
    /// A blocking store task panicked or was cancelled.
    #[error("store task: {0}")]
    Task(String),
}

/// Why a subscription request was refused (`POST /websub`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A form parameter is missing or wrong: `400`, naming it.
    #[error("{parameter}: {reason}")]
    Invalid {
        /// The parameter, e.g. `hub.topic`.
        parameter: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The hub holds its maximum of subscriptions: `503`.
    #[error("the hub holds its maximum of {0} subscriptions")]
    Full(usize),
    /// Too many verifications are waiting: `503`, retry later.
    #[error("too many subscription requests are waiting; retry later")]
    Busy,
    /// The store failed: `500`.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(parameter: &'static str, reason: impl Into<String>) -> RequestError {
    RequestError::Invalid { parameter, reason: reason.into() }
}

/// The form of `POST /websub` (WebSub §5.1); other parameters are ignored.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct SubscribeForm {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.topic")]
    topic: Option<String>,
    #[serde(rename = "hub.callback")]
    callback: Option<String>,
    #[serde(rename = "hub.lease_seconds")]
    lease_seconds: Option<String>,
    #[serde(rename = "hub.secret")]
    secret: Option<String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A validated request waiting for verification of intent. Holds the secret: no `Debug`.
struct Intent {
    mode: Mode,
    topic: String,
    callback: String,
    secret: String,
    lease_seconds: u64,
}

/// The node's WebSub hub. Built with [`Hub::new`] (by the server crate), run by
/// [`Hub::start`] once the server listens.
pub struct Hub {
    node: Arc<Node>,
    intents: mpsc::Sender<Intent>,
    waiting: Mutex<Option<mpsc::Receiver<Intent>>>,
    /// Rung when a delivery finishes, so the worker looks at the queue again.
    wake: Notify,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").field("url", &self.url()).finish_non_exhaustive()
    }
}

/// The hub's running tasks; dropping this stops them. A delivery interrupted mid-attempt is
/// attempted again at the next start.
#[derive(Debug)]
pub struct HubTasks {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for HubTasks {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// The wall clock in Unix milliseconds.
fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn now_secs() -> u64 {
    now_ms() / 1000
}

/// RFC 3339 for Unix seconds (out-of-range values print as the number).
fn rfc3339(secs: u64) -> Value {
    match Timestamp::from_unix(secs) {
        Some(t) => json!(t.to_string()),
        None => json!(secs),
    }
}

/// The delay before the next attempt after `failed` failed attempts: `base · 2^(failed-1)`,
/// capped at one hour, then scaled by `1 + 0.2 · jitter` (`jitter` in `[-1, 1]`).
pub(crate) fn backoff_ms(base_seconds: u64, failed: u32, jitter: f64) -> u64 {
    let base = base_seconds.max(1).saturating_mul(1000);
    let doublings = failed.saturating_sub(1).min(40);
    let delay = base.saturating_mul(1u64 << doublings).min(RETRY_CAP_MS);
    (delay as f64 * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0))) as u64
}

/// Read at most [`BODY_CAP`] bytes of a response (one more, to tell an overlong body).
async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        let room = BODY_CAP + 1 - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() > BODY_CAP {
            break;
        }
    }
    Ok(body)
}

/// A transport error in words, without the URL (the callback is logged beside it).
fn describe(e: reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} s", TIMEOUT.as_secs());
    }
    let e = e.without_url();
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    clip(text, ERROR_MAX)
}

/// `text` cut to at most `max` bytes, on a character boundary.
fn clip(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

/// Check a callback: an absolute `http`/`https` URL with a host and no fragment, written in the
/// normalised form a WHATWG URL parser gives (so the URL registered, the URL posted to and the
/// signed `@target-uri` are the same string).
///
/// Unless `allow_private`, a callback whose host is a non-public IP address is refused here;
/// hostnames are checked when they are resolved, on every connection ([`portal_client::net::PublicOnly`]).
fn check_callback(raw: &str, allow_private: bool) -> Result<(), RequestError> {
    const P: &str = "hub.callback";
    if raw.len() > URL_MAX {
        return Err(invalid(P, format!("longer than {URL_MAX} bytes")));
    }
    let url = Url::parse(raw).map_err(|e| invalid(P, format!("not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(P, "must be an http or https URL"));
    }
    let Some(host) = url.host_str() else {
        return Err(invalid(P, "has no host"));
    };
    // An IP literal (IPv6 in brackets); a domain name parses as neither.
    let ip = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().ok();
    if !allow_private && let Some(why) = ip.and_then(portal_client::net::refusal) {
        return Err(invalid(
            P,
            format!(
                "points at a loopback, private or otherwise non-public address ({why}); refused \
                 (loopback deployments: set [websub] allow_private_callbacks = true)"
            ),
        ));
    }
    if url.fragment().is_some() {
        return Err(invalid(P, "must not have a fragment"));
    }
    if url.as_str() != raw {
        return Err(invalid(P, format!("write it in normalised form: {}", url.as_str())));
    }
    Ok(())
}

async fn blocking<T: Send + 'static>(
    store: &Arc<Store>,
    f: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
) -> Result<T, HubError> {
    let store = Arc::clone(store);
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .map_err(|e| HubError::Task(e.to_string()))?
        .map_err(HubError::from)
}

/// Wait for the next commit; forever if the node is gone.
async fn next_commit(commits: &mut watch::Receiver<u64>) {
    if commits.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

impl Hub {
    /// A hub for `node`, not running yet: requests are validated and queued for verification,
    /// which starts with [`Hub::start`].
    pub fn new(node: Arc<Node>) -> Arc<Hub> {
        let (intents, waiting) = mpsc::channel(VERIFY_QUEUE);
        Arc::new(Hub { node, intents, waiting: Mutex::new(Some(waiting)), wake: Notify::new() })
    }

    /// The hub's URL (the descriptor's `websub-hub`).
    pub fn url(&self) -> String {
        format!("{}/websub", self.node.config.url)
    }

    /// The topics one may subscribe to: the node's `atom`, `json-feed` and `log` URLs.
    pub fn topics(&self) -> [String; 3] {
        let base = &self.node.config.url;
        [format!("{base}/feeds/atom"), format!("{base}/feeds/json"), format!("{base}/api/v1/log")]
    }

    /// Validate a `POST /websub` form and queue its verification of intent.
    pub(crate) fn request(&self, form: SubscribeForm) -> Result<(), RequestError> {
        let mode = match form.mode.as_deref() {
            Some("subscribe") => Mode::Subscribe,
            Some("unsubscribe") => Mode::Unsubscribe,
            Some(other) => {
                return Err(invalid(
                    "hub.mode",
                    format!("{other:?}: use subscribe or unsubscribe"),
                ));
            }
            None => return Err(invalid("hub.mode", "missing")),
        };
        let topic = form.topic.ok_or_else(|| invalid("hub.topic", "missing"))?;
        if !self.topics().contains(&topic) {
            return Err(invalid(
                "hub.topic",
                format!("not a topic of this hub; use one of {}", self.topics().join(", ")),
            ));
        }
        let callback = form.callback.ok_or_else(|| invalid("hub.callback", "missing"))?;
        check_callback(&callback, self.node.config.websub.allow_private_callbacks)?;
        let lease_seconds = match form.lease_seconds.as_deref().map(str::trim) {
            None | Some("") => LEASE_DEFAULT,
            Some(s) => s
                .parse::<u64>()
                .map_err(|_| invalid("hub.lease_seconds", "not a whole number of seconds"))?
                .clamp(LEASE_MIN, LEASE_MAX),
        };
        let secret = match mode {
            Mode::Subscribe => {
                let secret = form.secret.ok_or_else(|| {
                    invalid("hub.secret", "missing: IPSP/1 requires a secret to subscribe")
                })?;
                if secret.is_empty() || secret.len() > SECRET_MAX {
                    return Err(invalid("hub.secret", format!("must be 1 to {SECRET_MAX} bytes")));
                }
                secret
            }
            // An unsubscription needs no secret: verification of intent authorises it.
            Mode::Unsubscribe => String::new(),
        };
        if mode == Mode::Subscribe {
            let max = self.node.config.websub.max_subscriptions;
            if self.node.store.subscription(&topic, &callback)?.is_none()
                && self.node.store.subscription_count()? >= max
            {
                return Err(RequestError::Full(max));
            }
        }
        self.intents
            .try_send(Intent { mode, topic, callback, secret, lease_seconds })
            .map_err(|_| RequestError::Busy)
    }

    /// Start the verifier and the delivery worker on the current tokio runtime: release claims
    /// left by a previous run, and announce any commit not announced yet.
    pub fn start(self: &Arc<Self>) -> Result<HubTasks, HubError> {
        let waiting = self
            .waiting
            .lock()
            .map_err(|_| HubError::Task("poisoned lock".into()))?
            .take()
            .ok_or(HubError::AlreadyStarted)?;
        let allow_private = self.node.config.websub.allow_private_callbacks;
        if allow_private {
            tracing::warn!(
                "websub: callbacks to private and loopback addresses are allowed ([websub] allow_private_callbacks)"
            );
        }
        let mut client = reqwest::Client::builder();
        if !allow_private {
            client = client.dns_resolver(Arc::new(portal_client::net::PublicOnly));
        }
        let client = client
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("portal-node/", env!("CARGO_PKG_VERSION"), " (IPSP/1 WebSub hub)"))
            .build()?;
        let store = &self.node.store;
        let released = store.release_claims()?;
        if released > 0 {
            tracing::info!(released, "websub: resuming deliveries interrupted by the last stop");
        }
        if store.notified_size()?.is_none() {
            // First run of the hub: nothing before now was ever announced.
            store.enqueue_deliveries(&[], store.size())?;
        }
        let verifier = tokio::spawn(Arc::clone(self).verifier(client.clone(), waiting));
        let worker = tokio::spawn(Arc::clone(self).worker(client));
        Ok(HubTasks { tasks: vec![verifier, worker] })
    }

    // -----------------------------------------------------------------------------------------
    // Verification of intent

    async fn verifier(self: Arc<Self>, client: reqwest::Client, mut rx: mpsc::Receiver<Intent>) {
        let permits = Arc::new(Semaphore::new(MAX_VERIFYING));
        while let Some(intent) = rx.recv().await {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { break };
            let hub = Arc::clone(&self);
            let client = client.clone();
            tokio::spawn(async move {
                hub.verify(&client, intent).await;
                drop(permit);
            });
        }
    }

    async fn verify(&self, client: &reqwest::Client, intent: Intent) {
        let Intent { mode, topic, callback, secret, lease_seconds } = intent;
        let challenge = portal_publisher::random_hex(32);
        let mut query = vec![
            ("hub.mode", mode.as_str().to_owned()),
            ("hub.topic", topic.clone()),
            ("hub.challenge", challenge.clone()),
        ];
        if mode == Mode::Subscribe {
            query.push(("hub.lease_seconds", lease_seconds.to_string()));
        }
        let refused = match client.get(&callback).query(&query).send().await {
            Ok(resp) if resp.status().is_success() => match read_capped(resp).await {
                Ok(body) if body == challenge.as_bytes() => None,
                Ok(_) => Some("the answer's body is not the challenge".to_owned()),
                Err(e) => Some(describe(e)),
            },
            Ok(resp) => Some(format!("HTTP {}", resp.status().as_u16())),
            Err(e) => Some(describe(e)),
        };
        if let Some(reason) = refused {
            tracing::info!(%callback, %topic, mode = mode.as_str(), %reason,
                "websub: verification of intent failed; nothing changed");
            return;
        }
        let max = self.node.config.websub.max_subscriptions;
        let what = format!("{} {callback} to {topic}", mode.as_str());
        let result = blocking(&self.node.store, move |store| {
            match mode {
                Mode::Subscribe => {
                    let now = now_secs();
                    let existing = store.subscription(&topic, &callback)?;
                    if existing.is_none() && store.subscription_count()? >= max {
                        tracing::warn!(%callback, %topic, max,
                            "websub: subscription verified but the hub is full; not stored");
                        return Ok(());
                    }
                    store.put_subscription(&Subscription {
                        lease_expires: now.saturating_add(lease_seconds),
                        created: existing.map_or(now, |s| s.created),
                        topic,
                        callback,
                        secret,
                    })?;
                }
                Mode::Unsubscribe => {
                    store.remove_subscription(&topic, &callback)?;
                }
            }
            Ok(())
        })
        .await;
        match result {
            Ok(()) => tracing::info!("websub: verified: {what}"),
            Err(e) => tracing::error!("websub: verified ({what}) but storing failed: {e}"),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Deliveries

    async fn worker(self: Arc<Self>, client: reqwest::Client) {
        let mut commits = self.node.commits();
        let permits = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut last_purge = 0u64;
        loop {
            if let Err(e) = self.announce().await {
                tracing::error!("websub: enqueueing deliveries failed: {e}");
            }
            if now_secs() >= last_purge + 60 {
                last_purge = now_secs();
                if let Err(e) = self.purge_expired().await {
                    tracing::error!("websub: purging expired subscriptions failed: {e}");
                }
            }
            loop {
                let free = permits.available_permits();
                if free == 0 {
                    break;
                }
                let now = now_ms();
                let taken = blocking(&self.node.store, move |s| {
                    s.take_due(now, free, now.saturating_add(CLAIM_MS))
                })
                .await;
                let taken = match taken {
                    Ok(t) if t.is_empty() => break,
                    Ok(t) => t,
                    Err(e) => {
                        tracing::error!("websub: reading the delivery queue failed: {e}");
                        break;
                    }
                };
                for q in taken {
                    // `free` permits were available and only this loop takes them.
                    let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else { break };
                    let hub = Arc::clone(&self);
                    let client = client.clone();
                    tokio::spawn(async move {
                        hub.deliver(&client, q).await;
                        drop(permit);
                        hub.wake.notify_one();
                    });
                }
            }
            let wait = if permits.available_permits() == 0 {
                Duration::from_secs(60)
            } else {
                match blocking(&self.node.store, |s| s.next_due()).await {
                    Ok(Some(due)) => {
                        Duration::from_millis(due.saturating_sub(now_ms()).min(60_000))
                    }
                    Ok(None) => Duration::from_secs(60),
                    Err(e) => {
                        tracing::error!("websub: reading the delivery queue failed: {e}");
                        Duration::from_secs(5)
                    }
                }
            };
            tokio::select! {
                () = next_commit(&mut commits) => {}
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Enqueue deliveries of everything committed since the last announcement.
    async fn announce(&self) -> Result<(), HubError> {
        blocking(&self.node.store, |store| {
            let size = store.size();
            let from = store.notified_size()?.unwrap_or(size);
            if size == from {
                return Ok(());
            }
            if size < from {
                // The store went back (restored from a backup): announce from where it is.
                store.enqueue_deliveries(&[], size)?;
                return Ok(());
            }
            let (now, now_ms) = (now_secs(), now_ms());
            let deliveries: Vec<Delivery> = store
                .subscriptions()?
                .into_iter()
                .filter(|s| s.is_active(now))
                .map(|s| Delivery::new(s.topic, s.callback, from, size, now_ms))
                .collect();
            store.enqueue_deliveries(&deliveries, size)?;
            if !deliveries.is_empty() {
                tracing::debug!(
                    from,
                    to = size,
                    subscribers = deliveries.len(),
                    "websub: enqueued"
                );
            }
            Ok(())
        })
        .await
    }

    async fn purge_expired(&self) -> Result<(), HubError> {
        blocking(&self.node.store, |store| {
            let now = now_secs();
            for s in store.subscriptions()?.into_iter().filter(|s| !s.is_active(now)) {
                store.remove_subscription(&s.topic, &s.callback)?;
                tracing::info!(callback = %s.callback, topic = %s.topic, "websub: lease expired");
            }
            Ok(())
        })
        .await
    }

    async fn deliver(&self, client: &reqwest::Client, q: QueuedDelivery) {
        if let Err(e) = self.try_deliver(client, q).await {
            // The claim stays; the delivery is attempted again when it runs out.
            tracing::error!("websub: delivery bookkeeping failed: {e}");
        }
    }

    async fn try_deliver(
        &self,
        client: &reqwest::Client,
        q: QueuedDelivery,
    ) -> Result<(), HubError> {
        let store = &self.node.store;
        let (topic, callback) = (q.delivery.topic.clone(), q.delivery.callback.clone());
        let sub = blocking(store, move |s| s.subscription(&topic, &callback)).await?;
        let Some(sub) = sub.filter(|s| s.is_active(now_secs())) else {
            // Unsubscribed or expired: the delivery is no longer wanted.
            let q2 = q.clone();
            blocking(store, move |s| s.complete_delivery(&q2)).await?;
            return Ok(());
        };
        let from = q.delivery.from_index;
        let limit = q.delivery.to_index.saturating_sub(from).clamp(1, PAGE_MAX);
        let node = Arc::clone(&self.node);
        let page =
            blocking(store, move |_| portal_publisher::http::log_page(&node, from, limit)).await?;
        let body = serde_json::to_vec(&page).map_err(|e| HubError::Task(e.to_string()))?;

        let callback = q.delivery.callback.as_str();
        let content_type = "application/json";
        let digest = push::content_digest(&body);
        let request = SignedRequest {
            method: "POST",
            target_uri: callback,
            content_type,
            content_digest: &digest,
        };
        let (signature_input, signature) =
            push::sign_request(&request, self.node.signer(), now_secs());
        let link = format!("<{}>; rel=\"hub\", <{}>; rel=\"self\"", self.url(), q.delivery.topic);
        let hmac = push::hub_signature(sub.secret.as_bytes(), &body);
        let sent = client
            .post(callback)
            .header("content-type", content_type)
            .header("link", link)
            .header("x-hub-signature", hmac)
            .header("content-digest", &digest)
            .header("signature-input", signature_input)
            .header("signature", signature)
            .body(body)
            .send()
            .await;
        let failure = match sent {
            Ok(resp) => {
                let status = resp.status();
                // Read (a bounded part of) the answer so the connection can be reused.
                let _ = read_capped(resp).await;
                (!status.is_success()).then(|| format!("HTTP {}", status.as_u16()))
            }
            Err(e) => Some(describe(e)),
        };
        let Some(error) = failure else {
            self.node.metrics.websub_delivered();
            tracing::debug!(%callback, from, to = q.delivery.to_index, "websub: delivered");
            blocking(store, move |s| s.complete_delivery(&q)).await?;
            return Ok(());
        };
        self.node.metrics.websub_failed();
        let cfg = &self.node.config.websub;
        let failed = q.delivery.attempts.saturating_add(1);
        if failed >= cfg.max_attempts.max(1) {
            tracing::warn!(%callback, attempts = failed, %error,
                "websub: delivery failed for the last time; kept as a dead letter");
            blocking(store, move |s| s.mark_dead(&q, &error)).await?;
        } else {
            let jitter = rand::random::<f64>() * 2.0 - 1.0;
            let next = now_ms().saturating_add(backoff_ms(cfg.retry_base_seconds, failed, jitter));
            tracing::info!(%callback, attempts = failed, %error, "websub: delivery failed; will retry");
            blocking(store, move |s| s.reschedule_delivery(&q, next, &error)).await?;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Operators

    /// The gauges of `/metrics`.
    pub fn gauges(&self) -> Result<HubGauges, StoreError> {
        let now = now_secs();
        let active =
            self.node.store.subscriptions()?.iter().filter(|s| s.is_active(now)).count() as u64;
        let counts = self.node.store.delivery_counts()?;
        Ok(HubGauges {
            subscriptions_active: active,
            deliveries_pending: counts.pending,
            deliveries_dead: counts.dead,
        })
    }

    /// `GET /api/v1/admin/deliveries`: subscriptions, pending deliveries and dead letters
    /// (at most 1000 of each; the counts are complete). Never the secrets.
    pub fn report(&self) -> Result<Value, StoreError> {
        let store = &self.node.store;
        let now = now_secs();
        let subs = store.subscriptions()?;
        let counts = store.delivery_counts()?;
        let delivery = |q: &QueuedDelivery| {
            let d = &q.delivery;
            json!({
                "id": q.id,
                "state": d.state,
                "topic": d.topic,
                "callback": d.callback,
                "from_index": d.from_index,
                "to_index": d.to_index,
                "attempts": d.attempts,
                "next_attempt": (d.state == portal_store::DeliveryState::Pending)
                    .then(|| rfc3339(d.next_attempt_ms / 1000)),
                "in_flight": d.state == portal_store::DeliveryState::Pending
                    && q.due_ms != d.next_attempt_ms,
                "last_error": d.last_error,
            })
        };
        Ok(json!({
            "hub": self.url(),
            "counts": {
                "subscriptions": subs.len(),
                "subscriptions_active": subs.iter().filter(|s| s.is_active(now)).count(),
                "pending": counts.pending,
                "dead": counts.dead,
            },
            "subscriptions": subs.iter().take(REPORT_MAX).map(|s| json!({
                "topic": s.topic,
                "callback": s.callback,
                "active": s.is_active(now),
                "lease_expires": rfc3339(s.lease_expires),
                "created": rfc3339(s.created),
            })).collect::<Vec<_>>(),
            "pending": store.pending_deliveries(REPORT_MAX)?.iter().map(delivery).collect::<Vec<_>>(),
            "dead": store.dead_letters(REPORT_MAX)?.iter().map(delivery).collect::<Vec<_>>(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_base_is_capped_at_an_hour_and_jitters_by_a_fifth() {
        assert_eq!(backoff_ms(5, 1, 0.0), 5_000);
        assert_eq!(backoff_ms(5, 2, 0.0), 10_000);
        assert_eq!(backoff_ms(5, 3, 0.0), 20_000);
        assert_eq!(backoff_ms(5, 10, 0.0), 2_560_000);
        assert_eq!(backoff_ms(5, 11, 0.0), RETRY_CAP_MS);
        assert_eq!(backoff_ms(5, u32::MAX, 0.0), RETRY_CAP_MS);
        assert_eq!(backoff_ms(5, 1, -1.0), 4_000);
        assert_eq!(backoff_ms(5, 1, 1.0), 6_000);
        assert_eq!(backoff_ms(0, 1, 0.0), 1_000, "a zero base is taken as one second");
        assert_eq!(backoff_ms(5, 1, 7.0), 6_000, "jitter is bounded");
    }

    #[test]
    fn callbacks_must_be_absolute_http_urls_in_normalised_form() {
        assert!(check_callback("http://127.0.0.1:8080/cb", true).is_ok());
        assert!(check_callback("https://sub.example/cb?x=1", false).is_ok());
        for private in [
            "http://127.0.0.1:8080/cb",
            "http://10.0.0.1/cb",
            "http://[::1]/cb",
            "http://169.254.169.254/latest",
        ] {
            assert!(check_callback(private, false).is_err(), "{private}");
        }
        for bad in [
            "/cb",
            "ftp://sub.example/cb",
            "http://sub.example/cb#frag",
            "http://sub.example",
            "HTTP://sub.example/cb",
            "mailto:a@b.c",
        ] {
            assert!(
                matches!(
                    check_callback(bad, true),
                    Err(RequestError::Invalid { parameter: "hub.callback", .. })
                ),
                "{bad}"
            );
        }
        assert!(check_callback(&format!("http://a/{}", "x".repeat(URL_MAX)), true).is_err());
    }
}

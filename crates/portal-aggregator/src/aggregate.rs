//! Following members: the aggregator half of a node (SPEC.md §4.5, §4.6, §7, §11.2, §13).
//!
//! A node with members (added by `portal member add`) keeps a signed roster and, per active
//! member, one task that pulls the member's log after its durable cursor, verifies every entry
//! with a [`LogVerifier`] (signature against the roster's keys, origin, index continuity,
//! version chain) and the member's checkpoint (signature, freshness, consistency with every
//! checkpoint accepted before), cosigns that checkpoint (the witness), and hands the entries to
//! the sequencer ([`Node::ingest`]), which signs a receipt for each in this node's own log and
//! stores receipts, member records and the new cursor in one atomic batch.
//!
//! Push is a hint: a WebSub delivery from a member only wakes its task, which pulls. Polling
//! (jittered) guarantees progress without push; errors back off exponentially. At most
//! `max_concurrent_syncs` members sync at once, and each request is bounded in time and size
//! (portal-client), so a slow or dead member never delays the others.
//!
//! Every rejection and failure becomes an [`Incident`] (stored, counted in `/metrics`, logged)
//! with its evidence; a member that keeps failing the same way is recorded once per episode.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_client::client::endpoint;
use portal_client::fetch::{AllowedOrigins, FetchPolicy, Fetcher};
use portal_client::verify::{CheckpointFailure, PageFailure};
use portal_client::{Client, ClientError};
use portal_proto::checkpoint::{self, Checkpoint};
use portal_proto::crypto::{PublicKey, encode_base64};
use portal_proto::envelope::{self, SignedRecord, TrustStore, Verified};
use portal_proto::error::Rejection;
use portal_proto::ids::NodeId;
use portal_proto::record::Record;
use portal_proto::record::{
    Descriptor, KeyEvent, KeyEventKind, KeyGrant, Member, MemberStatus, RecordType, Roster,
};
use portal_proto::verifier::{LogVerifier, RosterTrust, checkpoint_origin};
use reqwest::Url;
use serde::Serialize;
use serde_json::json;
use tokio::sync::{Notify, watch};

use portal_publisher::node::{Ingest, Node, Relayed, now};

use crate::shared::Shared;

/// Why a roster change was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MemberError {
    /// Bad argument (URL, key, id).
    #[error("{0}")]
    Invalid(String),
    /// The candidate's descriptor could not be fetched or did not verify.
    #[error("{0}")]
    Fetch(String),
    /// The pinned key is not the one the member's descriptor is signed with.
    #[error("pin mismatch: {0}")]
    PinMismatch(String),
    /// No such member.
    #[error("no member {0}")]
    NotFound(String),
    /// Signing or storing the roster failed.
    #[error("{0}")]
    Storage(String),
}

/// What `portal member add` and `list` show of a member.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct MemberView {
    /// The member's id.
    pub id: NodeId,
    /// Its base URL.
    pub url: String,
    /// Its display names.
    pub name: BTreeMap<String, String>,
    /// `active` or `suspended`.
    pub status: String,
    /// Key ids and public keys (base64) pinned for it.
    pub keys: Vec<(String, String)>,
    /// Entries stored so far.
    pub size: u64,
}

/// A member's sync health, for operators and the health board.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Health {
    /// Unix seconds of the last round that reached the member's log end.
    pub last_ok: Option<u64>,
    /// Unix seconds of the last attempt.
    pub last_attempt: Option<u64>,
    /// Consecutive failed rounds.
    pub failures: u32,
    /// The last error, if the last round failed.
    pub last_error: Option<String>,
    /// Unix seconds since when the member has been failing.
    #[serde(skip)]
    failing_since: Option<u64>,
    /// The member's log size when it last answered.
    pub member_size: u64,
    /// Its heartbeat (from its descriptor), seconds.
    pub heartbeat: Option<u64>,
    /// WebSub subscription: Unix seconds when the lease ends.
    pub push_lease_until: Option<u64>,
    /// The last incident code recorded in this episode (to record a repeating one once).
    #[serde(skip)]
    last_incident: Option<String>,
    /// Whether the member's silence was reported (cleared when a fresh checkpoint arrives).
    #[serde(skip)]
    silence_reported: bool,
}

struct Follower {
    notify: Arc<Notify>,
    health: Arc<Mutex<Health>>,
    /// The WebSub secret of the current subscription (in memory only: a restart subscribes
    /// again with a new one).
    secret: Arc<Mutex<Option<String>>>,
    stop: watch::Sender<bool>,
}

/// A member's descriptor facts a sync round needs.
#[derive(Clone, Debug)]
struct Endpoints {
    log: Url,
    consistency: Url,
    hub: Option<Url>,
    heartbeat: u64,
    /// The member is itself an aggregator: its national log (read instead of its log, to
    /// relay its members' records) and its roster (their keys).
    national: Option<(Url, Url)>,
}

/// The aggregator. Cheap to share behind an `Arc`.
pub struct Aggregator {
    /// The node, the member client, the roster, the sync slots, incidents, search.
    shared: Arc<Shared>,
    followers: Mutex<BTreeMap<NodeId, Follower>>,
    /// Whether [`Aggregator::start`] ran: only a serving node follows members (the CLI edits
    /// the roster of a stopped node without syncing).
    started: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = &self.shared.node.config.id;
        f.debug_struct("Aggregator").field("node", id).finish_non_exhaustive()
    }
}

fn unix_now() -> u64 {
    now().unix()
}

/// `base` scaled by a uniform factor in [0.8, 1.2].
fn jitter(base: Duration) -> Duration {
    base.mul_f64(0.8 + 0.4 * rand::random::<f64>())
}

fn parse_url(s: &str) -> Result<Url, MemberError> {
    let url = Url::parse(s).map_err(|e| MemberError::Invalid(format!("{s}: not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(MemberError::Invalid(format!(
            "{s}: refused: scheme {:?} is not allowed (members are fetched over http or https only)",
            url.scheme()
        )));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(MemberError::Invalid(format!("{s}: not an http(s) URL: no host")));
    }
    Ok(url)
}

/// The revocations in `batch` (its member's entries and relayed ones) that reach back before
/// their own key event: what was accepted from `from_index` on must be looked at again.
fn retroactive_revocations(batch: &Ingest) -> Vec<(NodeId, KeyEvent)> {
    let relayed = batch.relayed.iter().map(|r| (&r.member, &r.entries));
    std::iter::once((&batch.member, &batch.entries))
        .chain(relayed)
        .flat_map(|(member, entries)| entries.iter().map(move |s| (member, s)))
        .filter_map(|(member, s)| match envelope::parse_record(s.bytes()) {
            Ok(Record::KeyEvent(k))
                if k.event == KeyEventKind::Revoke && k.from_index < k.log_index =>
            {
                Some((member.clone(), k))
            }
            _ => None,
        })
        .collect()
}

/// A key given to `--pin`: a base64 Ed25519 public key.
fn parse_pin(pin: &str) -> Result<PublicKey, MemberError> {
    PublicKey::from_base64(pin.trim()).map_err(|e| {
        MemberError::Invalid(format!("--pin {pin}: not a base64 Ed25519 public key: {e}"))
    })
}

impl Aggregator {
    /// The aggregator of `node`: loads its roster (if any) and prepares the member client.
    /// Call [`Aggregator::start`] to follow the members.
    pub fn new(node: Arc<Node>) -> Result<Arc<Aggregator>, MemberError> {
        let cfg = &node.config.aggregator;
        let policy = FetchPolicy {
            connect_timeout: Duration::from_secs(cfg.connect_timeout_seconds.max(1)),
            read_timeout: Duration::from_secs(cfg.read_timeout_seconds.max(1)),
            total_timeout: Duration::from_secs(cfg.request_timeout_seconds.max(1)),
            allow_private: cfg.allow_private_members,
            ..FetchPolicy::default()
        };
        if cfg.allow_private_members {
            tracing::warn!(
                "aggregator: member URLs may reach loopback and private addresses \
                 ([aggregator] allow_private_members = true); for tests and demos only"
            );
        }
        let origins = AllowedOrigins::new();
        let fetcher = Fetcher::new(policy)
            .map_err(|e| MemberError::Storage(format!("HTTP client: {e}")))?
            .with_allowed_origins(origins.clone());
        let roster = match node.store.roster().map_err(|e| MemberError::Storage(e.to_string()))? {
            Some(signed) => Some(
                envelope::open_as::<Roster>(&signed, &own_trust(&node))
                    .map_err(|e| MemberError::Storage(format!("stored roster: {e}")))?,
            ),
            None => None,
        };
        if let Some(r) = &roster {
            for m in &r.record().members {
                if let Ok(url) = Url::parse(&m.url) {
                    origins.insert(&url);
                }
            }
        }
        Ok(Arc::new(Aggregator {
            shared: Arc::new(Shared::new(node, Client::new(fetcher), origins, roster)),
            followers: Mutex::new(BTreeMap::new()),
            started: std::sync::atomic::AtomicBool::new(false),
        }))
    }

    /// Whether this node has (or had) members.
    pub fn has_roster(&self) -> bool {
        self.shared.roster.read().is_ok_and(|r| r.is_some())
    }

    /// The signed roster envelope.
    pub fn roster_envelope(&self) -> Option<SignedRecord> {
        self.shared.roster.read().ok()?.as_ref().map(|r| r.signed().clone())
    }

    /// The national search index, opened on first use (`None` if it cannot be opened: the
    /// reason is logged and search answers 503 meanwhile).
    pub fn search(&self) -> Option<Arc<crate::search::NationalSearch>> {
        self.shared.search()
    }

    /// Ingest notifications: the value is the node's log size after each ingest.
    pub fn ingested(&self) -> watch::Receiver<u64> {
        self.shared.ingested.subscribe()
    }

    /// Follow every active member (idempotent: members already followed are left alone).
    pub fn start(self: &Arc<Self>) {
        self.started.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(index) = self.has_roster().then(|| self.search()).flatten() {
            // The store is the truth: index what it holds past the index's marks.
            let node = Arc::clone(&self.shared.node);
            tokio::task::spawn_blocking(move || {
                let members = node.store.member_ids().unwrap_or_default();
                match index.catch_up(&node.store, &members) {
                    Ok(n) => tracing::info!(records = n, "search: index caught up with the store"),
                    Err(e) => tracing::error!("search: catching up with the store failed: {e}"),
                }
            });
        }
        for m in self.shared.members() {
            if m.status == MemberStatus::Active {
                self.follow(m.id.clone());
            }
        }
    }

    /// Stop following every member.
    pub fn stop(&self) {
        if let Ok(mut f) = self.followers.lock() {
            for (_, follower) in std::mem::take(&mut *f) {
                let _ = follower.stop.send(true);
            }
        }
    }

    fn follow(self: &Arc<Self>, id: NodeId) {
        if !self.started.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        let Ok(mut followers) = self.followers.lock() else { return };
        if followers.contains_key(&id) {
            return;
        }
        let (stop, stopped) = watch::channel(false);
        let follower = Follower {
            notify: Arc::new(Notify::new()),
            health: Arc::new(Mutex::new(Health::default())),
            secret: Arc::new(Mutex::new(None)),
            stop,
        };
        let task = FollowTask {
            agg: Arc::clone(self),
            id: id.clone(),
            notify: Arc::clone(&follower.notify),
            health: Arc::clone(&follower.health),
            secret: Arc::clone(&follower.secret),
            verifier: None,
            endpoints: None,
            endpoints_at: 0,
            sub_roster: None,
        };
        followers.insert(id, follower);
        tokio::spawn(task.run(stopped));
    }

    fn unfollow(&self, id: &NodeId) {
        if let Some(f) = self.followers.lock().ok().and_then(|mut f| f.remove(id)) {
            let _ = f.stop.send(true);
        }
    }

    /// Wake a member's task (a push arrived, or an operator asked).
    pub fn wake(&self, id: &NodeId) -> bool {
        match self.followers.lock().ok().and_then(|f| f.get(id).map(|f| Arc::clone(&f.notify))) {
            Some(n) => {
                n.notify_one();
                true
            }
            None => false,
        }
    }

    /// The WebSub secret of a member's current subscription (to check deliveries' HMAC).
    pub fn push_secret(&self, id: &NodeId) -> Option<String> {
        let f = self.followers.lock().ok()?;
        f.get(id)?.secret.lock().ok()?.clone()
    }

    /// Per member: its roster entry, stored size and health.
    pub fn health(&self) -> Vec<(MemberView, Option<Health>, Option<String>)> {
        let followers = self.followers.lock().ok();
        self.shared
            .members()
            .into_iter()
            .map(|m| {
                let health = followers
                    .as_ref()
                    .and_then(|f| f.get(&m.id))
                    .and_then(|f| f.health.lock().ok().map(|h| h.clone()));
                let cursor = self.shared.node.store.member_cursor(&m.id).unwrap_or_default();
                (self.view(&m), health, cursor.cosigned)
            })
            .collect()
    }

    fn view(&self, m: &Member) -> MemberView {
        MemberView {
            id: m.id.clone(),
            url: m.url.clone(),
            name: m.name.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            status: match m.status {
                MemberStatus::Active => "active".into(),
                MemberStatus::Suspended => "suspended".into(),
            },
            keys: m.keys.iter().map(|g| (g.kid.to_string(), g.public_key.to_base64())).collect(),
            size: self.shared.node.store.member_cursor(&m.id).map_or(0, |c| c.size),
        }
    }

    /// The roster's members as shown by `portal member list`.
    pub fn list(&self) -> Vec<MemberView> {
        self.shared.members().iter().map(|m| self.view(m)).collect()
    }

    /// Add (or re-add) a member: fetch and verify its descriptor at `url`, check `pin` if
    /// given (else pin the key it is signed with), and sign a new roster.
    pub async fn add(
        self: &Arc<Self>,
        url: &str,
        pin: Option<&str>,
    ) -> Result<MemberView, MemberError> {
        let url = parse_url(url.trim_end_matches('/'))?;
        let pin = pin.map(parse_pin).transpose()?;
        // The candidate's origin is allowed for this one request; kept only if it joins.
        let newly_allowed = self.shared.origins.insert(&url);
        let fetched = self.shared.client.descriptor(&url).await;
        let descriptor = match fetched {
            Ok(d) => d,
            Err(e) => {
                if newly_allowed {
                    self.shared.origins.remove(&url);
                }
                return Err(MemberError::Fetch(format!("{url}: {e}")));
            }
        };
        let d = descriptor.record();
        let signed_by = descriptor.signed().kid().clone();
        if let Some(pin) = &pin
            && pin.key_id() != signed_by
        {
            if newly_allowed {
                self.shared.origins.remove(&url);
            }
            return Err(MemberError::PinMismatch(format!(
                "the descriptor at {url} is signed by key {signed_by}, not the pinned {}; \
                 check the key with the member out of band",
                pin.key_id()
            )));
        }
        if d.origin == self.shared.node.config.id {
            return Err(MemberError::Invalid("a node cannot be its own member".into()));
        }
        let member = Member {
            id: d.origin.clone(),
            url: d.url.clone(),
            name: d.name.clone(),
            status: MemberStatus::Active,
            keys: d.keys.clone(),
        };
        self.change_roster(|members| {
            members.retain(|m| m.id != member.id);
            members.push(member.clone());
            Ok(())
        })?;
        tracing::info!(member = %member.id, url = %member.url, key = %signed_by, "member added");
        self.follow(member.id.clone());
        Ok(self.view(&member))
    }

    /// Suspend (stop syncing; keep its records) or reactivate a member.
    pub fn set_status(
        self: &Arc<Self>,
        id: &str,
        status: MemberStatus,
    ) -> Result<MemberView, MemberError> {
        let id = NodeId::new(id).map_err(|e| MemberError::Invalid(format!("{id}: {e}")))?;
        let mut changed = None;
        self.change_roster(|members| {
            let m = members
                .iter_mut()
                .find(|m| m.id == id)
                .ok_or_else(|| MemberError::NotFound(id.to_string()))?;
            m.status = status;
            changed = Some(m.clone());
            Ok(())
        })?;
        match status {
            MemberStatus::Active => self.follow(id.clone()),
            MemberStatus::Suspended => self.unfollow(&id),
        }
        let m = changed.ok_or_else(|| MemberError::NotFound(id.to_string()))?;
        Ok(self.view(&m))
    }

    /// Remove a member from the roster. Its records already ingested stay in the national log
    /// (which is append-only) and keep verifying against the keys they were signed with.
    pub fn remove(&self, id: &str) -> Result<(), MemberError> {
        let id = NodeId::new(id).map_err(|e| MemberError::Invalid(format!("{id}: {e}")))?;
        let mut url = None;
        self.change_roster(|members| {
            let pos = members
                .iter()
                .position(|m| m.id == id)
                .ok_or_else(|| MemberError::NotFound(id.to_string()))?;
            url = Some(members.remove(pos).url);
            Ok(())
        })?;
        self.unfollow(&id);
        if let Some(u) = url.and_then(|u| Url::parse(&u).ok()) {
            self.shared.origins.remove(&u);
        }
        Ok(())
    }

    /// Apply `change` to the member list and sign and store the next roster.
    fn change_roster(
        &self,
        change: impl FnOnce(&mut Vec<Member>) -> Result<(), MemberError>,
    ) -> Result<(), MemberError> {
        let mut guard = self
            .shared
            .roster
            .write()
            .map_err(|_| MemberError::Storage("poisoned roster lock".into()))?;
        let (mut members, serial) = match guard.as_ref() {
            Some(r) => (r.record().members.clone(), r.record().serial + 1),
            None => (Vec::new(), 1),
        };
        change(&mut members)?;
        members.sort_by(|a, b| a.id.cmp(&b.id));
        let roster = Roster {
            ipsp: 1,
            record_type: RecordType::Roster,
            origin: self.shared.node.config.id.clone(),
            serial,
            members,
            time: now(),
        };
        let signed = envelope::sign(&roster, self.shared.node.signer())
            .map_err(|e| MemberError::Invalid(format!("roster: {e}")))?;
        let verified = envelope::open_as::<Roster>(&signed, &own_trust(&self.shared.node))
            .map_err(|e| MemberError::Storage(format!("roster does not verify: {e}")))?;
        self.shared
            .node
            .store
            .put_roster(&signed)
            .map_err(|e| MemberError::Storage(e.to_string()))?;
        for m in &verified.record().members {
            if let Ok(u) = Url::parse(&m.url) {
                self.shared.origins.insert(&u);
            }
        }
        *guard = Some(verified);
        Ok(())
    }

    /// A retroactive revocation was accepted (SPEC.md §4.3): every record the revoked key
    /// signed from `from_index` on is invalid, including those accepted before the revocation
    /// arrived. Find them among what is stored and record a `revoked-key` incident listing
    /// them (at most the first 1,000 indices; the count is exact), for the operators' review.
    async fn reexamine(self: &Arc<Self>, member: NodeId, event: KeyEvent) {
        let node = Arc::clone(&self.shared.node);
        let (m, kid) = (member.clone(), event.kid.clone());
        let (from, until) = (event.from_index, event.log_index);
        let found = tokio::task::spawn_blocking(move || {
            let mut hits = Vec::new();
            let mut next = from;
            while next < until {
                let chunk = node.store.member_entries(&m, next, 1000).map_err(|e| e.to_string())?;
                if chunk.is_empty() {
                    break;
                }
                for (i, signed) in chunk.iter().enumerate() {
                    let index = next + i as u64;
                    if index < until && *signed.kid() == kid {
                        hits.push(index);
                    }
                }
                next += chunk.len() as u64;
            }
            Ok::<_, String>(hits)
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
        match found {
            Ok(hits) if hits.is_empty() => tracing::info!(
                member = %member,
                kid = %event.kid,
                "a retroactive revocation from index {} invalidates no stored record",
                event.from_index
            ),
            Ok(hits) => self.shared.incident(
                &member,
                "revoked-key",
                format!(
                    "key {} was revoked from index {} (key event at index {}): {} record(s) \
                     accepted before the revocation are invalid and need review",
                    event.kid,
                    event.from_index,
                    event.log_index,
                    hits.len()
                ),
                json!({
                    "kid": event.kid,
                    "from_index": event.from_index,
                    "key_event_index": event.log_index,
                    "reason": event.reason,
                    "count": hits.len(),
                    "records": hits.iter().take(1000).collect::<Vec<_>>(),
                }),
            ),
            Err(e) => tracing::error!(
                member = %member,
                "re-examining the records of a revoked key failed: {e}"
            ),
        }
    }

    /// Prometheus text for the aggregator: incidents by code, and per member its stored size,
    /// lag and failures.
    pub fn render_metrics(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP portal_incidents_total Incidents recorded since start, by code.\n# TYPE portal_incidents_total counter"
        );
        for (code, n) in self.shared.incident_counts() {
            let _ = writeln!(out, "portal_incidents_total{{code=\"{code}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP portal_member_records Member log entries verified and stored.\n# TYPE portal_member_records gauge\n\
             # HELP portal_member_lag_records Member log entries known but not yet stored.\n# TYPE portal_member_lag_records gauge\n\
             # HELP portal_member_failures Consecutive failed sync rounds.\n# TYPE portal_member_failures gauge"
        );
        for (view, health, _) in self.health() {
            let h = health.unwrap_or_default();
            let id = &view.id;
            let _ = writeln!(out, "portal_member_records{{member=\"{id}\"}} {}", view.size);
            let _ = writeln!(
                out,
                "portal_member_lag_records{{member=\"{id}\"}} {}",
                h.member_size.saturating_sub(view.size)
            );
            let _ = writeln!(out, "portal_member_failures{{member=\"{id}\"}} {}", h.failures);
        }
        out
    }
}

/// This node's own keys, to verify its roster.
fn own_trust(node: &Node) -> TrustStore {
    let mut t = TrustStore::new();
    t.add(node.config.id.clone(), KeyGrant::pinned(node.signer().public_key()));
    t
}

/// Why a sync round stopped.
enum RoundError {
    /// The member could not be reached or answered badly (transport, status, timeout).
    Unreachable(String),
    /// Verification refused something: an incident was recorded.
    Rejected(String),
    /// Local failure (storage).
    Local(String),
}

impl RoundError {
    fn message(&self) -> &str {
        match self {
            RoundError::Unreachable(m) | RoundError::Rejected(m) | RoundError::Local(m) => m,
        }
    }
}

/// One member's follower: runs sync rounds until stopped.
struct FollowTask {
    agg: Arc<Aggregator>,
    id: NodeId,
    notify: Arc<Notify>,
    health: Arc<Mutex<Health>>,
    secret: Arc<Mutex<Option<String>>>,
    /// The verifier, in step with the store (None: rebuild from the store).
    verifier: Option<LogVerifier>,
    endpoints: Option<Endpoints>,
    endpoints_at: u64,
    /// An aggregating member's roster (its members' keys), verified with its key.
    sub_roster: Option<RosterTrust>,
}

/// Descriptors are fetched again this often (endpoints and keys may change).
const DESCRIPTOR_TTL: u64 = 600;

impl FollowTask {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let cfg = self.agg.shared.node.config.aggregator.clone();
        let poll = Duration::from_secs(cfg.poll_seconds.max(1));
        let max_backoff = Duration::from_secs(cfg.max_backoff_seconds.max(cfg.poll_seconds));
        loop {
            if *stopped.borrow() {
                return;
            }
            let outcome = {
                let Ok(_permit) = Arc::clone(&self.agg.shared.permits).acquire_owned().await else {
                    return;
                };
                self.round().await
            };
            let wait = match outcome {
                Ok(true) => Duration::ZERO, // more to fetch
                Ok(false) => jitter(poll),
                Err(_) => {
                    // Exponential from poll/8 (at least 0.5 s), jittered, capped.
                    let failures = self.health.lock().map_or(1, |h| h.failures).max(1);
                    let base = (poll / 8).max(Duration::from_millis(500));
                    jitter(base.saturating_mul(1 << failures.min(16))).min(max_backoff)
                }
            };
            if wait.is_zero() {
                continue;
            }
            tokio::select! {
                _ = self.notify.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = stopped.changed() => return,
            }
        }
    }

    /// One round: returns `Ok(true)` if the member's log goes on past what was fetched.
    async fn round(&mut self) -> Result<bool, RoundError> {
        let started = unix_now();
        if let Ok(mut h) = self.health.lock() {
            h.last_attempt = Some(started);
        }
        let result = self.sync().await;
        let Ok(mut h) = self.health.lock() else { return result };
        match &result {
            Ok(more) => {
                h.failures = 0;
                h.last_error = None;
                h.failing_since = None;
                h.last_incident = None;
                if !more {
                    h.last_ok = Some(unix_now());
                }
            }
            Err(e) => {
                h.failures = h.failures.saturating_add(1);
                h.last_error = Some(e.message().to_owned());
                let since = *h.failing_since.get_or_insert(started);
                let threshold = self.agg.shared.node.config.aggregator.unreachable_after_seconds;
                if matches!(e, RoundError::Unreachable(_))
                    && unix_now().saturating_sub(since) >= threshold
                    && h.last_incident.as_deref() != Some("unreachable")
                {
                    h.last_incident = Some("unreachable".into());
                    drop(h);
                    let member = self.agg.shared.member(&self.id);
                    self.agg.shared.incident(
                        &self.id,
                        "unreachable",
                        format!("unreachable for {threshold} s or more: {}", e.message()),
                        json!({"url": member.map(|m| m.url), "since": since, "error": e.message()}),
                    );
                }
            }
        }
        result
    }

    /// Record an incident unless the same code was the last one recorded in this episode.
    fn reject(&self, code: &str, message: String, evidence: serde_json::Value) -> RoundError {
        let repeat = self
            .health
            .lock()
            .map(|mut h| {
                let repeat = h.last_incident.as_deref() == Some(code);
                h.last_incident = Some(code.to_owned());
                repeat
            })
            .unwrap_or(false);
        if !repeat {
            self.agg.shared.incident(&self.id, code, message.clone(), evidence);
        }
        RoundError::Rejected(format!("{code}: {message}"))
    }

    fn client_error(&self, e: ClientError) -> RoundError {
        match e {
            ClientError::Fetch(f) => {
                let code = f.code();
                if code == "too-large" || code == "refused" {
                    let url = f.url().to_owned();
                    self.reject(code, f.to_string(), json!({"url": url}))
                } else {
                    RoundError::Unreachable(f.to_string())
                }
            }
            other => {
                let code = other.code();
                let url = other.url().to_owned();
                self.reject(code, other.to_string(), json!({"url": url}))
            }
        }
    }

    /// The member's endpoints from its descriptor, verified against `grants`: the member's keys
    /// as its log has them so far (a rotation's key event grants the key that signs the
    /// descriptor afterwards, SPEC.md §4.3, so no re-pinning is needed).
    async fn endpoints(&mut self, grants: &[KeyGrant]) -> Result<Endpoints, RoundError> {
        if let Some(e) = &self.endpoints
            && unix_now().saturating_sub(self.endpoints_at) < DESCRIPTOR_TTL
        {
            return Ok(e.clone());
        }
        let member = self
            .agg
            .shared
            .member(&self.id)
            .ok_or_else(|| RoundError::Local(format!("{} left the roster", self.id)))?;
        let base = Url::parse(&member.url)
            .map_err(|e| RoundError::Local(format!("roster URL {}: {e}", member.url)))?;
        let mut trust = TrustStore::new();
        trust.set(member.id.clone(), grants.to_vec());
        let d: Verified<Descriptor> = match self
            .agg
            .shared
            .client
            .descriptor_pinned(&base, &trust)
            .await
        {
            Ok(d) => d,
            // Signed by a key the log has not granted yet: the member rotated and its key
            // event is not ingested yet. Its log, verified entry by entry, says the rest.
            Err(e)
                if matches!(e.code(), "unknown-key" | "revoked-key")
                    && self.endpoints.is_some() =>
            {
                tracing::debug!(member = %self.id, "descriptor: {e}; keeping the known endpoints");
                self.endpoints_at = unix_now();
                return self.endpoints.clone().ok_or_else(|| RoundError::Local("endpoints".into()));
            }
            Err(e) => return Err(self.client_error(e)),
        };
        let d = d.record();
        if d.origin != self.id {
            return Err(self.reject(
                "wrong-origin",
                format!("the descriptor at {base} is of {}", d.origin),
                json!({"url": base.as_str()}),
            ));
        }
        let ep = |name: &str| endpoint(d, name).map_err(|e| self.client_error(e));
        let endpoints = Endpoints {
            log: ep("log")?,
            consistency: ep("consistency-proof")?,
            hub: endpoint(d, "websub-hub").ok(),
            heartbeat: d.heartbeat,
            national: match (endpoint(d, "national-log"), endpoint(d, "roster")) {
                (Ok(log), Ok(roster)) => Some((log, roster)),
                _ => None,
            },
        };
        let national = endpoints.national.iter().flat_map(|(a, b)| [a, b]);
        for u in [&endpoints.log, &endpoints.consistency].into_iter().chain(national) {
            if !self.agg.shared.origins.contains(u) {
                return Err(self.reject(
                    "refused",
                    format!("endpoint {u} is not on the member's registered origin"),
                    json!({"url": u.as_str()}),
                ));
            }
        }
        if let Ok(mut h) = self.health.lock() {
            h.heartbeat = Some(d.heartbeat);
        }
        self.endpoints = Some(endpoints.clone());
        self.endpoints_at = unix_now();
        Ok(endpoints)
    }

    /// The verifier, rebuilt from the store when needed (start, or after a failed round).
    fn verifier(&mut self) -> Result<LogVerifier, RoundError> {
        if let Some(v) = self.verifier.take() {
            return Ok(v);
        }
        let member = self
            .agg
            .shared
            .member(&self.id)
            .ok_or_else(|| RoundError::Local(format!("{} left the roster", self.id)))?;
        let store = &self.agg.shared.node.store;
        let local = |e: &dyn std::fmt::Display| RoundError::Local(format!("{}: {e}", self.id));
        let cursor = store.member_cursor(&self.id).map_err(|e| local(&e))?;
        let mut v = LogVerifier::new(self.id.clone(), member.keys.clone());
        let mut next = 0;
        while next < cursor.size {
            let chunk = store.member_entries(&self.id, next, 1000).map_err(|e| local(&e))?;
            if chunk.is_empty() {
                return Err(local(&format!(
                    "stored log ends at {next}, cursor says {}",
                    cursor.size
                )));
            }
            for s in &chunk {
                v.restore(s).map_err(|e| local(&format!("stored entry {next}: {e}")))?;
                next += 1;
            }
        }
        if let Some(note) = &cursor.checkpoint {
            v.restore_checkpoint(note).map_err(|e| local(&format!("stored checkpoint: {e}")))?;
        }
        Ok(v)
    }

    async fn sync(&mut self) -> Result<bool, RoundError> {
        let verifier = self.verifier()?;
        let endpoints = match self.endpoints(verifier.grants()).await {
            Ok(e) => e,
            Err(e) => {
                self.verifier = Some(verifier);
                return Err(e);
            }
        };
        self.ensure_push(&endpoints).await;
        let start = verifier.next_index();
        let page_size = self.agg.shared.node.config.aggregator.page_size.clamp(1, 1000);
        let fetched = match &endpoints.national {
            Some((national_log, _)) => self
                .agg
                .shared
                .client
                .national_log_page(national_log, start, page_size)
                .await
                .map(|n| (n.page, Some(n.members))),
            None => self
                .agg
                .shared
                .client
                .log_page(&endpoints.log, start, page_size)
                .await
                .map(|p| (p, None)),
        };
        let (page, members) = match fetched {
            Ok(p) => p,
            Err(e) => {
                self.verifier = Some(verifier);
                return Err(self.client_error(e));
            }
        };
        if let Ok(mut h) = self.health.lock() {
            h.member_size = page.size;
        }
        // The one verification path for log pages (shared with `portal verify`): origin,
        // shrinking, every entry through the `LogVerifier` (off the async workers), then the
        // page's checkpoint with its consistency proof.
        let (verifier, verified) =
            self.agg.shared.client.verify_page(verifier, page, &endpoints.consistency, now()).await;
        let page = match verified {
            Ok(page) => page,
            Err(PageFailure::WrongOrigin { got }) => {
                self.verifier = Some(verifier);
                return Err(self.reject(
                    "wrong-origin",
                    format!("the log at {} is of {got}", endpoints.log),
                    json!({"url": endpoints.log.as_str()}),
                ));
            }
            Err(PageFailure::Shrunk { verified, served, checkpoint }) => {
                let evidence = json!({"url": endpoints.log.as_str(), "stored": verified,
                                      "served": served, "checkpoint": checkpoint});
                self.verifier = Some(verifier);
                return Err(self.reject(
                    "rollback",
                    format!(
                        "the log shrank: {verified} entries verified, the member now has {served}"
                    ),
                    evidence,
                ));
            }
            Err(PageFailure::Entry { rejected, .. }) => {
                // The verifier moved past what is stored: rebuild it next round. The entries
                // before the bad one are fetched and ingested again then (up to it).
                self.verifier = None;
                return Err(self.entry_rejected(
                    rejected.index,
                    &rejected.signed,
                    &rejected.rejection,
                ));
            }
            Err(PageFailure::Checkpoint { failure, .. }) => {
                self.verifier = None;
                return Err(match failure {
                    CheckpointFailure::Fetch(e) => self.client_error(e),
                    CheckpointFailure::Rejected { rejection, note, previous, proof } => {
                        let code = rejection.code();
                        let message = if matches!(rejection, Rejection::InconsistentCheckpoint(_)) {
                            format!("equivocation: {rejection}")
                        } else {
                            format!("checkpoint: {rejection}")
                        };
                        let proof: Option<Vec<String>> =
                            proof.map(|p| p.iter().map(|h| encode_base64(h)).collect());
                        self.reject(
                            code,
                            message,
                            json!({"note": note, "previous": previous, "proof": proof}),
                        )
                    }
                    other => self.reject(other.code(), other.to_string(), json!({})),
                });
            }
            Err(other) => {
                self.verifier = None;
                return Err(self.reject(other.code(), other.to_string(), json!({})));
            }
        };
        let more = page.more;
        let accepted: Vec<SignedRecord> = page.entries.iter().map(|v| v.signed().clone()).collect();
        let vc = (page.checkpoint.note.clone(), page.checkpoint.checkpoint.clone());
        let (note, cp) = vc;
        self.check_silence(&cp, endpoints.heartbeat);
        let cosigned = self.cosign(&note, &cp)?;
        let relayed = match (&endpoints.national, members) {
            (Some((_, roster_url)), Some(members)) => {
                match self.relay(roster_url, start, &accepted, members).await {
                    Ok(r) => r,
                    Err(e) => {
                        self.verifier = None;
                        return Err(e);
                    }
                }
            }
            _ => Vec::new(),
        };
        let store = &self.agg.shared.node.store;
        if accepted.is_empty() {
            let cursor =
                store.member_cursor(&self.id).map_err(|e| RoundError::Local(e.to_string()))?;
            if cursor.checkpoint.as_deref() != Some(note.as_str()) {
                store
                    .set_member_checkpoint(&self.id, start, &note, &cosigned)
                    .map_err(|e| RoundError::Local(e.to_string()))?;
            }
            self.verifier = Some(verifier);
            return Ok(more);
        }
        let batch = Ingest {
            member: self.id.clone(),
            start,
            entries: accepted,
            checkpoint: note,
            cosigned,
            size: cp.size,
            root: cp.root,
            relayed,
        };
        let revocations = retroactive_revocations(&batch);
        let mut indexed_batches = vec![(self.id.clone(), batch.start, batch.entries.clone())];
        indexed_batches
            .extend(batch.relayed.iter().map(|r| (r.member.clone(), r.start, r.entries.clone())));
        match self.agg.shared.node.ingest(batch).await {
            Ok(_) => {
                self.verifier = Some(verifier);
                self.agg.shared.ingested.send_replace(self.agg.shared.node.store.size());
                for (member, event) in revocations {
                    self.agg.reexamine(member, event).await;
                }
                if let Some(index) = self.agg.search() {
                    let node = Arc::clone(&self.agg.shared.node);
                    let indexed = tokio::task::spawn_blocking(move || {
                        index.index_batches(&node.store, &indexed_batches)
                    })
                    .await;
                    if let Ok(Err(e)) | Err(e) = indexed.map_err(|e| e.to_string()) {
                        tracing::error!(member = %self.id, "search: indexing failed: {e}");
                    }
                }
                Ok(more)
            }
            Err(e) => {
                self.verifier = None;
                Err(RoundError::Local(format!("ingest: {e}")))
            }
        }
    }

    /// The records an aggregating member relays with its receipts among `accepted` (its own
    /// entries from index `start`, already verified): each must be the exact record its
    /// receipt names, signed by its origin's key as listed in the member's roster (verified
    /// with the member's key), and continue what is stored of that origin, in order.
    async fn relay(
        &mut self,
        roster_url: &Url,
        start: u64,
        accepted: &[SignedRecord],
        members: Vec<Option<SignedRecord>>,
    ) -> Result<Vec<Relayed>, RoundError> {
        let mut out: Vec<Relayed> = Vec::new();
        let direct: Vec<NodeId> = self.agg.shared.members().into_iter().map(|m| m.id).collect();
        for (i, (own, member)) in accepted.iter().zip(members).enumerate() {
            let index = start + i as u64;
            let Some(member) = member else { continue };
            let Ok(Record::Receipt(r)) = envelope::parse_record(own.bytes()) else {
                return Err(self.reject(
                    "malformed",
                    format!("national log entry {index} pairs a member record with a non-receipt"),
                    json!({"index": index, "entry": own}),
                ));
            };
            if member.digest() != r.record {
                return Err(self.reject(
                    "bad-signature",
                    format!("national log entry {index}: the member record is not the one its receipt names"),
                    json!({"index": index, "receipt": own, "member": member}),
                ));
            }
            if r.member == self.agg.shared.node.config.id || direct.contains(&r.member) {
                // Followed directly (or ourselves): never relayed twice.
                continue;
            }
            let trust = self.sub_roster(roster_url, &r.member).await?;
            let opened = envelope::open(&member, &trust).map_err(|rejection| {
                self.reject(
                    rejection.code(),
                    format!(
                        "record {}#{} relayed by {}: {rejection}",
                        r.member, r.member_index, self.id
                    ),
                    json!({"index": index, "receipt": own, "member": member}),
                )
            })?;
            let record = opened.record();
            if record.origin() != &r.member || record.log_index() != Some(r.member_index) {
                return Err(self.reject(
                    "wrong-origin",
                    format!(
                        "national log entry {index}: the record is not {}#{}",
                        r.member, r.member_index
                    ),
                    json!({"index": index, "receipt": own, "member": member}),
                ));
            }
            let root = portal_proto::crypto::decode_base64_array::<32>(&r.checkpoint.root)
                .map_err(|e| RoundError::Local(format!("receipt root: {e}")))?;
            let pos = match out.iter().position(|b| b.member == r.member) {
                Some(p) => p,
                None => {
                    let cursor = self
                        .agg
                        .shared
                        .node
                        .store
                        .member_cursor(&r.member)
                        .map_err(|e| RoundError::Local(e.to_string()))?;
                    out.push(Relayed {
                        member: r.member.clone(),
                        start: cursor.size,
                        entries: Vec::new(),
                        checkpoints: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let batch = &mut out[pos];
            let expected = batch.start + batch.entries.len() as u64;
            if r.member_index < expected {
                continue; // already stored (a replay through another path)
            }
            if r.member_index > expected {
                return Err(self.reject(
                    "index-gap",
                    format!(
                        "{} relayed {}#{} but {expected} is next",
                        self.id, r.member, r.member_index
                    ),
                    json!({"index": index, "receipt": own}),
                ));
            }
            batch.entries.push(member);
            batch.checkpoints.push((r.checkpoint.size, root));
        }
        out.retain(|b| !b.entries.is_empty());
        Ok(out)
    }

    /// The aggregating member's roster, fetched again when it does not list `origin`.
    async fn sub_roster(&mut self, url: &Url, origin: &NodeId) -> Result<RosterTrust, RoundError> {
        use portal_proto::envelope::KeyResolver as _;
        if let Some(t) = &self.sub_roster
            && t.grants(origin).is_some()
        {
            return Ok(t.clone());
        }
        let member = self
            .agg
            .shared
            .member(&self.id)
            .ok_or_else(|| RoundError::Local(format!("{} left the roster", self.id)))?;
        let mut trust = TrustStore::new();
        trust.set(member.id.clone(), member.keys.clone());
        let signed =
            self.agg.shared.client.roster(url, &trust).await.map_err(|e| self.client_error(e))?;
        let fresh =
            RosterTrust::open(signed.signed(), &trust, self.sub_roster.as_ref()).map_err(|r| {
                self.reject(
                    r.code(),
                    format!("roster of {}: {r}", self.id),
                    json!({"url": url.as_str()}),
                )
            })?;
        self.sub_roster = Some(fresh.clone());
        if fresh.grants(origin).is_none() {
            return Err(self.reject(
                "unknown-origin",
                format!("{} relays records of {origin}, which its roster does not list", self.id),
                json!({"url": url.as_str(), "origin": origin}),
            ));
        }
        Ok(fresh)
    }

    /// An entry failed verification: record it with its evidence (for a fork, both records).
    fn entry_rejected(
        &self,
        index: u64,
        signed: &SignedRecord,
        rejection: &Rejection,
    ) -> RoundError {
        let mut evidence = json!({"index": index, "envelope": signed});
        if matches!(rejection, Rejection::Fork { .. } | Rejection::Replay { .. })
            && let Ok(Some(stored)) = self.agg.shared.node.store.member_entry(&self.id, index)
        {
            evidence["stored"] = json!(stored);
        }
        self.reject(rejection.code(), format!("log entry {index}: {rejection}"), evidence)
    }

    /// Raise `silent` (once per silence) when the member's newest checkpoint is older than
    /// twice its heartbeat.
    fn check_silence(&self, cp: &Checkpoint, heartbeat: u64) {
        let Some(time) = cp.time() else { return };
        let age = unix_now().saturating_sub(time);
        let limit = heartbeat.saturating_mul(2).max(60);
        let Ok(mut h) = self.health.lock() else { return };
        if age <= limit {
            h.silence_reported = false;
            return;
        }
        if std::mem::replace(&mut h.silence_reported, true) {
            return;
        }
        drop(h);
        self.agg.shared.incident(
            &self.id,
            "silent",
            format!(
                "its newest checkpoint is {age} s old; it declares a heartbeat of {heartbeat} s"
            ),
            json!({"checkpoint_time": time, "heartbeat": heartbeat}),
        );
    }

    /// The member's checkpoint note with this node's cosignature line (the witness).
    fn cosign(&self, note: &str, cp: &Checkpoint) -> Result<String, RoundError> {
        let name = checkpoint_origin(&self.agg.shared.node.config.id);
        let line = checkpoint::cosign(cp, &name, self.agg.shared.node.signer(), unix_now())
            .map_err(|e| RoundError::Local(format!("cosign: {e}")))?;
        checkpoint::add_signature_line(note, &line)
            .map_err(|e| RoundError::Local(format!("cosign: {e}")))
    }

    /// Subscribe to the member's hub when push is on and the lease is missing or ending.
    async fn ensure_push(&self, endpoints: &Endpoints) {
        if !self.agg.shared.node.config.aggregator.push {
            return;
        }
        let Some(hub) = &endpoints.hub else { return };
        let lease_until = self.health.lock().ok().and_then(|h| h.push_lease_until);
        if lease_until.is_some_and(|until| until > unix_now() + 3600) {
            return;
        }
        let secret: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let callback = format!("{}/websub/callback/{}", self.agg.shared.node.config.url, self.id);
        if let Ok(mut s) = self.secret.lock() {
            *s = Some(secret.clone());
        }
        let lease: u64 = 86_400;
        let form = [
            ("hub.mode", "subscribe".to_owned()),
            ("hub.topic", endpoints.log.to_string()),
            ("hub.callback", callback),
            ("hub.secret", secret),
            ("hub.lease_seconds", lease.to_string()),
        ];
        match self.agg.shared.client.fetcher().post_form(hub, &form).await {
            Ok(status) if (200..300).contains(&status) => {
                if let Ok(mut h) = self.health.lock() {
                    h.push_lease_until = Some(unix_now() + lease);
                }
                tracing::info!(member = %self.id, "websub: subscription requested");
            }
            Ok(status) => {
                tracing::warn!(member = %self.id, status, "websub: the hub refused to subscribe us; polling only")
            }
            Err(e) => {
                tracing::warn!(member = %self.id, "websub: subscribing failed: {e}; polling only")
            }
        }
    }
}

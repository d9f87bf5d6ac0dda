//! Following members: the aggregator half of a node (SPEC.md §4.5, §4.6, §7, §11.2, §13).
//!
//! A node with members (added by `portal member add`) keeps a signed roster and, per active
//! member, one follow task (`shell.rs`) around a sans-IO [`Follower`] (crate portal-follow),
//! which holds every rule: it verifies every entry after the member's durable cursor with its
//! own `LogVerifier` (signature against the roster's keys, origin, index continuity, version
//! chain) and the member's checkpoint (signature, freshness, consistency with every checkpoint
//! accepted before), has it cosigned (the witness), and hands the entries to the sequencer
//! (`Node::ingest`), which signs a receipt for each in this node's own log and stores
//! receipts, member records and the new cursor in one atomic batch.
//!
//! This module is the operators' side: the roster (add, suspend, reactivate, remove, each a
//! newly signed roster), which members are followed, their health and the aggregator's
//! metrics. What it shares with the follow tasks (the node, the member client, the roster,
//! the sync slots, incidents, search) is in `shared.rs`.
//!
//! Push is a hint: a WebSub delivery from a member only wakes its task, which pulls. Polling
//! (jittered) guarantees progress without push; errors back off exponentially. At most
//! `max_concurrent_syncs` members sync at once, and each request is bounded in time and size
//! (portal-client), so a slow or dead member never delays the others. Every rejection and
//! failure becomes an incident (stored, counted in `/metrics`, logged) with its evidence; a
//! member that keeps failing the same way is recorded once per episode.
//!
//! [`Follower`]: portal_follow::Follower

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_client::Client;
use portal_client::fetch::{AllowedOrigins, FetchPolicy, Fetcher};
use portal_proto::crypto::PublicKey;
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Member, MemberStatus, RecordType, Roster};
use reqwest::Url;
use serde::Serialize;
use tokio::sync::watch;

use portal_publisher::node::{Node, now};

use crate::shared::Shared;
use crate::shell::Followed;

/// A member's sync health, for operators and the health board: the follower's own
/// (portal-follow), published by its task after every change.
pub use portal_follow::Health;

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

/// The aggregator. Cheap to share behind an `Arc`.
pub struct Aggregator {
    /// The node, the member client, the roster, the sync slots, incidents, search.
    shared: Arc<Shared>,
    /// One follow task per followed member.
    followers: Mutex<BTreeMap<NodeId, Followed>>,
    /// Whether [`Aggregator::start`] ran: only a serving node follows members (the CLI edits
    /// the roster of a stopped node without syncing).
    started: AtomicBool,
}

impl std::fmt::Debug for Aggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = &self.shared.node.config.id;
        f.debug_struct("Aggregator").field("node", id).finish_non_exhaustive()
    }
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
            started: AtomicBool::new(false),
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
        self.started.store(true, Ordering::SeqCst);
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
            for (_, followed) in std::mem::take(&mut *f) {
                followed.stop();
            }
        }
    }

    /// Start a member's follow task (once the aggregator is started, and once per member).
    fn follow(&self, id: NodeId) {
        if !self.started.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut followers) = self.followers.lock() else { return };
        if followers.contains_key(&id) {
            return;
        }
        let Some(member) = self.shared.member(&id) else { return };
        followers.insert(id, Followed::spawn(&self.shared, member));
    }

    fn unfollow(&self, id: &NodeId) {
        if let Some(f) = self.followers.lock().ok().and_then(|mut f| f.remove(id)) {
            f.stop();
        }
    }

    /// Wake a member's task (a push arrived, or an operator asked).
    pub fn wake(&self, id: &NodeId) -> bool {
        let followers = self.followers.lock().ok();
        let Some(followed) = followers.as_ref().and_then(|f| f.get(id)) else { return false };
        followed.wake();
        true
    }

    /// The WebSub secret of a member's current subscription (to check deliveries' HMAC).
    pub fn push_secret(&self, id: &NodeId) -> Option<String> {
        self.followers.lock().ok()?.get(id)?.secret()
    }

    /// Per member: its roster entry, stored size and health.
    pub fn health(&self) -> Vec<(MemberView, Option<Health>, Option<String>)> {
        let followers = self.followers.lock().ok();
        self.shared
            .members()
            .into_iter()
            .map(|m| {
                let health =
                    followers.as_ref().and_then(|f| f.get(&m.id)).and_then(Followed::health);
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

//! The follow loop: the async shell around one member's [`Follower`] (crate portal-follow),
//! which holds every rule — verification, witnessing, the backoff schedule, `unreachable` and
//! `silent`, incident decisions. The shell only performs the follower's actions (fetches
//! through the member client, store reads and writes, ingests, cosigning with the node's key,
//! incidents, sleeps) and feeds the results back with the time. `crates/portal-follow/SHELL.md`
//! says how each action is performed.
//!
//! Push is a hint: a WebSub delivery only wakes the task ([`Followed::wake`]), which pulls. At
//! most `max_concurrent_syncs` members run a round at once: a task takes a sync slot before
//! each round and frees it when the follower asks to sleep.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use portal_client::ClientError;
use portal_client::client::{LogPage, endpoint};
use portal_client::fetch::{AllowedOrigins, FetchError};
use portal_follow::{
    Action, Batch, DescriptorFetched, Endpoints, Event, FailureReason, FetchFailure, FollowConfig,
    Follower, Health, Incident, Jitter, NationalEndpoints, Page, Stored,
};
use portal_proto::checkpoint::Checkpoint;
use portal_proto::envelope::{SignedRecord, TrustStore};
use portal_proto::error::Rejection;
use portal_proto::ids::NodeId;
use portal_proto::merkle::Hash;
use portal_proto::record::{Descriptor, KeyEvent, KeyGrant, Member};
use reqwest::Url;
use serde_json::json;
use tokio::sync::{Notify, watch};

use crate::shared::Shared;

/// What the aggregator keeps of a running follow task: how to wake it, its health, its WebSub
/// secret, and how to stop it.
pub(crate) struct Followed {
    notify: Arc<Notify>,
    health: Arc<Mutex<Health>>,
    /// The WebSub secret of the current subscription (in memory only: a restart subscribes
    /// again with a new one).
    secret: Arc<Mutex<Option<String>>>,
    stop: watch::Sender<bool>,
}

impl Followed {
    /// Start following `member`: one task until [`Followed::stop`].
    pub(crate) fn spawn(shared: &Arc<Shared>, member: Member) -> Followed {
        let (stop, stopped) = watch::channel(false);
        let followed = Followed {
            notify: Arc::new(Notify::new()),
            health: Arc::new(Mutex::new(Health::default())),
            secret: Arc::new(Mutex::new(None)),
            stop,
        };
        let cfg = &shared.node.config.aggregator;
        let config = FollowConfig {
            aggregator: shared.node.config.id.clone(),
            poll_seconds: cfg.poll_seconds,
            max_backoff_seconds: cfg.max_backoff_seconds,
            page_size: cfg.page_size,
            unreachable_after_seconds: cfg.unreachable_after_seconds,
            push: cfg.push,
            verify_threads: std::thread::available_parallelism().map_or(1, usize::from),
        };
        let task = FollowTask {
            shared: Arc::clone(shared),
            id: member.id.clone(),
            notify: Arc::clone(&followed.notify),
            health: Arc::clone(&followed.health),
            secret: Arc::clone(&followed.secret),
            follower: Follower::new(
                config,
                member,
                shared.direct(),
                Jitter::Seeded(rand::random()),
            ),
        };
        tokio::spawn(task.run(stopped));
        followed
    }

    /// End the task (after its current round).
    pub(crate) fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Start a round now, or right after the current one (a push arrived, or an operator
    /// asked).
    pub(crate) fn wake(&self) {
        self.notify.notify_one();
    }

    /// The member's sync health.
    pub(crate) fn health(&self) -> Option<Health> {
        self.health.lock().ok().map(|h| h.clone())
    }

    /// The WebSub secret of the current subscription (to check deliveries' HMAC).
    pub(crate) fn secret(&self) -> Option<String> {
        self.secret.lock().ok()?.clone()
    }
}

/// The wall clock as the follower reads it: the time since the Unix epoch.
fn clock() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// One member's follow task: performs its follower's actions until stopped.
struct FollowTask {
    shared: Arc<Shared>,
    id: NodeId,
    notify: Arc<Notify>,
    health: Arc<Mutex<Health>>,
    secret: Arc<Mutex<Option<String>>>,
    follower: Follower,
}

impl FollowTask {
    async fn run(mut self, mut stopped: watch::Receiver<bool>) {
        let mut permit = None;
        loop {
            let Some(action) = self.follower.poll_action() else {
                tracing::error!(member = %self.id, "follower: no action and not asleep");
                return;
            };
            let event = match action {
                Action::SleepUntil(until) => {
                    drop(permit.take()); // a round is over: free the sync slot
                    let wait = until.saturating_sub(clock());
                    let event = if wait.is_zero() {
                        Event::Tick // more to fetch: straight on
                    } else {
                        tokio::select! {
                            _ = self.notify.notified() => Event::Wake,
                            _ = tokio::time::sleep(wait) => Event::Tick,
                            _ = stopped.changed() => return,
                        }
                    };
                    if *stopped.borrow() {
                        return;
                    }
                    let Ok(p) = Arc::clone(&self.shared.permits).acquire_owned().await else {
                        return;
                    };
                    permit = Some(p);
                    // The roster as it is now: this member's URL and keys, and who is direct.
                    let member = self.shared.member(&self.id);
                    let direct = self.shared.direct();
                    self.handle(Event::Membership { member, direct });
                    event
                }
                other => match self.perform(other).await {
                    Some(event) => event,
                    None => continue,
                },
            };
            self.handle(event);
        }
    }

    fn handle(&mut self, event: Event) {
        // A log page is verified inside `handle` (one signature per entry, on `verify_threads`
        // threads): keep it off the async workers.
        let heavy = matches!(event, Event::LogPage(Ok(_)))
            && tokio::runtime::Handle::current().runtime_flavor()
                == tokio::runtime::RuntimeFlavor::MultiThread;
        let result = if heavy {
            tokio::task::block_in_place(|| self.follower.handle(clock(), event))
        } else {
            self.follower.handle(clock(), event)
        };
        if let Err(e) = result {
            tracing::error!(member = %self.id, "follower: {e}"); // a shell bug
        }
    }

    /// Perform `action`; its answer, if it has one.
    async fn perform(&mut self, action: Action) -> Option<Event> {
        Some(match action {
            Action::LoadStored { from, limit } => Event::Stored(self.load_stored(from, limit)),
            Action::FetchDescriptor { base, grants } => {
                Event::Descriptor(self.fetch_descriptor(&base, grants).await)
            }
            Action::Subscribe { hub, topic, lease_seconds } => {
                Event::Subscribed { accepted: self.subscribe(&hub, topic, lease_seconds).await }
            }
            Action::FetchLogPage { url, after, limit, national } => {
                Event::LogPage(self.fetch_log_page(&url, after, limit, national).await)
            }
            Action::FetchConsistencyProof { url, from, to } => {
                Event::ConsistencyProof(self.fetch_consistency_proof(&url, from, to).await)
            }
            Action::FetchRoster { url, grants } => {
                Event::Roster(self.fetch_roster(&url, grants).await)
            }
            Action::LoadCursor { member } => {
                let cursor = self.shared.node.store.member_cursor(&member);
                Event::Cursor { member, size: cursor.map(|c| c.size).map_err(|e| e.to_string()) }
            }
            Action::Cosign { note, checkpoint } => Event::Cosigned(self.cosign(&note, &checkpoint)),
            Action::StoreCheckpoint { start, note, cosigned } => {
                Event::CheckpointStored(self.store_checkpoint(start, &note, &cosigned))
            }
            Action::Ingest(batch) => Event::Ingested(self.ingest(*batch).await),
            Action::Reexamine { member, event } => {
                Event::Reexamined(self.reexamine(member, event).await)
            }
            Action::Incident(incident) => {
                self.incident(incident);
                return None;
            }
            Action::Health(health) => {
                if let Ok(mut h) = self.health.lock() {
                    *h = health;
                }
                return None;
            }
            other => {
                tracing::error!(member = %self.id, "follower: cannot perform {other:?}");
                return None;
            }
        })
    }

    /// The stored cursor and up to `limit` stored entries from `from`, to rebuild the
    /// verifier.
    fn load_stored(&self, from: u64, limit: usize) -> Result<Stored, String> {
        let store = &self.shared.node.store;
        let cursor = store.member_cursor(&self.id).map_err(|e| e.to_string())?;
        let entries = if from < cursor.size {
            store.member_entries(&self.id, from, limit).map_err(|e| e.to_string())?
        } else {
            Vec::new()
        };
        Ok(Stored { size: cursor.size, checkpoint: cursor.checkpoint, entries })
    }

    /// The member's descriptor below `base`, verified against `grants` (the keys its log has
    /// granted so far), with its endpoints checked.
    async fn fetch_descriptor(
        &self,
        base: &str,
        grants: Vec<KeyGrant>,
    ) -> Result<Box<DescriptorFetched>, FetchFailure> {
        let url = Url::parse(base).map_err(|e| {
            FetchFailure::new(FailureReason::Local, base, format!("roster URL {base}: {e}"))
        })?;
        let mut trust = TrustStore::new();
        trust.set(self.id.clone(), grants);
        match self.shared.client.descriptor_pinned(&url, &trust).await {
            Ok(descriptor) => {
                let endpoints = endpoints(&self.shared.origins, descriptor.record());
                Ok(Box::new(DescriptorFetched { base: url.to_string(), descriptor, endpoints }))
            }
            Err(e) => {
                // The follower keeps the endpoints it knows (the member rotated and its key
                // event is not ingested yet).
                if matches!(e.code(), "unknown-key" | "revoked-key")
                    && self.follower.endpoints().is_some()
                {
                    tracing::debug!(member = %self.id, "descriptor: {e}; keeping the known endpoints");
                }
                Err(failure(e))
            }
        }
    }

    /// Subscribe to the member's hub with a fresh secret: whether the hub accepted.
    async fn subscribe(&self, hub: &str, topic: String, lease: u64) -> bool {
        let hub = match Url::parse(hub) {
            Ok(hub) => hub,
            Err(e) => {
                tracing::warn!(member = %self.id, "websub: subscribing failed: {hub}: {e}; polling only");
                return false;
            }
        };
        let secret: String = (0..32).map(|_| format!("{:02x}", rand::random::<u8>())).collect();
        let callback = format!("{}/websub/callback/{}", self.shared.node.config.url, self.id);
        if let Ok(mut s) = self.secret.lock() {
            *s = Some(secret.clone());
        }
        let form = [
            ("hub.mode", "subscribe".to_owned()),
            ("hub.topic", topic),
            ("hub.callback", callback),
            ("hub.secret", secret),
            ("hub.lease_seconds", lease.to_string()),
        ];
        match self.shared.client.fetcher().post_form(&hub, &form).await {
            Ok(status) if (200..300).contains(&status) => {
                tracing::info!(member = %self.id, "websub: subscription requested");
                true
            }
            Ok(status) => {
                tracing::warn!(member = %self.id, status, "websub: the hub refused to subscribe us; polling only");
                false
            }
            Err(e) => {
                tracing::warn!(member = %self.id, "websub: subscribing failed: {e}; polling only");
                false
            }
        }
    }

    /// One page of the member's log (its national log when `national`), shaped, unverified.
    async fn fetch_log_page(
        &self,
        url: &str,
        after: u64,
        limit: u32,
        national: bool,
    ) -> Result<Page, FetchFailure> {
        let url = parse(url)?;
        let client = &self.shared.client;
        if national {
            let n = client.national_log_page(&url, after, limit).await.map_err(failure)?;
            Ok(page(n.page, Some(n.members)))
        } else {
            Ok(page(client.log_page(&url, after, limit).await.map_err(failure)?, None))
        }
    }

    async fn fetch_consistency_proof(
        &self,
        url: &str,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, FetchFailure> {
        let url = parse(url)?;
        self.shared.client.consistency_proof(&url, from, to).await.map_err(failure)
    }

    /// An aggregating member's roster, verified under its keys `grants`.
    async fn fetch_roster(
        &self,
        url: &str,
        grants: Vec<KeyGrant>,
    ) -> Result<SignedRecord, FetchFailure> {
        let url = parse(url)?;
        let mut trust = TrustStore::new();
        trust.set(self.id.clone(), grants);
        let roster = self.shared.client.roster(&url, &trust).await.map_err(failure)?;
        Ok(roster.signed().clone())
    }

    /// The member's checkpoint note with this node's cosignature line (the witness).
    fn cosign(&self, note: &str, checkpoint: &Checkpoint) -> Result<String, String> {
        let node = &self.shared.node;
        let time = clock().as_secs();
        portal_follow::cosign(note, checkpoint, &node.config.id, node.signer(), time)
            .map_err(|e| e.to_string())
    }

    /// Record a checkpoint that brought no entries, unless it is the one stored.
    fn store_checkpoint(&self, start: u64, note: &str, cosigned: &str) -> Result<(), String> {
        let store = &self.shared.node.store;
        let cursor = store.member_cursor(&self.id).map_err(|e| e.to_string())?;
        if cursor.checkpoint.as_deref() != Some(note) {
            store
                .set_member_checkpoint(&self.id, start, note, cosigned)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Hand verified entries to the sequencer ([`Node::ingest`]), then wake the ingests'
    /// waiters and index the records for national search.
    ///
    /// [`Node::ingest`]: portal_publisher::node::Node::ingest
    async fn ingest(&self, batch: Batch) -> Result<(), String> {
        let mut indexed = vec![(batch.member.clone(), batch.start, batch.entries.clone())];
        indexed
            .extend(batch.relayed.iter().map(|r| (r.member.clone(), r.start, r.entries.clone())));
        let node = &self.shared.node;
        node.ingest(batch).await.map_err(|e| e.to_string())?;
        self.shared.ingested.send_replace(node.store.size());
        if let Some(index) = self.shared.search() {
            let node = Arc::clone(node);
            let done =
                tokio::task::spawn_blocking(move || index.index_batches(&node.store, &indexed))
                    .await;
            if let Ok(Err(e)) | Err(e) = done.map_err(|e| e.to_string()) {
                tracing::error!(member = %self.id, "search: indexing failed: {e}");
            }
        }
        Ok(())
    }

    /// The stored records of `member` signed by the key a retroactive revocation revoked,
    /// in the revoked range (SPEC.md §4.3).
    async fn reexamine(&self, member: NodeId, event: KeyEvent) -> Result<Vec<u64>, String> {
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
        match &found {
            Ok(hits) if hits.is_empty() => tracing::info!(
                member = %member,
                kid = %event.kid,
                "a retroactive revocation from index {} invalidates no stored record",
                event.from_index
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(
                member = %member,
                "re-examining the records of a revoked key failed: {e}"
            ),
        }
        found
    }

    /// Record the follower's incident, with the stored record it names as evidence.
    fn incident(&self, incident: Incident) {
        let Incident { member, code, message, mut evidence, attach_stored } = incident;
        if let Some(index) = attach_stored
            && let Ok(Some(stored)) = self.shared.node.store.member_entry(&member, index)
            && let Some(evidence) = evidence.as_object_mut()
        {
            evidence.insert("stored".into(), json!(stored));
        }
        self.shared.incident(&member, &code, message, evidence);
    }
}

/// An endpoint URL the follower hands back (written by `Url::to_string`, so it parses).
fn parse(url: &str) -> Result<Url, FetchFailure> {
    Url::parse(url).map_err(|e| FetchFailure::new(FailureReason::Local, url, format!("{url}: {e}")))
}

/// A client error, typed as the follower's rules need it.
fn failure(e: ClientError) -> FetchFailure {
    let reason = match &e {
        ClientError::Fetch(FetchError::Refused { .. }) => FailureReason::Refused,
        ClientError::Fetch(FetchError::TooLarge { .. }) => FailureReason::TooLarge,
        ClientError::Fetch(FetchError::Timeout { .. }) => FailureReason::Timeout,
        ClientError::Fetch(FetchError::Status { status, .. }) => FailureReason::HttpStatus(*status),
        ClientError::Fetch(FetchError::Setup { .. }) => FailureReason::Setup,
        ClientError::Fetch(_) => FailureReason::Transport,
        other => FailureReason::Rejected(
            other.rejection().unwrap_or_else(|| Rejection::Malformed(other.to_string())),
        ),
    };
    FetchFailure::new(reason, e.url(), e.to_string())
}

/// A descriptor's endpoints: `log` and `consistency-proof` must be absolute http(s) URLs,
/// and they and an aggregating member's `national-log` and `roster` on the members' origins.
fn endpoints(origins: &AllowedOrigins, d: &Descriptor) -> Result<Endpoints, FetchFailure> {
    let log = endpoint(d, "log").map_err(failure)?;
    let consistency = endpoint(d, "consistency-proof").map_err(failure)?;
    let hub = endpoint(d, "websub-hub").ok();
    let national = match (endpoint(d, "national-log"), endpoint(d, "roster")) {
        (Ok(log), Ok(roster)) => Some((log, roster)),
        _ => None,
    };
    let more = national.iter().flat_map(|(a, b)| [a, b]);
    for u in [&log, &consistency].into_iter().chain(more) {
        if !origins.contains(u) {
            let message = format!("endpoint {u} is not on the member's registered origin");
            return Err(FetchFailure::new(FailureReason::Refused, u.as_str(), message));
        }
    }
    Ok(Endpoints {
        log: log.to_string(),
        consistency: consistency.to_string(),
        hub: hub.map(|u| u.to_string()),
        national: national.map(|(log, roster)| NationalEndpoints {
            log: log.to_string(),
            roster: roster.to_string(),
        }),
    })
}

/// A fetched page as the follower takes it.
fn page(p: LogPage, members: Option<Vec<Option<SignedRecord>>>) -> Page {
    Page {
        origin: p.origin,
        start: p.start,
        size: p.size,
        entries: p.entries.into_iter().map(|(_, s)| s).collect(),
        checkpoint: p.checkpoint,
        members,
    }
}

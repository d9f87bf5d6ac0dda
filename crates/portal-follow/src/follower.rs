//! The [`Follower`]: rounds, the wait between them, health, and the incident rules shared by
//! every step (one incident per code per failing episode, `unreachable`, `silent`).
//!
//! A round runs: rebuild the verifier from the store if needed ([`Action::LoadStored`]), read
//! the descriptor when the cached one is older than [`DESCRIPTOR_TTL_SECONDS`], subscribe to
//! the hub when the lease is missing or ending, fetch one page, verify it (`page.rs`), relay an
//! aggregating member's records (`relay.rs`), cosign, store or ingest. Its end is an
//! [`Action::SleepUntil`]: at once when the log goes on, after the jittered poll interval when
//! it reached the end, after the backoff delay when it failed.

use std::collections::{BTreeSet, VecDeque};
use std::time::Duration;

use portal_proto::envelope::SignedRecord;
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyEvent, KeyGrant, Member};
use portal_proto::time::Timestamp;
use portal_proto::verifier::{LogVerifier, RosterTrust, VerifiedCheckpoint};
use serde_json::json;

use crate::config::{
    DESCRIPTOR_TTL_SECONDS, FollowConfig, Jitter, JitterSource, PUSH_LEASE_SECONDS,
    PUSH_RENEW_SECONDS, STORED_CHUNK,
};
use crate::event::{
    Action, DescriptorFetched, Endpoints, Event, FailureReason, FetchFailure, Health, Incident,
    Stored,
};

/// An event the follower was not waiting for: a bug in the shell. The follower's state is
/// unchanged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandleError {
    /// The event answers another action than the one pending.
    #[error("{got} arrived while the follower waits for {expected}")]
    Unexpected {
        /// What the follower waits for.
        expected: &'static str,
        /// What arrived.
        got: &'static str,
    },
}

/// Why a round stopped.
#[derive(Clone, Debug)]
pub(crate) enum Failure {
    /// The member could not be reached or answered badly (transport, status, timeout).
    Unreachable(String),
    /// Verification refused something: an incident was recorded (or repeats this episode's).
    Rejected(String),
    /// A local failure (storage, cosigning).
    Local(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Unreachable(m) | Failure::Rejected(m) | Failure::Local(m) => m,
        }
    }
}

/// The result of one step: `Err` ends the round as failed.
pub(crate) type Flow = Result<(), Failure>;

/// A page whose entries the verifier accepted, on its way to the store.
#[derive(Clone, Debug)]
pub(crate) struct Pending {
    /// Member index of the first entry.
    pub(crate) start: u64,
    /// Whether the member's log goes on past the page.
    pub(crate) more: bool,
    /// The entries, accepted by the verifier.
    pub(crate) entries: Vec<SignedRecord>,
    /// The paired member records of a national log page.
    pub(crate) members: Option<Vec<Option<SignedRecord>>>,
    /// The page's checkpoint note, as served.
    pub(crate) note: String,
    /// The verifier's previous checkpoint note (equivocation evidence).
    pub(crate) previous: Option<String>,
    /// The checkpoint, once accepted.
    pub(crate) checkpoint: Option<VerifiedCheckpoint>,
    /// The note with this aggregator's cosignature, once signed.
    pub(crate) cosigned: String,
}

/// An aggregating member's page, relayed entry by entry.
#[derive(Clone, Debug)]
pub(crate) struct Relay {
    pub(crate) page: Pending,
    /// The member's `roster` endpoint.
    pub(crate) roster_url: String,
    /// The entry being looked at.
    pub(crate) position: usize,
    /// The relayed batches so far.
    pub(crate) out: Vec<crate::event::Relayed>,
    /// Stored sizes of relayed nodes, as the shell answered.
    pub(crate) cursors: std::collections::BTreeMap<NodeId, u64>,
    /// The origin a roster fetch is for, and the member keys it is verified with.
    pub(crate) roster_for: Option<(NodeId, Vec<KeyGrant>)>,
}

/// What the follower waits for.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// Sleeping: a tick or a wake starts the next round.
    Idle,
    /// Between two events (never seen outside `handle`).
    Busy,
    Restoring,
    Descriptor,
    Subscribing,
    Page,
    Proof(Box<Pending>),
    Cosign(Box<Pending>),
    Roster(Box<Relay>),
    Cursor(Box<Relay>),
    StoreCheckpoint {
        more: bool,
    },
    Ingest {
        more: bool,
        revocations: Vec<(NodeId, KeyEvent)>,
    },
    Reexamine {
        more: bool,
        revocations: Vec<(NodeId, KeyEvent)>,
        current: Box<(NodeId, KeyEvent)>,
    },
}

impl Step {
    fn expects(&self) -> &'static str {
        match self {
            Step::Idle => "tick",
            Step::Busy => "nothing",
            Step::Restoring => "stored",
            Step::Descriptor => "descriptor",
            Step::Subscribing => "subscribed",
            Step::Page => "log-page",
            Step::Proof(_) => "consistency-proof",
            Step::Cosign(_) => "cosigned",
            Step::Roster(_) => "roster",
            Step::Cursor(_) => "cursor",
            Step::StoreCheckpoint { .. } => "checkpoint-stored",
            Step::Ingest { .. } => "ingested",
            Step::Reexamine { .. } => "reexamined",
        }
    }
}

/// The member's endpoints with the heartbeat its descriptor declares.
#[derive(Clone, Debug)]
pub(crate) struct Known {
    pub(crate) endpoints: Endpoints,
    pub(crate) heartbeat: u64,
}

/// One member's follower. See the crate documentation.
#[derive(Debug)]
pub struct Follower {
    pub(crate) config: FollowConfig,
    pub(crate) id: NodeId,
    pub(crate) member: Option<Member>,
    pub(crate) direct: BTreeSet<NodeId>,
    jitter: JitterSource,
    /// In step with the store unless `restore` is set.
    pub(crate) verifier: LogVerifier,
    /// The verifier may be ahead of the store (a round failed after pushing entries, or it was
    /// never loaded): rebuild it from the store before the next page.
    pub(crate) restore: bool,
    pub(crate) endpoints: Option<Known>,
    endpoints_at: u64,
    /// An aggregating member's roster, verified with its key.
    pub(crate) sub_roster: Option<RosterTrust>,
    pub(crate) health: Health,
    reported: Health,
    failing_since: Option<u64>,
    /// The last incident code recorded in this failing episode.
    last_incident: Option<String>,
    silence_reported: bool,
    pub(crate) step: Step,
    /// When the current round started (Unix seconds).
    started: u64,
    wake_pending: bool,
    actions: VecDeque<Action>,
}

/// Unix seconds of `now`.
pub(crate) fn secs(now: Duration) -> u64 {
    now.as_secs()
}

/// `now` as a protocol timestamp (whole seconds).
pub(crate) fn timestamp(now: Duration) -> Timestamp {
    Timestamp::from_unix(secs(now)).unwrap_or(Timestamp::EPOCH)
}

impl Follower {
    /// The follower of `member` (its roster entry: id, URL, pinned keys), for an aggregator
    /// whose roster lists `direct`. Its first action is an immediate
    /// [`Action::SleepUntil`], after which the first round rebuilds the verifier from the
    /// store.
    pub fn new(
        config: FollowConfig,
        member: Member,
        direct: BTreeSet<NodeId>,
        jitter: Jitter,
    ) -> Follower {
        let verifier = LogVerifier::new(member.id.clone(), member.keys.clone());
        Follower {
            config,
            id: member.id.clone(),
            member: Some(member),
            direct,
            jitter: JitterSource::new(jitter),
            verifier,
            restore: true,
            endpoints: None,
            endpoints_at: 0,
            sub_roster: None,
            health: Health::default(),
            reported: Health::default(),
            failing_since: None,
            last_incident: None,
            silence_reported: false,
            step: Step::Idle,
            started: 0,
            wake_pending: false,
            actions: VecDeque::from([Action::SleepUntil(Duration::ZERO)]),
        }
    }

    /// The member followed.
    pub fn id(&self) -> &NodeId {
        &self.id
    }

    /// The verifier (its position, keys after rotations, latest checkpoint).
    pub fn verifier(&self) -> &LogVerifier {
        &self.verifier
    }

    /// The member's sync health.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The member's endpoints, once a descriptor was read.
    pub fn endpoints(&self) -> Option<&Endpoints> {
        self.endpoints.as_ref().map(|k| &k.endpoints)
    }

    /// Whether no round is running (the follower waits for a tick or a wake).
    pub fn is_idle(&self) -> bool {
        matches!(self.step, Step::Idle)
    }

    /// The next thing to do, in order; `None` when the follower waits for an event.
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Feed an event at `now` (wall-clock time since the Unix epoch, the clock of every rule
    /// and of [`Action::SleepUntil`]). An event the follower does not wait for is refused and
    /// changes nothing.
    pub fn handle(&mut self, now: Duration, event: Event) -> Result<(), HandleError> {
        let mark = self.actions.len();
        let result = self.dispatch(now, event);
        if self.health != self.reported {
            self.reported = self.health.clone();
            // Before this event's other actions, so the shell publishes it before it sleeps.
            self.actions.insert(mark, Action::Health(self.health.clone()));
        }
        result
    }

    fn dispatch(&mut self, now: Duration, event: Event) -> Result<(), HandleError> {
        match event {
            Event::Membership { member, direct } => {
                self.member = member;
                self.direct = direct;
                return Ok(());
            }
            Event::Wake if !self.is_idle() => {
                self.wake_pending = true;
                return Ok(());
            }
            Event::Wake | Event::Tick if self.is_idle() => {
                self.start_round(now);
                return Ok(());
            }
            _ => {}
        }
        let step = std::mem::replace(&mut self.step, Step::Busy);
        let flow = match (step, event) {
            (Step::Restoring, Event::Stored(stored)) => self.on_stored(now, stored),
            (Step::Descriptor, Event::Descriptor(d)) => self.on_descriptor(now, d),
            (Step::Subscribing, Event::Subscribed { accepted }) => {
                if accepted {
                    self.health.push_lease_until = Some(secs(now) + PUSH_LEASE_SECONDS);
                }
                self.fetch_page()
            }
            (Step::Page, Event::LogPage(page)) => match page {
                Ok(page) => self.verify_page(now, page),
                Err(f) => Err(self.fetch_failed(f)),
            },
            (Step::Proof(pending), Event::ConsistencyProof(proof)) => match proof {
                Ok(proof) => self.push_checkpoint(now, *pending, Some(proof)),
                Err(f) => Err(self.fetch_failed(f)),
            },
            (Step::Cosign(pending), Event::Cosigned(c)) => match c {
                Ok(cosigned) => self.cosigned(*pending, cosigned),
                Err(e) => Err(Failure::Local(format!("cosign: {e}"))),
            },
            (Step::Roster(relay), Event::Roster(r)) => self.on_roster(relay, r),
            (Step::Cursor(relay), Event::Cursor { member, size }) => {
                self.on_cursor(relay, member, size)
            }
            (Step::StoreCheckpoint { more }, Event::CheckpointStored(r)) => match r {
                Ok(()) => {
                    self.restore = false;
                    self.end_round(now, Ok(more));
                    Ok(())
                }
                Err(e) => Err(Failure::Local(e)),
            },
            (Step::Ingest { more, revocations }, Event::Ingested(r)) => match r {
                Ok(()) => {
                    self.restore = false;
                    self.next_revocation(now, more, revocations);
                    Ok(())
                }
                Err(e) => Err(Failure::Local(format!("ingest: {e}"))),
            },
            (Step::Reexamine { more, revocations, current }, Event::Reexamined(r)) => {
                if let Ok(hits) = r {
                    self.revoked_records(&current.0, &current.1, &hits);
                }
                self.next_revocation(now, more, revocations);
                Ok(())
            }
            (step, event) => {
                let expected = step.expects();
                self.step = step;
                return Err(HandleError::Unexpected { expected, got: event.name() });
            }
        };
        if let Err(failure) = flow {
            self.end_round(now, Err(failure));
        }
        Ok(())
    }

    pub(crate) fn push(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// Ask for `action` and wait in `step` for its answer.
    pub(crate) fn ask(&mut self, action: Action, step: Step) -> Flow {
        self.push(action);
        self.step = step;
        Ok(())
    }

    fn start_round(&mut self, now: Duration) {
        self.started = secs(now);
        self.health.last_attempt = Some(self.started);
        let flow = if self.restore { self.begin_restore() } else { self.read_descriptor(now) };
        if let Err(failure) = flow {
            self.end_round(now, Err(failure));
        }
    }

    fn left_roster(&self) -> Failure {
        Failure::Local(format!("{} left the roster", self.id))
    }

    /// Rebuild the verifier from the store: the roster's keys, then every stored entry (each
    /// checked again but for its signature), then the stored checkpoint.
    fn begin_restore(&mut self) -> Flow {
        let member = self.member.as_ref().ok_or_else(|| self.left_roster())?;
        self.verifier = LogVerifier::new(self.id.clone(), member.keys.clone());
        self.ask(Action::LoadStored { from: 0, limit: STORED_CHUNK }, Step::Restoring)
    }

    fn on_stored(&mut self, now: Duration, stored: Result<Stored, String>) -> Flow {
        let local = |e: &dyn std::fmt::Display| Failure::Local(format!("{}: {e}", self.id));
        let stored = stored.map_err(|e| local(&e))?;
        let mut next = self.verifier.next_index();
        if next < stored.size && stored.entries.is_empty() {
            return Err(local(&format!("stored log ends at {next}, cursor says {}", stored.size)));
        }
        for s in &stored.entries {
            self.verifier.restore(s).map_err(|e| local(&format!("stored entry {next}: {e}")))?;
            next += 1;
        }
        if next < stored.size {
            return self
                .ask(Action::LoadStored { from: next, limit: STORED_CHUNK }, Step::Restoring);
        }
        if let Some(note) = &stored.checkpoint {
            self.verifier
                .restore_checkpoint(note)
                .map_err(|e| local(&format!("stored checkpoint: {e}")))?;
        }
        self.restore = false;
        self.read_descriptor(now)
    }

    /// The member's endpoints from its descriptor, verified against the keys its log has
    /// granted so far (a rotation's key event grants the key that signs the descriptor
    /// afterwards, SPEC.md §4.3, so no re-pinning is needed).
    fn read_descriptor(&mut self, now: Duration) -> Flow {
        if self.endpoints.is_some()
            && secs(now).saturating_sub(self.endpoints_at) < DESCRIPTOR_TTL_SECONDS
        {
            return self.ensure_push(now);
        }
        let member = self.member.as_ref().ok_or_else(|| self.left_roster())?;
        let base = member.url.clone();
        let grants = self.verifier.grants().to_vec();
        self.ask(Action::FetchDescriptor { base, grants }, Step::Descriptor)
    }

    fn on_descriptor(
        &mut self,
        now: Duration,
        fetched: Result<Box<DescriptorFetched>, FetchFailure>,
    ) -> Flow {
        let fetched = match fetched {
            Ok(f) => f,
            // Signed by a key the log has not granted yet: the member rotated and its key
            // event is not ingested yet. Its log, verified entry by entry, says the rest.
            Err(f)
                if matches!(f.code(), "unknown-key" | "revoked-key")
                    && self.endpoints.is_some() =>
            {
                self.endpoints_at = secs(now);
                return self.ensure_push(now);
            }
            Err(f) => return Err(self.fetch_failed(f)),
        };
        let d = fetched.descriptor.record();
        if d.origin != self.id {
            return Err(self.reject(
                "wrong-origin",
                format!("the descriptor at {} is of {}", fetched.base, d.origin),
                json!({"url": fetched.base}),
            ));
        }
        let heartbeat = d.heartbeat;
        let endpoints = fetched.endpoints.map_err(|f| self.fetch_failed(f))?;
        self.health.heartbeat = Some(heartbeat);
        self.endpoints = Some(Known { endpoints, heartbeat });
        self.endpoints_at = secs(now);
        self.ensure_push(now)
    }

    /// Subscribe to the member's hub when push is on and the lease is missing or ending.
    fn ensure_push(&mut self, now: Duration) -> Flow {
        let known = self.endpoints.as_ref().ok_or_else(|| Failure::Local("endpoints".into()))?;
        let renew =
            self.health.push_lease_until.is_none_or(|u| u <= secs(now) + PUSH_RENEW_SECONDS);
        if let (true, Some(hub), true) = (self.config.push, &known.endpoints.hub, renew) {
            let action = Action::Subscribe {
                hub: hub.clone(),
                topic: known.endpoints.log.clone(),
                lease_seconds: PUSH_LEASE_SECONDS,
            };
            return self.ask(action, Step::Subscribing);
        }
        self.fetch_page()
    }

    fn fetch_page(&mut self) -> Flow {
        let known = self.endpoints.as_ref().ok_or_else(|| Failure::Local("endpoints".into()))?;
        let (url, national) = match &known.endpoints.national {
            Some(n) => (n.log.clone(), true),
            None => (known.endpoints.log.clone(), false),
        };
        let after = self.verifier.next_index();
        let limit = self.config.page_limit();
        self.ask(Action::FetchLogPage { url, after, limit, national }, Step::Page)
    }

    /// A failed fetch: the member did not answer (`unreachable` later), or what it served was
    /// refused (an incident now).
    pub(crate) fn fetch_failed(&mut self, f: FetchFailure) -> Failure {
        match f.reason {
            FailureReason::Local => Failure::Local(f.message),
            FailureReason::Refused | FailureReason::TooLarge | FailureReason::Rejected(_) => {
                let code = f.code();
                self.reject(code, f.message, json!({"url": f.url}))
            }
            _ => Failure::Unreachable(f.message),
        }
    }

    /// Record an incident unless the same code was the last one recorded in this episode.
    pub(crate) fn reject(
        &mut self,
        code: &str,
        message: String,
        evidence: serde_json::Value,
    ) -> Failure {
        self.reject_with(code, message, evidence, None)
    }

    /// [`Follower::reject`], asking the shell to add the stored entry at `attach` as evidence.
    pub(crate) fn reject_with(
        &mut self,
        code: &str,
        message: String,
        evidence: serde_json::Value,
        attach: Option<u64>,
    ) -> Failure {
        let repeat = self.last_incident.as_deref() == Some(code);
        self.last_incident = Some(code.to_owned());
        let failure = Failure::Rejected(format!("{code}: {message}"));
        if !repeat {
            let member = self.id.clone();
            self.incident(member, code, message, evidence, attach);
        }
        failure
    }

    pub(crate) fn incident(
        &mut self,
        member: NodeId,
        code: &str,
        message: String,
        evidence: serde_json::Value,
        attach_stored: Option<u64>,
    ) {
        let code = code.to_owned();
        self.push(Action::Incident(Incident { member, code, message, evidence, attach_stored }));
    }

    /// Raise `silent` (once per silence) when the member's newest checkpoint is older than
    /// twice its heartbeat (and than [`SILENCE_FLOOR_SECONDS`](crate::SILENCE_FLOOR_SECONDS)).
    pub(crate) fn check_silence(&mut self, now: Duration, time: Option<u64>) {
        let (Some(time), Some(known)) = (time, &self.endpoints) else { return };
        let heartbeat = known.heartbeat;
        let age = secs(now).saturating_sub(time);
        let limit = heartbeat.saturating_mul(2).max(crate::config::SILENCE_FLOOR_SECONDS);
        if age <= limit {
            self.silence_reported = false;
            return;
        }
        if std::mem::replace(&mut self.silence_reported, true) {
            return;
        }
        let message = format!(
            "its newest checkpoint is {age} s old; it declares a heartbeat of {heartbeat} s"
        );
        let evidence = json!({"checkpoint_time": time, "heartbeat": heartbeat});
        self.incident(self.id.clone(), "silent", message, evidence, None);
    }

    fn next_revocation(
        &mut self,
        now: Duration,
        more: bool,
        mut revocations: Vec<(NodeId, KeyEvent)>,
    ) {
        if revocations.is_empty() {
            self.end_round(now, Ok(more));
            return;
        }
        let current = Box::new(revocations.remove(0));
        let action = Action::Reexamine { member: current.0.clone(), event: current.1.clone() };
        self.push(action);
        self.step = Step::Reexamine { more, revocations, current };
    }

    /// A retroactive revocation invalidated `hits` (SPEC.md §4.3): record `revoked-key` listing
    /// them (at most the first 1,000 indices; the count is exact), for the operators' review.
    fn revoked_records(&mut self, member: &NodeId, event: &KeyEvent, hits: &[u64]) {
        if hits.is_empty() {
            return;
        }
        let message = format!(
            "key {} was revoked from index {} (key event at index {}): {} record(s) accepted \
             before the revocation are invalid and need review",
            event.kid,
            event.from_index,
            event.log_index,
            hits.len()
        );
        let evidence = json!({
            "kid": event.kid,
            "from_index": event.from_index,
            "key_event_index": event.log_index,
            "reason": event.reason,
            "count": hits.len(),
            "records": hits.iter().take(1000).collect::<Vec<_>>(),
        });
        self.incident(member.clone(), "revoked-key", message, evidence, None);
    }

    /// End the round: health, the `unreachable` rule, and the wait before the next one.
    pub(crate) fn end_round(&mut self, now: Duration, result: Result<bool, Failure>) {
        let wait = match result {
            Ok(more) => {
                self.health.failures = 0;
                self.health.last_error = None;
                self.failing_since = None;
                self.last_incident = None;
                if !more {
                    self.health.last_ok = Some(secs(now));
                }
                let poll = self.config.poll_interval();
                if more { Duration::ZERO } else { poll.mul_f64(self.jitter.factor()) }
            }
            Err(failure) => {
                self.health.failures = self.health.failures.saturating_add(1);
                self.health.last_error = Some(failure.message().to_owned());
                let since = *self.failing_since.get_or_insert(self.started);
                self.check_unreachable(now, &failure, since);
                let factor = self.jitter.factor();
                self.config.backoff_delay(self.health.failures, factor)
            }
        };
        // A wake during the round ends the next real sleep at once (as a stored notification
        // would); a round that goes straight on keeps it for later.
        let wait = if !wait.is_zero() && std::mem::take(&mut self.wake_pending) {
            Duration::ZERO
        } else {
            wait
        };
        self.step = Step::Idle;
        self.push(Action::SleepUntil(now + wait));
    }

    /// Raise `unreachable` once per episode when the member has not answered for
    /// `unreachable_after_seconds`.
    fn check_unreachable(&mut self, now: Duration, failure: &Failure, since: u64) {
        let threshold = self.config.unreachable_after_seconds;
        let Failure::Unreachable(error) = failure else { return };
        if secs(now).saturating_sub(since) < threshold
            || self.last_incident.as_deref() == Some("unreachable")
        {
            return;
        }
        self.last_incident = Some("unreachable".into());
        let url = self.member.as_ref().map(|m| m.url.clone());
        let evidence = json!({"url": url, "since": since, "error": error});
        let message = format!("unreachable for {threshold} s or more: {error}");
        self.incident(self.id.clone(), "unreachable", message, evidence, None);
    }
}

//! A member and an aggregator's shell in virtual time: real keys from fixed seeds, real signed
//! records, checkpoints and proofs, and a store in memory. The shell performs each action the
//! way SHELL.md tells the real one to, so a test only sets up what the member serves.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use portal_follow::{
    Action, Batch, DescriptorFetched, Endpoints, Event, FailureReason, FetchFailure, FollowConfig,
    Follower, Health, Incident, Jitter, NationalEndpoints, Page, Stored,
};
use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::crypto::{Signer, encode_base64};
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::ids::{ItemId, Lang, NodeId};
use portal_proto::merkle::{self, Hash, LeafHashes};
use portal_proto::record::{
    CheckpointRef, Descriptor, ItemKind, ItemVersion, KeyEvent, KeyEventKind, KeyGrant, Member,
    MemberStatus, Receipt, RecordType, Roster,
};
use portal_proto::time::Timestamp;
use portal_proto::verifier::checkpoint_origin;
use serde_json::json;

/// The virtual epoch: 2026-11-28T09:00:00Z.
pub(crate) const T0: u64 = 1_795_856_400;

/// `T0 + seconds` as the follower's `now`.
pub(crate) fn at(seconds: u64) -> Duration {
    Duration::from_secs(T0 + seconds)
}

pub(crate) fn id(s: &str) -> NodeId {
    NodeId::new(s).expect("a valid node id")
}

pub(crate) fn key(seed: u8) -> Signer {
    Signer::from_seed([seed; 32])
}

/// The central aggregator every test follows members for, and its witness key.
pub(crate) const CENTRAL: &str = "chinh-phu";
pub(crate) fn witness() -> Signer {
    key(99)
}

pub(crate) fn url_of(origin: &NodeId) -> String {
    format!("https://{origin}.example.gov.vn")
}

fn ts(seconds: u64) -> Timestamp {
    Timestamp::from_unix(T0 + seconds).expect("in range")
}

/// One node's log as it serves it.
#[derive(Clone, Debug)]
pub(crate) struct Log {
    pub(crate) origin: NodeId,
    pub(crate) entries: Vec<SignedRecord>,
    leaves: LeafHashes,
}

impl Log {
    pub(crate) fn new(origin: &str) -> Log {
        Log { origin: id(origin), entries: Vec::new(), leaves: LeafHashes::new() }
    }

    pub(crate) fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub(crate) fn push(&mut self, signed: SignedRecord) -> SignedRecord {
        self.leaves.push(signed.leaf_hash());
        self.entries.push(signed.clone());
        signed
    }

    /// An item (version 1) at the next index, signed by `by`.
    pub(crate) fn publish(&mut self, by: &Signer, title: &str) -> SignedRecord {
        let record = item(&self.origin, self.len(), title);
        self.push(envelope::sign(&record, by).expect("a valid item"))
    }

    /// `n` items signed by `by`.
    pub(crate) fn publish_many(&mut self, by: &Signer, n: usize) {
        for i in 0..n {
            self.publish(by, &format!("Thông báo số {}", self.len() + i as u64));
        }
    }

    /// A key event at the next index, signed by `by`: a rotation to `new` from the next
    /// index, or the revocation of `new` from `from_index`.
    pub(crate) fn key_event(
        &mut self,
        by: &Signer,
        kind: KeyEventKind,
        new: &Signer,
        from_index: u64,
    ) {
        let public_key = (kind == KeyEventKind::Rotate).then(|| new.public_key());
        let event = KeyEvent {
            ipsp: 1,
            record_type: RecordType::KeyEvent,
            origin: self.origin.clone(),
            log_index: self.len(),
            event: kind,
            kid: new.public_key().key_id(),
            public_key,
            from_index,
            reason: "thay khoá định kỳ".into(),
            time: ts(0),
        };
        self.push(envelope::sign(&event, by).expect("a valid key event"));
    }

    pub(crate) fn root(&self, size: u64) -> Hash {
        merkle::root(&self.leaves, size).expect("size within the log")
    }

    /// The checkpoint note of the first `size` entries, dated `T0 + time`, signed by `by`.
    pub(crate) fn checkpoint(&self, size: u64, time: u64, by: &Signer) -> String {
        let name = checkpoint_origin(&self.origin);
        let cp = Checkpoint::with_time(name.clone(), size, self.root(size), T0 + time);
        sign_checkpoint(&cp, &name, by).expect("a valid checkpoint")
    }

    pub(crate) fn proof(&self, from: u64, to: u64) -> Vec<Hash> {
        merkle::consistency_proof(&self.leaves, from, to).expect("sizes within the log")
    }
}

pub(crate) fn item(origin: &NodeId, log_index: u64, title: &str) -> ItemVersion {
    ItemVersion {
        ipsp: 1,
        record_type: RecordType::Item,
        origin: origin.clone(),
        log_index,
        id: ItemId::from_random([log_index as u8 + 1; 16]),
        version: 1,
        prev: None,
        update: None,
        kind: ItemKind::Announcement,
        language: Lang::new("vi").expect("vi"),
        title: title.into(),
        summary: "Tóm tắt".into(),
        content_html: "<p>Nội dung</p>".into(),
        translations: Default::default(),
        categories: vec![],
        attachments: vec![],
        legal: None,
        published: ts(0),
        updated: ts(0),
    }
}

/// A receipt at `log_index` of `aggregator`'s log for `record`, `member`'s entry
/// `member_index`, verified against `member`'s checkpoint of `(size, root)`.
pub(crate) fn receipt(
    aggregator: &NodeId,
    log_index: u64,
    member: &NodeId,
    member_index: u64,
    record: &SignedRecord,
    (size, root): (u64, Hash),
) -> Receipt {
    Receipt {
        ipsp: 1,
        record_type: RecordType::Receipt,
        origin: aggregator.clone(),
        log_index,
        member: member.clone(),
        member_index,
        record: record.digest(),
        checkpoint: CheckpointRef { size, root: encode_base64(&root) },
        time: ts(0),
    }
}

pub(crate) fn roster_entry(origin: &NodeId, keys: Vec<KeyGrant>) -> Member {
    Member {
        id: origin.clone(),
        url: url_of(origin),
        name: [(Lang::new("vi").expect("vi"), format!("Đơn vị {origin}"))].into(),
        status: MemberStatus::Active,
        keys,
    }
}

/// `aggregator`'s roster listing `members`, signed by `by`.
pub(crate) fn roster(
    aggregator: &NodeId,
    serial: u64,
    members: Vec<Member>,
    by: &Signer,
) -> SignedRecord {
    let roster = Roster {
        ipsp: 1,
        record_type: RecordType::Roster,
        origin: aggregator.clone(),
        serial,
        members,
        time: ts(0),
    };
    envelope::sign(&roster, by).expect("a valid roster")
}

/// The descriptor of `origin`, listing `keys`, signed by `by`; `national` adds the
/// `national-log` and `roster` endpoints, `hub` a WebSub hub.
pub(crate) fn descriptor(
    origin: &NodeId,
    keys: Vec<KeyGrant>,
    heartbeat: u64,
    (hub, national): (bool, bool),
    by: &Signer,
) -> SignedRecord {
    let base = url_of(origin);
    let mut endpoints: BTreeMap<String, String> = [
        ("log", "/api/v1/log"),
        ("consistency-proof", "/api/v1/consistency-proof"),
        ("checkpoint", "/api/v1/checkpoint"),
    ]
    .into_iter()
    .map(|(k, p)| (k.to_owned(), format!("{base}{p}")))
    .collect();
    if hub {
        endpoints.insert("websub-hub".into(), format!("{base}/websub"));
    }
    if national {
        endpoints.insert("national-log".into(), format!("{base}/api/v1/national-log"));
        endpoints.insert("roster".into(), format!("{base}/api/v1/roster"));
    }
    let d = Descriptor {
        ipsp: 1,
        record_type: RecordType::Descriptor,
        origin: origin.clone(),
        name: [(Lang::new("vi").expect("vi"), format!("Đơn vị {origin}"))].into(),
        url: base,
        keys,
        endpoints,
        heartbeat,
        log_size: 0,
        time: ts(0),
    };
    envelope::sign(&d, by).expect("a valid descriptor")
}

/// The endpoints a shell reads from a descriptor.
fn endpoints_of(d: &Descriptor) -> Endpoints {
    let ep = |name: &str| d.endpoints.get(name).cloned();
    let national = match (ep("national-log"), ep("roster")) {
        (Some(log), Some(roster)) => Some(NationalEndpoints { log, roster }),
        _ => None,
    };
    Endpoints {
        log: ep("log").unwrap_or_default(),
        consistency: ep("consistency-proof").unwrap_or_default(),
        hub: ep("websub-hub"),
        national,
    }
}

pub(crate) fn transport(url: &str) -> FetchFailure {
    FetchFailure::new(FailureReason::Transport, url, format!("{url}: connection refused"))
}

/// Rewrites a page before the follower sees it.
pub(crate) type PageHook = Box<dyn FnMut(&mut Page)>;

/// Rewrites a consistency proof before the follower sees it.
pub(crate) type ProofHook = Box<dyn FnMut(Vec<Hash>) -> Vec<Hash>>;

/// The aggregator's shell for one member, with the member it talks to.
pub(crate) struct Shell {
    /// What the member serves.
    pub(crate) log: Log,
    pub(crate) note: String,
    pub(crate) descriptor: SignedRecord,
    /// For a national log: the member record paired with each entry.
    pub(crate) paired: Vec<Option<SignedRecord>>,
    pub(crate) sub_roster: Option<SignedRecord>,
    /// Every fetch fails as a refused connection.
    pub(crate) down: bool,
    pub(crate) page_hook: Option<PageHook>,
    /// Every page fetch fails this way.
    pub(crate) fail_page: Option<FetchFailure>,
    pub(crate) proof_hook: Option<ProofHook>,
    pub(crate) endpoints_override: Option<Result<Endpoints, FetchFailure>>,
    pub(crate) hub_accepts: bool,
    /// The next ingest fails with this store error.
    pub(crate) fail_ingest: Option<String>,
    /// The shell's store.
    pub(crate) stored: Vec<SignedRecord>,
    pub(crate) stored_note: Option<String>,
    pub(crate) cosigned: Option<String>,
    pub(crate) stored_chunk: usize,
    pub(crate) relayed_stored: BTreeMap<NodeId, Vec<SignedRecord>>,
    /// What the shell recorded.
    pub(crate) incidents: Vec<Incident>,
    pub(crate) ingested: Vec<Batch>,
    pub(crate) health: Health,
    pub(crate) subscriptions: u32,
    /// The roster entry and the directly followed members.
    pub(crate) member: Member,
    pub(crate) direct: BTreeSet<NodeId>,
}

impl Shell {
    /// A member `origin` with one key, an empty log, a descriptor signed by that key (heartbeat
    /// one hour, no hub), followed by [`CENTRAL`].
    pub(crate) fn new(origin: &str, member_key: &Signer) -> Shell {
        let log = Log::new(origin);
        let grants = vec![KeyGrant::pinned(member_key.public_key())];
        let descriptor = descriptor(&log.origin, grants.clone(), 3600, (false, false), member_key);
        let member = roster_entry(&log.origin, grants);
        let direct = BTreeSet::from([log.origin.clone()]);
        Shell {
            log,
            note: String::new(),
            descriptor,
            paired: Vec::new(),
            sub_roster: None,
            down: false,
            page_hook: None,
            fail_page: None,
            proof_hook: None,
            endpoints_override: None,
            hub_accepts: true,
            fail_ingest: None,
            stored: Vec::new(),
            stored_note: None,
            cosigned: None,
            stored_chunk: usize::MAX,
            relayed_stored: BTreeMap::new(),
            incidents: Vec::new(),
            ingested: Vec::new(),
            health: Health::default(),
            subscriptions: 0,
            member,
            direct,
        }
    }

    /// The default config (poll 60 s, backoff cap 900 s, pages of 500, `unreachable` after
    /// 300 s, push on).
    pub(crate) fn config(&self) -> FollowConfig {
        FollowConfig::new(id(CENTRAL))
    }

    /// A follower of the member with `config` and no jitter (factor 1.0), its initial
    /// immediate sleep consumed.
    pub(crate) fn follower(&self, config: FollowConfig) -> Follower {
        let mut f =
            Follower::new(config, self.member.clone(), self.direct.clone(), Jitter::Fixed(0.5));
        assert_eq!(f.poll_action(), Some(Action::SleepUntil(Duration::ZERO)));
        f
    }

    /// Start a round at `now` (a tick) and perform every action until the follower sleeps.
    pub(crate) fn round(&mut self, f: &mut Follower, now: Duration) -> Vec<Action> {
        self.round_with(f, now, Event::Tick)
    }

    /// A round started by `start` (a tick or a wake).
    pub(crate) fn round_with(
        &mut self,
        f: &mut Follower,
        now: Duration,
        start: Event,
    ) -> Vec<Action> {
        let membership =
            Event::Membership { member: Some(self.member.clone()), direct: self.direct.clone() };
        f.handle(now, membership).expect("membership is always welcome");
        f.handle(now, start).expect("the follower is idle");
        self.drain(f, now)
    }

    /// Perform every action until the follower sleeps; the last action is the sleep.
    pub(crate) fn drain(&mut self, f: &mut Follower, now: Duration) -> Vec<Action> {
        let mut seen = Vec::new();
        loop {
            let action = f.poll_action().expect("the follower asked for nothing and is not asleep");
            seen.push(action.clone());
            if let Action::SleepUntil(_) = action {
                assert!(f.is_idle(), "a sleep ends the round");
                return seen;
            }
            if let Some(event) = self.perform(now, action) {
                f.handle(now, event).expect("the answer the follower waits for");
            }
        }
    }

    /// Perform actions until the follower asks for one matching `stop`, which is returned
    /// unperformed.
    pub(crate) fn until(
        &mut self,
        f: &mut Follower,
        now: Duration,
        stop: impl Fn(&Action) -> bool,
    ) -> Action {
        loop {
            let action = f.poll_action().expect("the follower asked for nothing");
            if stop(&action) {
                return action;
            }
            assert!(!matches!(action, Action::SleepUntil(_)), "the round ended first");
            if let Some(event) = self.perform(now, action) {
                f.handle(now, event).expect("the answer the follower waits for");
            }
        }
    }

    /// Perform one action as the real shell would; the answer, if it needs one.
    pub(crate) fn perform(&mut self, now: Duration, action: Action) -> Option<Event> {
        Some(match action {
            Action::LoadStored { from, limit } => {
                let entries = self
                    .stored
                    .iter()
                    .skip(from as usize)
                    .take(limit.min(self.stored_chunk))
                    .cloned()
                    .collect();
                let size = self.stored.len() as u64;
                Event::Stored(Ok(Stored { size, checkpoint: self.stored_note.clone(), entries }))
            }
            Action::FetchDescriptor { base, grants } => {
                Event::Descriptor(self.fetch_descriptor(&base, grants))
            }
            Action::Subscribe { .. } => {
                self.subscriptions += 1;
                Event::Subscribed { accepted: self.hub_accepts }
            }
            Action::FetchLogPage { url, after, limit, national } => {
                Event::LogPage(self.page(&url, after, limit, national))
            }
            Action::FetchConsistencyProof { url, from, to } => {
                Event::ConsistencyProof(match self.down {
                    true => Err(transport(&url)),
                    false => Ok(match &mut self.proof_hook {
                        Some(hook) => hook(self.log.proof(from, to)),
                        None => self.log.proof(from, to),
                    }),
                })
            }
            Action::FetchRoster { url, grants } => Event::Roster(self.fetch_roster(&url, grants)),
            Action::LoadCursor { member } => {
                let size = self.relayed_stored.get(&member).map_or(0, |s| s.len() as u64);
                Event::Cursor { member, size: Ok(size) }
            }
            Action::Cosign { note, checkpoint } => Event::Cosigned(
                portal_follow::cosign(&note, &checkpoint, &id(CENTRAL), &witness(), now.as_secs())
                    .map_err(|e| e.to_string()),
            ),
            Action::StoreCheckpoint { note, cosigned, .. } => {
                self.stored_note = Some(note);
                self.cosigned = Some(cosigned);
                Event::CheckpointStored(Ok(()))
            }
            Action::Ingest(batch) => Event::Ingested(self.ingest(*batch)),
            Action::Reexamine { member, event } => {
                let stored = if member == self.log.origin {
                    &self.stored
                } else {
                    &self.relayed_stored[&member]
                };
                let hits = (event.from_index..event.log_index)
                    .filter(|&i| stored.get(i as usize).is_some_and(|s| *s.kid() == event.kid))
                    .collect();
                Event::Reexamined(Ok(hits))
            }
            Action::Incident(mut incident) => {
                if let Some(s) = incident.attach_stored.and_then(|i| self.stored.get(i as usize)) {
                    incident.evidence["stored"] = json!(s);
                }
                self.incidents.push(incident);
                return None;
            }
            Action::Health(h) => {
                self.health = h;
                return None;
            }
            Action::SleepUntil(_) => return None,
            other => panic!("an action the simulated shell does not know: {other:?}"),
        })
    }

    /// As `Client::descriptor_pinned` does: verify under the grants asked for.
    fn fetch_descriptor(
        &mut self,
        base: &str,
        grants: Vec<KeyGrant>,
    ) -> Result<Box<DescriptorFetched>, FetchFailure> {
        let url = format!("{base}/.well-known/portal-node");
        if self.down {
            return Err(transport(&url));
        }
        let mut trust = TrustStore::new();
        trust.set(self.log.origin.clone(), grants);
        let descriptor =
            envelope::open_as::<Descriptor>(&self.descriptor, &trust).map_err(|r| {
                FetchFailure::new(FailureReason::Rejected(r.clone()), &url, format!("{url}: {r}"))
            })?;
        let endpoints = self
            .endpoints_override
            .clone()
            .unwrap_or_else(|| Ok(endpoints_of(descriptor.record())));
        Ok(Box::new(DescriptorFetched { base: format!("{base}/"), descriptor, endpoints }))
    }

    fn fetch_roster(
        &mut self,
        url: &str,
        grants: Vec<KeyGrant>,
    ) -> Result<SignedRecord, FetchFailure> {
        let signed = self.sub_roster.clone().ok_or_else(|| transport(url))?;
        let mut trust = TrustStore::new();
        trust.set(self.log.origin.clone(), grants);
        envelope::open_as::<Roster>(&signed, &trust).map(|v| v.signed().clone()).map_err(|r| {
            FetchFailure::new(FailureReason::Rejected(r.clone()), url, format!("{url}: {r}"))
        })
    }

    /// As the member's `log` (or `national-log`) endpoint answers.
    fn page(
        &mut self,
        url: &str,
        after: u64,
        limit: u32,
        national: bool,
    ) -> Result<Page, FetchFailure> {
        if self.down {
            return Err(transport(url));
        }
        if let Some(f) = &self.fail_page {
            return Err(f.clone());
        }
        let size = self.log.len();
        let start = after.min(size);
        let end = (start + u64::from(limit)).min(size);
        let range = start as usize..end as usize;
        let members = national.then(|| self.paired[range.clone()].to_vec());
        let mut page = Page {
            origin: self.log.origin.clone(),
            start,
            size,
            entries: self.log.entries[range].to_vec(),
            checkpoint: self.note.clone(),
            members,
        };
        if let Some(hook) = &mut self.page_hook {
            hook(&mut page);
        }
        Ok(page)
    }

    /// As `Node::ingest` does: the batch must continue what is stored.
    fn ingest(&mut self, batch: Batch) -> Result<(), String> {
        if let Some(e) = self.fail_ingest.take() {
            return Err(e);
        }
        assert_eq!(batch.start, self.stored.len() as u64, "a batch continues the store");
        self.stored.extend(batch.entries.iter().cloned());
        self.stored_note = Some(batch.checkpoint.clone());
        self.cosigned = Some(batch.cosigned.clone());
        for r in &batch.relayed {
            let stored = self.relayed_stored.entry(r.member.clone()).or_default();
            assert_eq!(r.start, stored.len() as u64, "a relayed batch continues the store");
            stored.extend(r.entries.iter().cloned());
        }
        self.ingested.push(batch);
        Ok(())
    }

    /// The member publishes a checkpoint of its whole log, dated `T0 + time`, signed by `by`.
    pub(crate) fn sign(&mut self, time: u64, by: &Signer) {
        self.note = self.log.checkpoint(self.log.len(), time, by);
    }

    /// Store what the member has now as already followed (entries and checkpoint).
    pub(crate) fn store_all(&mut self) {
        self.stored = self.log.entries.clone();
        self.stored_note = Some(self.note.clone());
    }

    pub(crate) fn codes(&self) -> Vec<&str> {
        self.incidents.iter().map(|i| i.code.as_str()).collect()
    }
}

/// The deadline a round ended with.
pub(crate) fn sleep(actions: &[Action]) -> Duration {
    match actions.last() {
        Some(Action::SleepUntil(t)) => *t,
        other => panic!("a round ends with a sleep, not {other:?}"),
    }
}

/// How many actions match `pred`.
pub(crate) fn count(actions: &[Action], pred: impl Fn(&Action) -> bool) -> usize {
    actions.iter().filter(|a| pred(a)).count()
}

/// The log pages asked for, as `(after, national)`.
pub(crate) fn pages(actions: &[Action]) -> Vec<(u64, bool)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::FetchLogPage { after, national, .. } => Some((*after, *national)),
            _ => None,
        })
        .collect()
}

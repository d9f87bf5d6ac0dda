//! What the aggregator and its follow tasks share: the node, the member client (its fetches
//! restricted to the roster's origins), the signed roster, the sync slots, incident recording,
//! ingest notifications and the national search index.
//!
//! `aggregate.rs` changes the roster and starts one follow task per member; `shell.rs` runs a
//! task. Both go through this struct, so the shell needs nothing of `aggregate.rs` and the two
//! never import each other.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use portal_client::Client;
use portal_client::fetch::AllowedOrigins;
use portal_proto::envelope::Verified;
use portal_proto::ids::NodeId;
use portal_proto::record::{Member, Roster};
use portal_publisher::node::{Node, now};
use portal_store::federation::Incident;
use tokio::sync::{Semaphore, watch};

use crate::search::NationalSearch;

/// The aggregator's state, shared with every follow task.
pub(crate) struct Shared {
    pub(crate) node: Arc<Node>,
    /// Fetches members; its fetcher allows only `origins`.
    pub(crate) client: Client,
    /// The members' origins (the roster's URLs, and a candidate's during `member add`).
    pub(crate) origins: AllowedOrigins,
    pub(crate) roster: RwLock<Option<Verified<Roster>>>,
    /// Sync slots: at most `max_concurrent_syncs` members sync at once.
    pub(crate) permits: Arc<Semaphore>,
    incidents_by_code: Mutex<BTreeMap<String, u64>>,
    /// Wakes whoever waits for ingests (the national feeds' cache, tests' pollers).
    pub(crate) ingested: watch::Sender<u64>,
    /// National full-text search (`DATA/search/`), opened on first use.
    search: OnceLock<Option<Arc<NationalSearch>>>,
}

impl Shared {
    /// The state of `node`'s aggregator, fetching through `client` (which allows `origins`),
    /// with the roster it has stored.
    pub(crate) fn new(
        node: Arc<Node>,
        client: Client,
        origins: AllowedOrigins,
        roster: Option<Verified<Roster>>,
    ) -> Shared {
        let permits = Arc::new(Semaphore::new(node.config.aggregator.max_concurrent_syncs.max(1)));
        Shared {
            node,
            client,
            origins,
            roster: RwLock::new(roster),
            permits,
            incidents_by_code: Mutex::new(BTreeMap::new()),
            ingested: watch::Sender::new(0),
            search: OnceLock::new(),
        }
    }

    /// The roster's members (none without a roster).
    pub(crate) fn members(&self) -> Vec<Member> {
        self.roster
            .read()
            .ok()
            .and_then(|r| r.as_ref().map(|r| r.record().members.clone()))
            .unwrap_or_default()
    }

    /// One member's roster entry.
    pub(crate) fn member(&self, id: &NodeId) -> Option<Member> {
        self.members().into_iter().find(|m| &m.id == id)
    }

    /// The ids of every member, the nodes followed directly.
    pub(crate) fn direct(&self) -> BTreeSet<NodeId> {
        self.members().into_iter().map(|m| m.id).collect()
    }

    /// The national search index, opened on first use (`None` if it cannot be opened: the
    /// reason is logged and search answers 503 meanwhile).
    pub(crate) fn search(&self) -> Option<Arc<NationalSearch>> {
        self.search
            .get_or_init(|| {
                let dir = self.node.dir.root().join("search");
                match NationalSearch::open(&dir) {
                    Ok(index) => Some(Arc::new(index)),
                    Err(e) => {
                        tracing::error!("search: cannot open {}: {e}", dir.display());
                        None
                    }
                }
            })
            .clone()
    }

    /// Record an incident: stored, counted, logged.
    pub(crate) fn incident(
        &self,
        member: &NodeId,
        code: &str,
        message: String,
        evidence: serde_json::Value,
    ) {
        tracing::warn!(member = %member, code, "incident: {message}");
        if let Ok(mut c) = self.incidents_by_code.lock() {
            *c.entry(code.to_owned()).or_default() += 1;
        }
        let incident = Incident {
            seq: 0,
            member: member.to_string(),
            code: code.to_owned(),
            message,
            time: now().unix(),
            evidence,
        };
        if let Err(e) = self.node.store.add_incident(incident) {
            tracing::error!("storing an incident failed: {e}");
        }
    }

    /// Incidents recorded since start, by code.
    pub(crate) fn incident_counts(&self) -> BTreeMap<String, u64> {
        self.incidents_by_code.lock().map(|c| c.clone()).unwrap_or_default()
    }
}

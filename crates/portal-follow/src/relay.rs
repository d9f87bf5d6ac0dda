//! Relaying an aggregating member's records (SPEC.md §13, "Levels"): each member record its
//! national log pairs with a receipt must be the exact record the receipt names, signed by its
//! origin's key as the member's roster (verified with the member's key) lists it, and continue
//! what is stored of that origin, in order. Records of nodes this aggregator follows directly
//! (and its own) are never relayed.
//!
//! The entries are looked at in order; when one needs the member's roster or a relayed node's
//! stored size, the follower asks for it and looks at the same entry again with the answer.

use portal_proto::crypto::decode_base64_array;
use portal_proto::envelope::{self, KeyResolver as _, SignedRecord, TrustStore};
use portal_proto::ids::NodeId;
use portal_proto::record::{Receipt, Record};
use portal_proto::verifier::RosterTrust;
use serde_json::json;

use crate::event::{Action, FetchFailure, Relayed};
use crate::follower::{Failure, Flow, Follower, Relay, Step};

/// What looking at one entry needs next.
enum Progress {
    /// Done with it.
    Next,
    /// The member's roster does not (yet) list this origin: fetch it.
    Roster(NodeId),
    /// The stored size of this origin.
    Cursor(NodeId),
}

impl Follower {
    pub(crate) fn relay(&mut self, mut relay: Box<Relay>) -> Flow {
        while relay.position < relay.page.entries.len() {
            match self.relay_entry(&mut relay)? {
                Progress::Next => relay.position += 1,
                Progress::Roster(origin) => {
                    let member = self
                        .member
                        .as_ref()
                        .ok_or_else(|| Failure::Local(format!("{} left the roster", self.id)))?;
                    let grants = member.keys.clone();
                    let url = relay.roster_url.clone();
                    relay.roster_for = Some((origin, grants.clone()));
                    return self.ask(Action::FetchRoster { url, grants }, Step::Roster(relay));
                }
                Progress::Cursor(member) => {
                    return self.ask(Action::LoadCursor { member }, Step::Cursor(relay));
                }
            }
        }
        let mut out = std::mem::take(&mut relay.out);
        out.retain(|b| !b.entries.is_empty());
        self.finish(relay.page, out)
    }

    pub(crate) fn on_roster(
        &mut self,
        relay: Box<Relay>,
        fetched: Result<SignedRecord, FetchFailure>,
    ) -> Flow {
        let signed = fetched.map_err(|f| self.fetch_failed(f))?;
        let Some((origin, grants)) = relay.roster_for.clone() else {
            return Err(Failure::Local("a roster nobody asked for".into()));
        };
        let url = relay.roster_url.clone();
        let mut trust = TrustStore::new();
        trust.set(self.id.clone(), grants);
        let fresh = RosterTrust::open(&signed, &trust, self.sub_roster.as_ref()).map_err(|r| {
            self.reject(r.code(), format!("roster of {}: {r}", self.id), json!({"url": url}))
        })?;
        let lists = fresh.grants(&origin).is_some();
        self.sub_roster = Some(fresh);
        if !lists {
            let message =
                format!("{} relays records of {origin}, which its roster does not list", self.id);
            return Err(self.reject(
                "unknown-origin",
                message,
                json!({"url": url, "origin": origin}),
            ));
        }
        self.relay(relay)
    }

    pub(crate) fn on_cursor(
        &mut self,
        mut relay: Box<Relay>,
        member: NodeId,
        size: Result<u64, String>,
    ) -> Flow {
        let size = size.map_err(Failure::Local)?;
        relay.cursors.insert(member, size);
        self.relay(relay)
    }

    /// Look at the entry at `relay.position`.
    fn relay_entry(&mut self, relay: &mut Relay) -> Result<Progress, Failure> {
        let index = relay.page.start + relay.position as u64;
        let own = &relay.page.entries[relay.position];
        let paired = relay.page.members.as_ref().and_then(|m| m.get(relay.position));
        let Some(Some(member)) = paired else { return Ok(Progress::Next) };
        let (own, member) = (own.clone(), member.clone());
        let Ok(Record::Receipt(r)) = envelope::parse_record(own.bytes()) else {
            let message =
                format!("national log entry {index} pairs a member record with a non-receipt");
            return Err(self.reject("malformed", message, json!({"index": index, "entry": own})));
        };
        let evidence = json!({"index": index, "receipt": own, "member": member});
        if member.digest() != r.record {
            let message = format!(
                "national log entry {index}: the member record is not the one its receipt names"
            );
            return Err(self.reject("bad-signature", message, evidence));
        }
        if r.member == self.config.aggregator || self.direct.contains(&r.member) {
            // Followed directly (or ourselves): never relayed twice.
            return Ok(Progress::Next);
        }
        let opened = match &self.sub_roster {
            Some(trust) if trust.grants(&r.member).is_some() => envelope::open(&member, trust),
            _ => return Ok(Progress::Roster(r.member.clone())),
        };
        let opened = opened.map_err(|rejection| {
            let message = format!(
                "record {}#{} relayed by {}: {rejection}",
                r.member, r.member_index, self.id
            );
            self.reject(rejection.code(), message, evidence.clone())
        })?;
        let record = opened.record();
        if record.origin() != &r.member || record.log_index() != Some(r.member_index) {
            let message = format!(
                "national log entry {index}: the record is not {}#{}",
                r.member, r.member_index
            );
            return Err(self.reject("wrong-origin", message, evidence));
        }
        self.append(relay, index, &own, &r, member)
    }

    /// Add a verified relayed record to its origin's batch, which must continue what is
    /// stored of that origin.
    fn append(
        &mut self,
        relay: &mut Relay,
        index: u64,
        own: &SignedRecord,
        r: &Receipt,
        member: SignedRecord,
    ) -> Result<Progress, Failure> {
        let root = decode_base64_array::<32>(&r.checkpoint.root)
            .map_err(|e| Failure::Local(format!("receipt root: {e}")))?;
        let pos = match relay.out.iter().position(|b| b.member == r.member) {
            Some(p) => p,
            None => {
                let Some(&start) = relay.cursors.get(&r.member) else {
                    return Ok(Progress::Cursor(r.member.clone()));
                };
                let member = r.member.clone();
                let batch = Relayed { member, start, entries: Vec::new(), checkpoints: Vec::new() };
                relay.out.push(batch);
                relay.out.len() - 1
            }
        };
        let batch = &mut relay.out[pos];
        let expected = batch.start + batch.entries.len() as u64;
        if r.member_index < expected {
            return Ok(Progress::Next); // already stored (a replay through another path)
        }
        if r.member_index > expected {
            let message = format!(
                "{} relayed {}#{} but {expected} is next",
                self.id, r.member, r.member_index
            );
            return Err(self.reject("index-gap", message, json!({"index": index, "receipt": own})));
        }
        batch.entries.push(member);
        batch.checkpoints.push((r.checkpoint.size, root));
        Ok(Progress::Next)
    }
}

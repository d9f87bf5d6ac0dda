//! Verifying a fetched page with the follower's own [`LogVerifier`]: its origin, no shrinking,
//! every entry in order, then its checkpoint (with a consistency proof when it is ahead of the
//! entries). The rules themselves are `LogVerifier::check_page`, `push_many` and
//! `plan_checkpoint`, which `portal_client::Client::verify_page` (and so `portal verify`)
//! calls in the same order; here they become incidents, and the shell only fetches the proof.
//!
//! [`LogVerifier`]: portal_proto::verifier::LogVerifier

use std::time::Duration;

use portal_proto::Rejection;
use portal_proto::checkpoint::{self, Checkpoint, CheckpointError};
use portal_proto::crypto::{Signer, encode_base64};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::ids::NodeId;
use portal_proto::merkle::Hash;
use portal_proto::record::{KeyEvent, KeyEventKind, Record};
use portal_proto::verifier::{CheckpointPlan, PageMismatch, VerifiedCheckpoint, checkpoint_origin};
use serde_json::json;

use crate::event::{Action, Batch, Page, Relayed};
use crate::follower::{Failure, Flow, Follower, Pending, Relay, Step, timestamp};

/// This aggregator's witness cosignature on a member's verified checkpoint `note` (whose body
/// is `cp`), at `time` (Unix seconds): the note with the `cosignature/v1` line of `witness`'s
/// key name (`ipsp/1/<witness>`, SPEC.md §7) added. What the shell answers
/// [`Action::Cosign`] with.
pub fn cosign(
    note: &str,
    cp: &Checkpoint,
    witness: &NodeId,
    signer: &Signer,
    time: u64,
) -> Result<String, CheckpointError> {
    let line = checkpoint::cosign(cp, &checkpoint_origin(witness), signer, time)?;
    checkpoint::add_signature_line(note, &line)
}

impl Follower {
    pub(crate) fn verify_page(&mut self, now: Duration, page: Page) -> Flow {
        self.health.member_size = page.size;
        let log = self.endpoints.as_ref().map_or_else(String::new, |k| k.endpoints.log.clone());
        let start = self.verifier.next_index();
        match self.verifier.check_page(&page.origin, page.size) {
            Ok(()) => {}
            Err(PageMismatch::WrongOrigin { got }) => {
                let message = format!("the log at {log} is of {got}");
                return Err(self.reject("wrong-origin", message, json!({"url": log})));
            }
            Err(PageMismatch::Shrunk { verified, served }) => {
                let evidence = json!({"url": log, "stored": verified, "served": served,
                                      "checkpoint": page.checkpoint});
                let message = format!(
                    "the log shrank: {verified} entries verified, the member now has {served}"
                );
                return Err(self.reject("rollback", message, evidence));
            }
        }
        let more = page.start + (page.entries.len() as u64) < page.size;
        // From here on the verifier moves past what is stored: a failure rebuilds it.
        self.restore = true;
        let refs: Vec<&SignedRecord> = page.entries.iter().collect();
        let threads = self.config.verify_threads.max(1);
        let (_, rejected) = self.verifier.push_many(&refs, threads);
        if let Some((position, rejection)) = rejected {
            let index = page.start + position as u64;
            return Err(self.entry_rejected(index, &page.entries[position], &rejection));
        }
        let pending = Pending {
            start,
            more,
            entries: page.entries,
            members: page.members,
            note: page.checkpoint,
            previous: self.verifier.latest_checkpoint().map(|c| c.note.clone()),
            checkpoint: None,
            cosigned: String::new(),
        };
        self.check_checkpoint(now, pending)
    }

    /// The checkpoint's next step is [`LogVerifier::plan_checkpoint`]'s: accepted as it is,
    /// pushed, or first a consistency proof.
    fn check_checkpoint(&mut self, now: Duration, pending: Pending) -> Flow {
        match self.verifier.plan_checkpoint(&pending.note) {
            Ok(CheckpointPlan::Accepted(latest)) => self.checkpoint_accepted(now, pending, latest),
            Ok(CheckpointPlan::Push) => self.push_checkpoint(now, pending, None),
            Ok(CheckpointPlan::Proof { from, to }) => {
                let url = self
                    .endpoints
                    .as_ref()
                    .map_or_else(String::new, |k| k.endpoints.consistency.clone());
                let action = Action::FetchConsistencyProof { url, from, to };
                self.ask(action, Step::Proof(Box::new(pending)))
            }
            Err(rejection) => {
                let (note, previous) = (&pending.note, pending.previous.as_deref());
                Err(self.checkpoint_rejected(&rejection, note, previous, None))
            }
        }
    }

    pub(crate) fn push_checkpoint(
        &mut self,
        now: Duration,
        pending: Pending,
        proof: Option<Vec<Hash>>,
    ) -> Flow {
        match self.verifier.push_checkpoint(&pending.note, timestamp(now), proof.as_deref()) {
            Ok(cp) => self.checkpoint_accepted(now, pending, cp),
            Err(rejection) => {
                let (note, previous) = (&pending.note, pending.previous.as_deref());
                Err(self.checkpoint_rejected(&rejection, note, previous, proof.as_deref()))
            }
        }
    }

    fn checkpoint_accepted(
        &mut self,
        now: Duration,
        mut pending: Pending,
        cp: VerifiedCheckpoint,
    ) -> Flow {
        self.check_silence(now, cp.checkpoint.time());
        let action = Action::Cosign { note: cp.note.clone(), checkpoint: cp.checkpoint.clone() };
        pending.checkpoint = Some(cp);
        self.ask(action, Step::Cosign(Box::new(pending)))
    }

    pub(crate) fn cosigned(&mut self, mut pending: Pending, cosigned: String) -> Flow {
        pending.cosigned = cosigned;
        let roster_url = self.endpoints.as_ref().and_then(|k| k.endpoints.national.as_ref());
        match (roster_url.map(|n| n.roster.clone()), pending.members.is_some()) {
            (Some(roster_url), true) => {
                let relay = Relay {
                    page: pending,
                    roster_url,
                    position: 0,
                    out: Vec::new(),
                    cursors: Default::default(),
                    roster_for: None,
                };
                self.relay(Box::new(relay))
            }
            _ => self.finish(pending, Vec::new()),
        }
    }

    /// Store the checkpoint (no new entries) or ingest the entries with the relayed ones.
    pub(crate) fn finish(&mut self, pending: Pending, relayed: Vec<Relayed>) -> Flow {
        let Some(cp) = pending.checkpoint else {
            return Err(Failure::Local("no accepted checkpoint".into()));
        };
        if pending.entries.is_empty() {
            let action = Action::StoreCheckpoint {
                start: pending.start,
                note: cp.note,
                cosigned: pending.cosigned,
            };
            return self.ask(action, Step::StoreCheckpoint { more: pending.more });
        }
        let batch = Batch {
            member: self.id.clone(),
            start: pending.start,
            entries: pending.entries,
            checkpoint: cp.note,
            cosigned: pending.cosigned,
            size: cp.checkpoint.size,
            root: cp.checkpoint.root,
            relayed,
        };
        let revocations = retroactive_revocations(&batch);
        let step = Step::Ingest { more: pending.more, revocations };
        self.ask(Action::Ingest(Box::new(batch)), step)
    }

    /// An entry failed verification: record it with its evidence (for a fork or a replay, the
    /// shell adds the record stored at the contested index).
    fn entry_rejected(
        &mut self,
        index: u64,
        signed: &SignedRecord,
        rejection: &Rejection,
    ) -> Failure {
        let evidence = json!({"index": index, "envelope": signed});
        let attach = match rejection {
            Rejection::Fork { index } | Rejection::Replay { index } => Some(*index),
            _ => None,
        };
        let message = format!("log entry {index}: {rejection}");
        self.reject_with(rejection.code(), message, evidence, attach)
    }

    /// A refused checkpoint, with the refused note, the previous one and the proof checked.
    fn checkpoint_rejected(
        &mut self,
        rejection: &Rejection,
        note: &str,
        previous: Option<&str>,
        proof: Option<&[Hash]>,
    ) -> Failure {
        let message = if matches!(rejection, Rejection::InconsistentCheckpoint(_)) {
            format!("equivocation: {rejection}")
        } else {
            format!("checkpoint: {rejection}")
        };
        let proof: Option<Vec<String>> =
            proof.map(|p| p.iter().map(|h| encode_base64(h)).collect());
        let evidence = json!({"note": note, "previous": previous, "proof": proof});
        self.reject(rejection.code(), message, evidence)
    }
}

/// The revocations in `batch` (its member's entries and relayed ones) that reach back before
/// their own key event: what was accepted from `from_index` on must be looked at again.
pub(crate) fn retroactive_revocations(batch: &Batch) -> Vec<(NodeId, KeyEvent)> {
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

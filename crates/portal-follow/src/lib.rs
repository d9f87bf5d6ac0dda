//! The sans-IO follower: one state machine per federation member, holding every rule an
//! aggregator applies to the member it follows (SPEC.md §4.5, §4.6, §7, §11.2, §13), for the
//! aggregator's async shell to drive.
//!
//! A [`Follower`] owns the member's [`LogVerifier`] (a field, never lent out), its endpoints,
//! health and incident state. The shell feeds it [`Event`]s with the time
//! ([`Follower::handle`]) and performs the [`Action`]s it hands back
//! ([`Follower::poll_action`]): fetch the descriptor, a log page, a consistency proof or a
//! roster; read or write the store; cosign; record an incident; sleep. What the follower
//! decides itself:
//!
//! - **verification**: every entry through the `LogVerifier` (signature, origin, index
//!   continuity, version chain, key events), then the page's checkpoint (freshness,
//!   consistency with every checkpoint accepted before, a consistency proof when it is ahead
//!   of the entries); an aggregating member's relayed records against its roster;
//! - **witnessing**: a checkpoint is cosigned only once it was accepted;
//! - **incidents**: every refusal with its SPEC.md §11.3 code and evidence, once per code per
//!   failing episode; `unreachable` after `unreachable_after_seconds` of failures to answer;
//!   `silent` when the newest checkpoint is older than twice the declared heartbeat (at least
//!   60 s); `revoked-key` when a retroactive revocation invalidates stored records;
//! - **timing**: the jittered poll interval (±20 %), the exponential backoff after errors (from
//!   an eighth of the poll interval, at least 0.5 s, doubled per failure, capped at
//!   `max_backoff_seconds`), descriptor refreshes every 600 s, WebSub lease renewals.
//!
//! # Time
//! `now` is the wall-clock time as a [`Duration`](std::time::Duration) since the Unix epoch
//! (what `SystemTime::now().duration_since(UNIX_EPOCH)` gives): the rules compare it with
//! signed checkpoint times, and health shows Unix seconds. [`Action::SleepUntil`] names an
//! instant on that clock; the shell sleeps the difference with a monotonic timer and then
//! feeds [`Event::Tick`], which the follower takes as "the sleep is over" whatever the wall
//! clock says, so a clock jump never stalls it.
//!
//! # Architecture invariant
//! No I/O: this crate never opens a socket or a file, never reads the clock, never draws a
//! random number (the shell seeds the jitter, [`Jitter`]) and never spawns (except the scoped
//! threads of `LogVerifier::push_many`, as configured). It depends on portal-proto and
//! serialisation crates only.
//!
//! # Example: one round against a member with an empty log
//! ```
//! use std::collections::BTreeSet;
//! use std::time::Duration;
//! use portal_follow::{Action, Event, FollowConfig, Follower, Jitter, Stored};
//! use portal_proto::crypto::Signer;
//! use portal_proto::ids::NodeId;
//! use portal_proto::record::{KeyGrant, Member, MemberStatus};
//!
//! let key = Signer::from_seed([1; 32]);
//! let member = Member {
//!     id: NodeId::new("bo-y-te").unwrap(),
//!     url: "https://moh.example.gov.vn".into(),
//!     name: Default::default(),
//!     status: MemberStatus::Active,
//!     keys: vec![KeyGrant::pinned(key.public_key())],
//! };
//! let config = FollowConfig::new(NodeId::new("chinh-phu").unwrap());
//! let mut follower = Follower::new(config, member, BTreeSet::new(), Jitter::Fixed(0.5));
//! let now = Duration::from_secs(1_795_856_400);
//! assert_eq!(follower.poll_action(), Some(Action::SleepUntil(Duration::ZERO)));
//! follower.handle(now, Event::Tick).unwrap();
//! // The first round rebuilds the verifier from the store.
//! assert!(matches!(follower.poll_action(), Some(Action::Health(_))));
//! assert_eq!(follower.poll_action(), Some(Action::LoadStored { from: 0, limit: 1000 }));
//! let stored = Stored { size: 0, checkpoint: None, entries: vec![] };
//! follower.handle(now, Event::Stored(Ok(stored))).unwrap();
//! assert!(matches!(follower.poll_action(), Some(Action::FetchDescriptor { .. })));
//! ```
//!
//! `SHELL.md` next to this crate's manifest says how the aggregator's async shell performs
//! each action.
//!
//! [`LogVerifier`]: portal_proto::verifier::LogVerifier
#![deny(missing_docs)]

mod config;
mod event;
mod follower;
mod page;
mod relay;

pub use config::{
    DESCRIPTOR_TTL_SECONDS, FollowConfig, Jitter, MAX_DOUBLINGS, MIN_RETRY, PUSH_LEASE_SECONDS,
    PUSH_RENEW_SECONDS, SILENCE_FLOOR_SECONDS, STORED_CHUNK,
};
pub use event::{
    Action, Batch, DescriptorFetched, Endpoints, Event, FailureReason, FetchFailure, Health,
    Incident, NationalEndpoints, Page, Relayed, Stored,
};
pub use follower::{Follower, HandleError};
pub use page::cosign;

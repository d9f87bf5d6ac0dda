//! The aggregator's room: a node with members (the central node) follows them, verifies every
//! entry and checkpoint, witnesses, records incidents, and serves the national view — the
//! roster, the national log and feeds, search, the members' health and mirrors of their logs.
//!
//! [`National`] is the room. It holds an [`Aggregator`] only once the node has a roster: a
//! node that never had members builds none, and its national routes answer
//! `404 not-an-aggregator`. The first `member add` builds one.
#![deny(missing_docs)]

pub mod aggregate;
mod bundle;
mod mirror;
mod national;
mod room;
pub mod search;
mod shared;
mod shell;
pub mod view;

pub use aggregate::{Aggregator, MemberError, MemberView};
pub use national::routes;
pub use room::National;

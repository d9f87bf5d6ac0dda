//! The HTTP interface's JSON bodies (SPEC.md §8): one serde type per body, written once for
//! the node that serves it, the client and `portal verify` that read it, and the bench that
//! fakes it. No I/O: these are shapes, paths and codes, not handlers.
//!
//! - [`paths`]: every path a node serves and the descriptor's endpoint table;
//! - [`log`]: log pages (`log`, `member-log`, WebSub deliveries), national log pages, proofs;
//! - [`items`]: an item's history, a national item, what a publish or an upload returns;
//! - [`federation`]: members and their sync health, incidents, the node's `/healthz`;
//! - [`error`]: the one error body, its stable codes and their HTTP statuses;
//! - [`draft`]: what an editor submits, parsed so that a 400 names every bad field.
//!
//! # Wire invariant
//! Serialising a body gives the bytes a node has always sent for the same data: the JSON
//! Schemas in `proto-spec/schemas/` and the examples in `proto-spec/examples/` are that
//! contract, and the tests compare against them byte for byte. Fields are declared in the
//! order they are written. The node built most bodies as a `serde_json::Value`, whose objects
//! keep their keys sorted, so those types declare their fields alphabetically; [`Published`]
//! keeps the order of the struct it came from (`id`, `version`, `log_index`). Optional members
//! are omitted when absent, except where a body has always carried `null` (the sync health of a
//! member not being followed, its `last_error`, `/healthz`'s `signing_refused`). The format
//! changes only by additions.
//!
//! Every body refuses unknown members when read (`deny_unknown_fields`), as the client always
//! did for log pages, proofs and item documents (the one exception is an error's `fields`
//! entry, [`record::FieldError`](crate::record::FieldError), shared with the record checks).
//! Request bodies live beside the answers: [`draft`] for the editor API,
//! [`federation::AddMember`] for the operators'.
//!
//! [`Published`]: items::Published

pub mod draft;
pub mod error;
pub mod federation;
pub mod items;
pub mod log;
pub mod paths;

pub use error::{ApiError, ErrorBody, ErrorCode};

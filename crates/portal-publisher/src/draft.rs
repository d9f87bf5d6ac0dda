//! What an editor submits (`POST /api/v1/items`, `portal publish`), and how it becomes a
//! record: the protocol's draft types (`portal_proto::api::draft`), which name every bad field
//! of a submission and sanitise its HTML before signing, so that what is signed is exactly
//! what is shown.

pub use portal_proto::api::draft::{CleanDraft, Draft, DraftUpdate, WithdrawRequest};

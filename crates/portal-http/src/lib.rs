//! HTTP plumbing shared by the node's rooms (publisher, hub, aggregator, web portal): the one
//! API error ([`ApiError`]), resources rendered once and served many times with strong ETags
//! and gzip ([`Rendered`], [`conditional`]), and the editors' bearer tokens ([`Tokens`]).
//!
//! It knows nothing of the store, the sequencer or the aggregator: rooms depend on it, never
//! the other way round.
#![deny(missing_docs)]

mod error;
mod render;
mod tokens;

pub use error::{ApiError, ApiResult};
pub use render::{IMMUTABLE, RenderCache, Rendered, SHORT, conditional, http_date, render};
pub use tokens::Tokens;

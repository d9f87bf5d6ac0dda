//! End-to-end tests: the protocol contract in `proto-spec/` against the code, and (as the
//! node and aggregator land) whole federations over 127.0.0.1.

mod boundaries;
mod conformance;
mod crash;
mod examples;
mod federation;
mod feed_readers;
mod fixtures;
mod node;
mod spec;
mod vectors;
mod verify;
mod websub;

//! A third party verifies a ministry's feed offline, trusting only the ministry's public key.
//!
//! ```sh
//! cargo run -p portal-examples --example verify_feed -- FEED_FILE ORIGIN=PUBLIC_KEY_BASE64
//! # e.g. with a feed from the committed test vectors (the `input` of a feed vector):
//! python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["input"], end="")' \
//!     proto-spec/vectors/feeds/valid/atom-latest.json > /tmp/feed.xml
//! cargo run -p portal-examples --example verify_feed -- /tmp/feed.xml \
//!     bo-y-te=0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=
//! ```
//!
//! It prints one line per entry and exits 0 only if every entry verified: the signature is the
//! ministry's, the bytes are canonical and well-formed, and what a feed reader sees (title,
//! dates, summary, content, categories) is what the ministry signed.

use std::process::ExitCode;

use portal_proto::crypto::PublicKey;
use portal_proto::envelope::TrustStore;
use portal_proto::feed;
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Record};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(path), trust_args) = (args.first(), args.get(1..).unwrap_or_default()) else {
        eprintln!("usage: verify_feed FEED_FILE ORIGIN=PUBLIC_KEY_BASE64 [ORIGIN=KEY ...]");
        return ExitCode::from(2);
    };
    let mut trust = TrustStore::new();
    for arg in trust_args {
        let parsed = arg.split_once('=').ok_or("expected ORIGIN=KEY").and_then(|(origin, key)| {
            let origin = NodeId::new(origin).map_err(|_| "bad origin")?;
            let key = PublicKey::from_base64(key).map_err(|_| "bad Ed25519 public key")?;
            Ok((origin, key))
        });
        match parsed {
            Ok((origin, key)) => trust.add(origin, KeyGrant::pinned(key)),
            Err(e) => {
                eprintln!("{arg}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("cannot read {path}: {e}");
            return ExitCode::from(2);
        }
    };
    // Atom starts with '<' (after optional whitespace); anything else is tried as JSON Feed.
    let is_xml = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'<');
    let decoded = if is_xml { feed::decode_atom(&bytes) } else { feed::decode_json(&bytes) };
    let decoded = match decoded {
        Ok(f) => f,
        Err(e) => {
            println!("REJECTED  {path}: {} ({e})", e.code());
            return ExitCode::from(1);
        }
    };
    let mut failed = 0;
    for (entry, result) in decoded.entries.iter().zip(feed::verify_entries(&decoded, &trust)) {
        match result {
            Ok(v) => match v.record() {
                Record::Item(i) => {
                    println!(
                        "ok        {} v{} {:?} (key {})",
                        i.id,
                        i.version,
                        i.title,
                        v.signed().kid()
                    )
                }
                Record::Withdrawal(w) => {
                    println!("ok        {} {} {:?}", w.id, w.state.as_str(), w.explanation)
                }
                other => println!("ok        {:?}", other.record_type()),
            },
            Err(e) => {
                failed += 1;
                println!(
                    "REJECTED  entry signed by key {}: {} ({e})",
                    entry.signed.kid(),
                    e.code()
                );
            }
        }
    }
    println!("{} entries, {failed} rejected", decoded.entries.len());
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

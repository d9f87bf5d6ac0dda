//! A third-party consumer of the national feed: follows a central node's
//! `/feeds/national/json`, verifies every entry against the **ministries' own keys** (never
//! the central's), prints each new entry once, and polls with conditional GET (`ETag` →
//! `If-None-Match`, so an unchanged feed costs a `304` and no body).
//!
//! ```sh
//! cargo run -p portal-examples --example follow_national -- https://portal.gov.vn \
//!     --trust bo-y-te=<ministry key, base64> --trust bo-tai-chinh=<key> [--interval 60]
//! # --once: one poll, then exit (0 if everything verified, 1 if something was rejected)
//! # --polls N: N polls, then exit; --allow-private: a central on this machine (demos, tests)
//! ```
//!
//! Without `--trust`, the ministries' keys are read from the central's signed roster, itself
//! checked against the central's own descriptor (trust on first use): the example says so,
//! because that trusts the central for the keys. Everything goes through `portal-client`'s
//! `Fetcher` (public addresses only unless `--allow-private`, timeouts, size caps).

use std::collections::BTreeSet;
use std::process::ExitCode;
use std::time::Duration;

use portal_client::client::{descriptor_url, endpoint};
use portal_client::verify::{FeedFormat, Trust, VerifiedFeed};
use portal_client::{Client, FetchPolicy, Fetcher, Url};
use portal_proto::crypto::PublicKey;
use portal_proto::feed::Visible;
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Record};
use portal_proto::verifier::RosterTrust;

struct Args {
    central: Url,
    trust: Trust,
    allow_private: bool,
    polls: Option<u64>,
    interval: Duration,
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("{problem}");
    eprintln!(
        "usage: follow_national CENTRAL_URL [--trust ORIGIN=KEY]... [--interval SECONDS] \
         [--once | --polls N] [--allow-private]"
    );
    ExitCode::from(2)
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mut central = None;
    let mut args = Args {
        central: Url::parse("http://invalid.").map_err(|e| e.to_string())?,
        trust: Trust::default(),
        allow_private: false,
        polls: None,
        interval: Duration::from_secs(60),
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--trust" => {
                let v = value("--trust")?;
                let (origin, key) = v.split_once('=').ok_or(format!("--trust {v}: ORIGIN=KEY"))?;
                let origin = NodeId::new(origin).map_err(|e| format!("--trust {v}: {e}"))?;
                let key = PublicKey::from_base64(key).map_err(|e| format!("--trust {v}: {e}"))?;
                args.trust.by_origin.add(origin, KeyGrant::pinned(key));
            }
            "--interval" => {
                let v = value("--interval")?;
                let secs: f64 = v.parse().map_err(|_| format!("--interval {v}: seconds"))?;
                args.interval = Duration::from_secs_f64(secs.max(0.0));
            }
            "--polls" => {
                let v = value("--polls")?;
                args.polls = Some(v.parse().map_err(|_| format!("--polls {v}: a number"))?);
            }
            "--once" => args.polls = Some(1),
            "--allow-private" => args.allow_private = true,
            url if central.is_none() && !url.starts_with("--") => {
                central = Some(Url::parse(url).map_err(|e| format!("{url}: {e}"))?);
            }
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    args.central = central.ok_or("the central node's URL is missing")?;
    Ok(args)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut args = match parse_args() {
        Ok(a) => a,
        Err(e) => return usage(&e),
    };
    let policy = FetchPolicy { allow_private: args.allow_private, ..FetchPolicy::default() };
    let client = match Fetcher::new(policy) {
        Ok(f) => Client::new(f),
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(3);
        }
    };
    let descriptor = match client.descriptor(&args.central).await {
        Ok(d) => d,
        Err(e) => {
            eprintln!("the central's descriptor: {e}");
            return ExitCode::from(3);
        }
    };
    let feed_url = match endpoint(descriptor.record(), "national-json-feed") {
        Ok(u) => u,
        Err(e) => {
            eprintln!("{} is not an aggregator: {e}", args.central);
            return ExitCode::from(2);
        }
    };
    if args.trust.is_empty() {
        // Keys from the roster, checked under the central's own descriptor: trust on first use.
        let central = descriptor.record();
        let mut own = portal_proto::envelope::TrustStore::new();
        own.set(central.origin.clone(), central.keys.clone());
        let roster = match endpoint(central, "roster") {
            Ok(url) => client.roster(&url, &own).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match roster
            .and_then(|r| RosterTrust::open(r.signed(), &own, None).map_err(|e| e.to_string()))
        {
            Ok(roster) => {
                for m in &roster.roster().record().members {
                    args.trust.by_origin.set(m.id.clone(), m.keys.clone());
                }
                println!(
                    "warning: no --trust given: the ministries' keys come from the central's roster \
                     ({}), i.e. the central is trusted for them",
                    descriptor_url(&args.central)
                );
            }
            Err(e) => {
                eprintln!("the central's roster: {e}");
                return ExitCode::from(3);
            }
        }
    }
    println!("following {feed_url}");

    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut etag: Option<String> = None;
    let mut rejected = 0u64;
    let mut poll = 0u64;
    loop {
        poll += 1;
        match client.fetcher().get_conditional(&feed_url, etag.as_deref()).await {
            Ok(None) => println!("poll {poll}: not modified (304)"),
            Ok(Some(fetched)) => {
                etag = fetched.etag.clone();
                match VerifiedFeed::from_bytes(
                    fetched.url,
                    FeedFormat::Json,
                    &fetched.body,
                    &args.trust,
                ) {
                    Ok(feed) => {
                        let mut new = 0;
                        // Oldest first, as they happened.
                        for (entry, result) in feed.feed.entries.iter().zip(&feed.entries).rev() {
                            let key = entry.signed.digest().to_string();
                            if !seen.insert(key) {
                                continue;
                            }
                            new += 1;
                            match result {
                                Ok(v) => println!("NEW {}", describe(v.record())),
                                Err(r) => {
                                    rejected += 1;
                                    let shown = match &entry.visible {
                                        Visible::Entry { title, .. } => title.clone(),
                                        Visible::Tombstone { id, .. } => id.clone(),
                                    };
                                    println!("REJECTED {}: {shown:?}: {r}", r.code());
                                }
                            }
                        }
                        println!("poll {poll}: {new} new entries");
                    }
                    Err(r) => {
                        rejected += 1;
                        println!("REJECTED {}: the feed: {r}", r.code());
                    }
                }
            }
            Err(e) => eprintln!("poll {poll}: {e} (will retry)"),
        }
        if args.polls.is_some_and(|n| poll >= n) {
            break;
        }
        tokio::time::sleep(args.interval).await;
    }
    if rejected > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}

fn describe(record: &Record) -> String {
    match record {
        Record::Item(i) => {
            format!(
                "{} item {} v{}: {} (signed by {})",
                i.origin, i.id, i.version, i.title, i.origin
            )
        }
        Record::Withdrawal(w) => format!("{} withdrawal of {}: {}", w.origin, w.id, w.explanation),
        other => format!("{} {}", other.origin(), other.record_type()),
    }
}

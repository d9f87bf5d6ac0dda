//! `portal bundle ITEM_URL [-o FILE]`: fetch an item's evidence bundle (SPEC.md §11.4) from a
//! node or the central node, check that it verifies, and write it; and [`verify_bundle`], the
//! offline check `portal verify` runs on a bundle file.
//!
//! Exit codes (shared with `portal verify`): 0 verified, 1 rejected (a §11.3 code is named),
//! 2 usage error or unrecognised input, 3 input could not be fetched or read.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use portal_client::{FetchPolicy, Fetcher, Url};
use portal_proto::Rejection;
use portal_proto::bundle::{BUNDLE_TYPE, Bundle, BundleReport, MAX_BUNDLE_BYTES, TrustBasis};
use portal_proto::crypto::PublicKey;
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Record};
use portal_proto::time::Timestamp;
use portal_proto::verifier::RosterTrust;
use serde_json::{Value, json};

const VERIFIED: u8 = 0;
const REJECTED: u8 = 1;
const USAGE: u8 = 2;
const UNREADABLE: u8 = 3;

/// Arguments of `portal bundle`.
#[derive(clap::Args, Debug)]
pub(crate) struct BundleArgs {
    /// The item: a node's page `…/items/ID`, its `…/api/v1/items/ID`, or the central node's
    /// `…/api/v1/national/items/ID?member=NODE`.
    item_url: String,
    /// Write the bundle to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    /// Keys to check the bundle against before writing it (as for `portal verify`); without
    /// any, it is checked against the key history it carries.
    #[arg(long, value_name = "KEY|ORIGIN=KEY|ROSTER")]
    trust: Vec<String>,
    /// Allow loopback and private addresses (loopback deployments and tests only).
    #[arg(long)]
    allow_private: bool,
}

/// A trust value that could not be used.
enum TrustError {
    /// Not a key, not `ORIGIN=KEY`, not a roster: exit 2.
    Usage(String),
    /// A roster file that could not be read: exit 3.
    Unreadable(String),
}

impl TrustError {
    /// Say what is wrong and end with its exit code.
    fn exit(self) -> ExitCode {
        let (message, code) = match self {
            TrustError::Usage(m) => (m, USAGE),
            TrustError::Unreadable(m) => (m, UNREADABLE),
        };
        eprintln!("error: {message}");
        ExitCode::from(code)
    }
}

/// The trust store for a bundle of `origin` from `--trust` values: a bare key is trusted for
/// the bundle's origin; `ORIGIN=KEY` for that origin; a roster file for its members' keys
/// (its signature is checked when a key of the roster's signer is also given).
fn trust_store(
    values: &[String],
    origin: &NodeId,
) -> Result<(TrustStore, Vec<String>), TrustError> {
    let mut store = TrustStore::new();
    let mut notes = Vec::new();
    let mut rosters = Vec::new();
    for v in values {
        let key = |s: &str| {
            PublicKey::from_base64(s.trim()).map_err(|e| {
                TrustError::Usage(format!("--trust {v}: not an Ed25519 public key: {e}"))
            })
        };
        // A bare key first: base64 padding is also an `=`.
        if let Ok(k) = PublicKey::from_base64(v.trim()) {
            store.add(origin.clone(), KeyGrant::pinned(k));
        } else if let Some((o, k)) = v.split_once('=')
            && let Ok(o) = NodeId::new(o)
            && !std::path::Path::new(v).exists()
        {
            store.add(o, KeyGrant::pinned(key(k)?));
        } else if v.starts_with("http://") || v.starts_with("https://") {
            return Err(TrustError::Usage(format!(
                "--trust {v}: bundles verify offline; save the roster and give its path"
            )));
        } else if std::path::Path::new(v).exists() {
            rosters.push(v.clone());
        } else {
            return Err(TrustError::Usage(format!(
                "--trust {v}: not a base64 key, ORIGIN=KEY, or the path of a roster file"
            )));
        }
    }
    for path in rosters {
        let bytes = std::fs::read(&path)
            .map_err(|e| TrustError::Unreadable(format!("--trust {path}: {e}")))?;
        let signed = SignedRecord::from_json(&bytes)
            .map_err(|e| TrustError::Usage(format!("--trust {path}: not a signed roster: {e}")))?;
        let record = envelope::parse_record(signed.bytes())
            .map_err(|e| TrustError::Usage(format!("--trust {path}: not a signed roster: {e}")))?;
        let Record::Roster(roster) = record else {
            return Err(TrustError::Usage(format!(
                "--trust {path}: a {}, not a roster",
                record.record_type()
            )));
        };
        use portal_proto::envelope::KeyResolver as _;
        if store.grants(&roster.origin).is_some() {
            let opened = RosterTrust::open(&signed, &store, None).map_err(|e| {
                TrustError::Usage(format!(
                    "--trust {path}: the roster does not verify: [{}] {e}",
                    e.code()
                ))
            })?;
            for m in &opened.roster().record().members {
                store.set(m.id.clone(), m.keys.clone());
            }
        } else {
            notes.push(format!(
                "the roster {path} is trusted as given: no key of its signer {} was given to check its signature",
                roster.origin
            ));
            for m in &roster.members {
                store.set(m.id.clone(), m.keys.clone());
            }
        }
    }
    Ok((store, notes))
}

/// Verify an evidence bundle offline against `trust` (SPEC.md §11.4) and print the result
/// (human text, or JSON with `json`). Exit 0 verified, 1 rejected, 2 not a bundle or a bad
/// `--trust`, 3 a roster file that cannot be read.
pub(crate) fn verify_bundle(bytes: &[u8], trust: &[String], json: bool) -> ExitCode {
    let is_bundle = serde_json::from_slice::<Value>(bytes)
        .ok()
        .and_then(|v| v.get("type").and_then(Value::as_str).map(|t| t == BUNDLE_TYPE))
        .unwrap_or(false);
    if !is_bundle {
        eprintln!("error: not an evidence bundle (a JSON object with \"type\": \"{BUNDLE_TYPE}\")");
        return ExitCode::from(USAGE);
    }
    let bundle = match Bundle::from_slice(bytes) {
        Ok(b) => b,
        Err(e) => return rejected(&e, None, json),
    };
    let (store, notes) = match trust_store(trust, &bundle.origin) {
        Ok(s) => s,
        Err(e) => return e.exit(),
    };
    for n in &notes {
        eprintln!("note: {n}");
    }
    match bundle.verify(&store) {
        Ok(report) => {
            if json {
                println!("{}", report_json(&report, &notes));
            } else {
                print!("{}", report_text(&report));
            }
            ExitCode::from(VERIFIED)
        }
        Err(e) => rejected(&e, Some(&bundle), json),
    }
}

fn rejected(e: &Rejection, bundle: Option<&Bundle>, json: bool) -> ExitCode {
    if json {
        let mut out = json!({"result": "rejected", "code": e.code(), "message": e.to_string()});
        if let Some(b) = bundle {
            out["origin"] = json!(b.origin);
            out["item"] = json!(b.item);
        }
        println!("{out}");
    } else {
        match bundle {
            Some(b) => println!(
                "REJECTED [{}] evidence bundle for item {} of {}: {e}",
                e.code(),
                b.item,
                b.origin
            ),
            None => println!("REJECTED [{}] {e}", e.code()),
        }
    }
    ExitCode::from(REJECTED)
}

fn basis_name(b: TrustBasis) -> &'static str {
    match b {
        TrustBasis::Trusted => "trusted",
        TrustBasis::TrustedWitness => "trusted-witness",
        _ => "self-certified",
    }
}

fn describe(r: &Record) -> (String, &'static str, Option<u64>) {
    match r {
        Record::Item(i) => (format!("version {}", i.version), "item", Some(i.version)),
        Record::Withdrawal(w) => (format!("withdrawal ({})", w.state.as_str()), "withdrawal", None),
        other => (other.record_type().to_string(), "other", None),
    }
}

fn report_text(r: &BundleReport) -> String {
    let mut out = format!("VERIFIED evidence bundle for item {} of {}\n", r.item, r.origin);
    for e in &r.entries {
        let (what, _, _) = describe(e.record.record());
        out.push_str(&format!(
            "  {what}: log index {}, signed by key {}\n",
            e.index,
            e.record.signed().kid()
        ));
    }
    out.push_str(&format!(
        "  included in the checkpoint of size {} ({}) signed by {}\n",
        r.checkpoint.size, r.checkpoint_time, r.origin
    ));
    match &r.witness {
        Some(w) => out.push_str(&format!(
            "  cosigned by witness {} at {}{}\n",
            w.origin,
            Timestamp::from_unix(w.time).map_or_else(|| w.time.to_string(), |t| t.to_string()),
            if w.basis == TrustBasis::Trusted {
                ""
            } else {
                " (its key came from its own descriptor in the bundle: not trusted)"
            }
        )),
        None => {
            out.push_str("  no witness cosignature: the checkpoint is signed by the origin only\n")
        }
    }
    if r.key_events > 0 {
        out.push_str(&format!("  key history: {} key event(s) checked\n", r.key_events));
    }
    let kids: Vec<String> = r.grants.iter().map(|g| g.kid.to_string()).collect();
    match r.basis {
        TrustBasis::Trusted => out.push_str(&format!(
            "  keys of {}: trusted (--trust): {}\n",
            r.origin,
            kids.join(", ")
        )),
        TrustBasis::TrustedWitness => out.push_str(&format!(
            "  keys of {}: {} from the roster of the trusted witness\n",
            r.origin,
            kids.join(", ")
        )),
        _ => out.push_str(&format!(
            "WARNING: NO TRUSTED KEY. This bundle was checked only against the key history it \
             carries itself (self-certified), so it proves consistency, not authorship.\n\
             WARNING: compare these key ids of {} with the ones it publishes, or run again with \
             --trust {}=KEY: {}\n",
            r.origin,
            r.origin,
            kids.join(", ")
        )),
    }
    out
}

fn report_json(r: &BundleReport, notes: &[String]) -> Value {
    let entries: Vec<Value> = r
        .entries
        .iter()
        .map(|e| {
            let (_, kind, version) = describe(e.record.record());
            let mut v = json!({"index": e.index, "type": kind, "kid": e.record.signed().kid()});
            if let Some(version) = version {
                v["version"] = json!(version);
            }
            v
        })
        .collect();
    json!({
        "result": "valid",
        "origin": r.origin,
        "item": r.item,
        "entries": entries,
        "withdrawn": r.withdrawn(),
        "checkpoint": {"size": r.checkpoint.size, "time": r.checkpoint_time.to_string()},
        "trust": basis_name(r.basis),
        "keys": r.grants.iter().map(|g| g.kid.to_string()).collect::<Vec<_>>(),
        "key_events": r.key_events,
        "witness": r.witness.as_ref().map(|w| json!({"origin": w.origin, "time": w.time, "trust": basis_name(w.basis)})),
        "notes": notes,
    })
}

/// The bundle endpoint for an item URL: a node's `…/items/ID` or `…/api/v1/items/ID`, or an
/// aggregator's `…/api/v1/national/items/ID` (its `member` query kept). A URL already ending
/// in `/bundle` is used as it is.
pub(crate) fn bundle_url(item_url: &str) -> Result<Url, String> {
    let url = Url::parse(item_url).map_err(|e| format!("{item_url}: not a URL: {e}"))?;
    let segments: Vec<&str> = url.path().split('/').filter(|s| !s.is_empty()).collect();
    let bundle_suffix = segments.last() == Some(&"bundle");
    let body = if bundle_suffix { &segments[..segments.len() - 1] } else { &segments[..] };
    let n = body.len();
    if n < 2 || body[n - 2] != "items" {
        return Err(format!(
            "{item_url}: not an item URL (…/items/ID, …/api/v1/items/ID or …/api/v1/national/items/ID)"
        ));
    }
    let id = body[n - 1];
    let mut prefix = &body[..n - 2];
    let national = prefix.last() == Some(&"national");
    if national {
        prefix = &prefix[..prefix.len() - 1];
    }
    if prefix.ends_with(&["api", "v1"]) {
        prefix = &prefix[..prefix.len() - 2];
    }
    let base: String = prefix.iter().map(|s| format!("/{s}")).collect();
    let path = if national {
        format!("{base}/api/v1/national/items/{id}/bundle")
    } else {
        format!("{base}/api/v1/items/{id}/bundle")
    };
    let mut out = url.clone();
    out.set_path(&path);
    out.set_fragment(None);
    let member = url.query_pairs().find(|(k, _)| k == "member").map(|(_, v)| v.into_owned());
    out.set_query(None);
    if let (true, Some(m)) = (national, member) {
        out.query_pairs_mut().append_pair("member", &m);
    }
    Ok(out)
}

/// `portal bundle ITEM_URL [-o FILE]`.
pub(crate) fn bundle_command(args: BundleArgs) -> ExitCode {
    let url = match bundle_url(&args.item_url) {
        Ok(u) => u,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(USAGE);
        }
    };
    let policy = FetchPolicy {
        max_body: MAX_BUNDLE_BYTES,
        allow_private: args.allow_private,
        ..FetchPolicy::default()
    };
    let fetched = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            rt.block_on(async {
                let fetcher = Fetcher::new(policy).map_err(|e| e.to_string())?;
                fetcher.get(&url, Some(MAX_BUNDLE_BYTES)).await.map_err(|e| e.to_string())
            })
        });
    let body = match fetched {
        Ok(f) => f.body,
        Err(e) => {
            eprintln!("error: cannot fetch the bundle: {e}");
            return ExitCode::from(UNREADABLE);
        }
    };
    // Check before writing: a bundle that does not verify is never saved as evidence.
    let bundle = match Bundle::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {url} did not serve a valid evidence bundle: [{}] {e}", e.code());
            return ExitCode::from(REJECTED);
        }
    };
    let (store, notes) = match trust_store(&args.trust, &bundle.origin) {
        Ok(s) => s,
        Err(e) => return e.exit(),
    };
    for n in &notes {
        eprintln!("note: {n}");
    }
    let report = match bundle.verify(&store) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("REJECTED [{}] the bundle from {url} does not verify: {e}", e.code());
            return ExitCode::from(REJECTED);
        }
    };
    let written = match &args.output {
        Some(path) => std::fs::write(path, &body).map_err(|e| format!("{}: {e}", path.display())),
        None => std::io::stdout().lock().write_all(&body).map_err(|e| format!("stdout: {e}")),
    };
    if let Err(e) = written {
        eprintln!("error: cannot write the bundle: {e}");
        return ExitCode::from(UNREADABLE);
    }
    eprint!("{}", report_text(&report));
    ExitCode::from(VERIFIED)
}

#[cfg(test)]
mod tests {
    use super::bundle_url;

    #[test]
    fn item_urls_map_to_their_bundle_endpoint() {
        let cases = [
            ("http://127.0.0.1:8080/items/abc", "http://127.0.0.1:8080/api/v1/items/abc/bundle"),
            (
                "https://moh.gov.vn/portal/api/v1/items/abc",
                "https://moh.gov.vn/portal/api/v1/items/abc/bundle",
            ),
            (
                "https://gov.vn/api/v1/national/items/abc?member=bo-y-te",
                "https://gov.vn/api/v1/national/items/abc/bundle?member=bo-y-te",
            ),
            (
                "https://gov.vn/api/v1/national/items/abc/bundle?member=bo-y-te",
                "https://gov.vn/api/v1/national/items/abc/bundle?member=bo-y-te",
            ),
            ("https://moh.gov.vn/items/abc#top", "https://moh.gov.vn/api/v1/items/abc/bundle"),
        ];
        for (from, to) in cases {
            assert_eq!(bundle_url(from).map(|u| u.to_string()), Ok(to.to_owned()), "{from}");
        }
        assert!(bundle_url("https://moh.gov.vn/feeds/atom").is_err());
        assert!(bundle_url("not a url").is_err());
    }
}

//! `portal verify URL|FILE [--trust ROSTER|KEY]... [--json]`: a third party's check of
//! anything a node or the central node serves, against the publishers' keys.
//!
//! Every fetch and every verification goes through `portal_client::verify` (the same path the
//! aggregator uses): the `Fetcher`'s safe-fetching rules, `envelope::open` and the
//! `LogVerifier`. This module only finds out what the input is, gathers the keys to trust,
//! and reports: one line per entry and a summary for people, or one JSON document.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use portal_client::client::{ClientError, descriptor_url, endpoint};
use portal_client::fetch::FetchError;
use portal_client::verify::{
    FeedFormat, FeedPages, LogWalk, Trust, VerifiedFeed, VerifiedItem, WalkError, check_paired,
};
use portal_client::{Client, FetchPolicy, Fetcher, Url};
use portal_proto::Rejection;
use portal_proto::crypto::PublicKey;
use portal_proto::envelope::{self, KeyResolver, SignedRecord, Verified};
use portal_proto::feed::{self, DecodedEntry, Visible};
use portal_proto::ids::NodeId;
use portal_proto::record::{Descriptor, KeyGrant, Record};
use portal_proto::time::Timestamp;
use portal_proto::verifier::{LogVerifier, RosterTrust};
use serde_json::{Value, json};

/// Exit status: everything verified.
const EXIT_OK: u8 = 0;
/// Exit status: something was rejected (each rejection named by its SPEC §11.3 code).
const EXIT_REJECTED: u8 = 1;
/// Exit status: usage error or unrecognised input.
const EXIT_USAGE: u8 = 2;
/// Exit status: the input could not be fetched or read.
const EXIT_UNREADABLE: u8 = 3;

/// Most feed documents read with `--all` (latest pages and archives).
const MAX_FEED_DOCUMENTS: usize = 10_000;

const AFTER_HELP: &str = "\
WHAT IT ACCEPTS (told apart by Content-Type and content):
  a node's base URL (or its /.well-known/portal-node, or its log URL): walks the whole log,
      page by page: every signature, index continuity, version chains, key rotations, and
      each page's checkpoint with its consistency proof. For a central node, its national
      log: every receipt, and every member record against that member's own key;
  an Atom feed or a JSON Feed (a node's, or a central node's national feed): every entry
      opened and checked against what readers see (--all: every page and archive too);
  an item's history (/api/v1/items/{id}), a single signed record (an envelope), a
      checkpoint note, or a saved log page (the JSON of /api/v1/log).

TRUST:
  Without --trust, the key is taken from the origin itself: its descriptor, fetched from the
  origin's own URL (and, for a central node, its roster for the members' keys). That is
  trust on first use, and the output says so: compare the key id shown with one obtained out
  of band. With --trust, only the keys given are used (repeatable):
      --trust BASE64KEY            an Ed25519 public key, for whichever origin signed
      --trust ORIGIN=BASE64KEY     a key for one node id, e.g. bo-y-te=...
      --trust ROSTER               a file or URL of a central node's signed roster: trusts
                                   its members' keys (the roster itself must verify under a
                                   key given with --trust; a roster URL without one is
                                   checked against the central's own descriptor, TOFU)
  A file carries no key of its own: verifying a file needs --trust.

EXIT STATUS:
  0  everything verified
  1  something was rejected (each rejection is named by its SPEC.md §11.3 code)
  2  usage error, or input that is not something portal verify knows
  3  the input could not be fetched or read (network, HTTP error, I/O)";

/// Verify a feed, a log, an item or a record against the publishers' keys.
#[derive(clap::Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub(crate) struct VerifyArgs {
    /// A URL (a node's base URL, a feed, a log, an item) or a file.
    target: String,
    /// Keys to trust instead of the origin's own descriptor: BASE64KEY, ORIGIN=BASE64KEY, or
    /// a roster file or URL. Repeatable.
    #[arg(long, value_name = "KEY|ORIGIN=KEY|ROSTER")]
    trust: Vec<String>,
    /// Print one machine-readable JSON document instead of lines.
    #[arg(long)]
    json: bool,
    /// For a feed: also read its next pages and every archive.
    #[arg(long)]
    all: bool,
    /// Check checkpoint freshness as of this time (RFC 3339) instead of now: for saved files.
    #[arg(long, value_name = "TIMESTAMP")]
    now: Option<String>,
    /// Let URLs reach loopback and private addresses (a node on this machine or network).
    #[arg(long)]
    allow_private: bool,
}

mod report;
use report::{Failure, Line, Report};

/// Where the trusted keys came from.
enum TrustSource {
    /// Given with --trust.
    Given(Vec<String>),
    /// Trust on first use: the origin's own descriptor (and roster).
    FirstUse { descriptor: String, origin: String, kids: Vec<String>, roster: Option<String> },
}

impl TrustSource {
    fn json(&self) -> Value {
        match self {
            TrustSource::Given(values) => json!({"mode": "given", "values": values}),
            TrustSource::FirstUse { descriptor, origin, kids, roster } => json!({
                "mode": "trust-on-first-use", "descriptor": descriptor, "origin": origin,
                "kids": kids, "roster": roster,
            }),
        }
    }

    fn human(&self) -> String {
        match self {
            TrustSource::Given(values) => {
                format!("keys: only those given with --trust ({})", values.join(", "))
            }
            TrustSource::FirstUse { descriptor, origin, kids, roster } => {
                let members = roster
                    .as_ref()
                    .map(|r| format!("; members' keys from its roster {r}"))
                    .unwrap_or_default();
                format!(
                    "keys: taken from the origin itself ({descriptor}: {origin}, key id {}){members} \
                     — trust on first use: compare the key id with one obtained out of band, or \
                     pass --trust",
                    kids.join(", ")
                )
            }
        }
    }
}

/// `portal verify`: returns the exit status (stdout flushed).
pub(crate) fn run(args: VerifyArgs) -> i32 {
    let mut report = Report::new(&args);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report.failure =
                Some(Failure::unreadable("setup", format!("starting the runtime: {e}")));
            return report.finish();
        }
    };
    if let Err(f) = runtime.block_on(verify(&args, &mut report)) {
        report.failure = Some(f);
    }
    report.finish()
}

/// Read `target` and verify what it is.
async fn verify(args: &VerifyArgs, report: &mut Report) -> Result<(), Failure> {
    let now = match &args.now {
        None => now(),
        Some(t) => Timestamp::parse(t).map_err(|e| {
            Failure::usage(format!("--now {t:?} is not an RFC 3339 timestamp: {e}"))
        })?,
    };
    let policy = FetchPolicy {
        allow_private: args.allow_private,
        user_agent: concat!("portal-verify/", env!("CARGO_PKG_VERSION"), " (IPSP/1)").into(),
        ..FetchPolicy::default()
    };
    let client =
        Client::new(Fetcher::new(policy).map_err(|e| Failure::unreadable("setup", e.to_string()))?);
    let given = load_trust(&client, &args.trust).await?;
    let ctx = Ctx { client: &client, given, now, all: args.all };

    let url = match Url::parse(&args.target) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => u,
        _ => {
            let path = Path::new(&args.target);
            if !path.exists() {
                return Err(Failure::usage(format!(
                    "{:?} is neither an http(s) URL nor an existing file",
                    args.target
                )));
            }
            let bytes = std::fs::read(path).map_err(|e| {
                Failure::unreadable("io", format!("reading {}: {e}", path.display()))
            })?;
            let hint = match path.extension().and_then(|e| e.to_str()) {
                Some("xml" | "atom") => Some("application/atom+xml"),
                _ => None,
            };
            return verify_document(&ctx, report, None, hint, &bytes).await;
        }
    };

    // A node named by its base URL or descriptor: walk its log.
    if let Some(base) = node_base(&url) {
        return verify_node(&ctx, report, &base).await;
    }
    let fetched = match client.fetcher().get(&url, None).await {
        Ok(f) => f,
        Err(e) => {
            // Perhaps a node's base URL below a path (https://gov.vn/byt): try its descriptor.
            if matches!(e, FetchError::Status { .. })
                && client.fetcher().get(&descriptor_url(&url), None).await.is_ok()
            {
                return verify_node(&ctx, report, &url).await;
            }
            return Err(Failure::from_client(&ClientError::Fetch(e)));
        }
    };
    let kind = detect(fetched.content_type.as_deref(), &fetched.body);
    if kind == Kind::LogPage {
        // A log URL: walk the whole log of its node, from the start.
        report.note(format!("{url} is a log: walking the whole log of its node"));
        return verify_node(&ctx, report, &base_of(&url)).await;
    }
    if kind == Kind::Unknown && client.fetcher().get(&descriptor_url(&url), None).await.is_ok() {
        return verify_node(&ctx, report, &url).await;
    }
    verify_document(
        &ctx,
        report,
        Some(&fetched.url),
        fetched.content_type.as_deref(),
        &fetched.body,
    )
    .await
}

struct Ctx<'a> {
    client: &'a Client,
    /// Keys given with --trust (`None`: trust on first use).
    given: Option<(Trust, Vec<String>)>,
    now: Timestamp,
    all: bool,
}

impl Ctx<'_> {
    /// The keys to use for what `origin_url` serves: those given, or the origin's own
    /// (descriptor, and roster for a central node).
    async fn trust_for(
        &self,
        report: &mut Report,
        origin_url: Option<&Url>,
    ) -> Result<Trust, Failure> {
        if let Some((trust, values)) = &self.given {
            report.set_trust(&TrustSource::Given(values.clone()));
            return Ok(trust.clone());
        }
        let Some(url) = origin_url else {
            return Err(Failure::usage(
                "a file carries no key of its own: give the keys to trust with --trust",
            ));
        };
        let (trust, _) = self.first_use(report, &base_of(url)).await?;
        Ok(trust)
    }

    /// Trust on first use: `base`'s descriptor, self-signed, and for a central node its roster.
    async fn first_use(
        &self,
        report: &mut Report,
        base: &Url,
    ) -> Result<(Trust, Verified<Descriptor>), Failure> {
        let descriptor =
            self.client.descriptor(base).await.map_err(|e| Failure::from_client(&e))?;
        let d = descriptor.record();
        let mut trust = Trust::default();
        trust.by_origin.set(d.origin.clone(), d.keys.clone());
        let mut roster_url = None;
        if let Ok(url) = endpoint(d, "roster") {
            let roster = self
                .client
                .roster(&url, &trust.by_origin)
                .await
                .map_err(|e| Failure::from_client(&e))?;
            let opened = RosterTrust::open(roster.signed(), &trust.by_origin, None)
                .map_err(|r| Failure::from_rejection(&r, "roster"))?;
            for m in &opened.roster().record().members {
                trust.by_origin.set(m.id.clone(), m.keys.clone());
            }
            roster_url = Some(url.to_string());
        }
        report.set_trust(&TrustSource::FirstUse {
            descriptor: descriptor_url(base).to_string(),
            origin: d.origin.to_string(),
            kids: d.keys.iter().map(|g| g.kid.to_string()).collect(),
            roster: roster_url,
        });
        Ok((trust, descriptor))
    }
}

/// Read the --trust values.
async fn load_trust(
    client: &Client,
    values: &[String],
) -> Result<Option<(Trust, Vec<String>)>, Failure> {
    if values.is_empty() {
        return Ok(None);
    }
    let mut trust = Trust::default();
    let mut rosters = Vec::new();
    for value in values {
        if let Ok(key) = PublicKey::from_base64(value) {
            trust.any.push(KeyGrant::pinned(key));
            continue;
        }
        if let Some((origin, key)) = value.split_once('=')
            && let Ok(origin) = NodeId::new(origin)
        {
            let key = PublicKey::from_base64(key).map_err(|e| {
                Failure::usage(format!("--trust {value}: not a base64 Ed25519 public key: {e}"))
            })?;
            trust.by_origin.add(origin, KeyGrant::pinned(key));
            continue;
        }
        rosters.push(value);
    }
    // Rosters last: their signatures are checked under the keys given above.
    for value in rosters {
        let (bytes, from) = match Url::parse(value) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {
                let fetched = client
                    .fetcher()
                    .get(&url, None)
                    .await
                    .map_err(|e| Failure::from_client(&ClientError::Fetch(e)))?;
                (fetched.body, Some(url))
            }
            _ => {
                let path = Path::new(value);
                if !path.exists() {
                    return Err(Failure::usage(format!(
                        "--trust {value}: neither a base64 key, ORIGIN=KEY, a roster URL nor an \
                         existing roster file"
                    )));
                }
                let bytes = std::fs::read(path)
                    .map_err(|e| Failure::unreadable("io", format!("reading {value}: {e}")))?;
                (bytes, None)
            }
        };
        let signed = SignedRecord::from_json(&bytes).map_err(|r| {
            Failure::usage(format!("--trust {value}: not a signed roster envelope: {r}"))
        })?;
        let central = envelope::parse_record(signed.bytes())
            .map_err(|r| Failure::from_rejection(&r, &format!("--trust {value}")))?
            .origin()
            .clone();
        let mut central_keys = envelope::TrustStore::new();
        match trust.grants(&central) {
            Some(g) => central_keys.set(central.clone(), g.to_vec()),
            None => {
                let Some(url) = &from else {
                    return Err(Failure::usage(format!(
                        "--trust {value}: the roster is signed by {central}; add its key with \
                         --trust {central}=BASE64KEY"
                    )));
                };
                let d =
                    client.descriptor(&base_of(url)).await.map_err(|e| Failure::from_client(&e))?;
                central_keys.set(central.clone(), d.record().keys.clone());
            }
        }
        let opened = RosterTrust::open(&signed, &central_keys, None)
            .map_err(|r| Failure::from_rejection(&r, &format!("roster {value}")))?;
        trust.by_origin.set(central.clone(), central_keys.grants(&central).unwrap_or(&[]).to_vec());
        for m in &opened.roster().record().members {
            trust.by_origin.set(m.id.clone(), m.keys.clone());
        }
    }
    Ok(Some((trust, values.to_vec())))
}

/// What a document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Atom,
    JsonFeed,
    LogPage,
    Item,
    Record,
    Checkpoint,
    Bundle,
    Unknown,
}

/// Tell what a document is from its Content-Type and content.
fn detect(content_type: Option<&str>, body: &[u8]) -> Kind {
    let ct = content_type.unwrap_or("").to_ascii_lowercase();
    if ct.contains("atom") || (ct.contains("xml") && !ct.contains("html")) {
        return Kind::Atom;
    }
    if ct.contains("feed+json") {
        return Kind::JsonFeed;
    }
    let text = body.trim_ascii_start();
    if text.starts_with(b"ipsp/1/") {
        return Kind::Checkpoint;
    }
    if text.starts_with(b"<") {
        let head = String::from_utf8_lossy(&text[..text.len().min(4096)]).to_ascii_lowercase();
        return if head.contains("<feed") { Kind::Atom } else { Kind::Unknown };
    }
    let Ok(Value::Object(o)) = serde_json::from_slice::<Value>(body) else {
        return Kind::Unknown;
    };
    let has = |k: &str| o.contains_key(k);
    if o.get("type").and_then(Value::as_str) == Some("portal-evidence-bundle") {
        Kind::Bundle
    } else if o
        .get("version")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("https://jsonfeed.org/version/"))
    {
        Kind::JsonFeed
    } else if has("origin") && has("start") && has("entries") {
        Kind::LogPage
    } else if has("id") && has("versions") {
        Kind::Item
    } else if o.len() == 3 && has("kid") && has("record") && has("sig") {
        Kind::Record
    } else {
        Kind::Unknown
    }
}

/// Verify a document in hand (`url`: where it came from, `None` for a file).
async fn verify_document(
    ctx: &Ctx<'_>,
    report: &mut Report,
    url: Option<&Url>,
    content_type: Option<&str>,
    body: &[u8],
) -> Result<(), Failure> {
    let kind = detect(content_type, body);
    report.kind = match kind {
        Kind::Atom => "atom",
        Kind::JsonFeed => "json-feed",
        Kind::LogPage => "log-page",
        Kind::Item => "item",
        Kind::Record => "record",
        Kind::Checkpoint => "checkpoint",
        Kind::Bundle => "evidence-bundle",
        Kind::Unknown => "unknown",
    }
    .into();
    match kind {
        Kind::Unknown => Err(Failure::usage(
            "unrecognised input: not an Atom or JSON feed, a log page, an item, a signed record, a \
             checkpoint or an evidence bundle (for a node, give its base URL)",
        )),
        Kind::Bundle => {
            let values = ctx.given.as_ref().map(|(_, v)| v.clone()).unwrap_or_default();
            let status = crate::bundle::verify_bundle(body, &values, report.json);
            report.delegated = Some(exit_status(status));
            Ok(())
        }
        Kind::Atom | Kind::JsonFeed => {
            let format = if kind == Kind::Atom { FeedFormat::Atom } else { FeedFormat::Json };
            let trust = ctx.trust_for(report, url).await?;
            let docs = match (url, ctx.all) {
                (Some(u), true) => ctx
                    .client
                    .feed_pages(u, &trust, FeedPages::All { max_documents: MAX_FEED_DOCUMENTS })
                    .await
                    .map_err(|e| Failure::from_client(&e))?,
                _ => {
                    let u = url.cloned().unwrap_or_else(file_url);
                    vec![
                        VerifiedFeed::from_bytes(u, format, body, &trust)
                            .map_err(|r| Failure::from_rejection(&r, "feed"))?,
                    ]
                }
            };
            let many = docs.len() > 1;
            for (d, doc) in docs.iter().enumerate() {
                if many {
                    report.note(format!("document {}: {}", d + 1, doc.url));
                }
                for (i, (entry, result)) in doc.feed.entries.iter().zip(&doc.entries).enumerate() {
                    let n = if many { format!("{}.{}", d + 1, i + 1) } else { (i + 1).to_string() };
                    report.entry(feed_line(n, entry, result));
                }
            }
            Ok(())
        }
        Kind::Item => {
            let trust = ctx.trust_for(report, url).await?;
            let u = url.cloned().unwrap_or_else(file_url);
            let item = VerifiedItem::from_bytes(u, body, &trust)
                .map_err(|r| Failure::from_rejection(&r, "item"))?;
            for (i, result) in item.versions.iter().enumerate() {
                report.entry(record_line(format!("v{}", i + 1), None, result));
            }
            if let Some(w) = &item.withdrawal {
                report.entry(record_line("withdrawal".into(), None, w));
            }
            Ok(())
        }
        Kind::Record => {
            let trust = ctx.trust_for(report, url).await?;
            let result = SignedRecord::from_json(body).and_then(|s| envelope::open(&s, &trust));
            report.entry(record_line("1".into(), None, &result));
            Ok(())
        }
        Kind::Checkpoint => {
            let trust = ctx.trust_for(report, url).await?;
            let note = std::str::from_utf8(body)
                .map_err(|_| Failure::rejected("malformed", "the checkpoint is not UTF-8"))?;
            let origin = note
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("ipsp/1/"))
                .and_then(|o| NodeId::new(o).ok())
                .ok_or_else(|| {
                    Failure::rejected("malformed", "the origin line is not ipsp/1/<node id>")
                })?;
            let grants = trust.grants(&origin).map(<[KeyGrant]>::to_vec).ok_or_else(|| {
                Failure::rejected("unknown-origin", format!("no trusted key for {origin}"))
            })?;
            let mut v = LogVerifier::new(origin.clone(), grants);
            let result = v.push_checkpoint(note, ctx.now, None);
            let line = Line {
                n: "1".into(),
                kind: "checkpoint".into(),
                origin: origin.to_string(),
                id: result
                    .as_ref()
                    .map(|c| format!("size {}", c.checkpoint.size))
                    .unwrap_or_default(),
                title: String::new(),
                result: result.map(|_| ()).map_err(|r| (r.code().to_owned(), r.to_string())),
            };
            report.entry(line);
            Ok(())
        }
        Kind::LogPage => {
            let trust = ctx.trust_for(report, url).await?;
            verify_saved_page(ctx, report, body, &trust)
        }
    }
}

/// The exit status a delegated verifier chose, as a number (`ExitCode` does not say).
fn exit_status(code: ExitCode) -> i32 {
    if code == ExitCode::SUCCESS {
        0
    } else if code == ExitCode::from(EXIT_REJECTED) {
        1
    } else if code == ExitCode::from(EXIT_USAGE) {
        2
    } else {
        3
    }
}

/// A saved log page: its entries from index `start` (0 for a whole log from the start) and its
/// checkpoint, with a `LogVerifier` (no consistency proof can be fetched: a checkpoint ahead of
/// the page is refused unless the page starts at 0).
fn verify_saved_page(
    ctx: &Ctx<'_>,
    report: &mut Report,
    body: &[u8],
    trust: &Trust,
) -> Result<(), Failure> {
    #[derive(serde::Deserialize)]
    struct Page {
        origin: String,
        start: u64,
        entries: Vec<Entry>,
        #[serde(default)]
        checkpoint: String,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        index: u64,
        kid: String,
        record: String,
        sig: String,
    }
    let page: Page = serde_json::from_slice(body)
        .map_err(|e| Failure::rejected("malformed", format!("log page: {e}")))?;
    let origin = NodeId::new(&page.origin)
        .map_err(|e| Failure::rejected("malformed", format!("log page origin: {e}")))?;
    if page.start != 0 {
        return Err(Failure::usage(format!(
            "the saved page starts at index {}: a log can only be verified from index 0 (give \
             the node's URL to walk it whole)",
            page.start
        )));
    }
    let grants = trust.grants(&origin).map(<[KeyGrant]>::to_vec).ok_or_else(|| {
        Failure::rejected("unknown-origin", format!("no trusted key for {origin}"))
    })?;
    report.kind = "log-page".into();
    let mut v = LogVerifier::new(origin.clone(), grants);
    for (pos, e) in page.entries.iter().enumerate() {
        let n = e.index.to_string();
        let signed = match SignedRecord::from_base64(&e.record, &e.kid, &e.sig) {
            Ok(s) => s,
            Err(r) => {
                report.entry(rejected_line(n, &origin, &r));
                return stop(report, pos, page.entries.len());
            }
        };
        if e.index != pos as u64 {
            let r = Rejection::Malformed(format!("entry {pos} is numbered {}", e.index));
            report.entry(rejected_line(n, &origin, &r));
            return stop(report, pos, page.entries.len());
        }
        let result = v.push(&signed);
        let failed = result.is_err();
        report.entry(record_line(n, Some(&origin), &result));
        if failed {
            return stop(report, pos, page.entries.len());
        }
    }
    if page.checkpoint.is_empty() {
        report.note("the page carries no checkpoint".into());
        return Ok(());
    }
    match v.push_checkpoint(&page.checkpoint, ctx.now, None) {
        Ok(cp) => {
            checkpoint_ok(report, &cp);
            Ok(())
        }
        Err(r) => Err(Failure::from_rejection(&r, "checkpoint")),
    }
}

fn stop(report: &mut Report, pos: usize, total: usize) -> Result<(), Failure> {
    let left = total - pos - 1;
    if left > 0 {
        report.note(format!(
            "verification stopped at this entry: the {left} after it cannot be checked for \
             continuity"
        ));
    }
    Ok(())
}

fn checkpoint_ok(report: &mut Report, cp: &portal_proto::verifier::VerifiedCheckpoint) {
    let root = portal_proto::crypto::encode_base64(&cp.checkpoint.root);
    report.note(format!(
        "checkpoint: size {}, root {root}, time {}: signature verified{}",
        cp.checkpoint.size,
        cp.time,
        if cp.covered {
            ", root matches the verified entries"
        } else {
            ", consistency proof verified"
        }
    ));
    report.checkpoint = Some(json!({"size": cp.checkpoint.size, "root": root,
                                    "time": cp.time.to_string(), "covered": cp.covered}));
}

/// Walk the whole log of the node at `base` (its national log, for a central node).
async fn verify_node(ctx: &Ctx<'_>, report: &mut Report, base: &Url) -> Result<(), Failure> {
    let (trust, descriptor) = match &ctx.given {
        Some((trust, values)) => {
            report.set_trust(&TrustSource::Given(values.clone()));
            let d = ctx
                .client
                .descriptor_pinned(base, trust)
                .await
                .map_err(|e| Failure::from_client(&e))?;
            (trust.clone(), d)
        }
        None => ctx.first_use(report, base).await?,
    };
    let d = descriptor.record();
    let grants = trust.grants(&d.origin).map(<[KeyGrant]>::to_vec);
    let national = endpoint(d, "national-log").is_ok();
    let walk = if national {
        LogWalk::national(ctx.client, d, grants)
    } else {
        LogWalk::new(ctx.client, d, grants)
    };
    let mut walk = walk.map_err(|e| Failure::from_client(&e))?;
    report.kind = if national { "national-log" } else { "log" }.into();
    report.note(format!("{}: {} {}", d.origin, report.kind, walk.log_url()));
    loop {
        match walk.next_national_page(ctx.now).await {
            Ok((page, members)) => {
                report.progress.set_length(page.size);
                for (i, entry) in page.entries.iter().enumerate() {
                    let index = page.start + i as u64;
                    let paired = members.get(i).and_then(Option::as_ref);
                    match paired {
                        None => {
                            report.entry(record_line(index.to_string(), None, &Ok(entry.clone())))
                        }
                        Some(member) => {
                            let result = check_paired(entry, member, &trust);
                            report.entry(record_line(format!("{index}"), None, &result));
                        }
                    }
                    report.progress.inc(1);
                }
                if !page.more {
                    checkpoint_ok(report, &page.checkpoint);
                    return Ok(());
                }
            }
            Err(WalkError::Rejected(failure)) => {
                use portal_client::verify::PageFailure;
                let accepted: &[Verified<Record>] = match &failure {
                    PageFailure::Entry { accepted, .. }
                    | PageFailure::Checkpoint { accepted, .. } => accepted,
                    _ => &[],
                };
                let first = walk.verified() - accepted.len() as u64;
                for (i, entry) in accepted.iter().enumerate() {
                    report.entry(record_line(
                        (first + i as u64).to_string(),
                        None,
                        &Ok(entry.clone()),
                    ));
                }
                if let PageFailure::Entry { rejected, .. } = &failure {
                    report.entry(record_line(
                        rejected.index.to_string(),
                        Some(&d.origin),
                        &Err(rejected.rejection.clone()),
                    ));
                    report.note(format!(
                        "verification stopped at index {}: later entries cannot be checked for \
                         continuity",
                        rejected.index
                    ));
                    return Ok(());
                }
                let code = failure.code();
                return Err(match &failure {
                    PageFailure::Checkpoint {
                        failure: portal_client::verify::CheckpointFailure::Fetch(e),
                        ..
                    } => Failure::from_client(e),
                    _ => Failure::rejected(code, failure.to_string()),
                });
            }
            Err(WalkError::Client(e)) => return Err(Failure::from_client(&e)),
            Err(other) => return Err(Failure::rejected(other.code(), other.to_string())),
        }
    }
}

/// The line of a verified (or rejected) record.
fn record_line(
    n: String,
    origin: Option<&NodeId>,
    result: &Result<Verified<Record>, Rejection>,
) -> Line {
    match result {
        Ok(v) => {
            let (kind, id, title) = describe(v.record());
            Line { n, kind, origin: v.record().origin().to_string(), id, title, result: Ok(()) }
        }
        Err(r) => rejected_line(n, origin.map_or("", |o| o.as_str()), r),
    }
}

fn rejected_line(n: String, origin: impl ToString, r: &Rejection) -> Line {
    Line {
        n,
        kind: "-".into(),
        origin: origin.to_string(),
        id: String::new(),
        title: String::new(),
        result: Err((r.code().to_owned(), r.to_string())),
    }
}

/// The line of a feed entry: what readers see, and the verdict.
fn feed_line(
    n: String,
    entry: &DecodedEntry,
    result: &Result<Verified<Record>, Rejection>,
) -> Line {
    let (kind, id, title) = match &entry.visible {
        Visible::Entry { id, title, .. } => ("item", id.clone(), title.clone()),
        Visible::Tombstone { id, title, .. } => {
            ("withdrawal", id.clone(), title.clone().unwrap_or_default())
        }
    };
    Line {
        n,
        kind: kind.into(),
        origin: String::new(),
        id,
        title,
        result: result.as_ref().map(|_| ()).map_err(|r| (r.code().to_owned(), r.to_string())),
    }
}

/// Kind, id and title of a record, for its line.
fn describe(record: &Record) -> (String, String, String) {
    match record {
        Record::Item(i) => ("item".into(), format!("{} v{}", i.id, i.version), i.title.clone()),
        Record::Withdrawal(w) => (
            "withdrawal".into(),
            format!("{} v{}", w.id, w.version),
            format!("{}: {}", feed::withdrawal_label(w.state), w.explanation),
        ),
        Record::KeyEvent(e) => ("key-event".into(), e.kid.to_string(), format!("{:?}", e.event)),
        Record::Receipt(r) => {
            ("receipt".into(), format!("{}#{}", r.member, r.member_index), String::new())
        }
        other => (other.record_type().to_string(), String::new(), String::new()),
    }
}

/// `url` names a node rather than a document: its base URL (path empty or `/`) or its
/// descriptor. Returns the node's base URL.
fn node_base(url: &Url) -> Option<Url> {
    let path = url.path();
    if let Some(prefix) = path.strip_suffix(portal_client::client::DESCRIPTOR_PATH) {
        let mut base = url.clone();
        base.set_path(prefix);
        base.set_query(None);
        return Some(base);
    }
    (path.is_empty() || path == "/").then(|| url.clone())
}

/// The base URL of the node serving `url`: the path before `/api/`, `/feeds/`, `/items/` or
/// `/.well-known/` (the conventional paths of SPEC.md §8), else the origin.
fn base_of(url: &Url) -> Url {
    let path = url.path();
    let cut = ["/api/", "/feeds/", "/items/", "/.well-known/"]
        .iter()
        .filter_map(|p| path.find(p))
        .min()
        .unwrap_or(0);
    let mut base = url.clone();
    base.set_path(&path[..cut]);
    base.set_query(None);
    base.set_fragment(None);
    base
}

/// A placeholder URL for a document read from a file (never fetched).
fn file_url() -> Url {
    Url::parse("file:///").expect("a constant URL")
}

fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    Timestamp::from_unix(secs).unwrap_or_else(|| Timestamp::from_unix(0).expect("epoch"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn detects_kinds() {
        assert_eq!(detect(Some("application/atom+xml"), b"garbage"), Kind::Atom);
        assert_eq!(detect(None, b"  <?xml version=\"1.0\"?><feed xmlns="), Kind::Atom);
        assert_eq!(detect(Some("text/html"), b"<!doctype html><html>"), Kind::Unknown);
        assert_eq!(
            detect(None, br#"{"version":"https://jsonfeed.org/version/1.1","items":[]}"#),
            Kind::JsonFeed
        );
        assert_eq!(
            detect(None, br#"{"origin":"a","start":0,"size":0,"entries":[]}"#),
            Kind::LogPage
        );
        assert_eq!(detect(None, br#"{"id":"x","versions":[]}"#), Kind::Item);
        assert_eq!(detect(None, br#"{"kid":"k","record":"r","sig":"s"}"#), Kind::Record);
        assert_eq!(detect(None, br#"{"type":"portal-evidence-bundle"}"#), Kind::Bundle);
        assert_eq!(detect(None, b"ipsp/1/bo-y-te\n3\nabc\n"), Kind::Checkpoint);
        assert_eq!(detect(None, b"\x00\x01garbage"), Kind::Unknown);
        assert_eq!(detect(None, b"{}"), Kind::Unknown);
    }

    #[test]
    fn finds_node_urls() {
        assert_eq!(node_base(&u("http://127.0.0.1:8080")), Some(u("http://127.0.0.1:8080/")));
        assert_eq!(
            node_base(&u("https://gov.vn/byt/.well-known/portal-node")),
            Some(u("https://gov.vn/byt"))
        );
        assert_eq!(node_base(&u("https://gov.vn/feeds/atom")), None);
        assert_eq!(
            base_of(&u("https://gov.vn/byt/api/v1/log?after=3")).as_str(),
            "https://gov.vn/byt"
        );
        assert_eq!(base_of(&u("https://gov.vn/feeds/national/atom")).as_str(), "https://gov.vn/");
        assert_eq!(base_of(&u("https://gov.vn/x")).as_str(), "https://gov.vn/");
    }
}

//! The fault soak: three ministries (`portal serve`), a central, and a third-party verifier,
//! for a set time, with a fault-injecting proxy (`proxy.rs`) between the central and each
//! ministry and one before the central for the verifier. On a seeded random schedule the
//! proxies drop, delay, reset and partition connections, and ministries and the central are
//! killed with SIGKILL and restarted. Editors publish to every ministry throughout and record
//! each acknowledged publish (the history).
//!
//! At the end everything is healed and restarted, the central must converge, and a set-style
//! checker compares the history with the central's national log and with what the verifier
//! read during the soak: lost, unexpected and duplicated records, gaps in a member's log,
//! indices whose receipt changed (an index signed twice): all must be 0. The time from each
//! heal to the central having caught up with that ministry (staleness) is reported.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Record};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use portal_tests::api::{add_member, get_json, member_sizes, open_national_entry};

use super::proxy::{Mode, Proxy};
use super::{Rng, Section};
use crate::harness::{Portal, percentile};

const MINISTRIES: [&str; 3] = ["bo-y-te", "bo-tai-chinh", "bo-giao-duc"];
const CENTRAL: &str = "chinh-phu";
/// The central must have caught up with every ministry this long after the final heal.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(180);

/// What editors were told.
#[derive(Default)]
struct History {
    /// tag → (ministry, item id, log index) for every 201.
    acked: BTreeMap<String, (usize, String, u64)>,
    /// Tags whose publish failed without an answer: they may or may not be in the log.
    uncertain: BTreeSet<String>,
    /// Publishes refused with an answer (nothing stored).
    refused: u64,
}

/// What the verifier read through its proxy during the soak.
#[derive(Default)]
struct Seen {
    /// National log index → receipt digest (base64 of the receipt's signed bytes' digest).
    receipts: BTreeMap<u64, String>,
    errors: u64,
    reads: u64,
    failures: Vec<String>,
}

struct Counters {
    kills: [AtomicU64; 4],
    restart_failures: AtomicU64,
    faults: Mutex<BTreeMap<&'static str, u64>>,
    staleness_ms: Mutex<Vec<f64>>,
    interrupted: AtomicU64,
}

fn draft(tag: &str) -> String {
    json!({
        "kind": "news",
        "language": "vi",
        "title": format!("Bản tin kiểm thử {tag}"),
        "summary": "Bản tin của bài kiểm thử độ bền (soak).",
        "content_html": format!("<p>Nội dung bản tin {tag}.</p>"),
        "categories": ["kiem-thu"],
    })
    .to_string()
}

/// The tag in an item title written by `draft`.
fn tag_of(title: &str) -> Option<String> {
    title.split_whitespace().find(|w| w.starts_with("soak-")).map(str::to_owned)
}

pub(crate) async fn faults(
    bin: &Path,
    client: &reqwest::Client,
    seconds: f64,
    seed: u64,
) -> Section {
    let mut section = Section::new("fault soak");
    section.note(format!("seed {seed} (`--seed {seed}` repeats the schedule), {seconds:.0} s"));
    if let Err(e) = run(bin, client, seconds, seed, &mut section).await {
        section.fail(e);
    }
    section
}

async fn bind() -> Result<TcpListener, String> {
    TcpListener::bind("127.0.0.1:0").await.map_err(|e| format!("bind: {e}"))
}

fn addr(base: &str) -> Result<SocketAddr, String> {
    base.trim_start_matches("http://").parse().map_err(|e| format!("{base}: {e}"))
}

/// Restart `p` (blocking work: off the async workers).
async fn restart(p: &Arc<Mutex<Portal>>) -> Result<(), String> {
    let p = Arc::clone(p);
    tokio::task::spawn_blocking(move || p.lock().map_err(|_| "poisoned".to_owned())?.restart())
        .await
        .map_err(|e| format!("restart task: {e}"))?
}

/// The soak's federation: three ministries behind their proxies (their public URL), the
/// central following them through the proxies, a proxy before the central for the verifier,
/// and the trust a third party holds.
struct Soak {
    proxies: Vec<Arc<Proxy>>,
    ministries: Vec<Arc<Mutex<Portal>>>,
    /// Where each ministry listens (its editors publish there, around the proxy).
    ministry_bases: Vec<String>,
    tokens: Vec<String>,
    central: Arc<Mutex<Portal>>,
    central_base: String,
    verifier_proxy: Arc<Proxy>,
    trust: Arc<TrustStore>,
    central_trust: Arc<TrustStore>,
}

impl Soak {
    async fn start(bin: &Path, client: &reqwest::Client) -> Result<Soak, String> {
        // Ministries: their public URL is their proxy; they listen elsewhere.
        let mut proxies = Vec::new();
        let mut ministries = Vec::new();
        for id in MINISTRIES {
            let listener = bind().await?;
            let port = listener.local_addr().map_err(|e| e.to_string())?.port();
            let url = format!("http://127.0.0.1:{port}");
            let bin = bin.to_owned();
            let m = tokio::task::spawn_blocking(move || {
                Portal::start_behind(&bin, id, id, &[("allow_private_callbacks", "true")], &url)
            })
            .await
            .map_err(|e| e.to_string())??;
            proxies.push(Proxy::start(listener, addr(&m.base)?)?);
            ministries.push(Arc::new(Mutex::new(m)));
        }
        let bin2 = bin.to_owned();
        let central = tokio::task::spawn_blocking(move || {
            Portal::start(
                &bin2,
                CENTRAL,
                "Chính phủ",
                &[
                    ("allow_private_members", "true"),
                    ("poll_seconds", "2"),
                    ("max_backoff_seconds", "4"),
                    ("connect_timeout_seconds", "2"),
                    ("read_timeout_seconds", "3"),
                    ("request_timeout_seconds", "6"),
                ],
            )
        })
        .await
        .map_err(|e| e.to_string())??;
        let central_base = central.base.clone();
        let central_key = central.public_key.clone();
        let verifier_proxy = Proxy::start(bind().await?, addr(&central_base)?)?;
        let mut trust = TrustStore::new();
        let mut ministry_bases = Vec::new();
        for (i, m) in ministries.iter().enumerate() {
            let (key, base) = {
                let m = m.lock().map_err(|_| "poisoned")?;
                (m.public_key.clone(), m.base.clone())
            };
            let proxy_url = format!("http://127.0.0.1:{}", proxies[i].port);
            add_member(client, central.operator(), &proxy_url, &key).await?;
            let id = NodeId::new(MINISTRIES[i]).map_err(|e| e.to_string())?;
            trust.add(id, KeyGrant::pinned(key));
            ministry_bases.push(base);
        }
        let mut central_trust = TrustStore::new();
        central_trust
            .add(NodeId::new(CENTRAL).map_err(|e| e.to_string())?, KeyGrant::pinned(central_key));
        let tokens: Vec<String> = ministries
            .iter()
            .map(|m| m.lock().map(|m| m.token.clone()).unwrap_or_default())
            .collect();
        let central = Arc::new(Mutex::new(central));
        let trust = Arc::new(trust);
        let central_trust = Arc::new(central_trust);
        Ok(Soak {
            proxies,
            ministries,
            ministry_bases,
            tokens,
            central,
            central_base,
            verifier_proxy,
            trust,
            central_trust,
        })
    }

    /// Every proxy, the verifier's last.
    fn all_proxies(&self) -> Vec<Arc<Proxy>> {
        self.proxies
            .iter()
            .cloned()
            .chain(std::iter::once(Arc::clone(&self.verifier_proxy)))
            .collect()
    }

    /// The verifier's way to the central: its proxy.
    fn verifier_base(&self) -> String {
        format!("http://127.0.0.1:{}", self.verifier_proxy.port)
    }
}

/// Editors: one per ministry, straight to the node (not through the proxy), recording every
/// outcome in the history, until `stop`.
fn spawn_editors(
    soak: &Soak,
    client: &reqwest::Client,
    history: &Arc<Mutex<History>>,
    stop: &Arc<AtomicBool>,
    seed: u64,
) -> Vec<tokio::task::JoinHandle<()>> {
    let mut tasks = Vec::new();
    for (i, base) in soak.ministry_bases.iter().enumerate() {
        let (client, history, stop) = (client.clone(), Arc::clone(history), Arc::clone(stop));
        let (base, token) = (base.clone(), soak.tokens[i].clone());
        let mut rng = Rng::new(seed ^ (0x1000 + i as u64));
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::SeqCst) {
                let tag = format!("soak-{i}-{n}");
                n += 1;
                let sent = client
                    .post(format!("{base}/api/v1/items"))
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .timeout(Duration::from_secs(10))
                    .body(draft(&tag))
                    .send()
                    .await;
                let outcome = match sent {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        match resp.json::<Value>().await {
                            Ok(v) if status == 201 => {
                                match (v["id"].as_str(), v["log_index"].as_u64()) {
                                    (Some(id), Some(ix)) => Ok(Some((id.to_owned(), ix))),
                                    _ => Err(()),
                                }
                            }
                            Ok(_) if status < 500 => Ok(None),
                            _ => Err(()),
                        }
                    }
                    Err(_) => Err(()),
                };
                if let Ok(mut h) = history.lock() {
                    match outcome {
                        Ok(Some((id, ix))) => {
                            h.acked.insert(tag, (i, id, ix));
                        }
                        Ok(None) => h.refused += 1,
                        Err(()) => {
                            h.uncertain.insert(tag);
                        }
                    }
                }
                tokio::time::sleep(rng.millis(50, 300)).await;
            }
        }));
    }
    tasks
}

/// The verifier: follows the national log through its proxy, verifying every entry, until
/// `stop`.
fn spawn_verifier(
    soak: &Soak,
    client: &reqwest::Client,
    seen: &Arc<Mutex<Seen>>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (client, seen, stop) = (client.clone(), Arc::clone(seen), Arc::clone(stop));
    let (trust, central_trust) = (Arc::clone(&soak.trust), Arc::clone(&soak.central_trust));
    let base = soak.verifier_base();
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            let after = seen.lock().map(|s| s.receipts.len() as u64).unwrap_or(0);
            let url = format!("{base}/api/v1/national/log?after={after}&limit=1000");
            match get_json(&client, &url).await {
                Ok(v) => {
                    let checked = check_page(&v, after, &trust, &central_trust);
                    if let Ok(mut s) = seen.lock() {
                        s.reads += 1;
                        match checked {
                            Ok(entries) => {
                                for (ix, digest, _) in entries {
                                    s.receipts.insert(ix, digest);
                                }
                            }
                            Err(e) => s.failures.push(e),
                        }
                    }
                }
                Err(_) => {
                    if let Ok(mut s) = seen.lock() {
                        s.errors += 1;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    })
}

/// The schedule: faults on the proxies, kills of the processes, until `end`.
async fn schedule(
    soak: &Soak,
    client: &reqwest::Client,
    counters: &Arc<Counters>,
    disturbances: &Arc<AtomicU64>,
    rng: &mut Rng,
    end: Instant,
) {
    let all_proxies = soak.all_proxies();
    let mut next_kill = Instant::now() + rng.millis(10_000, 25_000);
    while Instant::now() < end {
        tokio::time::sleep(rng.millis(1_000, 4_000)).await;
        let p = rng.below(all_proxies.len() as u64) as usize;
        let mode = match rng.below(100) {
            0..45 => Mode::Pass,
            45..60 => Mode::Delay(rng.below(1500) + 50),
            60..72 => Mode::Drop,
            72..84 => Mode::Reset,
            _ => Mode::Partition,
        };
        let previous = all_proxies[p].set(mode);
        if let Ok(mut f) = counters.faults.lock() {
            *f.entry(mode.name()).or_default() += 1;
        }
        if mode != Mode::Pass {
            disturbances.fetch_add(1, Ordering::SeqCst);
        } else if previous != Mode::Pass && p < MINISTRIES.len() {
            tokio::spawn(staleness(
                client.clone(),
                soak.ministry_bases[p].clone(),
                soak.central_base.clone(),
                MINISTRIES[p],
                Arc::clone(counters),
                Arc::clone(disturbances),
            ));
        }
        if Instant::now() >= next_kill {
            next_kill = Instant::now() + rng.millis(15_000, 30_000);
            let target = rng.below(4) as usize;
            disturbances.fetch_add(1, Ordering::SeqCst);
            let victim = if target < 3 {
                Arc::clone(&soak.ministries[target])
            } else {
                Arc::clone(&soak.central)
            };
            counters.kills[target].fetch_add(1, Ordering::SeqCst);
            let down_for = rng.millis(500, 3_000);
            let counters = Arc::clone(counters);
            tokio::spawn(async move {
                if let Ok(mut v) = victim.lock() {
                    v.kill9();
                }
                tokio::time::sleep(down_for).await;
                if restart(&victim).await.is_err() {
                    counters.restart_failures.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    }
}

/// Heal: every proxy passes; kills in flight restart within 3 s, then `stop` the editors and
/// the verifier, and restart anything still down.
async fn heal(
    soak: &Soak,
    stop: &AtomicBool,
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> Result<(), String> {
    for p in &soak.all_proxies() {
        p.set(Mode::Pass);
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::SeqCst);
    for t in tasks {
        let _ = t.await;
    }
    for p in soak.ministries.iter().chain(std::iter::once(&soak.central)) {
        let down = p.lock().map(|mut p| p.exited()).unwrap_or(false);
        if down {
            restart(p).await?;
        }
    }
    Ok(())
}

/// Convergence: the central holds every ministry's whole log. Each ministry's size, and the
/// milliseconds it took after `healed`.
async fn converge(
    soak: &Soak,
    client: &reqwest::Client,
    healed: Instant,
) -> Result<(BTreeMap<String, u64>, f64), String> {
    let central_base = &soak.central_base;
    let mut sizes = BTreeMap::new();
    for (i, base) in soak.ministry_bases.iter().enumerate() {
        let v = get_json(client, &format!("{base}/api/v1/log?after=0&limit=1")).await?;
        sizes.insert(MINISTRIES[i].to_owned(), v["size"].as_u64().ok_or("log page without size")?);
    }
    loop {
        let caught_up = member_sizes(client, central_base)
            .await
            .is_ok_and(|have| sizes.iter().all(|(id, n)| have.get(id).is_some_and(|h| h >= n)));
        if caught_up {
            break;
        }
        if healed.elapsed() > CONVERGE_TIMEOUT {
            let have = member_sizes(client, central_base).await;
            return Err(format!(
                "the central did not converge within {} s of the final heal: ministries {sizes:?}, \
                 central {have:?}",
                CONVERGE_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let converge_ms = healed.elapsed().as_secs_f64() * 1000.0;
    Ok((sizes, converge_ms))
}

/// The counts of what happened: publishes, kills, faults, connections, reads, staleness.
fn report(
    section: &mut Section,
    soak: &Soak,
    history: &Mutex<History>,
    seen: &Mutex<Seen>,
    counters: &Counters,
) -> Result<(), String> {
    let (acked, uncertain, refused) = history
        .lock()
        .map(|h| (h.acked.len() as u64, h.uncertain.len() as u64, h.refused))
        .map_err(|_| "poisoned")?;
    section.count("publishes acknowledged (history)", acked);
    section.count("publishes without an answer (uncertain)", uncertain);
    section.count("publishes refused with an answer", refused);
    for (i, id) in MINISTRIES.iter().enumerate() {
        section.count(&format!("kill -9 of {id}"), counters.kills[i].load(Ordering::SeqCst));
    }
    section.count("kill -9 of the central", counters.kills[3].load(Ordering::SeqCst));
    section.count("restart failures", counters.restart_failures.load(Ordering::SeqCst));
    if counters.restart_failures.load(Ordering::SeqCst) > 0 {
        section.fail("a killed process failed to restart".into());
    }
    if let Ok(f) = counters.faults.lock() {
        for (mode, n) in f.iter() {
            section.count(&format!("proxy set to {mode}"), *n);
        }
    }
    let all_proxies = soak.all_proxies();
    let conns: u64 = all_proxies.iter().map(|p| p.connections.load(Ordering::Relaxed)).sum();
    let cut: u64 = all_proxies.iter().map(|p| p.cut.load(Ordering::Relaxed)).sum();
    section.count("connections through the proxies", conns);
    section.count("connections cut mid-stream by a fault", cut);
    if let Ok(s) = seen.lock() {
        section.count("verifier reads during the soak", s.reads);
        section.count("verifier reads failed by faults", s.errors);
    }
    let stale = counters.staleness_ms.lock().map(|v| v.clone()).unwrap_or_default();
    section.count("heals measured", stale.len() as u64);
    section
        .count("heals interrupted by another fault", counters.interrupted.load(Ordering::SeqCst));
    if !stale.is_empty() {
        section.note(format!(
            "staleness after a heal (heal → the central holds what the ministry had): p50 {:.0} \
             ms, p90 {:.0} ms, max {:.0} ms over {} heals",
            percentile(&stale, 0.5),
            percentile(&stale, 0.9),
            stale.iter().copied().fold(0.0, f64::max),
            stale.len()
        ));
    }
    Ok(())
}

/// The central's incidents by code: only `unreachable` is expected from network faults.
async fn check_incidents(
    section: &mut Section,
    client: &reqwest::Client,
    central_base: &str,
) -> Result<(), String> {
    let incidents =
        get_json(client, &format!("{central_base}/api/v1/incidents?limit=1000")).await?;
    let mut codes: BTreeMap<String, u64> = BTreeMap::new();
    for i in incidents["incidents"].as_array().into_iter().flatten() {
        *codes.entry(i["code"].as_str().unwrap_or("?").to_owned()).or_default() += 1;
    }
    for (code, n) in &codes {
        section.count(&format!("central incident {code}"), *n);
        if code != "unreachable" {
            section.fail(format!("the central recorded {n} incident(s) {code}: only unreachable is expected from network faults"));
        }
    }
    Ok(())
}

async fn run(
    bin: &Path,
    client: &reqwest::Client,
    seconds: f64,
    seed: u64,
    section: &mut Section,
) -> Result<(), String> {
    let mut rng = Rng::new(seed);
    let soak = Soak::start(bin, client).await?;
    let history = Arc::new(Mutex::new(History::default()));
    let seen = Arc::new(Mutex::new(Seen::default()));
    let counters = Arc::new(Counters {
        kills: Default::default(),
        restart_failures: AtomicU64::new(0),
        faults: Mutex::new(BTreeMap::new()),
        staleness_ms: Mutex::new(Vec::new()),
        interrupted: AtomicU64::new(0),
    });
    let stop = Arc::new(AtomicBool::new(false));
    // Bumped on every fault or kill: a staleness measurement spanning one is interrupted.
    let disturbances = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = spawn_editors(&soak, client, &history, &stop, seed);
    tasks.push(spawn_verifier(&soak, client, &seen, &stop));
    let end = started + Duration::from_secs_f64(seconds);
    schedule(&soak, client, &counters, &disturbances, &mut rng, end).await;
    heal(&soak, &stop, tasks).await?;
    let healed = Instant::now();
    section.note(format!("soaked for {:.0} s", healed.duration_since(started).as_secs_f64()));
    let (sizes, converge_ms) = converge(&soak, client, healed).await?;

    // The verifier finishes reading, through its (healed) proxy.
    let national =
        read_all(client, &soak.verifier_base(), &soak.trust, &soak.central_trust).await?;
    check(section, &history, &seen, &national, &sizes)?;
    report(section, &soak, &history, &seen, &counters)?;
    section.note(format!("final heal → converged: {converge_ms:.0} ms"));
    check_incidents(section, client, &soak.central_base).await?;
    drop(soak);
    Ok(())
}

/// After ministry `id`'s proxy healed: how long until the central holds what it had.
async fn staleness(
    client: reqwest::Client,
    ministry: String,
    central: String,
    id: &'static str,
    counters: Arc<Counters>,
    disturbances: Arc<AtomicU64>,
) {
    let healed = Instant::now();
    let before = disturbances.load(Ordering::SeqCst);
    let Ok(v) = get_json(&client, &format!("{ministry}/api/v1/log?after=0&limit=1")).await else {
        counters.interrupted.fetch_add(1, Ordering::SeqCst);
        return;
    };
    let Some(size) = v["size"].as_u64() else { return };
    loop {
        if disturbances.load(Ordering::SeqCst) != before
            || healed.elapsed() > Duration::from_secs(60)
        {
            counters.interrupted.fetch_add(1, Ordering::SeqCst);
            return;
        }
        if member_sizes(&client, &central)
            .await
            .is_ok_and(|s| s.get(id).is_some_and(|n| *n >= size))
        {
            if let Ok(mut s) = counters.staleness_ms.lock() {
                s.push(healed.elapsed().as_secs_f64() * 1000.0);
            }
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One national log entry as checked: (index, receipt digest, the member item if any:
/// (origin, member log index, item id, tag)).
type Checked = (u64, String, Option<(String, u64, String, Option<String>)>);

/// Verify a national log page from `after`: contiguous indices, each member record against
/// its ministry's key, each receipt against the central's and paired with the record.
fn check_page(
    v: &Value,
    after: u64,
    trust: &TrustStore,
    central: &TrustStore,
) -> Result<Vec<Checked>, String> {
    let mut out = Vec::new();
    for (e, expect) in v["entries"].as_array().into_iter().flatten().zip(after..) {
        let index = e["index"].as_u64().ok_or("an entry without index")?;
        let fail = |what: String| format!("national log entry {index}: {what}");
        if index != expect {
            return Err(fail(format!("expected index {expect}")));
        }
        if e.get("record").is_some() {
            let own = SignedRecord::from_json(e["record"].to_string().as_bytes())
                .map_err(|r| fail(format!("record envelope: {r}")))?;
            envelope::open(&own, central).map_err(|r| fail(format!("central's record: {r}")))?;
            out.push((index, own.digest().to_string(), None));
            continue;
        }
        let opened = open_national_entry(e, index, trust, central)?;
        let (record, receipt) = (opened.record, opened.receipt_envelope);
        let item = match record.record() {
            Record::Item(item) => Some((
                item.origin.to_string(),
                item.log_index,
                item.id.to_string(),
                tag_of(&item.title),
            )),
            _ => None,
        };
        out.push((index, receipt.digest().to_string(), item));
    }
    Ok(out)
}

/// The whole national log, verified, page by page.
async fn read_all(
    client: &reqwest::Client,
    base: &str,
    trust: &TrustStore,
    central: &TrustStore,
) -> Result<Vec<Checked>, String> {
    let mut out: Vec<Checked> = Vec::new();
    loop {
        let after = out.len() as u64;
        let v = get_json(client, &format!("{base}/api/v1/national/log?after={after}&limit=1000"))
            .await?;
        let page = check_page(&v, after, trust, central)?;
        let size = v["size"].as_u64().ok_or("national log page without size")?;
        if page.is_empty() && after < size {
            return Err(format!("national log: an empty page at {after} of {size}"));
        }
        out.extend(page);
        if out.len() as u64 >= size {
            return Ok(out);
        }
    }
}

/// The set-style checker.
fn check(
    section: &mut Section,
    history: &Mutex<History>,
    seen: &Mutex<Seen>,
    national: &[Checked],
    sizes: &BTreeMap<String, u64>,
) -> Result<(), String> {
    let h = history.lock().map_err(|_| "poisoned")?;
    let s = seen.lock().map_err(|_| "poisoned")?;
    for f in &s.failures {
        section.fail(format!("verifier during the soak: {f}"));
    }
    // An index whose receipt changed between the verifier's reading and the end.
    let mut resigned = 0u64;
    for (ix, digest) in &s.receipts {
        match national.get(*ix as usize) {
            Some((_, d, _)) if d == digest => {}
            _ => resigned += 1,
        }
    }
    section.count("national log entries (verified)", national.len() as u64);
    section.count("entries the verifier had read during the soak", s.receipts.len() as u64);
    section.count("indices signed twice (receipt changed)", resigned);
    // Per member: log indices in order, each once, no gap, up to the ministry's size.
    let mut by_member: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    let mut tags: BTreeMap<String, u64> = BTreeMap::new();
    let mut mismatched = 0u64;
    for (_, _, item) in national {
        let Some((origin, ix, id, tag)) = item else { continue };
        by_member.entry(origin.clone()).or_default().push(*ix);
        if let Some(tag) = tag {
            *tags.entry(tag.clone()).or_default() += 1;
            if let Some((m, acked_id, acked_ix)) = h.acked.get(tag)
                && (MINISTRIES[*m] != origin || acked_id != id || acked_ix != ix)
            {
                mismatched += 1;
            }
        }
    }
    let mut gaps = 0u64;
    for (m, ixs) in &by_member {
        let contiguous = ixs.iter().copied().eq(0..ixs.len() as u64);
        if !contiguous {
            gaps += 1;
            section.fail(format!(
                "{m}'s records in the national log are not 0..{} in order",
                ixs.len()
            ));
        }
        if sizes.get(m).is_some_and(|n| *n != ixs.len() as u64) {
            section.fail(format!(
                "{m}: its log has {:?} entries, the national log {}",
                sizes.get(m),
                ixs.len()
            ));
        }
    }
    let lost = h.acked.keys().filter(|t| !tags.contains_key(*t)).count() as u64;
    let unexpected =
        tags.keys().filter(|t| !h.acked.contains_key(*t) && !h.uncertain.contains(*t)).count()
            as u64;
    let duplicated = tags.values().filter(|n| **n > 1).count() as u64;
    let uncertain_in = h.uncertain.iter().filter(|t| tags.contains_key(*t)).count() as u64;
    section.count("lost (acknowledged, not in the national log)", lost);
    section.count("unexpected (in the national log, never published)", unexpected);
    section.count("duplicated", duplicated);
    section.count("members with a gap or disorder", gaps);
    section.count("acknowledged publishes at another index or id", mismatched);
    section.count("uncertain publishes that did land", uncertain_in);
    for (what, n) in [
        ("lost", lost),
        ("unexpected", unexpected),
        ("duplicated", duplicated),
        ("signed twice", resigned),
        ("at another index or id", mismatched),
    ] {
        if n > 0 {
            section.fail(format!("{n} record(s) {what}"));
        }
    }
    Ok(())
}

//! Hostile members: XML bombs (billion laughs, external entities), a gzip bomb, an endless
//! body and a drip-fed one, each served as the log page of a member whose descriptor is
//! genuinely signed, to a real central that also follows two healthy ministries (real
//! `portal serve` nodes with an editor publishing every 300 ms). Each attack must end at its
//! cap or deadline with an incident of the right code, and the healthy members' lag (publish
//! → the central has stored it) is measured before and during the attack.
//!
//! The XML bombs are also fed to `portal_proto::feed::decode_atom`, the one place that parses
//! XML from outside: each must be rejected quickly.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portal_tests::api::{add_member, get_json, member_sizes};
use portal_tests::fake::{Connections, FakeServer, Reply};
use serde_json::Value;

use super::Section;
use crate::federation::{FakeMember, fake_member, unix_now};
use crate::harness::{Portal, percentile, publish};

const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&lol9;</title></feed>"#;

const EXTERNAL_ENTITY: &str = r#"<?xml version="1.0"?>
<!DOCTYPE feed [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<feed xmlns="http://www.w3.org/2005/Atom"><title>&xxe;</title></feed>"#;

/// A quadratic blow-up: one 100 KB entity used 10,000 times.
fn quadratic() -> String {
    let big = "a".repeat(100_000);
    format!(
        "<?xml version=\"1.0\"?><!DOCTYPE feed [<!ENTITY a \"{big}\">]><feed \
         xmlns=\"http://www.w3.org/2005/Atom\"><title>{}</title></feed>",
        "&a;".repeat(10_000)
    )
}

fn gzip_bomb() -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1024 * 1024];
    for _ in 0..256 {
        let _ = enc.write_all(&zeros);
    }
    enc.finish().unwrap_or_default()
}

/// An attack: its name, the incident code the central must record, and the log page.
struct Attack {
    name: &'static str,
    expect: &'static str,
    reply: Arc<dyn Fn() -> Reply + Send + Sync>,
}

fn attacks() -> Vec<Attack> {
    let bomb = Arc::new(gzip_bomb());
    vec![
        Attack {
            name: "billion laughs (XML as the log page)",
            expect: "malformed",
            reply: Arc::new(|| Reply::ok("application/xml", BILLION_LAUGHS)),
        },
        Attack {
            name: "external entity (XML as the log page)",
            expect: "malformed",
            reply: Arc::new(|| Reply::ok("application/xml", EXTERNAL_ENTITY)),
        },
        Attack {
            name: "gzip bomb (256 MiB inflated from a small body)",
            expect: "too-large",
            reply: Arc::new(move || {
                Reply::json(bomb.as_ref().clone()).header("content-encoding", "gzip")
            }),
        },
        Attack {
            name: "endless body (no length, never ends)",
            expect: "too-large",
            reply: Arc::new(|| Reply::endless("application/json", vec![b' '; 64 * 1024])),
        },
        Attack {
            name: "drip-fed body (1 byte a second)",
            expect: "unreachable",
            reply: Arc::new(|| Reply::drip(vec![b' '; 100_000], Duration::from_secs(1))),
        },
    ]
}

/// The XML bombs against the Atom decoder: rejected, and quickly.
fn decoder_bombs(section: &mut Section) {
    for (name, doc) in [
        ("billion laughs", BILLION_LAUGHS.to_owned()),
        ("external entity", EXTERNAL_ENTITY.to_owned()),
        ("quadratic blow-up", quadratic()),
    ] {
        let t = Instant::now();
        let result = std::panic::catch_unwind(|| portal_proto::feed::decode_atom(doc.as_bytes()));
        let ms = t.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok(Err(r)) if ms < 2000.0 => {
                section.note(format!("decode_atom, {name}: rejected ({}) in {ms:.1} ms", r.code()))
            }
            Ok(Err(r)) => section.fail(format!(
                "decode_atom, {name}: rejected ({}) but only after {ms:.0} ms",
                r.code()
            )),
            Ok(Ok(_)) => section.fail(format!("decode_atom accepted the {name}")),
            Err(_) => section.fail(format!("decode_atom panicked on the {name}")),
        }
    }
}

/// A fake member answering its log endpoint with `attack`.
async fn hostile(k: usize, attack: &Attack) -> Result<(Arc<FakeMember>, FakeServer), String> {
    // The port is known only once bound, and the descriptor names it: bind, then sign.
    let server = FakeServer::try_start(Connections::KeepAlive).await?;
    let (member, _) = fake_member(k, server.port(), unix_now(), 10, false)?;
    let member = Arc::new(member);
    let (m, reply) = (Arc::clone(&member), Arc::clone(&attack.reply));
    server.fallback(move |r| {
        Some(if r.path.starts_with("/api/v1/log") { reply() } else { m.respond(r) })
    });
    Ok((member, server))
}

pub(crate) async fn bombs(bin: &Path, client: &reqwest::Client) -> Section {
    let mut section = Section::new("bombs and hostile members");
    decoder_bombs(&mut section);
    if let Err(e) = against_central(bin, client, &mut section).await {
        section.fail(e);
    }
    section
}

/// Publishes of the healthy members and when the central had stored each.
#[derive(Default)]
struct Lags {
    /// (member, log index, sent, seen by the central)
    publishes: Vec<(String, u64, Instant, Option<Instant>)>,
}

/// The central under attack (short timeouts, polling every second) and two healthy
/// ministries it follows.
struct Scene {
    central: Portal,
    healthy: Vec<Portal>,
    ids: Vec<String>,
}

impl Scene {
    async fn start(bin: &Path, client: &reqwest::Client) -> Result<Scene, String> {
        let central = Portal::start(
            bin,
            "chinh-phu",
            "Chính phủ",
            &[
                ("allow_private_members", "true"),
                ("poll_seconds", "1"),
                ("max_backoff_seconds", "2"),
                ("connect_timeout_seconds", "2"),
                ("read_timeout_seconds", "2"),
                ("request_timeout_seconds", "4"),
                ("unreachable_after_seconds", "3"),
            ],
        )?;
        let mut healthy = Vec::new();
        for id in ["bo-y-te", "bo-tai-chinh"] {
            let m = Portal::start(bin, id, id, &[("allow_private_callbacks", "true")])?;
            add_member(client, central.operator(), &m.base, &m.public_key).await?;
            healthy.push(m);
        }
        let ids: Vec<String> = ["bo-y-te", "bo-tai-chinh"].map(String::from).to_vec();
        Ok(Scene { central, healthy, ids })
    }
}

/// The watcher: when did the central store each publish?
fn watch(
    client: &reqwest::Client,
    central: &str,
    lags: &Arc<Mutex<Lags>>,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (lags, stop, client) = (Arc::clone(lags), Arc::clone(stop), client.clone());
    let base = central.to_owned();
    tokio::spawn(async move {
        while !stop.load(Ordering::SeqCst) {
            if let Ok(sizes) = member_sizes(&client, &base).await {
                let now = Instant::now();
                if let Ok(mut l) = lags.lock() {
                    for p in l.publishes.iter_mut().filter(|p| p.3.is_none()) {
                        if sizes.get(&p.0).is_some_and(|s| *s > p.1) {
                            p.3 = Some(now);
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// The healthy ministries publish in turn every 300 ms for `period`, from draft `first`; the
/// next draft number and the errors.
async fn publish_for(
    client: &reqwest::Client,
    scene: &Scene,
    lags: &Mutex<Lags>,
    period: Duration,
    first: usize,
) -> (usize, Vec<String>) {
    let end = Instant::now() + period;
    let mut k = first;
    let mut errors = Vec::new();
    while Instant::now() < end {
        for (id, m) in scene.ids.iter().zip(&scene.healthy) {
            let t0 = Instant::now();
            match publish(client, m, k).await {
                Ok((_, _, index)) => {
                    if let Ok(mut l) = lags.lock() {
                        l.publishes.push((id.clone(), index, t0, None));
                    }
                }
                Err(e) => errors.push(e),
            }
            k += 1;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    (k, errors)
}

/// Each attack ended in an incident of its code; the healthy members got none.
fn judge_incidents(
    section: &mut Section,
    incidents: &[Value],
    hostiles: &[(Arc<FakeMember>, FakeServer)],
    attacks: &[Attack],
    ids: &[String],
) {
    let mut by_member: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for i in incidents {
        let member = i["member"].as_str().unwrap_or_default().to_owned();
        by_member.entry(member).or_default().push(i["code"].as_str().unwrap_or("?").to_owned());
    }
    for ((m, _), a) in hostiles.iter().zip(attacks) {
        let got = by_member.get(m.id_str()).cloned().unwrap_or_default();
        if got.iter().any(|c| c == a.expect) {
            section.note(format!("{}: incident {} ({got:?})", a.name, a.expect));
            section.count(&format!("incident {}", a.expect), 1);
        } else {
            section.fail(format!("{}: expected an incident {}, got {got:?}", a.name, a.expect));
        }
    }
    for id in ids {
        if let Some(codes) = by_member.get(id) {
            section.fail(format!("the healthy member {id} got incidents {codes:?}"));
        }
    }
}

/// The healthy members' lag (publish → stored by the central) before and during the attack:
/// every publish stored, none much later than before.
fn judge_lags(
    section: &mut Section,
    l: &Lags,
    baseline_count: usize,
    attack_secs: f64,
    errors: &[String],
) {
    let ms = |range: std::ops::Range<usize>| -> (Vec<f64>, usize) {
        let mut out = Vec::new();
        let mut missing = 0;
        for p in &l.publishes[range] {
            match p.3 {
                Some(seen) => out.push(seen.duration_since(p.2).as_secs_f64() * 1000.0),
                None => missing += 1,
            }
        }
        (out, missing)
    };
    let (before, missing_before) = ms(0..baseline_count);
    let (during, missing_during) = ms(baseline_count..l.publishes.len());
    let describe = |v: &[f64]| {
        format!(
            "p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms ({} publishes)",
            percentile(v, 0.5),
            percentile(v, 0.99),
            v.iter().copied().fold(0.0, f64::max),
            v.len()
        )
    };
    section.note(format!("healthy members' lag before the attack: {}", describe(&before)));
    section.note(format!(
        "healthy members' lag during the attack ({attack_secs:.0} s, 5 hostile members): {}",
        describe(&during)
    ));
    section.count("healthy publishes", l.publishes.len() as u64);
    section.count("healthy publishes never stored", (missing_before + missing_during) as u64);
    if missing_before + missing_during > 0 {
        section.fail(format!(
            "{} healthy publishes were not stored by the central",
            missing_before + missing_during
        ));
    }
    // On time: during the attack no healthy publish waited longer than one poll interval
    // past the baseline's worst, with a 2 s floor for this shared machine.
    let worst_before = before.iter().copied().fold(0.0, f64::max);
    let worst_during = during.iter().copied().fold(0.0, f64::max);
    if worst_during > (worst_before + 1000.0).max(2000.0) {
        section.fail(format!(
            "a healthy member fell behind during the attack: {worst_during:.0} ms against \
             {worst_before:.0} ms before"
        ));
    }
    if !errors.is_empty() {
        section.fail(format!("{} publishes failed: {:?}", errors.len(), errors.first()));
    }
}

async fn against_central(
    bin: &Path,
    client: &reqwest::Client,
    section: &mut Section,
) -> Result<(), String> {
    let scene = Scene::start(bin, client).await?;
    let lags = Arc::new(Mutex::new(Lags::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch(client, &scene.central.base, &lags, &stop);
    let (k, mut errors) = publish_for(client, &scene, &lags, Duration::from_secs(15), 0).await;
    let baseline_count = lags.lock().map(|l| l.publishes.len()).unwrap_or(0);
    // The attack.
    let attacks = attacks();
    let mut hostiles = Vec::new();
    for (n, a) in attacks.iter().enumerate() {
        let (m, server) = hostile(n, a).await?;
        add_member(client, scene.central.operator(), &m.base, &m.public_key).await?;
        hostiles.push((m, server));
    }
    let attack_started = Instant::now();
    let (_, more) = publish_for(client, &scene, &lags, Duration::from_secs(30), k).await;
    errors.extend(more);
    // Let the last publishes land before judging.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::SeqCst);
    let _ = watcher.await;
    let attack_secs = attack_started.elapsed().as_secs_f64();

    let url = format!("{}/api/v1/incidents?limit=1000", scene.central.base);
    let incidents =
        get_json(client, &url).await?["incidents"].as_array().cloned().unwrap_or_default();
    judge_incidents(section, &incidents, &hostiles, &attacks, &scene.ids);
    let l = lags.lock().map_err(|_| "poisoned")?;
    judge_lags(section, &l, baseline_count, attack_secs, &errors);
    drop(l);
    let requests: u64 = hostiles.iter().map(|(_, s)| s.accepted()).sum();
    section.count("connections to the hostile members", requests);
    drop(scene);
    Ok(())
}

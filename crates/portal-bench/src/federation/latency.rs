//! Publish → national log: one real member node and two centrals following it, one with
//! WebSub push, one polling every second; each publish timed until the central's national log
//! shows it, in alternating rounds.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use portal_proto::envelope::TrustStore;
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Record};
use portal_tests::api::{add_member, get_json, metric, no_incidents, open_national_entry};
use serde_json::json;

use super::{
    CENTRAL_ID, MEMBER_ID, POLL_EVERY, POLL_P50_EXPECTED, POLL_P99_EXPECTED, PUBLISH_TIMEOUT,
    latency_plan, latency_row, latency_skipped, poll_row, say,
};
use crate::harness::{Harness, Portal, percentile, publish};
use crate::measure::{Row, median};

/// One central as the latency figure follows it.
struct Side<'a> {
    name: &'static str,
    central: &'a Portal,
    /// Where its national log was last read up to.
    after: u64,
    /// The last member item it showed.
    seen: String,
}

/// Poll the central's national log every 2 ms from where it was last read, recording when
/// each member item first appears (the arrival of the answer that showed it), until `done`
/// holds or `deadline` passes. Every entry is checked: the member record against the member's
/// key, the receipt against the central's, and the receipt acknowledges that record.
async fn watch_national(
    client: &reqwest::Client,
    side: &mut Side<'_>,
    member_trust: &TrustStore,
    deadline: Instant,
    done: impl Fn(&BTreeMap<String, Instant>) -> bool,
) -> Result<BTreeMap<String, Instant>, String> {
    let mut central_trust = TrustStore::new();
    let central_id = NodeId::new(CENTRAL_ID).map_err(|e| e.to_string())?;
    central_trust.add(central_id, KeyGrant::pinned(side.central.public_key.clone()));
    let mut seen = BTreeMap::new();
    while !done(&seen) {
        if Instant::now() > deadline {
            let members = get_json(client, &format!("{}/api/v1/members", side.central.base))
                .await
                .map_or_else(|e| e, |v| v.to_string());
            return Err(format!(
                "the {} central's national log did not show the publishes in time (read up to \
                 {}; {} new items seen); its GET /api/v1/members: {members}",
                side.name,
                side.after,
                seen.len()
            ));
        }
        let url =
            format!("{}/api/v1/national/log?after={}&limit=1000", side.central.base, side.after);
        let v = get_json(client, &url).await?;
        let arrived = Instant::now();
        for e in v["entries"].as_array().into_iter().flatten() {
            let index = e["index"].as_u64().ok_or("a national log entry without index")?;
            let opened = open_national_entry(e, index, member_trust, &central_trust)
                .map_err(|e| format!("{} central: {e}", side.name))?;
            let record = opened.record;
            side.after = index + 1;
            if let Record::Item(item) = record.record() {
                side.seen = item.id.to_string();
                seen.entry(item.id.to_string()).or_insert(arrived);
            }
        }
        if !done(&seen) {
            tokio::time::sleep(POLL_EVERY).await;
        }
    }
    Ok(seen)
}

/// Pauses between publishes: uniform in [100, 500) ms, the same sequence for both sides
/// (xorshift, fixed seed). Publishes then fall at times unrelated to the polling central's
/// schedule, as editors' do; publishing right after the previous item appeared would lock
/// onto it and measure a whole poll interval every time.
struct Pauses(u64);

impl Pauses {
    fn next(&mut self) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_millis(100 + self.0 % 400)
    }
}

/// Wait until the member's hub has an active subscription (the push central's).
async fn wait_subscription(client: &reqwest::Client, member: &Portal) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = client
            .get(format!("{}/metrics", member.base))
            .send()
            .await
            .map_err(|e| format!("metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("metrics: {e}"))?;
        if metric(&text, "portal_websub_subscriptions_active").is_some_and(|n| n >= 1.0) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err("the push central's WebSub subscription was not active after 30 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(super) fn latency_rows(h: &Harness, seconds: f64) -> Vec<Row> {
    let (rt, client, bin) = (&h.rt, &h.client, h.bin.as_path());
    match latency(rt, client, bin, seconds) {
        Ok(rows) => rows,
        Err(e) => {
            say!("latency FAILED: {e}");
            latency_skipped(&e)
        }
    }
}

/// The member and the two centrals following it, and the trust in the member's key.
struct Setup {
    member: Portal,
    push: Portal,
    poll: Portal,
    member_trust: TrustStore,
}

impl Setup {
    fn start(bin: &Path) -> Result<Setup, String> {
        let member =
            Portal::start(bin, MEMBER_ID, "Bộ Y tế", &[("allow_private_callbacks", "true")])?;
        let push =
            Portal::start(bin, CENTRAL_ID, "Chính phủ", &[("allow_private_members", "true")])?;
        let poll = Portal::start(
            bin,
            CENTRAL_ID,
            "Chính phủ",
            &[("allow_private_members", "true"), ("push", "false"), ("poll_seconds", "1")],
        )?;
        let mut member_trust = TrustStore::new();
        let member_id = NodeId::new(MEMBER_ID).map_err(|e| e.to_string())?;
        member_trust.add(member_id, KeyGrant::pinned(member.public_key.clone()));
        Ok(Setup { member, push, poll, member_trust })
    }
}

/// What the rounds measured: per round, the push and the poll samples (ms); and the
/// publishes' own 201 times.
struct Measured {
    per_round: Vec<[Vec<f64>; 2]>,
    acks: Vec<f64>,
}

/// Both centrals follow the member (push subscribed, 3 warm-up publishes); then `rounds`
/// alternating rounds of `per_turn` publishes per side, each timed until the side's national
/// log shows it. No incident on either central.
async fn measure(
    client: &reqwest::Client,
    s: &Setup,
    (rounds, per_turn): (usize, usize),
) -> Result<Measured, String> {
    let (member, member_trust) = (&s.member, &s.member_trust);
    let mut sides = [
        Side { name: "push", central: &s.push, after: 0, seen: String::new() },
        Side { name: "poll", central: &s.poll, after: 0, seen: String::new() },
    ];
    let mut per_round: Vec<[Vec<f64>; 2]> = Vec::new();
    let mut acks: Vec<f64> = Vec::new();
    let mut pauses = [Pauses(0x9E37_79B9_7F4A_7C15), Pauses(0x9E37_79B9_7F4A_7C15)];
    for side in &sides {
        add_member(client, side.central.operator(), &member.base, &member.public_key).await?;
    }
    wait_subscription(client, member).await?;
    say!("the push central's subscription is active; warming up with 3 publishes");
    let mut k = 0usize;
    let mut last = String::new();
    for _ in 0..3 {
        last = publish(client, member, k).await?.0;
        k += 1;
    }
    for round in 0..rounds {
        let order = if round % 2 == 0 { [0, 1] } else { [1, 0] };
        let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
        for s in order {
            let side = &mut sides[s];
            // Not timed: the central catches up with what was published for the other.
            if side.seen != last {
                let caught_up = |seen: &BTreeMap<String, Instant>| seen.contains_key(&last);
                let deadline = Instant::now() + PUBLISH_TIMEOUT;
                watch_national(client, side, member_trust, deadline, caught_up).await?;
            }
            let turn = &mut pauses[s];
            let publisher = async {
                let mut out = Vec::with_capacity(per_turn);
                for j in 0..per_turn {
                    tokio::time::sleep(turn.next()).await;
                    let t0 = Instant::now();
                    let (id, acked, _) = publish(client, member, k + j).await?;
                    out.push((id, t0, acked));
                }
                Ok::<_, String>(out)
            };
            let deadline =
                Instant::now() + PUBLISH_TIMEOUT + Duration::from_millis(500 * per_turn as u64);
            let watcher =
                watch_national(client, side, member_trust, deadline, |seen| seen.len() >= per_turn);
            let (published, seen) = tokio::try_join!(publisher, watcher)?;
            k += per_turn;
            for (id, t0, acked) in &published {
                let at = seen.get(id).ok_or_else(|| {
                    format!(
                        "published item {id} never appeared in the {} central's log",
                        sides[s].name
                    )
                })?;
                samples[s].push(at.duration_since(*t0).as_secs_f64() * 1000.0);
                acks.push(acked.duration_since(*t0).as_secs_f64() * 1000.0);
            }
            if let Some((id, _, _)) = published.last() {
                last = id.clone();
            }
        }
        say!(
            "  round {}: push p50 {:.1} ms, poll p50 {:.1} ms",
            round + 1,
            percentile(&samples[0], 0.5),
            percentile(&samples[1], 0.5)
        );
        per_round.push(samples);
    }
    for side in &sides {
        no_incidents(client, &side.central.base).await?;
    }
    Ok(Measured { per_round, acks })
}

fn latency(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    bin: &Path,
    seconds: f64,
) -> Result<Vec<Row>, String> {
    let (rounds, per_turn) = latency_plan(seconds);
    say!(
        "publish → national log: 1 member node, 2 centrals (push on; push off polling every \
         1 s); {rounds} alternating rounds of {per_turn} publishes per side"
    );
    let setup = Setup::start(bin)?;
    let push_poll_seconds = setup.push.setting("poll_seconds");
    let Measured { per_round, acks } = rt.block_on(measure(client, &setup, (rounds, per_turn)))?;
    let metrics = rt.block_on(async {
        client.get(format!("{}/metrics", setup.member.base)).send().await.ok()?.text().await.ok()
    });
    let delivered = metrics.as_deref().and_then(|m| metric(m, "portal_websub_delivered_total"));
    let failed =
        metrics.as_deref().and_then(|m| metric(m, "portal_websub_delivery_failures_total"));
    drop(setup);
    let pushes = (delivered, failed);
    Ok(latency_figures(&per_round, &acks, rounds, &push_poll_seconds, pushes))
}

/// The five rows from the samples; the chart and the samples written to `target/bench/`.
fn latency_figures(
    per_round: &[[Vec<f64>; 2]],
    acks: &[f64],
    rounds: usize,
    push_poll_seconds: &str,
    (delivered, failed): (Option<f64>, Option<f64>),
) -> Vec<Row> {
    let pooled = |s: usize| per_round.iter().flat_map(|r| r[s].iter().copied()).collect::<Vec<_>>();
    let (push_all, poll_all) = (pooled(0), pooled(1));
    let p50_ratios: Vec<f64> =
        per_round.iter().map(|r| percentile(&r[0], 0.5) / percentile(&r[1], 0.5)).collect();
    let common = vec![
        "lower is better: a ratio below 1 means push is faster".into(),
        format!(
            "{} publishes per side in {rounds} alternating rounds: one draft at a time through \
             POST /api/v1/items on a real member node (`portal serve`), 100–500 ms apart \
             (pseudo-random, the same pauses for both sides, so that publishes do not lock onto \
             the polling central's schedule), each timed from sending the POST until a \
             GET /api/v1/national/log?after=K of the central (polled every 2 ms throughout) \
             shows the item; the 201 itself took {:.1} ms (p50)",
            push_all.len(),
            percentile(acks, 0.5)
        ),
        format!(
            "push central: [aggregator] push = true, poll_seconds = {push_poll_seconds} (the \
             default); poll central: push = false, poll_seconds = 1 (±20 % jitter); both keep \
             following the member while the other is measured; every entry seen verified \
             (member record against the member's key, receipt against the central's), and \
             neither central recorded an incident"
        ),
        format!(
            "the member's hub delivered {} pushes ({} failures) for {} publishes",
            delivered.map_or("?".into(), |d| format!("{d:.0}")),
            failed.map_or("?".into(), |f| format!("{f:.0}")),
            acks.len() + 3
        ),
    ];
    let mut p50 = latency_row("p50");
    p50.value = percentile(&push_all, 0.5);
    p50.reference = percentile(&poll_all, 0.5);
    p50.ratio = median(p50_ratios);
    p50.notes = common;
    let pooled_row = |p: &str, q: f64| {
        let mut r = latency_row(p);
        r.value = percentile(&push_all, q);
        r.reference = percentile(&poll_all, q);
        r.ratio = r.value / r.reference;
        r.notes = vec![format!(
            "the ratio of the pooled {p}s ({} samples per side; too few per round for a \
             per-round {p}); lower is better",
            push_all.len()
        )];
        r
    };
    let p90 = pooled_row("p90", 0.9);
    let p99 = pooled_row("p99", 0.99);
    let mut poll50 = poll_row("p50", POLL_P50_EXPECTED);
    poll50.value = percentile(&poll_all, 0.5);
    poll50.reference = 500.0;
    poll50.ratio = poll50.value / poll50.reference;
    poll50.notes = vec![
        "the same samples as the reference column above, against what polling predicts: a \
         ratio near 1 means the poll loop adds nothing of its own"
            .into(),
    ];
    let mut poll99 = poll_row("p99", POLL_P99_EXPECTED);
    poll99.value = percentile(&poll_all, 0.99);
    poll99.reference = 1200.0;
    poll99.ratio = poll99.value / poll99.reference;
    poll99.notes =
        vec!["above 1: some publishes waited longer than one whole poll interval".into()];
    write_chart(&push_all, &poll_all);
    vec![p50, p90, p99, poll50, poll99]
}

/// `target/bench/latency.svg` and `latency.json`: the percentiles of both sides, and every
/// sample.
fn write_chart(push_all: &[f64], poll_all: &[f64]) {
    let quantiles = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99)];
    let groups: Vec<crate::chart::Group> = quantiles
        .iter()
        .map(|(label, q)| crate::chart::Group {
            label,
            values: vec![percentile(push_all, *q), percentile(poll_all, *q)],
        })
        .collect();
    let svg = crate::chart::bar_chart_log(
        &format!("publish → central's national log ({} publishes per side)", push_all.len()),
        "ms",
        &["WebSub push on", "push off, poll_seconds = 1"],
        &groups,
    );
    let samples = json!({"unit": "ms", "push": push_all, "poll": poll_all,
        "percentiles": quantiles.iter().map(|(label, q)| json!({"percentile": label,
            "push": percentile(push_all, *q), "poll": percentile(poll_all, *q)}))
            .collect::<Vec<_>>()});
    for (path, bytes) in [
        ("target/bench/latency.svg", svg.into_bytes()),
        ("target/bench/latency.json", samples.to_string().into_bytes()),
    ] {
        let _ = std::fs::create_dir_all("target/bench");
        match std::fs::write(path, bytes) {
            Ok(()) => say!("wrote {path}"),
            Err(e) => say!("could not write {path}: {e}"),
        }
    }
}

//! The backfill: a fresh central follows the fake members and stores every record, beside
//! raw `verify_strict` of the same signing inputs; its memory beside its idle memory.

use std::path::Path;
use std::time::{Duration, Instant};

use portal_proto::envelope::TrustStore;
use portal_proto::ids::NodeId;
use portal_proto::record::KeyGrant;
use portal_tests::api::{get_json, no_incidents, open_national_entry};

use super::members::{Served, raw_verify, start_fake_members};
use super::procfs::{ProcSampler, cpu_between, cpu_snapshot, cpu_text, mib, proc_kib};
use super::{
    BACKFILL_TIMEOUT, CENTRAL_ID, MEMBERS, RECORDS, RSS_EVERY, backfill_rounds, backfill_row,
    rss_row, say, skip,
};
use crate::harness::{Harness, Portal};
use crate::measure::{Row, median};

struct Backfill {
    rate: f64,
    secs: f64,
    add_secs: f64,
    idle_kib: u64,
    hwm_kib: u64,
    sampled_kib: u64,
    /// RssAnon and RssFile at the end of the backfill.
    anon_kib: u64,
    file_kib: u64,
    samples: usize,
    central_cpu: f64,
    central_threads: Vec<(String, f64)>,
    harness_cpu: f64,
    max_concurrent_syncs: String,
    check: String,
}

/// Poll `GET /api/v1/members` until each of `members` members has stored `records`;
/// incidents abort at once. Returns when it saw completion; an error after `timeout`.
pub(crate) async fn wait_backfill(
    client: &reqwest::Client,
    central: &Portal,
    t0: Instant,
    (members, records): (usize, usize),
    timeout: Duration,
) -> Result<Instant, String> {
    let url = format!("{}/api/v1/members", central.base);
    let mut polls = 0u64;
    let mut last_report = Instant::now();
    loop {
        let v = get_json(client, &url).await?;
        let seen = Instant::now();
        let rows = v["members"].as_array().cloned().unwrap_or_default();
        let sizes: Vec<u64> =
            rows.iter().map(|r| r["member"]["size"].as_u64().unwrap_or(0)).collect();
        let done = sizes.iter().filter(|s| **s == records as u64).count();
        if rows.len() == members && done == members {
            return Ok(seen);
        }
        polls += 1;
        if polls.is_multiple_of(10) {
            no_incidents(client, &central.base).await?;
        }
        if last_report.elapsed() > Duration::from_secs(10) {
            last_report = Instant::now();
            say!(
                "  {} of {} records stored, {done} members complete",
                sizes.iter().sum::<u64>(),
                members * records
            );
        }
        if t0.elapsed() > timeout {
            let errors: Vec<String> = rows
                .iter()
                .filter_map(|r| r["health"]["last_error"].as_str().map(str::to_owned))
                .take(3)
                .collect();
            return Err(format!(
                "backfill not complete after {} s: {} of {} records stored; errors: {errors:?}",
                timeout.as_secs(),
                sizes.iter().sum::<u64>(),
                members * records
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The national log holds exactly one receipt per member record; its last 1,000 entries
/// verify: each member record against its member's key, each receipt against the central's,
/// paired.
pub(crate) async fn check_national(
    client: &reqwest::Client,
    central: &Portal,
    members: &[Served],
) -> Result<String, String> {
    const RECORDS: usize = 1000;
    let per_member = members.first().map_or(0, |m| m.entries.len());
    let total = members.iter().map(|m| m.entries.len() as u64).sum::<u64>();
    let after = total.saturating_sub(RECORDS as u64);
    let url = format!("{}/api/v1/national/log?after={after}&limit=1000", central.base);
    let v = get_json(client, &url).await?;
    if v["size"].as_u64() != Some(total) {
        return Err(format!("CHECK FAILED: the national log has size {}, not {total}", v["size"]));
    }
    let mut trust = TrustStore::new();
    for m in members {
        trust.add(m.id.clone(), KeyGrant::pinned(m.public_key.clone()));
    }
    let mut central_trust = TrustStore::new();
    let central_id = NodeId::new(CENTRAL_ID).map_err(|e| e.to_string())?;
    central_trust.add(central_id, KeyGrant::pinned(central.public_key.clone()));
    let entries = v["entries"].as_array().ok_or("national log page without entries")?;
    for (e, index) in entries.iter().zip(after..) {
        open_national_entry(e, index, &trust, &central_trust)?;
    }
    if entries.len() != RECORDS {
        return Err(format!("CHECK FAILED: {} entries after {after}", entries.len()));
    }
    Ok(format!(
        "every member stored {per_member} records (GET /api/v1/members), 0 incidents, the \
         national log has exactly {total} entries, and its last {RECORDS} verify: each member record \
         against its member's pinned key, each receipt against the central's key and paired \
         with the record's digest"
    ))
}

fn backfill_once(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    bin: &Path,
    members: &[Served],
) -> Result<Backfill, String> {
    // PORTAL_BENCH_CACHE_MIB: sled's cache for the experiment (docs/benchmarks.md).
    let cache = std::env::var("PORTAL_BENCH_CACHE_MIB").ok().filter(|c| c.parse::<u64>().is_ok());
    let mut settings = vec![("allow_private_members", "true"), ("page_size", "1000")];
    if let Some(c) = &cache {
        settings.push(("cache_mib", c.as_str()));
    }
    let central = Portal::start(bin, CENTRAL_ID, "Chính phủ", &settings)?;
    let cache_mib = central.setting("cache_mib");
    let pid = central.pid();
    // Idle: the largest of 10 samples over the first second, no members.
    let mut idle_kib = 0;
    for _ in 0..10 {
        std::thread::sleep(RSS_EVERY);
        idle_kib = idle_kib.max(proc_kib(pid, "VmRSS").unwrap_or(0));
    }
    let pid_s = pid.to_string();
    let (cpu0, self0) = (cpu_snapshot(&pid_s), cpu_snapshot("self"));
    let sampler = ProcSampler::start(pid);
    let t0 = Instant::now();
    let outcome = rt.block_on(async {
        for m in members {
            portal_tests::api::add_member(client, central.operator(), &m.base, &m.public_key)
                .await?;
        }
        let added = t0.elapsed();
        let done =
            wait_backfill(client, &central, t0, (MEMBERS, RECORDS), BACKFILL_TIMEOUT).await?;
        Ok::<_, String>((added, done))
    });
    let sampled = sampler.finish();
    let hwm_kib = proc_kib(pid, "VmHWM").unwrap_or(0);
    let (anon_kib, file_kib) =
        (proc_kib(pid, "RssAnon").unwrap_or(0), proc_kib(pid, "RssFile").unwrap_or(0));
    let (mut cpu1, self1) = (cpu_snapshot(&pid_s), cpu_snapshot("self"));
    for (tid, t) in sampled.threads {
        cpu1.threads.entry(tid).or_insert(t);
    }
    let (added, done) = outcome?;
    rt.block_on(no_incidents(client, &central.base))?;
    let check = rt.block_on(check_national(client, &central, members))?;
    let secs = done.duration_since(t0).as_secs_f64();
    let (central_cpu, central_threads) = cpu_between(&cpu0, &cpu1);
    let (harness_cpu, _) = cpu_between(&self0, &self1);
    let max_concurrent_syncs = central.setting("max_concurrent_syncs");
    drop(central);
    let check = format!("{check}; [store] cache_mib = {cache_mib}");
    Ok(Backfill {
        rate: (MEMBERS * RECORDS) as f64 / secs,
        secs,
        add_secs: added.as_secs_f64(),
        idle_kib,
        hwm_kib,
        sampled_kib: sampled.max_rss_kib,
        anon_kib,
        file_kib,
        samples: sampled.samples,
        central_cpu,
        central_threads,
        harness_cpu,
        max_concurrent_syncs,
        check,
    })
}

pub(super) fn backfill_rows(h: &Harness, seconds: f64) -> Vec<Row> {
    let (rt, client, bin) = (&h.rt, &h.client, h.bin.as_path());
    let rounds = backfill_rounds(seconds);
    say!("generating {MEMBERS} members × {RECORDS} signed records (fake members, in the harness)");
    let t = Instant::now();
    let (members, raw) = match start_fake_members(rt, MEMBERS, RECORDS, true) {
        Ok(x) => x,
        Err(e) => {
            let reason = format!("generating the fake members: {e}");
            return vec![skip(backfill_row(), &reason), skip(rss_row(), &reason)];
        }
    };
    let avg = members.iter().flat_map(|m| m.entries.iter()).map(|e| e.len()).sum::<usize>()
        / (MEMBERS * RECORDS);
    say!(
        "{} members serving on 127.0.0.1 ({:.1} s to generate; log entries {avg} bytes of JSON on \
         average); {rounds} round(s), a fresh central each",
        members.len(),
        t.elapsed().as_secs_f64()
    );
    let mut results: Vec<Backfill> = Vec::new();
    let (mut raws, mut ratios) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let raw_first = round % 2 == 1;
        let mut raw_rate = 0.0;
        if raw_first {
            raw_rate = raw_verify(&raw);
        }
        let b = match backfill_once(rt, client, bin, &members) {
            Ok(b) => b,
            Err(e) => {
                let reason = format!("round {}: {e}", round + 1);
                say!("backfill FAILED: {reason}");
                return vec![skip(backfill_row(), &reason), skip(rss_row(), &reason)];
            }
        };
        if !raw_first {
            raw_rate = raw_verify(&raw);
        }
        say!(
            "  round {}: backfill {:.0} records/s ({:.1} s; members added in {:.1} s), raw \
             verify_strict {raw_rate:.0}/s; central RSS idle {:.1} MiB, peak {:.1} MiB",
            round + 1,
            b.rate,
            b.secs,
            b.add_secs,
            mib(b.idle_kib),
            mib(b.hwm_kib)
        );
        say!(
            "    central CPU {:.1} s in {:.1} s ({}); harness (fake members, HTTP client) {:.1} s",
            b.central_cpu,
            b.secs,
            cpu_text(&b.central_threads),
            b.harness_cpu
        );
        raws.push(raw_rate);
        ratios.push(b.rate / raw_rate);
        results.push(b);
    }
    backfill_figures(&members, &results, rounds, (raws, ratios))
}

/// The two rows from the rounds' results: the backfill rate and the central's memory.
fn backfill_figures(
    members: &[Served],
    results: &[Backfill],
    rounds: usize,
    (raws, ratios): (Vec<f64>, Vec<f64>),
) -> Vec<Row> {
    let avg = members.iter().flat_map(|m| m.entries.iter()).map(|e| e.len()).sum::<usize>()
        / (MEMBERS * RECORDS);
    let served: u64 = members.iter().map(|m| m.server.body_bytes()).sum();
    let requests: u64 = members.iter().map(|m| m.server.served()).sum();
    let Some(last) = results.last() else {
        return vec![skip(backfill_row(), "no round ran"), skip(rss_row(), "no round ran")];
    };
    let mut backfill = backfill_row();
    backfill.value = median(results.iter().map(|b| b.rate).collect());
    backfill.reference = median(raws);
    backfill.ratio = median(ratios);
    backfill.notes = vec![
        format!(
            "{rounds} alternating round(s), each a fresh central (`portal serve`, release) with \
             [aggregator] page_size = 1000, max_concurrent_syncs = {} (the default), \
             poll_seconds and everything else default; timed from the first \
             `POST /api/v1/admin/members` until `GET /api/v1/members` (polled every 100 ms) shows \
             {RECORDS} stored for all {MEMBERS}; adding the members took {:.1} s of the {:.1} s \
             (last round)",
            last.max_concurrent_syncs, last.add_secs, last.secs
        ),
        format!(
            "the members are fakes in the harness: {MEMBERS} origins on 127.0.0.1 served by one \
             tokio runtime (hand-written HTTP/1.1), with genuinely signed items (about {avg} \
             bytes of JSON per log entry), Merkle trees, checkpoints and descriptors; they \
             served {requests} requests and {:.0} MB over all rounds; the harness used {:.1} s \
             of CPU during the last round, on the same 2 cores as the central",
            served as f64 / 1e6,
            last.harness_cpu
        ),
        format!(
            "where the central's CPU went (last round, {:.1} s of CPU in {:.1} s, by thread \
             name): {}",
            last.central_cpu,
            last.secs,
            cpu_text(&last.central_threads)
        ),
        "the reference verifies the same 100,000 signing inputs with ed25519-dalek \
         verify_strict on one thread of the harness, while no central runs (before the \
         round's central starts or after it stops, alternately)"
            .into(),
        last.check.clone(),
    ];
    let mut rss = rss_row();
    rss.value = median(results.iter().map(|b| mib(b.hwm_kib)).collect());
    rss.reference = median(results.iter().map(|b| mib(b.idle_kib)).collect());
    rss.ratio =
        median(results.iter().map(|b| b.hwm_kib as f64 / b.idle_kib.max(1) as f64).collect());
    rss.notes = vec![
        "lower is better: the ratio is peak ÷ idle".into(),
        format!(
            "VmHWM of the central read from /proc at the end of the backfill; VmRSS sampled \
             every 100 ms during it peaked at {:.1} MiB ({} samples, last round); idle is the \
             largest of 10 VmRSS samples in the central's first second, with no members",
            mib(last.sampled_kib),
            last.samples
        ),
        format!(
            "at the end of the backfill (last round) the central's RSS was {:.1} MiB anonymous \
             (heap) and {:.1} MiB file-backed \
             (the binary, mapped files)",
            mib(last.anon_kib),
            mib(last.file_kib)
        ),
    ];
    vec![backfill, rss]
}

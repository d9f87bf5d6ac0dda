//! The scale suite (`cargo xtask bench scale`): a central holding 1,000,000 member records.
//!
//! Ten fake members (the federation suite's: genuinely signed logs served by the harness)
//! with 100,000 items each. A fresh central (`portal serve`, release) follows all ten and
//! ingests the million records; the harness then measures its memory:
//!
//! - after the ingest (VmRSS), beside the size of the central's data directory on disk;
//! - at its peak during the ingest (VmHWM), beside the same central idle with no members;
//! - idle after a restart (SIGTERM, `portal serve` again on the same data; idle once its CPU
//!   use stays under 5 % for 3 s), beside the same idle reference. The search index's commit
//!   marks say it is complete, so the restart indexes nothing again.
//!
//! `[store] cache_mib` is the node's default unless `PORTAL_BENCH_CACHE_MIB` says otherwise
//! (the experiment that compares sled's old 1 GiB cache with the new default).

use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::Row;
use crate::federation::{
    Portal, ProcSampler, add_member, check_national, cpu_snapshot, mib, no_incidents, proc_kib,
    start_fake_members, wait_backfill,
};
use crate::node::Harness;

/// When the suite started: progress lines carry the time since.
static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

macro_rules! say {
    ($($arg:tt)*) => {
        eprintln!(
            "scale [{:5.0} s]: {}",
            START.get_or_init(Instant::now).elapsed().as_secs_f64(),
            format!($($arg)*)
        )
    };
}

/// Members, and records in each: a million in all.
const MEMBERS: usize = 10;
const RECORDS: usize = 100_000;
/// An ingest that takes longer than this fails the rows.
const INGEST_TIMEOUT: Duration = Duration::from_secs(1500);
/// A restarted central that is still busy after this long is measured anyway (and said so).
const SETTLE_TIMEOUT: Duration = Duration::from_secs(300);

fn rows_named() -> [Row; 3] {
    let row = |name: &str, reference: &str| Row {
        name: name.into(),
        unit: "MiB",
        reference_name: reference.into(),
        decimals: 1,
        ..Row::default()
    };
    [
        row(
            "central RSS after ingesting 1,000,000 records (VmRSS)",
            "the central's data directory on disk (sled store + search index)",
        ),
        row(
            "central peak RSS while ingesting 1,000,000 records (VmHWM)",
            "the same central idle with 0 members (VmRSS)",
        ),
        row(
            "central RSS idle after a restart, 1,000,000 records stored (VmRSS)",
            "the same central idle with 0 members, before the ingest (VmRSS)",
        ),
    ]
}

fn skipped(reason: &str) -> Vec<Row> {
    say!("SKIPPED: {reason}");
    rows_named()
        .into_iter()
        .map(|mut r| {
            r.skipped = Some(reason.to_owned());
            r
        })
        .collect()
}

/// Bytes under `dir`, recursively (files only).
fn disk_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The largest of 10 VmRSS samples over a second.
fn idle_rss(pid: u32) -> u64 {
    let mut kib = 0;
    for _ in 0..10 {
        std::thread::sleep(Duration::from_millis(100));
        kib = kib.max(proc_kib(pid, "VmRSS").unwrap_or(0));
    }
    kib
}

/// Wait until the process used under 5 % of a core in each of 3 consecutive seconds; the time
/// it took, and whether it settled before `SETTLE_TIMEOUT`.
fn settle(pid: u32) -> (f64, bool) {
    let t0 = Instant::now();
    let pid_s = pid.to_string();
    let hz = crate::federation::clock_ticks();
    let mut quiet = 0;
    let mut last = cpu_snapshot(&pid_s).total;
    while t0.elapsed() < SETTLE_TIMEOUT {
        std::thread::sleep(Duration::from_secs(1));
        let now = cpu_snapshot(&pid_s).total;
        let used = now.saturating_sub(last) as f64 / hz;
        last = now;
        quiet = if used < 0.05 { quiet + 1 } else { 0 };
        if quiet >= 3 {
            return ((t0.elapsed().as_secs_f64() - 3.0).max(0.0), true);
        }
    }
    (t0.elapsed().as_secs_f64(), false)
}

pub(crate) fn scale() -> Vec<Row> {
    START.get_or_init(Instant::now);
    let Harness { bin, rt, client } = match Harness::new(Duration::from_secs(60), None) {
        Ok(h) => h,
        Err(e) => return skipped(&e),
    };
    let rows = match run(&rt, &client, &bin) {
        Ok(rows) => rows,
        Err(e) => skipped(&e),
    };
    drop(rt);
    say!("done");
    rows
}

fn run(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    bin: &Path,
) -> Result<Vec<Row>, String> {
    let cache_mib = std::env::var("PORTAL_BENCH_CACHE_MIB").ok();
    if let Some(c) = &cache_mib
        && c.parse::<u64>().map_or(true, |n| n == 0)
    {
        return Err(format!("PORTAL_BENCH_CACHE_MIB={c} is not a positive number of MiB"));
    }
    say!("generating {MEMBERS} members × {RECORDS} signed records (fake members, in the harness)");
    let t = Instant::now();
    let (members, _) = start_fake_members(rt, MEMBERS, RECORDS, false)
        .map_err(|e| format!("generating the fake members: {e}"))?;
    let generated = t.elapsed().as_secs_f64();
    let harness_kib = proc_kib(std::process::id(), "VmRSS").unwrap_or(0);
    say!(
        "{MEMBERS} members serving on 127.0.0.1 ({generated:.1} s to generate; the harness holds \
         {:.0} MiB)",
        mib(harness_kib)
    );
    let mut settings = vec![("allow_private_members", "true"), ("page_size", "1000")];
    if let Some(c) = &cache_mib {
        settings.push(("cache_mib", c.as_str()));
    }
    let mut central = Portal::start(bin, "chinh-phu", "Chính phủ", &settings)?;
    let cache_setting = central.setting("cache_mib");
    let pid = central.pid();
    let idle_kib = idle_rss(pid);
    let sampler = ProcSampler::start(pid);
    let t0 = Instant::now();
    say!("ingesting {} records (central idle at {:.1} MiB)", MEMBERS * RECORDS, mib(idle_kib));
    let outcome = rt.block_on(async {
        for m in &members {
            add_member(client, &central, &m.base, &m.public_key).await?;
        }
        wait_backfill(client, &central, t0, (MEMBERS, RECORDS), INGEST_TIMEOUT).await
    });
    let sampled = sampler.finish();
    let done = outcome?;
    let secs = done.duration_since(t0).as_secs_f64();
    let after_kib = proc_kib(pid, "VmRSS").unwrap_or(0);
    let hwm_kib = proc_kib(pid, "VmHWM").unwrap_or(0);
    let anon_kib = proc_kib(pid, "RssAnon").unwrap_or(0);
    rt.block_on(no_incidents(client, &central))?;
    let check = rt.block_on(check_national(client, &central, &members))?;
    let data = central.data();
    let (store_bytes, search_bytes) =
        (disk_bytes(&data.join("store")), disk_bytes(&data.join("search")));
    let disk_mib = (disk_bytes(&data)) as f64 / (1024.0 * 1024.0);
    say!(
        "ingested in {secs:.1} s ({:.0} records/s); RSS {:.1} MiB (peak {:.1}); on disk \
         {disk_mib:.0} MiB; restarting",
        (MEMBERS * RECORDS) as f64 / secs,
        mib(after_kib),
        mib(hwm_kib)
    );
    let t1 = Instant::now();
    central.restart()?;
    let restarted = t1.elapsed().as_secs_f64();
    let pid = central.pid();
    let (settled_after, settled) = settle(pid);
    let restart_kib = idle_rss(pid);
    let restart_hwm = proc_kib(pid, "VmHWM").unwrap_or(0);
    rt.block_on(no_incidents(client, &central))?;
    say!(
        "restarted in {restarted:.1} s, idle {settled_after:.0} s later at {:.1} MiB (peak {:.1})",
        mib(restart_kib),
        mib(restart_hwm)
    );
    drop(central);
    let served: u64 = members.iter().map(|m| m.bytes.load(Ordering::Relaxed)).sum();
    let [mut after, mut peak, mut idle] = rows_named();
    let cache_note = format!(
        "[store] cache_mib = {cache_setting} ({}); [aggregator] page_size = 1000, other settings \
         default",
        if cache_mib.is_some() { "set by PORTAL_BENCH_CACHE_MIB" } else { "the default" }
    );
    after.value = mib(after_kib);
    after.reference = disk_mib;
    after.ratio = after.value / disk_mib.max(f64::MIN_POSITIVE);
    after.notes = vec![
        "lower is better: the ratio is RSS ÷ bytes on disk".into(),
        format!(
            "{MEMBERS} fake members × {RECORDS} genuinely signed items (generated in \
             {generated:.1} s, served from the harness's memory: {:.0} MiB), ingested by one \
             fresh central in {secs:.1} s = {:.0} records/s, {:.0} MB served",
            mib(harness_kib),
            (MEMBERS * RECORDS) as f64 / secs,
            served as f64 / 1e6
        ),
        cache_note.clone(),
        format!(
            "on disk after the ingest: {:.0} MiB in store/ (sled), {:.0} MiB in search/ \
             (tantivy), {disk_mib:.0} MiB in all; RssAnon {:.1} MiB of the {:.1} MiB",
            store_bytes as f64 / (1024.0 * 1024.0),
            search_bytes as f64 / (1024.0 * 1024.0),
            mib(anon_kib),
            mib(after_kib)
        ),
        check,
    ];
    peak.value = mib(hwm_kib);
    peak.reference = mib(idle_kib);
    peak.ratio = hwm_kib as f64 / idle_kib.max(1) as f64;
    peak.notes = vec![
        "lower is better: the ratio is peak ÷ idle".into(),
        format!(
            "VmRSS sampled every 100 ms during the ingest peaked at {:.1} MiB ({} samples)",
            mib(sampled.max_rss_kib),
            sampled.samples
        ),
    ];
    idle.value = mib(restart_kib);
    idle.reference = mib(idle_kib);
    idle.ratio = restart_kib as f64 / idle_kib.max(1) as f64;
    idle.notes = vec![
        "lower is better: the ratio is idle with a million records ÷ idle empty".into(),
        format!(
            "SIGTERM, then `portal serve` on the same data: listening again {restarted:.1} s \
             later; {} after {settled_after:.0} s (the search index caught up from its commit \
             marks: nothing to re-index after a clean stop); its peak during that: {:.1} MiB (VmHWM); the largest of 10 samples over \
             the following second",
            if settled { "under 5 % CPU for 3 s" } else { "STILL BUSY, measured anyway," },
            mib(restart_hwm)
        ),
        cache_note,
    ];
    Ok(vec![after, peak, idle])
}

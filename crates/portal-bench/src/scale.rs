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
use std::time::{Duration, Instant};

use portal_tests::api::{add_member, no_incidents};

use crate::federation::{
    ProcSampler, check_national, clock_ticks, cpu_snapshot, mib, proc_kib, start_fake_members,
    wait_backfill,
};
use crate::harness::{Harness, Portal};
use crate::measure::{Progress, Row};

static P: Progress = Progress::new("scale");

macro_rules! say {
    ($($arg:tt)*) => { P.say(format!($($arg)*)) };
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
    let hz = clock_ticks();
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
    P.start();
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
            add_member(client, central.operator(), &m.base, &m.public_key).await?;
        }
        wait_backfill(client, &central, t0, (MEMBERS, RECORDS), INGEST_TIMEOUT).await
    });
    let sampled = sampler.finish();
    let done = outcome?;
    let secs = done.duration_since(t0).as_secs_f64();
    let after_kib = proc_kib(pid, "VmRSS").unwrap_or(0);
    let hwm_kib = proc_kib(pid, "VmHWM").unwrap_or(0);
    let anon_kib = proc_kib(pid, "RssAnon").unwrap_or(0);
    rt.block_on(no_incidents(client, &central.base))?;
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
    rt.block_on(no_incidents(client, &central.base))?;
    say!(
        "restarted in {restarted:.1} s, idle {settled_after:.0} s later at {:.1} MiB (peak {:.1})",
        mib(restart_kib),
        mib(restart_hwm)
    );
    drop(central);
    let served: u64 = members.iter().map(|m| m.server.body_bytes()).sum();
    let ingest = Ingest {
        cache_mib: cache_mib.is_some(),
        cache_setting,
        generated,
        harness_kib,
        secs,
        served,
        idle_kib,
        after_kib,
        hwm_kib,
        anon_kib,
        store_bytes,
        search_bytes,
        disk_mib,
        check,
        sampled_max_kib: sampled.max_rss_kib,
        sampled_samples: sampled.samples,
        restarted,
        settled_after,
        settled,
        restart_kib,
        restart_hwm,
    };
    Ok(ingest.rows())
}

/// `r`'s figures: `value_kib` beside `reference_kib`, in MiB, and their ratio.
fn measured(r: &mut Row, value_kib: u64, reference_kib: u64) {
    r.value = mib(value_kib);
    r.reference = mib(reference_kib);
    r.ratio = value_kib as f64 / reference_kib.max(1) as f64;
}

/// What the ingest and the restart measured.
struct Ingest {
    cache_mib: bool,
    cache_setting: String,
    generated: f64,
    harness_kib: u64,
    secs: f64,
    served: u64,
    idle_kib: u64,
    after_kib: u64,
    hwm_kib: u64,
    anon_kib: u64,
    store_bytes: u64,
    search_bytes: u64,
    disk_mib: f64,
    check: String,
    sampled_max_kib: u64,
    sampled_samples: usize,
    restarted: f64,
    settled_after: f64,
    settled: bool,
    restart_kib: u64,
    restart_hwm: u64,
}

impl Ingest {
    /// The three rows: RSS after the ingest, its peak, and idle after a restart.
    fn rows(&self) -> Vec<Row> {
        let (cache_setting, generated, secs) = (&self.cache_setting, self.generated, self.secs);
        let (disk_mib, restarted, settled_after) =
            (self.disk_mib, self.restarted, self.settled_after);
        let [mut after, mut peak, mut idle] = rows_named();
        let cache_note = format!(
            "[store] cache_mib = {cache_setting} ({}); [aggregator] page_size = 1000, other settings \
         default",
            if self.cache_mib { "set by PORTAL_BENCH_CACHE_MIB" } else { "the default" }
        );
        after.value = mib(self.after_kib);
        after.reference = disk_mib;
        after.ratio = after.value / disk_mib.max(f64::MIN_POSITIVE);
        after.notes = vec![
            "lower is better: the ratio is RSS ÷ bytes on disk".into(),
            format!(
                "{MEMBERS} fake members × {RECORDS} genuinely signed items (generated in \
             {generated:.1} s, served from the harness's memory: {:.0} MiB), ingested by one \
             fresh central in {secs:.1} s = {:.0} records/s, {:.0} MB served",
                mib(self.harness_kib),
                (MEMBERS * RECORDS) as f64 / secs,
                self.served as f64 / 1e6
            ),
            cache_note.clone(),
            format!(
                "on disk after the ingest: {:.0} MiB in store/ (sled), {:.0} MiB in search/ \
             (tantivy), {disk_mib:.0} MiB in all; RssAnon {:.1} MiB of the {:.1} MiB",
                self.store_bytes as f64 / (1024.0 * 1024.0),
                self.search_bytes as f64 / (1024.0 * 1024.0),
                mib(self.anon_kib),
                mib(self.after_kib)
            ),
            self.check.clone(),
        ];
        measured(&mut peak, self.hwm_kib, self.idle_kib);
        peak.notes = vec![
            "lower is better: the ratio is peak ÷ idle".into(),
            format!(
                "VmRSS sampled every 100 ms during the ingest peaked at {:.1} MiB ({} samples)",
                mib(self.sampled_max_kib),
                self.sampled_samples
            ),
        ];
        measured(&mut idle, self.restart_kib, self.idle_kib);
        idle.notes = vec![
            "lower is better: the ratio is idle with a million records ÷ idle empty".into(),
            format!(
                "SIGTERM, then `portal serve` on the same data: listening again {restarted:.1} s \
             later; {} after {settled_after:.0} s (the search index caught up from its commit \
             marks: nothing to re-index after a clean stop); its peak during that: {:.1} MiB (VmHWM); the largest of 10 samples over \
             the following second",
                if self.settled { "under 5 % CPU for 3 s" } else { "STILL BUSY, measured anyway," },
                mib(self.restart_hwm)
            ),
            cache_note,
        ];
        vec![after, peak, idle]
    }
}

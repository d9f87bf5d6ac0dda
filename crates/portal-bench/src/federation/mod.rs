//! The federation suite (`cargo xtask bench federation`): the aggregator, a central
//! `portal serve` (release build), on two jobs.
//!
//! - **Backfill.** A fresh central follows 100 members with 1,000 signed items each and
//!   fetches, verifies, receipts and stores all 100,000 records. Beside it, in the same run and
//!   in alternating rounds: raw ed25519-dalek `verify_strict` of the same 100,000 signing inputs
//!   on one core. The central's peak RSS is measured beside its own RSS idle with no members.
//!   The members are fakes served by this harness: 100 origins on 127.0.0.1 in one tokio
//!   runtime, 100 real nodes would swamp 2 cores. Their records, Merkle trees, checkpoints and
//!   descriptors are genuinely valid: the central verifies them like any others.
//! - **Publish → national log.** One real member node and two centrals following it: one with
//!   WebSub push (the default), one with push off polling every second. Each draft published
//!   through the member's editor API is timed until the central's national log shows it.
//!
//! Everything runs on 127.0.0.1. Every process is stopped by its own PID on every path out,
//!
//! `members` generates and serves the fake members, `procfs` reads memory and CPU time from
//! `/proc`, `backfill` and `latency` measure the two jobs.

mod backfill;
mod latency;
mod members;
mod procfs;

use std::time::Duration;

pub(crate) use backfill::{check_national, wait_backfill};
pub(crate) use members::{FakeMember, fake_member, start_fake_members, unix_now};
pub(crate) use procfs::{ProcSampler, clock_ticks, cpu_snapshot, mib, proc_kib};

use crate::harness::Harness;
use crate::measure::{Progress, Row};

static P: Progress = Progress::new("federation");

/// A progress line on standard error, with the seconds since the suite started.
macro_rules! say {
    ($($arg:tt)*) => { crate::federation::P.say(format!($($arg)*)) };
}
use say;

/// Members in the backfill.
const MEMBERS: usize = 100;
/// Records in each member's log.
const RECORDS: usize = 1000;
/// The central's id.
const CENTRAL_ID: &str = "chinh-phu";
/// The real member's id in the latency figure.
const MEMBER_ID: &str = "bo-y-te";
/// A backfill that takes longer than this fails.
const BACKFILL_TIMEOUT: Duration = Duration::from_secs(600);
/// A publish not in the national log after this long fails the latency figure.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(30);
/// How often the national log is polled while waiting for a publish.
const POLL_EVERY: Duration = Duration::from_millis(2);
/// How often the central's peak RSS is sampled during the backfill.
const RSS_EVERY: Duration = Duration::from_millis(100);

/// Backfill rounds: one per 3 s of `--seconds` (3 with the default 10), 1 to 5. Each round
/// is a fresh central and takes tens of seconds.
fn backfill_rounds(seconds: f64) -> usize {
    (seconds / 3.0).round().clamp(1.0, 5.0) as usize
}

/// Latency rounds and publishes per side per round: 10 × `--seconds` publishes per side
/// (at least 20) in 5 alternating rounds.
fn latency_plan(seconds: f64) -> (usize, usize) {
    let rounds = 5;
    let total = (10.0 * seconds).max(20.0) as usize;
    (rounds, total.div_ceil(rounds))
}

fn row(name: impl Into<String>, unit: &'static str, reference: &str, decimals: usize) -> Row {
    Row { name: name.into(), unit, reference_name: reference.into(), decimals, ..Row::default() }
}

fn skip(mut r: Row, reason: &str) -> Row {
    say!("{}: SKIPPED ({reason})", r.name);
    r.skipped = Some(reason.to_owned());
    r
}

fn backfill_row() -> Row {
    row(
        format!(
            "aggregator backfill, {MEMBERS} members × {RECORDS} records \
             (fetch + verify + receipt + store)"
        ),
        "records/s",
        "raw ed25519-dalek verify_strict, the same 100,000 records, 1 core",
        0,
    )
}

fn rss_row() -> Row {
    row(
        "central peak RSS during the backfill (VmHWM)",
        "MiB",
        "the same central idle with 0 members (VmRSS)",
        1,
    )
}

fn latency_row(p: &str) -> Row {
    row(
        format!("publish → central's national log, WebSub push on, {p}"),
        "ms",
        &format!("push off, poll_seconds = 1, {p}"),
        1,
    )
}

/// The polling central on its own: its latency beside what `poll_seconds = 1` predicts.
fn poll_row(p: &str, expected: &str) -> Row {
    row(
        format!("publish → central's national log, push off (poll_seconds = 1), {p}"),
        "ms",
        expected,
        1,
    )
}

/// Every latency row, in order, SKIPPED with `reason`.
fn latency_skipped(reason: &str) -> Vec<Row> {
    vec![
        skip(latency_row("p50"), reason),
        skip(latency_row("p90"), reason),
        skip(latency_row("p99"), reason),
        skip(poll_row("p50", POLL_P50_EXPECTED), reason),
        skip(poll_row("p99", POLL_P99_EXPECTED), reason),
    ]
}

/// What polling every second (±20 % jitter) predicts for publishes at random times.
const POLL_P50_EXPECTED: &str = "half the poll interval (expected median wait): 500 ms";

const POLL_P99_EXPECTED: &str = "the longest poll interval, 1 s + 20 % jitter: 1200 ms";

/// The federation suite. Never panics on a failure of the node: the rows are SKIPPED with it.
pub(crate) fn federation(seconds: f64) -> Vec<Row> {
    P.start();
    let all_skipped = |reason: &str| {
        let mut rows = vec![skip(backfill_row(), reason), skip(rss_row(), reason)];
        rows.extend(latency_skipped(reason));
        rows
    };
    let h = match Harness::new(Duration::from_secs(60), None) {
        Ok(h) => h,
        Err(e) => return all_skipped(&e),
    };
    let mut rows = backfill::backfill_rows(&h, seconds);
    rows.extend(latency::latency_rows(&h, seconds));
    drop(h);
    say!("done");
    rows
}

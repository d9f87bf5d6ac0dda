//! `cargo xtask soak [--minutes N] [--seed S]` (this harness's `soak` command): the long
//! reliability suites the default test run skips. The kill -9 crash loops are run by xtask
//! itself (`PORTAL_CRASH_LOOP=1`, the e2e tests); this part runs, in order:
//!
//! 1. `corpus` — the malformed-input corpus through every decoder of untrusted bytes;
//! 2. `ssrf` — the SSRF matrix against the aggregator's fetcher and `portal member add`;
//! 3. `bombs` — XML, gzip, endless and drip-fed bombs from hostile members, healthy members'
//!    lag measured meanwhile;
//! 4. `faults` — the fault soak, for N minutes (default 10), then its convergence and checks.
//!
//! Every section prints its counts; any failed invariant makes the exit status 1.

mod bombs;
mod corpus;
mod faults;
mod proxy;
mod ssrf;

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// One part's outcome: counts, notes, and failed invariants.
pub(crate) struct Section {
    name: &'static str,
    counts: Vec<(String, u64)>,
    notes: Vec<String>,
    failures: Vec<String>,
    seconds: f64,
}

impl Section {
    pub(crate) fn new(name: &'static str) -> Section {
        Section { name, counts: Vec::new(), notes: Vec::new(), failures: Vec::new(), seconds: 0.0 }
    }
    pub(crate) fn count(&mut self, what: &str, n: u64) {
        self.counts.push((what.to_owned(), n));
    }
    pub(crate) fn note(&mut self, what: String) {
        eprintln!("soak: {}: {what}", self.name);
        self.notes.push(what);
    }
    pub(crate) fn fail(&mut self, what: String) {
        eprintln!("soak: {}: FAILED: {what}", self.name);
        self.failures.push(what);
    }
}

/// xorshift64*: the soak's schedule, repeatable from its seed.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `0..n` (n > 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi.saturating_sub(lo).max(1)))
    }
}

const USAGE: &str =
    "usage: portal-bench soak [--minutes N] [--seed S] [--only corpus|ssrf|bombs|faults]";

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Run the soak; the process exit status (0 all invariants held, 1 one failed, 2 usage).
pub(crate) fn main(args: &[String]) -> i32 {
    let mut minutes = 10.0f64;
    let mut seed = None;
    let mut only: Option<String> = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().unwrap_or_default();
        match a.as_str() {
            "--minutes" => minutes = value().parse().unwrap_or(f64::NAN),
            "--seed" => seed = Some(value().parse::<u64>().unwrap_or(0)),
            "--only" => only = Some(value()),
            "--help" | "-h" => {
                println!("{USAGE}");
                return 0;
            }
            other => {
                eprintln!("unknown argument {other}; {USAGE}");
                return 2;
            }
        }
    }
    if minutes.is_nan() || minutes <= 0.0 {
        eprintln!("--minutes must be a positive number; {USAGE}");
        return 2;
    }
    if only.as_deref().is_some_and(|o| !["corpus", "ssrf", "bombs", "faults"].contains(&o)) {
        eprintln!("--only takes corpus, ssrf, bombs or faults; {USAGE}");
        return 2;
    }
    let seed = seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
    });
    let start = Instant::now();
    eprintln!("soak: the fault soak runs {minutes} minutes; seed {seed}");
    let wants = |part: &str| only.as_deref().is_none_or(|o| o == part);
    let crate::harness::Harness { bin, rt, client } =
        match crate::harness::Harness::new(Duration::from_secs(30), None) {
            Ok(h) => h,
            Err(e) => {
                eprintln!("soak: {e}");
                return 1;
            }
        };
    let root = workspace_root();
    let mut sections = Vec::new();
    let timed = |s: Section, t: Instant| Section { seconds: t.elapsed().as_secs_f64(), ..s };
    rt.block_on(async {
        if wants("corpus") {
            let t = Instant::now();
            sections.push(timed(corpus::corpus(&root).await, t));
        }
        if wants("ssrf") {
            let t = Instant::now();
            sections.push(timed(ssrf::ssrf(&bin).await, t));
        }
        if wants("bombs") {
            let t = Instant::now();
            sections.push(timed(bombs::bombs(&bin, &client).await, t));
        }
        if wants("faults") {
            let t = Instant::now();
            sections.push(timed(faults::faults(&bin, &client, minutes * 60.0, seed).await, t));
        }
    });
    drop(rt);
    let failed: usize = sections.iter().map(|s| s.failures.len()).sum();
    println!();
    println!("soak summary (seed {seed}, {:.0} s)", start.elapsed().as_secs_f64());
    for s in &sections {
        println!();
        println!(
            "## {} ({:.0} s): {}",
            s.name,
            s.seconds,
            if s.failures.is_empty() {
                "ok".to_owned()
            } else {
                format!("{} FAILED", s.failures.len())
            }
        );
        for (what, n) in &s.counts {
            println!("- {what}: {n}");
        }
        for n in &s.notes {
            println!("- {n}");
        }
        for f in &s.failures {
            println!("- FAILED: {f}");
        }
    }
    println!();
    if failed == 0 {
        println!("soak: every invariant held");
        0
    } else {
        println!("soak: {failed} invariant(s) FAILED");
        1
    }
}

//! The harness's measuring parts: a table row, medians, two workloads in alternating rounds,
//! the raw Ed25519 reference, and a suite's progress lines.

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signature, VerifyingKey};
use portal_proto::envelope::{SignedRecord, signing_input};
use portal_proto::record::RecordType;

/// One row of the table.
#[derive(Default)]
pub(crate) struct Row {
    pub(crate) name: String,
    pub(crate) unit: &'static str,
    pub(crate) value: f64,
    pub(crate) reference_name: String,
    pub(crate) reference: f64,
    pub(crate) ratio: f64,
    /// Decimals printed for value and reference (0 unless set: milliseconds want some).
    pub(crate) decimals: usize,
    pub(crate) target: Option<f64>,
    /// Why the row was not measured: printed as "SKIPPED (reason)", never dropped silently.
    pub(crate) skipped: Option<String>,
    /// What was checked during the measurement, and differences between the two sides.
    pub(crate) notes: Vec<String>,
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Run `a` and `b` in alternating rounds for about `budget`; return the median rate of each
/// (operations per second, `n` operations per call) and the median of per-round ratios a/b.
pub(crate) fn side_by_side(
    budget: Duration,
    n: usize,
    mut a: impl FnMut(),
    mut b: impl FnMut(),
) -> (f64, f64, f64) {
    let (mut ra, mut rb, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let start = Instant::now();
    let mut round = 0;
    while round < 5 || (start.elapsed() < budget && round < 200) {
        let time = |f: &mut dyn FnMut()| {
            let t = Instant::now();
            f();
            n as f64 / t.elapsed().as_secs_f64()
        };
        // Alternate which goes first, so neither always runs on a warmer cache or cooler CPU.
        let (x, y) = if round % 2 == 0 {
            let x = time(&mut a);
            (x, time(&mut b))
        } else {
            let y = time(&mut b);
            (time(&mut a), y)
        };
        ra.push(x);
        rb.push(y);
        ratios.push(x / y);
        round += 1;
    }
    (median(ra), median(rb), median(ratios))
}

/// The signing input and signature of each item record, for the raw reference.
pub(crate) fn raw_inputs(signed: &[SignedRecord]) -> Vec<(Vec<u8>, Signature)> {
    signed
        .iter()
        .map(|s| (signing_input(RecordType::Item, s.bytes()), Signature::from_bytes(s.sig())))
        .collect()
}

/// The raw reference: ed25519-dalek `verify_strict` of each input.
pub(crate) fn raw_verify_all(vk: &VerifyingKey, raw: &[(Vec<u8>, Signature)]) {
    for (msg, sig) in raw {
        assert!(vk.verify_strict(black_box(msg), sig).is_ok());
    }
}

/// A suite's progress lines on standard error, each with the seconds since the suite started.
pub(crate) struct Progress {
    suite: &'static str,
    start: std::sync::OnceLock<Instant>,
}

impl Progress {
    pub(crate) const fn new(suite: &'static str) -> Progress {
        Progress { suite, start: std::sync::OnceLock::new() }
    }

    /// Start the clock (the first line starts it otherwise).
    pub(crate) fn start(&self) {
        self.start.get_or_init(Instant::now);
    }

    pub(crate) fn say(&self, msg: impl std::fmt::Display) {
        let secs = self.start.get_or_init(Instant::now).elapsed().as_secs_f64();
        eprintln!("{} [{secs:5.0} s]: {msg}", self.suite);
    }
}

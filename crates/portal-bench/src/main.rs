//! The benchmark harness: `cargo xtask bench [SUITE…] [--seconds N] [--json PATH]`, where a
//! suite is one of [`SUITES`] (all of them, in that order, when none is named).
//!
//! Shared 2-core machines drift up to 2x between runs, so no figure is printed alone: each is
//! measured beside a reference on the same data in the same run, in alternating rounds (ABAB…),
//! and reported with the median of the per-round ratios. A row that cannot be measured (a tool
//! missing) is printed as SKIPPED with its reason, never dropped. See docs/benchmarks.md.

mod chart;
mod drafts;
mod federation;
mod harness;
mod measure;
mod node;
mod scale;
mod soak;
mod verify;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use portal_proto::envelope::{self, SignedRecord, TrustStore};
use portal_proto::ids::{ItemId, NodeId};
use portal_proto::record::*;
use portal_proto::time::Timestamp;
use portal_tests::fixtures::{TestKey, bulletin};

use measure::{Row, raw_inputs, raw_verify_all, side_by_side};

/// The proto suite's signing key (a fixed seed, like every key of the test kit).
const BENCH_KEY: TestKey = TestKey { name: "bench key", seed: [42; 32] };

/// The benchmark's item record `i` of `bo-y-te` (the kit's bulletin, about 1.5 KB signed).
fn item(i: usize) -> ItemVersion {
    let t = Timestamp::from_unix(1_795_856_400 + i as u64).expect("in range");
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(i as u64).to_be_bytes());
    bulletin(NodeId::new("bo-y-te").expect("valid"), i, ItemId::from_random(bytes), t)
}

fn proto(budget: Duration) -> Vec<Row> {
    const N: usize = 500;
    let signer = BENCH_KEY.signer();
    let records: Vec<ItemVersion> = (0..N).map(item).collect();
    let signed: Vec<SignedRecord> =
        records.iter().map(|r| envelope::sign(r, &signer).expect("valid record")).collect();
    let avg = signed.iter().map(|s| s.bytes().len()).sum::<usize>() / N;
    eprintln!("proto: {N} item records, {avg} bytes each on average");
    let mut trust = TrustStore::new();
    trust.add(NodeId::new("bo-y-te").expect("valid"), KeyGrant::pinned(signer.public_key()));

    // The reference: ed25519-dalek verify_strict over exactly the bytes we verify.
    let vk = VerifyingKey::from_bytes(signer.public_key().as_bytes()).expect("valid key");
    let raw = raw_inputs(&signed);
    let raw_verify = || raw_verify_all(&vk, &raw);
    let record_verify = || {
        for s in &signed {
            assert!(envelope::open(black_box(s), &trust).is_ok());
        }
    };
    let (ours, reference, ratio) = side_by_side(budget, N, record_verify, raw_verify);
    let mut rows = vec![Row {
        name: "record verify (parse + canonical check + schema + verify_strict)".into(),
        unit: "records/s",
        value: ours,
        reference_name: "raw ed25519-dalek verify_strict, same bytes".into(),
        reference,
        ratio,
        target: Some(0.9),
        ..Row::default()
    }];

    let sk = ed25519_dalek::SigningKey::from_bytes(&BENCH_KEY.seed);
    let raw_sign = || {
        for (msg, _) in &raw {
            black_box(ed25519_dalek::Signer::sign(&sk, black_box(msg)));
        }
    };
    let record_sign = || {
        for r in &records {
            black_box(envelope::sign(black_box(r), &signer).expect("valid"));
        }
    };
    let (ours, reference, ratio) = side_by_side(budget, N, record_sign, raw_sign);
    rows.push(Row {
        name: "record sign (validate + canonicalise + sign)".into(),
        unit: "records/s",
        value: ours,
        reference_name: "raw ed25519-dalek sign, same bytes".into(),
        reference,
        ratio,
        target: None,
        ..Row::default()
    });
    let (ours, reference, ratio) = side_by_side(budget, N, record_sign, raw_verify);
    rows.push(Row {
        name: "record sign (validate + canonicalise + sign)".into(),
        unit: "records/s",
        value: ours,
        reference_name: "raw ed25519-dalek verify_strict, same bytes".into(),
        reference,
        ratio,
        target: None,
        ..Row::default()
    });
    rows
}

/// Every suite, in the order a run without arguments measures them.
const SUITES: &[&str] = &["proto", "node", "federation", "verify", "scale"];

/// The rows of one suite.
fn run_suite(suite: &str, seconds: f64) -> Vec<Row> {
    let budget = Duration::from_secs_f64(seconds);
    match suite {
        "proto" => proto(budget),
        "node" => node::node(seconds),
        "federation" => federation::federation(seconds),
        "verify" => verify::verify(seconds),
        "scale" => scale::scale(),
        _ => Vec::new(),
    }
}

const USAGE: &str = "usage: portal-bench [SUITE…] [--seconds N] [--json PATH]; suites: proto, node, \
                     federation, verify, scale (all when none is named)";

/// The machine, for the record: cores and CPU model.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores available, {model}")
}

/// What the command line asks for.
struct Args {
    seconds: f64,
    json_path: Option<String>,
    suites: Vec<String>,
}

/// Parse the suites' command line; `Err(code)` to exit with (0 after `--help`).
fn parse_args(args: &[String]) -> Result<Args, i32> {
    // 10 s per row when suites are named; 6 when every suite runs, so that the whole run
    // (the scale suite alone takes about 9 minutes) fits in 15 minutes on 2 cores.
    let mut seconds: Option<f64> = None;
    let mut json_path = None;
    let mut suites = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = Some(it.next().and_then(|s| s.parse().ok()).unwrap_or(f64::NAN))
            }
            "--json" => json_path = it.next().cloned(),
            "--help" | "-h" => {
                println!("{USAGE}");
                return Err(0);
            }
            s if SUITES.contains(&s) => suites.push(a.clone()),
            other => {
                eprintln!("unknown argument {other}; {USAGE}");
                return Err(2);
            }
        }
    }
    let seconds = seconds.unwrap_or(if suites.is_empty() { 6.0 } else { 10.0 });
    if seconds.is_nan() || seconds <= 0.0 {
        eprintln!("--seconds must be positive; {USAGE}");
        return Err(2);
    }
    if suites.is_empty() {
        suites = SUITES.iter().map(|s| (*s).to_owned()).collect();
    }
    Ok(Args { seconds, json_path, suites })
}

/// The table, then every row's checks and notes, on standard output.
fn print_table(machine: &str, rows: &[(String, Row)], suites: &[String], wall: f64) {
    println!();
    println!("machine: {machine}");
    println!();
    println!("| figure | value | reference | reference value | ratio | target |");
    println!("|---|---:|---|---:|---:|---:|");
    for (_, r) in rows {
        let target = r.target.map_or("—".to_owned(), |t| match &r.skipped {
            Some(_) => format!("≥ {t:.2}"),
            None => format!("≥ {t:.2} {}", if r.ratio >= t { "✓" } else { "✗" }),
        });
        match &r.skipped {
            Some(reason) => println!(
                "| {} | SKIPPED ({reason}) | {} | — | — | {} |",
                r.name, r.reference_name, target
            ),
            None => println!(
                "| {} | {:.*} {} | {} | {:.*} | {:.3} | {} |",
                r.name,
                r.decimals,
                r.value,
                r.unit,
                r.reference_name,
                r.decimals,
                r.reference,
                r.ratio,
                target
            ),
        }
    }
    let noted: Vec<&Row> = rows.iter().map(|(_, r)| r).filter(|r| !r.notes.is_empty()).collect();
    if !noted.is_empty() {
        println!();
        println!("Checks and notes:");
        for r in noted {
            println!("- {} / {}:", r.name, r.reference_name);
            for n in &r.notes {
                println!("  - {n}");
            }
        }
    }
    println!();
    println!("suites: {} in {wall:.0} s", suites.join(", "));
}

/// What one run measured, for `bench.json`.
struct Run<'a> {
    machine: &'a str,
    started: std::time::SystemTime,
    seconds: f64,
    timings: Vec<serde_json::Value>,
    wall: f64,
}

/// The run as JSON at `path` (default `target/bench/bench.json`).
fn write_json(path: Option<String>, run: Run<'_>, rows: &[(String, Row)]) {
    let json_rows: Vec<serde_json::Value> = rows
        .iter()
        .map(|(suite, r)| {
            // A skipped row has no figures: null, not a misleading 0.
            let measured = |v: f64| r.skipped.is_none().then_some(v);
            let target_met = r.target.filter(|_| r.skipped.is_none()).map(|t| r.ratio >= t);
            serde_json::json!({"suite": suite, "figure": r.name, "unit": r.unit,
                "value": measured(r.value), "reference": r.reference_name,
                "reference_value": measured(r.reference), "ratio": measured(r.ratio),
                "target": r.target, "target_met": target_met, "skipped": r.skipped,
                "notes": r.notes})
        })
        .collect();
    let unix = run.started.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let json = serde_json::json!({
        "machine": run.machine,
        "started_unix": unix,
        "build": if cfg!(debug_assertions) { "debug" } else { "release" },
        "seconds": run.seconds,
        "suites": run.timings,
        "wall_seconds": run.wall,
        "rows": json_rows,
    });
    let path = path.unwrap_or_else(|| "target/bench/bench.json".into());
    if let Some(dir) = std::path::Path::new(&path).parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    match std::fs::write(&path, serde_json::to_string_pretty(&json).expect("serialises")) {
        Ok(()) => eprintln!("wrote {path}"),
        Err(e) => eprintln!("could not write {path}: {e}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "soak") {
        std::process::exit(soak::main(&args[1..]));
    }
    let Args { seconds, json_path, suites } = match parse_args(&args) {
        Ok(a) => a,
        Err(0) => return,
        Err(code) => std::process::exit(code),
    };
    if cfg!(debug_assertions) {
        eprintln!("warning: debug build; run `cargo xtask bench` for release-mode figures");
    }
    let machine = machine();
    eprintln!("machine: {machine}");
    let started = std::time::SystemTime::now();
    let run_start = Instant::now();
    let mut rows = Vec::new();
    let mut timings = Vec::new();
    for s in &suites {
        let t = Instant::now();
        let suite_rows = run_suite(s, seconds);
        let secs = t.elapsed().as_secs_f64();
        eprintln!("suite {s}: {} rows in {secs:.0} s", suite_rows.len());
        timings.push(serde_json::json!({"suite": s, "seconds": secs, "rows": suite_rows.len()}));
        rows.extend(suite_rows.into_iter().map(|r| (s.clone(), r)));
    }
    let wall = run_start.elapsed().as_secs_f64();
    print_table(&machine, &rows, &suites, wall);
    let run = Run { machine: &machine, started, seconds, timings, wall };
    write_json(json_path, run, &rows);
}

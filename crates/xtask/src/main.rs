//! Project automation in Rust (matklad's xtask pattern): `cargo xtask <command>`.
//!
//! - `cargo xtask ci`       — what `.ci/run` runs: fmt check, clippy -D warnings, the tests.
//! - `cargo xtask vectors`  — regenerate `proto-spec/vectors/` from the code (review the diff!).
//! - `cargo xtask bench [SUITE…] [--seconds N] [--json PATH]` — build in release mode and print
//!   the benchmark table (every suite by default; `portal-bench --help` lists them; see
//!   docs/benchmarks.md). Honours `CARGO_TARGET_DIR`: cargo names the executables it built.
//! - `cargo xtask soak [--minutes N] [--seed S] [--only PART]` — the long reliability suites:
//!   every build first (timed apart), then the kill -9 crash loops at 20 rounds
//!   (`PORTAL_CRASH_LOOP=1`, the e2e tests), then the harness's `soak` (malformed corpus, SSRF
//!   matrix, bombs, and the fault soak for N minutes, default 10). Prints a summary; exits
//!   non-zero if any invariant failed.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

fn run(mut c: Command) -> Result<(), String> {
    eprintln!("$ {c:?}");
    let status = c.status().map_err(|e| format!("cannot start {c:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{c:?} failed: {status}")) }
}

fn ci() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]);
    run(clippy)?;
    let mut test = cargo();
    test.args(["test", "--workspace"]);
    run(test)
}

fn vectors() -> Result<(), String> {
    let mut c = cargo();
    c.env("IPSP_UPDATE_VECTORS", "1").args([
        "test",
        "-p",
        "portal-tests",
        "--test",
        "e2e",
        "--",
        "vectors::",
        "--nocapture",
    ]);
    run(c)?;
    eprintln!(
        "vectors regenerated: review `git diff proto-spec/` and update SPEC.md and schemas with them"
    );
    Ok(())
}

/// Build the harness and the node in release mode; the harness's path.
fn build_harness() -> Result<PathBuf, String> {
    // Build the harness and the node binary it measures in one cargo invocation, so both see
    // the same feature resolution: building them separately (`cargo run -p portal-bench`, then
    // `cargo build -p portal` from the harness) recompiles shared dependencies back and forth on
    // every run. The harness's own `cargo build -p portal -p portal-bench` is then a no-op.
    let packages = ["build", "--release", "-p", "portal-bench", "-p", "portal"];
    let mut build = cargo();
    build.args(packages);
    run(build)?;
    // The same build again (a no-op now), for cargo to name the harness executable.
    let mut locate = cargo();
    locate
        .args(packages)
        .arg("--message-format=json")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let out = locate.output().map_err(|e| format!("cannot start {locate:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!("{locate:?} failed: {}", out.status));
    }
    let harness = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"compiler-artifact\"") && l.contains("\"name\":\"portal-bench\""))
        .find_map(|l| {
            let (_, rest) = l.split_once("\"executable\":\"")?;
            rest.split_once('"').map(|(path, _)| PathBuf::from(path))
        })
        .ok_or_else(|| "cargo reported no portal-bench executable".to_owned())?;
    Ok(harness)
}

fn bench(args: &[String]) -> Result<(), String> {
    let mut c = Command::new(build_harness()?);
    c.current_dir(root()).args(args);
    run(c)
}

/// `cargo xtask soak`: build everything first (timed apart), then the crash loops, then the
/// harness's soak, whose fault soak runs for `--minutes` (default 10).
fn soak(args: &[String]) -> Result<(), String> {
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--minutes" => {
                let m = it
                    .next()
                    .filter(|m| m.parse::<f64>().is_ok_and(|m| m > 0.0))
                    .ok_or("--minutes takes a positive number")?;
                rest.extend([a.clone(), m.clone()]);
            }
            "--seed" | "--only" => {
                rest.push(a.clone());
                rest.push(it.next().cloned().ok_or_else(|| format!("{a} takes a value"))?);
            }
            other => return Err(format!("unknown argument {other}; {SOAK_USAGE}")),
        }
    }
    // `--only` picks one part of the harness's soak: the crash loops are skipped then.
    let only = rest.iter().any(|a| a == "--only");
    // Every build first, so that the soak's own time is the soak's: a cold build of the
    // harness (release) and of the e2e tests (debug) takes minutes on a small machine.
    let build_start = std::time::Instant::now();
    let harness = build_harness()?;
    let crash_test = |extra: &[&str]| {
        let mut test = cargo();
        test.env("PORTAL_CRASH_LOOP", "1")
            .args(["test", "-p", "portal-tests", "--test", "e2e"])
            .args(extra);
        test
    };
    if !only {
        run(crash_test(&["--no-run"]))?;
    }
    let build_secs = build_start.elapsed().as_secs_f64();
    let start = std::time::Instant::now();
    // 1. The crash loops: 20 rounds each of kill -9 of a ministry during concurrent
    //    publishing and of the central during ingest (tests/e2e/crash.rs, federation.rs).
    let t = std::time::Instant::now();
    let text = if only {
        "skipped (--only)".to_owned()
    } else {
        let mut test = crash_test(&["--", "kill_9", "--nocapture", "--test-threads=1"]);
        eprintln!("$ PORTAL_CRASH_LOOP=1 {test:?}");
        let out = test.output().map_err(|e| format!("cannot start {test:?}: {e}"))?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprint!("{text}");
        if !out.status.success() { format!("{text}\nexit status: {}", out.status) } else { text }
    };
    let crash_secs = t.elapsed().as_secs_f64();
    let crash_ok =
        only || (!text.contains("exit status:") && text.contains("test result: ok. 2 passed"));
    let crash_lines: Vec<&str> = text
        .lines()
        .filter(|l| {
            l.contains("kill -9 rounds") || l.starts_with("test result") || l.contains("panicked")
        })
        .collect();
    // 2. The harness's soak: corpus, SSRF matrix, bombs, and the fault soak for `--minutes`.
    let mut c = Command::new(harness);
    c.current_dir(root()).arg("soak").args(&rest);
    let harness_result = run(c);
    println!();
    println!(
        "## kill -9 crash loops, 20 rounds each ({crash_secs:.0} s): {}",
        if only {
            "skipped (--only)"
        } else if crash_ok {
            "ok"
        } else {
            "FAILED"
        }
    );
    for l in &crash_lines {
        println!("- {}", l.trim());
    }
    println!();
    println!(
        "cargo xtask soak: {:.1} minutes of soak, after {:.1} minutes of building",
        start.elapsed().as_secs_f64() / 60.0,
        build_secs / 60.0
    );
    match (crash_ok, harness_result) {
        (true, Ok(())) => Ok(()),
        (false, _) => Err("the kill -9 crash loops failed (output above)".into()),
        (true, Err(e)) => Err(format!("the soak found a failed invariant: {e}")),
    }
}

const SOAK_USAGE: &str =
    "cargo xtask soak [--minutes N] [--seed S] [--only corpus|ssrf|bombs|faults]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("vectors") => vectors(),
        Some("bench") => bench(&args[1..]),
        Some("soak") => soak(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | vectors | bench [SUITE…] [--seconds N] [--json PATH] | \
                 soak [--minutes N] [--seed S]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

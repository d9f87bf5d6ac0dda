//! Project automation in Rust (matklad's xtask pattern): `cargo xtask <command>`.
//!
//! - `cargo xtask ci`       — what `.ci/run` runs: fmt check, clippy -D warnings, the tests.
//! - `cargo xtask vectors`  — regenerate `proto-spec/vectors/` from the code (review the diff!).
//! - `cargo xtask bench [SUITE…] [--seconds N] [--json PATH]` — build in release mode and print
//!   the benchmark table (every suite by default; `portal-bench --help` lists them; see
//!   docs/benchmarks.md). Honours `CARGO_TARGET_DIR`: cargo names the executables it built.

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

fn bench(args: &[String]) -> Result<(), String> {
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
        .ok_or("cargo reported no portal-bench executable")?;
    let mut c = Command::new(harness);
    c.current_dir(root()).args(args);
    run(c)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("vectors") => vectors(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!(
                "usage: cargo xtask ci | vectors | bench [SUITE…] [--seconds N] [--json PATH]"
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

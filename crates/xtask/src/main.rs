//! Project automation in Rust (matklad's xtask pattern): `cargo xtask <command>`.
//!
//! - `cargo xtask ci`       — what `.ci/run` runs: fmt check, clippy -D warnings, the tests.
//! - `cargo xtask vectors`  — regenerate `proto-spec/vectors/` from the code (review the diff!).
//! - `cargo xtask bench [proto]` — build in release mode and print the benchmark table.

use std::path::PathBuf;
use std::process::{Command, ExitCode};

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
    let mut c = cargo();
    c.args(["run", "--release", "-p", "portal-bench", "--"]).args(args);
    run(c)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("vectors") => vectors(),
        Some("bench") => bench(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask ci | vectors | bench [proto] [--seconds N]");
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

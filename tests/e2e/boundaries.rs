//! Architecture invariants that the compiler cannot see, checked with cargo itself.

use std::process::Command;

/// The protocol core does no I/O: nothing in its normal dependency tree may open sockets, run
/// an async runtime or own a database (ARCHITECTURE.md, "portal-proto").
#[test]
fn protocol_core_depends_on_no_io_crate() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-p",
            "portal-proto",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8(out.stdout).expect("utf-8");
    let names: Vec<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    assert!(
        names.contains(&"ed25519-dalek"),
        "the tree should list portal-proto's dependencies:\n{tree}"
    );
    for banned in [
        "tokio",
        "actix-web",
        "actix-rt",
        "reqwest",
        "hyper",
        "sled",
        "mio",
        "socket2",
        "getrandom",
    ] {
        assert!(
            !names.contains(&banned),
            "portal-proto must stay free of I/O, but its dependency tree contains {banned}:\n{tree}"
        );
    }
}

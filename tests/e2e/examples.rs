//! The runnable examples, run as a third party would run them: real processes, real files.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn feed_file(vector: &str, name: &str) -> PathBuf {
    let files = crate::conformance::vector_files();
    let v: Value = serde_json::from_str(&files[vector]).expect("vector");
    let dir = std::env::temp_dir().join(format!("portal-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, v["input"].as_str().expect("feed text")).expect("write feed");
    path
}

fn verify_feed(path: &PathBuf) -> (i32, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let key = crate::fixtures::MOH.signer().public_key().to_base64();
    let out = Command::new(cargo)
        .args(["run", "--quiet", "-p", "portal-examples", "--example", "verify_feed", "--"])
        .arg(path)
        .arg(format!("bo-y-te={key}"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs the example");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let code = out.status.code().unwrap_or(-1);
    assert!(
        code == 0 || code == 1,
        "unexpected exit {code}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (code, stdout)
}

#[test]
fn verify_feed_example_accepts_a_signed_feed_and_names_a_tampered_entry() {
    let good = feed_file("feeds/valid/atom-latest.json", "good.xml");
    let (code, out) = verify_feed(&good);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 entries, 0 rejected"), "{out}");

    let bad = feed_file("feeds/invalid/atom-title-mismatch.json", "bad.xml");
    let (code, out) = verify_feed(&bad);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("REJECTED") && out.contains("feed-mismatch"), "{out}");

    let json = feed_file("feeds/valid/json-feed-latest.json", "good.json");
    assert_eq!(verify_feed(&json).0, 0);
}

//! The runnable examples, run as a third party would run them: real processes, real files.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn feed_file(vector: &str, name: &str) -> PathBuf {
    let files = crate::committed::vector_files();
    let v: Value = serde_json::from_str(&files[vector]).expect("vector");
    let dir = std::env::temp_dir().join(format!("portal-examples-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, v["input"].as_str().expect("feed text")).expect("write feed");
    path
}

fn verify_feed(path: &PathBuf) -> (i32, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let key = portal_tests::fixtures::MOH.public_key().to_base64();
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

/// `follow_national` against a real central following a real ministry: it verifies the
/// national feed with the ministry's key (given with --trust, the central not trusted), prints
/// the new entries, then polls again with conditional GET (a `304`), and exits by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_national_example_verifies_the_national_feed_with_the_ministries_keys() {
    use portal_tests::api::{client, national_feed, news_draft, publish};
    use portal_tests::harness::{Federation, bin_and_tmp};
    use portal_tests::wait::eventually;

    let (bin, tmp) = bin_and_tmp().await;
    let http = client();
    let mut f = Federation::init(&bin, tmp.path(), &[("bo-y-te", "Bộ Y tế")]).expect("init");
    f.serve("bo-y-te").expect("serve");
    // The roster, written while the central is stopped (in-process path of `portal member`).
    f.add_members().expect("member add");
    f.serve("chinh-phu").expect("serve");
    let (moh, central) = (&f.members[0], f.central_base().to_owned());
    let pin = moh.key.to_base64();
    publish(&http, &moh.url, &moh.token, &news_draft("Thông báo tuyển sinh"))
        .await
        .expect("publish");
    eventually("the item in the national feed", || async {
        national_feed(&http, &central).await.is_ok_and(|f| !f.entries.is_empty())
    })
    .await;

    let run = |trust: String| {
        let central = central.clone();
        tokio::task::spawn_blocking(move || {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            Command::new(cargo)
                .args(["run", "--quiet", "-p", "portal-examples", "--example", "follow_national"])
                .args(["--", &central, "--allow-private", "--polls", "2", "--interval", "0.2"])
                .args(["--trust", &trust])
                .current_dir(env!("CARGO_MANIFEST_DIR"))
                .output()
                .expect("cargo runs the example")
        })
    };
    let out = run(format!("bo-y-te={pin}")).await.expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.contains("NEW bo-y-te item") && stdout.contains("Thông báo tuyển sinh"),
        "{stdout}"
    );
    assert!(stdout.contains("poll 2: not modified (304)"), "conditional GET: {stdout}");
    assert!(!stdout.contains("warning"), "the central is not trusted for keys: {stdout}");

    // Another key in place of the ministry's: the entry is rejected, by name.
    let wrong = portal_tests::fixtures::MALLORY.public_key().to_base64();
    let out = run(format!("bo-y-te={wrong}")).await.expect("join");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("REJECTED unknown-key"), "{stdout}");
}

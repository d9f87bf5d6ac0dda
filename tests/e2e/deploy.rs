//! The files in `deploy/` checked with the tools that will read them, when this machine has
//! them (each test says so and returns when a tool is missing; it cannot pass otherwise):
//! `nginx -t` on `deploy/nginx/portal.conf`, then nginx running in front of a real node —
//! cached feeds and attachments, editors' POSTs passed through — and `systemd-analyze verify`
//! on `deploy/systemd/portal.service`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use portal_tests::api::raw_client;
use portal_tests::harness::{
    InitArgs, Proc, bin_and_tmp, free_port, init, portal_bin, workspace_root,
};
use portal_tests::wait::until;

fn repo() -> PathBuf {
    workspace_root()
}

/// The tool's path, or `None` (printed) when this machine lacks it.
fn tool(name: &str, candidates: &[&str]) -> Option<PathBuf> {
    let found = candidates.iter().map(PathBuf::from).find(|p| p.exists()).or_else(|| {
        let out = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().ok()?;
        let path = String::from_utf8(out.stdout).ok()?.trim().to_owned();
        (!path.is_empty()).then(|| PathBuf::from(path))
    });
    if found.is_none() {
        eprintln!("skipped: {name} is not installed on this machine (apt-get install {name})");
    }
    found
}

/// Let nginx workers (which may run as another user) reach `p`.
fn open(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).expect("chmod");
}

/// The shipped `deploy/nginx/portal.conf` adapted to this test (its upstream, cache directory
/// and port), under a prefix of its own with a main `nginx.conf` including it.
fn nginx_prefix(tmp: &Path, upstream: &str, port: u16) -> (PathBuf, PathBuf) {
    let shipped = std::fs::read_to_string(repo().join("deploy/nginx/portal.conf")).expect("conf");
    let cache = tmp.join("cache");
    std::fs::create_dir(&cache).expect("cache dir");
    open(&cache);
    let conf = shipped
        .replace("server 127.0.0.1:8080;", &format!("server {upstream};"))
        .replace("/var/cache/nginx/portal", cache.to_str().expect("utf-8"))
        .replace("    listen 80;\n", &format!("    listen 127.0.0.1:{port};\n"))
        .replace("    listen [::]:80;\n", "");
    assert_ne!(conf, shipped, "the test adapts the shipped file");
    let prefix = tmp.join("nginx");
    std::fs::create_dir_all(prefix.join("logs")).expect("prefix");
    open(&prefix);
    std::fs::write(prefix.join("portal.conf"), conf).expect("write");
    let main_conf = prefix.join("nginx.conf");
    std::fs::write(
        &main_conf,
        format!(
            "pid {p}/nginx.pid;\nerror_log {p}/logs/error.log;\nevents {{}}\nhttp {{\n  access_log off;\n  include {p}/portal.conf;\n}}\n",
            p = prefix.display()
        ),
    )
    .expect("write");
    (prefix, main_conf)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nginx_configuration_is_valid_and_caches_in_front_of_a_node() {
    let Some(nginx) = tool("nginx", &["/usr/sbin/nginx"]) else { return };
    let (bin, tmp) = bin_and_tmp().await;
    open(tmp.path());
    let args = InitArgs::new("bo-y-te", "Bộ Y tế", "http://127.0.0.1:9");
    let moh = init(&bin, &tmp.path().join("moh"), &args).expect("init");
    let token = moh.token.clone();
    let node = moh.serve_loopback(&bin);
    let upstream = node.base.trim_start_matches("http://").to_owned();
    let port = free_port().expect("a free port");
    let (prefix, main_conf) = nginx_prefix(tmp.path(), &upstream, port);
    let run = |extra: &[&str]| {
        let mut c = Command::new(&nginx);
        c.arg("-p").arg(&prefix).arg("-c").arg(&main_conf).args(extra);
        c
    };
    let tested = run(&["-t"]).output().expect("nginx -t runs");
    assert!(tested.status.success(), "nginx -t: {}", String::from_utf8_lossy(&tested.stderr));

    // Stopped by its PID when dropped. SIGTERM first: the master then stops its workers and
    // cache manager (a SIGKILL of the master alone left them running, orphaned).
    let mut command = run(&["-g", "daemon off;"]);
    command.stdout(Stdio::null()).stderr(Stdio::inherit());
    let _nginx =
        Proc::spawn(command, "nginx").expect("nginx starts").with_grace(Duration::from_secs(10));
    let base = format!("http://127.0.0.1:{port}");
    let http = raw_client(Duration::from_secs(10));
    until("nginx answers", Duration::from_secs(15), Duration::from_millis(100), || async {
        http.get(format!("{base}/healthz")).send().await.is_ok()
    })
    .await
    .expect("nginx answers");

    // Editors' requests pass through (and are never cached).
    let resp = http
        .post(format!("{base}/api/v1/items"))
        .bearer_auth(&token)
        .json(&serde_json::json!({"kind": "news", "language": "vi", "title": "Qua nginx"}))
        .send()
        .await
        .expect("publish");
    assert_eq!(resp.status(), 201, "POST /api/v1/items through nginx");
    let resp = http
        .post(format!("{base}/api/v1/attachments"))
        .bearer_auth(&token)
        .body(b"%PDF-1.7 quyet dinh".to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(resp.status(), 201, "upload through nginx");
    let sha: serde_json::Value = resp.json().await.expect("json");
    let sha = sha["sha256"].as_str().expect("sha256").to_owned();

    // Feeds and attachments: the second read comes from nginx's cache.
    let cache_status = |path: String| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let resp = http.get(format!("{base}{path}")).send().await.expect("GET");
            assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
            let status = resp
                .headers()
                .get("x-cache-status")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = resp.bytes().await.expect("body");
            (status, body)
        }
    };
    let attachment = format!("/attachments/{sha}");
    let (first, body) = cache_status(attachment.clone()).await;
    assert_eq!(first, "MISS");
    assert_eq!(&body[..], b"%PDF-1.7 quyet dinh");
    let (second, body2) = cache_status(attachment).await;
    assert_eq!(second, "HIT", "an immutable attachment is served from the cache");
    assert_eq!(body, body2);
    let (first, feed) = cache_status("/feeds/atom".into()).await;
    assert_eq!(first, "MISS");
    assert!(String::from_utf8_lossy(&feed).contains("Qua nginx"));
    let (second, _) = cache_status("/feeds/atom".into()).await;
    assert!(
        ["HIT", "REVALIDATED", "UPDATING"].contains(&second.as_str()),
        "the latest feed is cached for the node's max-age: {second}"
    );
    // The editors' API and the admin endpoints carry credentials: never from the cache.
    let resp = http
        .get(format!("{base}/api/v1/admin/deliveries"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("admin");
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().get("x-cache-status").is_none(), "admin is not a cached location");
    drop(node);
}

#[test]
fn the_systemd_unit_verifies() {
    let Some(analyze) = tool("systemd-analyze", &[]) else { return };
    let bin = portal_bin();
    let tmp = tempfile::tempdir().expect("tempdir");
    let shipped =
        std::fs::read_to_string(repo().join("deploy/systemd/portal.service")).expect("unit");
    assert!(shipped.contains("ExecStart=/usr/local/bin/portal serve --data /var/lib/portal/node"));
    // The unit names the installed binary; here, the one just built.
    let unit = tmp.path().join("portal.service");
    std::fs::write(&unit, shipped.replace("/usr/local/bin/portal", bin.to_str().expect("utf-8")))
        .expect("write");
    let out = Command::new(analyze).arg("verify").arg(&unit).output().expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {stderr}");
    assert!(!stderr.contains("portal.service"), "no warning about the unit: {stderr}");
}

//! The files in `deploy/` checked with the tools that will read them, when this machine has
//! them (each test says so and returns when a tool is missing; it cannot pass otherwise):
//! `nginx -t` on `deploy/nginx/portal.conf`, then nginx running in front of a real node —
//! cached feeds and attachments, editors' POSTs passed through — and `systemd-analyze verify`
//! on `deploy/systemd/portal.service`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::node::{Server, init_field, portal, portal_bin};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("repository root").to_path_buf()
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

/// nginx started by this test; stopped (by its PID) when dropped. SIGTERM first: the master
/// then stops its workers and cache manager. A SIGKILL of the master alone left them running,
/// orphaned, after every test run. SIGKILL only if it has not exited within 10 s.
struct Nginx(Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nginx_configuration_is_valid_and_caches_in_front_of_a_node() {
    let Some(nginx) = tool("nginx", &["/usr/sbin/nginx"]) else { return };
    let bin = tokio::task::spawn_blocking(portal_bin).await.expect("build");
    let tmp = tempfile::tempdir().expect("tempdir");
    // nginx workers may run as another user: let them reach the prefix.
    let open = |p: &Path| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    };
    open(tmp.path());
    let data = tmp.path().join("moh");
    let data_s = data.to_str().expect("utf-8");
    let (ok, out, err) = portal(
        &bin,
        &[
            "init",
            "--data",
            data_s,
            "--id",
            "bo-y-te",
            "--name",
            "Bộ Y tế",
            "--url",
            "http://127.0.0.1:9",
        ],
    );
    assert!(ok, "init: {err}");
    let token = init_field(&out, "admin token:");
    let node = Server::start(&bin, &data);
    let upstream = node.base.trim_start_matches("http://").to_owned();

    // The shipped file, with this test's addresses and cache directory.
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let shipped = std::fs::read_to_string(repo().join("deploy/nginx/portal.conf")).expect("conf");
    let cache = tmp.path().join("cache");
    std::fs::create_dir(&cache).expect("cache dir");
    open(&cache);
    let conf = shipped
        .replace("server 127.0.0.1:8080;", &format!("server {upstream};"))
        .replace("/var/cache/nginx/portal", cache.to_str().expect("utf-8"))
        .replace("    listen 80;\n", &format!("    listen 127.0.0.1:{port};\n"))
        .replace("    listen [::]:80;\n", "");
    assert_ne!(conf, shipped, "the test adapts the shipped file");
    let prefix = tmp.path().join("nginx");
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
    let run = |extra: &[&str]| {
        let mut c = Command::new(&nginx);
        c.arg("-p").arg(&prefix).arg("-c").arg(&main_conf).args(extra);
        c
    };
    let tested = run(&["-t"]).output().expect("nginx -t runs");
    assert!(tested.status.success(), "nginx -t: {}", String::from_utf8_lossy(&tested.stderr));

    let _nginx = Nginx(
        run(&["-g", "daemon off;"])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("nginx starts"),
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let deadline = Instant::now() + Duration::from_secs(15);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "nginx answers");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

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

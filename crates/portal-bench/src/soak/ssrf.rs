//! The SSRF matrix (`portal_client::ssrf::matrix`) against everything that fetches a URL an
//! operator or a member chose, with a loopback canary that must see zero connections:
//!
//! - the `Fetcher` as the aggregator configures it by default (`allow_private_members =
//!   false`), with every target's origin **on** its allowlist, so that only the address and
//!   scheme checks stand between the URL and the network;
//! - redirects to each target, from a loopback member of a loopback federation
//!   (`allow_private` on, the allowlist holding the member's origin only);
//! - `portal member add` on a central with its default settings;
//! - `POST /api/v1/admin/members` on a running central with its default settings;
//! - `hub.callback` of a subscription at that node's hub (default settings): every target
//!   with an IP literal or another scheme is answered `400` (names pass the form and are
//!   checked when resolved; user information is not the hub's rule).
//!
//! https → http downgrades need a TLS member to be exercised end to end; the soak has none, so
//! that rule is covered by portal-client's unit test of the hop check (`fetch.rs`).

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use portal_client::ssrf::{Target, matrix};
use portal_client::{AllowedOrigins, FetchError, FetchPolicy, Fetcher, Url};

use portal_proto::api::paths;
use portal_tests::api::post_json;
use portal_tests::fake::{Connections, FakeServer, Reply};
use portal_tests::harness::{InitArgs, init};

use super::Section;
use crate::harness::Portal;

/// A keep-alive fake server answering every request with `reply`'s answer to its path.
async fn server(
    reply: impl Fn(&str) -> Reply + Send + Sync + 'static,
) -> Result<FakeServer, String> {
    let server = FakeServer::try_start(Connections::KeepAlive).await?;
    server.fallback(move |r| Some(reply(&r.path)));
    Ok(server)
}

fn aggregator_policy() -> FetchPolicy {
    // The aggregator's defaults (`[aggregator]` timeouts 5/10/30 s, allow_private off).
    FetchPolicy {
        connect_timeout: Duration::from_secs(5),
        read_timeout: Duration::from_secs(10),
        total_timeout: Duration::from_secs(30),
        allow_private: false,
        ..FetchPolicy::default()
    }
}

/// "refused" (what must happen), or what happened instead.
fn verdict(result: Result<portal_client::Fetched, FetchError>) -> String {
    match result {
        Err(FetchError::Refused { .. }) => "refused".into(),
        Err(e) => format!("NOT REFUSED: {} ({e})", e.code()),
        Ok(f) => format!("NOT REFUSED: fetched {} bytes", f.body.len()),
    }
}

pub(crate) async fn ssrf(bin: &Path) -> Section {
    let mut section = Section::new("SSRF matrix");
    let canary = match server(|_| Reply::ok("text/plain", "canary")).await {
        Ok(s) => s,
        Err(e) => {
            section.fail(format!("canary: {e}"));
            return section;
        }
    };
    let targets = matrix(canary.port());
    section.count("targets", targets.len() as u64);

    // 1. The aggregator's fetcher, every target's origin allowed.
    let origins = AllowedOrigins::new();
    for t in &targets {
        if let Ok(u) = Url::parse(&t.url) {
            origins.insert(&u);
        }
    }
    let fetcher = match Fetcher::new(aggregator_policy()) {
        Ok(f) => f.with_allowed_origins(origins),
        Err(e) => {
            section.fail(format!("fetcher: {e}"));
            return section;
        }
    };
    let mut refused = 0;
    for t in &targets {
        let v = match Url::parse(&t.url) {
            Ok(u) => verdict(fetcher.get(&u, None).await),
            // A URL the parser refuses never reaches the network either.
            Err(_) => "refused".into(),
        };
        if v == "refused" {
            refused += 1;
        } else {
            section.fail(format!("fetcher, {} {}: {v}", t.category, t.url));
        }
    }
    section.count("direct fetches refused", refused);

    // 2. Redirects to each target, from an allowed loopback member.
    let redirect_to: Arc<Vec<Target>> = Arc::new(targets.clone());
    let redirector = match server(move |path| {
        let n: Option<usize> = path.strip_prefix("/r/").and_then(|n| n.parse().ok());
        match n.and_then(|n| redirect_to.get(n)) {
            Some(t) => Reply::redirect(&t.url),
            None => Reply::status(404),
        }
    })
    .await
    {
        Ok(s) => s,
        Err(e) => {
            section.fail(format!("redirector: {e}"));
            return section;
        }
    };
    let member = Url::parse(&redirector.base()).map_err(|e| e.to_string());
    let loopback = Fetcher::new(FetchPolicy { allow_private: true, ..aggregator_policy() });
    let mut redirects_refused = 0;
    match (member, loopback) {
        (Ok(member), Ok(f)) => {
            let f = f.with_allowed_origins(AllowedOrigins::from_urls([&member]));
            for (n, t) in targets.iter().enumerate() {
                let url = member.join(&format!("/r/{n}")).expect("a valid path");
                let v = verdict(f.get(&url, None).await);
                if v == "refused" {
                    redirects_refused += 1;
                } else {
                    section.fail(format!("redirect to {} {}: {v}", t.category, t.url));
                }
            }
        }
        (m, f) => section.fail(format!("redirect setup: {:?} {:?}", m.err(), f.err())),
    }
    section.count("redirects refused", redirects_refused);
    section.count("connections to the redirector (kept alive)", redirector.accepted());

    // 3. `portal member add` on a central with default settings.
    match member_add(bin, &targets).await {
        Ok((ok, failures)) => {
            section.count("`portal member add` refused", ok);
            for f in failures {
                section.fail(f);
            }
        }
        Err(e) => section.fail(format!("portal member add: {e}")),
    }

    // 4 and 5. The admin API and the hub's callbacks of a running node, default settings.
    match running(bin, &targets).await {
        Ok((admin, hub, failures)) => {
            section.count("`POST /api/v1/admin/members` refused", admin);
            section.count("hub callbacks refused", hub);
            for f in failures {
                section.fail(f);
            }
        }
        Err(e) => section.fail(format!("running central: {e}")),
    }

    tokio::time::sleep(Duration::from_millis(200)).await;
    let hits = canary.accepted();
    section.count("canary connections", hits);
    if hits != 0 {
        section.fail(format!("the loopback canary saw {hits} connection(s)"));
    }
    section
}

/// Run `portal member add --pin` for each target against a fresh central: each must fail.
async fn member_add(bin: &Path, targets: &[Target]) -> Result<(u64, Vec<String>), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let data = dir.path().join("gov");
    let key = init(bin, &data, &InitArgs::new("chinh-phu", "Chính phủ", "http://127.0.0.1:9"))?.key;
    let mut ok = 0;
    let mut failures = Vec::new();
    for t in targets {
        let out = tokio::process::Command::new(bin)
            .args(["member", "add", "--data"])
            .arg(&data)
            .arg(&t.url)
            .args(["--pin", &key.to_base64()])
            .env("RUST_LOG", "error")
            .output()
            .await
            .map_err(|e| format!("cannot run portal: {e}"))?;
        let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
        if out.status.success() {
            failures.push(format!("`portal member add {}` ({}) succeeded", t.url, t.category));
        } else if stderr.contains("refused") {
            ok += 1;
        } else {
            failures.push(format!(
                "`portal member add {}` ({}) failed, but not as a refusal: {}",
                t.url,
                t.category,
                stderr.trim()
            ));
        }
    }
    Ok((ok, failures))
}

/// Against a running node with default settings: `POST /api/v1/admin/members` for each target
/// (each must be refused, naming the refusal), and a subscription with each target that has an
/// IP literal or another scheme as its `hub.callback` (each answered `400`). The counts of
/// both, and what went wrong.
async fn running(bin: &Path, targets: &[Target]) -> Result<(u64, u64, Vec<String>), String> {
    let central = Portal::start(bin, "chinh-phu", "Chính phủ", &[])?;
    let http = portal_tests::api::client();
    let admin = format!("{}{}", central.base, paths::ADMIN_MEMBERS);
    let (mut admin_refused, mut hub_refused, mut failures) = (0, 0, Vec::new());
    for t in targets {
        let body = serde_json::json!({"url": t.url});
        let (status, v) = post_json(&http, &admin, &central.token, &body).await?;
        let message = v["error"]["message"].as_str().unwrap_or_default();
        if status != 201 && message.contains("refused") {
            admin_refused += 1;
        } else {
            failures.push(format!("POST {admin} {} ({}): {status} {v}", t.url, t.category));
        }
        let literal = Url::parse(&t.url).is_ok_and(|u| {
            u.host_str().is_some_and(|h| h.starts_with('[') || h.parse::<IpAddr>().is_ok())
        });
        if !literal && t.category != "scheme" {
            continue;
        }
        let topic = format!("{}{}", central.base, paths::LOG);
        let form = [
            ("hub.mode", "subscribe"),
            ("hub.topic", topic.as_str()),
            ("hub.callback", t.url.as_str()),
            ("hub.secret", "s3cret"),
        ];
        let hub = format!("{}{}", central.base, paths::WEBSUB);
        match http.post(&hub).form(&form).send().await {
            Ok(r) if r.status().as_u16() == 400 => hub_refused += 1,
            Ok(r) => {
                failures.push(format!("hub.callback {} ({}): {}", t.url, t.category, r.status()))
            }
            Err(e) => failures.push(format!("POST {hub}: {e}")),
        }
    }
    Ok((admin_refused, hub_refused, failures))
}

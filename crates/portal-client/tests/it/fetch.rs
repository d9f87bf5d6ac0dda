//! The fetcher's rules, against real sockets.

use std::io::Write as _;
use std::time::{Duration, Instant};

use portal_client::{AllowedOrigins, FetchError, FetchPolicy, Fetcher, Url};

use portal_tests::fake::{FakeServer as TestServer, Reply};

fn loopback_policy() -> FetchPolicy {
    FetchPolicy { allow_private: true, ..FetchPolicy::default() }
}

fn loopback() -> Fetcher {
    Fetcher::new(loopback_policy()).unwrap()
}

fn refused(result: Result<impl std::fmt::Debug, FetchError>) -> String {
    match result {
        Err(FetchError::Refused { reason, .. }) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn default_policy_refuses_non_public_addresses_before_connecting() {
    let canary = TestServer::start().await;
    canary.route("/", Reply::ok("text/plain", "canary"));
    let port = canary.port();
    let fetcher = Fetcher::new(FetchPolicy::default()).unwrap();
    // The matrix the soak runs too (`cargo xtask soak`): one list, in portal-client.
    for target in portal_client::ssrf::matrix(port) {
        let raw = &target.url;
        let Ok(url) = Url::parse(raw) else { continue };
        let started = Instant::now();
        let reason = refused(fetcher.get(&url, None).await);
        assert!(started.elapsed() < Duration::from_secs(3), "{raw}: refused only after a wait");
        let expected = match target.category {
            "scheme" => "scheme",
            "credentials" => "user",
            _ => "public address",
        };
        assert!(reason.contains(expected), "{} {raw}: {reason}", target.category);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(canary.accepted(), 0, "a refused request reached the canary");
}

#[tokio::test]
async fn allow_private_lets_loopback_through() {
    let server = TestServer::start().await;
    server.route(
        "/hello",
        Reply::ok("text/plain; charset=utf-8", "xin chào").header("ETag", "\"v1\""),
    );
    let fetched = loopback().get(&server.url("/hello"), None).await.unwrap();
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, "xin chào".as_bytes());
    assert_eq!(fetched.content_type.as_deref(), Some("text/plain; charset=utf-8"));
    assert_eq!(fetched.etag.as_deref(), Some("\"v1\""));
    assert_eq!(fetched.url, server.url("/hello"));
    assert_eq!(server.accepted(), 1);
    // No proxy, a user agent of our own.
    let ua = server.requests()[0].header("user-agent").unwrap().to_owned();
    assert!(ua.starts_with("portal-client/"), "{ua}");
}

#[tokio::test]
async fn redirects_are_followed_and_each_hop_checked_against_the_allowlist() {
    let a = TestServer::start().await;
    let b = TestServer::start().await;
    b.route("/target", Reply::ok("text/plain", "b"));
    a.route("/here", Reply::ok("text/plain", "a"));
    a.route("/to-b", Reply::redirect(&format!("{}/target", b.base())));
    a.route("/local", Reply::redirect("/here"));

    let origins = AllowedOrigins::from_urls([&a.url("/")]);
    let fetcher = loopback().with_allowed_origins(origins.clone());
    // A redirect within the origin is followed; the final URL is reported.
    let fetched = fetcher.get(&a.url("/local"), None).await.unwrap();
    assert_eq!((fetched.body.as_slice(), &fetched.url), (b"a".as_slice(), &a.url("/here")));
    // Off the allowlist, directly or by a redirect: refused without touching b.
    let reason = refused(fetcher.get(&b.url("/target"), None).await);
    assert!(reason.contains("allowlist"), "{reason}");
    match fetcher.get(&a.url("/to-b"), None).await {
        Err(FetchError::Refused { url, reason }) => {
            assert_eq!(url, b.url("/target").as_str());
            assert!(reason.contains("allowlist"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(b.accepted(), 0);
    // The aggregator adds a member: from then on it is allowed, through the shared handle.
    origins.insert(&b.url("/"));
    let fetched = fetcher.get(&a.url("/to-b"), None).await.unwrap();
    assert_eq!(fetched.body, b"b");
    assert_eq!(b.accepted(), 1);
}

#[tokio::test]
async fn redirects_to_schemes_that_are_not_fetched_are_refused_by_name() {
    // reqwest hands these back unfollowed (it cannot send a request to them); the fetcher
    // must still call them refusals, not a bare 302 the operator would read as a server fault.
    let server = TestServer::start().await;
    for (n, target) in [
        "file:///etc/passwd",
        "data:text/plain,hello",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1:70/",
    ]
    .into_iter()
    .enumerate()
    {
        let path = format!("/r{n}");
        server.route(&path, Reply::redirect(target));
        match loopback().get(&server.url(&path), None).await {
            Err(FetchError::Refused { url, reason }) => {
                assert!(url.starts_with(target.split(':').next().unwrap()), "{target}: {url}");
                assert!(reason.contains("scheme"), "{target}: {reason}");
            }
            other => panic!("{target}: expected a refusal, got {other:?}"),
        }
    }
    // An ordinary 3xx the client did not follow for another reason stays a status.
    server.route("/not-modified-elsewhere", Reply::status(300));
    assert!(matches!(
        loopback().get(&server.url("/not-modified-elsewhere"), None).await,
        Err(FetchError::Status { status: 300, .. })
    ));
}

#[tokio::test]
async fn redirect_loops_stop_at_the_limit() {
    let server = TestServer::start().await;
    server.route("/loop", Reply::redirect("/loop"));
    let fetcher = Fetcher::new(FetchPolicy { max_redirects: 3, ..loopback_policy() }).unwrap();
    let reason = refused(fetcher.get(&server.url("/loop"), None).await);
    assert!(reason.contains("more than 3 redirects"), "{reason}");
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn bodies_past_the_cap_are_abandoned() {
    let server = TestServer::start().await;
    server.route("/big", Reply::ok("application/octet-stream", vec![b'x'; 100_001]));
    server
        .route("/big-eof", Reply::ok("application/octet-stream", vec![b'x'; 300_000]).until_eof());
    server.route("/fits", Reply::ok("application/octet-stream", vec![b'x'; 100_000]));
    let fetcher = loopback();
    let cap = Some(100_000);
    for path in ["/big", "/big-eof"] {
        match fetcher.get(&server.url(path), cap).await {
            Err(e @ FetchError::TooLarge { limit: 100_000, .. }) => {
                assert_eq!(e.code(), "too-large")
            }
            other => panic!("{path}: expected TooLarge, got {other:?}"),
        }
    }
    assert_eq!(fetcher.get(&server.url("/fits"), cap).await.unwrap().body.len(), 100_000);
    // The policy's max_body caps too, and a larger `cap` cannot raise it.
    let small = Fetcher::new(FetchPolicy { max_body: 1000, ..loopback_policy() }).unwrap();
    assert!(matches!(
        small.get(&server.url("/fits"), Some(1 << 30)).await,
        Err(FetchError::TooLarge { limit: 1000, .. })
    ));
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test]
async fn gzip_is_decoded_and_a_gzip_bomb_is_caught_after_decompression() {
    let bomb = gzip(&vec![0u8; 64 * 1024 * 1024]);
    assert!(bomb.len() < 128 * 1024, "the bomb is small on the wire: {}", bomb.len());
    let server = TestServer::start().await;
    server.route("/bomb", Reply::json(bomb).header("Content-Encoding", "gzip"));
    server.route("/small", Reply::json(gzip(b"{\"ok\":true}")).header("Content-Encoding", "gzip"));
    let fetcher = loopback();
    let small = fetcher.get(&server.url("/small"), None).await.unwrap();
    assert_eq!(small.body, b"{\"ok\":true}");
    assert_eq!(server.requests()[0].header("accept-encoding"), Some("gzip"));
    let started = Instant::now();
    match fetcher.get(&server.url("/bomb"), Some(1024 * 1024)).await {
        Err(FetchError::TooLarge { limit, .. }) => assert_eq!(limit, 1024 * 1024),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // The default 16 MiB cap holds too.
    assert!(matches!(
        fetcher.get(&server.url("/bomb"), None).await,
        Err(FetchError::TooLarge { limit, .. }) if limit == 16 * 1024 * 1024
    ));
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// Fetch `reply` (served at `/slow`) with the given read and total timeouts: it must end in a
/// timeout; how long that took.
async fn times_out(reply: Reply, read_timeout: Duration, total_timeout: Duration) -> Duration {
    let server = TestServer::start().await;
    server.route("/slow", reply);
    let policy = FetchPolicy { read_timeout, total_timeout, ..loopback_policy() };
    let fetcher = Fetcher::new(policy).unwrap();
    let started = Instant::now();
    let result = fetcher.get(&server.url("/slow"), None).await;
    assert!(
        matches!(&result, Err(e @ FetchError::Timeout { .. }) if e.code() == "timeout"),
        "{result:?}"
    );
    started.elapsed()
}

#[tokio::test]
async fn a_dripping_server_hits_the_total_timeout() {
    let drip = Reply::drip(vec![b'x'; 100], Duration::from_millis(500));
    let elapsed = times_out(drip, Duration::from_secs(5), Duration::from_secs(2)).await;
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
}

#[tokio::test]
async fn a_slow_drip_hits_the_read_timeout() {
    let drip = Reply::drip(vec![b'x'; 100], Duration::from_secs(3));
    let elapsed = times_out(drip, Duration::from_secs(1), Duration::from_secs(20)).await;
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
}

#[tokio::test]
async fn a_silent_server_hits_the_timeout() {
    let elapsed = times_out(Reply::stall(), Duration::from_secs(1), Duration::from_secs(2)).await;
    assert!(elapsed < Duration::from_secs(4), "{elapsed:?}");
}

#[tokio::test]
async fn non_2xx_is_a_status_error() {
    let server = TestServer::start().await;
    server.route("/gone", Reply::status(410));
    server.route("/broken", Reply::status(500));
    let fetcher = loopback();
    for (path, code) in [("/gone", 410), ("/broken", 500), ("/missing", 404)] {
        match fetcher.get(&server.url(path), None).await {
            Err(e @ FetchError::Status { status, .. }) => {
                assert_eq!(status, code);
                assert_eq!(e.code(), "http-status");
            }
            other => panic!("{path}: expected a status error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn conditional_get_returns_none_on_304() {
    let server = TestServer::start().await;
    server.fallback(|req| {
        Some(if req.header("if-none-match") == Some("\"v1\"") {
            Reply::status(304)
        } else {
            Reply::ok("text/plain", "body").header("ETag", "\"v1\"")
        })
    });
    let fetcher = loopback();
    let url = server.url("/cp");
    let first = fetcher.get_conditional(&url, None).await.unwrap().unwrap();
    assert_eq!(first.etag.as_deref(), Some("\"v1\""));
    assert_eq!(fetcher.get_conditional(&url, first.etag.as_deref()).await.unwrap(), None);
    assert!(fetcher.get_conditional(&url, Some("\"v0\"")).await.unwrap().is_some());
    // A plain GET never asks conditionally, so a 304 there would be an error.
    assert!(fetcher.get(&url, None).await.is_ok());
}

#[tokio::test]
async fn unreachable_is_a_transport_error() {
    // Bind then drop: nothing listens on the port any more.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = Url::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
    let e = loopback().get(&url, None).await.unwrap_err();
    assert_eq!(e.code(), "unreachable", "{e:?}");
}

#[tokio::test]
async fn post_form_follows_the_same_rules_and_returns_the_status() {
    let server = TestServer::start().await;
    server.route("/websub", Reply::status(202));
    let form =
        [("hub.mode", "subscribe".to_owned()), ("hub.topic", "https://a.vn/x?y=1".to_owned())];
    let status = loopback().post_form(&server.url("/websub"), &form).await.unwrap();
    assert_eq!(status, 202);
    let req = &server.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(req.body, b"hub.mode=subscribe&hub.topic=https%3A%2F%2Fa.vn%2Fx%3Fy%3D1");
    // Refused like a GET under the default policy, before connecting.
    let strict = Fetcher::new(FetchPolicy::default()).unwrap();
    refused(strict.post_form(&server.url("/websub"), &form).await);
    assert_eq!(server.accepted(), 1);
}

//! The malformed-input corpus: every file of `testdata/feedvalidator` and
//! `testdata/feedparser-illformed` through the three ways untrusted bytes come in:
//! `portal_proto::feed::decode_atom`, `decode_json`, and, served over HTTP as a member's log
//! page, `portal_client::Client::log_page` (what the aggregator parses). No panic; each
//! accepted or rejected with a typed code, counted per code.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use portal_client::{Client, FetchPolicy, Fetcher, Url};

use super::Section;
use portal_tests::fake::{Connections, FakeServer, Reply};

/// The corpus directories, relative to the workspace root.
const DIRS: [&str; 2] = ["testdata/feedvalidator", "testdata/feedparser-illformed"];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        let name = p.file_name().map(|n| n.to_string_lossy().to_uppercase()).unwrap_or_default();
        if p.is_dir() {
            files(&p, out);
        } else if !name.starts_with("LICENSE") && !name.starts_with("README") {
            out.push(p);
        }
    }
}

/// "accepted", the rejection's code, or "PANIC".
fn outcome<E>(f: impl FnOnce() -> Result<(), E>, code: impl Fn(&E) -> String) -> String {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => "accepted".into(),
        Ok(Err(e)) => code(&e),
        Err(_) => "PANIC".into(),
    }
}

pub(crate) async fn corpus(root: &Path) -> Section {
    let mut section = Section::new("malformed-input corpus");
    let mut paths = Vec::new();
    for d in DIRS {
        let dir = root.join(d);
        if !dir.is_dir() {
            section.fail(format!("{} is missing", dir.display()));
            return section;
        }
        files(&dir, &mut paths);
    }
    let bodies: Arc<Vec<Vec<u8>>> =
        Arc::new(paths.iter().map(|p| std::fs::read(p).unwrap_or_default()).collect());
    let served = Arc::clone(&bodies);
    let server = match FakeServer::try_start(Connections::KeepAlive).await {
        Ok(s) => s,
        Err(e) => {
            section.fail(format!("corpus server: {e}"));
            return section;
        }
    };
    server.forget_requests();
    server.fallback(move |r| {
        let n: Option<usize> = r
            .path
            .strip_prefix("/f/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|n| n.parse().ok());
        Some(match n.and_then(|n| served.get(n)) {
            Some(body) => Reply::ok("application/json", body.clone()),
            None => Reply::status(404),
        })
    });
    let policy = FetchPolicy { allow_private: true, ..FetchPolicy::default() };
    let client = match Fetcher::new(policy) {
        Ok(f) => Client::new(f),
        Err(e) => {
            section.fail(format!("fetcher: {e}"));
            return section;
        }
    };
    let mut counts: BTreeMap<(&str, String), u64> = BTreeMap::new();
    let mut panics = Vec::new();
    let previous_hook = std::panic::take_hook();
    // A panic is counted and named below; its default message would only interleave.
    std::panic::set_hook(Box::new(|_| {}));
    for (n, (path, body)) in paths.iter().zip(bodies.iter()).enumerate() {
        let name = path.strip_prefix(root).unwrap_or(path).display().to_string();
        let atom =
            outcome(|| portal_proto::feed::decode_atom(body).map(|_| ()), |r| r.code().to_owned());
        let json =
            outcome(|| portal_proto::feed::decode_json(body).map(|_| ()), |r| r.code().to_owned());
        let url = Url::parse(&format!("{}/f/{n}/api/v1/log", server.base()));
        let page = match url {
            Ok(url) => match tokio::spawn({
                let client = client.clone();
                async move { client.log_page(&url, 0, 100).await.map(|_| ()) }
            })
            .await
            {
                Ok(Ok(())) => "accepted".to_owned(),
                Ok(Err(e)) => e.code().to_owned(),
                Err(_) => "PANIC".to_owned(),
            },
            Err(e) => format!("bad-url ({e})"),
        };
        for (path_name, result) in
            [("decode_atom", atom), ("decode_json", json), ("log_page", page)]
        {
            if result == "PANIC" {
                panics.push(format!("{path_name} panicked on {name}"));
            }
            *counts.entry((path_name, result)).or_default() += 1;
        }
    }
    std::panic::set_hook(previous_hook);
    section.count("files", paths.len() as u64);
    for ((path_name, code), n) in &counts {
        section.count(&format!("{path_name}: {code}"), *n);
    }
    section.count("panics", panics.len() as u64);
    for p in panics {
        section.fail(p);
    }
    if paths.is_empty() {
        section.fail("the corpus is empty".into());
    }
    section
}

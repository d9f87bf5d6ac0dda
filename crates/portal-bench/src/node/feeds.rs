//! The feed figures: the node's Atom pages (200, 304, gzip, an archive) against nginx
//! serving the very same bytes, both checked, then measured in alternating rounds.

use std::process::Command;

use super::nginx::{Nginx, Static};
use super::tools::Tools;
use super::wrk::{Side, Wrk, compare};
use super::{NodeUnderTest, archive_row, feed_200_row, feed_304_row, gzip_row, say, skip};
use crate::Row;
use crate::harness::workspace_root;

pub(super) struct Fetched {
    pub(super) status: u16,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
}

impl Fetched {
    fn head(&self) -> String {
        let mut h = format!("HTTP/1.1 {}\n", self.status);
        for (n, v) in &self.headers {
            h.push_str(&format!("{n}: {v}\n"));
        }
        h
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

pub(super) fn fetch(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    url: &str,
    header: Option<(&str, &str)>,
) -> Result<Fetched, String> {
    rt.block_on(async {
        let mut req = client.get(url);
        if let Some((name, value)) = header {
            req = req.header(name, value);
        }
        let resp = req.send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?.to_vec();
        Ok(Fetched { status, headers, body })
    })
}

/// The node's pages as measured: the latest Atom page, gzipped, and archive 0.
struct Pages {
    latest: Fetched,
    gzipped: Result<Fetched, String>,
    archive: Result<Fetched, String>,
}

/// Write `bytes` to `target/bench/node/NAME`: what was measured, kept for inspection.
fn save(name: &str, bytes: &[u8]) {
    let saved = workspace_root().join("target/bench/node");
    let _ = std::fs::create_dir_all(&saved);
    if let Err(e) = std::fs::write(saved.join(name), bytes) {
        say!("could not save {name}: {e}");
    }
}

/// The exact bytes and headers, fetched once from the node and saved.
fn fetch_pages(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    base: &str,
) -> Result<Pages, String> {
    let latest = match fetch(rt, client, &format!("{base}/feeds/atom"), None) {
        Ok(f) if f.status == 200 => f,
        Ok(f) => return Err(format!("the node answered {} to /feeds/atom", f.status)),
        Err(e) => return Err(e),
    };
    let gzip_header = ("accept-encoding", "gzip");
    let gzipped = match fetch(rt, client, &format!("{base}/feeds/atom"), Some(gzip_header)) {
        Ok(f) if f.status == 200 && f.header("content-encoding") == Some("gzip") => Ok(f),
        Ok(f) => Err(format!(
            "the node answered {} with Content-Encoding {:?} to Accept-Encoding: gzip",
            f.status,
            f.header("content-encoding")
        )),
        Err(e) => Err(e),
    };
    let archive = match fetch(rt, client, &format!("{base}/feeds/atom/archive/0"), None) {
        Ok(a) if a.status == 200 => Ok(a),
        Ok(a) => Err(format!("the node answered {} to /feeds/atom/archive/0", a.status)),
        Err(e) => Err(e),
    };
    let entries = portal_proto::feed::decode_atom(&latest.body).map(|f| f.entries.len());
    say!(
        "/feeds/atom: {} bytes, {:?} entries; headers: {}",
        latest.body.len(),
        entries,
        latest.headers.iter().map(|(n, v)| format!("{n}: {v}")).collect::<Vec<_>>().join("; ")
    );
    save("latest.atom", &latest.body);
    save("latest.headers", latest.head().as_bytes());
    if let Ok(g) = &gzipped {
        save("latest.atom.gz", &g.body);
        save("latest.gz.headers", g.head().as_bytes());
    }
    if let Ok(a) = &archive {
        save("archive-0.atom", &a.body);
        save("archive-0.headers", a.head().as_bytes());
    }
    say!(
        "saved the bytes and headers measured in {}",
        workspace_root().join("target/bench/node").display()
    );
    Ok(Pages { latest, gzipped, archive })
}

/// nginx serving the saved pages with the node's headers, checked to serve the same bytes; a
/// note of what the two sides send, and nginx's ETag.
fn start_nginx(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    nginx_bin: &std::path::Path,
    pages: &Pages,
    workers_note: &str,
) -> Result<(Nginx, String, String), String> {
    let Pages { latest, gzipped, archive } = pages;
    let node_etag = latest.header("etag").unwrap_or_default().to_owned();
    let content_type = latest.header("content-type").unwrap_or("application/atom+xml").to_owned();
    let mut files = vec![Static {
        path: "/feeds/atom",
        body: &latest.body,
        gzip: gzipped.as_ref().ok().map(|g| g.body.as_slice()),
        content_type: &content_type,
        cache_control: latest.header("cache-control").unwrap_or("public, max-age=5"),
    }];
    if let Ok(a) = &archive {
        files.push(Static {
            path: "/feeds/atom/archive/0",
            body: &a.body,
            gzip: None,
            content_type: a.header("content-type").unwrap_or(&content_type),
            cache_control: a.header("cache-control").unwrap_or("public, max-age=31536000"),
        });
    }
    let nginx = Nginx::start(nginx_bin, &files)?;
    let version = Command::new(nginx_bin)
        .arg("-v")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_default();
    say!("{version} serving the saved bytes on {}", nginx.base);
    save("nginx.conf", nginx.conf.as_bytes());
    let from_nginx = match fetch(rt, client, &format!("{}/feeds/atom", nginx.base), None) {
        Ok(f) if f.status == 200 && f.body == latest.body => f,
        Ok(f) => {
            let e = format!(
                "nginx does not serve the saved bytes (status {}, {} bytes)",
                f.status,
                f.body.len()
            );
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let nginx_etag = from_nginx.header("etag").unwrap_or_default().to_owned();
    let same_type = from_nginx.header("content-type") == Some(content_type.as_str());
    let header_note = format!(
        "same bytes ({} B) and Content-Type ({}: {content_type}); node ETag {node_etag}, nginx \
         ETag {nginx_etag}; {}; nginx: {version}, sendfile on, access_log off, default \
         keepalive_requests",
        latest.body.len(),
        if same_type { "identical" } else { "DIFFERENT" },
        workers_note,
    );
    say!("{header_note}");
    Ok((nginx, nginx_etag, header_note))
}

pub(super) fn feed_rows(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    node: &NodeUnderTest,
    tools: &Tools,
    secs: u64,
    rounds: usize,
) -> Vec<Row> {
    let base = &node.base;
    let pages = match fetch_pages(rt, client, base) {
        Ok(p) => p,
        Err(e) => return skip_feeds(&e),
    };
    let Pages { latest, gzipped, archive } = &pages;
    let gzip_header = ("accept-encoding", "gzip");
    let kb = |n: usize| (n + 512) / 1024;
    let mut r200 = feed_200_row(Some(kb(latest.body.len())));
    let mut r304 = feed_304_row();
    let mut rgzip = gzip_row(gzipped.as_ref().ok().map(|g| kb(g.body.len())));
    let mut rarch = archive_row(archive.as_ref().ok().map(|a| kb(a.body.len())));
    let fail_all = |e: &str, rows: [Row; 4]| rows.into_iter().map(|r| skip(r, e)).collect();
    let (nginx_bin, wrk_bin) = match (&tools.nginx, &tools.wrk) {
        (Ok(n), Ok(w)) => (n, w),
        (Err(e), _) | (_, Err(e)) => return fail_all(e, [r200, r304, rgzip, rarch]),
    };
    let wrk = match Wrk::new(wrk_bin.clone()) {
        Ok(w) => w,
        Err(e) => return fail_all(&e, [r200, r304, rgzip, rarch]),
    };
    let (nginx, nginx_etag, header_note) =
        match start_nginx(rt, client, nginx_bin, &pages, &node.workers_note) {
            Ok(n) => n,
            Err(e) => return fail_all(&e, [r200, r304, rgzip, rarch]),
        };
    let node_etag = latest.header("etag").unwrap_or_default().to_owned();
    let sides = |path: &str, header: Option<&'static str>| {
        [
            Side { who: "node", url: format!("{base}{path}"), header },
            Side { who: "nginx", url: format!("{}{path}", nginx.base), header },
        ]
    };

    say!("measuring {}", r200.name);
    r200.notes.push(header_note.clone());
    let r200 =
        compare(r200, &wrk, sides("/feeds/atom", None), 200, latest.body.len(), secs, rounds);

    say!("measuring {}", r304.name);
    let node_inm = format!("If-None-Match: {node_etag}");
    let nginx_inm = format!("If-None-Match: {nginx_etag}");
    let r304 = if node_etag.is_empty() || nginx_etag.is_empty() {
        skip(r304, format!("no ETag to send (node {node_etag:?}, nginx {nginx_etag:?})"))
    } else {
        r304.notes.push(header_note);
        let s = [
            Side { who: "node", url: format!("{base}/feeds/atom"), header: Some(&node_inm) },
            Side {
                who: "nginx",
                url: format!("{}/feeds/atom", nginx.base),
                header: Some(&nginx_inm),
            },
        ];
        compare(r304, &wrk, s, 304, 0, secs, rounds)
    };

    let nginx_gzip = fetch(rt, client, &format!("{}/feeds/atom", nginx.base), Some(gzip_header));
    let rgzip = match (&gzipped, &nginx_gzip) {
        (Ok(g), Ok(n)) if n.status == 200 && n.body == g.body => {
            say!("measuring {}", rgzip.name);
            rgzip.notes.push(format!(
                "what feed readers and browsers ask for. Both send the same {} gzip bytes (the \
                 node's own, saved once); the node compresses the {} B page again on every \
                 request (actix-web's Compress middleware), nginx sends the stored file",
                g.body.len(),
                latest.body.len()
            ));
            let s = sides("/feeds/atom", Some("Accept-Encoding: gzip"));
            compare(rgzip, &wrk, s, 200, g.body.len(), secs, rounds)
        }
        (Ok(_), Ok(n)) => skip(
            rgzip,
            format!(
                "nginx gzip_static did not serve the saved gzip bytes (status {}, {} bytes, \
                 Content-Encoding {:?})",
                n.status,
                n.body.len(),
                n.header("content-encoding")
            ),
        ),
        (Err(e), _) | (_, Err(e)) => skip(rgzip, e.clone()),
    };

    let rarch = match &archive {
        Ok(a) => {
            say!("measuring {}", rarch.name);
            rarch.notes.push(format!(
                "same bytes ({} B); the node renders archive pages on every request (not cached), \
                 nginx reads the file",
                a.body.len()
            ));
            let s = sides("/feeds/atom/archive/0", None);
            compare(rarch, &wrk, s, 200, a.body.len(), secs, rounds)
        }
        Err(e) => skip(rarch, format!("no archive page: {e}")),
    };
    drop(nginx);
    vec![r200, r304, rgzip, rarch]
}

pub(super) fn skip_feeds(reason: &str) -> Vec<Row> {
    vec![
        skip(feed_200_row(None), reason),
        skip(feed_304_row(), reason),
        skip(gzip_row(None), reason),
        skip(archive_row(None), reason),
    ]
}

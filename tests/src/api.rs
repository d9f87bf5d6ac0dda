//! A node's HTTP API as a test or the bench drives it: the client they use, JSON reads,
//! publishing through the editor API, a node's whole log page by page, the central's members,
//! incidents and national log (each entry opened and paired with its receipt), and metrics.
//! Every function returns an error that names the request instead of panicking, so that the
//! bench can report a failure as a SKIPPED row; tests unwrap it.

use std::collections::BTreeMap;
use std::time::Duration;

use portal_proto::envelope::{self, SignedRecord, TrustStore, Verified};
use portal_proto::feed;
use portal_proto::record::{Receipt, Record};
use serde_json::{Value, json};

/// An HTTP client for 127.0.0.1: no proxy, a 20 s timeout.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(20)).build().expect("client")
}

/// The same, but never decompressing: for tests and the bench that ask for gzip themselves
/// and must see the bytes and ETag of the representation they asked for (reqwest's gzip may be
/// on through another crate of the workspace).
pub fn raw_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder().no_proxy().no_gzip().timeout(timeout).build().expect("client")
}

/// `GET url`, a 2xx, parsed as JSON.
pub async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let resp = http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
    if !status.is_success() {
        return Err(format!("GET {url}: {status}: {}", String::from_utf8_lossy(&body)));
    }
    serde_json::from_slice(&body).map_err(|e| format!("GET {url}: {e}"))
}

/// `GET url`'s body, whatever the status.
pub async fn get_bytes(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let resp = http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    Ok(resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?.to_vec())
}

/// `GET url`'s body as text, whatever the status.
pub async fn get_text(http: &reqwest::Client, url: &str) -> Result<String, String> {
    let resp = http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    resp.text().await.map_err(|e| format!("GET {url}: {e}"))
}

/// A news draft for the editor API, in Vietnamese.
pub fn news_draft(title: &str) -> Value {
    json!({"kind": "news", "language": "vi", "title": title,
           "summary": "Tóm tắt", "content_html": "<p>Nội dung</p>", "categories": ["y-te"]})
}

/// `POST url` with the editors' token and a JSON body; (status, body text).
async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<(u16, String), String> {
    let resp = http
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = resp.status().as_u16();
    Ok((status, resp.text().await.map_err(|e| format!("POST {url}: {e}"))?))
}

/// `POST base/api/v1/items` with the editors' token and a JSON body; the 201's JSON
/// (`id`, `log_index`, `version`…).
pub async fn publish_body(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    body: Vec<u8>,
) -> Result<Value, String> {
    let (status, text) = post(http, &format!("{base}/api/v1/items"), token, body).await?;
    if status != 201 {
        return Err(format!("publish on {base}: {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|e| format!("publish on {base}: {e}: {text}"))
}

/// [`publish_body`] of a draft.
pub async fn publish(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    draft: &Value,
) -> Result<Value, String> {
    publish_body(http, base, token, draft.to_string().into_bytes()).await
}

/// `POST url` with the editors' token and a JSON body; (status, JSON or null).
pub async fn post_json(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> Result<(u16, Value), String> {
    let (status, text) = post(http, url, token, body.to_string().into_bytes()).await?;
    Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

/// The envelope of a log page's entry (`{"index","kid","record","sig"}`).
pub fn entry_record(e: &Value) -> Result<SignedRecord, String> {
    let field = |k: &str| e[k].as_str().ok_or_else(|| format!("a log entry without {k}: {e}"));
    SignedRecord::from_base64(field("record")?, field("kid")?, field("sig")?)
        .map_err(|r| format!("log entry {}: {r}", e["index"]))
}

/// Every entry of a log (`GET base path?after=…&limit=1000`), page after page until an empty
/// page, as raw JSON; each page must start where the last ended.
pub async fn whole_log(
    http: &reqwest::Client,
    base: &str,
    path: &str,
) -> Result<Vec<Value>, String> {
    let mut out: Vec<Value> = Vec::new();
    loop {
        let url = format!("{base}{path}?after={}&limit=1000", out.len());
        let page = get_json(http, &url).await?;
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        if page["start"].as_u64() != Some(out.len() as u64) {
            return Err(format!("{url}: the page starts at {}, not {}", page["start"], out.len()));
        }
        if entries.is_empty() {
            return Ok(out);
        }
        out.extend(entries);
    }
}

/// A node's whole log (`/api/v1/log`) as envelopes, each at its index.
pub async fn log_records(http: &reqwest::Client, base: &str) -> Result<Vec<SignedRecord>, String> {
    let entries = whole_log(http, base, "/api/v1/log").await?;
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        if e["index"].as_u64() != Some(i as u64) {
            return Err(format!("{base}: the log has a gap at {i}: {}", e["index"]));
        }
        out.push(entry_record(e)?);
    }
    Ok(out)
}

/// The size of a node's log (`/api/v1/log?limit=1`).
pub async fn log_size(http: &reqwest::Client, base: &str) -> Result<u64, String> {
    let page = get_json(http, &format!("{base}/api/v1/log?after=0&limit=1")).await?;
    page["size"].as_u64().ok_or_else(|| format!("{base}: a log page without size: {page}"))
}

/// Each member's stored size, from a central's `GET /api/v1/members`.
pub async fn member_sizes(
    http: &reqwest::Client,
    central: &str,
) -> Result<BTreeMap<String, u64>, String> {
    let v = get_json(http, &format!("{central}/api/v1/members")).await?;
    Ok(v["members"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((r["member"]["id"].as_str()?.to_owned(), r["member"]["size"].as_u64()?))
        })
        .collect())
}

/// The central's incidents about `member`.
pub async fn incidents(
    http: &reqwest::Client,
    central: &str,
    member: &str,
) -> Result<Vec<Value>, String> {
    let v = get_json(http, &format!("{central}/api/v1/incidents?member={member}")).await?;
    Ok(v["incidents"].as_array().cloned().unwrap_or_default())
}

/// An error when the central recorded any incident at all.
pub async fn no_incidents(http: &reqwest::Client, central: &str) -> Result<(), String> {
    let v = get_json(http, &format!("{central}/api/v1/incidents")).await?;
    match v["incidents"].as_array() {
        Some(list) if list.is_empty() => Ok(()),
        Some(list) => {
            let shown: Vec<String> = list.iter().take(5).map(Value::to_string).collect();
            Err(format!(
                "CHECK FAILED: the central recorded {} incident(s): {}",
                list.len(),
                shown.join(" ")
            ))
        }
        None => Err(format!("GET /api/v1/incidents: unexpected answer {v}")),
    }
}

/// `POST central/api/v1/admin/members`, pinned: 201 or an error.
pub async fn add_member(
    http: &reqwest::Client,
    (central, token): (&str, &str),
    url: &str,
    pin: &portal_proto::crypto::PublicKey,
) -> Result<(), String> {
    let body = json!({"url": url, "pin": pin.to_base64()});
    let (status, v) = post_json(http, &format!("{central}/api/v1/admin/members"), token, &body)
        .await
        .map_err(|e| format!("adding {url}: {e}"))?;
    if status != 201 {
        return Err(format!("adding member {url}: {status}: {v}"));
    }
    Ok(())
}

/// The national Atom feed of a central, decoded.
pub async fn national_feed(
    http: &reqwest::Client,
    central: &str,
) -> Result<feed::DecodedFeed, String> {
    let url = format!("{central}/feeds/national/atom");
    let resp = http.get(&url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let body = resp.bytes().await.map_err(|e| format!("GET {url}: {e}"))?;
    feed::decode_atom(&body).map_err(|r| format!("the national feed does not decode: {r}"))
}

/// The visible title of a feed entry (`None` for a tombstone).
pub fn title_of(e: &feed::DecodedEntry) -> Option<&str> {
    match &e.visible {
        feed::Visible::Entry { title, .. } => Some(title),
        _ => None,
    }
}

/// One national log entry, opened: the member's record verified against the member's key,
/// the receipt against the central's, and the receipt acknowledging that record at that
/// index.
#[derive(Debug)]
pub struct NationalEntry {
    /// The member's envelope.
    pub member: SignedRecord,
    /// The member's record, verified.
    pub record: Verified<Record>,
    /// The receipt's envelope.
    pub receipt_envelope: SignedRecord,
    /// The central's receipt.
    pub receipt: Receipt,
}

/// Open national log entry `e`, which must be at `index`.
pub fn open_national_entry(
    e: &Value,
    index: u64,
    members: &TrustStore,
    central: &TrustStore,
) -> Result<NationalEntry, String> {
    let fail = |what: String| format!("CHECK FAILED: national log entry {index}: {what}");
    if e["index"].as_u64() != Some(index) {
        return Err(fail(format!("it says it is at {}", e["index"])));
    }
    let member = SignedRecord::from_json(e["member"].to_string().as_bytes())
        .map_err(|r| fail(format!("member envelope: {r}")))?;
    let receipt_envelope = SignedRecord::from_json(e["receipt"].to_string().as_bytes())
        .map_err(|r| fail(format!("receipt envelope: {r}")))?;
    let record =
        envelope::open(&member, members).map_err(|r| fail(format!("member record: {r}")))?;
    let opened =
        envelope::open(&receipt_envelope, central).map_err(|r| fail(format!("receipt: {r}")))?;
    match opened.record() {
        Record::Receipt(r) if r.record == member.digest() && r.log_index == index => {
            let receipt = r.clone();
            Ok(NationalEntry { member, record, receipt_envelope, receipt })
        }
        _ => Err(fail("the receipt does not acknowledge the record beside it".into())),
    }
}

/// The value of metric `name` in a Prometheus text page.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

/// A node's `/metrics`, as text.
pub async fn metrics_text(http: &reqwest::Client, base: &str) -> Result<String, String> {
    get_text(http, &format!("{base}/metrics")).await
}

/// A node's `/metrics` as numbers by series (comments left out).
pub async fn metrics(http: &reqwest::Client, base: &str) -> Result<BTreeMap<String, f64>, String> {
    let text = metrics_text(http, base).await?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .filter_map(|(k, v)| Some((k.to_owned(), v.trim().parse().ok()?)))
        .collect())
}

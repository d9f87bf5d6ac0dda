//! The publish figures: durable publishes per second through the editor API, 32 concurrent
//! editors against one, and the check that every acknowledged publish is in the log.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use portal_proto::envelope::SignedRecord;
use portal_proto::ids::NodeId;
use portal_proto::record::{KeyGrant, Record};
use portal_proto::verifier::LogVerifier;
use serde_json::Value;

use super::feeds::fetch;
use super::{
    EDITORS, NODE_ID, NodeUnderTest, PUBLISH_NAME, SEED_ITEMS, publish_abs_row, publish_rel_row,
    say,
};
use crate::measure::{Row, median};

pub(super) enum Stop {
    /// Until the shared counter reaches this many publishes.
    Count(usize),
    /// Until this instant (publishes in flight then still complete and count).
    At(Instant),
}

#[derive(Default)]
pub(super) struct Published {
    /// (item id, log index) of every 201.
    pub(super) acked: Vec<(String, u64)>,
    pub(super) errors: Vec<String>,
    elapsed: Duration,
}

/// `tasks` editors posting drafts to the editor API until `stop`.
pub(super) async fn editors(
    client: &reqwest::Client,
    node: &NodeUnderTest,
    drafts: &Arc<Vec<Vec<u8>>>,
    tasks: usize,
    stop: Stop,
    next: Arc<AtomicUsize>,
) -> Published {
    let url = format!("{}/api/v1/items", node.base);
    let stop = Arc::new(stop);
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..tasks {
        let (client, url, token) = (client.clone(), url.clone(), node.token.clone());
        let (drafts, next, stop) = (Arc::clone(drafts), Arc::clone(&next), Arc::clone(&stop));
        handles.push(tokio::spawn(async move {
            let mut out = Published::default();
            loop {
                if let Stop::At(t) = *stop
                    && Instant::now() >= t
                {
                    break;
                }
                let k = next.fetch_add(1, Ordering::Relaxed);
                if let Stop::Count(n) = *stop
                    && k >= n
                {
                    break;
                }
                let resp = client
                    .post(&url)
                    .bearer_auth(&token)
                    .header("content-type", "application/json")
                    .body(drafts[k % drafts.len()].clone())
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status().as_u16() == 201 => match r.json::<Value>().await {
                        Ok(v) => match (v["id"].as_str(), v["log_index"].as_u64()) {
                            (Some(id), Some(i)) => out.acked.push((id.to_owned(), i)),
                            _ => out.errors.push(format!("201 without id/log_index: {v}")),
                        },
                        Err(e) => out.errors.push(format!("201 body: {e}")),
                    },
                    Ok(r) => {
                        let status = r.status();
                        let text = r.text().await.unwrap_or_default();
                        out.errors.push(format!("{status}: {text}"));
                    }
                    Err(e) => out.errors.push(e.to_string()),
                }
            }
            out
        }));
    }
    let mut all = Published::default();
    for h in handles {
        match h.await {
            Ok(p) => {
                all.acked.extend(p.acked);
                all.errors.extend(p.errors);
            }
            Err(e) => all.errors.push(format!("editor task: {e}")),
        }
    }
    all.elapsed = start.elapsed();
    all
}

pub(super) fn publish_rows(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    node: &NodeUnderTest,
    drafts: &Arc<Vec<Vec<u8>>>,
    secs: u64,
    rounds: usize,
    mut acked: Vec<(String, u64)>,
) -> Vec<Row> {
    let mut abs = publish_abs_row();
    let mut rel = publish_rel_row();
    say!("measuring {PUBLISH_NAME} against 1 sequential editor");
    let next = Arc::new(AtomicUsize::new(SEED_ITEMS));
    let (mut group, mut single, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut errors: Vec<String> = Vec::new();
    let (mut group_n, mut single_n) = (0usize, 0usize);
    for round in 0..rounds {
        let order: [usize; 2] = if round % 2 == 0 { [EDITORS, 1] } else { [1, EDITORS] };
        let mut rate = [0.0; 2];
        for tasks in order {
            let until = Stop::At(Instant::now() + Duration::from_secs(secs));
            let p = rt.block_on(editors(client, node, drafts, tasks, until, Arc::clone(&next)));
            let r = p.acked.len() as f64 / p.elapsed.as_secs_f64();
            if tasks == 1 {
                rate[1] = r;
                single_n += p.acked.len();
            } else {
                rate[0] = r;
                group_n += p.acked.len();
            }
            acked.extend(p.acked);
            errors.extend(p.errors);
        }
        say!(
            "  round {}: {EDITORS} editors {:.0}/s, 1 editor {:.0}/s",
            round + 1,
            rate[0],
            rate[1]
        );
        group.push(rate[0]);
        single.push(rate[1]);
        ratios.push(rate[0] / rate[1]);
    }
    let value = median(group.clone());
    let reference = median(single);
    let draft_bytes = drafts.iter().map(Vec::len).sum::<usize>() / drafts.len().max(1);
    let mut notes = vec![format!(
        "{group_n} publishes by {EDITORS} editors and {single_n} by one, in {rounds} alternating \
         rounds of {secs} s; drafts are Vietnamese news, {draft_bytes} bytes of JSON on average; \
         the editors run in the harness (tokio, reqwest, keep-alive) on the same cores as the node"
    )];
    if !errors.is_empty() {
        notes.push(format!(
            "CHECK FAILED: {} publishes not acknowledged with 201, e.g. {:?}",
            errors.len(),
            errors.iter().take(3).collect::<Vec<_>>()
        ));
    }
    say!("checking the log: {} acknowledged publishes", acked.len());
    let checked = check_log(rt, client, node, &acked);
    say!("log checked");
    match checked {
        Ok(note) => notes.push(note),
        Err(e) => {
            say!("{PUBLISH_NAME}: CHECK FAILED: {e}");
            notes.push(format!("CHECK FAILED: {e}"));
        }
    }
    abs.value = value;
    abs.reference = 1000.0;
    abs.ratio = value / 1000.0;
    abs.notes = notes.clone();
    rel.value = value;
    rel.reference = reference;
    rel.ratio = median(ratios);
    rel.notes = vec![
        "the ratio is the group-commit gain: one commit (journal fsync + store flush) \
                      acknowledges every publish waiting for it"
            .into(),
    ];
    vec![abs, rel]
}

/// Every acknowledged publish is in the log at its index, and the whole log verifies against
/// the key `portal init` printed.
fn check_log(
    rt: &tokio::runtime::Runtime,
    client: &reqwest::Client,
    node: &NodeUnderTest,
    acked: &[(String, u64)],
) -> Result<String, String> {
    let origin = NodeId::new(NODE_ID).map_err(|e| e.to_string())?;
    let mut verifier = LogVerifier::new(origin, vec![KeyGrant::pinned(node.public_key.clone())]);
    let mut items: BTreeMap<u64, String> = BTreeMap::new();
    let mut next = 0u64;
    loop {
        let url = format!("{}/api/v1/log?after={next}&limit=1000", node.base);
        let page = fetch(rt, client, &url, None)?;
        if page.status != 200 {
            return Err(format!("GET {url}: {}", page.status));
        }
        let page: Value = serde_json::from_slice(&page.body).map_err(|e| format!("{url}: {e}"))?;
        let size = page["size"].as_u64().ok_or("log page without size")?;
        let entries = page["entries"].as_array().ok_or("log page without entries")?;
        for e in entries {
            let field = |k: &str| e[k].as_str().unwrap_or_default();
            let signed = SignedRecord::from_base64(field("record"), field("kid"), field("sig"))
                .map_err(|e| format!("entry {next}: {e}"))?;
            let verified =
                verifier.push(&signed).map_err(|e| format!("entry {next} does not verify: {e}"))?;
            if let Record::Item(i) = verified.record() {
                items.insert(i.log_index, i.id.to_string());
            }
            next += 1;
        }
        if entries.is_empty() || next >= size {
            break;
        }
    }
    let mut missing = 0usize;
    for (id, index) in acked {
        if items.get(index) != Some(id) {
            missing += 1;
        }
    }
    let mut indices: Vec<u64> = acked.iter().map(|(_, i)| *i).collect();
    indices.sort_unstable();
    indices.dedup();
    if missing > 0 || indices.len() != acked.len() {
        return Err(format!(
            "{missing} of {} acknowledged publishes are not in the log at their index \
             ({} distinct indices acknowledged)",
            acked.len(),
            indices.len()
        ));
    }
    Ok(format!(
        "GET /api/v1/log: all {} acknowledged publishes are in the log at their acknowledged \
         index with their id; the whole log ({next} entries) verifies against the key printed \
         by `portal init`",
        acked.len()
    ))
}

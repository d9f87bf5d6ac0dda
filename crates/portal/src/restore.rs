//! `portal restore`: give a ministry node back the log entries its store lost, from the central
//! node's mirror of its log (SPEC.md §8, `member-log`) and its own signing journal, without
//! signing any index again.
//!
//! Nothing from the central node is trusted: every entry is verified with a `LogVerifier`
//! against this node's **own** keys (`keys/node.key` and `keys/history.json`), and must agree
//! byte for byte with whatever the local store and the signing journal still hold. The whole
//! copy is verified before anything is written (pass 1); then the missing entries are fetched
//! again, checked against the leaf hashes of pass 1, and imported exactly as signed, at their
//! own indices (pass 2). A checkpoint is the node's own note from the central's copy when it
//! covers exactly the restored log; otherwise a fresh note of the restored log, signed like a
//! heartbeat (a checkpoint is not a log entry: no index is signed again).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use portal_client::{Client, FetchPolicy, Fetcher, Url};
use portal_proto::checkpoint::{Checkpoint, sign_checkpoint};
use portal_proto::envelope::{self, SignedRecord};
use portal_proto::merkle::{self, Hash};
use portal_proto::verifier::{LogVerifier, checkpoint_origin, open_checkpoint_note};
use portal_publisher::DataDir;
use portal_store::{Append, Store, StoreError};

/// Entries written per store batch.
const CHUNK: u64 = 1000;

/// What `portal restore` was asked to do.
pub(crate) struct Restore {
    pub(crate) data: PathBuf,
    pub(crate) from: String,
    pub(crate) member: Option<String>,
    pub(crate) allow_private: bool,
    pub(crate) page_size: u32,
}

/// Where each index of the restored log comes from.
struct Sources {
    /// Entries `[0, mirror)` are in the central's copy.
    mirror: u64,
    /// The signing journal's batch: its first index and entries.
    journal: Option<(u64, Vec<SignedRecord>)>,
}

fn progress(what: &str, done: u64, total: u64) {
    eprint!("\r{what}: {done} of {total} entries");
    let _ = std::io::stderr().flush();
    if done >= total {
        eprintln!();
    }
}

/// The node's own signature lines of a (cosigned) checkpoint note: the cosignatures of others
/// are theirs to serve, not the node's.
fn own_lines(note: &str, origin_line: &str) -> Option<String> {
    let (text, sigs) = note.rsplit_once("\n\n")?;
    let prefix = format!("\u{2014} {origin_line} ");
    let own: Vec<&str> = sigs.lines().filter(|l| l.starts_with(&prefix)).collect();
    (!own.is_empty()).then(|| format!("{text}\n\n{}\n", own.join("\n")))
}

pub(crate) fn run(opts: Restore) -> Result<()> {
    let dir = DataDir::new(&opts.data);
    let config = portal_publisher::node::load_config(&dir)?;
    let signer = portal_publisher::node::load_signer(&dir)?;
    let history = portal_publisher::keys::history(&dir)?;
    let journal = portal_publisher::node::signing_journal(&dir)?;
    let store = match Store::open(&dir.store()) {
        Ok(s) => s,
        Err(StoreError::Locked(_)) => bail!(
            "the node is running (its store {} is locked): stop it first, then run portal restore again",
            dir.store().display()
        ),
        Err(e) => return Err(e).context("opening the store"),
    };
    let member = opts.member.clone().unwrap_or_else(|| config.id.to_string());
    let base = opts.from.trim_end_matches('/');
    let url = Url::parse(&format!("{base}/api/v1/members/{member}/log"))
        .with_context(|| format!("--from {base:?} is not a URL"))?;
    let fetcher =
        Fetcher::new(FetchPolicy { allow_private: opts.allow_private, ..Default::default() })
            .map_err(|e| anyhow!("{e}"))?;
    let client = Client::new(fetcher);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;

    // Pass 1: verify everything, write nothing.
    let mut verifier =
        LogVerifier::new(config.id.clone(), portal_publisher::keys::initial_grants(&history));
    let mut leaves: Vec<Hash> = Vec::new();
    let local = store.size();
    let mirror = Mirror { rt: &rt, client: &client, url: &url, page_size: opts.page_size };
    let (mirror_size, mirror_note) =
        mirror.verify(&config.id, &store, &journal, &mut verifier, &mut leaves)?;
    let sources = Sources { mirror: verifier.next_index(), journal };
    if sources.mirror < mirror_size {
        bail!("the central node's copy ended at {} of {mirror_size} entries", sources.mirror);
    }
    verify_beyond_mirror(&store, &sources, &mut verifier, &mut leaves, local)?;
    let target = verifier.next_index();
    let current = signer.public_key();
    if !verifier.grants().iter().any(|g| g.public_key == current) {
        bail!(
            "the verified log never grants this node's current key {}: keys/ and the log disagree; \
             nothing written",
            current.key_id()
        );
    }
    if target <= local {
        println!(
            "nothing to restore: this node's store already holds all {local} entries that the \
             central node's copy ({}) and the signing journal have",
            sources.mirror
        );
        return Ok(());
    }
    let note =
        checkpoint_for(&dir, &config.id, &signer, &history, &verifier, &leaves, &mirror_note)?;

    // Pass 2: write the missing entries exactly as signed.
    mirror.import(&store, &sources, &leaves, local, target)?;
    store.set_checkpoint(&note).context("storing the checkpoint")?;
    println!(
        "restored entries {local} to {} ({} entries; none signed again) from {base} and the \
         signing journal; log size {target}, root {}",
        target - 1,
        target - local,
        portal_proto::crypto::encode_base64(&verifier.root())
    );
    println!("next: portal serve --data {}", opts.data.display());
    Ok(())
}

/// The central node's copy of the log, read through `client`.
struct Mirror<'a> {
    rt: &'a tokio::runtime::Runtime,
    client: &'a Client,
    url: &'a Url,
    page_size: u32,
}

impl Mirror<'_> {
    /// Pass 1: verify the whole copy against the node's own keys, and every entry this node
    /// also holds (store, journal) against it; write nothing. Returns the copy's size and
    /// checkpoint note.
    fn verify(
        &self,
        origin: &portal_proto::ids::NodeId,
        store: &Store,
        journal: &Option<(u64, Vec<SignedRecord>)>,
        verifier: &mut LogVerifier,
        leaves: &mut Vec<Hash>,
    ) -> Result<(u64, String)> {
        let local = store.size();
        let mut mirror_note;
        let mut after = 0u64;
        let mut mirror_size;
        loop {
            let page = self
                .rt
                .block_on(self.client.log_page(self.url, after, self.page_size))
                .map_err(|e| anyhow!("fetching the central node's copy at {}: {e}", self.url))?;
            if page.origin != *origin {
                bail!(
                    "refused (wrong-origin): the log at {} is of {}, this node is {origin}; nothing written",
                    self.url,
                    page.origin
                );
            }
            mirror_size = page.size;
            if page.size < after {
                bail!("the central node's copy shrank to {} entries while being read", page.size);
            }
            for (index, signed) in &page.entries {
                check(verifier, leaves, *index, signed, "the central node's copy")?;
                if *index < local {
                    let mine = store.entry(*index)?;
                    if mine.as_ref() != Some(signed) {
                        bail!(
                            "refused (fork): the central node's entry {index} differs from the one in \
                             this node's store; nothing written. Keep both as evidence and call the \
                             federation's operators"
                        );
                    }
                }
                same_as_journal(journal, *index, signed)?;
            }
            mirror_note = page.checkpoint.clone();
            progress("verified the central node's copy", page.end(), page.size);
            if page.entries.is_empty() || page.is_up_to_date() {
                break;
            }
            after = page.end();
        }
        Ok((mirror_size, mirror_note))
    }

    /// Pass 2: write entries `[local, target)` exactly as signed, from the copy and the
    /// journal, checking each against the leaves verified in pass 1.
    fn import(
        &self,
        store: &Store,
        sources: &Sources,
        leaves: &[Hash],
        local: u64,
        target: u64,
    ) -> Result<()> {
        let mut next = local;
        while next < target {
            let chunk_end = (next + CHUNK).min(target);
            let mut chunk: Vec<SignedRecord> = Vec::new();
            while next + (chunk.len() as u64) < chunk_end {
                let at = next + chunk.len() as u64;
                if at < sources.mirror {
                    let want =
                        u32::try_from(chunk_end.min(sources.mirror) - at).unwrap_or(u32::MAX);
                    let page = self
                        .rt
                        .block_on(self.client.log_page(self.url, at, want.min(self.page_size)))
                        .map_err(|e| {
                            anyhow!("fetching the central node's copy at {}: {e}", self.url)
                        })?;
                    if page.entries.is_empty() {
                        bail!("the central node's copy ended at {at} on the second read");
                    }
                    chunk.extend(page.entries.into_iter().map(|(_, s)| s));
                    chunk.truncate((chunk_end - next) as usize);
                } else {
                    let (start, entries) =
                        sources.journal.as_ref().ok_or_else(|| anyhow!("no journal entry {at}"))?;
                    let entry = entries
                        .get((at - start) as usize)
                        .ok_or_else(|| anyhow!("no journal entry {at}"))?;
                    chunk.push(entry.clone());
                }
            }
            for (k, s) in chunk.iter().enumerate() {
                let index = next + k as u64;
                if s.leaf_hash() != leaves[index as usize] {
                    bail!(
                        "the central node's entry {index} changed between the two reads; {next} \
                         entries are stored, all verified. Run portal restore again"
                    );
                }
            }
            let records = chunk
                .iter()
                .map(|s| envelope::parse_record(s.bytes()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| anyhow!("{e}"))?;
            let appends: Vec<Append<'_>> = records
                .iter()
                .zip(&chunk)
                .map(|(record, signed)| Append { record, signed })
                .collect();
            next = store.import(&appends).context("writing to the store")?;
            progress("imported", next, target);
        }
        Ok(())
    }
}

/// Verify what this node holds beyond the central's copy: its own store (the central was
/// behind), then the last batch its key signed, if that goes further.
fn verify_beyond_mirror(
    store: &Store,
    sources: &Sources,
    verifier: &mut LogVerifier,
    leaves: &mut Vec<Hash>,
    local: u64,
) -> Result<()> {
    // Entries the local store has beyond the central's copy (the central was behind).
    let mut i = verifier.next_index();
    while i < local {
        let chunk = store.entries(i, CHUNK as usize)?;
        if chunk.is_empty() {
            bail!("this node's store says it holds {local} entries but entry {i} is missing");
        }
        for signed in chunk {
            check(verifier, leaves, i, &signed, "this node's store")?;
            same_as_journal(&sources.journal, i, &signed)?;
            i += 1;
        }
    }
    // The last batch the key signed, if it goes further.
    if let Some((start, entries)) = &sources.journal {
        let next = verifier.next_index();
        let end = start + entries.len() as u64;
        if end > next && *start > next {
            bail!(
                "entries {next} to {} are in neither this node's store, the central node's copy \
                 ({} entries) nor the signing journal (from {start}): nothing written. Another \
                 copy of the log (a mirror, a backup) is needed",
                start - 1,
                sources.mirror
            );
        }
        for (index, signed) in (*start..).zip(entries).skip_while(|(i, _)| *i < next) {
            check(verifier, leaves, index, signed, "the signing journal")?;
        }
    }
    Ok(())
}

/// Verify the next entry against the node's own keys.
fn check(
    verifier: &mut LogVerifier,
    leaves: &mut Vec<Hash>,
    index: u64,
    signed: &SignedRecord,
    from: &str,
) -> Result<()> {
    verifier.push(signed).map_err(|e| {
        anyhow!(
            "refused ({}): entry {index} of {from} does not verify against this node's own keys: \
             {e}; nothing written",
            e.code()
        )
    })?;
    leaves.push(signed.leaf_hash());
    Ok(())
}

/// An entry that the signing journal also holds must be the journal's, byte for byte.
fn same_as_journal(
    journal: &Option<(u64, Vec<SignedRecord>)>,
    index: u64,
    signed: &SignedRecord,
) -> Result<()> {
    let Some((start, entries)) = journal else { return Ok(()) };
    let Some(mine) = index.checked_sub(*start).and_then(|k| entries.get(k as usize)) else {
        return Ok(());
    };
    if mine != signed {
        bail!(
            "refused (fork): entry {index} differs from the one in this node's signing journal; \
             nothing written. Keep both as evidence and call the federation's operators"
        );
    }
    Ok(())
}

/// The checkpoint to store with the restored log (see the module documentation).
fn checkpoint_for(
    dir: &DataDir,
    id: &portal_proto::ids::NodeId,
    signer: &portal_proto::crypto::Signer,
    history: &[portal_proto::record::KeyGrant],
    verifier: &LogVerifier,
    leaves: &[Hash],
    mirror_note: &str,
) -> Result<String> {
    let origin = checkpoint_origin(id);
    let target = verifier.next_index();
    if let Some(note) = own_lines(mirror_note, &origin) {
        let cp = open_checkpoint_note(&note, id, verifier.grants()).map_err(|e| {
            anyhow!(
                "refused ({}): the central node's checkpoint of this node does not verify: {e}; \
                 nothing written",
                e.code()
            )
        })?;
        if cp.size <= target
            && merkle::root_from_leaf_hashes(&leaves[..cp.size as usize]) != cp.root
        {
            bail!(
                "refused (inconsistent-checkpoint): this node's checkpoint of size {} held by the \
                 central node does not match the verified entries; nothing written",
                cp.size
            );
        }
        if cp.size == target {
            return Ok(note);
        }
    }
    let signer = portal_publisher::keys::checkpoint_signer(dir, signer, history, target)?;
    let now = portal_publisher::node::now().unix();
    let cp = Checkpoint::with_time(origin.clone(), target, verifier.root(), now);
    sign_checkpoint(&cp, &origin, &signer).map_err(|e| anyhow!("signing the checkpoint: {e}"))
}

//! Typed fetches of IPSP/1 resources (SPEC.md §8), decoded strictly and, where a single
//! record can be checked alone, verified through `portal_proto::envelope` (the one
//! verification path).
//!
//! What is verified here and what is left to the caller:
//! - descriptors and rosters are opened here ([`Verified`] results);
//! - log pages are checked for shape (contiguous indices from the requested start, counts,
//!   strict base64) but their records are **not** verified: feed them, in order, to
//!   `portal_proto::verifier::LogVerifier::push`, which checks signatures, origin, index
//!   continuity and version chains, and the page's checkpoint to `push_checkpoint`;
//! - checkpoints and proofs are returned as text and hashes, for the verifier to check.
//!
//! The bodies are read as the `portal_proto::api` types the node writes (SPEC.md §8.1), then
//! checked here against what was asked for.

use portal_proto::api::log::{self as wire, ConsistencyProof, InclusionProof, NationalLogPage};
use portal_proto::api::paths;
use portal_proto::crypto::decode_base64_array;
use portal_proto::envelope::{self, KeyResolver, SignedRecord, TrustStore, Verified};
use portal_proto::ids::NodeId;
use portal_proto::limits::{MAX_PAGE_ENTRIES, MAX_RECORD_BYTES};
use portal_proto::merkle::Hash;
use portal_proto::record::{Descriptor, Record, RecordType, Roster};
use portal_proto::{Rejection, checkpoint};
use reqwest::Url;
use serde::de::DeserializeOwned;

use crate::fetch::{FetchError, Fetcher};

/// Where a node serves its descriptor, below its base URL (SPEC.md §4.4).
pub const DESCRIPTOR_PATH: &str = paths::DESCRIPTOR;

/// Largest envelope body accepted: a 1 MiB record in base64 plus the other members.
pub const MAX_ENVELOPE_BYTES: usize = MAX_RECORD_BYTES / 3 * 4 + 1024;

/// Largest proof response accepted, in bytes.
const MAX_PROOF_BYTES: usize = 64 * 1024;

/// Most hashes in a proof: an inclusion proof has at most 64, a consistency proof at most
/// about twice that, for any tree of 2^64 leaves.
const MAX_PROOF_HASHES: usize = 130;

/// Why a typed fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request itself failed (refused, timeout, too large, status, transport).
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The body was received but its content was refused by IPSP/1 verification.
    #[error("{url}: {rejection}")]
    Rejected {
        /// The URL it came from.
        url: String,
        /// Why it was refused (its `code()` is the SPEC.md §11.3 code).
        rejection: Rejection,
    },
    /// The body is not the document the endpoint must serve: not JSON of the right shape,
    /// inconsistent fields (a log page with a gap), a missing endpoint. Code `malformed`.
    #[error("{url}: malformed: {detail}")]
    Malformed {
        /// The URL it came from.
        url: String,
        /// What is wrong.
        detail: String,
    },
}

impl ClientError {
    /// A stable machine-readable code: the SPEC.md §11.3 code of a rejection (`malformed`
    /// for [`ClientError::Malformed`]), or the fetch code (`unreachable`, `timeout`,
    /// `too-large`, `refused`, `http-status`, `setup`).
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Fetch(e) => e.code(),
            ClientError::Rejected { rejection, .. } => rejection.code(),
            ClientError::Malformed { .. } => "malformed",
        }
    }

    /// The content refusal as a [`Rejection`] (for evidence and incident records); `None`
    /// for fetch failures.
    pub fn rejection(&self) -> Option<Rejection> {
        match self {
            ClientError::Fetch(_) => None,
            ClientError::Rejected { rejection, .. } => Some(rejection.clone()),
            ClientError::Malformed { detail, .. } => Some(Rejection::Malformed(detail.clone())),
        }
    }

    /// The URL concerned.
    pub fn url(&self) -> &str {
        match self {
            ClientError::Fetch(e) => e.url(),
            ClientError::Rejected { url, .. } | ClientError::Malformed { url, .. } => url,
        }
    }
}

fn malformed(url: &Url, detail: impl Into<String>) -> ClientError {
    ClientError::Malformed { url: url.to_string(), detail: detail.into() }
}

fn rejected(url: &Url, rejection: Rejection) -> ClientError {
    ClientError::Rejected { url: url.to_string(), rejection }
}

/// One page of a node's log (SPEC.md §8, `log`), checked for shape but not verified.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogPage {
    /// The node whose log this is, as the page says (the verifier checks every record's).
    pub origin: NodeId,
    /// Index of the first entry: the `after` that was asked for (or `size`, when the log is
    /// now shorter than `after`: see [`Client::log_page`]).
    pub start: u64,
    /// The node's log size when it served the page (≥ `start + entries.len()`).
    pub size: u64,
    /// The entries with their indices, contiguous from `start`, in order.
    pub entries: Vec<(u64, SignedRecord)>,
    /// The latest signed checkpoint note, unverified (empty when the node has none yet, which
    /// only an empty page may have).
    pub checkpoint: String,
    /// The next page, when the log goes on past this one.
    pub next: Option<Url>,
}

impl LogPage {
    /// One past the last entry's index: the `after` of the next request.
    pub fn end(&self) -> u64 {
        self.start + self.entries.len() as u64
    }

    /// Whether this page reached the end of the log the node had when it answered.
    pub fn is_up_to_date(&self) -> bool {
        self.end() >= self.size
    }
}

/// One page of an aggregator's national log (SPEC.md §8, `national-log`): the aggregator's
/// own log page, and for each entry that is a receipt, the member record it acknowledges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NationalPage {
    /// The aggregator's own entries (receipts and its own records), as a log page.
    pub page: LogPage,
    /// For `page.entries[i]`, the member record paired with it, if it is a receipt.
    pub members: Vec<Option<SignedRecord>>,
}

/// The URL of `name` in `descriptor`'s endpoints (SPEC.md §8): absolute http(s), or
/// [`ClientError::Malformed`] when it is missing or not a URL.
pub fn endpoint(descriptor: &Descriptor, name: &str) -> Result<Url, ClientError> {
    let refuse = |what: &str| ClientError::Malformed {
        url: descriptor.url.clone(),
        detail: format!("descriptor of {}: endpoint {name:?} {what}", descriptor.origin),
    };
    let raw = descriptor.endpoints.get(name).ok_or_else(|| refuse("is missing"))?;
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(url),
        _ => Err(refuse("is not an absolute http(s) URL")),
    }
}

/// Where `base`'s descriptor is served: `{base}/.well-known/portal-node` (a trailing slash of
/// `base` is dropped; query and fragment too).
pub fn descriptor_url(base: &Url) -> Url {
    let mut url = base.clone();
    let path = format!("{}{DESCRIPTOR_PATH}", base.path().trim_end_matches('/'));
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// `url` with the query parameters `params` set (replacing any of the same names).
fn with_query(url: &Url, params: &[(&str, u64)]) -> Url {
    let mut out = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| !params.iter().any(|(name, _)| k == name))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    out.set_fragment(None);
    out.set_query(None);
    {
        let mut q = out.query_pairs_mut();
        q.extend_pairs(kept);
        for (name, value) in params {
            q.append_pair(name, &value.to_string());
        }
    }
    out
}

/// Typed, verified fetches of IPSP/1 resources over a [`Fetcher`].
#[derive(Clone, Debug)]
pub struct Client {
    fetcher: Fetcher,
}

impl Client {
    /// A client fetching through `fetcher` (and its policy and allowlist).
    pub fn new(fetcher: Fetcher) -> Client {
        Client { fetcher }
    }

    /// The fetcher underneath, for untyped requests (feeds, attachments, conditional GETs).
    pub fn fetcher(&self) -> &Fetcher {
        &self.fetcher
    }

    /// Fetch and check the descriptor of the node at `base`, trusting the keys the descriptor
    /// itself lists (self-signed: this proves the document is intact and consistent, not who
    /// wrote it; compare its keys with pinned ones out of band). Its `url` must have `base`'s
    /// origin (`wrong-origin`); a record of another type is `wrong-type`.
    pub async fn descriptor(&self, base: &Url) -> Result<Verified<Descriptor>, ClientError> {
        let url = descriptor_url(base);
        let signed = self.envelope(&url).await?;
        let record = envelope::parse_record(signed.bytes()).map_err(|r| rejected(&url, r))?;
        let got = record.record_type();
        let Record::Descriptor(descriptor) = record else {
            return Err(rejected(
                &url,
                Rejection::WrongType { expected: RecordType::Descriptor, got },
            ));
        };
        let mut own = TrustStore::new();
        own.set(descriptor.origin.clone(), descriptor.keys.clone());
        let verified =
            envelope::open_as::<Descriptor>(&signed, &own).map_err(|r| rejected(&url, r))?;
        check_descriptor_origin(base, &url, verified.record())?;
        Ok(verified)
    }

    /// Fetch the descriptor of the node at `base` and verify it under `trust` (pinned keys, a
    /// verified roster): `unknown-origin`, `unknown-key`, `bad-signature`… Its `url` must have
    /// `base`'s origin (`wrong-origin`).
    pub async fn descriptor_pinned(
        &self,
        base: &Url,
        trust: &(dyn KeyResolver + Sync),
    ) -> Result<Verified<Descriptor>, ClientError> {
        let url = descriptor_url(base);
        let signed = self.envelope(&url).await?;
        let verified =
            envelope::open_as::<Descriptor>(&signed, trust).map_err(|r| rejected(&url, r))?;
        check_descriptor_origin(base, &url, verified.record())?;
        Ok(verified)
    }

    /// Fetch a roster envelope from `url` (the central node's `roster` endpoint) and verify
    /// it under `central`'s keys; another record type is `wrong-type`. Serial rollback is
    /// checked by `portal_proto::verifier::RosterTrust::open`, which also builds the members'
    /// trust from it.
    pub async fn roster(
        &self,
        url: &Url,
        central: &(dyn KeyResolver + Sync),
    ) -> Result<Verified<Roster>, ClientError> {
        let signed = self.envelope(url).await?;
        envelope::open_as::<Roster>(&signed, central).map_err(|r| rejected(url, r))
    }

    /// Fetch one page of the log at `log_url` (the descriptor's `log` endpoint): the entries
    /// from index `after`, at most `limit` (clamped to 1–1000).
    ///
    /// The page must start at `after`, its entries must be contiguous from there with
    /// matching `index` fields, at most `limit` of them (more than 1000 is `too-large`),
    /// within its `size`, each a strict base64 envelope, and a page with entries must carry a
    /// checkpoint; otherwise `malformed`. One exception: a node whose log is now shorter than
    /// `after` answers an empty page with `start = size < after`, returned as is: **check
    /// `page.size < after`** (a rollback; the page's checkpoint is the signed evidence).
    /// Records are **not** verified: push them, in order, to a `LogVerifier`.
    pub async fn log_page(
        &self,
        log_url: &Url,
        after: u64,
        limit: u32,
    ) -> Result<LogPage, ClientError> {
        let limit = limit.clamp(1, MAX_PAGE_ENTRIES as u32);
        let url = with_query(log_url, &[("after", after), ("limit", u64::from(limit))]);
        let fetched = self.fetcher.get(&url, None).await?;
        let url = fetched.url;
        let page: wire::LogPage = json(&url, &fetched.body)?;
        parse_page(&url, page, after, limit as usize)
    }

    /// Fetch a page of an aggregator's national log (`national-log`), decoded like
    /// [`Client::log_page`]; each entry must be either `{"index", "member", "receipt"}` or
    /// `{"index", "record"}`, else `malformed`. Nothing is verified: the receipts and records
    /// go to a `LogVerifier` of the aggregator, the member records to their own origins' keys.
    pub async fn national_log_page(
        &self,
        url: &Url,
        after: u64,
        limit: u32,
    ) -> Result<NationalPage, ClientError> {
        let limit = limit.clamp(1, MAX_PAGE_ENTRIES as u32);
        let url = with_query(url, &[("after", after), ("limit", u64::from(limit))]);
        let fetched = self.fetcher.get(&url, None).await?;
        let url = fetched.url;
        let national: NationalLogPage = json(&url, &fetched.body)?;
        let mut own = Vec::with_capacity(national.entries.len());
        let mut members = Vec::with_capacity(national.entries.len());
        for e in national.entries {
            let index = e.index;
            let Some((entry, member)) = e.split() else {
                return Err(malformed(
                    &url,
                    format!(
                        "national log entry {index}: neither {{member, receipt}} nor {{record}}"
                    ),
                ));
            };
            own.push(entry);
            members.push(member.map(|m| m.decode()).transpose().map_err(|r| rejected(&url, r))?);
        }
        let page = wire::LogPage {
            checkpoint: national.checkpoint,
            entries: own,
            next: national.next,
            origin: national.origin,
            size: national.size,
            start: national.start,
        };
        Ok(NationalPage { page: parse_page(&url, page, after, limit as usize)?, members })
    }

    /// Fetch the latest signed checkpoint note from `url` (the `checkpoint` endpoint), as
    /// text (at most 1 MiB, UTF-8), unverified: open it with
    /// `LogVerifier::push_checkpoint` or `portal_proto::verifier::open_checkpoint_note`.
    pub async fn checkpoint(&self, url: &Url) -> Result<String, ClientError> {
        let fetched = self.fetcher.get(url, Some(checkpoint::MAX_NOTE_BYTES)).await?;
        let note = String::from_utf8(fetched.body)
            .map_err(|_| malformed(&fetched.url, "checkpoint is not UTF-8"))?;
        if note.is_empty() {
            return Err(malformed(&fetched.url, "empty checkpoint"));
        }
        Ok(note)
    }

    /// Fetch the consistency proof from size `from` to size `to` (the `consistency-proof`
    /// endpoint). The answer must echo `from` and `to`; each hash must be 32 bytes of strict
    /// base64. The proof is not verified here.
    pub async fn consistency_proof(
        &self,
        url: &Url,
        from: u64,
        to: u64,
    ) -> Result<Vec<Hash>, ClientError> {
        let url = with_query(url, &[("from", from), ("to", to)]);
        let fetched = self.fetcher.get(&url, Some(MAX_PROOF_BYTES)).await?;
        let proof: ConsistencyProof = json(&fetched.url, &fetched.body)?;
        if (proof.from, proof.to) != (from, to) {
            return Err(malformed(
                &fetched.url,
                format!(
                    "asked for a proof from {from} to {to}, got {} to {}",
                    proof.from, proof.to
                ),
            ));
        }
        hashes(&fetched.url, &proof.proof)
    }

    /// Fetch the inclusion proof of `index` in the tree of size `size` (the `inclusion-proof`
    /// endpoint). The answer must echo `index` and `size`; each hash must be 32 bytes of
    /// strict base64. The proof is not verified here.
    pub async fn inclusion_proof(
        &self,
        url: &Url,
        index: u64,
        size: u64,
    ) -> Result<Vec<Hash>, ClientError> {
        let url = with_query(url, &[("index", index), ("size", size)]);
        let fetched = self.fetcher.get(&url, Some(MAX_PROOF_BYTES)).await?;
        let proof: InclusionProof = json(&fetched.url, &fetched.body)?;
        if (proof.index, proof.size) != (index, size) {
            return Err(malformed(
                &fetched.url,
                format!(
                    "asked for index {index} in size {size}, got {} in {}",
                    proof.index, proof.size
                ),
            ));
        }
        hashes(&fetched.url, &proof.proof)
    }

    /// Fetch an envelope (SPEC.md §5.5) and decode it (strict base64, sizes), unverified.
    async fn envelope(&self, url: &Url) -> Result<SignedRecord, ClientError> {
        let fetched = self.fetcher.get(url, Some(MAX_ENVELOPE_BYTES)).await?;
        SignedRecord::from_json(&fetched.body).map_err(|r| rejected(&fetched.url, r))
    }
}

/// The descriptor must describe the node it was fetched from.
fn check_descriptor_origin(base: &Url, url: &Url, d: &Descriptor) -> Result<(), ClientError> {
    let expected = base.origin().ascii_serialization();
    let got = match Url::parse(&d.url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => d.url.clone(),
    };
    if got != expected || !base.origin().is_tuple() {
        return Err(rejected(url, Rejection::WrongOrigin { expected, got }));
    }
    Ok(())
}

fn json<T: DeserializeOwned>(url: &Url, body: &[u8]) -> Result<T, ClientError> {
    serde_json::from_slice(body).map_err(|e| malformed(url, format!("not the expected JSON: {e}")))
}

fn hashes(url: &Url, proof: &[String]) -> Result<Vec<Hash>, ClientError> {
    if proof.len() > MAX_PROOF_HASHES {
        return Err(malformed(url, format!("a proof of {} hashes", proof.len())));
    }
    proof
        .iter()
        .enumerate()
        .map(|(i, h)| {
            decode_base64_array::<32>(h)
                .map_err(|e| malformed(url, format!("proof[{i}] is not a 32-byte hash: {e}")))
        })
        .collect()
}

fn parse_page(
    url: &Url,
    page: wire::LogPage,
    after: u64,
    limit: usize,
) -> Result<LogPage, ClientError> {
    // A node whose log is now shorter than `after` answers `start = size` with no entries
    // (SPEC.md §8 clamps `after` to the size): returned as is, so that the caller sees
    // `size < after` and keeps the signed checkpoint as evidence of the rollback.
    let shrunk = page.start == page.size && page.size < after && page.entries.is_empty();
    if page.start != after && !shrunk {
        return Err(malformed(
            url,
            format!("asked for entries after {after}, got start {}", page.start),
        ));
    }
    let n = page.entries.len();
    if n > MAX_PAGE_ENTRIES {
        return Err(rejected(
            url,
            Rejection::TooLarge { limit: MAX_PAGE_ENTRIES, actual: n, unit: "entries" },
        ));
    }
    if n > limit {
        return Err(malformed(url, format!("asked for at most {limit} entries, got {n}")));
    }
    let end = page.start.checked_add(n as u64);
    if end.is_none_or(|end| page.size < end) {
        return Err(malformed(
            url,
            format!("{n} entries from {} pass the log size {}", page.start, page.size),
        ));
    }
    if n > 0 && page.checkpoint.is_empty() {
        return Err(malformed(url, "a page with entries must carry a checkpoint"));
    }
    if page.checkpoint.len() > checkpoint::MAX_NOTE_BYTES {
        return Err(rejected(
            url,
            Rejection::TooLarge {
                limit: checkpoint::MAX_NOTE_BYTES,
                actual: page.checkpoint.len(),
                unit: "bytes",
            },
        ));
    }
    let mut entries = Vec::with_capacity(n);
    for (expected, entry) in (page.start..).zip(page.entries) {
        if entry.index != expected {
            return Err(malformed(
                url,
                format!(
                    "entry with index {} where {expected} was due: entries must be contiguous \
                     from start",
                    entry.index
                ),
            ));
        }
        let signed = entry.decode().map_err(|r| {
            rejected(
                url,
                match r {
                    Rejection::Malformed(m) => {
                        Rejection::Malformed(format!("log entry {expected}: {m}"))
                    }
                    other => other,
                },
            )
        })?;
        entries.push((expected, signed));
    }
    let next = match page.next {
        None => None,
        Some(raw) => match Url::parse(&raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") => Some(u),
            _ => return Err(malformed(url, format!("next is not an http(s) URL: {raw:?}"))),
        },
    };
    Ok(LogPage {
        origin: page.origin,
        start: page.start,
        size: page.size,
        entries,
        checkpoint: page.checkpoint,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn urls() {
        assert_eq!(
            descriptor_url(&u("https://byt.gov.vn")).as_str(),
            "https://byt.gov.vn/.well-known/portal-node"
        );
        assert_eq!(
            descriptor_url(&u("https://gov.vn/byt/?x=1#f")).as_str(),
            "https://gov.vn/byt/.well-known/portal-node"
        );
        assert_eq!(
            with_query(&u("https://n.vn/api/v1/log?after=9&x=y#f"), &[("after", 3), ("limit", 10)])
                .as_str(),
            "https://n.vn/api/v1/log?x=y&after=3&limit=10"
        );
    }

    #[test]
    fn codes() {
        let m = ClientError::Malformed { url: "u".into(), detail: "d".into() };
        assert_eq!(m.code(), "malformed");
        assert_eq!(m.rejection().map(|r| r.code()), Some("malformed"));
        let f = ClientError::from(FetchError::Status { url: "u".into(), status: 500 });
        assert_eq!((f.code(), f.rejection()), ("http-status", None));
        let r = ClientError::Rejected { url: "u".into(), rejection: Rejection::Doctype };
        assert_eq!((r.code(), r.url()), ("doctype", "u"));
    }
}

//! Fetch **and verify**: the one path from a URL to verified IPSP/1 records, shared by the
//! aggregator (`portal-node`), `portal verify` and third-party consumers.
//!
//! Every request goes through the client's [`Fetcher`](crate::Fetcher) (public addresses only
//! unless `allow_private`, the origin allowlist, every redirect re-checked, timeouts, size
//! caps); every record goes through `portal_proto::envelope::open` or
//! `portal_proto::verifier::LogVerifier::push`, so a result of type [`Verified`] is a record
//! whose bytes, schema, key and signature were checked.
//!
//! | what | call | result |
//! |---|---|---|
//! | descriptor, roster | [`Client::descriptor`], [`Client::descriptor_pinned`], [`Client::roster`] | `Verified<Descriptor>`, `Verified<Roster>` |
//! | one Atom or JSON feed document | [`Client::feed`] | [`VerifiedFeed`]: one result per entry |
//! | a feed with its pages and archives | [`Client::feed_pages`] | `Vec<VerifiedFeed>` |
//! | an item's history (`/api/v1/items/{id}`) | [`Client::item`] | [`VerifiedItem`] |
//! | a whole log, page by page | [`LogWalk`] | [`VerifiedPage`]s |
//! | one fetched log page | [`Client::verify_page`] | [`VerifiedPage`] or [`PageFailure`] |
//! | a checkpoint note (with its consistency proof) | [`Client::verify_checkpoint`] | `VerifiedCheckpoint` |
//! | an inclusion or consistency proof | [`Client::verify_inclusion`], [`Client::verify_consistency`] | `()` |
//!
//! Rejections carry the SPEC.md §11.3 code ([`Rejection::code`]); fetch failures their fetch
//! code ([`ClientError::code`]), so a caller can tell "this is forged" from "this could not be
//! read".
//!
//! # Example: walk a node's whole log
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use portal_client::verify::{LogWalk, Trust};
//! use portal_client::{Client, FetchPolicy, Fetcher, Url};
//! use portal_proto::time::Timestamp;
//!
//! let client = Client::new(Fetcher::new(FetchPolicy::default())?);
//! let base = Url::parse("https://moh.gov.vn/portal")?;
//! // Trust on first use: the key the node's own descriptor lists.
//! let descriptor = client.descriptor(&base).await?;
//! let mut walk = LogWalk::new(&client, descriptor.record(), None)?;
//! loop {
//!     let now = Timestamp::from_unix(1_795_000_000).unwrap();
//!     let page = walk.next_page(now).await?;
//!     for verified in &page.entries {
//!         println!("{} verified", verified.record().log_index().unwrap_or_default());
//!     }
//!     if !page.more {
//!         break;
//!     }
//! }
//! # let _ = Trust::default();
//! # Ok(()) }
//! ```
//!
//! # Example: a feed, against pinned keys
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use portal_client::{Client, FetchPolicy, Fetcher, Url};
//! use portal_proto::crypto::PublicKey;
//! use portal_proto::envelope::TrustStore;
//! use portal_proto::ids::NodeId;
//! use portal_proto::record::KeyGrant;
//!
//! let client = Client::new(Fetcher::new(FetchPolicy::default())?);
//! let mut trust = TrustStore::new();
//! let key = PublicKey::from_base64("0EqyMnQrtKs6E2i9RhXk5tAiSrcaAWuvhSCjMsl3hzc=")?;
//! trust.add(NodeId::new("bo-y-te")?, KeyGrant::pinned(key));
//! let feed = client.feed(&Url::parse("https://moh.gov.vn/feeds/atom")?, &trust).await?;
//! for (entry, result) in feed.feed.entries.iter().zip(&feed.entries) {
//!     match result {
//!         Ok(_) => println!("ok"),
//!         Err(rejection) => println!("REJECTED {}: {rejection}", rejection.code()),
//!     }
//!     let _ = entry;
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeSet;

use portal_proto::api::items::ItemHistory;
use portal_proto::envelope::{self, KeyResolver, SignedRecord, TrustStore, Verified};
use portal_proto::feed::{self, DecodedFeed};
use portal_proto::ids::NodeId;
use portal_proto::merkle::{self, Hash};
use portal_proto::record::{Descriptor, KeyGrant, Record, RecordType};
use portal_proto::time::Timestamp;
use portal_proto::verifier::{CheckpointPlan, LogVerifier, PageMismatch, VerifiedCheckpoint};
use portal_proto::{Rejection, limits};
use reqwest::Url;

use crate::client::{Client, ClientError, LogPage, endpoint};

/// Keys trusted by a verifying consumer: per origin, plus keys for any origin.
///
/// `portal verify --trust KEY` puts a bare key in [`Trust::any`] (trusted for whichever
/// origin signed what is being checked); `--trust ORIGIN=KEY` and roster members go to
/// [`Trust::by_origin`].
#[derive(Clone, Debug, Default)]
pub struct Trust {
    /// Keys trusted for one origin each.
    pub by_origin: TrustStore,
    /// Keys trusted for any origin without keys of its own in `by_origin`.
    pub any: Vec<KeyGrant>,
}

impl Trust {
    /// Whether no key at all is trusted.
    pub fn is_empty(&self) -> bool {
        self.any.is_empty() && self.by_origin.origins().next().is_none()
    }
}

impl KeyResolver for Trust {
    fn grants(&self, origin: &NodeId) -> Option<&[KeyGrant]> {
        match self.by_origin.grants(origin) {
            Some(g) => Some(g),
            None if !self.any.is_empty() => Some(&self.any),
            None => None,
        }
    }
}

/// Which feed syntax a document is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedFormat {
    /// Atom 1.0 (SPEC.md §9.1).
    Atom,
    /// JSON Feed 1.1 (SPEC.md §9.2).
    Json,
}

impl FeedFormat {
    /// Guess the format from a `Content-Type` and the first non-blank byte: `<` is Atom, `{`
    /// is JSON Feed.
    pub fn sniff(content_type: Option<&str>, body: &[u8]) -> Option<FeedFormat> {
        let ct = content_type.unwrap_or("").to_ascii_lowercase();
        if ct.contains("atom") || ct.contains("xml") {
            return Some(FeedFormat::Atom);
        }
        if ct.contains("feed+json") {
            return Some(FeedFormat::Json);
        }
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(b'<') => Some(FeedFormat::Atom),
            Some(b'{') => Some(FeedFormat::Json),
            _ => None,
        }
    }

    /// Decode `body` in this format (SPEC.md §9.4): a document-level rejection has its code.
    pub fn decode(self, body: &[u8]) -> Result<DecodedFeed, Rejection> {
        match self {
            FeedFormat::Atom => feed::decode_atom(body),
            FeedFormat::Json => feed::decode_json(body),
        }
    }
}

/// One feed document, decoded and every entry verified (SPEC.md §9.4).
#[derive(Clone, Debug)]
pub struct VerifiedFeed {
    /// Where it was read from (after redirects).
    pub url: Url,
    /// Its syntax.
    pub format: FeedFormat,
    /// The decoded document (links, entries as shown to readers).
    pub feed: DecodedFeed,
    /// For `feed.entries[i]`, its verified record or why it was rejected.
    pub entries: Vec<Result<Verified<Record>, Rejection>>,
}

impl VerifiedFeed {
    /// Decode and verify a feed document already in hand (a file, a test).
    pub fn from_bytes(
        url: Url,
        format: FeedFormat,
        body: &[u8],
        trust: &dyn KeyResolver,
    ) -> Result<VerifiedFeed, Rejection> {
        let decoded = format.decode(body)?;
        let entries = feed::verify_entries(&decoded, trust);
        Ok(VerifiedFeed { url, format, feed: decoded, entries })
    }

    /// How many entries were rejected.
    pub fn rejected(&self) -> usize {
        self.entries.iter().filter(|r| r.is_err()).count()
    }
}

/// Which pages of a feed [`Client::feed_pages`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedPages {
    /// Only the document at the URL.
    One,
    /// The document, its `next` pages (RFC 5005 §3) and every `prev-archive` (RFC 5005 §4),
    /// at most this many documents in all.
    All {
        /// Most documents read (a bound against endless link chains).
        max_documents: usize,
    },
}

/// An item's history as served at `/api/v1/items/{id}` (SPEC.md §8), every version verified.
#[derive(Clone, Debug)]
pub struct VerifiedItem {
    /// Where it was read from.
    pub url: Url,
    /// The item id the document names.
    pub id: String,
    /// One result per version, oldest first: opened under the trusted keys, of type `item`,
    /// of this id, and following the previous version (`version-chain`).
    pub versions: Vec<Result<Verified<Record>, Rejection>>,
    /// The withdrawal, if any: of type `withdrawal`, naming the latest version and its
    /// digest.
    pub withdrawal: Option<Result<Verified<Record>, Rejection>>,
}

impl VerifiedItem {
    /// Decode and verify an item document already in hand.
    pub fn from_bytes(
        url: Url,
        body: &[u8],
        trust: &dyn KeyResolver,
    ) -> Result<VerifiedItem, Rejection> {
        let wire: ItemHistory = serde_json::from_slice(body)
            .map_err(|e| Rejection::Malformed(format!("item document: {e}")))?;
        if wire.versions.len() > limits::MAX_PAGE_ENTRIES {
            return Err(Rejection::TooLarge {
                limit: limits::MAX_PAGE_ENTRIES,
                actual: wire.versions.len(),
                unit: "versions",
            });
        }
        let mut prev: Option<(u64, portal_proto::ids::Digest)> = None;
        let mut broken = false;
        let mut versions = Vec::with_capacity(wire.versions.len());
        for v in wire.versions {
            let result = v.decode().and_then(|s| envelope::open(&s, trust)).and_then(|ok| {
                let Record::Item(item) = ok.record() else {
                    return Err(Rejection::WrongType {
                        expected: RecordType::Item,
                        got: ok.record().record_type(),
                    });
                };
                if item.id != wire.id {
                    return Err(Rejection::Malformed(format!(
                        "the document is item {} but this version is of {}",
                        wire.id, item.id
                    )));
                }
                let follows = match &prev {
                    None => item.version == 1,
                    Some((v, digest)) => {
                        item.version == v + 1 && item.prev.as_ref() == Some(digest)
                    }
                };
                if !follows || broken {
                    return Err(Rejection::VersionChain {
                        id: wire.id.to_string(),
                        detail: format!(
                            "version {} does not follow {}",
                            item.version,
                            prev.as_ref()
                                .map_or("nothing".to_owned(), |p| format!("version {}", p.0))
                        ),
                    });
                }
                Ok(ok)
            });
            match &result {
                Ok(ok) => {
                    if let Record::Item(item) = ok.record() {
                        prev = Some((item.version, ok.signed().digest()));
                    }
                }
                Err(_) => broken = true,
            }
            versions.push(result);
        }
        let withdrawal = wire.withdrawal.map(|w| {
            w.decode().and_then(|s| envelope::open(&s, trust)).and_then(|ok| {
                let Record::Withdrawal(w) = ok.record() else {
                    return Err(Rejection::WrongType {
                        expected: RecordType::Withdrawal,
                        got: ok.record().record_type(),
                    });
                };
                let names_latest = !broken
                    && w.id == wire.id
                    && prev.as_ref().is_some_and(|(v, d)| w.version == *v && &w.prev == d);
                if !names_latest {
                    return Err(Rejection::VersionChain {
                        id: wire.id.to_string(),
                        detail: format!(
                            "the withdrawal names version {}, not the latest",
                            w.version
                        ),
                    });
                }
                Ok(ok)
            })
        });
        Ok(VerifiedItem { url, id: wire.id.to_string(), versions, withdrawal })
    }

    /// How many versions (and the withdrawal) were rejected.
    pub fn rejected(&self) -> usize {
        self.versions.iter().chain(&self.withdrawal).filter(|r| r.is_err()).count()
    }
}

/// A log entry that failed verification, with what proves it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryRejection {
    /// Its log index (as the page placed it).
    pub index: u64,
    /// The entry exactly as received.
    pub signed: SignedRecord,
    /// Why (its `code()` is the SPEC.md §11.3 code).
    pub rejection: Rejection,
}

/// A page of log entries, every entry and the page's checkpoint verified.
#[derive(Clone, Debug)]
pub struct VerifiedPage {
    /// The index of the first entry.
    pub start: u64,
    /// The log size the node declared.
    pub size: u64,
    /// The entries, verified in order by the `LogVerifier`.
    pub entries: Vec<Verified<Record>>,
    /// The page's checkpoint, accepted by the `LogVerifier` (with a consistency proof when it
    /// is ahead of the entries).
    pub checkpoint: VerifiedCheckpoint,
    /// Whether the log goes on past this page.
    pub more: bool,
}

/// Why a log page was not accepted. The entries before a rejected one were accepted by the
/// verifier ([`PageFailure::Entry`] carries them).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum PageFailure {
    /// The page is of another origin than the verifier's (`wrong-origin`).
    WrongOrigin {
        /// The origin the page names.
        got: NodeId,
    },
    /// The node's log is now shorter than what was verified (`rollback`); the page's
    /// checkpoint is the signed evidence.
    Shrunk {
        /// Entries verified before.
        verified: u64,
        /// The size the node now declares.
        served: u64,
        /// The page's checkpoint note, as served.
        checkpoint: String,
    },
    /// An entry was rejected; the ones before it were accepted.
    Entry {
        /// The entries accepted before it.
        accepted: Vec<Verified<Record>>,
        /// The rejected entry.
        rejected: EntryRejection,
    },
    /// The page's checkpoint was refused, or its consistency proof could not be fetched.
    Checkpoint {
        /// The entries accepted (the verifier holds them).
        accepted: Vec<Verified<Record>>,
        /// What went wrong.
        failure: CheckpointFailure,
    },
}

impl PageFailure {
    /// The SPEC.md §11.3 code, or the fetch code of a failed proof fetch.
    pub fn code(&self) -> &'static str {
        match self {
            PageFailure::WrongOrigin { .. } => "wrong-origin",
            PageFailure::Shrunk { .. } => "rollback",
            PageFailure::Entry { rejected, .. } => rejected.rejection.code(),
            PageFailure::Checkpoint { failure, .. } => failure.code(),
        }
    }
}

impl std::fmt::Display for PageFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PageFailure::WrongOrigin { got } => write!(f, "the log page is of {got}"),
            PageFailure::Shrunk { verified, served, .. } => write!(
                f,
                "the log shrank: {verified} entries verified, the node now declares {served}"
            ),
            PageFailure::Entry { rejected, .. } => {
                write!(f, "log entry {}: {}", rejected.index, rejected.rejection)
            }
            PageFailure::Checkpoint { failure, .. } => failure.fmt(f),
        }
    }
}

/// Why a checkpoint was not accepted.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum CheckpointFailure {
    /// The consistency proof it needs could not be fetched.
    Fetch(ClientError),
    /// The verifier refused it.
    Rejected {
        /// Why (its `code()` is the SPEC.md §11.3 code).
        rejection: Rejection,
        /// The refused note, as received.
        note: String,
        /// The verifier's previous checkpoint note (evidence of an equivocation).
        previous: Option<String>,
        /// The consistency proof that was checked, if one was needed.
        proof: Option<Vec<Hash>>,
    },
}

impl CheckpointFailure {
    /// The SPEC.md §11.3 code, or the fetch code.
    pub fn code(&self) -> &'static str {
        match self {
            CheckpointFailure::Fetch(e) => e.code(),
            CheckpointFailure::Rejected { rejection, .. } => rejection.code(),
        }
    }
}

impl std::fmt::Display for CheckpointFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CheckpointFailure::Fetch(e) => write!(f, "consistency proof: {e}"),
            CheckpointFailure::Rejected { rejection, .. } => write!(f, "checkpoint: {rejection}"),
        }
    }
}

/// Verify a page's entries in order with `verifier`, stopping at the first rejection (the
/// CPU-bound part of [`Client::verify_page`], one signature per entry, checked on all cores).
/// The verifier keeps the accepted entries.
pub fn verify_entries(
    verifier: &mut LogVerifier,
    page: &LogPage,
) -> (Vec<Verified<Record>>, Option<EntryRejection>) {
    let entries: Vec<&SignedRecord> = page.entries.iter().map(|(_, signed)| signed).collect();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let (accepted, rejected) = verifier.push_many(&entries, threads);
    let rejected = rejected.map(|(position, rejection)| {
        let (index, signed) = &page.entries[position];
        EntryRejection { index: *index, signed: signed.clone(), rejection }
    });
    (accepted, rejected)
}

impl Client {
    /// Verify a signed checkpoint `note` of `verifier`'s origin, as of `now` (SPEC.md §11.2):
    /// when it is ahead of the verified entries, its consistency proof from
    /// `verifier.proof_base()` is fetched from `consistency_url` first. A note identical to
    /// the verifier's latest accepted one is returned as accepted without a new proof.
    pub async fn verify_checkpoint(
        &self,
        verifier: &mut LogVerifier,
        consistency_url: &Url,
        note: &str,
        now: Timestamp,
    ) -> Result<VerifiedCheckpoint, CheckpointFailure> {
        let refused = |rejection: Rejection, previous, proof| CheckpointFailure::Rejected {
            rejection,
            note: note.to_owned(),
            previous,
            proof,
        };
        let previous = verifier.latest_checkpoint().map(|c| c.note.clone());
        let proof = match verifier.plan_checkpoint(note) {
            Ok(CheckpointPlan::Accepted(latest)) => return Ok(latest),
            Ok(CheckpointPlan::Push) => None,
            Ok(CheckpointPlan::Proof { from, to }) => Some(
                self.consistency_proof(consistency_url, from, to)
                    .await
                    .map_err(CheckpointFailure::Fetch)?,
            ),
            Err(rejection) => return Err(refused(rejection, previous, None)),
        };
        verifier
            .push_checkpoint(note, now, proof.as_deref())
            .map_err(|rejection| refused(rejection, previous, proof))
    }

    /// Verify a fetched log page (from [`Client::log_page`], or the `page` of
    /// [`Client::national_log_page`]) with `verifier`, which must stand at the index the page
    /// was asked from: the page's origin, no shrinking, every entry in order
    /// ([`verify_entries`], off the async workers), then the page's checkpoint
    /// ([`Client::verify_checkpoint`]).
    ///
    /// The verifier is handed back in every case; after [`PageFailure::Entry`] or
    /// [`PageFailure::Checkpoint`] it holds the entries accepted before the failure.
    pub async fn verify_page(
        &self,
        verifier: LogVerifier,
        page: LogPage,
        consistency_url: &Url,
        now: Timestamp,
    ) -> (LogVerifier, Result<VerifiedPage, PageFailure>) {
        let start = verifier.next_index();
        match verifier.check_page(&page.origin, page.size) {
            Ok(()) => {}
            Err(PageMismatch::WrongOrigin { got }) => {
                return (verifier, Err(PageFailure::WrongOrigin { got }));
            }
            Err(PageMismatch::Shrunk { verified, served }) => {
                let checkpoint = page.checkpoint;
                return (verifier, Err(PageFailure::Shrunk { verified, served, checkpoint }));
            }
        }
        let more = !page.is_up_to_date();
        let size = page.size;
        let (mut verifier, accepted, rejected, note) =
            match tokio::task::spawn_blocking(move || {
                let mut v = verifier;
                let (accepted, rejected) = verify_entries(&mut v, &page);
                (v, accepted, rejected, page.checkpoint)
            })
            .await
            {
                Ok(done) => done,
                // The blocking task panicked or was cancelled: nothing to hand back but a fresh
                // verifier would be wrong, so the panic is propagated.
                Err(e) => std::panic::resume_unwind(e.into_panic()),
            };
        if let Some(rejected) = rejected {
            return (verifier, Err(PageFailure::Entry { accepted, rejected }));
        }
        match self.verify_checkpoint(&mut verifier, consistency_url, &note, now).await {
            Ok(checkpoint) => {
                let page = VerifiedPage { start, size, entries: accepted, checkpoint, more };
                (verifier, Ok(page))
            }
            Err(failure) => (verifier, Err(PageFailure::Checkpoint { accepted, failure })),
        }
    }

    /// Fetch the document at `url` and verify it as a feed (Atom or JSON Feed, told by its
    /// `Content-Type` or first byte): a document-level refusal is
    /// [`ClientError::Rejected`] (`malformed`, `doctype`, `too-large`…); otherwise each entry
    /// has its own result.
    pub async fn feed(
        &self,
        url: &Url,
        trust: &(dyn KeyResolver + Sync),
    ) -> Result<VerifiedFeed, ClientError> {
        let fetched = self.fetcher().get(url, Some(limits::MAX_FEED_BYTES)).await?;
        let format =
            FeedFormat::sniff(fetched.content_type.as_deref(), &fetched.body).ok_or_else(|| {
                ClientError::Malformed {
                    url: fetched.url.to_string(),
                    detail: "neither an Atom nor a JSON feed".into(),
                }
            })?;
        VerifiedFeed::from_bytes(fetched.url.clone(), format, &fetched.body, trust)
            .map_err(|rejection| ClientError::Rejected { url: fetched.url.to_string(), rejection })
    }

    /// [`Client::feed`] for `url` and, with [`FeedPages::All`], every document its links lead
    /// to: the `next` pages of the latest feed and each `prev-archive` (each URL once), in
    /// the order read. Stops at the first document that cannot be fetched or decoded.
    pub async fn feed_pages(
        &self,
        url: &Url,
        trust: &(dyn KeyResolver + Sync),
        pages: FeedPages,
    ) -> Result<Vec<VerifiedFeed>, ClientError> {
        let max = match pages {
            FeedPages::One => 1,
            FeedPages::All { max_documents } => max_documents.max(1),
        };
        let mut out: Vec<VerifiedFeed> = Vec::new();
        let mut seen = BTreeSet::from([url.to_string()]);
        let mut queue = vec![url.clone()];
        while let Some(next) = queue.pop() {
            if out.len() >= max {
                break;
            }
            let doc = self.feed(&next, trust).await?;
            for rel in ["prev-archive", "next"] {
                let Some(href) = doc.feed.link(rel) else { continue };
                let Ok(link) = doc.url.join(href) else { continue };
                if seen.insert(link.to_string()) {
                    queue.push(link);
                }
            }
            out.push(doc);
        }
        Ok(out)
    }

    /// Fetch an item's history (`/api/v1/items/{id}`, SPEC.md §8) and verify every version
    /// and the withdrawal under `trust` ([`VerifiedItem`]).
    pub async fn item(
        &self,
        url: &Url,
        trust: &(dyn KeyResolver + Sync),
    ) -> Result<VerifiedItem, ClientError> {
        let fetched = self.fetcher().get(url, Some(limits::MAX_FEED_BYTES)).await?;
        VerifiedItem::from_bytes(fetched.url.clone(), &fetched.body, trust)
            .map_err(|rejection| ClientError::Rejected { url: fetched.url.to_string(), rejection })
    }

    /// Fetch the inclusion proof of the entry with leaf hash `leaf` at `index` in the tree of
    /// `size` (the `inclusion-proof` endpoint) and check it against `root` (from a verified
    /// checkpoint): `inconsistent-checkpoint` when it does not lead there.
    pub async fn verify_inclusion(
        &self,
        url: &Url,
        leaf: &Hash,
        index: u64,
        size: u64,
        root: &Hash,
    ) -> Result<(), ClientError> {
        let proof = self.inclusion_proof(url, index, size).await?;
        merkle::verify_inclusion(leaf, index, size, &proof, root).map_err(|e| {
            ClientError::Rejected {
                url: url.to_string(),
                rejection: Rejection::InconsistentCheckpoint(format!(
                    "inclusion proof of {index} in {size}: {e}"
                )),
            }
        })
    }

    /// Fetch the consistency proof between two verified checkpoints (`from`/`root_from`,
    /// `to`/`root_to`) and check it: `inconsistent-checkpoint` when the larger tree does not
    /// extend the smaller.
    pub async fn verify_consistency(
        &self,
        url: &Url,
        (from, root_from): (u64, &Hash),
        (to, root_to): (u64, &Hash),
    ) -> Result<(), ClientError> {
        let proof = self.consistency_proof(url, from, to).await?;
        merkle::verify_consistency(from, to, root_from, root_to, &proof).map_err(|e| {
            ClientError::Rejected {
                url: url.to_string(),
                rejection: Rejection::InconsistentCheckpoint(format!(
                    "consistency proof {from} -> {to}: {e}"
                )),
            }
        })
    }
}

/// Why a [`LogWalk`] step failed: the page could not be fetched, or it was refused.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// Fetching the page failed, or it was not a log page.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The page was fetched and refused.
    #[error("{0}")]
    Rejected(PageFailure),
}

impl WalkError {
    /// The SPEC.md §11.3 code of a refusal, or the fetch code.
    pub fn code(&self) -> &'static str {
        match self {
            WalkError::Client(e) => e.code(),
            WalkError::Rejected(f) => f.code(),
        }
    }
}

/// The member records an aggregator's national log pairs with its receipts.
pub type Paired = Vec<Option<SignedRecord>>;

/// Walks one node's log from index 0 (or a restored verifier's position), page by page,
/// verifying everything: the entries with a [`LogVerifier`] under the node's keys, each
/// page's checkpoint with its consistency proof. For an aggregator walked with
/// [`LogWalk::national`], each page also carries the member records paired with receipts
/// (unverified: check them against their origins' keys, e.g. with
/// [`check_paired`]). While a page is verified, the next one is fetched (one request ahead).
#[derive(Debug)]
pub struct LogWalk<'c> {
    client: &'c Client,
    log: Url,
    consistency: Url,
    national: bool,
    verifier: Option<LogVerifier>,
    limit: u32,
    /// The next page, fetched while the current one is verified: `(after, task)`.
    prefetch: Option<(u64, tokio::task::JoinHandle<Fetch>)>,
}

/// A fetched page with the member records paired with its entries.
type Fetch = Result<(LogPage, Paired), ClientError>;

/// Fetch one page of `log` (a national log when `national`) from `after`.
async fn fetch_page(client: &Client, log: &Url, national: bool, after: u64, limit: u32) -> Fetch {
    if national {
        client.national_log_page(log, after, limit).await.map(|n| (n.page, n.members))
    } else {
        client.log_page(log, after, limit).await.map(|p| {
            let n = p.entries.len();
            (p, vec![None; n])
        })
    }
}

impl Drop for LogWalk<'_> {
    fn drop(&mut self) {
        if let Some((_, task)) = self.prefetch.take() {
            task.abort();
        }
    }
}

impl<'c> LogWalk<'c> {
    /// A walk of the `log` endpoint of the node `descriptor` describes, from index 0, trusting
    /// `grants` (or, when `None`, the keys the descriptor lists).
    pub fn new(
        client: &'c Client,
        descriptor: &Descriptor,
        grants: Option<Vec<KeyGrant>>,
    ) -> Result<LogWalk<'c>, ClientError> {
        let grants = grants.unwrap_or_else(|| descriptor.keys.clone());
        Ok(LogWalk {
            client,
            log: endpoint(descriptor, "log")?,
            consistency: endpoint(descriptor, "consistency-proof")?,
            national: false,
            verifier: Some(LogVerifier::new(descriptor.origin.clone(), grants)),
            limit: limits::MAX_PAGE_ENTRIES as u32,
            prefetch: None,
        })
    }

    /// A walk of an aggregator's `national-log` instead (SPEC.md §8): its receipts are its own
    /// log; [`LogWalk::next_national_page`] also returns the paired member records.
    pub fn national(
        client: &'c Client,
        descriptor: &Descriptor,
        grants: Option<Vec<KeyGrant>>,
    ) -> Result<LogWalk<'c>, ClientError> {
        let mut walk = LogWalk::new(client, descriptor, grants)?;
        walk.log = endpoint(descriptor, "national-log")?;
        walk.national = true;
        Ok(walk)
    }

    /// Entries per request (1–1000; default 1000).
    pub fn with_page_size(mut self, limit: u32) -> Self {
        self.limit = limit.clamp(1, limits::MAX_PAGE_ENTRIES as u32);
        self
    }

    /// The number of entries verified so far.
    pub fn verified(&self) -> u64 {
        self.verifier.as_ref().map_or(0, LogVerifier::next_index)
    }

    /// The verifier (its latest checkpoint, its keys after rotations, item heads).
    pub fn verifier(&self) -> Option<&LogVerifier> {
        self.verifier.as_ref()
    }

    /// The log URL being walked.
    pub fn log_url(&self) -> &Url {
        &self.log
    }

    /// Fetch and verify the next page. After a fetch error the same page can be asked again;
    /// after a rejection the verifier keeps what it accepted ([`LogWalk::verifier`]), and a
    /// further call goes on from there.
    pub async fn next_page(&mut self, now: Timestamp) -> Result<VerifiedPage, WalkError> {
        self.next_national_page(now).await.map(|(page, _)| page)
    }

    /// [`LogWalk::next_page`], with the member records the national log pairs with the
    /// page's entries (all `None` for an ordinary log).
    pub async fn next_national_page(
        &mut self,
        now: Timestamp,
    ) -> Result<(VerifiedPage, Paired), WalkError> {
        let Some(verifier) = self.verifier.take() else {
            return Err(WalkError::Client(ClientError::Malformed {
                url: self.log.to_string(),
                detail: "a previous step of this walk was cancelled mid-page; start a new walk"
                    .into(),
            }));
        };
        let after = verifier.next_index();
        let fetched = match self.prefetch.take() {
            Some((at, task)) if at == after => match task.await {
                Ok(fetched) => fetched,
                Err(_) => {
                    fetch_page(self.client, &self.log, self.national, after, self.limit).await
                }
            },
            other => {
                if let Some((_, task)) = other {
                    task.abort();
                }
                fetch_page(self.client, &self.log, self.national, after, self.limit).await
            }
        };
        let (page, members) = match fetched {
            Ok(p) => p,
            Err(e) => {
                self.verifier = Some(verifier);
                return Err(e.into());
            }
        };
        // While this page is verified (one core), the next one is already on its way.
        if !page.is_up_to_date() {
            let (client, log, national, limit) =
                (self.client.clone(), self.log.clone(), self.national, self.limit);
            let next = page.end();
            let task =
                tokio::spawn(async move { fetch_page(&client, &log, national, next, limit).await });
            self.prefetch = Some((next, task));
        }
        let (verifier, result) =
            self.client.verify_page(verifier, page, &self.consistency, now).await;
        self.verifier = Some(verifier);
        result.map(|page| (page, members)).map_err(WalkError::Rejected)
    }
}

/// Check a member record an aggregator's national log pairs with its receipt `receipt`
/// (already verified in the aggregator's log): its digest must be the one the receipt names
/// (`bad-signature` otherwise: the pair is not what the aggregator signed), and it must open
/// under its origin's keys in `trust`, at the index the receipt names (`wrong-origin`).
pub fn check_paired(
    receipt: &Verified<Record>,
    member: &SignedRecord,
    trust: &dyn KeyResolver,
) -> Result<Verified<Record>, Rejection> {
    let Record::Receipt(r) = receipt.record() else {
        return Err(Rejection::Malformed(format!(
            "a member record paired with a {}, not a receipt",
            receipt.record().record_type()
        )));
    };
    if member.digest() != r.record {
        return Err(Rejection::BadSignature { kid: member.kid().to_string() });
    }
    let opened = envelope::open(member, trust)?;
    if opened.record().origin() != &r.member || opened.record().log_index() != Some(r.member_index)
    {
        return Err(Rejection::WrongOrigin {
            expected: format!("{}#{}", r.member, r.member_index),
            got: format!(
                "{}#{}",
                opened.record().origin(),
                opened.record().log_index().unwrap_or_default()
            ),
        });
    }
    Ok(opened)
}

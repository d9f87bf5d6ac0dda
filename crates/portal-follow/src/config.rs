//! The follower's settings (the `[aggregator]` section of a node's config, SPEC.md §13), its
//! fixed rules, and the jitter source it draws from.

use std::time::Duration;

use portal_proto::ids::NodeId;

/// A member's descriptor is fetched again after this many seconds (its endpoints and keys may
/// change).
pub const DESCRIPTOR_TTL_SECONDS: u64 = 600;

/// The WebSub lease asked for, in seconds.
pub const PUSH_LEASE_SECONDS: u64 = 86_400;

/// A subscription is renewed when its lease ends within this many seconds.
pub const PUSH_RENEW_SECONDS: u64 = 3_600;

/// Stored entries read per [`Action::LoadStored`](crate::Action::LoadStored).
pub const STORED_CHUNK: usize = 1_000;

/// A member is `silent` when its newest checkpoint is older than twice its heartbeat, and never
/// before this many seconds.
pub const SILENCE_FLOOR_SECONDS: u64 = 60;

/// The shortest first retry delay after an error.
pub const MIN_RETRY: Duration = Duration::from_millis(500);

/// Doublings of the retry delay stop after this many failures (the cap usually comes first).
pub const MAX_DOUBLINGS: u32 = 16;

/// How a node with members follows each of them. The fields are those of the node's
/// `[aggregator]` section that the follower uses; [`FollowConfig::new`] has its defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowConfig {
    /// This aggregator's node id: the witness name, and never relayed to itself.
    pub aggregator: NodeId,
    /// Seconds between polls when no push arrives (±20 % jitter); at least 1 is used.
    pub poll_seconds: u64,
    /// Longest wait between attempts after repeated errors; at least `poll_seconds` is used.
    pub max_backoff_seconds: u64,
    /// Log entries asked for per request (clamped to 1–1000).
    pub page_size: u32,
    /// A member failing to answer for this long raises an `unreachable` incident.
    pub unreachable_after_seconds: u64,
    /// Subscribe to members' WebSub hubs.
    pub push: bool,
    /// Threads that check a page's signatures (`LogVerifier::push_many`); at least 1.
    pub verify_threads: usize,
}

impl FollowConfig {
    /// The defaults of `[aggregator]`: poll every 60 s, back off up to 900 s, pages of 500,
    /// `unreachable` after 300 s, push on; one verifying thread.
    pub fn new(aggregator: NodeId) -> FollowConfig {
        FollowConfig {
            aggregator,
            poll_seconds: 60,
            max_backoff_seconds: 900,
            page_size: 500,
            unreachable_after_seconds: 300,
            push: true,
            verify_threads: 1,
        }
    }

    /// The poll interval before jitter.
    pub fn poll_interval(&self) -> Duration {
        Duration::from_secs(self.poll_seconds.max(1))
    }

    /// The cap on the retry delay.
    pub fn max_backoff(&self) -> Duration {
        Duration::from_secs(self.max_backoff_seconds.max(self.poll_seconds))
    }

    /// The wait after the `failures`-th consecutive failed round (at least 1 is used), with
    /// the jitter `factor` (0.8–1.2): exponential from an eighth of the poll interval (at
    /// least [`MIN_RETRY`]), doubled per failure, then jittered, then capped.
    pub fn backoff_delay(&self, failures: u32, factor: f64) -> Duration {
        let base = (self.poll_interval() / 8).max(MIN_RETRY);
        let doublings = failures.clamp(1, MAX_DOUBLINGS);
        base.saturating_mul(1 << doublings).mul_f64(factor).min(self.max_backoff())
    }

    /// Entries per page request.
    pub(crate) fn page_limit(&self) -> u32 {
        self.page_size.clamp(1, 1000)
    }
}

/// Where the ±20 % jitter of every wait comes from. The follower draws no random numbers of
/// its own: the shell seeds it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Jitter {
    /// A deterministic generator (SplitMix64) from this seed; the shell passes a random one.
    Seeded(u64),
    /// Always this sample in [0, 1): the factor is `0.8 + 0.4 × sample` (0.5 gives 1.0, for
    /// tests and simulations).
    Fixed(f64),
}

/// The running jitter source.
#[derive(Clone, Debug)]
pub(crate) struct JitterSource {
    jitter: Jitter,
    state: u64,
}

impl JitterSource {
    pub(crate) fn new(jitter: Jitter) -> JitterSource {
        let state = match jitter {
            Jitter::Seeded(seed) => seed,
            Jitter::Fixed(_) => 0,
        };
        JitterSource { jitter, state }
    }

    /// The next factor in [0.8, 1.2).
    pub(crate) fn factor(&mut self) -> f64 {
        let sample = match self.jitter {
            Jitter::Fixed(sample) => sample.clamp(0.0, 1.0),
            Jitter::Seeded(_) => {
                // SplitMix64 (Steele, Lea, Flood 2014): one 64-bit state, full period.
                self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = self.state;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                (z >> 11) as f64 / (1u64 << 53) as f64
            }
        };
        0.8 + 0.4 * sample
    }
}

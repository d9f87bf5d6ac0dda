//! The aggregator's room: [`National`] holds the publisher and, once the node has members,
//! the [`Aggregator`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use portal_publisher::Publisher;

use crate::aggregate::{Aggregator, MemberError};

/// The aggregator's room: the publisher it signs receipts with, and the aggregator once the
/// node has members.
#[derive(Debug)]
pub struct National {
    publisher: Arc<Publisher>,
    agg: OnceLock<Arc<Aggregator>>,
    started: AtomicBool,
}

impl std::ops::Deref for National {
    type Target = Publisher;
    fn deref(&self) -> &Publisher {
        &self.publisher
    }
}

impl National {
    /// The room for `publisher`'s node; builds its aggregator if the node has a roster.
    pub fn new(publisher: Arc<Publisher>) -> Result<National, MemberError> {
        let national =
            National { publisher, agg: OnceLock::new(), started: AtomicBool::new(false) };
        let has_roster = national
            .node
            .store
            .roster()
            .map_err(|e| MemberError::Storage(e.to_string()))?
            .is_some();
        if has_roster {
            national.agg_or_build()?;
        }
        Ok(national)
    }

    /// The aggregator, built now if the node has none yet (at start with a roster, or at the
    /// first member's add); it follows the members at once if the room is started.
    pub fn agg_or_build(&self) -> Result<&Arc<Aggregator>, MemberError> {
        if let Some(agg) = self.agg.get() {
            return Ok(agg);
        }
        let agg = Aggregator::new(Arc::clone(&self.publisher.node))?;
        let agg = self.agg.get_or_init(|| agg);
        if self.started.load(Ordering::SeqCst) {
            agg.start();
        }
        Ok(agg)
    }

    /// The aggregator, when the node has (or had) members.
    pub fn agg(&self) -> Option<&Arc<Aggregator>> {
        self.agg.get().filter(|a| a.has_roster())
    }

    /// Follow the members (and any added later). Call once the server listens: members push
    /// to it.
    pub fn start(&self) {
        self.started.store(true, Ordering::SeqCst);
        if let Some(agg) = self.agg.get() {
            agg.start();
        }
    }

    /// Stop following the members.
    pub fn stop(&self) {
        self.started.store(false, Ordering::SeqCst);
        if let Some(agg) = self.agg.get() {
            agg.stop();
        }
    }

    /// The aggregator's Prometheus metrics (empty without members).
    pub fn render_metrics(&self) -> String {
        self.agg().map(|a| a.render_metrics()).unwrap_or_default()
    }
}

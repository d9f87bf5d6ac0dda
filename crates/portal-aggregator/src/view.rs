//! The typed, read-only view of a node that the web portal reads: an item's signed records
//! (the node's own, or a member's as stored here), the node's log newest first, the
//! checkpoints, members and incidents. The web portal never opens the store; everything it
//! shows comes through these methods, as the exact signed records.

use portal_proto::envelope::SignedRecord;
use portal_proto::ids::{ItemId, NodeId};
use portal_store::federation::Incident;

use crate::room::National;

/// An item's signed records, oldest version first.
#[derive(Debug, Clone)]
pub struct ItemRecords {
    /// The member that published it (`None`: this node's own item).
    pub member: Option<NodeId>,
    /// Every version, oldest first.
    pub versions: Vec<SignedRecord>,
    /// The withdrawal, if any.
    pub withdrawal: Option<SignedRecord>,
}

fn text(e: impl std::fmt::Display) -> String {
    e.to_string()
}

impl National {
    /// This node's own item `id`.
    pub fn own_item(&self, id: &ItemId) -> Result<Option<ItemRecords>, String> {
        let store = &self.node.store;
        let Some(idx) = store.item(id).map_err(text)? else { return Ok(None) };
        let get =
            |i: u64| store.entry(i).map_err(text)?.ok_or_else(|| format!("log entry {i} missing"));
        let versions = idx.versions.iter().map(|i| get(*i)).collect::<Result<Vec<_>, _>>()?;
        let withdrawal = idx.withdrawal.map(get).transpose()?;
        Ok(Some(ItemRecords { member: None, versions, withdrawal }))
    }

    /// `member`'s item `id`, as this node stored it while following the member.
    pub fn member_item(&self, member: &NodeId, id: &ItemId) -> Result<Option<ItemRecords>, String> {
        let store = &self.node.store;
        let Some(idx) = store.national_item(member, id).map_err(text)? else { return Ok(None) };
        let get = |i: u64| {
            store
                .member_entry(member, i)
                .map_err(text)?
                .ok_or_else(|| format!("{member} entry {i} missing"))
        };
        let versions = idx.versions.iter().map(|i| get(*i)).collect::<Result<Vec<_>, _>>()?;
        let withdrawal = idx.withdrawal.map(get).transpose()?;
        Ok(Some(ItemRecords { member: Some(member.clone()), versions, withdrawal }))
    }

    /// The members whose item `id` is stored here.
    pub fn item_holders(&self, id: &ItemId) -> Result<Vec<NodeId>, String> {
        let holders = self.node.store.national_item_holders(id).map_err(text)?;
        Ok(holders.into_iter().map(|(m, _)| m).collect())
    }

    /// The members whose records are stored here.
    pub fn member_ids(&self) -> Result<Vec<NodeId>, String> {
        self.node.store.member_ids().map_err(text)
    }

    /// Walk this node's own log newest first, at most `scan` entries, while `visit(index,
    /// entry)` returns true.
    pub fn scan_own_log_rev(
        &self,
        scan: u64,
        mut visit: impl FnMut(u64, &SignedRecord) -> bool,
    ) -> Result<(), String> {
        let store = &self.node.store;
        let size = store.size();
        let floor = size.saturating_sub(scan);
        let mut end = size;
        while end > floor {
            let from = end.saturating_sub(512).max(floor);
            let chunk = store.entries(from, (end - from) as usize).map_err(text)?;
            for (i, signed) in chunk.iter().enumerate().rev() {
                if !visit(from + i as u64, signed) {
                    return Ok(());
                }
            }
            end = from;
        }
        Ok(())
    }

    /// The checkpoint a reader verifies `member`'s records against: the member's latest
    /// checkpoint as this node cosigned it; this node's own latest for `None`.
    pub fn checkpoint_for(&self, member: Option<&NodeId>) -> Result<Option<String>, String> {
        match member {
            Some(m) => Ok(self.node.store.member_cursor(m).map_err(text)?.cosigned),
            None => self.node.store.checkpoint().map_err(text),
        }
    }

    /// Incidents newest first, before sequence number `before` (all if `None`), of `member`
    /// only if given, at most `limit`.
    pub fn incidents(
        &self,
        before: Option<u64>,
        limit: usize,
        member: Option<&str>,
    ) -> Result<Vec<Incident>, String> {
        let keep = |i: &Incident| member.is_none_or(|m| i.member == m);
        self.node.store.incidents(before, limit, keep).map_err(text)
    }
}

//! What an editor submits (`POST /api/v1/items`, `portal publish`), and how it becomes a record.
//!
//! A draft is JSON with unknown fields refused. HTML is sanitised *before* signing, so what is
//! signed is exactly what is shown; categories are sorted and de-duplicated for the editor.

use std::collections::BTreeMap;

use portal_proto::html::sanitize_html;
use portal_proto::ids::{ItemId, Lang};
use portal_proto::record::{
    Attachment, FieldError, ItemKind, LegalMeta, Translation, Update, UpdateType, WithdrawalState,
};
use serde::Deserialize;

/// An editor's draft of an item version.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    /// Publish a new version of this item; absent for a new item.
    #[serde(default)]
    pub id: Option<ItemId>,
    /// news, announcement, legal, alert.
    pub kind: ItemKind,
    /// Language of the main text.
    pub language: Lang,
    /// Title.
    pub title: String,
    /// Summary (plain text).
    #[serde(default)]
    pub summary: String,
    /// Body HTML (sanitised before signing).
    #[serde(default)]
    pub content_html: String,
    /// Other languages.
    #[serde(default)]
    pub translations: BTreeMap<Lang, Translation>,
    /// Categories (any order, duplicates removed).
    #[serde(default)]
    pub categories: Vec<String>,
    /// Files, previously uploaded with `POST /api/v1/attachments`.
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// Legal metadata (kind `legal`).
    #[serde(default)]
    pub legal: Option<LegalMeta>,
    /// For a new version (required then): what changed; the type defaults to `major`.
    #[serde(default)]
    pub update: Option<DraftUpdate>,
}

/// The change note of a new version.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DraftUpdate {
    /// major (default) or minor.
    #[serde(default = "major", rename = "type")]
    pub update_type: UpdateType,
    /// Public change note.
    pub note: String,
}

fn major() -> UpdateType {
    UpdateType::Major
}

/// A withdrawal request.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// withdrawn (default), redirected or gone.
    #[serde(default = "withdrawn")]
    pub state: WithdrawalState,
    /// Mandatory public explanation.
    pub explanation: String,
    /// Where readers go instead (state `redirected`).
    #[serde(default)]
    pub redirect: Option<String>,
}

fn withdrawn() -> WithdrawalState {
    WithdrawalState::Withdrawn
}

/// The parts of an item version that come from the draft, cleaned.
#[derive(Clone, Debug)]
pub(crate) struct Cleaned {
    pub(crate) kind: ItemKind,
    pub(crate) language: Lang,
    pub(crate) title: String,
    pub(crate) summary: String,
    pub(crate) content_html: String,
    pub(crate) translations: BTreeMap<Lang, Translation>,
    pub(crate) categories: Vec<String>,
    pub(crate) attachments: Vec<Attachment>,
    pub(crate) legal: Option<LegalMeta>,
    pub(crate) update: Option<Update>,
}

impl Draft {
    /// Parse a draft from JSON, naming the offending field on error.
    pub fn from_json(bytes: &[u8]) -> Result<Draft, Vec<FieldError>> {
        serde_json::from_slice(bytes).map_err(|e| {
            let msg = e.to_string();
            let field =
                msg.split('`').nth(1).filter(|_| msg.contains("field")).unwrap_or("$").to_owned();
            vec![FieldError::new(field, msg)]
        })
    }

    pub(crate) fn clean(self) -> Cleaned {
        let mut categories: Vec<String> =
            self.categories.into_iter().map(|c| c.trim().to_owned()).collect();
        categories.sort();
        categories.dedup();
        let translations = self
            .translations
            .into_iter()
            .map(|(lang, t)| {
                let t = Translation {
                    title: t.title.trim().to_owned(),
                    summary: t.summary.trim().to_owned(),
                    content_html: sanitize_html(&t.content_html),
                };
                (lang, t)
            })
            .collect();
        Cleaned {
            kind: self.kind,
            language: self.language,
            title: self.title.trim().to_owned(),
            summary: self.summary.trim().to_owned(),
            content_html: sanitize_html(&self.content_html),
            translations,
            categories,
            attachments: self.attachments,
            legal: self.legal,
            update: self.update.map(|u| Update { update_type: u.update_type, note: u.note }),
        }
    }
}

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

/// The fields a draft may have.
const DRAFT_FIELDS: [&str; 11] = [
    "id",
    "kind",
    "language",
    "title",
    "summary",
    "content_html",
    "translations",
    "categories",
    "attachments",
    "legal",
    "update",
];

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
    /// Parse a draft from JSON, naming every offending field: each unknown field, each
    /// missing required field, and each field whose value has the wrong shape (checked one by
    /// one, so that one bad field does not hide the others).
    pub fn from_json(bytes: &[u8]) -> Result<Draft, Vec<FieldError>> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| vec![FieldError::new("$", e.to_string())])?;
        let Some(object) = value.as_object() else {
            return Err(vec![FieldError::new("$", "a draft is a JSON object")]);
        };
        let mut errors: Vec<FieldError> = object
            .keys()
            .filter(|k| !DRAFT_FIELDS.contains(&k.as_str()))
            .map(|k| {
                FieldError::new(
                    k.as_str(),
                    format!("unknown field; expected one of {}", DRAFT_FIELDS.join(", ")),
                )
            })
            .collect();
        for required in ["kind", "language", "title"] {
            if !object.contains_key(required) {
                errors.push(FieldError::new(required, "missing field"));
            }
        }
        let mut check =
            |field: &str, shape: fn(&serde_json::Value) -> Result<(), serde_json::Error>| {
                if let Some(v) = object.get(field)
                    && let Err(e) = shape(v)
                {
                    errors.push(FieldError::new(field, e.to_string()));
                }
            };
        check("id", |v| ItemId::deserialize(v).map(drop));
        check("kind", |v| ItemKind::deserialize(v).map(drop));
        check("language", |v| Lang::deserialize(v).map(drop));
        check("title", |v| String::deserialize(v).map(drop));
        check("summary", |v| String::deserialize(v).map(drop));
        check("content_html", |v| String::deserialize(v).map(drop));
        check("translations", |v| BTreeMap::<Lang, Translation>::deserialize(v).map(drop));
        check("categories", |v| Vec::<String>::deserialize(v).map(drop));
        check("attachments", |v| Vec::<Attachment>::deserialize(v).map(drop));
        check("legal", |v| Option::<LegalMeta>::deserialize(v).map(drop));
        check("update", |v| Option::<DraftUpdate>::deserialize(v).map(drop));
        if !errors.is_empty() {
            return Err(errors);
        }
        serde_json::from_value(value).map_err(|e| vec![FieldError::new("$", e.to_string())])
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(json: &str) -> Vec<String> {
        match Draft::from_json(json.as_bytes()) {
            Ok(d) => panic!("accepted {d:?}"),
            Err(e) => e.into_iter().map(|f| f.field).collect(),
        }
    }

    #[test]
    fn a_bad_draft_names_every_bad_field_not_only_the_first() {
        let bad = r#"{"kind": "gossip", "language": 7, "colour": "red", "categories": "x"}"#;
        assert_eq!(fields(bad), ["colour", "title", "kind", "language", "categories"]);
    }

    #[test]
    fn a_good_draft_parses_and_syntax_errors_name_the_document() {
        let ok = r#"{"kind": "news", "language": "vi", "title": "Tin"}"#;
        assert_eq!(Draft::from_json(ok.as_bytes()).expect("parses").title, "Tin");
        assert_eq!(fields("{"), ["$"]);
        assert_eq!(fields("[]"), ["$"]);
    }
}

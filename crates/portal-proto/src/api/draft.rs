//! What an editor submits (`POST /api/v1/items`, `POST /api/v1/items/{id}/withdraw`), parsed
//! so that one `400 invalid-draft` names every bad field (SPEC.md §8.2), and cleaned into what
//! is signed.
//!
//! A JSON deserialiser stops at its first error. [`Draft::from_json`] and
//! [`WithdrawRequest::from_json`] go on: each member is read on its own (each element of a
//! list, each language of `translations`), unknown and missing members are each named, and the
//! record rules of SPEC.md §4 that the members read so far can be checked are checked too (a
//! too-long title is reported with a misspelt `kind`). What only the node can check (the
//! attachments uploaded, the item's current version) it checks after parsing, adding to the
//! same list.

use std::collections::{BTreeMap, BTreeSet};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::html::sanitize_html;
use crate::ids::{Digest, ItemId, Lang, NodeId};
use crate::record::{
    Attachment, FieldError, ItemKind, ItemVersion, LegalMeta, RecordType, Translation, Update,
    UpdateType, Validate, Withdrawal, WithdrawalState,
};
use crate::time::Timestamp;

/// An editor's draft of an item version.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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

/// A withdrawal request (serialised as `portal withdraw` sends it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawRequest {
    /// withdrawn (default), redirected or gone.
    #[serde(default = "withdrawn")]
    pub state: WithdrawalState,
    /// Mandatory public explanation.
    pub explanation: String,
    /// Where readers go instead (state `redirected`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect: Option<String>,
}

fn withdrawn() -> WithdrawalState {
    WithdrawalState::Withdrawn
}

/// The parts of an item version that come from a draft, cleaned: trimmed text, HTML sanitised
/// (SPEC.md §9.3), categories sorted and unique.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CleanDraft {
    /// Kind.
    pub kind: ItemKind,
    /// Language of the main text.
    pub language: Lang,
    /// Title, trimmed.
    pub title: String,
    /// Summary, trimmed.
    pub summary: String,
    /// Body, sanitised.
    pub content_html: String,
    /// Other languages, trimmed and sanitised.
    pub translations: BTreeMap<Lang, Translation>,
    /// Categories, trimmed, sorted, unique.
    pub categories: Vec<String>,
    /// Files.
    pub attachments: Vec<Attachment>,
    /// Legal metadata.
    pub legal: Option<LegalMeta>,
    /// The change note.
    pub update: Option<Update>,
}

/// A draft's members, in the order they are reported.
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

const WITHDRAW_FIELDS: [&str; 3] = ["state", "explanation", "redirect"];

impl Draft {
    /// Parse a draft, naming every bad field: see the module documentation. A draft that
    /// parses may still break rules that need the record (its version) or the store.
    pub fn from_json(bytes: &[u8]) -> Result<Draft, Vec<FieldError>> {
        let first = match serde_json::from_slice::<Draft>(bytes) {
            Ok(d) => return Ok(d),
            Err(e) => e.to_string(),
        };
        let Some(map) = object(bytes) else { return Err(vec![serde_field_error(&first)]) };
        let mut f = Fields::new(&map, &DRAFT_FIELDS);
        let draft = Draft {
            id: f.optional("id"),
            kind: f.required("kind").unwrap_or(ItemKind::News),
            language: f.required("language").unwrap_or_else(|| lang("und")),
            title: f.required("title").unwrap_or_default(),
            summary: f.optional("summary").unwrap_or_default(),
            content_html: f.optional("content_html").unwrap_or_default(),
            translations: f.by_language("translations"),
            categories: f.list("categories"),
            attachments: f.list("attachments"),
            legal: f.optional("legal"),
            update: f.optional("update"),
        };
        let mut errors = f.finish();
        if errors.is_empty() {
            // What the deserialiser refused is not a member's own fault (a duplicate key).
            return Err(vec![serde_field_error(&first)]);
        }
        let bad: BTreeSet<String> = errors.iter().map(|e| top(&e.field).to_owned()).collect();
        errors.extend(draft.record_errors().into_iter().filter(|e| {
            let field = top(&e.field);
            DRAFT_FIELDS.contains(&field)
                && !bad.contains(field)
                // Whether `legal` is required depends on `kind`; a translation repeating the
                // primary language depends on `language`.
                && !(field == "legal" && bad.contains("kind"))
                && !(field == "translations" && bad.contains("language") && depth(&e.field) == 2)
        }));
        Err(errors)
    }

    /// The draft cleaned into what will be signed.
    pub fn clean(self) -> CleanDraft {
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
        CleanDraft {
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

    /// The SPEC.md §4.1 problems of the item this draft would make, as version 1 (or as a
    /// version 2 when it carries an update, so that the note is checked too).
    fn record_errors(&self) -> Vec<FieldError> {
        let c = self.clone().clean();
        let update = c.update.clone();
        let item = ItemVersion {
            ipsp: 1,
            record_type: RecordType::Item,
            origin: NodeId::new("draft").expect("a valid node id"),
            log_index: 0,
            id: self.id.clone().unwrap_or_else(|| ItemId::from_random([0; 16])),
            version: if update.is_some() { 2 } else { 1 },
            prev: update.as_ref().map(|_| Digest::of(b"")),
            update,
            kind: c.kind,
            language: c.language,
            title: c.title,
            summary: c.summary,
            content_html: c.content_html,
            translations: c.translations,
            categories: c.categories,
            attachments: c.attachments,
            legal: c.legal,
            published: Timestamp::EPOCH,
            updated: Timestamp::EPOCH,
        };
        item.validate().err().unwrap_or_default()
    }
}

impl WithdrawRequest {
    /// Parse a withdrawal request, naming every bad field: with a bad member, the SPEC.md §4.2
    /// rules the others can be checked against (explanation length, `redirect` with
    /// `redirected`) are reported too. A request that parses is checked by the node with the
    /// withdrawal it makes.
    pub fn from_json(bytes: &[u8]) -> Result<WithdrawRequest, Vec<FieldError>> {
        let first = match serde_json::from_slice::<WithdrawRequest>(bytes) {
            Ok(r) => return Ok(r),
            Err(e) => e.to_string(),
        };
        let Some(map) = object(bytes) else { return Err(vec![serde_field_error(&first)]) };
        let mut f = Fields::new(&map, &WITHDRAW_FIELDS);
        let request = WithdrawRequest {
            state: f.optional("state").unwrap_or(WithdrawalState::Withdrawn),
            explanation: f.required("explanation").unwrap_or_default(),
            redirect: f.optional("redirect"),
        };
        let mut errors = f.finish();
        if errors.is_empty() {
            return Err(vec![serde_field_error(&first)]);
        }
        let bad: BTreeSet<String> = errors.iter().map(|e| top(&e.field).to_owned()).collect();
        let w = Withdrawal {
            ipsp: 1,
            record_type: RecordType::Withdrawal,
            origin: NodeId::new("draft").expect("a valid node id"),
            log_index: 0,
            id: ItemId::from_random([0; 16]),
            version: 1,
            prev: Digest::of(b""),
            state: request.state,
            explanation: request.explanation.trim().to_owned(),
            redirect: request.redirect,
            time: Timestamp::EPOCH,
        };
        errors.extend(w.validate().err().unwrap_or_default().into_iter().filter(|e| {
            let field = top(&e.field);
            // Whether `redirect` is allowed depends on `state`.
            WITHDRAW_FIELDS.contains(&field)
                && !bad.contains(field)
                && !(field == "redirect" && bad.contains("state"))
        }));
        Err(errors)
    }
}

fn lang(tag: &str) -> Lang {
    Lang::new(tag).expect("a valid language tag")
}

/// The body as a JSON object, if it is one.
fn object(bytes: &[u8]) -> Option<Map<String, Value>> {
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(map)) => Some(map),
        _ => None,
    }
}

/// A deserialiser's error as a field error: the field it names in backquotes, if it names a
/// field, else `$` (the whole body).
fn serde_field_error(message: &str) -> FieldError {
    let field = message.split('`').nth(1).filter(|_| message.contains("field")).unwrap_or("$");
    FieldError::new(field, message)
}

/// The top-level member a field path starts with (`attachments[2].size` → `attachments`).
fn top(path: &str) -> &str {
    path.split(['.', '[']).next().unwrap_or(path)
}

/// How many dotted segments a path has (`translations.en` → 2).
fn depth(path: &str) -> usize {
    path.split('.').count()
}

/// Reads the members of one object, each on its own, collecting every problem.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<FieldError>,
    unknown: Vec<FieldError>,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>, known: &[&str]) -> Fields<'a> {
        let expected = known.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ");
        let unknown = map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| FieldError::new(k, format!("unknown field `{k}`, expected one of {expected}")))
            .collect();
        Fields { map, errors: Vec::new(), unknown }
    }

    fn read<T: DeserializeOwned>(&mut self, path: String, value: &Value) -> Option<T> {
        T::deserialize(value)
            .map_err(|e| self.errors.push(FieldError::new(path, e.to_string())))
            .ok()
    }

    fn required<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        match self.map.get(name) {
            Some(v) => self.read(name.to_owned(), v),
            None => {
                self.errors.push(FieldError::new(name, format!("missing field `{name}`")));
                None
            }
        }
    }

    fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let v = self.map.get(name)?;
        self.read::<Option<T>>(name.to_owned(), v).flatten()
    }

    /// A list, element by element (`name[i]`); the elements that parse.
    fn list<T: DeserializeOwned>(&mut self, name: &str) -> Vec<T> {
        match self.map.get(name) {
            None => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, v)| self.read(format!("{name}[{i}]"), v))
                .collect(),
            Some(v) => self.read(name.to_owned(), v).unwrap_or_default(),
        }
    }

    /// An object keyed by language, language by language (`name.tag`); the entries that parse.
    fn by_language<T: DeserializeOwned>(&mut self, name: &str) -> BTreeMap<Lang, T> {
        match self.map.get(name) {
            None => BTreeMap::new(),
            Some(Value::Object(entries)) => entries
                .iter()
                .filter_map(|(tag, v)| {
                    let path = format!("{name}.{tag}");
                    let tag = self.read::<Lang>(path.clone(), &Value::String(tag.clone()))?;
                    Some((tag, self.read(path, v)?))
                })
                .collect(),
            Some(v) => self.read(name.to_owned(), v).unwrap_or_default(),
        }
    }

    /// Every problem: the members' in order, then the unknown members.
    fn finish(mut self) -> Vec<FieldError> {
        self.errors.append(&mut self.unknown);
        self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: Result<impl std::fmt::Debug, Vec<FieldError>>) -> Vec<String> {
        r.expect_err("refused").into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_good_draft_parses_as_the_deserialiser_does() {
        let body = br#"{"kind":"news","language":"vi","title":" T ","categories":["b","a","b"],
            "translations":{"en":{"title":"E","summary":"","content_html":"<p>x</p>"}}}"#;
        let d = Draft::from_json(body).expect("valid");
        assert_eq!(d, serde_json::from_slice::<Draft>(body).expect("valid"));
        let c = d.clean();
        assert_eq!((c.title.as_str(), c.categories), ("T", vec!["a".to_owned(), "b".to_owned()]));
    }

    #[test]
    fn every_bad_field_of_a_draft_is_named() {
        let long = "x".repeat(1001);
        let body = format!(
            r#"{{"kind":"bogus","title":"{long}","colour":"red","categories":["ok",5],
                "attachments":[{{"name":"a.pdf"}}],"translations":{{"EN!":{{}}}}}}"#
        );
        assert_eq!(
            fields(Draft::from_json(body.as_bytes())),
            [
                "kind",
                "language",
                "translations.EN!",
                "categories[1]",
                "attachments[0]",
                "colour",
                "title"
            ]
        );
        let r = Draft::from_json(br#"{"kind":"news","language":"vi","title":"","colour":1}"#);
        assert_eq!(fields(r), ["colour", "title"]);
    }

    #[test]
    fn rules_that_depend_on_a_bad_member_are_not_guessed() {
        // `legal` is required for kind `legal`: with a bad kind it is not reported.
        let r = Draft::from_json(br#"{"kind":1,"language":"vi","title":"T"}"#);
        assert_eq!(fields(r), ["kind"]);
        let r = Draft::from_json(br#"{"kind":"news","language":"?","title":"T"}"#);
        assert_eq!(fields(r), ["language"]);
    }

    #[test]
    fn bodies_that_are_not_objects_or_repeat_a_member_name_the_whole_body_or_that_member() {
        assert_eq!(fields(Draft::from_json(b"[1]")), ["$"]);
        assert_eq!(fields(Draft::from_json(b"{")), ["$"]);
        let dup = br#"{"kind":"news","language":"vi","title":"a","title":"b"}"#;
        assert_eq!(fields(Draft::from_json(dup)), ["title"]);
    }

    #[test]
    fn withdrawal_requests_name_every_bad_field() {
        let ok = WithdrawRequest::from_json(br#"{"explanation":"Sai sot"}"#).expect("valid");
        assert_eq!(ok.state, WithdrawalState::Withdrawn);
        // Parses: the node checks it against the withdrawal it makes.
        let r = WithdrawRequest::from_json(br#"{"state":"redirected","explanation":""}"#);
        assert!(r.is_ok());
        let r = WithdrawRequest::from_json(br#"{"state":"redirected","explanation":"","x":1}"#);
        assert_eq!(fields(r), ["x", "explanation", "redirect"]);
        let r = WithdrawRequest::from_json(br#"{"state":"moved","why":1}"#);
        assert_eq!(fields(r), ["state", "explanation", "why"]);
        let sent = serde_json::to_string(&ok).expect("serialises");
        assert_eq!(sent, r#"{"state":"withdrawn","explanation":"Sai sot"}"#);
    }
}

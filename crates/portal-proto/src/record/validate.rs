//! The field rules of each record type (SPEC.md §4): [`Validate`] for every record, and the
//! checks they share.

use super::*;

// ---------------------------------------------------------------------------------------------
// Validation

struct Checker<'a> {
    errors: &'a mut Vec<FieldError>,
}

impl Checker<'_> {
    fn fail(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.errors.push(FieldError::new(field, reason));
    }

    fn header(&mut self, ipsp: u64, record_type: RecordType, expected: RecordType) {
        if ipsp != PROTOCOL_VERSION {
            self.fail("ipsp", format!("unsupported protocol version {ipsp}, expected 1"));
        }
        if record_type != expected {
            self.fail("type", format!("expected {expected}, got {record_type}"));
        }
    }

    fn int(&mut self, field: impl fmt::Display, v: u64) {
        if v > MAX_SAFE_INTEGER {
            self.fail(field.to_string(), "integer above 2^53-1");
        }
    }

    /// Text: length in characters within `min..=max`, no control characters other than
    /// newline and tab (HTML fields may contain both), not blank when required.
    ///
    /// This runs on every verification, so the common case is byte scans with no allocation:
    /// the field path is only formatted when something is wrong.
    fn text(&mut self, field: impl fmt::Display, v: &str, min: usize, max: usize) {
        // Bytes ≥ characters, so only long values need counting.
        let n = if v.len() <= max && min <= 1 { None } else { Some(v.chars().count()) };
        if v.len() < min || n.is_some_and(|n| n < min) {
            let reason = if min == 1 {
                "must not be empty".to_owned()
            } else {
                format!("at least {min} characters")
            };
            self.fail(field.to_string(), reason);
        } else if let Some(n) = n.filter(|n| *n > max) {
            self.fail(field.to_string(), format!("at most {max} characters, got {n}"));
        }
        if has_control(v) {
            self.fail(field.to_string(), "control characters are not allowed");
        }
        if min > 0 && !v.is_empty() && v.trim().is_empty() {
            self.fail(field.to_string(), "must not be blank");
        }
    }

    fn url(&mut self, field: impl fmt::Display, v: &str) {
        if let Err(reason) = check_url(v) {
            self.fail(field.to_string(), reason);
        }
    }
}

/// Whether `v` has a control character (Unicode category Cc) other than newline and tab,
/// found by scanning bytes: C0 controls and DEL are single bytes, C1 controls (U+0080–U+009F)
/// are encoded as 0xC2 0x80–0x9F.
fn has_control(v: &str) -> bool {
    let b = v.as_bytes();
    // Fast pre-check the compiler vectorises; the exact scan runs only if it finds a candidate
    // (most often a newline in HTML).
    if !b.iter().any(|&c| c < 0x20 || c == 0x7f || c == 0xc2) {
        return false;
    }
    b.iter().enumerate().any(|(i, &c)| {
        (c < 0x20 && c != b'\n' && c != b'\t')
            || c == 0x7f
            || (c == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

/// An absolute `http`/`https` URL with a host, at most 2048 bytes, no whitespace or controls.
pub fn check_url(v: &str) -> Result<(), &'static str> {
    let rest = v
        .strip_prefix("https://")
        .or_else(|| v.strip_prefix("http://"))
        .ok_or("must be an absolute http:// or https:// URL")?;
    if v.len() > limits::MAX_URL_BYTES {
        return Err("URL too long");
    }
    if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("URL must not contain spaces or control characters");
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || host.contains('@') {
        return Err("URL must name a host and no user information");
    }
    Ok(())
}

fn check_sorted_unique<T: Ord>(c: &mut Checker<'_>, field: &str, items: &[T]) {
    if items.windows(2).any(|w| w[0] >= w[1]) {
        c.fail(field, "must be sorted and unique");
    }
}

fn check_names(c: &mut Checker<'_>, field: &str, names: &BTreeMap<Lang, String>) {
    if names.is_empty() {
        c.fail(field, "at least one name is required");
    }
    for (lang, name) in names {
        c.text(format_args!("{field}.{lang}"), name, 1, limits::MAX_NAME_CHARS);
    }
}

fn check_grants(c: &mut Checker<'_>, field: &str, keys: &[KeyGrant]) {
    if keys.is_empty() {
        c.fail(field, "at least one key is required");
    }
    for (i, k) in keys.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if k.kid != k.public_key.key_id() {
            c.fail(format!("{f}.kid"), "does not match the public key");
        }
        c.int(format_args!("{f}.from_index"), k.from_index);
        if let Some(u) = k.until_index {
            c.int(format_args!("{f}.until_index"), u);
            if u <= k.from_index {
                c.fail(format!("{f}.until_index"), "must be greater than from_index");
            }
        }
        if let Some(r) = k.revoked_from {
            c.int(format_args!("{f}.revoked_from"), r);
        }
    }
    let mut kids: Vec<&KeyId> = keys.iter().map(|k| &k.kid).collect();
    kids.sort();
    if kids.windows(2).any(|w| w[0] == w[1]) {
        c.fail(field, "a key is listed twice");
    }
}

impl Validate for ItemVersion {
    fn validate_into(&self, errors: &mut Vec<FieldError>) {
        let c = &mut Checker { errors };
        c.header(self.ipsp, self.record_type, RecordType::Item);
        c.int("log_index", self.log_index);
        c.int("version", self.version);
        if self.version == 0 {
            c.fail("version", "versions start at 1");
        }
        match (self.version, &self.prev, &self.update) {
            (1, None, None) => {}
            (1, _, _) => c.fail("version", "version 1 has no prev and no update"),
            (_, None, _) => c.fail("prev", "required from version 2 on"),
            (_, _, None) => c.fail("update", "required from version 2 on"),
            (_, Some(_), Some(u)) => c.text("update.note", &u.note, 1, limits::MAX_NOTE_CHARS),
        }
        c.text("title", &self.title, 1, limits::MAX_TITLE_CHARS);
        c.text("summary", &self.summary, 0, limits::MAX_SUMMARY_CHARS);
        c.text("content_html", &self.content_html, 0, limits::MAX_CONTENT_CHARS);
        for (lang, t) in &self.translations {
            if *lang == self.language {
                c.fail(format!("translations.{lang}"), "duplicates the primary language");
            }
            c.text(format_args!("translations.{lang}.title"), &t.title, 1, limits::MAX_TITLE_CHARS);
            c.text(
                format_args!("translations.{lang}.summary"),
                &t.summary,
                0,
                limits::MAX_SUMMARY_CHARS,
            );
            c.text(
                format_args!("translations.{lang}.content_html"),
                &t.content_html,
                0,
                limits::MAX_CONTENT_CHARS,
            );
        }
        if self.categories.len() > limits::MAX_CATEGORIES {
            c.fail("categories", format!("at most {} categories", limits::MAX_CATEGORIES));
        }
        for (i, cat) in self.categories.iter().enumerate() {
            c.text(format_args!("categories[{i}]"), cat, 1, limits::MAX_CATEGORY_CHARS);
        }
        check_sorted_unique(c, "categories", &self.categories);
        if self.attachments.len() > limits::MAX_ATTACHMENTS {
            c.fail("attachments", format!("at most {} attachments", limits::MAX_ATTACHMENTS));
        }
        for (i, a) in self.attachments.iter().enumerate() {
            c.text(format_args!("attachments[{i}].name"), &a.name, 1, limits::MAX_NAME_CHARS);
            if !valid_media_type(&a.media_type) {
                c.fail(
                    format!("attachments[{i}].media_type"),
                    "expected type/subtype, e.g. application/pdf",
                );
            }
            c.int(format_args!("attachments[{i}].size"), a.size);
        }
        match (self.kind, &self.legal) {
            (ItemKind::Legal, None) => c.fail("legal", "required for kind \"legal\""),
            (ItemKind::Legal, Some(l)) => {
                c.text("legal.number", &l.number, 1, limits::MAX_NAME_CHARS);
                c.text("legal.issuer", &l.issuer, 1, limits::MAX_NAME_CHARS);
                c.text("legal.signer", &l.signer, 1, limits::MAX_NAME_CHARS);
                if l.effective < l.issued {
                    c.fail("legal.effective", "must not be before legal.issued");
                }
                if l.expires.is_some_and(|e| e < l.effective) {
                    c.fail("legal.expires", "must not be before legal.effective");
                }
            }
            (_, Some(_)) => c.fail("legal", "only allowed for kind \"legal\""),
            (_, None) => {}
        }
        if self.updated < self.published {
            c.fail("updated", "must not be before published");
        }
        if self.version == 1 && self.updated != self.published {
            c.fail("updated", "version 1 is updated when it is published");
        }
    }
}

fn valid_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.len() <= 127
            && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    matches!(s.split_once('/'), Some((a, b)) if token(a) && token(b) && s == s.to_ascii_lowercase())
}

impl Validate for Withdrawal {
    fn validate_into(&self, errors: &mut Vec<FieldError>) {
        let c = &mut Checker { errors };
        c.header(self.ipsp, self.record_type, RecordType::Withdrawal);
        c.int("log_index", self.log_index);
        c.int("version", self.version);
        if self.version == 0 {
            c.fail("version", "versions start at 1");
        }
        c.text("explanation", &self.explanation, 1, limits::MAX_NOTE_CHARS);
        match (self.state, &self.redirect) {
            (WithdrawalState::Redirected, None) => {
                c.fail("redirect", "required when state is \"redirected\"")
            }
            (WithdrawalState::Redirected, Some(u)) => c.url("redirect", u),
            (_, Some(_)) => c.fail("redirect", "only allowed when state is \"redirected\""),
            (_, None) => {}
        }
    }
}

impl Validate for KeyEvent {
    fn validate_into(&self, errors: &mut Vec<FieldError>) {
        let c = &mut Checker { errors };
        c.header(self.ipsp, self.record_type, RecordType::KeyEvent);
        c.int("log_index", self.log_index);
        c.int("from_index", self.from_index);
        c.text("reason", &self.reason, 1, limits::MAX_NOTE_CHARS);
        match (self.event, &self.public_key) {
            (KeyEventKind::Rotate, None) => c.fail("public_key", "required for a rotation"),
            (KeyEventKind::Rotate, Some(pk)) => {
                if pk.key_id() != self.kid {
                    c.fail("kid", "does not match public_key");
                }
                if self.from_index <= self.log_index {
                    c.fail("from_index", "a new key starts after the rotation's own index");
                }
            }
            (KeyEventKind::Revoke, Some(_)) => c.fail("public_key", "only allowed for a rotation"),
            (KeyEventKind::Revoke, None) => {}
        }
    }
}

impl Validate for Descriptor {
    fn validate_into(&self, errors: &mut Vec<FieldError>) {
        let c = &mut Checker { errors };
        c.header(self.ipsp, self.record_type, RecordType::Descriptor);
        check_names(c, "name", &self.name);
        c.url("url", &self.url);
        check_grants(c, "keys", &self.keys);
        for (name, url) in &self.endpoints {
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-') {
                c.fail(
                    format!("endpoints.{name}"),
                    "endpoint names are lowercase words joined by '-'",
                );
            }
            c.url(format_args!("endpoints.{name}"), url);
        }
        c.int("heartbeat", self.heartbeat);
        if self.heartbeat == 0 {
            c.fail("heartbeat", "must be at least 1 second");
        }
        c.int("log_size", self.log_size);
    }
}

impl Validate for Roster {
    fn validate_into(&self, errors: &mut Vec<FieldError>) {
        let c = &mut Checker { errors };
        c.header(self.ipsp, self.record_type, RecordType::Roster);
        c.int("serial", self.serial);
        let ids: Vec<&NodeId> = self.members.iter().map(|m| &m.id).collect();
        check_sorted_unique(c, "members", &ids);
        for (i, m) in self.members.iter().enumerate() {
            c.url(format_args!("members[{i}].url"), &m.url);
            check_names(c, &format!("members[{i}].name"), &m.name);
            check_grants(c, &format!("members[{i}].keys"), &m.keys);
            if m.id == self.origin {
                c.fail(format!("members[{i}].id"), "the central node is not its own member");
            }
        }
    }
}

impl Validate for Receipt {
    fn validate_into(&self, errors: &mut Vec<FieldError>) {
        let c = &mut Checker { errors };
        c.header(self.ipsp, self.record_type, RecordType::Receipt);
        c.int("log_index", self.log_index);
        c.int("member_index", self.member_index);
        c.int("checkpoint.size", self.checkpoint.size);
        if self.checkpoint.size <= self.member_index {
            c.fail("checkpoint.size", "the checkpoint must include the record");
        }
        if crate::crypto::decode_base64_array::<32>(&self.checkpoint.root).is_err() {
            c.fail("checkpoint.root", "expected 32 bytes, standard base64");
        }
        if self.member == self.origin {
            c.fail("member", "an aggregator does not receipt its own records");
        }
    }
}

macro_rules! record_body {
    ($t:ty, $tag:expr, $variant:ident, $log:expr) => {
        impl RecordBody for $t {
            const TYPE: RecordType = $tag;
            fn origin(&self) -> &NodeId {
                &self.origin
            }
            fn log_index(&self) -> Option<u64> {
                #[allow(clippy::redundant_closure_call)]
                ($log)(self)
            }
            fn from_record(record: Record) -> Option<Self> {
                match record {
                    Record::$variant(r) => Some(r),
                    _ => None,
                }
            }
        }

        impl From<$t> for Record {
            fn from(r: $t) -> Record {
                Record::$variant(r)
            }
        }
    };
}

record_body!(ItemVersion, RecordType::Item, Item, |r: &ItemVersion| Some(r.log_index));
record_body!(Withdrawal, RecordType::Withdrawal, Withdrawal, |r: &Withdrawal| Some(r.log_index));
record_body!(KeyEvent, RecordType::KeyEvent, KeyEvent, |r: &KeyEvent| Some(r.log_index));
record_body!(Descriptor, RecordType::Descriptor, Descriptor, |_: &Descriptor| None);
record_body!(Roster, RecordType::Roster, Roster, |_: &Roster| None);
record_body!(Receipt, RecordType::Receipt, Receipt, |r: &Receipt| Some(r.log_index));

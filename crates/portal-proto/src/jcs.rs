//! RFC 8785 JSON Canonicalization Scheme (JCS): strict parsing, canonical output and a fast canonical-form check.
//!
//! * [`canonicalize`] parses strict RFC 8259 JSON and emits its RFC 8785 form.
//! * [`check_canonical`] is the hot-path validator for signed payloads: it accepts
//!   exactly the inputs `x` for which `canonicalize(x) == Ok(x)`, in a single pass
//!   and without allocating (only a rejected input is re-parsed, to classify the error).
//! * [`to_canonical_vec`] serialises any [`serde::Serialize`] value to canonical bytes.
//! * [`format_number`] is the ECMAScript `Number.prototype.toString` number formatter.
//!
//! Strictness beyond plain RFC 8259 (all of it required for signatures to be
//! unambiguous): duplicate object keys, lone UTF-16 surrogates (escaped), invalid
//! UTF-8, a byte-order mark, numbers that overflow an IEEE 754 double, nesting
//! deeper than [`MAX_DEPTH`] and inputs longer than a size cap are all errors.

use std::cmp::Ordering;
use std::fmt;

use crate::ids::hex_digit;
use serde::ser::{self, Serialize};

/// Maximum nesting depth of arrays and objects: the 65th nested `[` or `{` is an error.
pub const MAX_DEPTH: usize = 64;

/// Default input size cap, in bytes, of [`canonicalize`] and [`check_canonical`] (1 MiB).
pub const MAX_INPUT_LEN: usize = 1 << 20;

/// Largest integer that an IEEE 754 double represents exactly together with all
/// smaller integers: 2^53 − 1. [`to_canonical_vec`] rejects integers beyond ±this.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// Why an input is not strict RFC 8259 JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The input ended inside a value (or was empty).
    UnexpectedEnd,
    /// A byte that cannot appear at this position.
    UnexpectedByte,
    /// More bytes (other than whitespace) follow the top-level value.
    TrailingData,
    /// The input is not valid UTF-8.
    InvalidUtf8,
    /// An unescaped control character (U+0000..U+001F) inside a string.
    ControlCharacter,
    /// An unknown escape sequence, or `\u` not followed by four hex digits.
    InvalidEscape,
    /// A `\uD800`..`\uDFFF` escape that is not part of a high+low surrogate pair.
    LoneSurrogate,
    /// A number with a superfluous leading zero, such as `01`.
    LeadingZero,
    /// A malformed number, such as `-`, `1.` or `1e`.
    InvalidNumber,
    /// A number whose magnitude overflows an IEEE 754 double (e.g. `1e400`).
    NumberOutOfRange,
    /// An object has two members with the same key.
    DuplicateKey,
    /// Arrays and objects are nested deeper than [`MAX_DEPTH`].
    TooDeep,
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnexpectedEnd => "unexpected end of input",
            Self::UnexpectedByte => "unexpected byte",
            Self::TrailingData => "trailing data after the JSON value",
            Self::InvalidUtf8 => "invalid UTF-8",
            Self::ControlCharacter => "unescaped control character in string",
            Self::InvalidEscape => "invalid escape sequence",
            Self::LoneSurrogate => "unpaired UTF-16 surrogate escape",
            Self::LeadingZero => "number with a leading zero",
            Self::InvalidNumber => "malformed number",
            Self::NumberOutOfRange => "number overflows an IEEE 754 double",
            Self::DuplicateKey => "duplicate object key",
            Self::TooDeep => "nesting too deep",
        })
    }
}

/// Errors of the canonical JSON functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JcsError {
    /// The input is not strict RFC 8259 JSON; `offset` is the byte position of the problem.
    #[error("invalid JSON at byte {offset}: {kind}")]
    Parse {
        /// Byte offset into the input.
        offset: usize,
        /// What is wrong.
        kind: ParseErrorKind,
    },
    /// The input is valid strict JSON but not byte-for-byte in RFC 8785 canonical form.
    #[error("JSON is not in RFC 8785 canonical form (at byte {offset})")]
    NotCanonical {
        /// Byte offset where the first deviation from canonical form was detected.
        offset: usize,
    },
    /// The input is longer than the size cap.
    #[error("JSON input of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Input length in bytes.
        len: usize,
        /// The cap in force.
        limit: usize,
    },
    /// Serialisation: an integer outside ±(2^53 − 1), which JCS could not represent exactly.
    #[error("integer {value} is outside the exactly representable range ±(2^53-1)")]
    UnsafeInteger {
        /// The offending integer.
        value: i128,
    },
    /// A NaN or infinite number, which JSON cannot represent.
    #[error("NaN and infinite numbers cannot be represented in JSON")]
    NonFiniteNumber,
    /// Serialisation: a map key that is not a string, character or integer.
    #[error("object keys must be strings")]
    NonStringKey,
    /// Serialisation: two members of one object have the same key.
    #[error("duplicate object key {key:?}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
    },
    /// Serialisation: arrays and objects are nested deeper than [`MAX_DEPTH`].
    #[error("value nests arrays/objects deeper than {MAX_DEPTH}")]
    TooDeep,
    /// Serialisation: the value's `Serialize` implementation reported an error.
    #[error("serialization failed: {message}")]
    Serialize {
        /// The message from the `Serialize` implementation.
        message: String,
    },
}

impl JcsError {
    /// The byte offset into the input, for [`JcsError::Parse`] and [`JcsError::NotCanonical`].
    pub fn offset(&self) -> Option<usize> {
        match self {
            JcsError::Parse { offset, .. } | JcsError::NotCanonical { offset } => Some(*offset),
            _ => None,
        }
    }

    /// Whether the input was JSON by the RFC 8259 grammar but not canonical:
    /// [`JcsError::NotCanonical`], or a duplicate object key (which the RFC 8259
    /// grammar allows, but canonical JSON, with strictly increasing keys, cannot contain).
    pub fn is_not_canonical(&self) -> bool {
        matches!(
            self,
            JcsError::NotCanonical { .. }
                | JcsError::Parse { kind: ParseErrorKind::DuplicateKey, .. }
        )
    }
}

impl ser::Error for JcsError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        JcsError::Serialize { message: msg.to_string() }
    }
}

fn parse_err(offset: usize, kind: ParseErrorKind) -> JcsError {
    JcsError::Parse { offset, kind }
}

// ---------------------------------------------------------------------------
// Value tree (used by `canonicalize` and `to_canonical_vec`)
// ---------------------------------------------------------------------------

#[derive(Debug)]
enum Value {
    Null,
    Bool(bool),
    /// Always finite.
    Number(f64),
    String(String),
    Array(Vec<Value>),
    /// Sorted by key in UTF-16 code-unit order, keys unique.
    Object(Vec<Member>),
}

#[derive(Debug)]
struct Member {
    key: String,
    value: Value,
    /// Byte offset of the key in the parsed input (insertion index for
    /// serialised values); picks which duplicate to report.
    offset: usize,
}

/// Sorts members by UTF-16 key order; returns the index of the later member of
/// the earliest duplicate pair (by `offset`), if any.
fn sort_members(members: &mut [Member]) -> Option<usize> {
    members.sort_by(|a, b| cmp_utf16(a.key.as_bytes(), b.key.as_bytes()));
    let mut dup: Option<usize> = None;
    for i in 1..members.len() {
        if members[i - 1].key == members[i].key {
            let later = if members[i].offset >= members[i - 1].offset { i } else { i - 1 };
            if dup.is_none_or(|d| members[later].offset < members[d].offset) {
                dup = Some(later);
            }
        }
    }
    dup
}

// ---------------------------------------------------------------------------
// UTF-16 code-unit ordering
// ---------------------------------------------------------------------------

/// Compares two UTF-8 strings (given as bytes, no JSON escapes) in UTF-16
/// code-unit order, as RFC 8785 §3.2.3 requires.
///
/// UTF-8 byte order equals code-point order; UTF-16 order differs only in that
/// a supplementary character (4-byte UTF-8, lead byte F0..F4, high surrogate
/// D800..DBFF in UTF-16) sorts *before* U+E000..U+FFFF (lead byte EE or EF).
fn cmp_utf16(a: &[u8], b: &[u8]) -> Ordering {
    let Some(i) = a.iter().zip(b).position(|(x, y)| x != y) else {
        return a.len().cmp(&b.len());
    };
    let (x, y) = (a[i], b[i]);
    // The common prefix is valid UTF-8 in both, so either both bytes are
    // continuation bytes of the same character (plain byte order is right)
    // or both are lead bytes.
    let x_supp = x >= 0xF0;
    let y_supp = y >= 0xF0;
    if x_supp && (y == 0xEE || y == 0xEF) {
        Ordering::Less
    } else if y_supp && (x == 0xEE || x == 0xEF) {
        Ordering::Greater
    } else {
        x.cmp(&y)
    }
}

/// Monotone map from a code point to its UTF-16 sort rank.
fn utf16_rank(cp: u32) -> u32 {
    if cp >= 0x1_0000 {
        0xD800 + (cp - 0x1_0000) // 0xD800..=0x10D7FF
    } else if cp >= 0xE000 {
        cp + 0x10_0000 // 0x10E000..=0x10FFFF, above every supplementary rank
    } else {
        cp
    }
}

/// Iterates the UTF-16 sort ranks of the characters of a string body that is
/// already known to be valid UTF-8 using only canonical JSON escapes.
struct CanonicalChars<'a> {
    s: &'a [u8],
    i: usize,
}

impl Iterator for CanonicalChars<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        let b = *self.s.get(self.i)?;
        let at = |k: usize| u32::from(self.s.get(k).copied().unwrap_or(0));
        let (cp, len) = match b {
            b'\\' => match self.s.get(self.i + 1).copied().unwrap_or(0) {
                b'b' => (0x08, 2),
                b't' => (0x09, 2),
                b'n' => (0x0A, 2),
                b'f' => (0x0C, 2),
                b'r' => (0x0D, 2),
                b'u' => {
                    let h = |k: usize| {
                        u32::from(hex_digit(self.s.get(k).copied().unwrap_or(0)).unwrap_or(0))
                    };
                    let i = self.i;
                    ((h(i + 2) << 12) | (h(i + 3) << 8) | (h(i + 4) << 4) | h(i + 5), 6)
                }
                other => (u32::from(other), 2), // `\"` and `\\`
            },
            0x00..=0x7F => (u32::from(b), 1),
            0xC0..=0xDF => (((u32::from(b) & 0x1F) << 6) | (at(self.i + 1) & 0x3F), 2),
            0xE0..=0xEF => (
                ((u32::from(b) & 0x0F) << 12)
                    | ((at(self.i + 1) & 0x3F) << 6)
                    | (at(self.i + 2) & 0x3F),
                3,
            ),
            _ => (
                ((u32::from(b) & 0x07) << 18)
                    | ((at(self.i + 1) & 0x3F) << 12)
                    | ((at(self.i + 2) & 0x3F) << 6)
                    | (at(self.i + 3) & 0x3F),
                4,
            ),
        };
        self.i += len;
        Some(utf16_rank(cp))
    }
}

/// Returns the index of the first byte at or after `i` that ends a run of
/// literal string content (a control character, `"` or `\\`), or `src.len()`.
/// Scans eight bytes at a time (SWAR); the bit tests have no false negatives.
fn skip_plain(src: &[u8], mut i: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = src.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let quote = x ^ (ONES * u64::from(b'"'));
        let backslash = x ^ (ONES * u64::from(b'\\'));
        let special = (x.wrapping_sub(ONES * 0x20) & !x)
            | (quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash);
        if special & HIGH != 0 {
            break;
        }
        i += 8;
    }
    while let Some(&b) = src.get(i) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            break;
        }
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------
// Strict parser
// ---------------------------------------------------------------------------

struct Parser<'a> {
    text: &'a str,
    src: &'a [u8],
    pos: usize,
}

fn check_input(input: &[u8], max_len: usize) -> Result<&str, JcsError> {
    if input.len() > max_len {
        return Err(JcsError::TooLarge { len: input.len(), limit: max_len });
    }
    std::str::from_utf8(input).map_err(|e| parse_err(e.valid_up_to(), ParseErrorKind::InvalidUtf8))
}

fn parse(input: &[u8], max_len: usize) -> Result<Value, JcsError> {
    let text = check_input(input, max_len)?;
    let mut p = Parser { text, src: input, pos: 0 };
    p.skip_ws();
    let v = p.value(0)?;
    p.skip_ws();
    if p.pos != p.src.len() {
        return Err(parse_err(p.pos, ParseErrorKind::TrailingData));
    }
    Ok(v)
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn unexpected(&self) -> JcsError {
        match self.peek() {
            None => parse_err(self.pos, ParseErrorKind::UnexpectedEnd),
            Some(_) => parse_err(self.pos, ParseErrorKind::UnexpectedByte),
        }
    }

    fn literal(&mut self, lit: &[u8], v: Value) -> Result<Value, JcsError> {
        for &expected in lit {
            if self.peek() != Some(expected) {
                return Err(self.unexpected());
            }
            self.pos += 1;
        }
        Ok(v)
    }

    fn value(&mut self, depth: usize) -> Result<Value, JcsError> {
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b't') => self.literal(b"true", Value::Bool(true)),
            Some(b'f') => self.literal(b"false", Value::Bool(false)),
            Some(b'n') => self.literal(b"null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.unexpected()),
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, JcsError> {
        if depth >= MAX_DEPTH {
            return Err(parse_err(self.pos, ParseErrorKind::TooDeep));
        }
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, JcsError> {
        if depth >= MAX_DEPTH {
            return Err(parse_err(self.pos, ParseErrorKind::TooDeep));
        }
        self.pos += 1;
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected());
            }
            let offset = self.pos;
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.unexpected());
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push(Member { key, value, offset });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.unexpected()),
            }
        }
        if let Some(d) = sort_members(&mut members) {
            return Err(parse_err(members[d].offset, ParseErrorKind::DuplicateKey));
        }
        Ok(Value::Object(members))
    }

    fn hex4(&self, at: usize) -> Result<u32, JcsError> {
        let mut v = 0u32;
        for k in 0..4 {
            match self.src.get(at + k) {
                None => return Err(parse_err(at + k, ParseErrorKind::UnexpectedEnd)),
                Some(&b) => match hex_digit(b) {
                    Some(h) => v = (v << 4) | u32::from(h),
                    None => return Err(parse_err(at + k, ParseErrorKind::InvalidEscape)),
                },
            }
        }
        Ok(v)
    }

    /// Parses a string starting at the opening quote.
    fn string(&mut self) -> Result<String, JcsError> {
        self.pos += 1;
        let mut out = String::new();
        let mut run = self.pos;
        loop {
            let Some(b) = self.peek() else {
                return Err(parse_err(self.pos, ParseErrorKind::UnexpectedEnd));
            };
            match b {
                b'"' | b'\\' => {
                    // `run` and `pos` sit on ASCII bytes, hence on char boundaries.
                    let chunk = self
                        .text
                        .get(run..self.pos)
                        .ok_or_else(|| parse_err(run, ParseErrorKind::InvalidUtf8))?;
                    out.push_str(chunk);
                    if b == b'"' {
                        self.pos += 1;
                        return Ok(out);
                    }
                    self.escape(&mut out)?;
                    run = self.pos;
                }
                0x00..=0x1F => return Err(parse_err(self.pos, ParseErrorKind::ControlCharacter)),
                _ => self.pos = skip_plain(self.src, self.pos),
            }
        }
    }

    /// Decodes one escape sequence starting at the backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), JcsError> {
        let start = self.pos;
        let c = match self.src.get(start + 1) {
            None => return Err(parse_err(start + 1, ParseErrorKind::UnexpectedEnd)),
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = self.hex4(start + 2)?;
                self.pos = start + 6;
                let cp = match unit {
                    0xD800..=0xDBFF => {
                        if self.src.get(start + 6) != Some(&b'\\')
                            || self.src.get(start + 7) != Some(&b'u')
                        {
                            return Err(parse_err(start, ParseErrorKind::LoneSurrogate));
                        }
                        let low = self.hex4(start + 8)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(parse_err(start, ParseErrorKind::LoneSurrogate));
                        }
                        self.pos = start + 12;
                        0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(parse_err(start, ParseErrorKind::LoneSurrogate)),
                    _ => unit,
                };
                let ch = char::from_u32(cp)
                    .ok_or_else(|| parse_err(start, ParseErrorKind::LoneSurrogate))?;
                out.push(ch);
                return Ok(());
            }
            Some(_) => return Err(parse_err(start + 1, ParseErrorKind::InvalidEscape)),
        };
        out.push(c);
        self.pos = start + 2;
        Ok(())
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Value, JcsError> {
        let start = self.pos;
        let end = scan_number(self.src, start)?;
        self.pos = end;
        let token = &self.src[start..end];
        Ok(Value::Number(number_value(token, start)?))
    }
}

/// Scans a JSON number starting at `start`; returns the end offset.
fn scan_number(src: &[u8], start: usize) -> Result<usize, JcsError> {
    let mut p = Parser { text: "", src, pos: start };
    if p.peek() == Some(b'-') {
        p.pos += 1;
    }
    match p.peek() {
        Some(b'0') => {
            p.pos += 1;
            if let Some(b'0'..=b'9') = p.peek() {
                return Err(parse_err(p.pos - 1, ParseErrorKind::LeadingZero));
            }
        }
        Some(b'1'..=b'9') => {
            p.digits();
        }
        None => return Err(parse_err(p.pos, ParseErrorKind::UnexpectedEnd)),
        Some(_) => return Err(parse_err(p.pos, ParseErrorKind::InvalidNumber)),
    }
    if p.peek() == Some(b'.') {
        p.pos += 1;
        if p.digits() == 0 {
            return Err(parse_err(p.pos, ParseErrorKind::InvalidNumber));
        }
    }
    if let Some(b'e' | b'E') = p.peek() {
        p.pos += 1;
        if let Some(b'+' | b'-') = p.peek() {
            p.pos += 1;
        }
        if p.digits() == 0 {
            return Err(parse_err(p.pos, ParseErrorKind::InvalidNumber));
        }
    }
    Ok(p.pos)
}

/// Converts a grammatically valid JSON number token to a finite double
/// (correctly rounded).
fn number_value(token: &[u8], offset: usize) -> Result<f64, JcsError> {
    let (neg, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    // Fast path: up to 15 digits is always exact in a double.
    if digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let n = digits.iter().fold(0u64, |acc, &d| acc * 10 + u64::from(d - b'0'));
        #[allow(clippy::cast_precision_loss)] // n < 10^15 < 2^53: exact
        let f = n as f64;
        return Ok(if neg { -f } else { f });
    }
    let s =
        std::str::from_utf8(token).map_err(|_| parse_err(offset, ParseErrorKind::InvalidNumber))?;
    let f: f64 = s.parse().map_err(|_| parse_err(offset, ParseErrorKind::InvalidNumber))?;
    if f.is_finite() { Ok(f) } else { Err(parse_err(offset, ParseErrorKind::NumberOutOfRange)) }
}

// ---------------------------------------------------------------------------
// Canonical output
// ---------------------------------------------------------------------------

fn write_number(out: &mut Vec<u8>, f: f64) {
    let mut buf = ryu_js::Buffer::new();
    out.extend_from_slice(buf.format_finite(f).as_bytes());
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes `s` as a JSON string with RFC 8785 §3.2.2.2 minimal escaping.
fn write_string(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.push(b'"');
    let mut run = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x09 => b"\\t",
            0x0A => b"\\n",
            0x0C => b"\\f",
            0x0D => b"\\r",
            0x00..=0x1F => {
                &[b'\\', b'u', b'0', b'0', HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]]
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[run..i]);
        out.extend_from_slice(esc);
        run = i + 1;
    }
    out.extend_from_slice(&bytes[run..]);
    out.push(b'"');
}

fn emit(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(f) => write_number(out, *f),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                emit(out, item);
            }
            out.push(b']');
        }
        Value::Object(members) => {
            out.push(b'{');
            for (i, m) in members.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(out, &m.key);
                out.push(b':');
                emit(out, &m.value);
            }
            out.push(b'}');
        }
    }
}

/// Formats a number as ECMAScript `Number.prototype.toString` does, which is
/// the RFC 8785 number serialisation: shortest round-tripping digits, plain
/// notation for 1e-6 ≤ |x| < 1e21, otherwise `d[.ddd]e±n`; `-0` becomes `0`.
///
/// # Errors
/// [`JcsError::NonFiniteNumber`] for NaN and ±infinity.
pub fn format_number(value: f64) -> Result<String, JcsError> {
    if !value.is_finite() {
        return Err(JcsError::NonFiniteNumber);
    }
    let mut buf = ryu_js::Buffer::new();
    Ok(buf.format_finite(value).to_owned())
}

/// Parses strict JSON and returns its RFC 8785 canonical form, with the
/// default size cap [`MAX_INPUT_LEN`].
///
/// # Errors
/// [`JcsError::TooLarge`] or [`JcsError::Parse`] (see [`ParseErrorKind`]).
pub fn canonicalize(input: &[u8]) -> Result<Vec<u8>, JcsError> {
    canonicalize_with_limit(input, MAX_INPUT_LEN)
}

/// [`canonicalize`] with a caller-chosen size cap of `max_len` bytes.
///
/// # Errors
/// [`JcsError::TooLarge`] if `input.len() > max_len`, or [`JcsError::Parse`].
pub fn canonicalize_with_limit(input: &[u8], max_len: usize) -> Result<Vec<u8>, JcsError> {
    let v = parse(input, max_len)?;
    let mut out = Vec::with_capacity(input.len());
    emit(&mut out, &v);
    Ok(out)
}

// ---------------------------------------------------------------------------
// Fast canonical-form check
// ---------------------------------------------------------------------------

/// Validates that `input` is already in RFC 8785 canonical form, with the
/// default size cap [`MAX_INPUT_LEN`].
///
/// Accepts exactly the inputs `x` for which `canonicalize(x) == Ok(x)`: no
/// whitespace, object keys strictly increasing in UTF-16 code-unit order (so no
/// duplicates), only the escapes `\"` `\\` `\b` `\t` `\n` `\f` `\r` and
/// lowercase `\u00xx` for other control characters, and every number spelled
/// exactly as ECMAScript renders its value. Runs in one pass without
/// building a tree or allocating; only a rejected input is re-parsed to
/// classify the error.
///
/// # Errors
/// The same [`JcsError::Parse`] / [`JcsError::TooLarge`] error as
/// [`canonicalize`] if the input is not strict JSON; otherwise
/// [`JcsError::NotCanonical`] if it is valid but not canonical.
pub fn check_canonical(input: &[u8]) -> Result<(), JcsError> {
    check_canonical_with_limit(input, MAX_INPUT_LEN)
}

/// [`check_canonical`] with a caller-chosen size cap of `max_len` bytes.
///
/// # Errors
/// As [`check_canonical`].
pub fn check_canonical_with_limit(input: &[u8], max_len: usize) -> Result<(), JcsError> {
    check_canonical_member(input, max_len, "").map(|_| ())
}

/// What [`check_canonical_member`] learned in its single pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CanonicalText<'a> {
    /// The whole input, now known to be UTF-8 (so later parsers need not check it again).
    pub text: &'a str,
    /// The requested top-level member's value, if it is a string written without escapes.
    pub member: Option<&'a str>,
}

/// [`check_canonical_with_limit`], also returning the value of the top-level object member
/// named `key` when that value is a string written without escapes (e.g. a record's `"type"`),
/// found during the same single pass, so that a caller need not scan the input again.
///
/// # Errors
/// As [`check_canonical`].
pub fn check_canonical_member<'a>(
    input: &'a [u8],
    max_len: usize,
    key: &str,
) -> Result<CanonicalText<'a>, JcsError> {
    let text = check_input(input, max_len)?;
    let mut c = Checker { src: input, pos: 0, wanted: key.as_bytes(), found: None };
    let res = c.value(0);
    let res = match res {
        Ok(()) if c.pos != input.len() => Err(c.pos),
        other => other,
    };
    match res {
        // The span is of a canonical string without escapes: valid UTF-8 on its own.
        Ok(()) => Ok(CanonicalText { text, member: c.found.and_then(|(a, b)| text.get(a..b)) }),
        Err(offset) => {
            // Slow path, only for rejected input: a full strict parse decides
            // between "invalid JSON" and "valid but not canonical".
            parse(input, max_len)?;
            Err(JcsError::NotCanonical { offset })
        }
    }
}

/// Single-pass recogniser of canonical JSON. Errors are just the offset where
/// the input stopped being canonical; the caller classifies them.
struct Checker<'a> {
    src: &'a [u8],
    pos: usize,
    /// Name of a top-level member whose string value the caller wants (may be empty).
    wanted: &'a [u8],
    /// Body span of that value, once seen.
    found: Option<(usize, usize)>,
}

/// A key already scanned: body span (without quotes) and whether it contains escapes.
#[derive(Clone, Copy)]
struct KeySpan {
    start: usize,
    end: usize,
    escaped: bool,
}

impl Checker<'_> {
    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn expect(&mut self, b: u8) -> Result<(), usize> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    fn literal(&mut self, lit: &[u8]) -> Result<(), usize> {
        if self.src.get(self.pos..self.pos + lit.len()) == Some(lit) {
            self.pos += lit.len();
            Ok(())
        } else {
            Err(self.pos)
        }
    }

    fn value(&mut self, depth: usize) -> Result<(), usize> {
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().map(|_| ()),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => Err(self.pos),
        }
    }

    fn array(&mut self, depth: usize) -> Result<(), usize> {
        if depth >= MAX_DEPTH {
            return Err(self.pos);
        }
        self.pos += 1;
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.value(depth + 1)?;
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.pos),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<(), usize> {
        if depth >= MAX_DEPTH {
            return Err(self.pos);
        }
        self.pos += 1;
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        let mut prev: Option<KeySpan> = None;
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.pos);
            }
            let key_pos = self.pos;
            let key = self.string()?;
            if let Some(p) = prev
                && self.key_cmp(p, key) != Ordering::Less
            {
                return Err(key_pos);
            }
            prev = Some(key);
            self.expect(b':')?;
            let value_start = self.pos;
            self.value(depth + 1)?;
            if depth == 0
                && !key.escaped
                && !self.wanted.is_empty()
                && &self.src[key.start..key.end] == self.wanted
                && self.src[value_start] == b'"'
                && !self.src[value_start + 1..self.pos - 1].contains(&b'\\')
            {
                self.found = Some((value_start + 1, self.pos - 1));
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.pos),
            }
        }
    }

    fn key_cmp(&self, a: KeySpan, b: KeySpan) -> Ordering {
        let sa = &self.src[a.start..a.end];
        let sb = &self.src[b.start..b.end];
        if a.escaped || b.escaped {
            CanonicalChars { s: sa, i: 0 }.cmp(CanonicalChars { s: sb, i: 0 })
        } else {
            cmp_utf16(sa, sb)
        }
    }

    /// Scans a canonical string starting at the opening quote. The input is
    /// known to be valid UTF-8, so bytes >= 0x80 need no checks here.
    fn string(&mut self) -> Result<KeySpan, usize> {
        self.pos += 1;
        let start = self.pos;
        let mut escaped = false;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.pos);
            };
            match b {
                b'"' => {
                    let span = KeySpan { start, end: self.pos, escaped };
                    self.pos += 1;
                    return Ok(span);
                }
                b'\\' => {
                    escaped = true;
                    match self.src.get(self.pos + 1) {
                        Some(b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r') => self.pos += 2,
                        Some(b'u') => {
                            // Only \u00xx (lowercase hex) for control characters
                            // without a short form is canonical.
                            let ok = match self.src.get(self.pos + 2..self.pos + 6) {
                                Some(&[b'0', b'0', h, l]) => {
                                    let v = match (h, hex_digit(l)) {
                                        (b'0', Some(v)) => v,
                                        (b'1', Some(v)) => 16 + v,
                                        _ => 0xFF,
                                    };
                                    !l.is_ascii_uppercase()
                                        && v < 0x20
                                        && !matches!(v, 0x08 | 0x09 | 0x0A | 0x0C | 0x0D)
                                }
                                _ => false,
                            };
                            if !ok {
                                return Err(self.pos);
                            }
                            self.pos += 6;
                        }
                        _ => return Err(self.pos),
                    }
                }
                0x00..=0x1F => return Err(self.pos),
                _ => self.pos = skip_plain(self.src, self.pos),
            }
        }
    }

    fn number(&mut self) -> Result<(), usize> {
        let start = self.pos;
        let end = scan_number(self.src, start).map_err(|_| start)?;
        self.pos = end;
        let token = &self.src[start..end];
        let (neg, digits) = match token.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, token),
        };
        if digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
            // Integer below 10^15: ECMAScript prints it as its plain digits.
            // `scan_number` already rejected leading zeros; only `-0` remains.
            return if neg && digits == b"0" { Err(start) } else { Ok(()) };
        }
        let f = number_value(token, start).map_err(|_| start)?;
        let mut buf = ryu_js::Buffer::new();
        if buf.format_finite(f).as_bytes() == token { Ok(()) } else { Err(start) }
    }
}

// ---------------------------------------------------------------------------
// serde serialisation
// ---------------------------------------------------------------------------

/// Serialises `value` to RFC 8785 canonical JSON bytes.
///
/// Structs and maps become objects (members sorted in UTF-16 key order), `Option::None`
/// and `()` become `null`, unit enum variants become strings and other enum variants
/// `{"Variant": …}` (serde_json's external tagging), byte slices arrays of numbers.
/// `f32` values are widened to `f64` before formatting.
///
/// # Errors
/// [`JcsError::UnsafeInteger`] for an integer outside ±(2^53 − 1) (JCS would
/// silently round it), [`JcsError::NonFiniteNumber`] for NaN/infinity,
/// [`JcsError::NonStringKey`], [`JcsError::DuplicateKey`], [`JcsError::TooDeep`],
/// or [`JcsError::Serialize`] from the value's own `Serialize` implementation.
pub fn to_canonical_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, JcsError> {
    let v = value.serialize(ValueSerializer { depth: 0 })?;
    let mut out = Vec::new();
    emit(&mut out, &v);
    Ok(out)
}

#[allow(clippy::cast_precision_loss)] // |v| <= 2^53 - 1: exact
fn int_value(v: i128) -> Result<Value, JcsError> {
    if v.unsigned_abs() > u128::from(MAX_SAFE_INTEGER) {
        Err(JcsError::UnsafeInteger { value: v })
    } else {
        Ok(Value::Number(v as f64))
    }
}

fn float_value(v: f64) -> Result<Value, JcsError> {
    if v.is_finite() { Ok(Value::Number(v)) } else { Err(JcsError::NonFiniteNumber) }
}

fn finish_object(mut members: Vec<Member>) -> Result<Value, JcsError> {
    if let Some(d) = sort_members(&mut members) {
        return Err(JcsError::DuplicateKey { key: std::mem::take(&mut members[d].key) });
    }
    Ok(Value::Object(members))
}

struct ValueSerializer {
    depth: usize,
}

impl ValueSerializer {
    fn nested(&self) -> Result<usize, JcsError> {
        if self.depth >= MAX_DEPTH { Err(JcsError::TooDeep) } else { Ok(self.depth + 1) }
    }
}

struct SeqSer {
    depth: usize,
    items: Vec<Value>,
    /// For tuple variants: wrap the array as `{variant: [...]}`.
    variant: Option<&'static str>,
}

struct MapSer {
    depth: usize,
    members: Vec<Member>,
    pending_key: Option<String>,
    /// For struct variants: wrap the object as `{variant: {...}}`.
    variant: Option<&'static str>,
}

fn wrap_variant(variant: Option<&'static str>, v: Value) -> Value {
    match variant {
        None => v,
        Some(name) => Value::Object(vec![Member { key: name.to_owned(), value: v, offset: 0 }]),
    }
}

/// A serializer's integer methods (`serialize_i8: i8, …`), each mapping its value through `f`.
macro_rules! integers {
    ($ok:ty, $f:expr; $($method:ident: $t:ty),* $(,)?) => {$(
        fn $method(self, v: $t) -> Result<$ok, JcsError> {
            ($f)(v)
        }
    )*};
}

impl ser::Serializer for ValueSerializer {
    type Ok = Value;
    type Error = JcsError;
    type SerializeSeq = SeqSer;
    type SerializeTuple = SeqSer;
    type SerializeTupleStruct = SeqSer;
    type SerializeTupleVariant = SeqSer;
    type SerializeMap = MapSer;
    type SerializeStruct = MapSer;
    type SerializeStructVariant = MapSer;

    fn serialize_bool(self, v: bool) -> Result<Value, JcsError> {
        Ok(Value::Bool(v))
    }
    integers!(Value, |v| int_value(i128::from(v));
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
    );
    fn serialize_i128(self, v: i128) -> Result<Value, JcsError> {
        int_value(v)
    }
    fn serialize_u128(self, v: u128) -> Result<Value, JcsError> {
        match i128::try_from(v) {
            Ok(i) => int_value(i),
            Err(_) => Err(JcsError::UnsafeInteger { value: i128::MAX }),
        }
    }
    fn serialize_f32(self, v: f32) -> Result<Value, JcsError> {
        float_value(v.into())
    }
    fn serialize_f64(self, v: f64) -> Result<Value, JcsError> {
        float_value(v)
    }
    fn serialize_char(self, v: char) -> Result<Value, JcsError> {
        Ok(Value::String(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, JcsError> {
        Ok(Value::String(v.to_owned()))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, JcsError> {
        self.nested()?;
        Ok(Value::Array(v.iter().map(|&b| Value::Number(f64::from(b))).collect()))
    }
    fn serialize_none(self) -> Result<Value, JcsError> {
        Ok(Value::Null)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Value, JcsError> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, JcsError> {
        Ok(Value::Null)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Value, JcsError> {
        Ok(Value::Null)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Value, JcsError> {
        Ok(Value::String(variant.to_owned()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Value, JcsError> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Value, JcsError> {
        let depth = self.nested()?;
        let inner = value.serialize(ValueSerializer { depth })?;
        Ok(wrap_variant(Some(variant), inner))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqSer, JcsError> {
        let depth = self.nested()?;
        Ok(SeqSer { depth, items: Vec::with_capacity(len.unwrap_or(0).min(1024)), variant: None })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqSer, JcsError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<SeqSer, JcsError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqSer, JcsError> {
        // One level for the wrapping object, one for the array.
        let depth = ValueSerializer { depth: self.nested()? }.nested()?;
        Ok(SeqSer { depth, items: Vec::with_capacity(len.min(1024)), variant: Some(variant) })
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapSer, JcsError> {
        let depth = self.nested()?;
        Ok(MapSer { depth, members: Vec::new(), pending_key: None, variant: None })
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<MapSer, JcsError> {
        self.serialize_map(None)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<MapSer, JcsError> {
        let depth = ValueSerializer { depth: self.nested()? }.nested()?;
        Ok(MapSer { depth, members: Vec::new(), pending_key: None, variant: Some(variant) })
    }
}

impl SeqSer {
    fn push<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
        self.items.push(value.serialize(ValueSerializer { depth: self.depth })?);
        Ok(())
    }
    fn finish(self) -> Value {
        wrap_variant(self.variant, Value::Array(self.items))
    }
}

/// `SeqSer` serves every sequence-shaped compound alike: its elements become an array.
macro_rules! seq_like {
    ($($trait:ident :: $method:ident),* $(,)?) => {$(
        impl ser::$trait for SeqSer {
            type Ok = Value;
            type Error = JcsError;
            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
                self.push(value)
            }
            fn end(self) -> Result<Value, JcsError> {
                Ok(self.finish())
            }
        }
    )*};
}

seq_like!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl MapSer {
    fn field<T: Serialize + ?Sized>(&mut self, key: String, value: &T) -> Result<(), JcsError> {
        let value = value.serialize(ValueSerializer { depth: self.depth })?;
        self.members.push(Member { key, value, offset: self.members.len() });
        Ok(())
    }
    fn finish(self) -> Result<Value, JcsError> {
        Ok(wrap_variant(self.variant, finish_object(self.members)?))
    }
}

impl ser::SerializeMap for MapSer {
    type Ok = Value;
    type Error = JcsError;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), JcsError> {
        self.pending_key = Some(key.serialize(KeySerializer)?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), JcsError> {
        let key = self
            .pending_key
            .take()
            .ok_or_else(|| JcsError::Serialize { message: "map value without a key".to_owned() })?;
        self.field(key, value)
    }
    fn end(self) -> Result<Value, JcsError> {
        self.finish()
    }
}

/// `MapSer` serves both struct-shaped compounds alike: each field becomes a member.
macro_rules! struct_like {
    ($($trait:ident),* $(,)?) => {$(
        impl ser::$trait for MapSer {
            type Ok = Value;
            type Error = JcsError;
            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), JcsError> {
                self.field(key.to_owned(), value)
            }
            fn end(self) -> Result<Value, JcsError> {
                self.finish()
            }
        }
    )*};
}

struct_like!(SerializeStruct, SerializeStructVariant);

/// Serialises map keys: strings, chars, unit variants and integers (as their
/// decimal text, like serde_json); anything else is [`JcsError::NonStringKey`].
struct KeySerializer;

impl ser::Serializer for KeySerializer {
    type Ok = String;
    type Error = JcsError;
    type SerializeSeq = ser::Impossible<String, JcsError>;
    type SerializeTuple = ser::Impossible<String, JcsError>;
    type SerializeTupleStruct = ser::Impossible<String, JcsError>;
    type SerializeTupleVariant = ser::Impossible<String, JcsError>;
    type SerializeMap = ser::Impossible<String, JcsError>;
    type SerializeStruct = ser::Impossible<String, JcsError>;
    type SerializeStructVariant = ser::Impossible<String, JcsError>;

    fn serialize_str(self, v: &str) -> Result<String, JcsError> {
        Ok(v.to_owned())
    }
    fn serialize_char(self, v: char) -> Result<String, JcsError> {
        Ok(v.to_string())
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<String, JcsError> {
        Ok(variant.to_owned())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<String, JcsError> {
        value.serialize(self)
    }
    integers!(String, |v| Ok(ToString::to_string(&v));
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128,
    );
    fn serialize_bool(self, _v: bool) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_f32(self, _v: f32) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_f64(self, _v: f64) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_none(self) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_unit(self) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<String, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Self::SerializeSeq, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Self::SerializeTuple, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleStruct, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Self::SerializeMap, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStruct, JcsError> {
        Err(JcsError::NonStringKey)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, JcsError> {
        Err(JcsError::NonStringKey)
    }
}

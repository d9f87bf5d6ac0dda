//! Identifiers and small validated strings: node ids, item ids, language tags, digests.
//!
//! Each type can only hold a valid value ("parse, don't validate"): construction and
//! deserialisation both go through the same check.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// A node id must be 1–63 characters of `a-z`, `0-9`, `-` and `.`, made of dot-separated
    /// labels that start and end with a letter or digit.
    #[error(
        "invalid node id {0:?}: use lowercase letters, digits, '-' and '.', e.g. \"bo-y-te\" (1-63 characters)"
    )]
    NodeId(String),
    /// An item id is 26 characters of lowercase RFC 4648 base32 (`a-z`, `2-7`).
    #[error("invalid item id {0:?}: expected 26 characters of a-z and 2-7")]
    ItemId(String),
    /// A language tag is a lowercase 2–3 letter primary subtag with optional `-subtags`.
    #[error("invalid language tag {0:?}: expected e.g. \"vi\" or \"en\"")]
    Lang(String),
    /// A digest is 64 lowercase hex characters (SHA-256).
    #[error("invalid sha-256 digest {0:?}: expected 64 lowercase hex characters")]
    Digest(String),
}

fn truncated(s: &str) -> String {
    s.chars().take(80).collect()
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $check:path, $err:path) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Validate and wrap `s`.
            pub fn new(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                if $check(&s) { Ok(Self(s)) } else { Err($err(truncated(&s))) }
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                Self::new(s.into_owned()).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// A node's identifier, e.g. `bo-y-te` or `moh.gov.vn`: unique in a federation, chosen at
    /// `portal init` and never changed.
    NodeId,
    valid_node_id,
    IdError::NodeId
);
string_id!(
    /// An item's stable identifier: 16 random bytes as 26 characters of lowercase base32.
    /// Never derived from a path, a title or a time.
    ItemId,
    valid_item_id,
    IdError::ItemId
);
string_id!(
    /// A BCP 47 language tag as used here: `vi`, `en`, `en-GB`.
    Lang,
    valid_lang,
    IdError::Lang
);
string_id!(
    /// A SHA-256 digest as 64 lowercase hex characters.
    Digest,
    valid_digest,
    IdError::Digest
);

fn valid_node_id(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

fn valid_item_id(s: &str) -> bool {
    s.len() == 26 && s.bytes().all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
        // 130 bits of text carry 128 bits: the last character's low two bits must be zero.
        && s.as_bytes().last().is_some_and(|&c| base32_value(c) & 0b11 == 0)
}

fn valid_lang(s: &str) -> bool {
    let mut parts = s.split('-');
    let primary_ok = parts
        .next()
        .is_some_and(|p| (2..=3).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_lowercase()));
    primary_ok
        && s.len() <= 35
        && parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_alphanumeric()))
}

fn valid_digest(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32_value(c: u8) -> u8 {
    match c {
        b'a'..=b'z' => c - b'a',
        b'2'..=b'7' => c - b'2' + 26,
        _ => 0,
    }
}

impl ItemId {
    /// The item id for 16 random bytes (the caller supplies the randomness: this crate has none).
    pub fn from_random(bytes: [u8; 16]) -> ItemId {
        let mut out = String::with_capacity(26);
        let mut acc: u32 = 0;
        let mut bits = 0;
        for b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
            }
        }
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
        ItemId(out)
    }
}

impl Digest {
    /// SHA-256 of `data`.
    pub fn of(data: &[u8]) -> Digest {
        Digest::from_bytes(&Sha256::digest(data).into())
    }

    /// Hex-encode 32 raw bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Digest {
        Digest(hex(bytes))
    }

    /// The 32 raw bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (i, pair) in self.0.as_bytes().chunks_exact(2).enumerate() {
            let digit = |c| hex_digit(c).unwrap_or(0);
            out[i] = (digit(pair[0]) << 4) | digit(pair[1]);
        }
        out
    }
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// The value of one hex digit, either case.
pub(crate) fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids() {
        for ok in ["moh", "bo-y-te", "moh.gov.vn", "a", "x9"] {
            assert!(NodeId::new(ok).is_ok(), "{ok}");
        }
        for bad in
            ["", "-moh", "moh-", "Moh", "moh..vn", "bộ-y-tế", "moh_gov", "a b", &"a".repeat(64)]
        {
            assert!(NodeId::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn item_ids_round_trip_from_random_bytes() {
        for seed in 0u8..=255 {
            let id = ItemId::from_random([seed; 16]);
            assert_eq!(id.as_str().len(), 26);
            assert!(ItemId::new(id.as_str()).is_ok(), "{id}");
        }
        assert!(ItemId::new("aaaaaaaaaaaaaaaaaaaaaaaaab").is_err(), "non-zero padding bits");
        assert!(ItemId::new("AAAAAAAAAAAAAAAAAAAAAAAAAA").is_err());
    }

    #[test]
    fn digests() {
        let d = Digest::of(b"abc");
        assert_eq!(d.as_str(), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(Digest::from_bytes(&d.to_bytes()), d);
        assert!(
            Digest::new("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD")
                .is_err()
        );
    }
}

//! Timestamps and calendar dates as IPSP/1 writes them: `YYYY-MM-DDTHH:MM:SSZ` and `YYYY-MM-DD`.
//!
//! The protocol core never reads the clock: every "now" is an argument. Times are whole
//! seconds since the Unix epoch, in UTC, between 1970-01-01 and 9999-12-31.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Seconds since 1970-01-01T00:00:00Z, serialised as RFC 3339 `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// A calendar date `YYYY-MM-DD` (used for legal-document dates).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

/// Why a time or date string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TimeError {
    /// The text is not of the exact form `YYYY-MM-DDTHH:MM:SSZ` (or `YYYY-MM-DD` for dates).
    #[error("expected {expected}, got {got:?}")]
    Format {
        /// The form that was expected.
        expected: &'static str,
        /// The text received (truncated to 40 characters).
        got: String,
    },
    /// The fields are in range syntactically but name no real instant (e.g. February 30).
    #[error("no such date or time: {0:?}")]
    OutOfRange(String),
}

/// Largest representable instant: 9999-12-31T23:59:59Z.
const MAX_SECONDS: u64 = 253_402_300_799;

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// A timestamp from seconds since the epoch; `None` past 9999-12-31T23:59:59Z.
    pub fn from_unix(seconds: u64) -> Option<Self> {
        (seconds <= MAX_SECONDS).then_some(Timestamp(seconds))
    }

    /// Seconds since the epoch.
    pub fn unix(self) -> u64 {
        self.0
    }

    /// Parse `YYYY-MM-DDTHH:MM:SSZ` exactly (no fractions, no offsets other than `Z`).
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 20
            && b[4] == b'-'
            && b[7] == b'-'
            && b[10] == b'T'
            && b[13] == b':'
            && b[16] == b':'
            && b[19] == b'Z';
        if !shape_ok {
            return Err(format_error("YYYY-MM-DDTHH:MM:SSZ", s));
        }
        let date = Date::parse(&s[..10]).map_err(|_| format_error("YYYY-MM-DDTHH:MM:SSZ", s))?;
        let (h, m, sec) = (
            digits(&b[11..13]).ok_or_else(|| format_error("YYYY-MM-DDTHH:MM:SSZ", s))?,
            digits(&b[14..16]).ok_or_else(|| format_error("YYYY-MM-DDTHH:MM:SSZ", s))?,
            digits(&b[17..19]).ok_or_else(|| format_error("YYYY-MM-DDTHH:MM:SSZ", s))?,
        );
        if h > 23 || m > 59 || sec > 59 {
            return Err(TimeError::OutOfRange(s.to_owned()));
        }
        let days = date.days_since_epoch().ok_or_else(|| TimeError::OutOfRange(s.to_owned()))?;
        Ok(Timestamp(days * 86_400 + u64::from(h) * 3600 + u64::from(m) * 60 + u64::from(sec)))
    }

    /// The calendar date of this instant (UTC).
    pub fn date(self) -> Date {
        Date::from_days(self.0 / 86_400)
    }

    /// Seconds from `earlier` to `self`, or 0 if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0 % 86_400;
        write!(f, "{}T{:02}:{:02}:{:02}Z", self.date(), secs / 3600, (secs / 60) % 60, secs % 60)
    }
}

impl Date {
    /// A date from its parts, if it exists (years 1970–9999).
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        let d = Date { year, month, day };
        d.days_since_epoch().map(|_| d)
    }

    /// Parse `YYYY-MM-DD` exactly.
    pub fn parse(s: &str) -> Result<Self, TimeError> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(format_error("YYYY-MM-DD", s));
        }
        let year = digits(&b[0..4]).ok_or_else(|| format_error("YYYY-MM-DD", s))?;
        let month = digits(&b[5..7]).ok_or_else(|| format_error("YYYY-MM-DD", s))?;
        let day = digits(&b[8..10]).ok_or_else(|| format_error("YYYY-MM-DD", s))?;
        let (Ok(year), Ok(month), Ok(day)) =
            (u16::try_from(year), u8::try_from(month), u8::try_from(day))
        else {
            return Err(TimeError::OutOfRange(s.to_owned()));
        };
        Date::new(year, month, day).ok_or_else(|| TimeError::OutOfRange(s.to_owned()))
    }

    fn days_since_epoch(self) -> Option<u64> {
        if !(1970..=9999).contains(&self.year) || !(1..=12).contains(&self.month) {
            return None;
        }
        if self.day == 0 || self.day > days_in_month(self.year, self.month) {
            return None;
        }
        // Howard Hinnant's days_from_civil, restricted to years >= 1970.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y / 400;
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        u64::try_from(era * 146_097 + doe - 719_468).ok()
    }

    fn from_days(days: u64) -> Date {
        // Howard Hinnant's civil_from_days; `days` is bounded by MAX_SECONDS / 86400.
        let z = days as i64 + 719_468;
        let era = z / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as u16;
        Date { year, month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0')))
}

fn format_error(expected: &'static str, got: &str) -> TimeError {
    TimeError::Format { expected, got: got.chars().take(40).collect() }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_known_instants() {
        for (s, n) in [
            ("1970-01-01T00:00:00Z", 0),
            ("2000-02-29T12:34:56Z", 951_827_696),
            ("2026-11-28T16:31:25Z", 1_795_883_485),
            ("9999-12-31T23:59:59Z", MAX_SECONDS),
        ] {
            let t = Timestamp::parse(s).unwrap();
            assert_eq!(t.unix(), n, "{s}");
            assert_eq!(t.to_string(), s);
        }
    }

    #[test]
    fn rejects_non_canonical_forms() {
        for s in [
            "2026-11-28T16:31:25+00:00",
            "2026-11-28t16:31:25Z",
            "2026-11-28T16:31:25.5Z",
            "2026-02-30T00:00:00Z",
            "2026-11-28T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "２026-11-28T16:31:25Z",
        ] {
            assert!(Timestamp::parse(s).is_err(), "{s}");
        }
        assert!(Date::parse("2024-02-29").is_ok());
        assert!(Date::parse("2023-02-29").is_err());
    }
}

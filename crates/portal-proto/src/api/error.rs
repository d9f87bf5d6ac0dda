//! The one error body of the HTTP interface (SPEC.md §8.2): a stable code, its HTTP status, a
//! message for people, and every bad field.
//!
//! ```json
//! {"error":{"code":"invalid-draft","fields":[{"field":"title","reason":"…"}],"message":"…"}}
//! ```
//!
//! A code never changes meaning; a new situation gets a new code. The status is a plain number
//! here (this crate knows no HTTP library): the server maps it. An internal failure is always
//! [`ErrorCode::Internal`] with [`ApiError::internal`]'s fixed message: what went wrong goes to
//! the node's log, never to the client.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::record::FieldError;

/// A stable, machine-readable error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: a query parameter, form field or body is not what the endpoint takes (a bad
    /// timestamp, a WebSub request with a bad `hub.*` parameter, a member id that is not one).
    InvalidRequest,
    /// 400: a draft or withdrawal request breaks the schema or a rule of SPEC.md §4; `fields`
    /// names each bad field.
    InvalidDraft,
    /// 400: a proof asked for indices or sizes outside the log.
    OutOfRange,
    /// 400: an attachment upload without bytes.
    Empty,
    /// 401: the editor or operator API without the right bearer token.
    Unauthorized,
    /// 404: no such item, member, archive, attachment or checkpoint (yet).
    NotFound,
    /// 404: an aggregator's route on a node without members.
    NotAnAggregator,
    /// 409: a new version or withdrawal of an item already withdrawn.
    Withdrawn,
    /// 409: the candidate member's descriptor is not signed with the pinned key.
    PinMismatch,
    /// 500: the node failed (storage, encoding); details in its log only.
    Internal,
    /// 502: the candidate member's descriptor could not be fetched or did not verify.
    MemberUnreachable,
    /// 503: the node refuses to sign (a clock or storage guard tripped; see `/healthz`).
    SigningRefused,
    /// 503: the node has no signed checkpoint yet.
    NoCheckpoint,
    /// 503: the search index is not available.
    SearchUnavailable,
    /// 503: the WebSub hub holds its maximum of subscriptions.
    HubFull,
    /// 503: too many subscription requests are waiting; sent with `Retry-After: 10`.
    HubBusy,
    /// 503: the aggregator cannot prove a member's records yet (its checkpoint is ahead of the
    /// stored records, or they were relayed by another aggregator).
    NotSynced,
}

impl ErrorCode {
    /// Every code, in the order of SPEC.md §8.2.
    pub const ALL: [ErrorCode; 17] = [
        ErrorCode::InvalidRequest,
        ErrorCode::InvalidDraft,
        ErrorCode::OutOfRange,
        ErrorCode::Empty,
        ErrorCode::Unauthorized,
        ErrorCode::NotFound,
        ErrorCode::NotAnAggregator,
        ErrorCode::Withdrawn,
        ErrorCode::PinMismatch,
        ErrorCode::Internal,
        ErrorCode::MemberUnreachable,
        ErrorCode::SigningRefused,
        ErrorCode::NoCheckpoint,
        ErrorCode::SearchUnavailable,
        ErrorCode::HubFull,
        ErrorCode::HubBusy,
        ErrorCode::NotSynced,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid-request",
            ErrorCode::InvalidDraft => "invalid-draft",
            ErrorCode::OutOfRange => "out-of-range",
            ErrorCode::Empty => "empty",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::NotFound => "not-found",
            ErrorCode::NotAnAggregator => "not-an-aggregator",
            ErrorCode::Withdrawn => "withdrawn",
            ErrorCode::PinMismatch => "pin-mismatch",
            ErrorCode::Internal => "internal",
            ErrorCode::MemberUnreachable => "member-unreachable",
            ErrorCode::SigningRefused => "signing-refused",
            ErrorCode::NoCheckpoint => "no-checkpoint",
            ErrorCode::SearchUnavailable => "search-unavailable",
            ErrorCode::HubFull => "hub-full",
            ErrorCode::HubBusy => "hub-busy",
            ErrorCode::NotSynced => "not-synced",
        }
    }

    /// The code named `s`, if there is one.
    pub fn parse(s: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status a response with this code carries.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidRequest
            | ErrorCode::InvalidDraft
            | ErrorCode::OutOfRange
            | ErrorCode::Empty => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::NotFound | ErrorCode::NotAnAggregator => 404,
            ErrorCode::Withdrawn | ErrorCode::PinMismatch => 409,
            ErrorCode::Internal => 500,
            ErrorCode::MemberUnreachable => 502,
            ErrorCode::SigningRefused
            | ErrorCode::NoCheckpoint
            | ErrorCode::SearchUnavailable
            | ErrorCode::HubFull
            | ErrorCode::HubBusy
            | ErrorCode::NotSynced => 503,
        }
    }

    /// Response headers that go with this code (lower-case names): `WWW-Authenticate: Bearer`
    /// with `unauthorized`, `Retry-After: 10` with `hub-busy`.
    pub fn headers(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ErrorCode::Unauthorized => &[("www-authenticate", "Bearer")],
            ErrorCode::HubBusy => &[("retry-after", "10")],
            _ => &[],
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error as the HTTP interface reports it: the member `error` of an [`ErrorBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(deny_unknown_fields)]
#[error("{code}: {message}")]
#[non_exhaustive]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// Every bad field, for `invalid-draft`; omitted when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldError>,
    /// What went wrong, for people; never internals.
    pub message: String,
    /// The bad request parameter, for `invalid-request` from the WebSub hub (`hub.callback`,
    /// …); omitted otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
}

/// The message of every [`ErrorCode::Internal`] error.
pub const INTERNAL_MESSAGE: &str = "internal error; see the node's log";

impl ApiError {
    /// An error with `code` and `message`, no fields, no parameter.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError { code, fields: Vec::new(), message: message.into(), parameter: None }
    }

    /// `500 internal`, with the fixed [`INTERNAL_MESSAGE`]: log the cause, do not send it.
    pub fn internal() -> ApiError {
        ApiError::new(ErrorCode::Internal, INTERNAL_MESSAGE)
    }

    /// `404 not-found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::NotFound, message)
    }

    /// `404 not-an-aggregator`: this node has no members.
    pub fn not_an_aggregator() -> ApiError {
        ApiError::new(ErrorCode::NotAnAggregator, "this node has no members")
    }

    /// `401 unauthorized`: missing or wrong bearer token.
    pub fn unauthorized() -> ApiError {
        ApiError::new(ErrorCode::Unauthorized, "missing or wrong bearer token")
    }

    /// `400 invalid-request`.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorCode::InvalidRequest, message)
    }

    /// `400 invalid-draft` naming every bad field.
    pub fn invalid_draft(fields: Vec<FieldError>) -> ApiError {
        ApiError::new(ErrorCode::InvalidDraft, "the draft has invalid fields").with_fields(fields)
    }

    /// The same error, naming these bad fields.
    pub fn with_fields(mut self, fields: Vec<FieldError>) -> ApiError {
        self.fields = fields;
        self
    }

    /// The same error, naming the bad request parameter (the message then starts with it, as
    /// the hub's always did: `"{parameter}: {reason}"`).
    pub fn with_parameter(mut self, parameter: impl Into<String>) -> ApiError {
        self.parameter = Some(parameter.into());
        self
    }

    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        self.code.status()
    }

    /// The response body.
    pub fn into_body(self) -> ErrorBody {
        ErrorBody { error: self }
    }
}

/// The body of every error response: `{"error": {…}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The error.
    pub error: ApiError,
}

impl From<ApiError> for ErrorBody {
    fn from(error: ApiError) -> ErrorBody {
        ErrorBody { error }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_names_and_serde() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(c.as_str()), Some(c));
            let json = serde_json::to_string(&c).expect("serialises");
            assert_eq!(json, format!("\"{c}\""));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).ok(), Some(c));
            assert!((400..600).contains(&c.status()), "{c}");
        }
        assert_eq!(ErrorCode::parse("teapot"), None);
    }

    #[test]
    fn bodies_are_todays_bytes() {
        let e = ApiError::not_found("no item x");
        assert_eq!(
            serde_json::to_string(&e.into_body()).expect("serialises"),
            r#"{"error":{"code":"not-found","message":"no item x"}}"#
        );
        let e = ApiError::invalid_request("hub.mode: must be subscribe").with_parameter("hub.mode");
        assert_eq!(
            serde_json::to_string(&ErrorBody::from(e)).expect("serialises"),
            r#"{"error":{"code":"invalid-request","message":"hub.mode: must be subscribe","parameter":"hub.mode"}}"#
        );
        assert_eq!(ApiError::internal().status(), 500);
        assert_eq!(ApiError::unauthorized().code.headers(), [("www-authenticate", "Bearer")]);
    }
}

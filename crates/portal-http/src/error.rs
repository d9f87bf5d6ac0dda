//! The one API error: every handler of every room returns it (SPEC.md §8.2).
//!
//! It wraps the protocol's error body ([`portal_proto::api::error::ApiError`]): a stable
//! [`ErrorCode`] (which fixes the HTTP status and any header, such as `Retry-After` or
//! `WWW-Authenticate`), a human message, and for a rejected submission every bad field.
//! Internal failures are logged here and answered with a fixed message that names nothing of
//! the node's internals.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use portal_proto::api::error::{self as wire, ErrorCode};
use portal_proto::record::FieldError;

/// What a handler returns: a response, or the one API error.
pub type ApiResult = Result<HttpResponse, ApiError>;

/// An API error, as answered over HTTP.
#[derive(Debug, Clone)]
pub struct ApiError(wire::ApiError);

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(wire::ApiError::new(code, message))
    }

    /// `404 not-found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError(wire::ApiError::not_found(message))
    }

    /// `404 not-an-aggregator`: the node has no members.
    pub fn not_an_aggregator() -> ApiError {
        ApiError(wire::ApiError::not_an_aggregator())
    }

    /// `400 invalid-request`.
    pub fn invalid_request(message: impl Into<String>) -> ApiError {
        ApiError(wire::ApiError::invalid_request(message))
    }

    /// `400 invalid-draft`, naming every bad field.
    pub fn invalid_draft(fields: Vec<FieldError>) -> ApiError {
        ApiError(wire::ApiError::invalid_draft(fields))
    }

    /// `401 unauthorized`, sent with a `WWW-Authenticate: Bearer` challenge.
    pub fn unauthorized() -> ApiError {
        ApiError(wire::ApiError::unauthorized())
    }

    /// `500 internal`: `e` is logged, never sent.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError(wire::ApiError::internal())
    }

    /// The same error, naming the bad request parameter.
    pub fn with_parameter(self, parameter: impl Into<String>) -> ApiError {
        ApiError(self.0.with_parameter(parameter))
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.0.code
    }

    /// The error as the protocol writes it.
    pub fn wire(&self) -> &wire::ApiError {
        &self.0
    }
}

impl From<wire::ApiError> for ApiError {
    fn from(e: wire::ApiError) -> ApiError {
        ApiError(e)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.0.status(), self.0)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.0.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status_code()).json(self.0.clone().into_body());
        for (name, value) in self.0.code.headers() {
            resp.headers_mut()
                .insert(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        resp
    }
}

impl From<ApiError> for HttpResponse {
    fn from(e: ApiError) -> HttpResponse {
        e.error_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_and_headers_follow_the_code() {
        let resp = ApiError::unauthorized().error_response();
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            resp.headers().get("www-authenticate").map(|v| v.as_bytes()),
            Some(&b"Bearer"[..])
        );
        let resp = ApiError::new(ErrorCode::HubBusy, "busy").error_response();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers().get("retry-after").map(|v| v.as_bytes()), Some(&b"10"[..]));
        assert_eq!(ApiError::internal("disk on fire").wire().message, wire::INTERNAL_MESSAGE);
    }
}

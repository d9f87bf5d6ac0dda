//! The one API error: every handler of every room returns it (SPEC.md §8, "Errors").
//!
//! Its body is `{"error": {"code", "message", "fields"?, "parameter"?}}`: a stable,
//! machine-readable `code`, a human `message`, and for a rejected submission the list of
//! every bad field. Internal failures are logged here and answered with a message that names
//! nothing of the node's internals.

use std::borrow::Cow;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use portal_proto::record::FieldError;
use serde::Serialize;

/// What a handler returns: a response, or the one API error.
pub type ApiResult = Result<HttpResponse, ApiError>;

/// An API error: an HTTP status, a stable code, a message, and the bad fields.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    fields: Vec<FieldError>,
    parameter: Option<String>,
    retry_after: Option<u32>,
    bearer_challenge: bool,
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<Vec<Field<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<&'a str>,
}

#[derive(Serialize)]
struct Field<'a> {
    field: &'a str,
    reason: &'a str,
}

impl ApiError {
    /// An error with `status` and `code`.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status,
            code: code.into(),
            message: message.into(),
            fields: Vec::new(),
            parameter: None,
            retry_after: None,
            bearer_challenge: false,
        }
    }

    /// `404 not-found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not-found", message)
    }

    /// `400` with `code`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// `503` with `code`.
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
    }

    /// `401 unauthorized`, with a `WWW-Authenticate: Bearer` challenge.
    pub fn unauthorized() -> ApiError {
        ApiError {
            bearer_challenge: true,
            ..ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong bearer token",
            )
        }
    }

    /// `500 internal`: `e` is logged, never sent.
    pub fn internal(e: impl std::fmt::Display) -> ApiError {
        tracing::error!("internal error: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the node's log",
        )
    }

    /// `400` with `code`, listing every bad field.
    pub fn invalid_fields(
        code: &'static str,
        message: impl Into<String>,
        fields: Vec<FieldError>,
    ) -> ApiError {
        ApiError { fields, ..ApiError::bad_request(code, message) }
    }

    /// Name the request parameter at fault (WebSub's form).
    pub fn with_parameter(mut self, parameter: impl Into<String>) -> ApiError {
        self.parameter = Some(parameter.into());
        self
    }

    /// Ask the client to retry after `seconds`.
    pub fn with_retry_after(mut self, seconds: u32) -> ApiError {
        self.retry_after = Some(seconds);
        self
    }

    /// The stable code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The bad fields, in the order they were found.
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let fields = (!self.fields.is_empty()).then(|| {
            self.fields.iter().map(|f| Field { field: &f.field, reason: &f.reason }).collect()
        });
        let body = Body {
            error: Inner {
                code: &self.code,
                message: &self.message,
                fields,
                parameter: self.parameter.as_deref(),
            },
        };
        serde_json::to_value(body).unwrap_or_default()
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status).json(self.body());
        if self.bearer_challenge {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(s) = self.retry_after {
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(s));
        }
        resp
    }
}

impl From<ApiError> for HttpResponse {
    fn from(e: ApiError) -> HttpResponse {
        e.error_response()
    }
}

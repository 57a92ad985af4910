//! Errors as RFC 9457 problem details (`application/problem+json`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// A problem: status, a short title and the detail a caller can act on.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) status: StatusCode,
    pub(crate) detail: String,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            detail: detail.into(),
        }
    }

    pub(crate) fn not_found() -> Self {
        Problem::new(StatusCode::NOT_FOUND, "no such link")
    }

    /// A rejected notice (unknown customer or order, a value out of range) is 422; anything
    /// else is the server's failure.
    pub(crate) fn from_engine(e: jalin_engine::Error) -> Self {
        match e {
            jalin_engine::Error::Invalid(m) | jalin_engine::Error::NotFound(m) => {
                Problem::new(StatusCode::UNPROCESSABLE_ENTITY, m)
            }
            other => Problem::internal(&other),
        }
    }

    pub(crate) fn internal(e: &impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the request could not be recorded; try again",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut r = (self.status, body.to_string()).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    }
}

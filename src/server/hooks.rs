//! Inbound webhooks. Each source has its own Standard Webhooks secret (environment variable
//! `JALIN_HOOK_SECRET_<SOURCE>`); a request is verified (signature, 5-minute timestamp
//! tolerance) before anything is read from its body, and a replayed `webhook-id` records
//! nothing new.

use super::AppState;
use super::problem::Problem;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jalin_channels::webhook::standard::{Secret, verify};
use jalin_engine::responses::{
    Bounce, BounceEffect, CallCenterNotice, OrderNotice, record_bounce, record_call_center,
    record_order,
};

/// Seconds a webhook's timestamp may be off.
const TOLERANCE: i64 = 300;

/// Secrets per inbound source, from the environment.
#[derive(Debug, Clone, Default)]
pub(crate) struct HookSecrets {
    pub(crate) bounce: Option<Vec<Secret>>,
    pub(crate) orders: Option<Vec<Secret>>,
    pub(crate) call_center: Option<Vec<Secret>>,
    /// Twilio's callbacks (their own signature scheme).
    pub(crate) twilio: Option<super::sms_hooks::TwilioHook>,
    /// The key Kannel's sms-service puts in the URL of an incoming message.
    pub(crate) kannel: Option<String>,
}

impl HookSecrets {
    pub(crate) fn from_env() -> Result<HookSecrets, String> {
        let read = |name: &str| -> Result<Option<Vec<Secret>>, String> {
            match std::env::var(name) {
                Ok(text) => Secret::parse_list(&text)
                    .map(Some)
                    .map_err(|e| format!("{name}: {e}")),
                Err(_) => Ok(None),
            }
        };
        Ok(HookSecrets {
            bounce: read("JALIN_HOOK_SECRET_BOUNCE")?,
            orders: read("JALIN_HOOK_SECRET_ORDERS")?,
            call_center: read("JALIN_HOOK_SECRET_CALL_CENTER")?,
            twilio: None,
            kannel: match std::env::var("JALIN_HOOK_SECRET_KANNEL") {
                Ok(k) if k.len() >= 16 => Some(k),
                Ok(_) => return Err("JALIN_HOOK_SECRET_KANNEL: use at least 16 characters".into()),
                Err(_) => None,
            },
        })
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, Problem> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| Problem::new(StatusCode::UNAUTHORIZED, format!("missing {name} header")))
}

/// Checks the Standard Webhooks headers; returns the webhook id.
fn verified(
    secrets: Option<&Vec<Secret>>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, Problem> {
    let secrets = secrets.ok_or_else(|| {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "this endpoint has no secret configured; set its JALIN_HOOK_SECRET_… variable",
        )
    })?;
    let id = header(headers, "webhook-id")?;
    let timestamp = header(headers, "webhook-timestamp")?;
    let signature = header(headers, "webhook-signature")?;
    verify(
        secrets,
        id,
        timestamp,
        signature,
        body,
        chrono::Utc::now().timestamp(),
        TOLERANCE,
    )
    .map_err(|e| Problem::new(StatusCode::UNAUTHORIZED, e.to_string()))?;
    Ok(id.to_owned())
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct BounceBody {
    /// The address that bounced.
    email: String,
    /// `hard` or `soft`.
    #[serde(rename = "type")]
    kind: String,
    /// Our message id (from the X-Jalin-Message header of the bounced mail), if known.
    #[serde(default)]
    message_id: Option<i64>,
    /// The RFC 3463 status.
    #[serde(default)]
    status: Option<String>,
    /// The diagnostic text.
    #[serde(default)]
    diagnostic: Option<String>,
}

/// Whether the body is a raw delivery-status notification rather than a JSON notice.
fn is_dsn(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim_start()
        .to_ascii_lowercase();
    [
        "message/rfc822",
        "multipart/report",
        "message/delivery-status",
    ]
    .iter()
    .any(|t| content_type.starts_with(t))
}

/// A raw RFC 3464 notification (signed like every hook): one bounce per failed or delayed
/// recipient, classified by its RFC 3463 status.
async fn bounce_dsn(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let body = body.map_err(|e| Problem::new(e.status(), e.body_text()))?;
    let id = verified(state.hooks.bounce.as_ref(), headers, &body)?;
    let text = String::from_utf8_lossy(&body);
    let dsn = jalin_channels::email::bounce::parse_dsn(&text);
    let recipients: Vec<_> = dsn
        .bounces
        .iter()
        .filter(|b| b.recipient.is_some())
        .collect();
    if recipients.is_empty() {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "not a delivery-status notification with a failed or delayed recipient",
        ));
    }
    let message_id = dsn
        .message_id
        .as_deref()
        .and_then(|m| m.parse::<i64>().ok());
    let now = state.clock.now().timestamp();
    let mut effects = Vec::new();
    for (i, r) in recipients.iter().enumerate() {
        let b = Bounce {
            address: r.recipient.clone().unwrap_or_default(),
            message_id,
            hard: r.kind == jalin_channels::email::bounce::BounceKind::Hard,
            status: Some(r.status.clone()),
            diagnostic: r.diagnostic.clone(),
            key: format!("{id}:{i}"),
        };
        let effect = record_bounce(&state.store, &b, 3, now)
            .await
            .map_err(|e| Problem::internal(&e))?;
        if effect != BounceEffect::Duplicate {
            state.metrics.count("jalin_bounces_total");
        }
        effects
            .push(serde_json::json!({ "email": b.address, "status": r.status, "effect": effect }));
    }
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({ "recipients": effects })),
    )
        .into_response())
}

/// `POST /hooks/email/bounce`: a JSON bounce notice, or a raw RFC 3464 delivery-status
/// notification (`Content-Type: message/rfc822` or `multipart/report`).
pub(crate) async fn bounce(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    if is_dsn(&headers) {
        return bounce_dsn(&state, &headers, body).await;
    }
    let (id, notice): (String, BounceBody) = read(
        state.hooks.bounce.as_ref(),
        &headers,
        body,
        "a bounce notice",
    )?;
    let hard = match notice.kind.as_str() {
        "hard" => true,
        "soft" => false,
        other => {
            return Err(Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("type must be hard or soft, not {other:?}"),
            ));
        }
    };
    if !notice.email.contains('@') {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "email is not an address",
        ));
    }
    let b = Bounce {
        address: notice.email,
        message_id: notice.message_id,
        hard,
        status: notice.status,
        diagnostic: notice.diagnostic,
        key: id,
    };
    let effect = record_bounce(&state.store, &b, 3, state.clock.now().timestamp())
        .await
        .map_err(|e| Problem::internal(&e))?;
    if effect != BounceEffect::Duplicate {
        state.metrics.count("jalin_bounces_total");
    }
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({ "effect": effect })),
    )
        .into_response())
}

/// A hook's body, or why it could not be read (too large: 413).
type Body = Result<Bytes, axum::extract::rejection::BytesRejection>;

/// Reads a signed notice: the body within the size limit, the signature (before anything in the
/// body is looked at), JSON, then the notice's own shape (`what` names it in the 422).
fn read<T: serde::de::DeserializeOwned>(
    secrets: Option<&Vec<Secret>>,
    headers: &HeaderMap,
    body: Body,
    what: &str,
) -> Result<(String, T), Problem> {
    let body = body.map_err(|e| Problem::new(e.status(), e.body_text()))?;
    let id = verified(secrets, headers, &body)?;
    let notice = serde_json::from_value(payload(headers, &body)?)
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, format!("not {what}: {e}")))?;
    Ok((id, notice))
}

/// The notice itself, or the `data` of a Standard Webhooks envelope `{type, timestamp, data}`.
fn payload(headers: &HeaderMap, body: &[u8]) -> Result<serde_json::Value, Problem> {
    let content_type = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send application/json, not {content_type:?}"),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not JSON: {e}"),
        )
    })?;
    Ok(match value {
        serde_json::Value::Object(mut o)
            if o.get("data").is_some_and(serde_json::Value::is_object) =>
        {
            o.remove("data").unwrap_or_default()
        }
        other => other,
    })
}

/// `POST /hooks/orders`: an order placed or its status changed, from the factory's system.
pub(crate) async fn orders(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let (id, notice): (String, OrderNotice) = read(
        state.hooks.orders.as_ref(),
        &headers,
        body,
        "an order notice",
    )?;
    if !matches!(
        notice.event.as_str(),
        "order.placed" | "order.status_changed"
    ) {
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "event must be order.placed or order.status_changed",
        ));
    }
    let goals = state.goals.clone();
    let effect = record_order(
        &state.store,
        &notice,
        &id,
        &|c| goals.get(c).copied(),
        state.clock.now().timestamp(),
    )
    .await
    .map_err(Problem::from_engine)?;
    if effect.recorded {
        state.metrics.count("jalin_order_notices_total");
    }
    Ok((StatusCode::OK, axum::Json(effect)).into_response())
}

/// `POST /hooks/call-center`: complaints opened, updated and resolved; call outcomes.
pub(crate) async fn call_center(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let (id, notice): (String, CallCenterNotice) = read(
        state.hooks.call_center.as_ref(),
        &headers,
        body,
        "a call-center notice",
    )?;
    let recorded = record_call_center(&state.store, &notice, &id, state.clock.now().timestamp())
        .await
        .map_err(Problem::from_engine)?;
    if recorded {
        state.metrics.count("jalin_call_center_notices_total");
    }
    Ok((
        StatusCode::OK,
        axum::Json(serde_json::json!({ "recorded": recorded })),
    )
        .into_response())
}

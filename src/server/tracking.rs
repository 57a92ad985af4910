//! `/t/o/{token}` (open pixel), `/t/c/{token}` (click redirect) and `/u/{token}` (unsubscribe
//! page and RFC 8058 one-click). Tokens are verified without a database lookup; a token that
//! does not verify is a 404 and records nothing, and a redirect only ever goes to the URL the
//! token itself signs.

use super::AppState;
use super::problem::Problem;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use jalin_channels::tracking::Purpose;
use jalin_engine::hits::{Hit, Recorded};
use jalin_engine::responses::{MessageInfo, message_info, unsubscribe};

/// The smallest transparent GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

async fn message(
    state: &AppState,
    token: &str,
    purpose: Purpose,
) -> Result<(MessageInfo, Option<String>), Problem> {
    let t = state
        .keys
        .verify(token)
        .filter(|t| t.purpose == purpose)
        .ok_or_else(Problem::not_found)?;
    let m = message_info(&state.store, t.message_id)
        .await
        .map_err(|e| Problem::internal(&e))?
        .ok_or_else(Problem::not_found)?;
    Ok((m, t.url))
}

/// Verifies a tracking token of `purpose` (no database lookup) and records the hit; a token
/// that does not verify, or names a message that does not exist, is a 404.
async fn hit(state: &AppState, token: &str, purpose: Purpose) -> Result<Option<String>, Problem> {
    let t = state
        .keys
        .verify(token)
        .filter(|t| t.purpose == purpose)
        .ok_or_else(Problem::not_found)?;
    let (hit, metric) = match purpose {
        Purpose::Click => {
            let url = t.url.clone().ok_or_else(Problem::not_found)?;
            // Only web links: a signed token never carries anything else, but check anyway.
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(Problem::not_found());
            }
            (Hit::Click(url), "jalin_clicks_total")
        }
        _ => (Hit::Open, "jalin_opens_total"),
    };
    let recorded = state
        .hits
        .record(t.message_id, hit, state.clock.now().timestamp())
        .await
        .map_err(|e| Problem::internal(&e))?;
    match recorded {
        Recorded::NoMessage => Err(Problem::not_found()),
        Recorded::New => {
            state.metrics.count(metric);
            Ok(t.url)
        }
        Recorded::Repeat => Ok(t.url),
    }
}

pub(crate) async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, Problem> {
    hit(&state, &token, Purpose::Open).await?;
    let mut r = PIXEL.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/gif"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-store, max-age=0"),
    );
    Ok(r)
}

pub(crate) async fn click(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, Problem> {
    let url = hit(&state, &token, Purpose::Click)
        .await?
        .ok_or_else(Problem::not_found)?;
    let location = HeaderValue::from_str(&url).map_err(|_| Problem::not_found())?;
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, location),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

fn page(english: bool, title: &str, body: &str) -> Html<String> {
    let lang = if english { "en" } else { "id" };
    Html(format!(
        "<!doctype html><html lang=\"{lang}\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>{title}</title></head><body style=\"font-family:sans-serif;max-width:32em;margin:3em auto\"><h1>{title}</h1>{body}</body></html>"
    ))
}

pub(crate) async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, Problem> {
    let (m, _) = message(&state, &token, Purpose::Unsubscribe).await?;
    let english = m.locale == "en";
    let name = crate::html::escape(&m.name);
    let what = if m.channel == "sms" { "SMS" } else { "email" };
    let (title, text, button) = if english {
        (
            "Unsubscribe",
            format!("{name}, stop receiving our {what} messages?"),
            "Unsubscribe",
        )
    } else {
        (
            "Berhenti berlangganan",
            format!("{name}, berhenti menerima pesan {what} dari kami?"),
            "Berhenti berlangganan",
        )
    };
    let token = crate::html::escape(&token);
    Ok(page(
        english,
        title,
        &format!(
            "<p>{text}</p><form method=\"post\" action=\"/u/{token}\"><button type=\"submit\">{button}</button></form>"
        ),
    ))
}

pub(crate) async fn unsubscribe_post(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, Problem> {
    let (m, _) = message(&state, &token, Purpose::Unsubscribe).await?;
    if unsubscribe(&state.store, &m, "one-click", state.clock.now().timestamp())
        .await
        .map_err(|e| Problem::internal(&e))?
    {
        state.metrics.count("jalin_unsubscribes_total");
    }
    let english = m.locale == "en";
    let (title, text) = if english {
        (
            "Unsubscribed",
            "You will not receive these messages any more.",
        )
    } else {
        (
            "Berhasil berhenti berlangganan",
            "Anda tidak akan menerima pesan ini lagi.",
        )
    };
    Ok(page(english, title, &format!("<p>{text}</p>")))
}

//! The HTTP server (`jalin serve`, also inside `jalin run`): tracking links, unsubscribe pages,
//! inbound webhooks, health, metrics and the OpenAPI document. Handlers parse and answer; what
//! a request means for the customer record is the engine's (`jalin_engine::responses`).

mod hooks;
mod problem;
mod sms_hooks;
mod tracking;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::handler::Handler;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use jalin_channels::tracking::TrackingKeys;
use jalin_engine::hits::HitWriter;
use jalin_engine::store::Store;
use problem::Problem;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub(crate) use hooks::HookSecrets;
pub(crate) use sms_hooks::TwilioHook;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub(crate) struct Metrics(Mutex<BTreeMap<&'static str, u64>>);

impl Metrics {
    pub(crate) fn count(&self, name: &'static str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry(name).or_default() += 1;
        }
    }
}

/// What every handler shares: a handle, so the per-request copy axum makes of the state is
/// one reference count, not a copy of every key and secret.
#[derive(Debug, Clone)]
pub(crate) struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The server's keys, secrets, connections and counters.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) store: Store,
    /// Writes opens and clicks in batches.
    pub(crate) hits: HitWriter,
    pub(crate) keys: TrackingKeys,
    pub(crate) hooks: HookSecrets,
    pub(crate) metrics: Arc<Metrics>,
    /// Each campaign's goal window in days, for attributing orders.
    pub(crate) goals: Arc<std::collections::HashMap<String, u32>>,
    /// The time events are recorded at.
    pub(crate) clock: jalin_engine::clock::SharedClock,
}

impl AppState {
    /// The state for a server on `store`, verifying links with `keys` and attributing orders to
    /// `campaigns`. Starts the open/click writer, so it must run inside the Tokio runtime.
    pub(crate) fn new(
        store: Store,
        keys: TrackingKeys,
        hooks: HookSecrets,
        campaigns: &jalin_engine::campaigns::CampaignSet,
        clock: jalin_engine::clock::SharedClock,
    ) -> AppState {
        AppState(Arc::new(Shared {
            hits: HitWriter::start(&store),
            store,
            keys,
            hooks,
            metrics: Arc::default(),
            goals: Arc::new(campaigns.goal_days()),
            clock,
        }))
    }
}

/// One endpoint: its method, path, what it does and its handler.
struct Route {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    handler: MethodRouter<AppState>,
}

impl Route {
    fn get<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        summary: &'static str,
        h: H,
    ) -> Route {
        Route {
            method: "get",
            path,
            summary,
            handler: get(h),
        }
    }

    fn post<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        summary: &'static str,
        h: H,
    ) -> Route {
        Route {
            method: "post",
            path,
            summary,
            handler: post(h),
        }
    }
}

/// Every endpoint. The router and `/openapi.json` both come from this table.
fn routes() -> Vec<Route> {
    vec![
        Route::get(
            "/t/o/{token}",
            "Open pixel: a 1×1 GIF; records email.opened",
            tracking::open,
        ),
        Route::get(
            "/t/c/{token}",
            "Tracked link: records email.clicked (sms.clicked) and redirects to the signed URL",
            tracking::click,
        ),
        Route::get(
            "/u/{token}",
            "Unsubscribe page in the customer's language",
            tracking::unsubscribe_page,
        ),
        Route::post(
            "/u/{token}",
            "One-click unsubscribe (RFC 8058): withdraws consent for the channel",
            tracking::unsubscribe_post,
        ),
        Route::post(
            "/hooks/email/bounce",
            "A bounce: a JSON notice or a raw RFC 3464 delivery-status message, signed per Standard Webhooks",
            hooks::bounce,
        ),
        Route::post(
            "/hooks/orders",
            "Order placed, status changed or delivered, signed per Standard Webhooks: attribution, points, offer codes, status notifications",
            hooks::orders,
        ),
        Route::post(
            "/hooks/call-center",
            "Call outcome, callback requested, complaint opened/updated/resolved, signed per Standard Webhooks",
            hooks::call_center,
        ),
        Route::post(
            "/hooks/sms/twilio",
            "Twilio status callbacks and incoming SMS (STOP/BERHENTI opts out), signed with X-Twilio-Signature",
            sms_hooks::twilio,
        ),
        Route::get(
            "/hooks/sms/kannel",
            "Kannel delivery reports (dlr-url with a signed sig) and incoming SMS (sms-service get-url with key); STOP/BERHENTI opts out",
            sms_hooks::kannel,
        ),
        Route::post(
            "/hooks/sms/kannel",
            "As GET, for an sms-service configured to POST",
            sms_hooks::kannel,
        ),
        Route::get("/healthz", "Liveness and database check", healthz),
        Route::get("/metrics", "Prometheus metrics", metrics),
        Route::get("/openapi.json", "This document", || async {
            axum::Json(openapi())
        }),
    ]
}

fn openapi() -> serde_json::Value {
    let mut paths = serde_json::Map::new();
    for Route {
        method,
        path,
        summary,
        ..
    } in routes()
    {
        let mut op = serde_json::json!({ "summary": summary, "responses": {} });
        let responses = match (method, path) {
            ("get", "/t/o/{token}") => {
                serde_json::json!({ "200": { "description": "image/gif" }, "404": { "description": "unknown or tampered token" } })
            }
            ("get", "/t/c/{token}") => {
                serde_json::json!({ "302": { "description": "redirect to the signed URL" }, "404": { "description": "unknown or tampered token" } })
            }
            (_, p) if p.starts_with("/hooks/") => serde_json::json!({
                "200": { "description": "recorded (or a replay, recorded once)" },
                "400": { "description": "malformed request" }, "401": { "description": "bad or missing signature, stale timestamp" },
                "413": { "description": "body too large" }, "415": { "description": "not application/json" },
                "422": { "description": "not a valid notice" },
            }),
            _ => serde_json::json!({ "200": { "description": "OK" } }),
        };
        op["responses"] = responses;
        if path.contains("{token}") {
            op["parameters"] = serde_json::json!([{ "name": "token", "in": "path", "required": true, "schema": { "type": "string" } }]);
        }
        let entry = paths
            .entry(path.to_owned())
            .or_insert_with(|| serde_json::json!({}));
        entry[method] = op;
    }
    serde_json::json!({
        "openapi": "3.1.0",
        "info": { "title": "jalin tracking and webhooks", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
    })
}

async fn healthz(State(state): State<AppState>) -> Result<Response, Problem> {
    state
        .store
        .ping()
        .await
        .map_err(|e| Problem::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    Ok(axum::Json(serde_json::json!({ "status": "ok" })).into_response())
}

async fn metrics(State(state): State<AppState>) -> Response {
    let mut text = String::new();
    if let Ok(m) = state.metrics.0.lock() {
        for (name, value) in m.iter() {
            text.push_str(&format!("# TYPE {name} counter\n{name} {value}\n"));
        }
    }
    let (batches, merged) = (state.hits.batches(), state.hits.merged());
    text.push_str(&format!(
        "# TYPE jalin_event_batches_total counter\njalin_event_batches_total {batches}\n\
         # TYPE jalin_hits_merged_total counter\njalin_hits_merged_total {merged}\n"
    ));
    let mut r = text.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    r
}

async fn not_found() -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "no such endpoint (see /openapi.json)",
    )
}

/// The application.
pub(crate) fn router(state: AppState, body_limit: usize) -> Router {
    routes()
        .into_iter()
        .fold(Router::new(), |r, route| r.route(route.path, route.handler))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Serves until `shutdown` completes.
pub(crate) async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state, 64 * 1024))
        .with_graceful_shutdown(shutdown)
        .await
}

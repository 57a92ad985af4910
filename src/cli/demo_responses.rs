//! The responses half of `jalin demo`: customers open, click and unsubscribe through the real
//! HTTP server, and the mail system posts a signed bounce notice — so the demo closes the loop
//! the way production does.

use super::campaigns::Runtime;
use jalin_channels::Channel as _;
use jalin_channels::webhook::standard::Secret;
use jalin_channels::webhook::{HttpWebhook, Webhook};
use jalin_engine::campaigns::{event_counts, sent_messages};
use std::collections::BTreeMap;
use std::time::Duration;

/// Sends sample responses to the sent emails and returns the events they recorded, by type.
pub(crate) async fn respond(
    rt: &Runtime,
    keys: jalin_channels::tracking::TrackingKeys,
    clock: jalin_engine::clock::SharedClock,
) -> anyhow::Result<BTreeMap<String, i64>> {
    let started = clock.now().timestamp();
    let secret = Secret::generate();
    let secrets = Secret::parse_list(&secret).map_err(|e| anyhow::anyhow!(e))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let hooks = crate::server::HookSecrets {
        bounce: Some(secrets.clone()),
        orders: Some(secrets.clone()),
        call_center: Some(secrets.clone()),
        twilio: None,
        kannel: None,
    };
    let state = crate::server::AppState::new(
        rt.store.clone(),
        keys.clone(),
        hooks,
        &rt.project.campaigns,
        clock,
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::server::serve(listener, state, async move {
        let _ = stopped.await;
    }));
    let urls = jalin_channels::tracking::TrackingUrls::new(&base, keys);
    jalin_channels::install_crypto_provider();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?;
    let sent = sent_messages(&rt.store, "email", 100_000).await?;
    // A deterministic share: 2 in 5 open, 1 in 7 clicks, 1 in 40 unsubscribes.
    for (i, id) in sent.iter().enumerate() {
        if i % 5 < 2 {
            http.get(urls.open(*id)).send().await?.error_for_status()?;
        }
        if i % 7 == 0 {
            let link = "https://kayujaya.example/koleksi?utm_source=jalin";
            let r = http.get(urls.click(*id, link)).send().await?;
            anyhow::ensure!(r.status().as_u16() == 302, "click answered {}", r.status());
        }
        if i % 40 == 39 {
            http.post(urls.unsubscribe(*id))
                .body("List-Unsubscribe=One-Click")
                .send()
                .await?
                .error_for_status()?;
        }
    }
    // A customer who clicked orders with their code: the factory's system posts the order.
    let orders = HttpWebhook::with_secrets(
        &format!("{base}/hooks/orders"),
        secrets.clone(),
        Duration::from_secs(10),
    )?;
    for id in sent.iter().step_by(7).take(40) {
        let Some(m) = jalin_engine::responses::message_info(&rt.store, *id).await? else {
            continue;
        };
        let Some(code) = m.offer_code else { continue };
        let notice = Webhook {
            id: format!("msg_demo_order_{id}"),
            event_type: "order.placed".into(),
            timestamp: chrono::Utc::now().timestamp(),
            data: serde_json::json!({
                "event": "order.placed", "order": format!("SO-DEMO-{id}"), "customer": m.customer_ref,
                "value": 1_250_000_000, "offer_code": code,
            }),
        };
        let outcome = orders.send(&notice).await;
        anyhow::ensure!(
            outcome.is_delivered(),
            "the orders hook refused the notice: {outcome:?}"
        );
        break;
    }
    // The mail system reports one hard bounce, signed per Standard Webhooks.
    if let Some(id) = sent.last() {
        let hook = HttpWebhook::with_secrets(
            &format!("{base}/hooks/email/bounce"),
            secrets,
            Duration::from_secs(10),
        )?;
        let address = jalin_engine::responses::message_info(&rt.store, *id)
            .await?
            .and_then(|m| m.address)
            .unwrap_or_default();
        let notice = Webhook {
            id: format!("msg_demo_bounce_{id}"),
            event_type: "email.bounced".into(),
            timestamp: chrono::Utc::now().timestamp(),
            data: serde_json::json!({ "email": address, "type": "hard", "status": "5.1.1", "message_id": id }),
        };
        let outcome = hook.send(&notice).await;
        anyhow::ensure!(
            outcome.is_delivered(),
            "the bounce hook refused the notice: {outcome:?}"
        );
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(event_counts(&rt.store, started)
        .await?
        .into_iter()
        .collect())
}

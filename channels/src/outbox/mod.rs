//! The file outbox, for the embedded default and the demo: each email is written as a real
//! `.eml` file (built and DKIM-signed exactly as it would go over SMTP), each SMS and webhook as
//! a JSON line, with the signature headers a receiver would check.

use crate::email::{Email, EmailSettings, build};
use crate::sms::{Sms, precheck};
use crate::webhook::Webhook;
use crate::webhook::standard::Secret;
use crate::{Channel, ChannelError, Outcome};
use futures::future::BoxFuture;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Writes messages to files under a folder: `email/ID.eml`, `sms.jsonl`, `webhooks.jsonl`.
#[derive(Debug)]
pub struct FileOutbox {
    dir: PathBuf,
    email: EmailSettings,
    webhook_secrets: Vec<Secret>,
    max_sms_segments: usize,
    sms_log: Mutex<std::fs::File>,
    webhook_log: Mutex<std::fs::File>,
}

fn open_append(path: &Path) -> Result<std::fs::File, ChannelError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| ChannelError::new("outbox", format!("{}: {e}", path.display())))
}

impl FileOutbox {
    /// An outbox in `dir` (created if missing).
    pub fn new(
        dir: &Path,
        email: EmailSettings,
        webhook_secrets: Vec<Secret>,
        max_sms_segments: usize,
    ) -> Result<Self, ChannelError> {
        std::fs::create_dir_all(dir.join("email"))
            .map_err(|e| ChannelError::new("outbox", format!("{}: {e}", dir.display())))?;
        Ok(FileOutbox {
            dir: dir.to_owned(),
            email,
            webhook_secrets,
            max_sms_segments,
            sms_log: Mutex::new(open_append(&dir.join("sms.jsonl"))?),
            webhook_log: Mutex::new(open_append(&dir.join("webhooks.jsonl"))?),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn append(log: &Mutex<std::fs::File>, value: &serde_json::Value) -> Outcome {
        let mut line = value.to_string();
        line.push('\n');
        let mut file = log.lock().unwrap_or_else(|e| e.into_inner());
        match file.write_all(line.as_bytes()) {
            Ok(()) => Outcome::Delivered { provider_id: None },
            Err(e) => Outcome::transient(format!("cannot write the outbox: {e}")),
        }
    }
}

impl Channel<Email> for FileOutbox {
    fn send<'a>(&'a self, email: &'a Email) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let message = match build(&self.email, email) {
                Ok(m) => m,
                Err(o) => return o,
            };
            let path = self.dir.join("email").join(format!("{}.eml", email.id));
            let tmp = path.with_extension("eml.tmp");
            // Written then renamed, so a reader never sees half a message.
            let result = async {
                tokio::fs::write(&tmp, message.formatted()).await?;
                tokio::fs::rename(&tmp, &path).await
            }
            .await;
            match result {
                Ok(()) => Outcome::Delivered {
                    provider_id: Some(path.display().to_string()),
                },
                Err(e) => Outcome::transient(format!("cannot write {}: {e}", path.display())),
            }
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        Box::pin(async move {
            let probe = self.dir.join(".write-check");
            std::fs::write(&probe, b"ok").map_err(|e| {
                ChannelError::new(
                    "outbox",
                    format!("{} is not writable: {e}", self.dir.display()),
                )
            })?;
            let _ = std::fs::remove_file(probe);
            Ok(())
        })
    }

    fn name(&self) -> &'static str {
        "outbox"
    }
}

impl Channel<Sms> for FileOutbox {
    fn send<'a>(&'a self, sms: &'a Sms) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let info = match precheck(sms, self.max_sms_segments) {
                Ok(i) => i,
                Err(o) => return o,
            };
            let line = serde_json::json!({
                "id": sms.id, "to": sms.to, "from": sms.from, "body": sms.body,
                "encoding": info.encoding, "characters": info.characters, "segments": info.segments,
                "at": chrono::Utc::now().to_rfc3339(),
            });
            FileOutbox::append(&self.sms_log, &line)
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        Channel::<Email>::health_check(self)
    }

    fn name(&self) -> &'static str {
        "outbox"
    }
}

impl Channel<Webhook> for FileOutbox {
    fn send<'a>(&'a self, hook: &'a Webhook) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let body = hook.body();
            let headers: serde_json::Map<String, serde_json::Value> = hook
                .headers(&self.webhook_secrets, &body)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), serde_json::Value::String(v)))
                .collect();
            let line = serde_json::json!({
                "headers": headers,
                "body": serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_default(),
            });
            FileOutbox::append(&self.webhook_log, &line)
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        Channel::<Email>::health_check(self)
    }

    fn name(&self) -> &'static str {
        "outbox"
    }
}

//! A recording channel for tests: it keeps every message and answers with scripted outcomes
//! (delivered when nothing is scripted).

use crate::{Channel, ChannelError, Outcome};
use futures::future::BoxFuture;
use std::collections::VecDeque;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};

/// Records what was sent.
#[derive(Debug, Clone)]
pub struct Stub<M> {
    sent: Arc<Mutex<Vec<M>>>,
    script: Arc<Mutex<VecDeque<Outcome>>>,
}

impl<M> Default for Stub<M> {
    fn default() -> Self {
        Stub {
            sent: Arc::new(Mutex::new(Vec::new())),
            script: Arc::new(Mutex::new(VecDeque::new())),
        }
    }
}

impl<M: Clone> Stub<M> {
    /// Everything sent so far.
    pub fn sent(&self) -> Vec<M> {
        self.sent.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The next sends answer these outcomes, in order.
    pub fn script(&self, outcomes: impl IntoIterator<Item = Outcome>) {
        self.script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(outcomes);
    }
}

impl<M: Clone + Send + Sync + Debug + 'static> Channel<M> for Stub<M> {
    fn send<'a>(&'a self, message: &'a M) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let n = {
                let mut sent = self.sent.lock().unwrap_or_else(|e| e.into_inner());
                sent.push(message.clone());
                sent.len()
            };
            let scripted = self
                .script
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop_front();
            scripted.unwrap_or(Outcome::Delivered {
                provider_id: Some(format!("stub-{n}")),
            })
        })
    }

    fn health_check(&self) -> BoxFuture<'_, Result<(), ChannelError>> {
        Box::pin(async { Ok(()) })
    }

    fn name(&self) -> &'static str {
        "stub"
    }
}

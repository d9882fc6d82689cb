//! Delivers the outbox, one dispatcher per channel (the platform's webhook: signed JSON
//! POSTs), at least once, with retries and exponential backoff. Orders are leased in SQL,
//! so several replicas never deliver the same order at the same time.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::kinds::Channel;
use crate::state::AppState;
use crate::store::Order;

/// Orders leased per poll.
const BATCH: u32 = 20;
/// How long a lease lasts: longer than delivering a whole batch one by one at the
/// timeout, so a slow platform never lets another replica take an order still in flight.
const LEASE: TimeDelta = TimeDelta::seconds(BATCH as i64 * DELIVERY_TIMEOUT.as_secs() as i64 + 30);
/// Longest wait for the platform to answer one order.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for the delivery in flight: one delivery's timeout, and a
/// moment to record it and give back the rest of the batch.
pub const STOP_WAIT: Duration = Duration::from_secs(DELIVERY_TIMEOUT.as_secs() + 2);
/// Longest wait between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// `Rolegate-Signature: t=<unix>,v1=<hex>`: HMAC-SHA256 of `<t>.<body>` under `secret`.
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={timestamp},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The delay before attempt `attempts + 1`: `base * 2^(attempts - 1)`, at most an hour.
pub fn backoff(base: Duration, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1)).unwrap_or(0).min(20);
    base.saturating_mul(1 << exponent).min(MAX_BACKOFF)
}

/// One outbox channel's way out: each channel has its own dispatcher, which leases only
/// that channel's orders and sends them with its own sender and retry policy.
pub trait Sender: Send + Sync + 'static {
    /// The channel it delivers.
    const CHANNEL: Channel;

    /// Delivers one order at `now` (the service's clock); `Err` says why not, and the order
    /// is tried again later.
    fn send(&self, order: &Order, now: DateTime<Utc>) -> impl Future<Output = Result<(), String>> + Send;

    /// The delay before the second attempt; it doubles for each further one, up to an hour.
    fn backoff_base(&self) -> Duration;

    /// What the outbox keeps of an order once it is delivered, when not all of it (a mail's
    /// text holds a single-use link).
    fn redacted(&self, _order: &Order) -> Option<serde_json::Value> {
        None
    }
}

/// The platform's channel: signed JSON POSTs to its webhook.
pub struct Webhook {
    client: reqwest::Client,
    url: String,
    secret: String,
    backoff: Duration,
}

impl Sender for Webhook {
    const CHANNEL: Channel = Channel::Platform;

    async fn send(&self, order: &Order, now: DateTime<Utc>) -> Result<(), String> {
        let body = serde_json::to_vec(&order.payload).unwrap_or_default();
        let sent = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header(
                "rolegate-signature",
                signature(self.secret.as_bytes(), now.timestamp(), &body),
            )
            .header("rolegate-order-id", order.id.to_string())
            .header("rolegate-order-type", &order.kind)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("the platform answered {}", response.status())),
            Err(err) => Err(format!("delivery failed: {err}")),
        }
    }

    fn backoff_base(&self) -> Duration {
        self.backoff
    }
}

/// Starts a dispatcher for each channel that is configured; the platform's needs a webhook
/// URL, otherwise its orders stay queued (for a platform that polls). Each stops when `stop`
/// turns `true`: it finishes the delivery in flight, gives back the leases of the orders it
/// had not sent yet (so another replica sends them at once, not when the lease ends) and
/// returns.
pub fn spawn(state: AppState, stop: watch::Receiver<bool>) -> JoinHandle<()> {
    let platform = spawn_platform(&state, stop.clone());
    let mail = spawn_mail(&state, stop);
    tokio::spawn(async move {
        for handle in [platform, mail].into_iter().flatten() {
            let _ = handle.await;
        }
    })
}

fn spawn_platform(state: &AppState, stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
    let platform = &state.config.platform;
    let (Some(url), Some(secret)) = (platform.webhook_url.clone(), platform.secret.clone()) else {
        tracing::info!("ROLEGATE_PLATFORM_WEBHOOK_URL is unset: orders stay queued in the outbox");
        return None;
    };
    let client = match reqwest::Client::builder()
        .timeout(DELIVERY_TIMEOUT)
        // A redirect is a failed delivery, retried later: orders go only where configured.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("rolegate/", env!("CARGO_PKG_VERSION")))
        .build()
    {
        Ok(client) => client,
        Err(err) => {
            tracing::error!(error = %err, "cannot build the HTTP client; orders stay queued");
            return None;
        }
    };
    let webhook = Webhook {
        client,
        url,
        secret,
        backoff: platform.dispatch_backoff,
    };
    Some(run(state.clone(), webhook, stop))
}

fn spawn_mail(state: &AppState, stop: watch::Receiver<bool>) -> Option<JoinHandle<()>> {
    // Start-up already warned, once, what an unset ROLEGATE_SMTP_URL disables.
    let config = state.config.accounts.mail.as_ref()?;
    match crate::mail::Mailer::new(config, state.secrets.clone(), state.config.platform.dispatch_backoff) {
        Ok(mailer) => Some(run(state.clone(), mailer, stop)),
        Err(err) => {
            tracing::error!(error = %err, "cannot build the SMTP client; mail stays queued");
            None
        }
    }
}

/// The dispatch loop of one channel.
pub fn run<S: Sender>(state: AppState, sender: S, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let dispatcher = Dispatcher {
            state: state.clone(),
            sender,
            stop: stop.clone(),
        };
        while !*stop.borrow() {
            match dispatcher.deliver_due().await {
                // A full batch suggests more are due: go on at once.
                Ok(n) if n == BATCH as usize => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(channel = S::CHANNEL.as_str(), error = %err, "could not lease orders"),
            }
            tokio::select! {
                () = tokio::time::sleep(state.config.platform.dispatch_interval) => {}
                _ = stop.changed() => {}
            }
        }
    })
}

struct Dispatcher<S> {
    state: AppState,
    sender: S,
    stop: watch::Receiver<bool>,
}

impl<S: Sender> Dispatcher<S> {
    async fn deliver_due(&self) -> Result<usize, crate::store::StoreError> {
        let now = self.state.clock.now();
        let orders = self
            .state
            .store
            .claim_orders(S::CHANNEL, now, now + LEASE, BATCH)
            .await?;
        let count = orders.len();
        let mut orders = orders.into_iter();
        for order in orders.by_ref() {
            self.deliver(order).await;
            if *self.stop.borrow() {
                break;
            }
        }
        for order in orders {
            // Shutting down: the order goes back as it was, for any replica to send now.
            if let Err(err) = self.state.store.release_order(order.id).await {
                tracing::warn!(order_id = %order.id, error = %err, "could not give back a leased order");
            }
        }
        Ok(count)
    }

    async fn deliver(&self, order: Order) {
        let store = &self.state.store;
        let recorded = match self.sender.send(&order, self.state.clock.now()).await {
            Ok(()) => {
                self.state.metrics.delivery(S::CHANNEL, true);
                tracing::info!(order_id = %order.id, kind = %order.kind, "order delivered");
                let delivered = store
                    .order_delivered(S::CHANNEL, order.id, self.state.clock.now())
                    .await
                    .map(drop);
                match self.sender.redacted(&order) {
                    Some(payload) if delivered.is_ok() => store.redact_order(order.id, &payload).await,
                    _ => delivered,
                }
            }
            Err(error) => {
                self.state.metrics.delivery(S::CHANNEL, false);
                let delay = backoff(self.sender.backoff_base(), order.attempts);
                let retry_at: DateTime<Utc> = self.state.clock.now() + TimeDelta::from_std(delay).unwrap_or(LEASE);
                tracing::warn!(order_id = %order.id, attempts = order.attempts, %error, "order not delivered; will retry");
                store.order_failed(order.id, &error, retry_at).await
            }
        };
        if let Err(err) = recorded {
            // The lease runs out and the order is tried again: at least once, never lost.
            tracing::warn!(order_id = %order.id, error = %err, "could not record the delivery outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_value() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature(b"secret", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::from_secs(1);
        assert_eq!(backoff(base, 1), Duration::from_secs(1));
        assert_eq!(backoff(base, 2), Duration::from_secs(2));
        assert_eq!(backoff(base, 5), Duration::from_secs(16));
        assert_eq!(backoff(base, 40), MAX_BACKOFF);
    }
}

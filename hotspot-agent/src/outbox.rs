//! Reports waiting for the oracle, and the task that delivers them.
//!
//! A report stays in the [`Outbox`] until the oracle acknowledges it or rejects it for good; it
//! is retried (over a fresh connection if need be) after transport errors and `UNAVAILABLE`
//! rejections. The queue is in memory for now; a durable store-and-forward queue can replace
//! it behind the same methods.

use crate::backoff::Backoff;
use crate::oracle_client::OracleClient;
use crate::stats::AgentStats;
use schemas::proto::{RejectReason, Request, Response, request, response};
use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;
use tracing::{debug, warn};

/// Default number of reports kept.
pub const OUTBOX_CAPACITY: usize = 1024;

/// A FIFO of reports for the oracle, shared by the tasks that make and deliver them.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    notify: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Queue {
    entries: VecDeque<(u64, Request)>,
    next_id: u64,
}

impl Outbox {
    /// An empty outbox holding at most `capacity` reports (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            queue: Mutex::default(),
            notify: Notify::new(),
            capacity: capacity.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a report. When the outbox is full the oldest report is dropped and returned.
    pub fn push(&self, request: Request) -> Option<Request> {
        let dropped = {
            let mut queue = self.lock();
            let dropped = (queue.entries.len() >= self.capacity).then(|| queue.entries.pop_front());
            let id = queue.next_id;
            queue.next_id += 1;
            queue.entries.push_back((id, request));
            dropped.flatten().map(|(_, r)| r)
        };
        self.notify.notify_one();
        dropped
    }

    /// The oldest report and its id, waiting for one if the outbox is empty. It stays queued
    /// until [`Outbox::remove`].
    pub async fn front(&self) -> (u64, Request) {
        loop {
            if let Some(front) = self.lock().entries.front().cloned() {
                return front;
            }
            self.notify.notified().await;
        }
    }

    /// Removes the report with `id` (if it is still queued).
    pub fn remove(&self, id: u64) {
        self.lock().entries.retain(|(entry, _)| *entry != id);
    }

    /// Number of queued reports.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The kind of report, for logs.
pub fn kind(request: &Request) -> &'static str {
    match request.msg {
        Some(request::Msg::Beacon(_)) => "beacon",
        Some(request::Msg::Witness(_)) => "witness",
        Some(request::Msg::AssertLocation(_)) => "assert_location",
        Some(request::Msg::Entropy(_)) => "entropy",
        None => "empty",
    }
}

/// Delivers the outbox's reports in order, forever.
pub async fn deliver(outbox: &Outbox, oracle: &OracleClient, stats: &AgentStats) {
    let mut backoff = Backoff::default();
    loop {
        let (id, request) = outbox.front().await;
        let kind = kind(&request);
        match oracle.submit(&request).await {
            Ok(Response {
                msg: Some(response::Msg::Ack(ack)),
            }) => {
                outbox.remove(id);
                backoff.reset();
                count_ack(&request, stats);
                debug!(kind, id = %hex::encode(&ack.id), duplicate = ack.duplicate, "report acknowledged");
            }
            Ok(Response {
                msg: Some(response::Msg::Rejection(rejection)),
            }) if rejection.reason() != RejectReason::Unavailable => {
                outbox.remove(id);
                AgentStats::bump(&stats.rejections);
                warn!(kind, reason = ?rejection.reason(), detail = %rejection.detail, "report rejected");
            }
            Ok(response) => {
                let delay = backoff.next_delay();
                warn!(kind, ?response, retry_in = ?delay, "oracle could not take the report; retrying");
                tokio::time::sleep(delay).await;
            }
            // The client waits out its reconnect backoff before the next attempt.
            Err(error) => debug!(kind, %error, "report not delivered; retrying"),
        }
    }
}

fn count_ack(request: &Request, stats: &AgentStats) {
    match request.msg {
        Some(request::Msg::Beacon(_)) => AgentStats::bump(&stats.beacons_acked),
        Some(request::Msg::Witness(_)) => AgentStats::bump(&stats.witnesses_acked),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::proto::WitnessReport;

    fn witness(tmst: u32) -> Request {
        Request {
            msg: Some(request::Msg::Witness(WitnessReport {
                tmst,
                ..Default::default()
            })),
        }
    }

    #[tokio::test]
    async fn fifo_until_removed() {
        let outbox = Outbox::new(10);
        outbox.push(witness(1));
        outbox.push(witness(2));
        let (id, first) = outbox.front().await;
        assert_eq!(first, witness(1));
        assert_eq!(outbox.front().await.1, witness(1), "stays until removed");
        outbox.remove(id);
        assert_eq!(outbox.front().await.1, witness(2));
        assert_eq!(outbox.len(), 1);
    }

    #[tokio::test]
    async fn full_outbox_drops_the_oldest() {
        let outbox = Outbox::new(2);
        assert_eq!(outbox.push(witness(1)), None);
        assert_eq!(outbox.push(witness(2)), None);
        assert_eq!(outbox.push(witness(3)), Some(witness(1)));
        assert_eq!(outbox.front().await.1, witness(2));
    }

    #[tokio::test]
    async fn front_waits_for_a_push() {
        let outbox = std::sync::Arc::new(Outbox::new(4));
        let waiter = tokio::spawn({
            let outbox = outbox.clone();
            async move { outbox.front().await.1 }
        });
        tokio::task::yield_now().await;
        outbox.push(witness(7));
        assert_eq!(waiter.await.expect("join"), witness(7));
    }
}

//! Reports waiting for the oracle, and the task that delivers them.
//!
//! A report stays in the [`Outbox`] until the oracle acknowledges it or rejects it for good; it
//! is retried (over a fresh connection if need be) after transport errors and `UNAVAILABLE`
//! rejections, in order. A durable outbox ([`Outbox::open`]) writes each report to
//! [`log`] (`outbox.log` in the data directory) before it can be sent and retires it only after
//! the answer, so reports survive oracle outages and agent restarts; the oracle's idempotent
//! ingest makes a redelivery after a crash harmless. An in-memory outbox ([`Outbox::in_memory`])
//! is what simulated agents use. Both are bounded by [`QueueLimits`]: the oldest reports are
//! dropped (counted and logged) beyond the size bound, and reports older than the age bound are
//! dropped instead of sent.

mod deliver;
pub mod log;

pub use deliver::deliver;

use log::{Log, Stored};
use prost::Message;
use schemas::proto::{Request, request};
use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::Notify;
use tracing::{error, info, warn};

/// Default number of reports kept by an in-memory outbox.
pub const OUTBOX_CAPACITY: usize = 1024;
/// Marks a report whose body is in memory, not in the file.
const IN_MEMORY: u64 = u64::MAX;

/// Bounds of an outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most reports kept.
    pub max_reports: usize,
    /// Most bytes of encoded reports kept.
    pub max_bytes: u64,
    /// Reports older than this are dropped instead of sent.
    pub max_age: Duration,
}

impl Default for QueueLimits {
    /// 16 MiB, at most 100,000 reports, 48 h: a witness report is ~220 bytes, so this holds
    /// more than 24 h of a hotspot hearing 2,500 beacons an hour.
    fn default() -> Self {
        Self {
            max_reports: 100_000,
            max_bytes: 16 << 20,
            max_age: Duration::from_secs(48 * 3600),
        }
    }
}

/// Why a durable outbox could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the report queue in {dir}: {source}")]
pub struct OutboxError {
    /// The data directory.
    pub dir: std::path::PathBuf,
    /// Why.
    pub source: std::io::Error,
}

/// What [`Outbox::push`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pushed {
    /// Oldest reports dropped to make room.
    pub dropped: u64,
    /// Whether the report is on disk (false: in-memory outbox, or the write failed).
    pub durable: bool,
}

/// A FIFO of reports for the oracle, shared by the tasks that make and deliver them.
#[derive(Debug)]
pub struct Outbox {
    queue: Mutex<Queue>,
    notify: Notify,
    limits: QueueLimits,
    expired: AtomicU64,
}

#[derive(Debug, Default)]
struct Queue {
    entries: VecDeque<Stored>,
    /// Bodies of the entries not in the file.
    memory: HashMap<u64, Vec<u8>>,
    bytes: u64,
    next_seq: u64,
    log: Option<Log>,
    /// Retired entries still live in the file (a live entry precedes them).
    unrecorded: Vec<Stored>,
}

impl Outbox {
    /// An empty in-memory outbox holding at most `capacity` reports (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self::in_memory(QueueLimits {
            max_reports: capacity,
            ..QueueLimits::default()
        })
    }

    /// An empty in-memory outbox.
    pub fn in_memory(limits: QueueLimits) -> Self {
        Self::with_queue(Queue::default(), limits)
    }

    /// The durable outbox in `dir`, with the reports a previous run left.
    pub fn open(dir: &Path, limits: QueueLimits) -> Result<Self, OutboxError> {
        let opened = Log::open(dir).map_err(|source| OutboxError {
            dir: dir.into(),
            source,
        })?;
        let bytes = opened.live.iter().map(|s| u64::from(s.len)).sum();
        let queue = Queue {
            entries: opened.live,
            memory: HashMap::new(),
            bytes,
            next_seq: opened.next_seq,
            log: Some(opened.log),
            unrecorded: Vec::new(),
        };
        if !queue.entries.is_empty() {
            info!(
                reports = queue.entries.len(),
                bytes, "reports left by the previous run will be delivered first"
            );
        }
        Ok(Self::with_queue(queue, limits))
    }

    fn with_queue(queue: Queue, limits: QueueLimits) -> Self {
        let limits = QueueLimits {
            max_reports: limits.max_reports.max(1),
            ..limits
        };
        Self {
            queue: Mutex::new(queue),
            notify: Notify::new(),
            limits,
            expired: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Appends a report queued at `now_ms`, on disk first when the outbox is durable. The
    /// oldest reports are dropped while the bounds are exceeded.
    pub fn push(&self, request: &Request, now_ms: u64) -> Pushed {
        let body = request.encode_to_vec();
        let pushed = {
            let mut queue = self.lock();
            let seq = queue.next_seq;
            queue.next_seq += 1;
            let stored = match queue
                .log
                .as_mut()
                .map(|log| log.append_report(seq, now_ms, &body))
            {
                Some(Ok(stored)) => Some(stored),
                Some(Err(error)) => {
                    error!(%error, "cannot write the report to the queue file; keeping it in memory");
                    None
                }
                None => None,
            };
            let durable = stored.is_some();
            let stored = stored.unwrap_or(Stored {
                seq,
                enqueued_ms: now_ms,
                offset: IN_MEMORY,
                len: body.len() as u32,
            });
            if !durable {
                queue.memory.insert(seq, body);
            }
            queue.bytes += u64::from(stored.len);
            queue.entries.push_back(stored);
            let mut dropped = 0;
            while queue.entries.len() > self.limits.max_reports
                || queue.bytes > self.limits.max_bytes
            {
                queue.retire_front();
                dropped += 1;
            }
            Pushed { dropped, durable }
        };
        self.notify.notify_one();
        pushed
    }

    /// The oldest report and its id, waiting for one if the outbox is empty. It stays queued
    /// until [`Outbox::remove`]. Reports older than the age bound (by `now_ms()`) are dropped
    /// on the way (see [`Outbox::take_expired`]).
    pub async fn front(&self, now_ms: impl Fn() -> u64) -> (u64, Request) {
        loop {
            let notified = self.notify.notified();
            if let Some(front) = self.next_live(now_ms()) {
                return front;
            }
            notified.await;
        }
    }

    /// The oldest reports, in order, waiting for one if the outbox is empty: the front (as
    /// [`Outbox::front`] gives it) and the beacon and witness reports right behind it, at most
    /// `max_reports` of them and `max_bytes` of encoded reports (the front alone may exceed
    /// that). They stay queued until [`Outbox::remove_answered`].
    pub async fn front_batch(
        &self,
        now_ms: impl Fn() -> u64,
        max_reports: usize,
        max_bytes: usize,
    ) -> Vec<(u64, Request)> {
        let first = self.front(&now_ms).await;
        if !is_report(&first.1) {
            return vec![first];
        }
        let queue = self.lock();
        let first_seq = first.0;
        let mut bytes = first.1.encoded_len();
        let mut batch = vec![first];
        for entry in queue.entries.iter().skip_while(|e| e.seq <= first_seq) {
            if batch.len() >= max_reports || bytes + entry.len as usize > max_bytes {
                break;
            }
            let Some(request) = queue
                .body(entry)
                .and_then(|body| Request::decode(body.as_slice()).ok())
                .filter(is_report)
            else {
                break;
            };
            bytes += entry.len as usize;
            batch.push((entry.seq, request));
        }
        batch
    }

    fn next_live(&self, now_ms: u64) -> Option<(u64, Request)> {
        let mut queue = self.lock();
        let max_age_ms = u64::try_from(self.limits.max_age.as_millis()).unwrap_or(u64::MAX);
        while let Some(front) = queue.entries.front().copied() {
            let age_ms = now_ms.saturating_sub(front.enqueued_ms);
            let request = if age_ms > max_age_ms {
                warn!(
                    age_s = age_ms / 1000,
                    "report older than the queue's age bound dropped"
                );
                None
            } else {
                queue
                    .body(&front)
                    .and_then(|body| match Request::decode(body.as_slice()) {
                        Ok(request) => Some(request),
                        Err(error) => {
                            warn!(%error, "undecodable report in the queue dropped");
                            None
                        }
                    })
            };
            match request {
                Some(request) => return Some((front.seq, request)),
                None => {
                    queue.retire_front();
                    self.expired.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        None
    }

    /// Removes the report with `id` once it is answered (a no-op if it was dropped meanwhile).
    pub fn remove(&self, id: u64) {
        self.remove_answered(&[id]);
    }

    /// Removes the reports `ids` (sorted, anywhere in the queue) once each is answered for
    /// good. The queue file records a watermark, so a report answered behind one still
    /// waiting is recorded as retired once everything before it is (until then a restart
    /// would send it again, which the oracle answers as a duplicate).
    pub fn remove_answered(&self, ids: &[u64]) {
        let mut queue = self.lock();
        let mut retired = Vec::with_capacity(ids.len());
        queue.entries.retain(|e| {
            let answered = ids.binary_search(&e.seq).is_ok();
            if answered {
                retired.push(*e);
            }
            !answered
        });
        queue.forget(retired);
    }

    /// Reports dropped by [`Outbox::front`] (too old or unreadable) since the last call.
    pub fn take_expired(&self) -> u64 {
        self.expired.swap(0, Ordering::Relaxed)
    }

    /// Number of queued reports.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Bytes of queued reports.
    pub fn bytes(&self) -> u64 {
        self.lock().bytes
    }

    /// Bulk loading (tools and benchmarks only): `false` stops syncing each append, `true`
    /// syncs what was written and resumes. The daemon never turns it off.
    pub fn set_sync(&self, sync: bool) -> std::io::Result<()> {
        match self.lock().log.as_mut() {
            Some(log) => log.set_sync(sync),
            None => Ok(()),
        }
    }

    /// Whether reports are kept on disk.
    pub fn is_durable(&self) -> bool {
        self.lock().log.is_some()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Queue {
    fn body(&self, stored: &Stored) -> Option<Vec<u8>> {
        if let Some(body) = self.memory.get(&stored.seq) {
            return Some(body.clone());
        }
        let log = self.log.as_ref()?;
        log.read(stored)
            .map_err(|error| warn!(%error, "cannot read a report from the queue file"))
            .ok()
    }

    /// Removes the oldest entry, on disk too.
    fn retire_front(&mut self) {
        if let Some(front) = self.entries.pop_front() {
            self.forget(vec![front]);
        }
    }

    /// Accounts for entries taken out of `entries`, and records in the file every retired
    /// entry that no live one precedes.
    fn forget(&mut self, retired: Vec<Stored>) {
        for entry in &retired {
            self.bytes -= u64::from(entry.len);
            self.memory.remove(&entry.seq);
        }
        let Some(log) = self.log.as_mut() else {
            return;
        };
        self.unrecorded
            .extend(retired.into_iter().filter(|e| e.offset != IN_MEMORY));
        let first_live = self
            .entries
            .iter()
            .filter(|e| e.offset != IN_MEMORY)
            .map(|e| e.seq)
            .min();
        let result = match first_live {
            None => {
                self.unrecorded.clear();
                log.clear()
            }
            Some(first_live) => {
                let (mut covered, waiting): (Vec<Stored>, Vec<Stored>) =
                    self.unrecorded.drain(..).partition(|e| e.seq < first_live);
                self.unrecorded = waiting;
                covered.sort_unstable_by_key(|e| e.seq);
                log.append_done(&covered)
            }
        };
        if let Err(error) = result {
            error!(%error, "cannot record a retired report in the queue file; it may be sent again after a restart");
        }
        if log.wants_compaction() {
            let mut live: Vec<&mut Stored> = self
                .entries
                .iter_mut()
                .filter(|e| e.offset != IN_MEMORY)
                .collect();
            match log.compact(&mut live) {
                Ok(()) => self.unrecorded.clear(),
                Err(error) => error!(%error, "cannot compact the queue file"),
            }
        }
    }
}

/// The kind of report, for logs.
pub fn kind(request: &Request) -> &'static str {
    match request.msg {
        Some(request::Msg::Beacon(_)) => "beacon",
        Some(request::Msg::Witness(_)) => "witness",
        Some(request::Msg::AssertLocation(_)) => "assert_location",
        Some(request::Msg::Entropy(_)) => "entropy",
        Some(request::Msg::Reports(_)) => "reports",
        None => "empty",
    }
}

/// Whether `request` is a beacon or witness report (what a batch may carry).
fn is_report(request: &Request) -> bool {
    matches!(
        request.msg,
        Some(request::Msg::Beacon(_) | request::Msg::Witness(_))
    )
}

#[cfg(test)]
mod tests;

//! The report pipeline after the field checks: signatures verified in batches on blocking
//! threads (one batch per core at a time), then the group-commit writer. The two stages
//! overlap: while the writer commits one group, the next groups' signatures are verified.
//!
//! - **Verify**: a dispatcher takes every submission waiting (up to
//!   [`MAX_GROUP_SIGNATURES`] reports) as soon as a core is free and verifies the group on a
//!   blocking thread with `schemas::sign::BatchVerifier` (chunks of [`VERIFY_CHUNK`]; a chunk
//!   whose batch equation fails is checked one signature at a time, so each bad report is
//!   identified exactly), then checks that each signer is onboarded and encodes the report
//!   (message id, stored bytes). Signers' keys are decoded to curve points once and kept
//!   ([`SIGNER_KEYS`] of them) for their next reports. While both cores verify, submissions wait and the next group
//!   is larger, which is where batching pays.
//! - **Write**: every verified group waiting is committed in one transaction
//!   (`Store::insert_reports`), **then** each report is acknowledged (duplicates with their
//!   first receive time) and new ones go to the verifier. A failed commit acknowledges
//!   nothing: every report in it is answered `UNAVAILABLE`.

use super::reports::{Outcome, ReportMessage, ack};
use super::{Rejected, rejected};
use crate::registry::Registry;
use crate::store::{NewReport, ReportKind, Store};
use crate::verifier::Event;
use crate::verifier::poc::Received;
use schemas::PublicKey;
use schemas::clock::SharedClock;
use schemas::proto::RejectReason;
use schemas::sign::{BatchVerifier, KeyCache, SingleSigned};
use std::sync::Arc;
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Most reports verified as one group on one thread.
const MAX_GROUP_SIGNATURES: usize = 512;
/// Signatures per batch equation (a failed one is re-checked one by one).
const VERIFY_CHUNK: usize = 128;
/// Signers' keys kept decoded: a Helium-peak network's million hotspots, about 220 MB once
/// every one of them has sent a report (a point is 160 bytes).
const SIGNER_KEYS: usize = 1 << 20;
/// Submissions waiting for a core before submitters wait for room.
const SUBMIT_QUEUE: usize = 4 * 1024;
/// Verified groups waiting for the writer before verification waits.
const WRITE_QUEUE: usize = 8;
/// How often an idle writer moves the verifier's frontier to its clock.
const IDLE_FRONTIER: std::time::Duration = std::time::Duration::from_secs(1);

/// The reports of one request, after the field checks.
struct Submission {
    checked: Vec<Result<ReportMessage, Rejected>>,
    received_ms: u64,
    reply: oneshot::Sender<Vec<Outcome>>,
}

/// A verified submission waiting for its commit.
struct Pending {
    /// One per report: `Some` once known (rejected, or stored).
    outcomes: Vec<Option<Outcome>>,
    /// The reports to store, and for each its position in `outcomes`, its id and the
    /// verifier's event.
    reports: Vec<NewReport>,
    slots: Vec<(usize, [u8; 32], Event)>,
    reply: oneshot::Sender<Vec<Outcome>>,
}

/// The entry of the pipeline; its tasks end when it is dropped.
pub(crate) struct Pipeline {
    submit: mpsc::Sender<Submission>,
}

impl Pipeline {
    /// The pipeline and the task running both stages.
    pub(crate) fn start(
        store: Store,
        registry: Registry,
        events: mpsc::UnboundedSender<Event>,
        clock: SharedClock,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (submit, submissions) = mpsc::channel(SUBMIT_QUEUE);
        let (verified, groups) = mpsc::channel(WRITE_QUEUE);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let task = tokio::spawn(async move {
            tokio::join!(
                verify_loop(submissions, verified, registry, cores),
                write_loop(store, groups, events, clock),
            );
        });
        (Self { submit }, task)
    }

    /// Verifies and stores the reports that passed their field checks; one outcome per entry
    /// of `checked`, in order.
    pub(crate) async fn submit(
        &self,
        checked: Vec<Result<ReportMessage, Rejected>>,
        received_ms: u64,
    ) -> Vec<Outcome> {
        if checked.iter().all(Result::is_err) {
            return checked
                .into_iter()
                .filter_map(Result::err)
                .map(Err)
                .collect();
        }
        let count = checked.len();
        let (reply, done) = oneshot::channel();
        let submission = Submission {
            checked,
            received_ms,
            reply,
        };
        if self.submit.send(submission).await.is_err() {
            return vec![Err(shutting_down()); count];
        }
        done.await
            .unwrap_or_else(|_| vec![Err(shutting_down()); count])
    }
}

fn shutting_down() -> Rejected {
    rejected(
        RejectReason::Unavailable,
        "oracle is shutting down, retry later",
    )
}

/// Takes what is waiting whenever a core is free and verifies it on a blocking thread.
async fn verify_loop(
    mut submissions: mpsc::Receiver<Submission>,
    verified: mpsc::Sender<Vec<Pending>>,
    registry: Registry,
    cores: usize,
) {
    let permits = Arc::new(Semaphore::new(cores.max(1)));
    let keys = Arc::new(KeyCache::new(SIGNER_KEYS));
    loop {
        let Ok(permit) = Arc::clone(&permits).acquire_owned().await else {
            return;
        };
        let Some(first) = submissions.recv().await else {
            return;
        };
        let mut signatures = first.checked.len();
        let mut group = vec![first];
        while signatures < MAX_GROUP_SIGNATURES {
            let Ok(next) = submissions.try_recv() else {
                break;
            };
            signatures += next.checked.len();
            group.push(next);
        }
        let verified = verified.clone();
        let registry = registry.clone();
        let keys = Arc::clone(&keys);
        tokio::task::spawn_blocking(move || {
            let started = std::time::Instant::now();
            let pending = verify_group(group, &registry, &keys);
            tracing::debug!(
                reports = signatures,
                verify_ms = started.elapsed().as_secs_f64() * 1e3,
                "group verified"
            );
            // Holding the core until the writer takes the group keeps at most one group per
            // core waiting, so a slow commit slows submitters instead of piling up threads.
            let _ = verified.blocking_send(pending);
            drop(permit);
        });
    }
}

/// Verifies a group's signatures in batches, then checks signers and encodes the reports.
fn verify_group(group: Vec<Submission>, registry: &Registry, keys: &KeyCache) -> Vec<Pending> {
    let messages: Vec<&ReportMessage> = group
        .iter()
        .flat_map(|s| s.checked.iter().filter_map(|c| c.as_ref().ok()))
        .collect();
    let mut signatures = Vec::with_capacity(messages.len());
    for chunk in messages.chunks(VERIFY_CHUNK) {
        let mut batch = BatchVerifier::with_capacity(chunk.len());
        for message in chunk {
            match message {
                ReportMessage::Beacon(b) => batch.queue_message(b),
                ReportMessage::Witness(w) => batch.queue_message(w),
            };
        }
        signatures.extend(batch.verify_cached(keys).results);
    }
    drop(messages);
    let mut signatures = signatures.into_iter();
    registry.with(|onboarded| {
        group
            .into_iter()
            .map(|submission| {
                let received_ms = submission.received_ms;
                let mut pending = Pending {
                    outcomes: Vec::with_capacity(submission.checked.len()),
                    reports: Vec::new(),
                    slots: Vec::new(),
                    reply: submission.reply,
                };
                for (i, checked) in submission.checked.into_iter().enumerate() {
                    let accepted = checked.and_then(|message| {
                        let signature = signatures
                            .next()
                            .unwrap_or(Err(schemas::SignError::Mismatch));
                        accept(message, signature, received_ms, |key| {
                            onboarded.contains_key(key)
                        })
                    });
                    match accepted {
                        Ok((report, event)) => {
                            pending.outcomes.push(None);
                            pending.slots.push((i, report.id, event));
                            pending.reports.push(report);
                        }
                        Err(rejection) => pending.outcomes.push(Some(Err(rejection))),
                    }
                }
                pending
            })
            .collect()
    })
}

/// A report whose signature check gave `signature`: refused, or the row and event to store.
fn accept(
    message: ReportMessage,
    signature: Result<(), schemas::SignError>,
    received_ms: u64,
    onboarded: impl Fn(&PublicKey) -> bool,
) -> Result<(NewReport, Event), Rejected> {
    signature.map_err(|e| rejected(RejectReason::BadSignature, e.to_string()))?;
    let signer = match &message {
        ReportMessage::Beacon(b) => b.signer(),
        ReportMessage::Witness(w) => w.signer(),
    };
    let key = PublicKey::from_slice(signer)
        .map_err(|e| rejected(RejectReason::InvalidField, e.to_string()))?;
    if !onboarded(&key) {
        return Err(rejected(
            RejectReason::UnknownHotspot,
            format!("hotspot {key} is not onboarded"),
        ));
    }
    Ok(match message {
        ReportMessage::Beacon(beacon) => {
            let (bytes, id) = schemas::sign::encode_with_id(&beacon);
            let report = new_report(
                ReportKind::Beacon,
                id,
                key,
                &beacon.data,
                received_ms,
                bytes,
            );
            let event = Event::Beacon(Received {
                id,
                received_ms,
                report: beacon,
            });
            (report, event)
        }
        ReportMessage::Witness(witness) => {
            let (bytes, id) = schemas::sign::encode_with_id(&witness);
            let report = new_report(
                ReportKind::Witness,
                id,
                key,
                &witness.data,
                received_ms,
                bytes,
            );
            let event = Event::Witness(Received {
                id,
                received_ms,
                report: witness,
            });
            (report, event)
        }
    })
}

fn new_report(
    kind: ReportKind,
    id: [u8; 32],
    hotspot_key: PublicKey,
    data: &[u8],
    received_ms: u64,
    message: Vec<u8>,
) -> NewReport {
    NewReport {
        kind,
        id,
        hotspot_key,
        data: data.to_vec(),
        received_ms,
        message,
    }
}

/// Commits every verified group waiting in one transaction, then answers and forwards.
///
/// Receive times never go back: a report whose request arrived before one already taken (its
/// group was verified on the other core, or waited) is stamped with the later time, so the
/// verifier gets reports in the order of their receive times. After each commit, and every
/// [`IDLE_FRONTIER`] with nothing to write, the verifier is told the time before which it has
/// everything ([`Event::Frontier`]).
async fn write_loop(
    store: Store,
    mut groups: mpsc::Receiver<Vec<Pending>>,
    events: mpsc::UnboundedSender<Event>,
    clock: SharedClock,
) {
    let mut waiting: Vec<Vec<Pending>> = Vec::with_capacity(WRITE_QUEUE);
    let mut last_stamp = 0u64;
    loop {
        let taken = tokio::select! {
            taken = groups.recv_many(&mut waiting, WRITE_QUEUE) => taken,
            () = tokio::time::sleep(IDLE_FRONTIER) => {
                // Nothing waits: whatever comes next is stamped at this time or later.
                last_stamp = last_stamp.max(clock.now_ms());
                let _ = events.send(Event::Frontier(last_stamp));
                continue;
            }
        };
        if taken == 0 {
            return;
        }
        let mut pending: Vec<Pending> = waiting.drain(..).flatten().collect();
        for p in &mut pending {
            for (report, (_, _, event)) in p.reports.iter_mut().zip(&mut p.slots) {
                last_stamp = last_stamp.max(report.received_ms);
                report.received_ms = last_stamp;
                event.stamp(last_stamp);
            }
        }
        let reports: Vec<NewReport> = pending
            .iter_mut()
            .flat_map(|p| std::mem::take(&mut p.reports))
            .collect();
        let started = std::time::Instant::now();
        let stored = if reports.is_empty() {
            Ok(Vec::new())
        } else {
            store.insert_reports(&reports).await
        };
        tracing::debug!(
            reports = reports.len(),
            requests = pending.len(),
            commit_ms = started.elapsed().as_secs_f64() * 1e3,
            "group committed"
        );
        match stored {
            Ok(stored) => {
                let mut stored = stored.into_iter();
                for mut p in pending {
                    for (i, id, event) in std::mem::take(&mut p.slots) {
                        let outcome = match stored.next() {
                            Some(s) => {
                                if !s.duplicate {
                                    let _ = events.send(event);
                                }
                                Ok(ack(id, s.duplicate, s.received_ms))
                            }
                            None => Err(storage_unavailable()),
                        };
                        p.outcomes[i] = Some(outcome);
                    }
                    answer(p);
                }
                // Every report stamped before this one was in this group or an earlier one.
                let _ = events.send(Event::Frontier(last_stamp));
            }
            Err(e) => {
                tracing::error!(error = %e, reports = reports.len(), "could not store reports; submitters will retry");
                for mut p in pending {
                    for (i, _, _) in std::mem::take(&mut p.slots) {
                        p.outcomes[i] = Some(Err(storage_unavailable()));
                    }
                    answer(p);
                }
            }
        }
    }
}

fn storage_unavailable() -> Rejected {
    rejected(
        RejectReason::Unavailable,
        "storage unavailable, retry later",
    )
}

fn answer(pending: Pending) {
    let outcomes = pending
        .outcomes
        .into_iter()
        .map(|o| o.unwrap_or_else(|| Err(storage_unavailable())))
        .collect();
    let _ = pending.reply.send(outcomes);
}

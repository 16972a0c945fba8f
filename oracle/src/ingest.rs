//! Ingest: every request is decoded, checked (fields, signature, known hotspot) and, for
//! reports, written durably in a database transaction **before** it is acknowledged. Reports
//! go through one writer task that commits them in groups (one transaction for all reports
//! waiting at that moment), then acknowledges each one and streams it to the verifier.
//! An exact resubmission is acknowledged as a duplicate and not stored twice.
//!
//! A report's receive time is stamped by the writer when it takes the report's group (never
//! earlier than the group before), so reports reach the verifier in the order of their receive
//! times, group by group; after each group, and every second when idle, the writer tells the
//! verifier that everything received before that time has been delivered
//! ([`Event::Frontier`]), which is what lets the verifier record how far verification has come.

use crate::registry::Registry;
use crate::store::{HotspotRecord, NewReport, ReportKind, Store, Stored};
use crate::verifier::Event;
use crate::verifier::poc::{HotspotInfo, Received};
use prost::Message;
use schemas::beacon::{BEACON_PAYLOAD_SIZE, LOCAL_ENTROPY_SIZE, REMOTE_ENTROPY_SIZE};
use schemas::clock::SharedClock;
use schemas::proto::{
    Ack, BeaconReport, Entropy, LocationAssertion, RejectReason, Rejection, Request, Response,
    WitnessReport, request, response,
};
use schemas::sign::SingleSigned;
use schemas::{PublicKey, message_id};
use tokio::sync::{mpsc, oneshot, watch};

/// Most reports committed in one transaction.
const MAX_BATCH: usize = 1024;
/// Reports waiting for the writer before submitters wait for room.
const WRITE_QUEUE: usize = 16 * 1024;
/// Assertions may be at most this far in the future of the oracle's clock.
const MAX_ASSERTION_SKEW_MS: u64 = 10 * 60 * 1000;
/// How often an idle writer moves the verifier's frontier to its clock.
const IDLE_FRONTIER: std::time::Duration = std::time::Duration::from_secs(1);

/// A rejection with its reason, for the response and the logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub reason: RejectReason,
    pub detail: String,
}

fn rejected(reason: RejectReason, detail: impl Into<String>) -> Rejected {
    Rejected {
        reason,
        detail: detail.into(),
    }
}

impl From<Rejected> for Response {
    fn from(r: Rejected) -> Self {
        Response {
            msg: Some(response::Msg::Rejection(Rejection {
                reason: r.reason as i32,
                detail: r.detail,
            })),
        }
    }
}

struct WriteJob {
    report: NewReport,
    event: Event,
    reply: oneshot::Sender<Result<Stored, Rejected>>,
}

/// The request handler shared by every connection.
pub struct Ingest {
    store: Store,
    registry: Registry,
    clock: SharedClock,
    writer: mpsc::Sender<WriteJob>,
    entropy: watch::Receiver<Option<Entropy>>,
}

impl Ingest {
    /// The handler and its writer task (which ends when the handler is dropped).
    pub fn new(
        store: Store,
        registry: Registry,
        clock: SharedClock,
        verifier: mpsc::UnboundedSender<Event>,
        entropy: watch::Receiver<Option<Entropy>>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (writer, jobs) = mpsc::channel(WRITE_QUEUE);
        let task = tokio::spawn(write_loop(store.clone(), jobs, verifier, clock.clone()));
        (
            Self {
                store,
                registry,
                clock,
                writer,
                entropy,
            },
            task,
        )
    }

    /// Answers one request's bytes.
    pub async fn handle(&self, bytes: &[u8]) -> Response {
        let request = match Request::decode(bytes) {
            Ok(request) => request,
            Err(e) => {
                return rejected(RejectReason::Malformed, format!("not a Request: {e}")).into();
            }
        };
        let result = match request.msg {
            None => Err(rejected(RejectReason::Malformed, "empty request")),
            Some(request::Msg::Entropy(_)) => self.entropy(),
            Some(request::Msg::AssertLocation(assertion)) => self.assert_location(assertion).await,
            Some(request::Msg::Beacon(beacon)) => self.beacon(beacon).await,
            Some(request::Msg::Witness(witness)) => self.witness(witness).await,
        };
        result.unwrap_or_else(Response::from)
    }

    fn entropy(&self) -> Result<Response, Rejected> {
        let current = self.entropy.borrow().clone();
        let entropy =
            current.ok_or_else(|| rejected(RejectReason::NoEntropy, "no entropy published yet"))?;
        Ok(Response {
            msg: Some(response::Msg::Entropy(entropy)),
        })
    }

    async fn assert_location(&self, assertion: LocationAssertion) -> Result<Response, Rejected> {
        let (hotspot, owner) = assertion.verify().map_err(|e| {
            let reason = if assertion.hotspot_key.len() != 32 || assertion.owner_key.len() != 32 {
                RejectReason::InvalidField
            } else {
                RejectReason::BadSignature
            };
            rejected(reason, e.to_string())
        })?;
        let cell = h3o::CellIndex::try_from(assertion.location).map_err(|e| {
            rejected(
                RejectReason::InvalidField,
                format!("location is not an H3 cell: {e}"),
            )
        })?;
        if cell.resolution() != h3o::Resolution::Twelve {
            return Err(rejected(
                RejectReason::InvalidField,
                format!(
                    "location must be a res-12 cell, got res {}",
                    cell.resolution()
                ),
            ));
        }
        if !(0..=300).contains(&assertion.gain_ddbi) {
            return Err(rejected(
                RejectReason::InvalidField,
                format!("gain {} ddBi outside 0..=300", assertion.gain_ddbi),
            ));
        }
        if !(-500..=10_000).contains(&assertion.elevation_m) {
            return Err(rejected(
                RejectReason::InvalidField,
                format!("elevation {} m outside -500..=10000", assertion.elevation_m),
            ));
        }
        let now = self.clock.now_ms();
        if assertion.timestamp_ms > now + MAX_ASSERTION_SKEW_MS {
            return Err(rejected(
                RejectReason::InvalidField,
                "assertion timestamp is in the future",
            ));
        }
        let id = message_id(&assertion);
        if let Some(existing) = self.registry.get(&hotspot) {
            if existing.owner != owner {
                return Err(rejected(
                    RejectReason::OwnerMismatch,
                    format!("hotspot is owned by {}", existing.owner),
                ));
            }
            let same = existing.asserted_ms == assertion.timestamp_ms
                && u64::from(existing.location) == assertion.location;
            if same {
                return Ok(ack(id, true, existing.asserted_ms));
            }
            if existing.asserted_ms >= assertion.timestamp_ms {
                return Err(rejected(
                    RejectReason::StaleAssertion,
                    "an assertion at least as new is in force",
                ));
            }
        }
        let record = HotspotRecord {
            key: hotspot,
            owner,
            location: assertion.location,
            gain_ddbi: assertion.gain_ddbi,
            elevation_m: assertion.elevation_m,
            asserted_ms: assertion.timestamp_ms,
            full_hotspot: true,
        };
        self.store
            .save_assertion(&record, id, now, assertion.encode_to_vec())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, hotspot = %hotspot, "could not store assertion");
                rejected(
                    RejectReason::Unavailable,
                    "storage unavailable, retry later",
                )
            })?;
        if let Some(info) = HotspotInfo::from_record(&record) {
            self.registry.insert(hotspot, info);
        }
        tracing::info!(hotspot = %hotspot, owner = %owner, location = %cell, "hotspot asserted");
        Ok(ack(id, false, now))
    }

    async fn beacon(&self, beacon: BeaconReport) -> Result<Response, Rejected> {
        check_len("local_entropy", &beacon.local_entropy, LOCAL_ENTROPY_SIZE)?;
        check_len(
            "remote_entropy",
            &beacon.remote_entropy,
            REMOTE_ENTROPY_SIZE,
        )?;
        check_len("data", &beacon.data, BEACON_PAYLOAD_SIZE)?;
        let key = self.verify_reporter(&beacon)?;
        let report = NewReport {
            kind: ReportKind::Beacon,
            id: message_id(&beacon),
            hotspot_key: key,
            data: beacon.data.clone(),
            // Stamped by the writer.
            received_ms: 0,
            message: beacon.encode_to_vec(),
        };
        let event = Event::Beacon(Received {
            id: report.id,
            received_ms: report.received_ms,
            report: beacon,
        });
        self.store_report(report, event).await
    }

    async fn witness(&self, witness: WitnessReport) -> Result<Response, Rejected> {
        check_len("data", &witness.data, BEACON_PAYLOAD_SIZE)?;
        let key = self.verify_reporter(&witness)?;
        let report = NewReport {
            kind: ReportKind::Witness,
            id: message_id(&witness),
            hotspot_key: key,
            data: witness.data.clone(),
            // Stamped by the writer.
            received_ms: 0,
            message: witness.encode_to_vec(),
        };
        let event = Event::Witness(Received {
            id: report.id,
            received_ms: report.received_ms,
            report: witness,
        });
        self.store_report(report, event).await
    }

    fn verify_reporter<M: SingleSigned>(&self, message: &M) -> Result<PublicKey, Rejected> {
        check_len("hotspot_key", message.signer(), 32)?;
        let key = message
            .verify()
            .map_err(|e| rejected(RejectReason::BadSignature, e.to_string()))?;
        if self.registry.get(&key).is_none() {
            return Err(rejected(
                RejectReason::UnknownHotspot,
                format!("hotspot {key} is not onboarded"),
            ));
        }
        Ok(key)
    }

    async fn store_report(&self, report: NewReport, event: Event) -> Result<Response, Rejected> {
        let id = report.id;
        let (reply, done) = oneshot::channel();
        let unavailable = || {
            rejected(
                RejectReason::Unavailable,
                "oracle is shutting down, retry later",
            )
        };
        self.writer
            .send(WriteJob {
                report,
                event,
                reply,
            })
            .await
            .map_err(|_| unavailable())?;
        let stored = done.await.map_err(|_| unavailable())??;
        Ok(ack(id, stored.duplicate, stored.received_ms))
    }
}

fn check_len(field: &str, value: &[u8], expected: usize) -> Result<(), Rejected> {
    if value.len() != expected {
        return Err(rejected(
            RejectReason::InvalidField,
            format!("{field} must be {expected} bytes, got {}", value.len()),
        ));
    }
    Ok(())
}

fn ack(id: [u8; 32], duplicate: bool, received_ms: u64) -> Response {
    Response {
        msg: Some(response::Msg::Ack(Ack {
            id: id.to_vec(),
            duplicate,
            received_ms,
        })),
    }
}

/// Stamps waiting reports with their receive time and commits them in one transaction, then
/// acknowledges them, forwards new ones to the verifier and moves its frontier. A failed commit
/// acknowledges nothing (every submitter is told to retry).
async fn write_loop(
    store: Store,
    mut jobs: mpsc::Receiver<WriteJob>,
    verifier: mpsc::UnboundedSender<Event>,
    clock: SharedClock,
) {
    let mut batch: Vec<WriteJob> = Vec::with_capacity(MAX_BATCH);
    let mut last_stamp = 0u64;
    loop {
        let taken = tokio::select! {
            taken = jobs.recv_many(&mut batch, MAX_BATCH) => taken,
            () = tokio::time::sleep(IDLE_FRONTIER) => {
                // Nothing waits: whatever comes next is stamped at this time or later.
                last_stamp = last_stamp.max(clock.now_ms());
                let _ = verifier.send(Event::Frontier(last_stamp));
                continue;
            }
        };
        if taken == 0 {
            return;
        }
        last_stamp = last_stamp.max(clock.now_ms());
        for job in &mut batch {
            job.report.received_ms = last_stamp;
            job.event.stamp(last_stamp);
        }
        let reports: Vec<NewReport> = batch.iter().map(|job| job.report.clone()).collect();
        match store.insert_reports(&reports).await {
            Ok(outcomes) => {
                for (job, stored) in batch.drain(..).zip(outcomes) {
                    if !stored.duplicate {
                        let _ = verifier.send(job.event);
                    }
                    let _ = job.reply.send(Ok(stored));
                }
                // Every report stamped before this one was in this group or an earlier one.
                let _ = verifier.send(Event::Frontier(last_stamp));
            }
            Err(e) => {
                tracing::error!(error = %e, reports = batch.len(), "could not store reports; submitters will retry");
                for job in batch.drain(..) {
                    let _ = job.reply.send(Err(rejected(
                        RejectReason::Unavailable,
                        "storage unavailable, retry later",
                    )));
                }
            }
        }
    }
}

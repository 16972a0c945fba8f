//! Ingest: every request is decoded and checked, and reports are written durably in a
//! database transaction **before** they are acknowledged. A request carries one report or a
//! batch of them (`ReportBatch`, answered with one result per report); either way each report
//! gets its cheap field checks here, then goes through the pipeline (`ingest/pipeline.rs`):
//! signatures verified in batches on both cores, then one writer task that commits groups of
//! reports (one transaction for all waiting), acknowledges each report and streams new ones to
//! the verifier. An exact resubmission is acknowledged as a duplicate and not stored twice.
//!
//! A report's receive time is when its request arrived, except that the writer never lets it
//! go back in time (a report taken after another is stamped no earlier), so reports reach the
//! verifier in the order of their receive times; after each group, and every second when
//! idle, the writer tells the verifier that everything received before that time has been
//! delivered ([`Event::Frontier`]), which is what lets the verifier record how far
//! verification has come.

mod pipeline;
mod reports;

use crate::registry::Registry;
use crate::store::{HotspotRecord, Store};
use crate::verifier::Event;
use crate::verifier::poc::HotspotInfo;
use pipeline::Pipeline;
use prost::Message;
use reports::{ReportMessage, ack, check_beacon, check_report, check_witness};
use schemas::clock::SharedClock;
use schemas::message_id;
use schemas::proto::{
    Entropy, LocationAssertion, RejectReason, Rejection, ReportBatch, ReportResults, Request,
    Response, request, response,
};
use tokio::sync::{mpsc, watch};

/// Assertions may be at most this far in the future of the oracle's clock.
const MAX_ASSERTION_SKEW_MS: u64 = 10 * 60 * 1000;

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

/// The request handler shared by every connection.
pub struct Ingest {
    store: Store,
    registry: Registry,
    clock: SharedClock,
    pipeline: Pipeline,
    entropy: watch::Receiver<Option<Entropy>>,
}

impl Ingest {
    /// The handler and its pipeline's task (which ends when the handler is dropped).
    pub fn new(
        store: Store,
        registry: Registry,
        clock: SharedClock,
        verifier: mpsc::UnboundedSender<Event>,
        entropy: watch::Receiver<Option<Entropy>>,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (pipeline, task) =
            Pipeline::start(store.clone(), registry.clone(), verifier, clock.clone());
        (
            Self {
                store,
                registry,
                clock,
                pipeline,
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
            Some(request::Msg::Beacon(beacon)) => self.report(check_beacon(beacon)).await,
            Some(request::Msg::Witness(witness)) => self.report(check_witness(witness)).await,
            Some(request::Msg::Reports(batch)) => self.reports(batch).await,
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
                return Ok(ack_response(ack(id, true, existing.asserted_ms)));
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
        Ok(ack_response(ack(id, false, now)))
    }

    /// One report alone: answered with its `Ack` or `Rejection`.
    async fn report(&self, checked: Result<ReportMessage, Rejected>) -> Result<Response, Rejected> {
        let received_ms = self.clock.now_ms();
        let outcome = self.pipeline.submit(vec![checked], received_ms).await.pop();
        outcome
            .unwrap_or_else(|| {
                Err(rejected(
                    RejectReason::Unavailable,
                    "no outcome, retry later",
                ))
            })
            .map(ack_response)
    }

    /// A batch: one result per report, in order. Refused whole when empty or larger than
    /// [`schemas::MAX_REPORTS_PER_REQUEST`].
    async fn reports(&self, batch: ReportBatch) -> Result<Response, Rejected> {
        let count = batch.reports.len();
        if count == 0 {
            return Err(rejected(RejectReason::InvalidField, "empty report batch"));
        }
        if count > schemas::MAX_REPORTS_PER_REQUEST {
            return Err(rejected(
                RejectReason::TooLarge,
                format!(
                    "{count} reports in one request, at most {}",
                    schemas::MAX_REPORTS_PER_REQUEST
                ),
            ));
        }
        let received_ms = self.clock.now_ms();
        let checked = batch.reports.into_iter().map(check_report).collect();
        let outcomes = self.pipeline.submit(checked, received_ms).await;
        Ok(Response {
            msg: Some(response::Msg::Results(ReportResults {
                results: outcomes.into_iter().map(reports::result).collect(),
            })),
        })
    }
}

fn ack_response(ack: schemas::proto::Ack) -> Response {
    Response {
        msg: Some(response::Msg::Ack(ack)),
    }
}

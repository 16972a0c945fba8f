//! Report requests before the pipeline: the cheap per-report field checks (lengths), and the
//! answers (one `Ack` or `Rejection` per report).

use super::{Rejected, rejected};
use schemas::beacon::{BEACON_PAYLOAD_SIZE, LOCAL_ENTROPY_SIZE, REMOTE_ENTROPY_SIZE};
use schemas::proto::{
    Ack, BeaconReport, RejectReason, Rejection, Report, ReportResult, WitnessReport, report,
    report_result,
};
use schemas::sign::SingleSigned;

/// A beacon or witness report.
#[derive(Debug, Clone)]
pub(crate) enum ReportMessage {
    Beacon(BeaconReport),
    Witness(WitnessReport),
}

/// What became of one report: acknowledged (stored now or before) or rejected.
pub(crate) type Outcome = Result<Ack, Rejected>;

/// The field checks of a beacon report (no signature yet).
pub(crate) fn check_beacon(beacon: BeaconReport) -> Result<ReportMessage, Rejected> {
    check_len("local_entropy", &beacon.local_entropy, LOCAL_ENTROPY_SIZE)?;
    check_len(
        "remote_entropy",
        &beacon.remote_entropy,
        REMOTE_ENTROPY_SIZE,
    )?;
    check_len("data", &beacon.data, BEACON_PAYLOAD_SIZE)?;
    check_len("hotspot_key", beacon.signer(), 32)?;
    Ok(ReportMessage::Beacon(beacon))
}

/// The field checks of a witness report (no signature yet).
pub(crate) fn check_witness(witness: WitnessReport) -> Result<ReportMessage, Rejected> {
    check_len("data", &witness.data, BEACON_PAYLOAD_SIZE)?;
    check_len("hotspot_key", witness.signer(), 32)?;
    Ok(ReportMessage::Witness(witness))
}

/// The field checks of one report of a batch.
pub(crate) fn check_report(report: Report) -> Result<ReportMessage, Rejected> {
    match report.report {
        Some(report::Report::Beacon(beacon)) => check_beacon(beacon),
        Some(report::Report::Witness(witness)) => check_witness(witness),
        None => Err(rejected(RejectReason::Malformed, "empty report")),
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

pub(crate) fn ack(id: [u8; 32], duplicate: bool, received_ms: u64) -> Ack {
    Ack {
        id: id.to_vec(),
        duplicate,
        received_ms,
    }
}

/// One entry of a `ReportResults`.
pub(crate) fn result(outcome: Outcome) -> ReportResult {
    ReportResult {
        result: Some(match outcome {
            Ok(ack) => report_result::Result::Ack(ack),
            Err(r) => report_result::Result::Rejection(Rejection {
                reason: r.reason as i32,
                detail: r.detail,
            }),
        }),
    }
}

//! The task that delivers the outbox: what is queued goes out in batches (one `ReportBatch`
//! request for up to [`schemas::MAX_REPORTS_PER_REQUEST`] reports within the request size
//! limit; a report alone when only one waits), and each report is retired according to its own
//! result: acknowledged (new or duplicate) or refused for good -> retired; `UNAVAILABLE` or a
//! transport error -> kept, and sent again first (in order; after a backoff for `UNAVAILABLE`).

use super::{Outbox, kind};
use crate::backoff::Backoff;
use crate::oracle_client::OracleClient;
use crate::stats::AgentStats;
use schemas::proto::{
    Ack, RejectReason, Rejection, Report, ReportBatch, ReportResult, Request, Response, report,
    report_result, request, response,
};
use std::sync::atomic::Ordering;
use tracing::{debug, warn};

/// Room left in a request for the batch's own framing (a few bytes per report).
const FRAMING_BYTES: usize = 4 * schemas::MAX_REPORTS_PER_REQUEST;

/// What the oracle said about one report.
enum Answer {
    Acked(Ack),
    Refused(Rejection),
    /// `UNAVAILABLE` or an answer that makes no sense: send again after a backoff.
    Retry,
    /// A transport error: send again (the client waits out its reconnect backoff).
    Resend,
}

/// Delivers the outbox's reports in order, forever. `now_ms` is the agent's clock (for the age
/// bound).
pub async fn deliver(
    outbox: &Outbox,
    oracle: &OracleClient,
    stats: &AgentStats,
    now_ms: impl Fn() -> u64,
) {
    let mut backoff = Backoff::default();
    // Reports up to this sequence number go one by one (after an oracle refused a batch whole).
    let mut alone_through = None;
    let max_bytes = transport::rpc::MAX_REQUEST_BYTES - FRAMING_BYTES;
    loop {
        let mut batch = outbox
            .front_batch(&now_ms, schemas::MAX_REPORTS_PER_REQUEST, max_bytes)
            .await;
        stats
            .reports_dropped
            .fetch_add(outbox.take_expired(), Ordering::Relaxed);
        if alone_through.is_some_and(|seq| batch[0].0 <= seq) {
            batch.truncate(1);
        }
        let answers = if batch.len() == 1 {
            vec![submit_one(oracle, &batch[0].1).await]
        } else {
            match submit_batch(oracle, &batch).await {
                Some(answers) => answers,
                None => {
                    alone_through = batch.last().map(|(seq, _)| *seq);
                    continue;
                }
            }
        };
        let (answered, back_off) = settle(&batch, answers, stats);
        outbox.remove_answered(&answered);
        if back_off {
            let delay = backoff.next_delay();
            debug!(retry_in = ?delay, "oracle could not take every report; retrying");
            tokio::time::sleep(delay).await;
        } else {
            backoff.reset();
        }
    }
}

/// The reports answered for good (sequence numbers, ascending), counted and logged, and
/// whether one must be sent again after a backoff.
fn settle(batch: &[(u64, Request)], answers: Vec<Answer>, stats: &AgentStats) -> (Vec<u64>, bool) {
    let mut answered = Vec::with_capacity(batch.len());
    let mut back_off = false;
    for ((seq, request), answer) in batch.iter().zip(answers) {
        let kind = kind(request);
        match answer {
            Answer::Acked(ack) => {
                count_ack(request, stats);
                debug!(kind, id = %hex::encode(&ack.id), duplicate = ack.duplicate, "report acknowledged");
            }
            Answer::Refused(rejection) => {
                AgentStats::bump(&stats.rejections);
                warn!(kind, reason = ?rejection.reason(), detail = %rejection.detail, "report rejected");
            }
            Answer::Retry => {
                back_off = true;
                continue;
            }
            Answer::Resend => continue,
        }
        answered.push(*seq);
    }
    (answered, back_off)
}

async fn submit_one(oracle: &OracleClient, request: &Request) -> Answer {
    match oracle.submit(request).await {
        Ok(Response {
            msg: Some(response::Msg::Ack(ack)),
        }) => Answer::Acked(ack),
        Ok(Response {
            msg: Some(response::Msg::Rejection(rejection)),
        }) => classify(rejection),
        Ok(response) => {
            warn!(
                kind = kind(request),
                ?response,
                "unexpected answer to a report; retrying"
            );
            Answer::Retry
        }
        Err(error) => {
            debug!(kind = kind(request), %error, "report not delivered; retrying");
            Answer::Resend
        }
    }
}

/// One `ReportBatch`; `None` when the oracle refused the request whole for good (an oracle
/// that does not know batches answers `MALFORMED`): those reports then go one by one.
async fn submit_batch(oracle: &OracleClient, batch: &[(u64, Request)]) -> Option<Vec<Answer>> {
    let request = Request {
        msg: Some(request::Msg::Reports(ReportBatch {
            reports: batch.iter().filter_map(|(_, r)| as_report(r)).collect(),
        })),
    };
    let again = |answer: fn() -> Answer| Some(batch.iter().map(|_| answer()).collect());
    match oracle.submit(&request).await {
        Ok(Response {
            msg: Some(response::Msg::Results(results)),
        }) if results.results.len() == batch.len() => {
            Some(results.results.into_iter().map(answer_of).collect())
        }
        Ok(Response {
            msg: Some(response::Msg::Rejection(rejection)),
        }) if rejection.reason() != RejectReason::Unavailable => {
            warn!(reports = batch.len(), reason = ?rejection.reason(), detail = %rejection.detail, "oracle refused a batch; sending these reports one by one");
            None
        }
        Ok(response) => {
            if !matches!(&response.msg, Some(response::Msg::Rejection(_))) {
                warn!(
                    reports = batch.len(),
                    "unexpected answer to a batch; retrying"
                );
            }
            again(|| Answer::Retry)
        }
        Err(error) => {
            debug!(reports = batch.len(), %error, "batch not delivered; retrying");
            again(|| Answer::Resend)
        }
    }
}

fn answer_of(result: ReportResult) -> Answer {
    match result.result {
        Some(report_result::Result::Ack(ack)) => Answer::Acked(ack),
        Some(report_result::Result::Rejection(rejection)) => classify(rejection),
        None => Answer::Retry,
    }
}

fn classify(rejection: Rejection) -> Answer {
    if rejection.reason() == RejectReason::Unavailable {
        Answer::Retry
    } else {
        Answer::Refused(rejection)
    }
}

fn as_report(request: &Request) -> Option<Report> {
    let report = match &request.msg {
        Some(request::Msg::Beacon(b)) => report::Report::Beacon(b.clone()),
        Some(request::Msg::Witness(w)) => report::Report::Witness(w.clone()),
        _ => return None,
    };
    Some(Report {
        report: Some(report),
    })
}

fn count_ack(request: &Request, stats: &AgentStats) {
    match request.msg {
        Some(request::Msg::Beacon(_)) => AgentStats::bump(&stats.beacons_acked),
        Some(request::Msg::Witness(_)) => AgentStats::bump(&stats.witnesses_acked),
        _ => {}
    }
}

//! Resuming after a restart: the state and the stored reports that have no verdict yet, read
//! back one window of receive time at a time; and witnesses that belong to no proof of
//! coverage.

use super::ahead::{Early, Speculation};
use super::poc::{Received, WitnessVerdict};
use super::reason::{Invalid, Side};
use super::spent::On;
use super::{Event, Pending, STORE_RETRY, Verifier};
use crate::store::{ReportKind, Store, StoreError, StoredReport};
use prost::Message;
use schemas::PublicKey;
use schemas::proto::{BeaconReport, WitnessReport};
use std::collections::HashMap;
use std::sync::Arc;

impl Verifier {
    pub(super) async fn resume(&mut self) -> Result<(), StoreError> {
        let since = self.clock.now_ms().saturating_sub(7 * 24 * 3600 * 1000);
        for entropy in self.store.entropy_since(since).await? {
            self.add(Event::Entropy(entropy));
        }
        let progress = self.store.progress().await?;
        let (state, changes) = self.store.hotspot_states_and_changes().await?;
        self.state = state;
        self.progress.resumed(&progress, changes);
        self.denylist = std::sync::Arc::new(self.store.denylist().await?);
        // The backlog is read one window of receive time at a time, and each window's proofs
        // of coverage are closed before the next is read (as if the oracle had been running),
        // so memory is bounded by a window's reports, not by the backlog. Every report
        // received before `verified_before_ms` has a verdict: the search starts there. The
        // next window is read (and decoded) while this one is verified.
        let now = self.clock.now_ms();
        let mut resumed = (0u64, 0u64);
        let (store, window_ms) = (self.store.clone(), self.resume_window_ms);
        // A refresh may take the next window early, to check it ahead ([`Verifier::speculate`]).
        let read = |from_ms| tokio::spawn(read_window(store.clone(), from_ms, window_ms, now));
        self.reading = Some(read(progress.verified_before_ms));
        loop {
            let window = match (self.read_early.take(), self.reading.take()) {
                (Some(window), _) => window,
                (None, Some(task)) => {
                    let waiting = std::time::Instant::now();
                    let window = task.await;
                    self.spent.add(On::Reading, waiting);
                    window.map_err(|e| StoreError::Task(e.to_string()))?
                }
                (None, None) => break,
            };
            let Some(window) = window? else { break };
            let last = window.to == u64::MAX;
            if !last {
                self.reading = Some(read(window.to));
            }
            resumed.0 += window.beacons.len() as u64;
            resumed.1 += window.witnesses.len() as u64;
            // The checks made ahead hold the window's reports until they are done.
            self.finish_speculating().await;
            for beacon in unshare(window.beacons) {
                self.add(Event::Beacon(beacon));
            }
            for witness in unshare(window.witnesses) {
                self.add(Event::Witness(witness));
            }
            if last {
                // The rest is closed by the clock, as live reports are. Reports received
                // before the start were all stored before it, and are read by now; later ones
                // come from ingest.
                break;
            }
            self.progress.frontier_ms = window.to;
            while let Err(e) = self.close_due(window.to).await {
                tracing::error!(error = %e, "could not store verdicts while resuming; retrying");
                tokio::time::sleep(STORE_RETRY).await;
            }
            if (resumed.0 + resumed.1) > 0 && window.from / 3_600_000 != window.to / 3_600_000 {
                let spent = self.spent.seconds();
                tracing::info!(
                    beacons = resumed.0,
                    witnesses = resumed.1,
                    up_to_ms = window.to,
                    waited_for_reads_s = spent.reading_s,
                    waited_for_stores_s = spent.storing_s,
                    waited_for_checks_s = spent.checking_s,
                    refreshing_s = spent.refreshing_s,
                    "resuming verification of stored reports"
                );
            }
        }
        // Every report stamped before this verifier was created was stored by then (ingest
        // starts after it), so it was read above; later ones come from ingest, which moves the
        // frontier on ([`Event::Frontier`]).
        self.progress.frontier_ms = self.progress.frontier_ms.max(self.created_ms);
        if resumed != (0, 0) {
            let spent = self.spent.seconds();
            tracing::info!(
                beacons = resumed.0,
                witnesses = resumed.1,
                waited_for_reads_s = spent.reading_s,
                waited_for_stores_s = spent.storing_s,
                waited_for_checks_s = spent.checking_s,
                refreshing_s = spent.refreshing_s,
                "stored reports read back for verification"
            );
        }
        Ok(())
    }

    /// Starts checking the proofs of coverage that the restart backlog's next window will
    /// close, if it has been read and nothing is being checked ahead already: called by a
    /// refresh, during which the checks of the current window are soon done. `epoch` is the
    /// one the parameters in force are for.
    pub(super) async fn speculate(&mut self, epoch: u64) {
        if !self.check_ahead || self.speculating.is_some() {
            return;
        }
        if !self.reading.as_ref().is_some_and(|task| task.is_finished()) {
            return;
        }
        let Some(task) = self.reading.take() else {
            return;
        };
        let read = task
            .await
            .map_err(|e| StoreError::Task(e.to_string()))
            .and_then(|window| window);
        if let Ok(Some(window)) = &read
            && window.to != u64::MAX
        {
            let window_ms = self.closes_after_ms();
            let mut early = HashMap::new();
            for (data, pending) in &self.pending {
                if pending
                    .beacon
                    .as_ref()
                    .is_some_and(|b| b.received_ms.saturating_add(window_ms) <= window.to)
                {
                    early.insert(data.clone(), Early::of(pending));
                }
            }
            for beacon in window.beacons.iter() {
                if let Some(pending) = self.pending.get(&beacon.report.data)
                    && !early.contains_key(&beacon.report.data)
                {
                    early.insert(beacon.report.data.clone(), Early::of(pending));
                }
            }
            let speculation = Speculation {
                ahead: self.ahead(),
                beacons: Arc::clone(&window.beacons),
                witnesses: Arc::clone(&window.witnesses),
                early,
                window_ms,
                closes_by_ms: window.to,
                epoch,
            };
            // What was checked ahead for this window is taken by now.
            self.speculated = None;
            match self.checker() {
                Ok(checker) => {
                    self.speculating = Some(checker.run(move || speculation.check()));
                }
                Err(e) => tracing::warn!(error = %e, "cannot check the next window ahead"),
            }
        }
        self.read_early = Some(read);
    }

    /// Witnesses with no beacon: `too_late` when their proof of coverage already closed,
    /// `stale` when no beacon came.
    pub(super) async fn judge_lone(
        &mut self,
        data: &[u8],
        pending: &Pending,
        now_ms: u64,
    ) -> Result<(), StoreError> {
        let closed = self.closed.get(data).copied();
        let epoch = match (closed, pending.witnesses.first()) {
            (Some(c), _) => c.epoch,
            (None, Some(w)) => self.params.epoch_of(w.received_ms),
            (None, None) => return Ok(()),
        };
        self.use_params_of(epoch).await?;
        let verdicts: Vec<(WitnessVerdict, u64)> = pending
            .witnesses
            .iter()
            .map(|w| {
                let (reason, epoch) = match closed {
                    Some(c) => {
                        let lag_ms = w.received_ms.saturating_sub(c.beacon_ms);
                        let max_lag_ms = self.params.max_beacon_to_witness_lag.as_millis() as u64;
                        (Invalid::TooLate { lag_ms, max_lag_ms }, c.epoch)
                    }
                    None => {
                        let waited_ms = now_ms
                            .min(w.received_ms + self.params.stale_after.as_millis() as u64)
                            - w.received_ms;
                        (
                            Invalid::Stale { waited_ms },
                            self.params.epoch_of(w.received_ms),
                        )
                    }
                };
                let witness = PublicKey::from_slice(&w.report.hotspot_key)
                    .unwrap_or(PublicKey::from_bytes([0; 32]));
                let verdict = WitnessVerdict {
                    witness_id: w.id,
                    witness,
                    received_ms: w.received_ms,
                    outcome: Err((Side::Witness, reason)),
                    passed_regular: false,
                    evidence: None,
                    selected: false,
                    reward_units_e4: 0,
                };
                (verdict, epoch)
            })
            .collect();
        self.stats.witness_verdicts += verdicts.len() as u64;
        self.store.save_lone_witnesses(&verdicts).await
    }
}

/// One window of the restart backlog: its reports without a verdict, decoded (shared with the
/// checks made ahead).
pub(super) struct Window {
    from: u64,
    /// `u64::MAX` for the last window (everything left).
    to: u64,
    beacons: Arc<Vec<Received<BeaconReport>>>,
    witnesses: Arc<Vec<Received<WitnessReport>>>,
}

/// The reports of a window, copied only if they are still shared.
fn unshare<T: Clone>(reports: Arc<Vec<T>>) -> Vec<T> {
    Arc::try_unwrap(reports).unwrap_or_else(|shared| (*shared).clone())
}

/// The window of `window_ms` that holds the first report without a verdict received at or
/// after `from_ms`; `None` when there is none. The window reaching past `now_ms` takes
/// everything left, including reports stamped after it (a clock that went back): nothing
/// stored is left out.
async fn read_window(
    store: Store,
    from_ms: u64,
    window_ms: u64,
    now_ms: u64,
) -> Result<Option<Window>, StoreError> {
    let Some(first) = store.next_unverified_ms(from_ms).await? else {
        return Ok(None);
    };
    let from = first - first % window_ms;
    let to = match from.saturating_add(window_ms) {
        to if to > now_ms => u64::MAX,
        to => to,
    };
    let beacons = store
        .unverified_between(ReportKind::Beacon, from, to)
        .await?;
    let witnesses = store
        .unverified_between(ReportKind::Witness, from, to)
        .await?;
    Ok(Some(Window {
        from,
        to,
        beacons: Arc::new(beacons.iter().filter_map(decode).collect()),
        witnesses: Arc::new(witnesses.iter().filter_map(decode).collect()),
    }))
}

fn decode<M: Message + Default>(report: &StoredReport) -> Option<Received<M>> {
    match M::decode(report.message.as_slice()) {
        Ok(message) => Some(Received {
            id: report.id,
            received_ms: report.received_ms,
            report: message,
        }),
        Err(e) => {
            tracing::error!(id = hex::encode(report.id), error = %e, "stored report does not decode; skipped");
            None
        }
    }
}

//! Storing verdicts: batches written in the background while the next is verified, the
//! progress each batch records (`verified_before_ms`, see [`Verifier::verified_before`]), the
//! periodic checkpoint of the hotspot state, and undoing what could not be stored.

use super::poc::PocVerdict;
use super::state::{BeaconEffects, HotspotState, StateBook};
use super::{Closed, Pending, Verifier, VerifierStats};
use crate::store::{
    BatchProgress, Checkpoint, CommitOrder, Inserted, PocRow, Progress as StoredProgress,
    StoreError,
};
use crate::trust;
use schemas::PublicKey;
use std::collections::HashMap;
use std::sync::Arc;

/// Receive time between two checkpoints of the hotspot state (default). A restart folds in the
/// verdicts stored since the last one (at most this much receive time, plus what was pending),
/// and each checkpoint writes every hotspot changed since the last (at Helium's peak, nearly
/// all of them: ~1 M rows).
pub const CHECKPOINT_EVERY_MS: u64 = 6 * 3600 * 1000;
/// Batches of verdicts being stored at once (default): the verifier goes on while they are
/// written, each on its own connection on PostgreSQL, and they commit in order.
pub const STORES_IN_FLIGHT: usize = 3;
/// Batches between two exact computations of the earliest pending receive time (reports only
/// arrive at or after the frontier, so an older value stays a valid lower bound meanwhile).
const PENDING_MIN_EVERY: u32 = 32;

pub(super) type Batch = Vec<PocRow>;

/// Verified proofs of coverage not stored yet, and what is needed to undo them in memory when
/// storing fails (they then go back to pending, as before they were closed).
#[derive(Debug, Default)]
pub(super) struct Unsaved {
    pub(super) verdicts: Batch,
    pub(super) pendings: Vec<(Vec<u8>, Pending)>,
    pub(super) prior_states: HashMap<PublicKey, Option<HotspotState>>,
    pub(super) prior_closed: Vec<(Vec<u8>, Option<Closed>)>,
    /// What these verdicts added to the counters.
    pub(super) counted: VerifierStats,
}

/// A batch of verdicts being stored; `unsaved` holds what undoes it (its verdicts are in
/// `batch`), `dirty_before` the hotspots changed since the last checkpoint when this batch
/// carries a new one.
pub(super) struct InFlight {
    task: tokio::task::JoinHandle<Result<Inserted, StoreError>>,
    batch: Arc<Batch>,
    unsaved: Unsaved,
    verified_before_ms: u64,
    dirty_before: Option<StateBook>,
}

/// The progress the verifier records with its verdicts.
#[derive(Debug)]
pub(super) struct Progress {
    /// Receive time between two checkpoints.
    pub(super) checkpoint_every_ms: u64,
    /// Every report received before this has been delivered to the verifier (read back from
    /// the database or received from ingest).
    pub(super) frontier_ms: u64,
    /// The state of every hotspot changed by a stored verdict since the last checkpoint (only
    /// the changes: a checkpoint merges them with what is stored, field by field).
    dirty: StateBook,
    /// `verified_before_ms` of the last checkpoint.
    checkpoint_ms: Option<u64>,
    /// Earliest receive time pending when last computed, and batches since.
    pending_min: Option<u64>,
    batches_since_min: u32,
    /// The last `verified_before_ms` stored.
    pub(super) stored_ms: u64,
    /// The earliest receive time of the proof of coverage being closed (out of pending, not
    /// yet verified: a density or trust refresh may store verdicts meanwhile).
    pub(super) closing_ms: Option<u64>,
}

impl Default for Progress {
    fn default() -> Self {
        Self {
            checkpoint_every_ms: CHECKPOINT_EVERY_MS,
            frontier_ms: 0,
            dirty: StateBook::new(),
            checkpoint_ms: None,
            pending_min: None,
            batches_since_min: 0,
            stored_ms: 0,
            closing_ms: None,
        }
    }
}

impl Progress {
    /// The pending minimum must be computed afresh (reports went back to pending).
    fn forget_pending_min(&mut self) {
        self.pending_min = None;
    }

    /// Continues from what is stored: `changes` are the hotspot-state changes folded in since
    /// the stored checkpoint (the next checkpoint writes them), which stays the checkpoint
    /// until `verified_before_ms` has moved `checkpoint_every_ms` past it.
    pub(super) fn resumed(&mut self, stored: &StoredProgress, changes: StateBook) {
        self.dirty = changes;
        self.stored_ms = stored.verified_before_ms;
        self.checkpoint_ms =
            (stored.state_replay_from_ms < i64::MAX as u64).then_some(stored.state_replay_from_ms);
        self.pending_min = None;
    }
}

impl Verifier {
    /// Every report received before the returned time has a verdict once what is verified now
    /// is stored: the earliest receive time still pending, at most the frontier.
    pub(super) fn verified_before(&mut self) -> u64 {
        let progress = &mut self.progress;
        if progress.pending_min.is_none() || progress.batches_since_min >= PENDING_MIN_EVERY {
            progress.pending_min = Some(earliest_pending(&self.pending));
            progress.batches_since_min = 0;
        }
        progress.batches_since_min += 1;
        progress
            .pending_min
            .unwrap_or(0)
            .min(progress.closing_ms.unwrap_or(u64::MAX))
            .min(progress.frontier_ms)
    }

    /// Stores every verified, unsaved proof of coverage, after the batches being stored (if
    /// any), and waits until all are stored. When storing fails, the effects on memory of
    /// every proof of coverage not stored are undone and they are pending again.
    pub(super) async fn store_unsaved(&mut self) -> Result<(), StoreError> {
        self.store_unsaved_behind().await?;
        self.finish_in_flight().await
    }

    /// Starts storing the verified, unsaved proofs of coverage in the background (one
    /// transaction; with a verdict batch of 1, one per proof of coverage), so the next batch is
    /// verified while this one is written, first waiting for the oldest batch being stored
    /// when `stores_in_flight` are. Batches commit in the order they were verified
    /// ([`CommitOrder`]), so the stored progress never runs ahead of the stored verdicts.
    pub(super) async fn store_unsaved_behind(&mut self) -> Result<(), StoreError> {
        self.take_in_stored().await?;
        while self.in_flight.len() >= self.stores_in_flight {
            self.finish_oldest().await?;
        }
        if self.unsaved.verdicts.is_empty() {
            return Ok(());
        }
        let mut unsaved = std::mem::take(&mut self.unsaved);
        let batch = Arc::new(std::mem::take(&mut unsaved.verdicts));
        let verified_before_ms = self.verified_before();
        // The last checkpoint, stored or on its way.
        let last_checkpoint = self
            .in_flight
            .iter()
            .rev()
            .find(|f| f.dirty_before.is_some())
            .map(|f| f.verified_before_ms)
            .or(self.progress.checkpoint_ms);
        let due = last_checkpoint.is_none_or(|last| {
            verified_before_ms >= last.saturating_add(self.progress.checkpoint_every_ms)
        });
        let (progress, dirty_before) = if due {
            // Changes since the last checkpoint: those stored, those being stored (they commit
            // before this batch) and this batch's.
            let before = std::mem::take(&mut self.progress.dirty);
            let mut states = before.clone();
            for (verdict, effects) in self
                .in_flight
                .iter()
                .flat_map(|f| f.batch.iter())
                .chain(batch.iter())
            {
                fold(&mut states, verdict, *effects);
            }
            let mut states: Vec<_> = states.into_iter().collect();
            states.sort_unstable_by_key(|(key, _)| *key);
            let checkpoint = Checkpoint {
                states,
                replay_from_ms: verified_before_ms,
            };
            let progress = BatchProgress {
                verified_before_ms,
                checkpoint: Some(checkpoint),
            };
            (progress, Some(before))
        } else {
            let progress = BatchProgress {
                verified_before_ms,
                checkpoint: None,
            };
            (progress, None)
        };
        let store = self.store.clone();
        let one_by_one = self.verdict_batch <= 1;
        let mut turn = self.commit_order.next_turn();
        let pocs = Arc::clone(&batch);
        let task = tokio::spawn(async move {
            let result = if one_by_one {
                turn.wait().await?;
                let mut all = Inserted::default();
                for poc in pocs.iter() {
                    all = all + store.save_poc(poc, &progress).await?;
                }
                Ok(all)
            } else {
                store.save_pocs_in_turn(&pocs, &progress, &mut turn).await
            };
            if result.is_ok() {
                turn.committed();
            }
            result
        });
        self.in_flight.push_back(InFlight {
            task,
            batch,
            unsaved,
            verified_before_ms,
            dirty_before,
        });
        Ok(())
    }

    /// Takes in the batches whose storing has ended, oldest first, without waiting for the
    /// others: on a quiet oracle the last batch would otherwise stay in flight, its verdicts
    /// stored but not counted, until more are verified.
    async fn take_in_stored(&mut self) -> Result<(), StoreError> {
        while self.in_flight.front().is_some_and(|f| f.task.is_finished()) {
            self.finish_oldest().await?;
        }
        Ok(())
    }

    /// Waits for every batch being stored, oldest first.
    pub(super) async fn finish_in_flight(&mut self) -> Result<(), StoreError> {
        while !self.in_flight.is_empty() {
            self.finish_oldest().await?;
        }
        Ok(())
    }

    /// Waits for the oldest batch being stored. When it failed, the batches after it failed
    /// too (they commit only after it), and they and the unsaved proofs of coverage verified
    /// after them (judged on its hotspot states) are undone, newest first, and all are pending
    /// again.
    async fn finish_oldest(&mut self) -> Result<(), StoreError> {
        let Some(mut oldest) = self.in_flight.pop_front() else {
            return Ok(());
        };
        let waiting = std::time::Instant::now();
        let result = join(&mut oldest.task).await;
        self.spent.add(super::spent::On::Storing, waiting);
        match result {
            Ok(inserted) => {
                self.count_in_trust_window(&oldest.batch, inserted);
                if oldest.dirty_before.is_some() {
                    self.progress.checkpoint_ms = Some(oldest.verified_before_ms);
                } else {
                    for (verdict, effects) in oldest.batch.iter() {
                        fold(&mut self.progress.dirty, verdict, *effects);
                    }
                }
                self.progress.stored_ms = self.progress.stored_ms.max(oldest.verified_before_ms);
                // Progress for long catch-ups (a restart with many stored reports).
                self.stats_tx.send_replace(self.stored_stats());
                Ok(())
            }
            Err(e) => {
                let mut failed = vec![oldest];
                while let Some(mut newer) = self.in_flight.pop_front() {
                    // Rolled back by now or soon: it waits for the batch before to commit.
                    if let Ok(inserted) = join(&mut newer.task).await {
                        tracing::error!(
                            ?inserted,
                            "a batch of verdicts was stored after one before it failed"
                        );
                    }
                    failed.push(newer);
                }
                self.commit_order = CommitOrder::default();
                // The changes since the last stored checkpoint are what they were before any
                // checkpoint that failed, plus those of the batches stored since (folded in
                // as they were stored).
                for before in failed.iter_mut().filter_map(|f| f.dirty_before.take()) {
                    for (key, state) in before {
                        self.progress.dirty.entry(key).or_default().merge(&state);
                    }
                }
                let newest = std::mem::take(&mut self.unsaved);
                if !newest.pendings.is_empty() {
                    self.undo(newest);
                }
                for batch in failed.into_iter().rev() {
                    self.undo(batch.unsaved);
                }
                Err(e)
            }
        }
    }

    /// Stores `verified_before_ms` on its own when nothing is being stored and it moved on by
    /// a minute or more (an idle oracle, or the end of a flush).
    pub(super) async fn save_progress_when_idle(&mut self) -> Result<(), StoreError> {
        if !self.in_flight.is_empty() || !self.unsaved.verdicts.is_empty() {
            return Ok(());
        }
        self.progress.forget_pending_min();
        let verified_before_ms = self.verified_before();
        if verified_before_ms < self.progress.stored_ms.saturating_add(60_000) {
            return Ok(());
        }
        self.store.save_verified_before(verified_before_ms).await?;
        self.progress.stored_ms = verified_before_ms;
        Ok(())
    }

    /// Undoes the in-memory effects of verdicts that could not be stored; their reports are
    /// pending again.
    fn undo(&mut self, unsaved: Unsaved) {
        for (key, prior) in unsaved.prior_states {
            match prior {
                Some(s) => self.state.insert(key, s),
                None => self.state.remove(&key),
            };
        }
        for (data, prior) in unsaved.prior_closed.into_iter().rev() {
            match prior {
                Some(c) => self.closed.insert(data, c),
                None => self.closed.remove(&data),
            };
        }
        self.stats = self.stats.minus(&unsaved.counted);
        self.pending.extend(unsaved.pendings);
        self.progress.forget_pending_min();
    }

    /// Adds just-stored verdicts received inside the trust window to its evidence (a refresh
    /// reads those received after it). When some were already stored, what the database holds
    /// is not known here: the next refresh reads the window afresh.
    fn count_in_trust_window(&mut self, verdicts: &[PocRow], inserted: Inserted) {
        let expected = Inserted {
            pocs: verdicts.len() as u64,
            witnesses: verdicts.iter().map(|(v, _)| v.witnesses.len() as u64).sum(),
        };
        if inserted != expected {
            tracing::warn!(
                ?inserted,
                ?expected,
                "some verdicts were stored before; the trust evidence will be read afresh"
            );
            self.trust_window.invalidate();
            return;
        }
        for (poc, _) in verdicts {
            if poc.passed_regular {
                self.trust_window
                    .stored_beacon(poc.received_ms, poc.beaconer);
            }
            for w in poc.witnesses.iter().filter(|w| w.passed_regular) {
                if let Some(e) = w.evidence {
                    let reports = trust::Reports::one(e.distance_m, e.signal_ddbm);
                    self.trust_window.stored_report(
                        w.received_ms,
                        poc.beaconer,
                        w.witness,
                        &reports,
                    );
                }
            }
        }
    }

    /// Counts a verdict (not stored yet).
    pub(super) fn count(&mut self, verdict: &PocVerdict) {
        let one = VerifierStats {
            pocs: 1,
            valid_beacons: u64::from(verdict.outcome.is_ok()),
            witness_verdicts: verdict.witnesses.len() as u64,
            valid_witnesses: u64::from(verdict.valid_witnesses),
        };
        self.stats = self.stats.plus(&one);
        self.unsaved.counted = self.unsaved.counted.plus(&one);
    }

    /// The counters of what is stored: without the batch in flight and the unsaved verdicts.
    pub(super) fn stored_stats(&self) -> VerifierStats {
        self.in_flight
            .iter()
            .fold(self.stats.minus(&self.unsaved.counted), |stats, f| {
                stats.minus(&f.unsaved.counted)
            })
    }
}

/// What a storing task answered; a task that ended without an answer (it panicked or was
/// cancelled) did not commit.
async fn join(
    task: &mut tokio::task::JoinHandle<Result<Inserted, StoreError>>,
) -> Result<Inserted, StoreError> {
    task.await
        .unwrap_or_else(|e| Err(StoreError::Task(e.to_string())))
}

/// Folds a stored verdict's effects into `book` (the same as [`super::state::apply`] with the effects
/// it had when it was verified).
fn fold(book: &mut StateBook, verdict: &PocVerdict, effects: BeaconEffects) {
    if verdict.passed_regular {
        book.entry(verdict.beaconer)
            .or_default()
            .merge(&effects.state(verdict.received_ms));
    }
    for witness in verdict.witnesses.iter().filter(|w| w.passed_regular) {
        book.entry(witness.witness)
            .or_default()
            .merge(&HotspotState {
                last_witness_ms: Some(witness.received_ms),
                ..HotspotState::default()
            });
    }
}

/// The earliest receive time of any pending report (`u64::MAX` when none is).
fn earliest_pending(pending: &HashMap<Vec<u8>, Pending>) -> u64 {
    pending
        .values()
        .map(Pending::earliest_ms)
        .min()
        .unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_is_apply_with_the_stored_effects() {
        use crate::verifier::params::Checks;
        use crate::verifier::poc::WitnessVerdict;
        use crate::verifier::state;
        let key = |n: u8| PublicKey::from_bytes([n; 32]);
        let verdict = PocVerdict {
            beacon_id: [1; 32],
            beaconer: key(1),
            received_ms: 10_000,
            epoch: 0,
            outcome: Ok(()),
            location: None,
            hex_scale_e4: 10_000,
            reward_units_e4: 0,
            witness_reports: 1,
            valid_witnesses: 1,
            selected_witnesses: 1,
            passed_regular: true,
            witnesses: vec![WitnessVerdict {
                witness_id: [2; 32],
                witness: key(2),
                received_ms: 10_300,
                outcome: Ok(()),
                passed_regular: true,
                evidence: None,
                selected: true,
                reward_units_e4: 0,
            }],
        };
        for checks in [Checks::default(), Checks::helium()] {
            let mut applied = StateBook::new();
            state::apply(&mut applied, &verdict, &checks);
            let mut folded = StateBook::new();
            fold(&mut folded, &verdict, BeaconEffects::of(&verdict, &checks));
            assert_eq!(applied, folded);
        }
    }
}

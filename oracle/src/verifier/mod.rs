//! Verification: the pure rules ([`poc`], [`reason`], [`params`]) and the streaming runner
//! that feeds them.
//!
//! Ingest sends every newly stored report here as an [`Event`]. Witnesses are paired with their
//! beacon by payload as they arrive; a proof of coverage is closed `witness_window` after its
//! beacon arrived (plus a small grace), verified, and its verdicts are written in one
//! transaction. Nothing is batched in time windows, and nothing lives only in memory: on
//! start the runner reloads every stored report that has no verdict yet.

pub mod checks;
pub mod denylist;
pub mod governed;
pub mod params;
pub mod physics_checks;
pub mod poc;
pub mod reason;
pub mod state;

pub use params::VerifierParams;

use crate::density::HexDensityMap;
use crate::registry::Registry;
use crate::store::{Inserted, ReportKind, Store, StoreError, StoredReport};
use crate::trust::{self, TrustTable};
use denylist::Denylist;
use poc::{Context, EntropyInfo, PocVerdict, Received, WitnessVerdict, verify_poc};
use prost::Message;
use reason::{Invalid, Side};
use schemas::PublicKey;
use schemas::clock::SharedClock;
use schemas::proto::{BeaconReport, Entropy, WitnessReport};
use state::StateBook;
use std::collections::HashMap;
use std::future::Future;
use std::ops::Range;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Extra time after the witness window before a proof of coverage is closed, for reports in
/// flight through ingest.
const CLOSE_GRACE_MS: u64 = 500;
/// Pause after a storage error before the open proofs of coverage are retried.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// Receive time read back per step when resuming a backlog after a restart.
pub const RESUME_WINDOW_MS: u64 = 10 * 60 * 1000;
/// How often the denylist is re-read from the database (where `oracle denylist apply` writes).
const DENYLIST_RELOAD: Duration = Duration::from_secs(30);
/// Proofs of coverage whose verdicts are stored together (one transaction, multi-row
/// statements). A storage commit per proof of coverage bounded the verifier at a few hundred
/// per second (one fsync each); see `docs/benchmarks.md`.
pub const VERDICT_BATCH: usize = 512;

/// Something the runner must know about.
#[derive(Debug)]
pub enum Event {
    Beacon(Received<BeaconReport>),
    Witness(Received<WitnessReport>),
    Entropy(Entropy),
    /// Close every open proof of coverage now (end of a simulation) and answer when stored.
    Flush(oneshot::Sender<()>),
}

/// Counters of what the runner has done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VerifierStats {
    pub pocs: u64,
    pub valid_beacons: u64,
    pub witness_verdicts: u64,
    pub valid_witnesses: u64,
}

impl VerifierStats {
    fn plus(&self, other: &Self) -> Self {
        Self {
            pocs: self.pocs + other.pocs,
            valid_beacons: self.valid_beacons + other.valid_beacons,
            witness_verdicts: self.witness_verdicts + other.witness_verdicts,
            valid_witnesses: self.valid_witnesses + other.valid_witnesses,
        }
    }

    fn minus(&self, other: &Self) -> Self {
        Self {
            pocs: self.pocs.saturating_sub(other.pocs),
            valid_beacons: self.valid_beacons.saturating_sub(other.valid_beacons),
            witness_verdicts: self.witness_verdicts.saturating_sub(other.witness_verdicts),
            valid_witnesses: self.valid_witnesses.saturating_sub(other.valid_witnesses),
        }
    }
}

#[derive(Debug, Default)]
struct Pending {
    beacon: Option<Received<BeaconReport>>,
    witnesses: Vec<Received<WitnessReport>>,
    first_seen_ms: u64,
}

/// Recently closed proofs of coverage, to judge witnesses that arrive after closing.
#[derive(Debug, Clone, Copy)]
struct Closed {
    beacon_ms: u64,
    epoch: u64,
}

/// Verified proofs of coverage not stored yet, and what is needed to undo them in memory when
/// storing fails (they then go back to pending, as before they were closed).
#[derive(Debug, Default)]
struct Unsaved {
    verdicts: Batch,
    pendings: Vec<(Vec<u8>, Pending)>,
    prior_states: HashMap<PublicKey, Option<state::HotspotState>>,
    prior_closed: Vec<(Vec<u8>, Option<Closed>)>,
    /// What these verdicts added to the counters.
    counted: VerifierStats,
}

type Batch = Vec<(PocVerdict, Vec<(PublicKey, state::HotspotState)>)>;

/// A batch of verdicts being stored; `unsaved` holds what undoes it (its verdicts are in the
/// task).
struct InFlight {
    task: tokio::task::JoinHandle<(Batch, Result<Inserted, StoreError>)>,
    unsaved: Unsaved,
}

/// The streaming verifier.
pub struct Verifier {
    store: Store,
    registry: Registry,
    params: VerifierParams,
    clock: SharedClock,
    entropy: HashMap<Vec<u8>, EntropyInfo>,
    pending: HashMap<Vec<u8>, Pending>,
    closed: HashMap<Vec<u8>, Closed>,
    state: StateBook,
    denylist: Denylist,
    trust: TrustTable,
    /// The evidence `trust` was judged from, kept up to date as verdicts are stored.
    trust_window: trust::Window,
    incremental_trust: bool,
    density: HexDensityMap,
    density_bucket: Option<u64>,
    /// Verifier parameters per epoch (governance's, else the settings'); `params` holds those of
    /// the epoch verified last, from `params_source`.
    governed: governed::EpochParams,
    params_source: governed::Source,
    stats: VerifierStats,
    stats_tx: tokio::sync::watch::Sender<VerifierStats>,
    unsaved: Unsaved,
    /// The batch being stored while the next is verified.
    in_flight: Option<InFlight>,
    verdict_batch: usize,
    resume_window_ms: u64,
}

impl Verifier {
    /// A runner over `store`; call [`Verifier::run`].
    pub fn new(
        store: Store,
        registry: Registry,
        params: VerifierParams,
        clock: SharedClock,
    ) -> Self {
        let density = HexDensityMap::new(std::iter::empty(), &params.density);
        Self {
            store,
            registry,
            governed: governed::EpochParams::new(params.clone()),
            params_source: governed::Source::Settings,
            params,
            clock,
            entropy: HashMap::new(),
            pending: HashMap::new(),
            closed: HashMap::new(),
            state: StateBook::new(),
            denylist: Denylist::default(),
            trust: TrustTable::default(),
            trust_window: trust::Window::default(),
            incremental_trust: true,
            density,
            density_bucket: None,
            stats: VerifierStats::default(),
            stats_tx: tokio::sync::watch::channel(VerifierStats::default()).0,
            unsaved: Unsaved::default(),
            in_flight: None,
            verdict_batch: VERDICT_BATCH,
            resume_window_ms: RESUME_WINDOW_MS,
        }
    }

    /// Stores verdicts `batch` proofs of coverage at a time (default [`VERDICT_BATCH`]); 1
    /// stores each in its own transaction through [`Store::save_poc`], the path before
    /// batching (kept to compare the two).
    pub fn with_verdict_batch(mut self, batch: usize) -> Self {
        self.verdict_batch = batch.max(1);
        self
    }

    /// Reads a restart backlog `window_ms` of receive time at a time (default
    /// [`RESUME_WINDOW_MS`]); `u64::MAX` reads it all at once, the path before windows (kept to
    /// compare the two).
    pub fn with_resume_window(mut self, window_ms: u64) -> Self {
        self.resume_window_ms = window_ms.max(1);
        self
    }

    /// Whether a trust refresh only reads the reports that entered or left the window since
    /// the last one (the default); `false` reads the whole window at every refresh, the path
    /// before (kept to compare the two).
    pub fn with_incremental_trust(mut self, incremental: bool) -> Self {
        self.incremental_trust = incremental;
        self
    }

    /// A receiver of the runner's counters.
    pub fn stats(&self) -> tokio::sync::watch::Receiver<VerifierStats> {
        self.stats_tx.subscribe()
    }

    /// Resumes from the database, then verifies events until `shutdown`.
    pub async fn run(
        mut self,
        mut events: mpsc::UnboundedReceiver<Event>,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), StoreError> {
        self.resume().await?;
        let mut tick = tokio::time::interval(Duration::from_millis(50));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut reload = tokio::time::interval(DENYLIST_RELOAD);
        reload.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                biased;
                () = &mut shutdown => return self.finish_in_flight().await,
                event = events.recv() => match event {
                    Some(Event::Flush(done)) => {
                        let flushed = match self.close_due(u64::MAX).await {
                            Ok(()) => self.finish_in_flight().await,
                            Err(e) => Err(e),
                        };
                        if let Err(e) = flushed {
                            tracing::error!(error = %e, "could not store verdicts while flushing; they stay pending");
                        }
                        self.stats_tx.send_replace(self.stored_stats());
                        let _ = done.send(());
                    }
                    Some(event) => self.add(event),
                    None => return self.finish_in_flight().await,
                },
                _ = tick.tick() => {
                    if let Err(e) = self.close_due(self.clock.now_ms()).await {
                        tracing::error!(error = %e, "could not store verdicts; retrying");
                        tokio::time::sleep(STORE_RETRY).await;
                    }
                }
                _ = reload.tick() => match self.store.denylist().await {
                    Ok(list) => self.denylist = list,
                    Err(e) => tracing::warn!(error = %e, "could not reload the denylist; keeping the previous one"),
                },
            }
        }
    }

    async fn resume(&mut self) -> Result<(), StoreError> {
        let since = self.clock.now_ms().saturating_sub(7 * 24 * 3600 * 1000);
        for entropy in self.store.entropy_since(since).await? {
            self.add(Event::Entropy(entropy));
        }
        self.state = self.store.hotspot_states().await?.into_iter().collect();
        self.denylist = self.store.denylist().await?;
        // The backlog is read one window of receive time at a time, and each window's proofs
        // of coverage are closed before the next is read (as if the oracle had been running),
        // so memory is bounded by a window's reports, not by the backlog.
        let now = self.clock.now_ms();
        let mut resumed = (0u64, 0u64);
        let mut next = self.store.next_unverified_ms(0).await?;
        while let Some(first) = next {
            let from = first - first % self.resume_window_ms;
            // The last window takes everything left, including reports stamped after `now`
            // (a clock that went back): nothing stored is left out.
            let to = match from.saturating_add(self.resume_window_ms) {
                to if to > now => u64::MAX,
                to => to,
            };
            let beacons = self
                .store
                .unverified_between(ReportKind::Beacon, from, to)
                .await?;
            let witnesses = self
                .store
                .unverified_between(ReportKind::Witness, from, to)
                .await?;
            resumed.0 += beacons.len() as u64;
            resumed.1 += witnesses.len() as u64;
            for report in beacons {
                if let Some(beacon) = decode::<BeaconReport>(&report) {
                    self.add(Event::Beacon(beacon));
                }
            }
            for report in witnesses {
                if let Some(witness) = decode::<WitnessReport>(&report) {
                    self.add(Event::Witness(witness));
                }
            }
            if to == u64::MAX {
                // The rest is closed by the clock, as live reports are.
                break;
            }
            while let Err(e) = self.close_due(to).await {
                tracing::error!(error = %e, "could not store verdicts while resuming; retrying");
                tokio::time::sleep(STORE_RETRY).await;
            }
            if (resumed.0 + resumed.1) > 0 && from / 3_600_000 != to / 3_600_000 {
                tracing::info!(
                    beacons = resumed.0,
                    witnesses = resumed.1,
                    up_to_ms = to,
                    "resuming verification of stored reports"
                );
            }
            next = self.store.next_unverified_ms(to).await?;
        }
        if resumed != (0, 0) {
            tracing::info!(
                beacons = resumed.0,
                witnesses = resumed.1,
                "stored reports read back for verification"
            );
        }
        Ok(())
    }

    fn add(&mut self, event: Event) {
        match event {
            Event::Beacon(beacon) => {
                let entry = self
                    .pending
                    .entry(beacon.report.data.clone())
                    .or_insert_with(|| Pending {
                        first_seen_ms: beacon.received_ms,
                        ..Default::default()
                    });
                match &entry.beacon {
                    Some(first) if first.id != beacon.id => {
                        tracing::warn!(
                            id = hex::encode(beacon.id),
                            "second beacon with the same payload; verified on its own"
                        );
                        let mut replay = Pending {
                            first_seen_ms: beacon.received_ms,
                            ..Default::default()
                        };
                        replay.beacon = Some(beacon);
                        let mut key = replay
                            .beacon
                            .as_ref()
                            .map(|b| b.report.data.clone())
                            .unwrap_or_default();
                        key.extend_from_slice(b"#replay");
                        self.pending.insert(key, replay);
                    }
                    Some(_) => {}
                    None => entry.beacon = Some(beacon),
                }
            }
            Event::Witness(witness) => {
                let entry = self
                    .pending
                    .entry(witness.report.data.clone())
                    .or_insert_with(|| Pending {
                        first_seen_ms: witness.received_ms,
                        ..Default::default()
                    });
                if !entry.witnesses.iter().any(|w| w.id == witness.id) {
                    entry.witnesses.push(witness);
                }
            }
            Event::Entropy(entropy) => {
                self.entropy.insert(
                    entropy.data.clone(),
                    EntropyInfo {
                        timestamp_ms: entropy.timestamp_ms,
                        version: entropy.version,
                    },
                );
            }
            Event::Flush(_) => {}
        }
    }

    /// Closes every proof of coverage whose window ended by `now_ms`, oldest beacon first, and
    /// judges witnesses whose beacon never came or came long before.
    async fn close_due(&mut self, now_ms: u64) -> Result<(), StoreError> {
        let window_ms = self.params.witness_window().as_millis() as u64 + CLOSE_GRACE_MS;
        let stale_ms = self.params.stale_after.as_millis() as u64;
        let mut due: Vec<(u64, [u8; 32], Vec<u8>)> = Vec::new();
        let mut lone: Vec<Vec<u8>> = Vec::new();
        for (data, pending) in &self.pending {
            match &pending.beacon {
                Some(beacon) if beacon.received_ms.saturating_add(window_ms) <= now_ms => {
                    due.push((beacon.received_ms, beacon.id, data.clone()))
                }
                None if self.closed.contains_key(data)
                    || pending.first_seen_ms.saturating_add(stale_ms) <= now_ms =>
                {
                    lone.push(data.clone())
                }
                _ => {}
            }
        }
        due.sort();
        // On a storage error the reports stay pending and are retried at the next tick.
        for (_, _, data) in due {
            if let Some(pending) = self.pending.remove(&data) {
                self.close(data, pending).await?;
            }
        }
        // The last batch is stored while the caller goes on (the next tick, or the next window
        // of a backlog); whatever needs it stored waits for it (`store_unsaved`).
        self.store_unsaved_behind().await?;
        for data in lone {
            if let Some(pending) = self.pending.remove(&data)
                && let Err(e) = self.judge_lone(&data, &pending, now_ms).await
            {
                self.pending.insert(data, pending);
                return Err(e);
            }
        }
        self.closed
            .retain(|_, c| c.beacon_ms.saturating_add(stale_ms) > now_ms || now_ms == u64::MAX);
        self.stats_tx.send_replace(self.stored_stats());
        Ok(())
    }

    /// Verifies a proof of coverage and applies its verdict in memory; the verdict is stored
    /// with the next batch ([`Verifier::store_unsaved`]). On an error `pending` is pending again.
    async fn close(&mut self, data: Vec<u8>, pending: Pending) -> Result<(), StoreError> {
        let Some(beacon) = &pending.beacon else {
            return Ok(());
        };
        let epoch = self.params.epoch_of(beacon.received_ms);
        let prepared = match self.use_params_of(epoch).await {
            Ok(()) => self.refresh(beacon.received_ms).await,
            Err(e) => Err(e),
        };
        if let Err(e) = prepared {
            self.pending.insert(data, pending);
            return Err(e);
        }
        let verdict = self.registry.with(|hotspots| {
            let ctx = Context {
                params: &self.params,
                hotspots,
                entropy: &self.entropy,
                density: &self.density,
                state: &self.state,
                denylist: &self.denylist,
                trust: Some(&self.trust),
            };
            verify_poc(beacon, &pending.witnesses, &ctx)
        });
        // Apply to the touched hotspots only.
        let touched =
            std::iter::once(verdict.beaconer).chain(verdict.witnesses.iter().map(|w| w.witness));
        let mut next: StateBook = touched
            .filter_map(|k| self.state.get(&k).map(|s| (k, *s)))
            .collect();
        let changed = state::apply(&mut next, &verdict, &self.params.checks);
        let states: Vec<_> = changed
            .iter()
            .filter_map(|k| next.get(k).map(|s| (*k, *s)))
            .collect();
        let unsaved = &mut self.unsaved;
        for (key, _) in &states {
            unsaved
                .prior_states
                .entry(*key)
                .or_insert_with(|| self.state.get(key).copied());
        }
        let closed = Closed {
            beacon_ms: beacon.received_ms,
            epoch: verdict.epoch,
        };
        let previous = self.closed.insert(beacon.report.data.clone(), closed);
        unsaved
            .prior_closed
            .push((beacon.report.data.clone(), previous));
        self.state.extend(states.iter().copied());
        self.count(&verdict);
        self.unsaved.verdicts.push((verdict, states));
        self.unsaved.pendings.push((data, pending));
        if self.unsaved.verdicts.len() >= self.verdict_batch {
            if self.verdict_batch > 1 {
                self.store_unsaved_behind().await?;
            } else {
                // The path before batching: each proof of coverage stored before the next.
                self.store_unsaved().await?;
            }
        }
        Ok(())
    }

    /// Stores every verified, unsaved proof of coverage, after the batch being stored (if
    /// any), and waits until both are stored. When storing fails, the effects on memory of
    /// every proof of coverage not stored are undone and they are pending again.
    async fn store_unsaved(&mut self) -> Result<(), StoreError> {
        self.store_unsaved_behind().await?;
        self.finish_in_flight().await
    }

    /// Waits for the batch being stored (if any), then starts storing the verified, unsaved
    /// proofs of coverage in the background (one transaction; with a verdict batch of 1, one
    /// per proof of coverage), so the next batch is verified while this one is written. One
    /// batch at most is in flight, so batches are stored in the order they were verified (a
    /// hotspot's later state overwrites its earlier one).
    async fn store_unsaved_behind(&mut self) -> Result<(), StoreError> {
        self.finish_in_flight().await?;
        if self.unsaved.verdicts.is_empty() {
            return Ok(());
        }
        let mut unsaved = std::mem::take(&mut self.unsaved);
        let batch = std::mem::take(&mut unsaved.verdicts);
        let store = self.store.clone();
        let one_by_one = self.verdict_batch <= 1;
        let task = tokio::spawn(async move {
            let result = if one_by_one {
                let mut all = Inserted::default();
                let mut failed = None;
                for (verdict, states) in &batch {
                    match store.save_poc(verdict, states).await {
                        Ok(one) => all = all + one,
                        Err(e) => {
                            failed = Some(e);
                            break;
                        }
                    }
                }
                failed.map_or(Ok(all), Err)
            } else {
                store.save_pocs(&batch).await
            };
            (batch, result)
        });
        self.in_flight = Some(InFlight { task, unsaved });
        Ok(())
    }

    /// Waits for the batch being stored. When it failed, the unsaved proofs of coverage
    /// verified after it are undone too (they were judged on its hotspot states), newest
    /// first, and all are pending again.
    async fn finish_in_flight(&mut self) -> Result<(), StoreError> {
        let Some(InFlight { task, mut unsaved }) = self.in_flight.take() else {
            return Ok(());
        };
        let joined = task.await;
        let (batch, result) = match joined {
            Ok(done) => done,
            Err(e) => (Vec::new(), Err(StoreError::Task(e.to_string()))),
        };
        match result {
            Ok(inserted) => {
                self.count_in_trust_window(&batch, inserted);
                // Progress for long catch-ups (a restart with many stored reports).
                self.stats_tx.send_replace(self.stored_stats());
                Ok(())
            }
            Err(e) => {
                let newer = std::mem::take(&mut self.unsaved);
                if !newer.pendings.is_empty() {
                    self.undo(newer);
                }
                unsaved.verdicts = batch;
                self.undo(unsaved);
                Err(e)
            }
        }
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
    }

    /// Adds just-stored verdicts received inside the trust window to its evidence (a refresh
    /// reads those received after it). When some were already stored, what the database holds
    /// is not known here: the next refresh reads the window afresh.
    fn count_in_trust_window(
        &mut self,
        verdicts: &[(PocVerdict, Vec<(PublicKey, state::HotspotState)>)],
        inserted: Inserted,
    ) {
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

    /// Brings the trust evidence to the reports received in `range`: those that left or
    /// entered it since the last refresh, or the whole range when it cannot slide.
    async fn update_trust_window(&mut self, range: Range<u64>) -> Result<(), StoreError> {
        let step = if self.incremental_trust {
            self.trust_window.step(range.clone())
        } else {
            trust::Step::Rebuild(range.clone())
        };
        let (reading, leaving) = match &step {
            trust::Step::Rebuild(all) => (all.clone(), None),
            trust::Step::Slide { leaving, entering } => (entering.clone(), Some(leaving.clone())),
        };
        let evidence = self.trust_window.begin(&step);
        let mut unmatched = None;
        if let Some(leaving) = leaving.filter(|r| !r.is_empty()) {
            self.store
                .trust_reports(leaving.start, leaving.end, |b, w, reports| {
                    if let Err(e) = evidence.remove_reports(&b, &w, &reports) {
                        unmatched.get_or_insert(e);
                    }
                })
                .await?;
            for (hotspot, n) in self
                .store
                .beacons_in_window(leaving.start, leaving.end)
                .await?
            {
                if let Err(e) = evidence.remove_beacons(&hotspot, n) {
                    unmatched.get_or_insert(e);
                }
            }
        }
        if let Some(e) = unmatched {
            // A bug or a database changed behind the verifier: never judge on wrong evidence.
            tracing::error!(error = %e, ?range, "trust evidence does not match the stored reports; reading the window afresh");
            self.trust_window.invalidate();
            return Box::pin(self.update_trust_window(range)).await;
        }
        if !reading.is_empty() {
            self.store
                .trust_reports(reading.start, reading.end, |b, w, reports| {
                    evidence.add_reports(b, w, &reports)
                })
                .await?;
            for (hotspot, n) in self
                .store
                .beacons_in_window(reading.start, reading.end)
                .await?
            {
                evidence.add_beacons(hotspot, n);
            }
        }
        self.trust_window.finish(range);
        Ok(())
    }

    fn count(&mut self, verdict: &PocVerdict) {
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
    fn stored_stats(&self) -> VerifierStats {
        let in_flight = self
            .in_flight
            .as_ref()
            .map(|f| f.unsaved.counted)
            .unwrap_or_default();
        self.stats.minus(&self.unsaved.counted).minus(&in_flight)
    }

    /// Witnesses with no beacon: `too_late` when their proof of coverage already closed,
    /// `stale` when no beacon came.
    async fn judge_lone(
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

    /// Switches to the verifier parameters in force for `epoch` (see [`governed`]); a switch
    /// rebuilds the density map and trust under the new parameters. The epoch length is the
    /// same in every set (checked at start).
    async fn use_params_of(&mut self, epoch: u64) -> Result<(), StoreError> {
        let in_force = self
            .governed
            .for_epoch(self.store.db().pool(), epoch)
            .await
            .map_err(|e| {
                tracing::error!(epoch, error = %e, "no usable verifier parameters for the epoch; its reports stay pending");
                match e {
                    governed::GovernedError::Read(db::parameters::ParametersError::Db(e)) => {
                        StoreError::Sql(e)
                    }
                    other => StoreError::Corrupt {
                        table: "parameter_sets",
                        reason: other.to_string(),
                    },
                }
            })?;
        if in_force.source != self.params_source {
            tracing::info!(epoch, source = ?in_force.source, "verifier parameters changed");
            self.params = in_force.params.clone();
            self.params_source = in_force.source;
            self.density_bucket = None;
        }
        Ok(())
    }

    /// Rebuilds the density map when `received_ms` enters a new refresh bucket, from the
    /// hotspots active at the bucket's start (a valid beacon with a valid witness within the
    /// interactivity window).
    async fn refresh(&mut self, received_ms: u64) -> Result<(), StoreError> {
        let refresh_ms = self.params.density_refresh.as_millis().max(1) as u64;
        let bucket = received_ms / refresh_ms;
        if self.density_bucket == Some(bucket) {
            return Ok(());
        }
        // The refresh reads stored verdicts: store the ones verified so far first.
        self.store_unsaved().await?;
        let start = bucket * refresh_ms;
        let horizon = start.saturating_sub(self.params.interactivity_window.as_millis() as u64);
        let mut active: Vec<(PublicKey, u64)> = self.registry.with(|hotspots| {
            self.state
                .iter()
                .filter(|(_, s)| {
                    s.last_active_ms
                        .is_some_and(|ms| ms >= horizon && ms < start)
                })
                .filter_map(|(key, _)| {
                    hotspots
                        .get(key)
                        .map(|info| (*key, u64::from(info.location)))
                })
                .collect()
        });
        active.sort();
        let cells = active
            .into_iter()
            .filter_map(|(_, cell)| h3o::CellIndex::try_from(cell).ok());
        self.density = HexDensityMap::new(cells, &self.params.density);
        self.density_bucket = Some(bucket);
        if self.params.checks.graph_trust {
            let window_start = start.saturating_sub(self.params.trust.window.as_millis() as u64);
            self.update_trust_window(window_start..start).await?;
            let owners: HashMap<PublicKey, PublicKey> = self
                .registry
                .with(|hotspots| hotspots.iter().map(|(k, info)| (*k, info.owner)).collect());
            let evidence = self.trust_window.evidence();
            self.trust = trust::evaluate(evidence, |k| owners.get(k).copied(), &self.params.trust);
            tracing::debug!(
                edges = evidence.edge_count(),
                trusted = self.trust.trusted.len(),
                distrusted = self.trust.distrusted.len(),
                "witness-graph trust refreshed"
            );
        }
        Ok(())
    }
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

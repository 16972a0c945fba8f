//! Verification: the pure rules ([`poc`], [`reason`], [`params`]) and the streaming runner
//! that feeds them.
//!
//! Ingest sends every newly stored report here as an [`Event`]. Witnesses are paired with their
//! beacon by payload as they arrive; a proof of coverage is closed `witness_window` after its
//! beacon arrived (plus a small grace), verified, and its verdicts are written in one
//! transaction. Nothing is batched in time windows, and nothing lives only in memory: on
//! start the runner reloads every stored report that has no verdict yet.

mod ahead;
pub mod checks;
pub mod denylist;
pub mod governed;
pub mod params;
pub mod physics_checks;
pub mod poc;
pub mod reason;
mod refresh;
mod resume;
mod saving;
mod spent;
pub mod state;

pub use params::VerifierParams;
pub use saving::{CHECKPOINT_EVERY_MS, STORES_IN_FLIGHT};
pub use spent::{Spent, SpentSeconds};

use crate::density::HexDensityMap;
use crate::registry::Registry;
use crate::store::{Store, StoreError};
use crate::trust::{self, TrustTable};
use ahead::{Ahead, Checker, Done, SpeculatedChecks};
use denylist::Denylist;
use poc::{Checked, Context, EntropyInfo, Received, judge};
use saving::{InFlight, Unsaved};
use schemas::clock::SharedClock;
use schemas::proto::{BeaconReport, Entropy, WitnessReport};
use spent::On;
use state::{BeaconEffects, StateBook};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
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
    /// Every report received before this time (ms) has been delivered (ingest sends it after
    /// each commit, and when idle).
    Frontier(u64),
    /// Close every open proof of coverage now (end of a simulation) and answer when stored.
    Flush(oneshot::Sender<()>),
}

impl Event {
    /// Sets a report's receive time (ingest stamps reports as it commits them).
    pub fn stamp(&mut self, received_ms: u64) {
        match self {
            Event::Beacon(r) => r.received_ms = received_ms,
            Event::Witness(r) => r.received_ms = received_ms,
            Event::Entropy(_) | Event::Frontier(_) | Event::Flush(_) => {}
        }
    }
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

impl Pending {
    /// The earliest receive time of its reports (`u64::MAX` when it has none).
    fn earliest_ms(&self) -> u64 {
        let beacon = self.beacon.as_ref().map(|b| b.received_ms);
        beacon
            .into_iter()
            .chain(self.witnesses.iter().map(|w| w.received_ms))
            .min()
            .unwrap_or(u64::MAX)
    }
}

/// Recently closed proofs of coverage, to judge witnesses that arrive after closing.
#[derive(Debug, Clone, Copy)]
struct Closed {
    beacon_ms: u64,
    epoch: u64,
}

/// The streaming verifier.
pub struct Verifier {
    store: Store,
    registry: Registry,
    params: VerifierParams,
    clock: SharedClock,
    entropy: Arc<HashMap<Vec<u8>, EntropyInfo>>,
    pending: HashMap<Vec<u8>, Pending>,
    closed: HashMap<Vec<u8>, Closed>,
    state: StateBook,
    denylist: Arc<Denylist>,
    trust: TrustTable,
    /// The evidence `trust` was judged from, kept up to date as verdicts are stored.
    trust_window: trust::Window,
    incremental_trust: bool,
    /// Whether proofs of coverage are checked on another thread ahead of their judging.
    check_ahead: bool,
    density: HexDensityMap,
    density_bucket: Option<u64>,
    /// Verifier parameters per epoch (governance's, else the settings'); `params` holds those of
    /// the epoch verified last, from `params_source`.
    governed: governed::EpochParams,
    params_source: governed::Source,
    stats: VerifierStats,
    stats_tx: tokio::sync::watch::Sender<VerifierStats>,
    unsaved: Unsaved,
    /// The batches being stored while the next is verified, oldest first.
    in_flight: std::collections::VecDeque<InFlight>,
    /// At most this many batches are stored at once.
    stores_in_flight: usize,
    /// The order the batches being stored commit in.
    commit_order: crate::store::CommitOrder,
    /// What is recorded with the verdicts (`verifier_progress`, the state checkpoint).
    progress: saving::Progress,
    /// The clock when this verifier was created (before ingest started).
    created_ms: u64,
    verdict_batch: usize,
    resume_window_ms: u64,
    /// Where the time goes (waiting for reads and stores, refreshing).
    spent: Spent,
    /// A restart backlog's next window being read, or read already (taken by a refresh to
    /// check it ahead).
    reading: Option<tokio::task::JoinHandle<Result<Option<resume::Window>, StoreError>>>,
    read_early: Option<Result<Option<resume::Window>, StoreError>>,
    /// The thread the checks run on (started with the first run to check).
    checker: Option<Checker>,
    /// The next window's proofs of coverage being checked ahead, or checked.
    speculating: Option<Done<SpeculatedChecks>>,
    speculated: Option<SpeculatedChecks>,
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
        let created_ms = clock.now_ms();
        Self {
            store,
            registry,
            governed: governed::EpochParams::new(params.clone()),
            params_source: governed::Source::Settings,
            params,
            clock,
            entropy: Arc::default(),
            pending: HashMap::new(),
            closed: HashMap::new(),
            state: StateBook::new(),
            denylist: Arc::default(),
            trust: TrustTable::default(),
            trust_window: trust::Window::default(),
            incremental_trust: true,
            check_ahead: true,
            density,
            density_bucket: None,
            stats: VerifierStats::default(),
            stats_tx: tokio::sync::watch::channel(VerifierStats::default()).0,
            unsaved: Unsaved::default(),
            in_flight: std::collections::VecDeque::new(),
            stores_in_flight: saving::STORES_IN_FLIGHT,
            commit_order: crate::store::CommitOrder::default(),
            progress: saving::Progress::default(),
            created_ms,
            verdict_batch: VERDICT_BATCH,
            resume_window_ms: RESUME_WINDOW_MS,
            spent: Spent::default(),
            reading: None,
            read_early: None,
            checker: None,
            speculating: None,
            speculated: None,
        }
    }

    /// Stores verdicts `batch` proofs of coverage at a time (default [`VERDICT_BATCH`]); 1
    /// stores each in its own transaction through [`Store::save_poc`], the path before
    /// batching (kept to compare the two).
    pub fn with_verdict_batch(mut self, batch: usize) -> Self {
        self.verdict_batch = batch.max(1);
        self
    }

    /// Stores at most `batches` batches of verdicts at once (default
    /// [`STORES_IN_FLIGHT`]); 1 waits for each batch before the next is handed over,
    /// the path before (kept to compare the two).
    pub fn with_stores_in_flight(mut self, batches: usize) -> Self {
        self.stores_in_flight = batches.max(1);
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

    /// Whether proofs of coverage are checked ([`poc::check`]: distances, radio physics, time
    /// of flight) on another thread ahead of their judging (the default), so the checks of the
    /// next ones go on while this one is judged, stored or waits for a refresh, and a refresh
    /// of a restart backlog starts the checks of the next window (`verifier/ahead.rs`); `false` checks
    /// each as it is judged, on the verifier's task, the path before (kept to compare the two).
    pub fn with_check_ahead(mut self, ahead: bool) -> Self {
        self.check_ahead = ahead;
        self
    }

    /// Checkpoints the hotspot state every `every_ms` of receive time (default
    /// [`saving::CHECKPOINT_EVERY_MS`]).
    pub fn with_checkpoint_every(mut self, every_ms: u64) -> Self {
        self.progress.checkpoint_every_ms = every_ms.max(1);
        self
    }

    /// The runner's time totals: waiting for stored reports and for verdicts to be stored,
    /// and refreshing density and trust.
    pub fn spent(&self) -> Spent {
        self.spent.clone()
    }

    /// A receiver of the runner's counters.
    pub fn stats(&self) -> tokio::sync::watch::Receiver<VerifierStats> {
        self.stats_tx.subscribe()
    }

    /// Verifies the stored reports whose proofs of coverage are due by the clock, stores every
    /// verdict and the progress, and returns: what [`Verifier::run`] does before it takes
    /// events, then one close at the clock (a restart that stops there).
    pub async fn catch_up(mut self) -> Result<VerifierStats, StoreError> {
        self.resume().await?;
        self.close_due(self.clock.now_ms()).await?;
        self.stop().await?;
        Ok(self.stored_stats())
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
                () = &mut shutdown => return self.stop().await,
                event = events.recv() => match event {
                    Some(Event::Flush(done)) => {
                        let flushed = match self.close_due(u64::MAX).await {
                            Ok(()) => self.finish_in_flight().await,
                            Err(e) => Err(e),
                        };
                        let flushed = match flushed {
                            Ok(()) => self.save_progress_when_idle().await,
                            Err(e) => Err(e),
                        };
                        if let Err(e) = flushed {
                            tracing::error!(error = %e, "could not store verdicts while flushing; they stay pending");
                        }
                        self.stats_tx.send_replace(self.stored_stats());
                        let _ = done.send(());
                    }
                    Some(event) => self.add(event),
                    None => return self.stop().await,
                },
                _ = tick.tick() => {
                    let closed = match self.close_due(self.clock.now_ms()).await {
                        Ok(()) => self.save_progress_when_idle().await,
                        Err(e) => Err(e),
                    };
                    if let Err(e) = closed {
                        tracing::error!(error = %e, "could not store verdicts; retrying");
                        tokio::time::sleep(STORE_RETRY).await;
                    }
                }
                _ = reload.tick() => match self.store.denylist().await {
                    Ok(list) => self.denylist = Arc::new(list),
                    Err(e) => tracing::warn!(error = %e, "could not reload the denylist; keeping the previous one"),
                },
            }
        }
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
                Arc::make_mut(&mut self.entropy).insert(
                    entropy.data.clone(),
                    EntropyInfo {
                        timestamp_ms: entropy.timestamp_ms,
                        version: entropy.version,
                    },
                );
            }
            Event::Frontier(ms) => {
                self.progress.frontier_ms = self.progress.frontier_ms.max(ms);
            }
            Event::Flush(_) => {}
        }
    }

    /// Stores what was verified and the progress, before stopping.
    async fn stop(&mut self) -> Result<(), StoreError> {
        self.finish_in_flight().await?;
        self.save_progress_when_idle().await
    }

    /// How long after its beacon was received a proof of coverage is closed.
    fn closes_after_ms(&self) -> u64 {
        self.params.witness_window().as_millis() as u64 + CLOSE_GRACE_MS
    }

    /// Closes every proof of coverage whose window ended by `now_ms`, oldest beacon first, and
    /// judges witnesses whose beacon never came or came long before.
    async fn close_due(&mut self, now_ms: u64) -> Result<(), StoreError> {
        let window_ms = self.closes_after_ms();
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
        // On a storage error the reports stay pending and are retried at the next tick. Each
        // epoch's proofs of coverage are checked under its parameters.
        let mut due = due.into_iter().peekable();
        while let Some(&(first_ms, _, _)) = due.peek() {
            let epoch = self.params.epoch_of(first_ms);
            self.use_params_of(epoch).await?;
            let mut run = Vec::new();
            while let Some((_, _, data)) =
                due.next_if(|(ms, _, _)| self.params.epoch_of(*ms) == epoch)
            {
                if let Some(pending) = self.pending.remove(&data) {
                    run.push((data, pending));
                }
            }
            self.close_run(run).await?;
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
        // Checks made ahead for proofs of coverage closed by now and not used are dropped.
        if self
            .speculated
            .as_ref()
            .is_some_and(|s| s.closes_by_ms <= now_ms)
        {
            self.speculated = None;
        }
        self.stats_tx.send_replace(self.stored_stats());
        Ok(())
    }

    /// Closes the proofs of coverage of `run` (one epoch's, oldest beacon first) in order,
    /// checked ahead on another thread unless that is off (those checked during the window
    /// before are not checked again: [`ahead`]). On an error the one that failed and every one
    /// after it are pending again.
    async fn close_run(&mut self, run: Vec<(Vec<u8>, Pending)>) -> Result<(), StoreError> {
        let ahead = self.ahead();
        let run = self.with_speculated(run, &ahead).await;
        let checker = if self.check_ahead && run.len() >= 2 {
            self.checker()
                .map_err(|e| tracing::warn!(error = %e, "checking on the verifier's task"))
                .ok()
        } else {
            None
        };
        let Some(checker) = checker else {
            let mut run = run.into_iter();
            while let Some((data, pending, made)) = run.next() {
                let checked = made.or_else(|| ahead.check(&pending));
                if let Err(e) = self.close(data, pending, checked).await {
                    self.pending
                        .extend(run.map(|(data, pending, _)| (data, pending)));
                    return Err(e);
                }
            }
            return Ok(());
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let checking = checker.run(move || {
            for (data, pending, made) in run {
                let checked = made.or_else(|| ahead.check(&pending));
                if tx.send((data, pending, checked)).is_err() {
                    return;
                }
            }
        });
        loop {
            let waiting = std::time::Instant::now();
            let next = rx.recv().await;
            self.spent.add(On::Checking, waiting);
            let Some((data, pending, checked)) = next else {
                break;
            };
            if let Err(e) = self.close(data, pending, checked).await {
                while let Some((data, pending, _)) = rx.recv().await {
                    self.pending.insert(data, pending);
                }
                if let Ok(Err(panic)) = checking.await {
                    std::panic::resume_unwind(panic);
                }
                return Err(e);
            }
        }
        // Every proof of coverage came back, unless the checks panicked: then so does the
        // verifier, as it did when it checked them itself (none is lost: all are stored).
        if let Ok(Err(panic)) = checking.await {
            std::panic::resume_unwind(panic);
        }
        Ok(())
    }

    /// The thread the checks run on, started the first time.
    fn checker(&mut self) -> Result<&Checker, StoreError> {
        match &mut self.checker {
            Some(checker) => Ok(checker),
            none => Ok(none.insert(
                Checker::start().map_err(|e| StoreError::Task(format!("checking thread: {e}")))?,
            )),
        }
    }

    /// Pairs each proof of coverage of `run` with its check made ahead, if there is one made
    /// with its reports and the inputs in force (`ahead`).
    async fn with_speculated(
        &mut self,
        run: Vec<(Vec<u8>, Pending)>,
        ahead: &Ahead,
    ) -> Vec<(Vec<u8>, Pending, Option<Checked>)> {
        self.finish_speculating().await;
        let mut speculated = self.speculated.take().filter(|s| s.ahead.same_as(ahead));
        let run: Vec<_> = run
            .into_iter()
            .map(|(data, pending)| {
                let made = speculated.as_mut().and_then(|s| s.take(&pending));
                (data, pending, made)
            })
            .collect();
        if speculated.is_some() {
            let made = run.iter().filter(|(_, _, made)| made.is_some()).count();
            self.spent.checked_ahead(made);
        }
        self.speculated = speculated;
        run
    }

    /// Waits for the checks being made ahead, if any.
    async fn finish_speculating(&mut self) {
        let Some(task) = self.speculating.take() else {
            return;
        };
        let waiting = std::time::Instant::now();
        let checks = task.await;
        self.spent.add(On::Checking, waiting);
        match checks {
            Ok(Ok(checks)) => self.speculated = Some(checks),
            Ok(Err(panic)) => std::panic::resume_unwind(panic),
            Err(_) => {}
        }
    }

    /// What [`check`] reads, as it is now.
    fn ahead(&self) -> Ahead {
        Ahead {
            params: Arc::new(self.params.clone()),
            registry: self.registry.clone(),
            entropy: Arc::clone(&self.entropy),
            denylist: Arc::clone(&self.denylist),
        }
    }

    /// Verifies a proof of coverage (`checked` by [`check`]) and applies its verdict in memory;
    /// the verdict is stored with the next batch ([`Verifier::store_unsaved`]). On an error
    /// `pending` is pending again.
    async fn close(
        &mut self,
        data: Vec<u8>,
        pending: Pending,
        checked: Option<Checked>,
    ) -> Result<(), StoreError> {
        let (Some(beacon), Some(checked)) = (&pending.beacon, checked) else {
            return Ok(());
        };
        let epoch = self.params.epoch_of(beacon.received_ms);
        // A refresh may store verdicts (and progress) before this one is verified.
        self.progress.closing_ms = Some(pending.earliest_ms());
        let prepared = match self.use_params_of(epoch).await {
            Ok(()) => self.refresh(beacon.received_ms).await,
            Err(e) => Err(e),
        };
        self.progress.closing_ms = None;
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
            judge(beacon, &pending.witnesses, checked, &ctx)
        });
        // Apply to the touched hotspots only.
        let touched =
            std::iter::once(verdict.beaconer).chain(verdict.witnesses.iter().map(|w| w.witness));
        let mut next: StateBook = touched
            .filter_map(|k| self.state.get(&k).map(|s| (k, *s)))
            .collect();
        let effects = BeaconEffects::of(&verdict, &self.params.checks);
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
        self.unsaved.verdicts.push((verdict, effects));
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
}

//! Figure 3, second half: the oracle's streaming verifier over the stored day, exactly as after
//! a restart (`Verifier::run` resumes every report without a verdict), with its clock past the
//! day's end, then flushed: every proof of coverage verified, density-scaled (HIP 17 map
//! rebuilt every `density_refresh`) and its verdicts stored.

use crate::day::{DAY_MS, DAY_START_MS};
use oracle::registry::Registry;
use oracle::store::{Store, StoreError};
use oracle::verifier::{
    Event, RESUME_WINDOW_MS, STORES_IN_FLIGHT, SpentSeconds, VERDICT_BATCH, Verifier,
    VerifierParams, VerifierStats,
};
use schemas::PublicKey;
use schemas::clock::Clock;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A clock stopped at one instant.
#[derive(Debug, Clone, Copy)]
pub struct FixedClock(pub u64);

impl Clock for FixedClock {
    fn now_ns(&self) -> u64 {
        self.0.saturating_mul(1_000_000)
    }
    fn to_real(&self, simulated: Duration) -> Duration {
        simulated
    }
}

/// What the verification did and cost.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct VerifyStats {
    pub wall_s: f64,
    /// Peak resident memory of the verifying process while it verified (`VmHWM`, read before
    /// the digest), bytes. It counts the pages of a memory-mapped SQLite file it touched.
    pub peak_rss_bytes: u64,
    /// Peak anonymous resident memory (`RssAnon`, sampled every 200 ms while verifying):
    /// the process's own memory, without file pages.
    #[serde(default)]
    pub peak_anon_bytes: u64,
    pub stats: VerifierStats,
    /// Where the verifier's time went: waiting for the backlog's reads, for verdicts to be
    /// stored and for the checks that run ahead, refreshing density and trust (of which
    /// evaluating the trust evidence and rebuilding the density map).
    #[serde(default)]
    pub spent: SpentSeconds,
    /// SHA-256 over every stored verdict (see [`verdict_digest`]).
    pub verdict_digest: String,
}

/// Errors of the verification run.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the verifier stopped before the flush finished")]
    Stopped,
}

/// Peak resident set size of this process, bytes (0 where `/proc` is missing).
pub fn peak_rss_bytes() -> u64 {
    proc_status_bytes("VmHWM:")
}

/// A `/proc/self/status` field in bytes (0 where `/proc` is missing).
pub fn proc_status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// Share of hotspots governance anchors in the benchmark (see [`anchors`]).
pub const ANCHOR_SHARE: f64 = 0.01;

/// The hotspots governance anchors under the `default` ruleset: about `share` of them, picked
/// by a hash of the key. The synthetic day, like the real network, is many neighbourhoods
/// that never hear each other; witness-graph trust confirms a neighbourhood through an anchor
/// in it (`oracle::trust`), as an operator would anchor hotspots it has inspected. Without
/// anchors only the largest neighbourhood would be trusted and the benchmark would measure a
/// network that earns almost nothing.
pub fn anchors(registry: &Registry, share: f64) -> Vec<PublicKey> {
    let cut = (share.clamp(0.0, 1.0) * 65_536.0) as u32;
    let mut keys: Vec<PublicKey> = registry.with(|hotspots| {
        hotspots
            .keys()
            .filter(|key| {
                let h = Sha256::new()
                    .chain_update(b"coverage-proof/bench-anchor\0")
                    .chain_update(key.as_bytes())
                    .finalize();
                u32::from(u16::from_be_bytes([h[0], h[1]])) < cut
            })
            .copied()
            .collect()
    });
    keys.sort_unstable();
    keys
}

/// Which verifier paths [`verify_day`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paths {
    /// Verdicts stored in batches of [`VERDICT_BATCH`], up to [`STORES_IN_FLIGHT`] at once,
    /// the backlog read in windows of [`RESUME_WINDOW_MS`], trust evidence kept up to date
    /// between refreshes (what the oracle does).
    Optimised,
    /// One transaction per proof of coverage, one at a time, the whole backlog read at once
    /// and the whole trust window read at every refresh: the paths before the optimisations,
    /// kept to show they store the same verdicts.
    Before,
}

/// `params` with the benchmark's anchors (see [`anchors`]) when trust is on and none are set.
fn anchored(mut params: VerifierParams, registry: &Registry) -> VerifierParams {
    if params.checks.graph_trust && params.trust.anchors.is_empty() {
        params.trust.anchors = anchors(registry, ANCHOR_SHARE);
    }
    params
}

/// Verifies what the stored day allows by a clock stopped at `clock_ms`, with a checkpoint of
/// the hotspot state every `checkpoint_every_ms` of receive time, and stops there: an oracle
/// that ran part of the day ([`Verifier::catch_up`]).
pub async fn verify_until(
    url: &str,
    params: VerifierParams,
    clock_ms: u64,
    checkpoint_every_ms: u64,
) -> Result<VerifierStats, VerifyError> {
    let store = Store::new(db::Db::connect(url).await?);
    let registry = Registry::load(&store).await?;
    let params = anchored(params, &registry);
    let stats = Verifier::new(
        store.clone(),
        registry,
        params,
        Arc::new(FixedClock(clock_ms)),
    )
    .with_checkpoint_every(checkpoint_every_ms)
    .catch_up()
    .await?;
    store.close().await;
    Ok(stats)
}

/// Verifies every stored report of the day in `url` with `params` through `paths`; prints
/// progress to stderr.
pub async fn verify_day(
    url: &str,
    params: VerifierParams,
    paths: Paths,
) -> Result<VerifyStats, VerifyError> {
    verify(url, params, |verifier| match paths {
        Paths::Optimised => verifier
            .with_verdict_batch(VERDICT_BATCH)
            .with_stores_in_flight(STORES_IN_FLIGHT)
            .with_resume_window(RESUME_WINDOW_MS),
        Paths::Before => verifier
            .with_verdict_batch(1)
            .with_stores_in_flight(1)
            .with_resume_window(u64::MAX)
            .with_incremental_trust(false)
            .with_check_ahead(false),
    })
    .await
}

/// [`verify_day`] on the oracle's paths with verdicts stored `verdict_batch` proofs of coverage
/// at a time, at most `stores_in_flight` batches at once (with a small `verdict_batch`, a small
/// day keeps several batches being stored at once).
pub async fn verify_day_with(
    url: &str,
    params: VerifierParams,
    verdict_batch: usize,
    stores_in_flight: usize,
) -> Result<VerifyStats, VerifyError> {
    verify(url, params, |verifier| {
        verifier
            .with_verdict_batch(verdict_batch)
            .with_stores_in_flight(stores_in_flight)
            .with_resume_window(RESUME_WINDOW_MS)
    })
    .await
}

async fn verify(
    url: &str,
    params: VerifierParams,
    configure: impl FnOnce(Verifier) -> Verifier,
) -> Result<VerifyStats, VerifyError> {
    let start = Instant::now();
    let store = Store::new(db::Db::connect(url).await?);
    let registry = Registry::load(&store).await?;
    let params = anchored(params, &registry);
    let clock = Arc::new(FixedClock(DAY_START_MS + DAY_MS + 3_600_000));
    let verifier = configure(Verifier::new(store.clone(), registry, params, clock));
    let stats = verifier.stats();
    let spent = verifier.spent();
    let (events, rx) = tokio::sync::mpsc::unbounded_channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(verifier.run(rx, async {
        let _ = stopped.await;
    }));
    let (done, wait) = tokio::sync::oneshot::channel();
    events
        .send(Event::Flush(done))
        .map_err(|_| VerifyError::Stopped)?;
    // Progress from a plain thread: the verifier keeps the runtime's workers busy.
    let finished = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let printer = {
        let finished = Arc::clone(&finished);
        let (stats, spent) = (stats.clone(), spent.clone());
        std::thread::spawn(move || {
            let mut waited = Duration::ZERO;
            let mut peak_anon = 0;
            while !finished.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(200));
                peak_anon = peak_anon.max(proc_status_bytes("RssAnon:"));
                waited += Duration::from_millis(200);
                if waited >= Duration::from_secs(10) {
                    waited = Duration::ZERO;
                    let s = *stats.borrow();
                    let t = spent.seconds();
                    eprintln!(
                        "  verified {} beacons, {} witnesses ({:.0} s; waited {:.0} s for reads, \
                         {:.0} s for stores, {:.0} s for checks; refreshing {:.0} s)",
                        s.pocs,
                        s.witness_verdicts,
                        start.elapsed().as_secs_f64(),
                        t.reading_s,
                        t.storing_s,
                        t.checking_s,
                        t.refreshing_s,
                    );
                }
            }
            peak_anon
        })
    };
    let flushed = wait.await;
    finished.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak_anon_bytes = printer.join().unwrap_or(0);
    flushed.map_err(|_| VerifyError::Stopped)?;
    let _ = stop.send(());
    match task.await {
        Ok(result) => result?,
        Err(_) => return Err(VerifyError::Stopped),
    }
    let wall_s = start.elapsed().as_secs_f64();
    let peak_rss_bytes = peak_rss_bytes();
    let stats = *stats.borrow();
    let verdict_digest = verdict_digest(&store).await?;
    store.close().await;
    Ok(VerifyStats {
        wall_s,
        peak_rss_bytes,
        peak_anon_bytes,
        stats,
        spent: spent.seconds(),
        verdict_digest,
    })
}

/// SHA-256 over every stored verdict (proofs of coverage, witness verdicts, hotspot states)
/// in key order: equal digests mean identical verification results.
pub async fn verdict_digest(store: &Store) -> Result<String, sqlx::Error> {
    let mut hasher = Sha256::new();
    let queries: [&'static str; 2] = [
        "SELECT beacon_id, beaconer_key, epoch, received_ms, valid, reason, measured, threshold, detail, location, \
         hex_scale_e4, reward_units_e4, witness_reports, valid_witnesses, selected_witnesses, passed_regular \
         FROM pocs ORDER BY beacon_id",
        "SELECT witness_id, beacon_id, witness_key, beaconer_key, epoch, received_ms, valid, reason, side, measured, \
         threshold, detail, selected, hex_scale_e4, reward_units_e4, passed_regular, log_distance_e3, signal_ddbm \
         FROM witness_verdicts ORDER BY witness_id",
    ];
    for sql in queries {
        let mut rows = sqlx::query(sql).fetch(store.db().pool());
        use futures::StreamExt;
        while let Some(row) = rows.next().await {
            let row = row?;
            for i in 0..row.len() {
                hash_column(&mut hasher, &row, i);
            }
        }
    }
    // The verifier's final state per hotspot (a stored checkpoint with every later verdict
    // folded in), hashed as its rows were when every verdict upserted it (a hotspot with no
    // timestamp set is the same as one never seen).
    let states = store.hotspot_states().await.map_err(|e| match e {
        StoreError::Sql(e) => e,
        other => sqlx::Error::Protocol(other.to_string()),
    })?;
    let unset = oracle::verifier::state::HotspotState::default();
    for (key, state) in states.into_iter().filter(|(_, s)| *s != unset) {
        hasher.update(b"b");
        hasher.update(key.as_bytes());
        hasher.update([0u8]);
        for field in [
            state.last_beacon_ms,
            state.last_witness_ms,
            state.last_reciprocal_beacon_ms,
            state.last_active_ms,
        ] {
            match field {
                Some(ms) => {
                    hasher.update(format!("i{ms}"));
                    hasher.update([0u8]);
                }
                None => hasher.update("null\0"),
            }
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Hashes one column by the type of its value, so both backends hash the same data alike.
fn hash_column(hasher: &mut Sha256, row: &sqlx::any::AnyRow, i: usize) {
    use sqlx::{TypeInfo, ValueRef};
    let name = match row.try_get_raw(i) {
        Ok(raw) if raw.is_null() => {
            hasher.update("null\0");
            return;
        }
        Ok(raw) => raw.type_info().name().to_ascii_uppercase(),
        Err(_) => String::new(),
    };
    if name.contains("BLOB") || name.contains("BYTEA") {
        hasher.update(b"b");
        hasher.update(row.try_get::<Vec<u8>, _>(i).unwrap_or_default());
    } else if name.contains("TEXT") || name.contains("CHAR") {
        hasher.update(format!(
            "s{}",
            row.try_get::<String, _>(i).unwrap_or_default()
        ));
    } else if name.contains("INT") {
        hasher.update(format!("i{}", row.try_get::<i64, _>(i).unwrap_or_default()));
    } else if name.contains("DOUBLE") || name.contains("REAL") || name.contains("FLOAT") {
        // Nine significant digits: trust statistics differ run to run in their last bits
        // (summation order), which is not a different verdict.
        let v = row.try_get::<f64, _>(i).unwrap_or_default();
        hasher.update(format!("f{v:.8e}"));
    } else {
        hasher.update(format!("?{name}"));
    }
    hasher.update([0u8]);
}

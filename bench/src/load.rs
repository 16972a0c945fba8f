//! Figure 3, first half: the synthetic day into the database, through the oracle's own store
//! code (`Store::save_assertions`, `Store::save_entropies`, `Store::insert_reports`: the
//! group-commit path ingest uses, multi-row statements, one transaction per chunk).
//!
//! The reports are stored in the order an oracle receives them: beacons are taken in transmit
//! time order ([`Network::beacons_in_time_order`]), each chunk is sorted by receive time and the
//! chunks are stored in order. An oracle appends what arrives, so this is the layout its tables
//! have, and what a restart backlog (reading windows of receive time) reads.
//!
//! Generation runs on every core (chunks of beacons handed out by an atomic counter); the
//! loader stores each chunk in turn as it comes, so generation and storage overlap and memory
//! stays bounded by a few chunks whatever the scale.

use crate::day::{Network, cores, parallel_map};
use oracle::store::{ReportKind, Store, StoreError};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Beacons per generated chunk (about 11,000 reports, one transaction).
const CHUNK_BEACONS: usize = 1_000;
/// Hotspots per onboarding transaction.
const ASSERTION_BATCH: usize = 5_000;

/// What was loaded and how long it took.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct LoadStats {
    pub hotspots: u64,
    pub beacons: u64,
    pub witnesses: u64,
    /// Onboarding (signed assertions) wall time, s.
    pub onboard_s: f64,
    /// Generating, signing and storing the reports, s.
    pub reports_s: f64,
}

/// Onboards every hotspot and stores the day's entropy and reports; prints progress to stderr.
pub async fn load(network: &Network, store: &Store) -> Result<LoadStats, StoreError> {
    load_with(network, store, false).await
}

/// [`load`], storing reports one statement each (`Store::insert_reports_one_by_one`, the path
/// before multi-row statements) when `one_by_one`.
pub async fn load_with(
    network: &Network,
    store: &Store,
    one_by_one: bool,
) -> Result<LoadStats, StoreError> {
    let mut stats = LoadStats::default();
    let start = Instant::now();
    let n = network.hotspots.len();
    for block in (0..n).step_by(ASSERTION_BATCH * cores()) {
        let parts: Vec<_> = parallel_map(cores(), cores(), |t| {
            let from = (block + t * ASSERTION_BATCH).min(n);
            network.assertions(from..(from + ASSERTION_BATCH).min(n))
        });
        for part in parts.iter().filter(|p| !p.is_empty()) {
            store.save_assertions(part).await?;
        }
    }
    store.save_entropies(&network.entropy).await?;
    stats.hotspots = n as u64;
    stats.onboard_s = start.elapsed().as_secs_f64();
    eprintln!("  onboarded {n} hotspots in {:.1} s", stats.onboard_s);

    let start = Instant::now();
    let order = network.beacons_in_time_order();
    let chunks = order.chunks(CHUNK_BEACONS).len() as u64;
    let total = order.len();
    let next = AtomicU64::new(0);
    let (tx, mut rx) = tokio::sync::mpsc::channel(2 * cores());
    let result = std::thread::scope(|scope| {
        for _ in 0..cores() {
            let tx = tx.clone();
            let (next, order) = (&next, &order);
            scope.spawn(move || {
                loop {
                    let c = next.fetch_add(1, Ordering::Relaxed);
                    if c >= chunks {
                        return;
                    }
                    let from = c as usize * CHUNK_BEACONS;
                    let beacons = &order[from..(from + CHUNK_BEACONS).min(total)];
                    let reports = network.chunk(beacons.iter().copied());
                    if tx.blocking_send((c, reports)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let mut last = Instant::now();
        // Chunks finished early wait here for the ones before them: at most one per generating
        // thread plus the channel's capacity.
        let mut early = BTreeMap::new();
        let mut next_chunk = 0;
        tokio::task::block_in_place(|| {
            tokio::runtime::Handle::current().block_on(async {
                while let Some((c, reports)) = rx.recv().await {
                    early.insert(c, reports);
                    while let Some(reports) = early.remove(&next_chunk) {
                        next_chunk += 1;
                        let witnesses = reports
                            .iter()
                            .filter(|r| r.kind == ReportKind::Witness)
                            .count() as u64;
                        stats.beacons += reports.len() as u64 - witnesses;
                        stats.witnesses += witnesses;
                        if one_by_one {
                            store.insert_reports_one_by_one(&reports).await?;
                        } else {
                            store.insert_reports(&reports).await?;
                        }
                        if last.elapsed() > Duration::from_secs(10) {
                            last = Instant::now();
                            let elapsed = start.elapsed().as_secs_f64();
                            eprintln!(
                                "  loaded {} / {total} beacons, {} witnesses, {:.0} reports/s",
                                stats.beacons,
                                stats.witnesses,
                                (stats.beacons + stats.witnesses) as f64 / elapsed
                            );
                        }
                    }
                }
                debug_assert!(early.is_empty(), "every chunk stored in order");
                Ok::<(), StoreError>(())
            })
        })
    });
    result?;
    stats.reports_s = start.elapsed().as_secs_f64();
    eprintln!(
        "  stored {} beacons and {} witnesses in {:.1} s",
        stats.beacons, stats.witnesses, stats.reports_s
    );
    Ok(stats)
}

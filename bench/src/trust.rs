//! The witness-graph trust refresh on its own: the evidence of a verified day read from the
//! database (what the verifier holds at the day's last refresh, its largest), then
//! `trust::evaluate` run on it several times. At Helium's peak the refreshes were most of the
//! verifier's CPU ("What limits" point 1 in `docs/benchmarks.md`); this measures them in
//! seconds instead of a 30-minute verification, and its digest shows an optimisation changed
//! no outcome.

use crate::day::{DAY_MS, DAY_START_MS};
use crate::verify::{peak_rss_bytes, proc_status_bytes};
use oracle::registry::Registry;
use oracle::store::{Store, StoreError};
use oracle::trust::{self, Evidence, TrustTable};
use oracle::verifier::VerifierParams;
use schemas::PublicKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Instant;

/// Receive time read per query while building the evidence (the verifier's refresh step).
const SLICE_MS: u64 = 30 * 60 * 1000;

/// What the trust benchmark measured.
#[derive(Debug, Clone, Serialize)]
pub struct TrustStats {
    /// Hotspots judged (trusted or distrusted), edges (beaconer -> witness) and witness
    /// reports counted.
    pub hotspots: usize,
    pub edges: usize,
    pub reports: u64,
    /// Seconds to read the evidence from the database.
    pub read_s: f64,
    /// The process's own resident memory (`RssAnon`) with the evidence read, bytes.
    pub evidence_anon_bytes: u64,
    /// Seconds of each evaluation.
    pub evaluate_s: Vec<f64>,
    pub trusted: usize,
    pub distrusted: usize,
    /// Peak resident memory of the process, bytes.
    pub peak_rss_bytes: u64,
    /// SHA-256 of the outcome (see [`table_digest`]); the same in every evaluation.
    pub digest: String,
}

/// Errors of the trust benchmark.
#[derive(Debug, thiserror::Error)]
pub enum TrustBenchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Db(#[from] db::DbError),
    #[error("the same evidence gave different outcomes: {0}")]
    Differs(String),
    #[error("writing {0}: {1}")]
    Dump(String, std::io::Error),
}

/// Reads the evidence of the whole stored day from `url` and evaluates trust `runs` times with
/// the `default` ruleset's parameters and the benchmark's anchors; prints progress to stderr.
/// With `dump`, writes the outcome there too, one line per judged hotspot in key order (key,
/// then `trusted` or the reason with every field), to compare two builds line by line.
pub async fn trust_run(
    url: &str,
    runs: usize,
    dump: Option<&std::path::Path>,
) -> Result<TrustStats, TrustBenchError> {
    let store = Store::new(db::Db::connect(url).await?);
    let registry = Registry::load(&store).await?;
    let mut params = VerifierParams::default().trust;
    params.anchors = crate::verify::anchors(&registry, crate::verify::ANCHOR_SHARE);
    let start = Instant::now();
    let mut evidence = Evidence::default();
    let mut reports = 0u64;
    let end = DAY_START_MS + DAY_MS + 3_600_000;
    let mut from = DAY_START_MS - 3_600_000;
    while from < end {
        let to = (from + SLICE_MS).min(end);
        store
            .trust_reports(from, to, |b, w, r| {
                reports += u64::from(r.n);
                evidence.add_reports(b, w, &r);
            })
            .await?;
        for (hotspot, n) in store.beacons_in_window(from, to).await? {
            evidence.add_beacons(hotspot, n);
        }
        from = to;
    }
    // As the verifier's window does at the end of each refresh step.
    evidence.settle();
    let read_s = start.elapsed().as_secs_f64();
    store.close().await;
    let evidence_anon_bytes = proc_status_bytes("RssAnon:");
    eprintln!(
        "  evidence: {} edges, {reports} reports ({read_s:.1} s), the process's own memory {} MiB",
        evidence.edge_count(),
        evidence_anon_bytes >> 20
    );
    let owners: HashMap<PublicKey, PublicKey> =
        registry.with(|hotspots| hotspots.iter().map(|(k, i)| (*k, i.owner)).collect());
    let mut evaluate_s = Vec::with_capacity(runs);
    let mut outcome: Option<(TrustTable, String)> = None;
    for run in 0..runs.max(1) {
        let t = Instant::now();
        let table = trust::evaluate(&evidence, |k| owners.get(k).copied(), &params);
        evaluate_s.push(t.elapsed().as_secs_f64());
        eprintln!("  evaluation {}: {:.2} s", run + 1, evaluate_s[run]);
        let digest = table_digest(&table);
        match &outcome {
            Some((_, first)) if *first != digest => {
                return Err(TrustBenchError::Differs(format!(
                    "evaluation {} gave {digest}, the first {first}",
                    run + 1
                )));
            }
            Some(_) => {}
            None => outcome = Some((table, digest)),
        }
    }
    let (table, digest) = outcome.expect("at least one evaluation");
    if let Some(path) = dump {
        std::fs::write(path, table_lines(&table))
            .map_err(|e| TrustBenchError::Dump(path.display().to_string(), e))?;
    }
    Ok(TrustStats {
        hotspots: table.trusted.len() + table.distrusted.len(),
        edges: evidence.edge_count(),
        reports,
        read_s,
        evidence_anon_bytes,
        evaluate_s,
        trusted: table.trusted.len(),
        distrusted: table.distrusted.len(),
        peak_rss_bytes: peak_rss_bytes(),
        digest,
    })
}

/// SHA-256 of [`table_lines`].
pub fn table_digest(table: &TrustTable) -> String {
    hex::encode(Sha256::digest(table_lines(table).as_bytes()))
}

/// A trust outcome as text in key order: each judged hotspot's key, then `trusted` or its
/// reason with every field (`Debug` prints each float's shortest exact representation).
pub fn table_lines(table: &TrustTable) -> String {
    let mut lines: Vec<(PublicKey, String)> = table
        .trusted
        .iter()
        .map(|k| (*k, "trusted".to_owned()))
        .chain(table.distrusted.iter().map(|(k, r)| (*k, format!("{r:?}"))))
        .collect();
    lines.sort_unstable_by_key(|(k, _)| *k);
    lines
        .into_iter()
        .map(|(k, line)| format!("{} {line}\n", hex::encode(k.as_bytes())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oracle::trust::Distrust;

    fn key(n: u8) -> PublicKey {
        PublicKey::from_bytes([n; 32])
    }

    #[test]
    fn the_digest_sees_every_key_reason_and_bit() {
        let mut table = TrustTable::default();
        table.trusted.extend([key(3), key(1)]);
        let reason = |slope: f64| Distrust::RssiIgnoresDistance {
            slope_db_per_decade: slope,
            max_slope_db_per_decade: -5.0,
            samples: 31,
        };
        table
            .distrusted
            .insert(key(2), reason(1.815_008_716_834_883_4));
        let lines = table_lines(&table);
        assert_eq!(lines.lines().count(), 3);
        assert!(
            lines
                .lines()
                .nth(1)
                .is_some_and(|l| l.starts_with(&hex::encode([2u8; 32])))
        );
        let digest = table_digest(&table);
        assert_eq!(table_digest(&table.clone()), digest);
        let mut last_bit = table.clone();
        last_bit.distrusted.insert(
            key(2),
            reason(f64::from_bits(1.815_008_716_834_883_4f64.to_bits() + 1)),
        );
        assert_ne!(table_digest(&last_bit), digest);
        let mut moved = table.clone();
        moved.trusted.remove(&key(3));
        moved.distrusted.insert(key(3), reason(0.0));
        assert_ne!(table_digest(&moved), digest);
    }
}

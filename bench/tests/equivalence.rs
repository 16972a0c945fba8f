//! The optimised paths store exactly what the paths before them stored: a small synthetic day
//! is loaded report by report and verified one transaction per proof of coverage, with the
//! whole backlog read at once and the whole trust window read at every refresh (the
//! unoptimised paths), and loaded with multi-row statements and verified in batches, the
//! backlog read in windows, the trust evidence slid from refresh to refresh (the optimised
//! ones), on SQLite and PostgreSQL; every verdict must be the same on all four. The trust
//! window is three hours, so in a day it slides: reports leave it as well as enter it. Every
//! witness report is received 1.4 s earlier than generated (before its beacon, as when a
//! beaconer's uplink lags) and trust is refreshed every minute, so the proofs of coverage of
//! beacons received just after a refresh store witness verdicts received before it: evidence
//! that lands behind the window's end.

use bench::day::{DayConfig, Network, real_positions};
use bench::load::load_with;
use bench::verify::{Paths, verify_day};
use oracle::store::Store;
use oracle::verifier::VerifierParams;

fn network() -> Network {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hotspots");
    let real = real_positions(&dir).expect("real hotspot positions");
    Network::build(
        DayConfig {
            scale: 0.0002,
            seed: 11,
        },
        &real,
    )
    .expect("network")
}

fn params() -> VerifierParams {
    let mut params = VerifierParams::default();
    assert!(params.checks.graph_trust);
    params.trust.window = std::time::Duration::from_secs(3 * 3600);
    params.density_refresh = std::time::Duration::from_secs(60);
    params
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_paths_store_the_same_verdicts_as_the_unbatched_ones() {
    let network = network();
    let mut digests = Vec::new();
    for name in ["sqlite", "postgres"] {
        for optimised in [false, true] {
            let fresh = match name {
                "sqlite" => db::test_support::sqlite().await,
                _ => db::test_support::postgres().await,
            }
            .expect("fresh database");
            let store = Store::new(fresh.db.clone());
            let loaded = load_with(&network, &store, !optimised).await.expect("load");
            assert_eq!(loaded.hotspots, 200);
            assert!(loaded.witnesses > loaded.beacons, "{loaded:?}");
            let shifted =
                sqlx::query("UPDATE witness_reports SET received_ms = received_ms - 1400")
                    .execute(fresh.db.pool())
                    .await
                    .expect("shift witness receive times");
            assert_eq!(shifted.rows_affected(), loaded.witnesses);
            let paths = if optimised {
                Paths::Optimised
            } else {
                Paths::Before
            };
            let result = verify_day(&fresh.url, params(), paths)
                .await
                .expect("verify");
            assert_eq!(result.stats.pocs, loaded.beacons);
            assert_eq!(result.stats.witness_verdicts, loaded.witnesses);
            assert!(result.stats.valid_witnesses > 0, "{:?}", result.stats);
            digests.push((name, optimised, result.verdict_digest));
        }
    }
    let first = &digests[0].2;
    for (name, optimised, digest) in &digests {
        assert_eq!(digest, first, "{name}, optimised {optimised}: {digests:?}");
    }
}

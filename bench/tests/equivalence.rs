//! The optimised paths store exactly what the paths before them stored: a small synthetic day
//! is loaded report by report and verified one transaction per proof of coverage, with the
//! whole backlog read at once and the whole trust window read at every refresh (the
//! unoptimised paths), and loaded with multi-row statements and verified in batches, the
//! backlog read in windows, the trust evidence slid from refresh to refresh, the proofs of
//! coverage checked on another thread ahead of their judging, the next window's from the end
//! of a refresh (the optimised ones), on SQLite and PostgreSQL; every verdict must be the
//! same on all four. The trust window is three hours, so in a day it slides: reports leave it as well as enter it. Every
//! witness report is received 1.4 s earlier than generated (before its beacon, as when a
//! beaconer's uplink lags) and trust is refreshed every minute, so the proofs of coverage of
//! beacons received just after a refresh store witness verdicts received before it: evidence
//! that lands behind the window's end. A fifth run per database stops at noon (verdicts,
//! progress and a checkpoint of the hotspot state every 30 minutes stored, the rest pending),
//! then a restart verifies the rest: the same verdicts again. After every run the paid tables
//! (what the rewards job reads) must hold exactly the paid rows of the verdict tables.
//!
//! Batches of verdicts are stored several at once and commit in the order they were verified:
//! when one fails to store, every batch after it is rolled back with it, all of them are
//! verified again, and what is finally stored is exactly what a run without failures stores.
//! Verdicts go in batches of two proofs of coverage there, so a small day keeps several
//! batches being stored at once; the failures are injected on PostgreSQL by a trigger that
//! rejects chosen `COPY`s into `pocs` (two in a row: the retry of a failed batch fails too).

use bench::day::{DAY_MS, DAY_START_MS};
use bench::day::{DayConfig, Network, real_positions};
use bench::load::load_with;
use bench::verify::{Paths, verify_day, verify_day_with, verify_until};
use oracle::store::Store;
use oracle::verifier::{STORES_IN_FLIGHT, VerifierParams};

fn network() -> Network {
    let dir = manifest_dir().join("../../shared/data/hotspots");
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
async fn optimised_and_restarted_paths_store_the_same_verdicts_as_the_unoptimised_ones() {
    let network = network();
    let mut digests = Vec::new();
    for name in ["sqlite", "postgres"] {
        for run in [Run::Before, Run::Optimised, Run::Restarted] {
            let optimised = run != Run::Before;
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
            let mut earlier = oracle::verifier::VerifierStats::default();
            if run == Run::Restarted {
                let noon = DAY_START_MS + DAY_MS / 2;
                earlier = verify_until(&fresh.url, params(), noon, 30 * 60 * 1000)
                    .await
                    .expect("verify until noon");
                assert!(
                    earlier.pocs > 0 && earlier.pocs < loaded.beacons,
                    "stopped part-way: {earlier:?}"
                );
            }
            let result = verify_day(&fresh.url, params(), paths)
                .await
                .expect("verify");
            // A restarted verifier verifies exactly what the first run left.
            assert_eq!(earlier.pocs + result.stats.pocs, loaded.beacons);
            assert_eq!(
                earlier.witness_verdicts + result.stats.witness_verdicts,
                loaded.witnesses
            );
            assert!(result.stats.valid_witnesses > 0, "{:?}", result.stats);
            // The oracle's paths check a window's proofs of coverage from the refreshes of the
            // window before (trust is refreshed every minute, so every window has refreshes);
            // the path before checks each as it is judged.
            assert_eq!(
                result.spent.checked_ahead > 0,
                optimised,
                "{name}, {run:?}: {:?}",
                result.spent
            );
            // Whichever path stored the verdicts (multi-row inserts, COPY, one proof of
            // coverage at a time, across a restart), the paid tables hold exactly their paid
            // rows (migration 0010's triggers).
            let paid = db::test_support::paid_tables(fresh.db.pool())
                .await
                .expect("compare the paid tables");
            assert_eq!(paid.differing, 0, "{name}, {run:?}: {paid:?}");
            assert_eq!(
                (paid.beacons as u64, paid.witnesses > 0),
                (earlier.valid_beacons + result.stats.valid_beacons, true),
                "{name}, {run:?}: {paid:?}"
            );
            digests.push((name, run, result.verdict_digest));
        }
    }
    let first = &digests[0].2;
    for (name, run, digest) in &digests {
        assert_eq!(digest, first, "{name}, {run:?}: {digests:?}");
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// The paths before the optimisations.
    Before,
    /// The oracle's paths.
    Optimised,
    /// The oracle's paths, stopped at noon and restarted.
    Restarted,
}

/// Rejects the 3rd, 4th and 9th statement that inserts into `pocs`. A sequence counts them:
/// it is not rolled back with the failed transaction.
const FAIL_SOME_BATCHES: &str = "
CREATE SEQUENCE pocs_statements;
CREATE FUNCTION fail_some_batches() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF nextval('pocs_statements') IN (3, 4, 9) THEN
        RAISE EXCEPTION 'injected failure';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER fail_some_batches AFTER INSERT ON pocs
    FOR EACH STATEMENT EXECUTE FUNCTION fail_some_batches();
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_that_fail_to_store_are_verified_again_to_the_same_verdicts() {
    let network = network();
    let mut params = VerifierParams::default();
    params.trust.window = std::time::Duration::from_secs(3 * 3600);
    let mut digests = Vec::new();
    for failing in [false, true] {
        let fresh = db::test_support::postgres().await.expect("fresh database");
        let store = Store::new(fresh.db.clone());
        let loaded = load_with(&network, &store, false).await.expect("load");
        if failing {
            sqlx::raw_sql(FAIL_SOME_BATCHES)
                .execute(fresh.db.pool())
                .await
                .expect("install the failing trigger");
        }
        let result = verify_day_with(&fresh.url, params.clone(), 2, STORES_IN_FLIGHT)
            .await
            .expect("verify");
        assert_eq!(result.stats.pocs, loaded.beacons, "failing: {failing}");
        assert_eq!(
            result.stats.witness_verdicts, loaded.witnesses,
            "failing: {failing}"
        );
        assert!(result.stats.valid_witnesses > 0, "{:?}", result.stats);
        let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pocs")
            .fetch_one(fresh.db.pool())
            .await
            .expect("count the stored proofs of coverage");
        assert_eq!(stored as u64, loaded.beacons, "failing: {failing}");
        if failing {
            let statements: i64 = sqlx::query_scalar("SELECT last_value FROM pocs_statements")
                .fetch_one(fresh.db.pool())
                .await
                .expect("count the statements");
            assert!(
                statements as u64 > loaded.beacons / 2,
                "every batch of two inserted, three were rejected: {statements}"
            );
        }
        let paid = db::test_support::paid_tables(fresh.db.pool())
            .await
            .expect("compare the paid tables");
        assert_eq!(paid.differing, 0, "failing: {failing}: {paid:?}");
        digests.push(result.verdict_digest);
    }
    assert_eq!(digests[0], digests[1]);
}

/// This package's directory, read when the test runs (`cargo test` sets it): a test binary
/// reused from a target directory shared by clones at other paths would otherwise carry the
/// path it was built at.
fn manifest_dir() -> std::path::PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| env!("CARGO_MANIFEST_DIR").into(), Into::into)
}

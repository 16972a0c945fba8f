//! Batches of verdicts are stored several at once and commit in the order they were verified:
//! when one fails to store, every batch after it is rolled back with it, all of them are verified
//! again, and what is finally stored is exactly what a run without failures stores. Verdicts
//! go in batches of two proofs of coverage, so a small day keeps several batches being stored
//! at once; the failures are injected on PostgreSQL by a trigger that rejects chosen `COPY`s
//! into `pocs` (two in a row: the retry of a failed batch fails too).

use bench::day::{DayConfig, Network, real_positions};
use bench::load::load_with;
use bench::verify::verify_day_with;
use oracle::store::Store;
use oracle::verifier::{STORES_IN_FLIGHT, VerifierParams};

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

fn network() -> Network {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/hotspots");
    let real = real_positions(&dir).expect("real hotspot positions");
    Network::build(
        DayConfig {
            scale: 0.0002,
            seed: 12,
        },
        &real,
    )
    .expect("network")
}

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

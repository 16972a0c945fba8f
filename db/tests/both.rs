//! The migrations apply and the shared SQL subset behaves the same on SQLite and PostgreSQL.

use sqlx::Row;

#[tokio::test]
async fn migrations_and_common_sql_work_on_both_backends() {
    for test in db::test_support::both().await.expect("databases") {
        let pool = test.db.pool();
        let key = vec![7u8; 32];
        for _ in 0..2 {
            sqlx::query(
                "INSERT INTO hotspots (hotspot_key, owner_key, location, gain_ddbi, elevation_m, asserted_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
            )
            .bind(key.clone())
            .bind(vec![8u8; 32])
            .bind(0x08c2_830d_3400_43ffi64)
            .bind(30i64)
            .bind(5i64)
            .bind(1_700_000_000_000i64)
            .execute(pool)
            .await
            .unwrap_or_else(|e| panic!("{}: insert: {e}", test.name));
        }
        let row = sqlx::query("SELECT owner_key, location, full_hotspot, COUNT(*) OVER () AS n FROM hotspots WHERE hotspot_key = $1")
            .bind(key)
            .fetch_one(pool)
            .await
            .unwrap_or_else(|e| panic!("{}: select: {e}", test.name));
        assert_eq!(
            row.get::<Vec<u8>, _>("owner_key"),
            vec![8u8; 32],
            "{}",
            test.name
        );
        assert_eq!(
            row.get::<i64, _>("location"),
            0x08c2_830d_3400_43ff,
            "{}",
            test.name
        );
        assert_eq!(row.get::<i64, _>("full_hotspot"), 1, "{}", test.name);
        assert_eq!(
            row.get::<i64, _>("n"),
            1,
            "{}: ON CONFLICT DO NOTHING must dedupe",
            test.name
        );
        // Reconnecting applies no migration twice.
        let again = db::Db::connect(&test.url).await.expect("reconnect");
        again.close().await;
    }
}

/// A one-byte key (the tables do not check lengths), bound as bytes on either backend (SQLite's
/// `X'..'` is a bit string in PostgreSQL).
fn key(byte: u8) -> Vec<u8> {
    vec![byte]
}

#[tokio::test]
async fn paid_tables_follow_every_insert_change_and_delete_of_a_verdict() {
    for test in db::test_support::both().await.expect("databases") {
        let pool = test.db.pool();
        let name = test.name;
        let exec = |sql: &'static str, keys: Vec<u8>| async move {
            let mut query = sqlx::query(sql);
            for byte in keys {
                query = query.bind(key(byte));
            }
            query
                .execute(pool)
                .await
                .unwrap_or_else(|e| panic!("{name}: {sql}: {e}"))
        };
        let paid = || async {
            let paid = db::test_support::paid_tables(pool)
                .await
                .unwrap_or_else(|e| panic!("{name}: compare: {e}"));
            (paid.beacons, paid.witnesses, paid.differing)
        };

        // Three proofs of coverage in one statement, one invalid, one without a location; each
        // inserted twice (the second conflicts and adds nothing).
        for _ in 0..2 {
            exec(
                "INSERT INTO pocs (minute, beaconer_key, beacon_id, epoch, received_ms, valid, location, hex_scale_e4, \
                 reward_units_e4, witness_reports, valid_witnesses, selected_witnesses, passed_regular, state_flags) VALUES \
                 (1, $1, $2, 0, 60000, 1, 7, 2500, 10000, 1, 1, 1, 1, 0), \
                 (1, $3, $4, 0, 60001, 0, 7, 2500, 10000, 0, 0, 0, 0, 0), \
                 (2, $5, $6, 0, 120000, 1, NULL, 10000, 5000, 0, 0, 0, 1, 0) \
                 ON CONFLICT DO NOTHING",
                vec![0x01, 0xa1, 0x02, 0xa2, 0x03, 0xa3],
            )
            .await;
        }
        assert_eq!(
            paid().await,
            (2, 0, 0),
            "{name}: valid beacons after inserts"
        );
        // Four witnesses: paid, not selected, invalid, and of no proof of coverage.
        for _ in 0..2 {
            exec(
                "INSERT INTO witness_verdicts (minute, witness_key, witness_id, beacon_id, beaconer_key, epoch, received_ms, \
                 valid, selected, hex_scale_e4, reward_units_e4, passed_regular) VALUES \
                 (1, $1, $2, $3, $4, 0, 60100, 1, 1, 2500, 10000, 1), \
                 (1, $5, $6, $3, $4, 0, 60200, 1, 0, 2500, 10000, 1), \
                 (1, $7, $8, $3, $4, 0, 60300, 0, 0, 2500, 0, 0), \
                 (2, $9, $10, NULL, NULL, 0, 120100, 1, 1, 0, 10000, 1) \
                 ON CONFLICT DO NOTHING",
                vec![0x11, 0xb1, 0xa1, 0x01, 0x12, 0xb2, 0x13, 0xb3, 0x14, 0xb4],
            )
            .await;
        }
        assert_eq!(
            paid().await,
            (2, 1, 0),
            "{name}: paid witnesses after inserts"
        );

        // Corrections: a verdict turned invalid leaves, one turned valid or selected joins, a
        // changed value follows.
        exec(
            "UPDATE pocs SET valid = 1 - valid WHERE beacon_id = $1 OR beacon_id = $2",
            vec![0xa1, 0xa2],
        )
        .await;
        assert_eq!(paid().await, (2, 1, 0), "{name}: after flipping validity");
        exec(
            "UPDATE pocs SET hex_scale_e4 = 5000 WHERE beacon_id = $1",
            vec![0xa3],
        )
        .await;
        assert_eq!(paid().await, (2, 1, 0), "{name}: after a changed scale");
        exec(
            "UPDATE witness_verdicts SET selected = 1 WHERE witness_id = $1",
            vec![0xb2],
        )
        .await;
        exec(
            "UPDATE witness_verdicts SET reward_units_e4 = 1 WHERE witness_id = $1",
            vec![0xb1],
        )
        .await;
        assert_eq!(paid().await, (2, 2, 0), "{name}: after selecting one");
        exec(
            "UPDATE witness_verdicts SET beacon_id = $1 WHERE beacon_id IS NULL",
            vec![0xa2],
        )
        .await;
        assert_eq!(paid().await, (2, 3, 0), "{name}: after attaching one");

        exec("DELETE FROM pocs WHERE beacon_id = $1", vec![0xa3]).await;
        assert_eq!(paid().await, (1, 3, 0), "{name}: after a delete");
        exec(
            "DELETE FROM witness_verdicts WHERE witness_id = $1 OR witness_id = $2",
            vec![0xb1, 0xb3],
        )
        .await;
        assert_eq!(paid().await, (1, 2, 0), "{name}: after deletes");
        // The comparison sees a paid row changed behind the verdicts' back: one row each way.
        exec(
            "UPDATE paid_witnesses SET reward_units_e4 = 2 WHERE witness_id = $1",
            vec![0xb2],
        )
        .await;
        assert_eq!(
            paid().await,
            (1, 2, 2),
            "{name}: after tampering with a paid row"
        );
        let scale: i64 = sqlx::query("SELECT hex_scale_e4 FROM paid_beacons")
            .fetch_one(pool)
            .await
            .expect("paid beacon")
            .get(0);
        assert_eq!(scale, 2500, "{name}: the remaining paid beacon is a2's");
    }
}

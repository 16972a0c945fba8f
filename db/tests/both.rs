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

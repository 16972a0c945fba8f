//! Databases for tests: a fresh SQLite file, and a fresh PostgreSQL database on the server that
//! `scripts/test` starts (its superuser URL is in `COVERAGE_PROOF_TEST_POSTGRES`).

use crate::{Db, DbError, sqlite_url};
use std::sync::atomic::{AtomicU32, Ordering};

/// Environment variable holding the PostgreSQL superuser URL used by tests.
pub const POSTGRES_ENV: &str = "COVERAGE_PROOF_TEST_POSTGRES";

/// A test database; keeps its temporary directory alive.
pub struct TestDb {
    /// The migrated database.
    pub db: Db,
    /// `sqlite` or `postgres`.
    pub name: &'static str,
    /// Its URL (to reconnect from another process or after a simulated restart).
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A new, migrated SQLite database in a temporary directory.
pub async fn sqlite() -> Result<TestDb, DbError> {
    let dir = tempfile::tempdir().map_err(|source| DbError::Directory {
        path: "temp".into(),
        source,
    })?;
    let url = sqlite_url(&dir.path().join("test.db"));
    let db = Db::connect(&url).await?;
    Ok(TestDb {
        db,
        name: "sqlite",
        url,
        _dir: Some(dir),
    })
}

/// A new, empty, migrated PostgreSQL database. Panics with instructions when
/// `COVERAGE_PROOF_TEST_POSTGRES` is not set: PostgreSQL tests are never skipped silently.
pub async fn postgres() -> Result<TestDb, DbError> {
    let admin = std::env::var(POSTGRES_ENV).unwrap_or_else(|_| {
        panic!("{POSTGRES_ENV} is not set: run scripts/test, which starts a PostgreSQL server for the tests")
    });
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let mut nonce = [0u8; 4];
    getrandom_fill(&mut nonce);
    let name = format!(
        "cp_test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        u32::from_le_bytes(nonce)
    );
    let admin_db = Db::connect_admin(&admin).await?;
    drop_abandoned(&admin_db).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(admin_db.pool())
        .await
        .map_err(|source| DbError::Connect {
            url: admin.clone(),
            source,
        })?;
    admin_db.close().await;
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    let url = format!("{base}/{name}");
    let db = Db::connect(&url).await?;
    Ok(TestDb {
        db,
        name: "postgres",
        url,
        _dir: None,
    })
}

/// Drops the test databases of test processes that have exited (their names carry the
/// creating process's id), so a long-lived server does not collect them. Where process ids
/// cannot be checked (no `/proc`), nothing is dropped. Best effort: another test process may
/// be dropping the same database, so failures are ignored.
async fn drop_abandoned(admin_db: &Db) {
    use sqlx::Row;
    if !std::path::Path::new("/proc/self").exists() {
        return;
    }
    let Ok(rows) =
        sqlx::query("SELECT datname::text FROM pg_database WHERE datname LIKE 'cp\\_test\\_%'")
            .fetch_all(admin_db.pool())
            .await
    else {
        return;
    };
    for row in rows {
        let Ok(name) = row.try_get::<String, _>(0) else {
            continue;
        };
        if abandoned(&name, |pid| {
            std::path::Path::new("/proc").join(pid.to_string()).exists()
        }) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(admin_db.pool())
            .await;
        }
    }
}

/// Whether `name` is a test database (`cp_test_<pid>_<n>_<nonce>`, all digits) whose process
/// is not alive.
fn abandoned(name: &str, alive: impl Fn(u32) -> bool) -> bool {
    let mut parts = name.strip_prefix("cp_test_").map(|rest| rest.split('_'));
    let Some(parts) = parts.as_mut() else {
        return false;
    };
    let fields: Vec<&str> = parts.collect();
    if fields.len() != 3
        || !fields
            .iter()
            .all(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    match fields[0].parse::<u32>() {
        Ok(pid) => pid != std::process::id() && !alive(pid),
        Err(_) => false,
    }
}

/// Both backends, SQLite first.
pub async fn both() -> Result<Vec<TestDb>, DbError> {
    Ok(vec![sqlite().await?, postgres().await?])
}

fn getrandom_fill(buf: &mut [u8]) {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    let bytes = hasher.finish().to_le_bytes();
    for (b, r) in buf.iter_mut().zip(bytes) {
        *b = r;
    }
}

impl Db {
    /// Connects without running migrations (to create databases).
    async fn connect_admin(url: &str) -> Result<Db, DbError> {
        sqlx::any::install_default_drivers();
        let pool = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .connect(url)
            .await
            .map_err(|source| DbError::Connect {
                url: url.to_string(),
                source,
            })?;
        Ok(Db {
            pool,
            backend: crate::Backend::Postgres,
            postgres: None,
        })
    }
}

/// Stores `set` in `parameter_sets` as applied governance would, without its signatures (tests
/// that need a parameter set in force; `rewards governance apply` is the real path).
pub async fn apply_parameters(
    pool: &sqlx::AnyPool,
    set: &schemas::parameters::ParameterSet,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO parameter_sets (version, effective_epoch, hash, parameters, applied_ms) \
         VALUES ($1, $2, $3, $4, 0)",
    )
    .bind(i64::try_from(set.version).unwrap_or(i64::MAX))
    .bind(i64::try_from(set.effective_epoch).unwrap_or(i64::MAX))
    .bind(set.hash().to_vec())
    .bind(set.to_toml())
    .execute(pool)
    .await?;
    Ok(())
}

/// The paid tables (migration 0010) against their definition over the verdict tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaidTables {
    /// Rows of `paid_beacons`.
    pub beacons: i64,
    /// Rows of `paid_witnesses`.
    pub witnesses: i64,
    /// Rows in one side and not the other, both tables and both ways (0 when they match).
    pub differing: i64,
}

/// Compares the paid tables with the paid rows of the verdict tables, as sets of whole rows.
pub async fn paid_tables(pool: &sqlx::AnyPool) -> Result<PaidTables, sqlx::Error> {
    let count = |sql: String| async move {
        use sqlx::Row;
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .fetch_one(pool)
            .await?
            .try_get::<i64, _>(0)
    };
    let mut differing = 0;
    for (verdicts, filter, paid, columns) in [
        (
            "pocs",
            "valid = 1",
            "paid_beacons",
            "minute, received_ms, location, hex_scale_e4, reward_units_e4, beaconer_key, beacon_id",
        ),
        (
            "witness_verdicts",
            "valid = 1 AND selected = 1 AND beacon_id IS NOT NULL",
            "paid_witnesses",
            "minute, epoch, hex_scale_e4, reward_units_e4, witness_key, witness_id, beacon_id",
        ),
    ] {
        let of_verdicts = format!("SELECT {columns} FROM {verdicts} WHERE {filter}");
        let of_paid = format!("SELECT {columns} FROM {paid}");
        differing += count(format!(
            "SELECT COUNT(*) FROM ({of_verdicts} EXCEPT {of_paid}) t"
        ))
        .await?;
        differing += count(format!(
            "SELECT COUNT(*) FROM ({of_paid} EXCEPT {of_verdicts}) t"
        ))
        .await?;
    }
    Ok(PaidTables {
        beacons: count("SELECT COUNT(*) FROM paid_beacons".into()).await?,
        witnesses: count("SELECT COUNT(*) FROM paid_witnesses".into()).await?,
        differing,
    })
}

#[cfg(test)]
mod tests {
    use super::abandoned;

    #[test]
    fn only_test_databases_of_exited_processes_are_abandoned() {
        let alive = |pid: u32| pid == 42;
        assert!(abandoned("cp_test_7_0_123456", alive));
        assert!(!abandoned("cp_test_42_3_99", alive));
        assert!(!abandoned(
            &format!("cp_test_{}_0_1", std::process::id()),
            |_| false
        ));
        for name in [
            "cp_test_7_0",
            "cp_test_7_0_1_2",
            "cp_test_x_0_1",
            "cp_test__0_1",
            "day1",
            "cp_test_7_0_1; DROP TABLE x",
        ] {
            assert!(!abandoned(name, alive), "{name}");
        }
    }
}

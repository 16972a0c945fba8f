//! Database access shared by `oracle` and `rewards`: one connection type over SQLite (the
//! default, a file in the data directory) or PostgreSQL (a `postgres://` URL), and the
//! migrations that create every table.
//!
//! Both backends go through sqlx's `Any` driver, so every query is written once and runs on
//! both. The SQL sticks to the common subset: `$1` placeholders, `BIGINT`, `TEXT`,
//! `DOUBLE PRECISION`, byte strings (`BLOB` / `BYTEA`, the only difference, kept to the two
//! migration folders), `ON CONFLICT DO NOTHING`. Integers are always `BIGINT` and read as `i64`.

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Executor};
use std::path::Path;
use std::sync::Once;
use std::time::Duration;

pub mod parameters;
pub mod test_support;

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database a [`Db`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Errors opening or migrating a database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: use sqlite://PATH or postgres://...")]
    Url(String),
    #[error("could not create the database directory {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
    #[error("could not connect to {url}: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("could not migrate {url}: {source}")]
    Migrate {
        url: String,
        source: sqlx::migrate::MigrateError,
    },
}

/// A migrated connection pool.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
    /// PostgreSQL's own driver on the same database, for what `Any` cannot express (`COPY`).
    postgres: Option<sqlx::PgPool>,
}

impl Db {
    /// Connects to `url` and applies pending migrations. A SQLite file (and its directory) is
    /// created when missing; SQLite runs in WAL mode with `synchronous = FULL`, so a
    /// committed transaction survives a crash or power loss.
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        static DRIVERS: Once = Once::new();
        DRIVERS.call_once(install_default_drivers);
        let (backend, url) = normalise(url)?;
        let mut options = AnyPoolOptions::new().acquire_timeout(Duration::from_secs(30));
        options = match backend {
            Backend::Sqlite => options.max_connections(8).after_connect(|conn, _| {
                Box::pin(async move {
                    // Reads through a memory map (up to SQLite's 2 GiB build limit): the pool's
                    // connections each have a small page cache that a write by another one
                    // empties, so without it every B-tree page a statement touches was a
                    // `pread` copy (most of the verifier's CPU at 100,000 hotspots, see
                    // docs/benchmarks.md). Writes still go through the WAL, and every page a
                    // transaction changes stays in the connection's page cache until it
                    // commits: 32 MiB (SQLite's default is 2 MiB) holds a group commit of
                    // ingest (~1,000 reports, each a random leaf of the id index) without
                    // spilling pages to the WAL mid-transaction.
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 30000; \
                         PRAGMA mmap_size = 2147418112; PRAGMA cache_size = -32768;",
                    )
                    .await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options.max_connections(16),
        };
        let pool = options
            .connect(&url)
            .await
            .map_err(|source| DbError::Connect {
                url: redact(&url),
                source,
            })?;
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator
            .run(&pool)
            .await
            .map_err(|source| DbError::Migrate {
                url: redact(&url),
                source,
            })?;
        let postgres = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                // The verifier writes up to three verdict batches at once, each on its own
                // connection, and each waits for the one before to commit: a batch must never
                // wait for a connection held by a later one.
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(8)
                    .acquire_timeout(Duration::from_secs(30))
                    .connect_lazy(&url)
                    .map_err(|source| DbError::Connect {
                        url: redact(&url),
                        source,
                    })?,
            ),
        };
        Ok(Self {
            pool,
            backend,
            postgres,
        })
    }

    /// The connection pool.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// PostgreSQL's own pool on the same database (connections opened on first use), for bulk
    /// writes with `COPY`; `None` on SQLite.
    pub fn postgres(&self) -> Option<&sqlx::PgPool> {
        self.postgres.as_ref()
    }

    /// Closes every connection (waits for in-flight queries).
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(postgres) = &self.postgres {
            postgres.close().await;
        }
    }
}

/// Verdict tables (`pocs`, `witness_verdicts`) are keyed by the minute a report was received
/// in, then hotspot key, then report id (migration 0009): every range of receive time is a range
/// of minutes, and a hotspot's verdicts are one probe per minute.
pub const VERDICT_MINUTE_MS: u64 = 60_000;

/// A witness verdict that belongs to a proof of coverage was received within this of the proof's
/// beacon (the oracle refuses verifier parameters that would allow more), so the witnesses of an
/// epoch's proofs of coverage are found within this much beyond the epoch's minutes.
pub const VERDICT_EPOCH_MARGIN_MS: u64 = 3600 * 1000;

/// The `minute` column of a report received at `received_ms`.
pub fn verdict_minute(received_ms: u64) -> i64 {
    i64::try_from(received_ms / VERDICT_MINUTE_MS).unwrap_or(i64::MAX)
}

/// The minutes `[first, last]` that hold every receive time in `[from_ms, to_ms)` (empty when
/// `first > last`).
pub fn verdict_minutes(from_ms: u64, to_ms: u64) -> (i64, i64) {
    if to_ms <= from_ms {
        return (0, -1);
    }
    (verdict_minute(from_ms), verdict_minute(to_ms - 1))
}

/// The SQLite URL of a database file.
pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn normalise(url: &str) -> Result<(Backend, String), DbError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok((Backend::Postgres, url.to_string()));
    }
    let Some(rest) = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
    else {
        return Err(DbError::Url(url.to_string()));
    };
    let path = rest.split('?').next().unwrap_or(rest);
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DbError::Directory {
            path: dir.display().to_string(),
            source,
        })?;
    }
    let url = if rest.contains('?') {
        format!("sqlite://{rest}")
    } else {
        format!("sqlite://{rest}?mode=rwc")
    };
    Ok((Backend::Sqlite, url))
}

/// The URL without a password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised() {
        assert!(matches!(normalise("mysql://x"), Err(DbError::Url(_))));
        let (backend, url) = normalise("postgres://u:p@h/db").expect("pg");
        assert_eq!(backend, Backend::Postgres);
        assert_eq!(url, "postgres://u:p@h/db");
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("a/b/oracle.db");
        let (backend, url) = normalise(&sqlite_url(&file)).expect("sqlite");
        assert_eq!(backend, Backend::Sqlite);
        assert!(url.ends_with("oracle.db?mode=rwc"));
        assert!(dir.path().join("a/b").is_dir());
    }
}

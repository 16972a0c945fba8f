//! Fresh databases for a measurement, removed afterwards (they can be tens of GB).

use serde::Serialize;
use std::path::{Path, PathBuf};

/// Which database a figure is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A fresh database: its URL, dropped (PostgreSQL) or deleted (SQLite) by [`Scratch::remove`].
#[derive(Debug)]
pub struct Scratch {
    pub url: String,
    pub backend: Backend,
    admin: Option<String>,
    name: String,
    dir: Option<PathBuf>,
}

/// Errors creating or removing a scratch database.
#[derive(Debug, thiserror::Error)]
pub enum ScratchError {
    #[error(
        "PostgreSQL figures need an admin URL: pass --postgres URL or set COVERAGE_PROOF_TEST_POSTGRES"
    )]
    NoPostgres,
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

async fn admin_pool(url: &str) -> Result<sqlx::AnyPool, ScratchError> {
    sqlx::any::install_default_drivers();
    Ok(sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await?)
}

impl Scratch {
    /// A new empty database named after `label` (SQLite: a file under `work_dir`).
    pub async fn create(
        backend: Backend,
        label: &str,
        work_dir: &Path,
        postgres_admin: Option<&str>,
    ) -> Result<Self, ScratchError> {
        let name = format!("bench_{}_{}", label, std::process::id());
        match backend {
            Backend::Sqlite => {
                let dir = work_dir.join(&name);
                let io = |source| ScratchError::Io {
                    path: dir.display().to_string(),
                    source,
                };
                if dir.exists() {
                    std::fs::remove_dir_all(&dir).map_err(io)?;
                }
                std::fs::create_dir_all(&dir).map_err(io)?;
                Ok(Self {
                    url: db::sqlite_url(&dir.join("oracle.db")),
                    backend,
                    admin: None,
                    name,
                    dir: Some(dir),
                })
            }
            Backend::Postgres => {
                let admin = postgres_admin.ok_or(ScratchError::NoPostgres)?.to_string();
                let pool = admin_pool(&admin).await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name}"
                )))
                .execute(&pool)
                .await?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&pool)
                    .await?;
                pool.close().await;
                let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
                Ok(Self {
                    url: format!("{base}/{name}"),
                    backend,
                    admin: Some(admin),
                    name,
                    dir: None,
                })
            }
        }
    }

    /// Bytes the database takes on disk (SQLite: its files; PostgreSQL: `pg_database_size`).
    pub async fn size_bytes(&self) -> Result<u64, ScratchError> {
        if let Some(dir) = &self.dir {
            let mut total = 0;
            let entries = std::fs::read_dir(dir).map_err(|source| ScratchError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            for entry in entries.flatten() {
                total += entry.metadata().map_or(0, |m| m.len());
            }
            return Ok(total);
        }
        let pool = admin_pool(&self.url).await?;
        let size: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(pg_database_size('{}') AS BIGINT)",
            self.name
        )))
        .fetch_one(&pool)
        .await?;
        pool.close().await;
        Ok(size.max(0) as u64)
    }

    /// Deletes the database.
    pub async fn remove(self) -> Result<(), ScratchError> {
        if let Some(dir) = &self.dir {
            std::fs::remove_dir_all(dir).map_err(|source| ScratchError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        if let Some(admin) = &self.admin {
            let pool = admin_pool(admin).await?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&pool)
            .await?;
            pool.close().await;
        }
        Ok(())
    }
}

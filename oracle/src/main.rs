//! `oracle`: serve, and offline tools.

use anyhow::Context;
use clap::{Parser, Subcommand};
use oracle::density::DensityParams;
use oracle::settings::Settings;
use schemas::clock::SystemClock;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "oracle",
    version,
    about = "Proof-of-coverage oracle: ingest, verify, explain"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the QUIC server, entropy publisher and streaming verifier.
    Serve {
        /// Settings file (see pkg/settings-template.toml); defaults apply without one.
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the HIP 17 transmit scale of each hotspot of a CSV (one res-12 cell per row).
    Density {
        /// CSV with one res-12 H3 cell per row (hex string or u64) in the first column.
        #[arg(long)]
        hotspots: PathBuf,
        /// Resolution table: hip104 (deployed) or hip17 (proposed).
        #[arg(long, default_value = "hip104")]
        params: DensityParams,
    },
    /// Print the oracle's public key (the value agents pin), creating the key if needed.
    Key {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match Cli::parse().command {
        Command::Serve { config } => serve(config).await,
        Command::Density { hotspots, params } => {
            let file = std::fs::File::open(&hotspots)
                .with_context(|| format!("opening {}", hotspots.display()))?;
            oracle::density_cli::run(file, std::io::stdout().lock(), &params)
                .with_context(|| format!("reading {}", hotspots.display()))?;
            Ok(())
        }
        Command::Key { config } => {
            let settings = Settings::load(config.as_deref())?;
            let (key, _) = oracle::identity::load_or_create(&settings.key_path())?;
            println!("{}", key.public());
            Ok(())
        }
    }
}

async fn serve(config: Option<PathBuf>) -> anyhow::Result<()> {
    let settings = Settings::load(config.as_deref())?;
    let (key, created) = oracle::identity::load_or_create(&settings.key_path())?;
    if created {
        println!("created oracle key {}", settings.key_path().display());
    }
    println!("{}", oracle::identity::fingerprint_line(&key));
    let oracle = oracle::node::Oracle::start(&settings, key, Arc::new(SystemClock)).await?;
    println!(
        "listening on {} (database {})",
        oracle.addr,
        redact(&settings.database_url())
    );
    tokio::signal::ctrl_c()
        .await
        .context("waiting for Ctrl-C")?;
    println!("shutting down");
    oracle.shutdown().await;
    Ok(())
}

fn redact(url: &str) -> String {
    match url.split_once('@') {
        Some((head, tail)) if head.contains("://") => format!(
            "{}@{tail}",
            head.split(':').take(2).collect::<Vec<_>>().join(":")
        ),
        _ => url.to_string(),
    }
}

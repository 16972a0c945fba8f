//! `bench`: the benchmark suite (see `docs/benchmarks.md`).

use anyhow::Context;
use bench::suite::{SuiteConfig, run, table};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    about = "Benchmarks at Helium scale: signatures, QUIC ingest, a synthetic Helium-peak day"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Every figure at one scale: prints a table, writes JSON to `--out`.
    All(SuiteConfig),
    /// The ingest client process (started by `all`): prints its result as JSON.
    IngestClient(bench::ingest::ClientConfig),
    /// Verifies a loaded day in this process (started by `all`): prints its result as JSON.
    VerifyDay {
        #[arg(long)]
        database_url: String,
        /// `default` or `helium`.
        #[arg(long, default_value = "default")]
        ruleset: oracle::verifier::params::Ruleset,
        /// Proofs of coverage per batch of stored verdicts.
        #[arg(long, default_value_t = oracle::verifier::VERDICT_BATCH)]
        verdict_batch: usize,
        /// Batches of verdicts stored at once (1: the verifier waits for each batch before it
        /// hands over the next).
        #[arg(long, default_value_t = oracle::verifier::STORES_IN_FLIGHT)]
        stores_in_flight: usize,
    },
    /// Computes the synthetic day's epoch rewards from a verified database (started by `all`):
    /// prints its result as JSON.
    RewardsEpoch {
        #[arg(long)]
        database_url: String,
    },
    /// The witness-graph trust refresh alone, on the whole evidence of a verified day: prints
    /// its result as JSON.
    TrustRefresh {
        #[arg(long)]
        database_url: String,
        /// Evaluations of the same evidence.
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Also writes the outcome here, one line per judged hotspot.
        #[arg(long)]
        dump: Option<std::path::PathBuf>,
    },
    /// The reward math alone over seeded activity (started by `all`): prints its result as JSON.
    RewardsCore {
        #[arg(long, default_value_t = 1_000_000)]
        hotspots: u64,
        #[arg(long, default_value_t = 6)]
        seed: u64,
    },
    /// Generates the synthetic day and loads it into a database (to verify or profile apart).
    LoadDay {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 0.01)]
        scale: f64,
        #[arg(long, default_value_t = 6)]
        seed: u64,
        #[arg(long, default_value = "../shared/data/hotspots")]
        hotspots_dir: std::path::PathBuf,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .init();
    match Cli::parse().command {
        Command::All(config) => {
            let result = run(&config).await?;
            let text = table(&result);
            println!("{text}");
            std::fs::create_dir_all(&config.out)
                .with_context(|| format!("creating {}", config.out.display()))?;
            let stamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let path = config
                .out
                .join(format!("bench-scale-{}-{stamp}.json", config.scale));
            std::fs::write(&path, serde_json::to_string_pretty(&result)?)
                .with_context(|| format!("writing {}", path.display()))?;
            println!("JSON: {}", path.display());
        }
        Command::IngestClient(config) => {
            let result = bench::ingest::client(config).await?;
            println!("{}", serde_json::to_string(&result)?);
        }
        Command::VerifyDay {
            database_url,
            ruleset,
            verdict_batch,
            stores_in_flight,
        } => {
            let params = oracle::verifier::VerifierParams::for_ruleset(ruleset);
            let result = bench::verify::verify_day_with(
                &database_url,
                params,
                verdict_batch,
                stores_in_flight,
            )
            .await?;
            println!("{}", serde_json::to_string(&result)?);
        }
        Command::RewardsEpoch { database_url } => {
            let result = bench::rewards::epoch_run(&database_url).await?;
            println!("{}", serde_json::to_string(&result)?);
        }
        Command::TrustRefresh {
            database_url,
            runs,
            dump,
        } => {
            let result = bench::trust::trust_run(&database_url, runs, dump.as_deref()).await?;
            println!("{}", serde_json::to_string(&result)?);
        }
        Command::RewardsCore { hotspots, seed } => {
            let result = bench::rewards::core_run(hotspots, seed)?;
            println!("{}", serde_json::to_string(&result)?);
        }
        Command::LoadDay {
            database_url,
            scale,
            seed,
            hotspots_dir,
        } => {
            let real = bench::day::real_positions(&hotspots_dir)?;
            let network = bench::day::Network::build(bench::day::DayConfig { scale, seed }, &real)?;
            let store = oracle::store::Store::new(db::Db::connect(&database_url).await?);
            let stats = bench::load::load(&network, &store).await?;
            store.close().await;
            println!("{}", serde_json::to_string(&stats)?);
        }
    }
    Ok(())
}

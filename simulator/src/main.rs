//! `simulator`: run a scenario, or the built-in demo.

use anyhow::Context;
use clap::{Parser, Subcommand};
use simulator::report::{SimReport, table};
use simulator::run::{SimOptions, simulate};
use simulator::scenario::{ResolvedScenario, Scenario};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "simulator",
    version,
    about = "Simulate a proof-of-coverage network with real oracle and agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario file and report per hotspot what was verified and earned.
    Simulate {
        /// Scenario TOML (see README "Scenario format").
        scenario: PathBuf,
        #[command(flatten)]
        run: RunArgs,
    },
    /// Run the built-in demo (real hotspot positions around Livermore, CA).
    Demo {
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(clap::Args)]
struct RunArgs {
    /// Write the JSON report here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Oracle database (default: SQLite in a temporary directory).
    #[arg(long, env = "SIMULATOR_DATABASE_URL")]
    database_url: Option<String>,
    /// Keep the oracle's data (key, SQLite database) in this directory.
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let mut pay = false;
    let (scenario, run) = match Cli::parse().command {
        Command::Simulate { scenario, run } => (
            Scenario::load(&scenario).with_context(|| format!("loading {}", scenario.display()))?,
            run,
        ),
        Command::Demo { mut run } => {
            // The demo keeps its database so that every verdict can be explained afterwards.
            if run.data_dir.is_none() && run.database_url.is_none() {
                let dir = PathBuf::from(DEMO_DATA_DIR);
                if dir.exists() {
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("clearing {}", dir.display()))?;
                }
                run.data_dir = Some(dir);
                pay = true;
            }
            (
                simulator::demo::scenario().context("the built-in demo scenario")?,
                run,
            )
        }
    };
    let report = execute(&scenario, &run).await?;
    print!("{}", table(&report));
    if let (Some(dir), None, Some(first)) =
        (&run.data_dir, &run.database_url, report.hotspots.first())
    {
        println!(
            "\nexplain any hotspot's verdicts (keys are in the JSON report, --out):\n  \
             cargo run -q -p oracle -- explain {} --database-url sqlite://{}/oracle.db",
            first.key,
            dir.display()
        );
    }
    if let (true, Some(dir)) = (pay, &run.data_dir) {
        let url = db::sqlite_url(&dir.join("oracle.db"));
        let payout = simulator::demo_rewards::pay_epoch(
            &scenario,
            &url,
            dir,
            simulator::run::SIMULATION_START_NS / 1_000_000,
        )
        .await
        .context("paying the demo's epoch")?;
        print!("{}", simulator::demo_rewards::table(&payout));
        if let Some(owner) = payout
            .owners
            .iter()
            .find(|o| o.balance != o.manifest_amount)
        {
            anyhow::bail!(
                "{} holds {} base units on chain but the manifest pays it {}",
                owner.name,
                owner.balance,
                owner.manifest_amount
            );
        }
        println!(
            "\nrecompute the epoch from the stored reports (fails loudly if the hash differs):\n  \
             cargo run -q -p rewards -- replay --epoch {} --database-url {url}",
            payout.epoch
        );
    }
    if let Some(out) = &run.out {
        std::fs::write(out, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", out.display()))?;
        println!("report written to {}", out.display());
    }
    Ok(())
}

/// Where `simulator demo` keeps the oracle's data (wiped at each run).
const DEMO_DATA_DIR: &str = "demo-data";

async fn execute(scenario: &ResolvedScenario, run: &RunArgs) -> anyhow::Result<SimReport> {
    eprintln!(
        "simulating {} hotspots for {} at {}x ({} real)",
        scenario.hotspots.len(),
        humantime::format_duration(scenario.duration),
        scenario.time_scale,
        humantime::format_duration(std::time::Duration::from_secs(
            (scenario.duration.as_secs_f64() / scenario.time_scale).ceil() as u64
        )),
    );
    let options = SimOptions {
        data_dir: run.data_dir.clone(),
        database_url: run.database_url.clone(),
        progress: true,
    };
    Ok(simulate(scenario, &options).await?)
}

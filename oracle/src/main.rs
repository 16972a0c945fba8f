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
    /// Explain every beacon and witness of a hotspot: verdict, reason, measured value, threshold.
    Explain {
        /// The hotspot's public key (base58).
        hotspot: schemas::PublicKey,
        /// Only this reward epoch.
        #[arg(long)]
        epoch: Option<u64>,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Database to read (default: the one of the settings).
        #[arg(long, env = "ORACLE_DATABASE_URL")]
        database_url: Option<String>,
    },
    /// Governance denylists: build, sign (M of N), apply.
    #[command(subcommand)]
    Denylist(DenylistCommand),
    /// Check the verifier table of a governance parameter set (a proposal) as this oracle will
    /// read it, and print the verifier parameters it yields (docs/governance.md).
    CheckParameters {
        /// Parameter-set TOML (see rewards/pkg/parameters-genesis.toml).
        parameters: PathBuf,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Print the oracle's public key (the value agents pin), creating the key if needed.
    Key {
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DenylistCommand {
    /// Turn a denylist TOML (see `oracle/src/denylist_cli.rs`) into an unsigned list file.
    New {
        #[arg(long)]
        list: PathBuf,
        #[arg(long)]
        out: PathBuf,
    },
    /// Add a governance key's signature to a list file (in place).
    Sign {
        #[arg(long)]
        key: PathBuf,
        file: PathBuf,
    },
    /// Check the signatures against `[governance]` and apply the list to the database.
    Apply {
        #[arg(long, short)]
        config: Option<PathBuf>,
        file: PathBuf,
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
        Command::Explain {
            hotspot,
            epoch,
            json,
            config,
            database_url,
        } => {
            let settings = Settings::load(config.as_deref())?;
            let url = database_url.unwrap_or_else(|| settings.database_url());
            let store = oracle::store::Store::new(
                db::Db::connect(&url)
                    .await
                    .with_context(|| format!("opening {url}"))?,
            );
            let explanation =
                oracle::explain::explain(&store, hotspot, epoch, &settings.verifier).await?;
            if json {
                write_stdout(&(serde_json::to_string_pretty(&explanation)? + "\n"))?;
            } else {
                write_stdout(&oracle::explain::render(&explanation))?;
            }
            Ok(())
        }
        Command::Denylist(command) => denylist(command).await,
        Command::CheckParameters { parameters, config } => {
            let settings = Settings::load(config.as_deref())?;
            let text = std::fs::read_to_string(&parameters)
                .with_context(|| format!("reading {}", parameters.display()))?;
            let set = schemas::parameters::ParameterSet::from_toml(&text)
                .with_context(|| format!("parsing {}", parameters.display()))?;
            let params = oracle::verifier::governed::check_parameters(&set, &settings.verifier)?;
            write_stdout(&format!(
                "# verifier parameters of version {} (from epoch {}): valid for this oracle\n{}",
                set.version,
                set.effective_epoch,
                toml::to_string(&params)?
            ))?;
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

async fn denylist(command: DenylistCommand) -> anyhow::Result<()> {
    use oracle::denylist_cli;
    use prost::Message;
    let now_ms = schemas::clock::Clock::now_ms(&SystemClock);
    match command {
        DenylistCommand::New { list, out } => {
            let text = std::fs::read_to_string(&list)
                .with_context(|| format!("reading {}", list.display()))?;
            let signed = denylist_cli::from_toml(&text, now_ms)?;
            std::fs::write(&out, signed.encode_to_vec())
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {} (unsigned; every governance signer runs `oracle denylist sign`)",
                out.display()
            );
        }
        DenylistCommand::Sign { key, file } => {
            let key = schemas::Keypair::read_file(&key)?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut signed = denylist_cli::decode(&bytes)?;
            signed.add_signature(&key)?;
            std::fs::write(&file, signed.encode_to_vec())
                .with_context(|| format!("writing {}", file.display()))?;
            println!(
                "signed by {} ({} signature(s))",
                key.public(),
                signed.signatures.len()
            );
        }
        DenylistCommand::Apply { config, file } => {
            let settings = Settings::load(config.as_deref())?;
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let signed = denylist_cli::decode(&bytes)?;
            let store = oracle::store::Store::new(db::Db::connect(&settings.database_url()).await?);
            let g = &settings.governance;
            let n = denylist_cli::apply(&store, &signed, &g.signers, g.threshold, now_ms).await?;
            println!(
                "applied {n} denylist entries; the running oracle picks them up within a minute"
            );
        }
    }
    Ok(())
}

/// Writes to stdout; a reader that went away (`| head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

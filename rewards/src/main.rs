//! `rewards`: the rewards job. Today: `rewards chain ...`, the on-chain tools.

mod chain_cli;
mod epoch_cli;
mod governance_cli;
mod mint_cli;

use clap::{Parser, Subcommand};
use rewards::settings::Settings;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "rewards",
    version,
    about = "Proof-of-coverage rewards: compute, sign, mint"
)]
struct Cli {
    /// Settings file (see pkg/settings-template.toml); defaults apply without one.
    #[arg(long, short, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The reward token on chain: create it, mint, read balances and transaction statuses.
    #[command(subcommand)]
    Chain(chain_cli::ChainCommand),
    /// Governance: sign, check and apply parameter changes; the set in force; the audit history.
    #[command(subcommand)]
    Governance(governance_cli::GovernanceCommand),
    /// Reward manifests: `epoch run|show`, `replay`, `sign`, `approvals import|list`, `what-if`.
    #[command(flatten)]
    Manifest(epoch_cli::ManifestCommand),
    /// Mint an epoch's approved reward manifest exactly once (`rewards mint status` shows it).
    Mint(mint_cli::MintArgs),
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    match cli.command {
        Command::Chain(command) => chain_cli::run(command, &settings.chain),
        Command::Governance(command) => governance_cli::run(command, &settings),
        Command::Manifest(command) => epoch_cli::run(command, &settings),
        Command::Mint(args) => mint_cli::run(args, &settings),
    }
}

//! `rewards governance ...`: write, sign, check and apply parameter changes; show the set in
//! force and the audit history. See `docs/governance.md`.

use anyhow::Context;
use clap::Subcommand;
use rewards::governance::proposal::{Proposal, SignatureFile, sidecar_path};
use rewards::governance::{self, store};
use rewards::settings::Settings;
use schemas::Keypair;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The shipped, commented genesis parameter set (parses to the built-in genesis).
const GENESIS_TEMPLATE: &str = include_str!("../pkg/parameters-genesis.toml");

/// `rewards governance` subcommands.
#[derive(Subcommand)]
pub enum GovernanceCommand {
    /// Print the genesis parameter set as commented TOML (a starting point for proposals).
    Template,
    /// Sign a proposal with a governance key (offline: no database needed). Adds the signature
    /// to the proposal's signature file (`PROPOSAL.sigs.json` unless `--sigs`).
    Sign {
        /// The proposal: a parameter-set TOML file.
        proposal: PathBuf,
        /// Governance key file (Solana CLI JSON key pair).
        #[arg(long)]
        key: PathBuf,
        /// Signature file (default: beside the proposal, `.toml` -> `.sigs.json`).
        #[arg(long)]
        sigs: Option<PathBuf>,
    },
    /// Merge signature files of the same proposal (e.g. one per member) into its signature file.
    Merge {
        /// The proposal.
        proposal: PathBuf,
        /// Signature files to merge in.
        #[arg(required = true)]
        from: Vec<PathBuf>,
        /// Signature file to write (default: beside the proposal).
        #[arg(long)]
        sigs: Option<PathBuf>,
    },
    /// Check a proposal against the signatures and every rule without applying it.
    Check {
        /// The proposal.
        proposal: PathBuf,
        /// Signature file (default: beside the proposal).
        #[arg(long)]
        sigs: Option<PathBuf>,
    },
    /// Apply a proposal signed by M of the N governance keys in the settings.
    Apply {
        /// The proposal.
        proposal: PathBuf,
        /// Signature file (default: beside the proposal).
        #[arg(long)]
        sigs: Option<PathBuf>,
    },
    /// Store an explicit genesis set (version 1, from epoch 0), once, before any epoch is
    /// rewarded. Without it the built-in genesis (`template`) is in force.
    Genesis {
        /// The genesis parameter set.
        parameters: PathBuf,
    },
    /// Print the set in force for an epoch (default: the current epoch) as TOML.
    Show {
        /// The epoch.
        #[arg(long)]
        epoch: Option<u64>,
    },
    /// Print the audit history: every applied version with its effective epoch, hash, time and
    /// signers.
    History {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

/// Runs one subcommand.
pub fn run(command: GovernanceCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        GovernanceCommand::Template => {
            print!("{GENESIS_TEMPLATE}");
            Ok(())
        }
        GovernanceCommand::Sign {
            proposal,
            key,
            sigs,
        } => sign(&proposal, &key, sigs, settings),
        GovernanceCommand::Merge {
            proposal,
            from,
            sigs,
        } => merge(&proposal, &from, sigs),
        command => tokio::runtime::Runtime::new()
            .context("starting the async runtime")?
            .block_on(run_with_database(command, settings)),
    }
}

fn sign(path: &Path, key: &Path, sigs: Option<PathBuf>, settings: &Settings) -> anyhow::Result<()> {
    let proposal = Proposal::read(path)?;
    let key =
        Keypair::read_file(key).with_context(|| format!("governance key {}", key.display()))?;
    let keys = &settings.governance.keys;
    if !keys.is_empty() && !keys.contains(&key.public()) {
        eprintln!(
            "warning: {} is not one of the governance keys in the settings; its signature will not count",
            key.public()
        );
    }
    let sigs = sigs.unwrap_or_else(|| sidecar_path(path));
    let mut file = SignatureFile::read_for(&sigs, &proposal)?;
    file.sign(&proposal, &key);
    file.write(&sigs)?;
    println!(
        "signed version {} (effective epoch {}, hash {}) as {}; {} signature(s) in {}",
        proposal.set.version,
        proposal.set.effective_epoch,
        hex::encode(proposal.set.hash()),
        key.public(),
        file.signatures.len(),
        sigs.display()
    );
    Ok(())
}

fn merge(path: &Path, from: &[PathBuf], sigs: Option<PathBuf>) -> anyhow::Result<()> {
    let proposal = Proposal::read(path)?;
    let sigs = sigs.unwrap_or_else(|| sidecar_path(path));
    let mut file = SignatureFile::read_for(&sigs, &proposal)?;
    for other in from {
        let other_file = SignatureFile::read(other)?
            .with_context(|| format!("{} does not exist", other.display()))?;
        other_file.ensure_matches(other, &proposal)?;
        file.merge(other_file);
    }
    file.write(&sigs)?;
    println!(
        "{} signature(s) in {}",
        file.signatures.len(),
        sigs.display()
    );
    Ok(())
}

async fn run_with_database(command: GovernanceCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = db::Db::connect(&settings.database_url)
        .await
        .context("opening the database")?;
    let pool = db.pool();
    let keys = &settings.governance.keys;
    let threshold = settings.governance.threshold;
    let now_ms = now_ms();
    match command {
        GovernanceCommand::Check { proposal, sigs } => {
            let (proposal, file) = read_signed(&proposal, sigs)?;
            let signers = store::check(pool, &proposal, &file, keys, threshold, now_ms).await?;
            println!(
                "version {} (effective epoch {}) would apply: {} of {} governance keys signed ({} required): {}",
                proposal.set.version,
                proposal.set.effective_epoch,
                signers.len(),
                keys.len(),
                threshold,
                join(signers.iter())
            );
        }
        GovernanceCommand::Apply { proposal, sigs } => {
            let (proposal, file) = read_signed(&proposal, sigs)?;
            let applied =
                governance::apply(pool, &proposal, &file, keys, threshold, now_ms).await?;
            println!(
                "applied version {} from epoch {} (hash {}), signed by {}",
                applied.version,
                applied.effective_epoch,
                applied.hash,
                join(applied.signers.iter())
            );
        }
        GovernanceCommand::Genesis { parameters } => {
            let proposal = Proposal::read(&parameters)?;
            let applied = governance::genesis(pool, &proposal, now_ms).await?;
            println!("stored genesis (version 1, hash {})", applied.hash);
        }
        GovernanceCommand::Show { epoch } => {
            let state = store::state(pool, now_ms).await?;
            let epoch = epoch.unwrap_or(state.current_epoch);
            let set = db::parameters::in_force(pool, epoch).await?;
            println!(
                "# in force for epoch {epoch}: version {} (hash {})",
                set.version,
                hex::encode(set.hash())
            );
            print!("{}", set.to_toml());
        }
        GovernanceCommand::History { json } => {
            let history = store::history(pool).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&history)?);
            } else if history.is_empty() {
                println!("no parameter set applied: the built-in genesis (version 1) is in force");
            } else {
                println!(
                    "version  effective_epoch  applied (UTC)         hash              signers"
                );
                for set in &history {
                    println!(
                        "{:>7}  {:>15}  {:<20}  {:.16}  {}",
                        set.version,
                        set.effective_epoch,
                        applied_time(set.applied_ms),
                        set.hash,
                        if set.signers.is_empty() {
                            "(genesis)".to_string()
                        } else {
                            join(set.signers.iter())
                        }
                    );
                }
            }
        }
        GovernanceCommand::Template
        | GovernanceCommand::Sign { .. }
        | GovernanceCommand::Merge { .. } => {}
    }
    db.close().await;
    Ok(())
}

fn read_signed(path: &Path, sigs: Option<PathBuf>) -> anyhow::Result<(Proposal, SignatureFile)> {
    let proposal = Proposal::read(path)?;
    let sigs = sigs.unwrap_or_else(|| sidecar_path(path));
    let file = SignatureFile::read_for(&sigs, &proposal)?;
    Ok((proposal, file))
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    let text: Vec<String> = items.map(|i| i.to_string()).collect();
    if text.is_empty() {
        "nobody".into()
    } else {
        text.join(", ")
    }
}

fn applied_time(ms: u64) -> String {
    let time = UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_seconds(time).to_string()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

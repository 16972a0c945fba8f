//! `rewards epoch run`, `replay`, `sign`, `approvals ...`, `what-if`: the manifest commands.
//! Each opens the database, runs one library call and prints a table (or JSON).

mod print;
mod what_if;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rewards::approvals::{self, ApprovalFile};
use rewards::epoch::{self, ComputedManifest};
use rewards::settings::Settings;
use std::path::PathBuf;

/// The manifest commands (flattened into `rewards`).
#[derive(Subcommand)]
pub enum ManifestCommand {
    /// Epoch manifests.
    #[command(subcommand)]
    Epoch(EpochCommand),
    /// Recompute a stored epoch from the stored reports and its parameter set; fail if the hash
    /// differs from the stored manifest's.
    Replay {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        epoch: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Recompute an epoch's manifest (it must equal the stored one if stored), sign its hash
    /// with an oracle operator key and store the approval.
    Sign {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        epoch: u64,
        /// Operator key file (Solana CLI JSON key pair; the key is a multisig member).
        #[arg(long)]
        key: PathBuf,
        /// Also write the approval to this file, for the other oracles to import.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Manifest approvals by oracle operators.
    #[command(subcommand)]
    Approvals(ApprovalsCommand),
    /// Recompute past epochs under proposed parameters and show who gains and who loses.
    WhatIf {
        #[command(flatten)]
        db: DbArgs,
        /// Proposed parameter set (TOML, `schemas::parameters::ParameterSet`).
        parameters: PathBuf,
        /// Epochs: `A..B` (B excluded), `A..=B`, or `N`.
        #[arg(long, value_parser = parse_epochs)]
        epochs: std::ops::RangeInclusive<u64>,
        /// Rows of gainers and of losers shown (text output).
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// Print JSON (every hotspot and hex).
        #[arg(long)]
        json: bool,
    },
}

/// `rewards epoch ...`.
#[derive(Subcommand)]
pub enum EpochCommand {
    /// Compute an ended, fully verified epoch's manifest, store it and print a summary.
    Run {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        epoch: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print a stored manifest.
    Show {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        epoch: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `rewards approvals ...`.
#[derive(Subcommand)]
pub enum ApprovalsCommand {
    /// Verify an approval file from another oracle and store it.
    Import {
        #[command(flatten)]
        db: DbArgs,
        file: PathBuf,
    },
    /// List the stored approvals of an epoch.
    List {
        #[command(flatten)]
        db: DbArgs,
        #[arg(long)]
        epoch: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The database to use.
#[derive(Args)]
pub struct DbArgs {
    /// Database URL; overrides `database_url` of the settings.
    #[arg(long, env = "REWARDS_DATABASE_URL")]
    database_url: Option<String>,
}

fn parse_epochs(text: &str) -> Result<std::ops::RangeInclusive<u64>, String> {
    let number = |t: &str| {
        t.trim()
            .parse::<u64>()
            .map_err(|_| format!("{t:?} is not an epoch number"))
    };
    let range = if let Some((a, b)) = text.split_once("..=") {
        number(a)?..=number(b)?
    } else if let Some((a, b)) = text.split_once("..") {
        let (a, b) = (number(a)?, number(b)?);
        if b <= a {
            return Err(format!("{text}: empty range"));
        }
        a..=b - 1
    } else {
        let n = number(text)?;
        n..=n
    };
    if range.is_empty() {
        return Err(format!("{text}: empty range"));
    }
    Ok(range)
}

/// Runs one manifest command.
pub fn run(command: ManifestCommand, settings: &Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(dispatch(command, settings))
}

async fn connect(args: &DbArgs, settings: &Settings) -> anyhow::Result<db::Db> {
    let url = args
        .database_url
        .clone()
        .unwrap_or_else(|| settings.database_url.clone());
    db::Db::connect(&url).await.context("opening the database")
}

async fn dispatch(command: ManifestCommand, settings: &Settings) -> anyhow::Result<()> {
    match command {
        ManifestCommand::Epoch(EpochCommand::Run { db, epoch, json }) => {
            let db = connect(&db, settings).await?;
            let (computed, new) = epoch::run_epoch(&db, epoch, epoch::now_ms())
                .await
                .with_context(|| format!("computing epoch {epoch}"))?;
            print::manifest(&computed, json)?;
            if !json {
                println!(
                    "{}",
                    if new {
                        "stored as the epoch's manifest"
                    } else {
                        "identical to the manifest already stored"
                    }
                );
            }
            Ok(())
        }
        ManifestCommand::Epoch(EpochCommand::Show { db, epoch, json }) => {
            let db = connect(&db, settings).await?;
            let stored = epoch::stored_manifest(db.pool(), epoch)
                .await?
                .with_context(|| format!("epoch {epoch} has no stored manifest"))?;
            print::manifest(&stored, json)
        }
        ManifestCommand::Replay { db, epoch, json } => {
            let db = connect(&db, settings).await?;
            replay(&db, epoch, json).await
        }
        ManifestCommand::Sign {
            db,
            epoch,
            key,
            out,
        } => {
            let db = connect(&db, settings).await?;
            sign(&db, epoch, &key, out.as_deref()).await
        }
        ManifestCommand::Approvals(ApprovalsCommand::Import { db, file }) => {
            let db = connect(&db, settings).await?;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let approval = ApprovalFile::parse(&text)
                .with_context(|| format!("reading {}", file.display()))?;
            let new = approvals::store(db.pool(), &approval, epoch::now_ms()).await?;
            println!(
                "approval of epoch {} manifest {} by {}: {}",
                approval.epoch,
                hex::encode(&approval.manifest_hash),
                ApprovalFile::from_approval(&approval).signer_key,
                if new {
                    "verified and stored"
                } else {
                    "already stored"
                }
            );
            Ok(())
        }
        ManifestCommand::Approvals(ApprovalsCommand::List { db, epoch, json }) => {
            let db = connect(&db, settings).await?;
            let stored = epoch::stored_manifest(db.pool(), epoch).await?;
            let list = approvals::approvals_of_epoch(db.pool(), epoch).await?;
            print::approvals(epoch, stored.as_ref(), &list, json)
        }
        ManifestCommand::WhatIf {
            db,
            parameters,
            epochs,
            top,
            json,
        } => {
            let db = connect(&db, settings).await?;
            let text = std::fs::read_to_string(&parameters)
                .with_context(|| format!("reading {}", parameters.display()))?;
            let proposed = schemas::parameters::ParameterSet::from_toml(&text)
                .with_context(|| format!("parsing {}", parameters.display()))?;
            let report = what_if::run(&db, &proposed, epochs).await?;
            what_if::print(&report, top, json)
        }
    }
}

async fn replay(db: &db::Db, epoch: u64, json: bool) -> anyhow::Result<()> {
    let stored = epoch::stored_manifest(db.pool(), epoch)
        .await?
        .with_context(|| format!("epoch {epoch} has no stored manifest to replay"))?;
    let recomputed = epoch::compute_epoch(db, epoch)
        .await
        .with_context(|| format!("recomputing epoch {epoch}"))?;
    if recomputed.hash == stored.hash {
        if json {
            print::json(&serde_json::json!({
                "epoch": epoch,
                "manifest_hash": hex::encode(stored.hash),
                "matches": true,
            }))?;
        } else {
            println!(
                "epoch {epoch} ({}): replay matches the stored manifest {}",
                print::range(&stored.manifest),
                hex::encode(stored.hash)
            );
        }
        return Ok(());
    }
    let diff = print::diff(&stored, &recomputed);
    if json {
        print::json(&serde_json::json!({
            "epoch": epoch,
            "stored_hash": hex::encode(stored.hash),
            "recomputed_hash": hex::encode(recomputed.hash),
            "matches": false,
            "differences": diff,
        }))?;
    } else {
        eprintln!("REPLAY MISMATCH for epoch {epoch}:");
        for line in &diff {
            eprintln!("  {line}");
        }
    }
    bail!(
        "epoch {epoch}: replay computed manifest {} but {} is stored",
        hex::encode(recomputed.hash),
        hex::encode(stored.hash)
    )
}

async fn sign(
    db: &db::Db,
    epoch: u64,
    key: &std::path::Path,
    out: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let keypair = schemas::Keypair::read_file(key)
        .with_context(|| format!("reading the operator key {}", key.display()))?;
    let computed: ComputedManifest = epoch::compute_epoch(db, epoch)
        .await
        .with_context(|| format!("recomputing epoch {epoch}"))?;
    // Stores the manifest if this database has none yet; refuses if it has another.
    epoch::store_manifest(db.pool(), &computed, epoch::now_ms())
        .await
        .with_context(|| format!("epoch {epoch}: the recomputed manifest is not the stored one"))?;
    let approval = approvals::sign(epoch, computed.hash, &keypair);
    approvals::store(db.pool(), &approval, epoch::now_ms()).await?;
    let file = ApprovalFile::from_approval(&approval);
    println!(
        "epoch {epoch} ({}): manifest {} signed by {}",
        print::range(&computed.manifest),
        file.manifest_hash,
        file.signer_key
    );
    if let Some(out) = out {
        std::fs::write(out, file.to_json() + "\n")
            .with_context(|| format!("writing {}", out.display()))?;
        println!(
            "approval written to {} (import it elsewhere with `rewards approvals import`)",
            out.display()
        );
    }
    Ok(())
}

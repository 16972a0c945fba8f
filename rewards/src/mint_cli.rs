//! `rewards mint --epoch N --signer A.json --signer B.json` and `rewards mint status --epoch N`.

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use rewards::chain::settings::read_keypair;
use rewards::chain::token_file::TokenFile;
use rewards::chain::{Keypair, Signer};
use rewards::mint::ledger::{self, BatchState};
use rewards::mint::{MintContext, MintOptions, NoCrash, TokenAddresses, load_manifest, mint_epoch};
use rewards::settings::Settings;
use schemas::clock::SystemClock;
use std::path::PathBuf;

/// `rewards mint`: mint an epoch's approved manifest, or show its ledger against the chain.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MintArgs {
    #[command(subcommand)]
    command: Option<MintCommand>,
    /// The epoch whose stored manifest to mint.
    #[arg(long)]
    epoch: Option<u64>,
    /// Operator key file (Solana CLI JSON) that approved the manifest; give at least M.
    #[arg(long = "signer")]
    signers: Vec<PathBuf>,
}

#[derive(Subcommand)]
enum MintCommand {
    /// The epoch's mint ledger next to what the chain says: batches, signatures, balances.
    Status {
        /// The epoch.
        #[arg(long)]
        epoch: u64,
    },
}

/// Runs `rewards mint ...` (builds its own multi-threaded runtime: the RPC client blocks).
pub fn run(args: MintArgs, settings: &Settings) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        match args.command {
            Some(MintCommand::Status { epoch }) => status(epoch, settings).await,
            None => {
                let Some(epoch) = args.epoch else {
                    bail!("--epoch N is required (or `rewards mint status --epoch N`)");
                };
                mint(epoch, &args.signers, settings).await
            }
        }
    })
}

async fn mint(epoch: u64, signer_files: &[PathBuf], settings: &Settings) -> anyhow::Result<()> {
    let token = TokenFile::read(&settings.chain.token_file)
        .context("reading the token file (create the token with `rewards chain create-token`)")?;
    let operators = signer_files
        .iter()
        .map(|path| read_keypair(path).with_context(|| format!("operator key {}", path.display())))
        .collect::<anyhow::Result<Vec<Keypair>>>()?;
    let db = db::Db::connect(&settings.database_url)
        .await
        .context("opening the database")?;
    let Some(manifest) = load_manifest(db.pool(), epoch).await? else {
        bail!(
            "no reward manifest stored for epoch {epoch}: run `rewards epoch run --epoch {epoch}` first"
        );
    };
    let payer = settings.chain.fee_payer().context("fee payer key")?;
    let mut chain = settings
        .chain
        .connect(&payer)
        .context("connecting to the chain")?;
    let refs: Vec<&dyn Signer> = operators.iter().map(|k| k as &dyn Signer).collect();
    let mut ctx = MintContext {
        pool: db.pool(),
        chain: chain.as_mut(),
        fee_payer: &payer,
        operators: &refs,
        token: TokenAddresses {
            mint: token.mint,
            multisig: token.multisig,
        },
        clock: &SystemClock,
        hook: &NoCrash,
        options: MintOptions::default(),
    };
    let report = mint_epoch(&mut ctx, &manifest).await?;
    if report.already_complete {
        println!("epoch {epoch} was already minted (verified against the chain again)");
    }
    println!(
        "epoch {epoch}: manifest {}, {} owners, {} base units (mint {})",
        hex::encode(report.manifest_hash),
        report.owners.len(),
        report.total,
        token.mint
    );
    for (owner, amount) in &report.owners {
        println!("  {owner} {amount}");
    }
    for batch in &report.batches {
        println!(
            "  batch {} ({} owners, {} base units) confirmed {}",
            batch.batch, batch.owners, batch.amount, batch.signature
        );
    }
    db.close().await;
    Ok(())
}

async fn status(epoch: u64, settings: &Settings) -> anyhow::Result<()> {
    let db = db::Db::connect(&settings.database_url)
        .await
        .context("opening the database")?;
    let Some(plan) = ledger::plan(db.pool(), epoch).await? else {
        println!("epoch {epoch}: nothing planned in the mint ledger");
        return Ok(());
    };
    let payer = settings.chain.fee_payer().context("fee payer key")?;
    let chain = settings
        .chain
        .connect(&payer)
        .context("connecting to the chain")?;
    let batches = ledger::batches(db.pool(), epoch).await?;
    let attempts = ledger::attempts(db.pool(), epoch).await?;
    let done = match plan.completed_ms {
        Some(ms) => format!("complete (verified at {ms} ms)"),
        None => "in progress".into(),
    };
    println!(
        "epoch {epoch}: manifest {}, mint {}, {} base units in {} batches, {done}",
        hex::encode(plan.manifest_hash),
        plan.mint,
        plan.total,
        plan.batches
    );
    println!("block height {}", chain.block_height()?);
    for batch in &batches {
        println!(
            "batch {} ({} owners, {}): {:?}",
            batch.batch,
            batch.transfers.len(),
            batch.amount,
            batch.state
        );
        for attempt in attempts.iter().filter(|a| a.batch == batch.batch) {
            let signature = attempt.transaction.signature();
            let on_chain = match chain.signature_status(&signature)? {
                None => "unknown to the chain".to_string(),
                Some(status) => format!("{status:?}"),
            };
            println!(
                "  attempt {} {signature}: ledger {}, chain {on_chain}, last valid block height {}{}",
                attempt.attempt,
                attempt.outcome.as_str(),
                attempt.last_valid_block_height,
                attempt
                    .detail
                    .as_deref()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            );
        }
    }
    println!(
        "owner / minted by this epoch (ledger) / token balance now (owners may have moved tokens)"
    );
    for batch in &batches {
        for transfer in &batch.transfers {
            let minted = if batch.state == BatchState::Confirmed {
                transfer.amount
            } else {
                0
            };
            let balance = chain.token_balance(&transfer.owner, &plan.mint)?;
            println!(
                "  {} {minted}/{} {balance}",
                transfer.owner, transfer.amount
            );
        }
    }
    println!("mint supply {}", chain.mint_supply(&plan.mint)?);
    db.close().await;
    Ok(())
}

//! `rewards chain ...`: operator tools over the configured chain backend. The blocking RPC
//! client runs its own runtime, so these run outside any async runtime.

use anyhow::Context;
use clap::Subcommand;
use rewards::chain::instructions::DEFAULT_DECIMALS;
use rewards::chain::ops::{TokenConfig, create_token, mint_batches};
use rewards::chain::plan::{MintAuthority, Transfer, plan_batches};
use rewards::chain::settings::{ChainSettings, read_keypair};
use rewards::chain::token_file::{TokenFile, TokenFileError};
use rewards::chain::{Keypair, Pubkey, Signature, Signer};
use std::path::PathBuf;

/// `rewards chain` subcommands.
#[derive(Subcommand)]
pub enum ChainCommand {
    /// Create the reward mint with an M-of-N SPL Token multisig of the operators as authority,
    /// and write its addresses to the token file (`[chain] token_file`) for `rewards mint`.
    CreateToken {
        /// Operator public key (base58); repeat N times.
        #[arg(long = "operator", required = true)]
        operators: Vec<Pubkey>,
        /// Required signatures M.
        #[arg(long, default_value_t = 2)]
        threshold: u8,
        /// Decimals of the token.
        #[arg(long, default_value_t = DEFAULT_DECIMALS)]
        decimals: u8,
    },
    /// Mint to owners (`OWNER=AMOUNT` in base units), signed by M operator key files. A manual
    /// tool: it keeps no ledger (the epoch minting loop does).
    Mint {
        #[arg(long)]
        mint: Pubkey,
        /// The multisig mint authority.
        #[arg(long)]
        multisig: Pubkey,
        /// Operator key file (Solana CLI JSON); repeat M times.
        #[arg(long = "signer", required = true)]
        signers: Vec<PathBuf>,
        /// Memo tag of the transactions (the batch number is appended).
        #[arg(long, default_value = "coverage-proof manual")]
        tag: String,
        /// `OWNER=AMOUNT` pairs.
        #[arg(required = true, value_parser = parse_transfer)]
        transfers: Vec<Transfer>,
    },
    /// Print the token balance (base units) of each owner.
    Balance {
        #[arg(long)]
        mint: Pubkey,
        #[arg(required = true)]
        owners: Vec<Pubkey>,
    },
    /// Print the status of a transaction: succeeded, failed (reason) or unknown.
    Status { signature: Signature },
}

fn parse_transfer(text: &str) -> Result<Transfer, String> {
    let (owner, amount) = text.split_once('=').ok_or("expected OWNER=AMOUNT")?;
    let owner = owner
        .parse()
        .map_err(|_| format!("invalid owner {owner}"))?;
    let amount = amount
        .parse()
        .map_err(|_| format!("invalid amount {amount}"))?;
    Ok(Transfer { owner, amount })
}

/// Runs one subcommand against the backend of `settings`.
pub fn run(command: ChainCommand, settings: &ChainSettings) -> anyhow::Result<()> {
    let payer = settings.fee_payer().context("fee payer key")?;
    let mut chain = settings
        .connect(&payer)
        .context("connecting to the chain")?;
    match command {
        ChainCommand::CreateToken {
            operators,
            threshold,
            decimals,
        } => {
            let (mint, multisig) = (Keypair::new(), Keypair::new());
            let config = TokenConfig {
                decimals,
                threshold,
                operators,
            };
            let file = TokenFile {
                mint: mint.pubkey(),
                multisig: multisig.pubkey(),
                threshold: config.threshold,
                operators: config.operators.clone(),
                decimals: config.decimals,
            };
            if settings.token_file.exists() {
                return Err(TokenFileError::Exists(settings.token_file.clone()).into());
            }
            let signature = create_token(chain.as_mut(), &config, &payer, &mint, &multisig)?;
            println!(
                "mint {}\nmultisig {}\nsignature {signature}",
                mint.pubkey(),
                multisig.pubkey()
            );
            file.write_new(&settings.token_file)?;
            println!("token file {}", settings.token_file.display());
        }
        ChainCommand::Mint {
            mint,
            multisig,
            signers,
            tag,
            mut transfers,
        } => {
            let keys = signers
                .iter()
                .map(|path| read_keypair(path).with_context(|| format!("{}", path.display())))
                .collect::<anyhow::Result<Vec<Keypair>>>()?;
            transfers.sort_by_key(|t| t.owner);
            let authority = MintAuthority {
                fee_payer: payer.pubkey(),
                mint,
                multisig,
                signers: keys.iter().map(Signer::pubkey).collect(),
            };
            let batches = plan_batches(&transfers, &authority, &tag)?;
            let refs: Vec<&dyn Signer> = keys.iter().map(|k| k as &dyn Signer).collect();
            for signature in mint_batches(chain.as_mut(), &batches, &payer, &refs)? {
                println!("{signature}");
            }
        }
        ChainCommand::Balance { mint, owners } => {
            for owner in owners {
                println!("{owner} {}", chain.token_balance(&owner, &mint)?);
            }
        }
        ChainCommand::Status { signature } => match chain.signature_status(&signature)? {
            None => println!("unknown"),
            Some(status) => println!("{status:?}"),
        },
    }
    Ok(())
}

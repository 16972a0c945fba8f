//! The end of `simulator demo`: pay the simulated epoch on the embedded Solana chain.
//!
//! This is the operator flow of `docs/rewards.md` run in one process: compute and store the
//! epoch's reward manifest from the oracle's verdicts, have two of three oracle operators sign
//! its hash, create the reward token (an SPL Token mint whose authority is a 2-of-3 multisig of
//! those operators) on litesvm running the real SPL Token program, mint the manifest through the
//! exactly-once mint engine, and read every owner's balance back from the chain.

use crate::keys;
use crate::scenario::ResolvedScenario;
use anyhow::Context;
use rewards::chain::instructions::DEFAULT_DECIMALS;
use rewards::chain::ops::{TokenConfig, create_token};
use rewards::chain::{Chain, Keypair, LiteSvmChain, Pubkey, Signer};
use rewards::mint::{MintContext, MintOptions, NoCrash, TokenAddresses, mint_epoch};
use schemas::clock::SystemClock;
use std::collections::BTreeMap;
use std::path::Path;

/// Lamports given to the demo's fee payer.
const PAYER_LAMPORTS: u64 = 1_000_000_000_000;
/// Oracle operators (N) and the signatures a mint needs (M).
const OPERATORS: usize = 3;
const THRESHOLD: u8 = 2;

/// One owner's payout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerPayout {
    pub name: String,
    pub key: Pubkey,
    pub hotspots: usize,
    /// From the manifest, base units.
    pub manifest_amount: u64,
    /// Read back from the chain, base units.
    pub balance: u64,
}

/// What the demo paid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPayout {
    pub epoch: u64,
    pub start_ms: u64,
    pub end_ms: u64,
    pub manifest_hash: [u8; 32],
    pub emission: u64,
    pub total_paid: u64,
    pub unallocated: u64,
    pub transactions: usize,
    pub mint: Pubkey,
    pub supply: u64,
    pub owners: Vec<OwnerPayout>,
}

/// Pays the epoch the simulation ran in. `data_dir` receives the chain state file.
pub async fn pay_epoch(
    scenario: &ResolvedScenario,
    database_url: &str,
    data_dir: &Path,
    simulation_start_ms: u64,
) -> anyhow::Result<DemoPayout> {
    let db = db::Db::connect(database_url).await?;
    let pool = db.pool();
    // The epoch length is fixed at genesis, so any epoch's set gives it.
    let genesis = db::parameters::in_force(pool, 0).await?;
    let epoch = simulation_start_ms / genesis.epoch_ms().max(1);
    let now = rewards::epoch::now_ms();

    let (computed, _) = rewards::epoch::run_epoch(&db, epoch, now)
        .await
        .with_context(|| format!("computing the manifest of epoch {epoch}"))?;
    let operators: Vec<schemas::Keypair> = (1..=OPERATORS)
        .map(|i| keys::derive(scenario.seed, "operator", &format!("operator-{i}")))
        .collect();
    for operator in operators.iter().take(usize::from(THRESHOLD)) {
        let approval = rewards::approvals::sign(epoch, computed.hash, operator);
        rewards::approvals::store(pool, &approval, now).await?;
    }

    let solana_operators: Vec<Keypair> = operators
        .iter()
        .map(|k| Keypair::new_from_array(k.secret_seed()))
        .collect();
    let payer =
        Keypair::new_from_array(keys::derive(scenario.seed, "operator", "fee-payer").secret_seed());
    let mut chain = LiteSvmChain::open_in(data_dir)?;
    chain.airdrop(&payer.pubkey(), PAYER_LAMPORTS)?;
    let (mint, multisig) = (Keypair::new(), Keypair::new());
    let config = TokenConfig {
        decimals: DEFAULT_DECIMALS,
        threshold: THRESHOLD,
        operators: solana_operators.iter().map(Signer::pubkey).collect(),
    };
    create_token(&mut chain, &config, &payer, &mint, &multisig)?;
    let token = TokenAddresses {
        mint: mint.pubkey(),
        multisig: multisig.pubkey(),
    };
    let signers: Vec<&dyn Signer> = solana_operators
        .iter()
        .take(usize::from(THRESHOLD))
        .map(|k| k as &dyn Signer)
        .collect();
    let clock = SystemClock;
    let report = {
        let mut ctx = MintContext {
            pool,
            chain: &mut chain,
            fee_payer: &payer,
            operators: &signers,
            token,
            clock: &clock,
            hook: &NoCrash,
            options: MintOptions::default(),
        };
        mint_epoch(&mut ctx, &computed.manifest).await?
    };

    let mut names: BTreeMap<Pubkey, (String, usize)> = BTreeMap::new();
    for spec in &scenario.hotspots {
        let name = spec.owner_name();
        let key = Pubkey::new_from_array(
            *keys::derive(scenario.seed, "owner", &name)
                .public()
                .as_bytes(),
        );
        names.entry(key).or_insert((name, 0)).1 += 1;
    }
    let mut owners = Vec::with_capacity(names.len());
    for (key, (name, hotspots)) in names {
        let manifest_amount = report
            .owners
            .iter()
            .find(|(owner, _)| *owner == key)
            .map_or(0, |(_, amount)| *amount);
        owners.push(OwnerPayout {
            name,
            key,
            hotspots,
            manifest_amount,
            balance: chain.token_balance(&key, &token.mint)?,
        });
    }
    owners.sort_by(|a, b| a.name.cmp(&b.name));
    let supply = chain.mint_supply(&token.mint)?;
    db.close().await;
    let manifest = &computed.manifest;
    Ok(DemoPayout {
        epoch,
        start_ms: manifest.start_ms,
        end_ms: manifest.end_ms,
        manifest_hash: computed.hash,
        emission: manifest.emission,
        total_paid: manifest.total_paid,
        unallocated: manifest.unallocated,
        transactions: report.batches.len(),
        mint: token.mint,
        supply,
        owners,
    })
}

/// Base units as tokens with 6 decimals.
pub fn tokens(base_units: u64) -> String {
    format!("{}.{:06}", base_units / 1_000_000, base_units % 1_000_000)
}

/// The payout as a table.
pub fn table(payout: &DemoPayout) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nrewards, epoch {} ({} .. {}), manifest {}",
        payout.epoch,
        rewards::epoch::utc(payout.start_ms),
        rewards::epoch::utc(payout.end_ms),
        hex::encode(payout.manifest_hash)
    );
    let _ = writeln!(
        out,
        "emission {} tokens: paid {}, unallocated {}; approved by 2 of 3 oracle operators; \
         minted in {} transaction(s) to mint {} (SPL Token, 2-of-3 multisig authority, litesvm)",
        tokens(payout.emission),
        tokens(payout.total_paid),
        tokens(payout.unallocated),
        payout.transactions,
        payout.mint
    );
    let _ = writeln!(
        out,
        "{:<14} {:>8} {:>20} {:>20}  wallet",
        "owner", "hotspots", "manifest", "balance on chain"
    );
    for owner in &payout.owners {
        let _ = writeln!(
            out,
            "{:<14} {:>8} {:>20} {:>20}  {}",
            owner.name,
            owner.hotspots,
            tokens(owner.manifest_amount),
            tokens(owner.balance),
            owner.key
        );
    }
    let _ = writeln!(
        out,
        "{:<14} {:>8} {:>20} {:>20}",
        "total",
        payout.owners.iter().map(|o| o.hotspots).sum::<usize>(),
        tokens(payout.owners.iter().map(|o| o.manifest_amount).sum()),
        tokens(payout.supply)
    );
    out
}

//! The minting loop: gate, breaker, plan durably, then per batch sign -> record -> send ->
//! confirm -> record, resuming from the ledger and the chain after any crash.

use super::approval::{gate, load_approvals};
use super::breaker::{self, WindowEntry};
use super::error::{MintError, short_hex};
use super::hook::{CrashHook, Step};
use super::ledger::{self, Attempt, BatchState, LedgerBatch, Outcome, Plan};
use super::manifest::MintableManifest;
use super::verify::verify_against_chain;
use crate::chain::plan::{MintAuthority, batch_instructions, plan_batches};
use crate::chain::{Chain, ChainError, Pubkey, Signature, SignedTransaction, Signer, TxStatus};
use schemas::clock::Clock;
use schemas::proto::RewardManifest;
use sqlx::AnyPool;
use std::time::Duration;

/// Tunables of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MintOptions {
    /// Consecutive transport errors tolerated per batch before giving up.
    pub max_chain_errors: u32,
    /// Pause after a transport error or an unconfirmed send before asking the chain again.
    pub retry_delay: Duration,
}

impl Default for MintOptions {
    fn default() -> Self {
        Self {
            max_chain_errors: 10,
            retry_delay: Duration::from_secs(2),
        }
    }
}

/// The token being minted: its mint and multisig mint authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenAddresses {
    /// The SPL Token mint.
    pub mint: Pubkey,
    /// The multisig that is its mint authority.
    pub multisig: Pubkey,
}

/// Everything one minting run uses.
pub struct MintContext<'a> {
    /// The database holding manifests, approvals, parameter sets and the mint ledger.
    pub pool: &'a AnyPool,
    /// The chain. With [`RpcChain`](crate::chain::RpcChain) run inside a multi-threaded tokio
    /// runtime (its blocking client uses `block_in_place`).
    pub chain: &'a mut dyn Chain,
    /// Pays transaction fees and the rent of new token accounts.
    pub fee_payer: &'a dyn Signer,
    /// Operator keys available to sign (at least M, each must have approved the manifest).
    pub operators: &'a [&'a dyn Signer],
    /// The token.
    pub token: TokenAddresses,
    /// Wall clock (ledger times and the breaker's window).
    pub clock: &'a dyn Clock,
    /// Crash injection ([`NoCrash`](super::NoCrash) in production).
    pub hook: &'a dyn CrashHook,
    /// Tunables.
    pub options: MintOptions,
}

impl std::fmt::Debug for MintContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MintContext")
            .field("token", &self.token)
            .field("fee_payer", &self.fee_payer.pubkey())
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// One confirmed batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintedBatch {
    /// Index in the plan.
    pub batch: u64,
    /// Base units it minted.
    pub amount: u64,
    /// Owners it paid.
    pub owners: usize,
    /// The confirmed transaction.
    pub signature: Signature,
}

/// The result of a run that completed the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintReport {
    /// The epoch.
    pub epoch: u64,
    /// The manifest hash.
    pub manifest_hash: [u8; 32],
    /// Per owner, sorted.
    pub owners: Vec<(Pubkey, u64)>,
    /// Total minted.
    pub total: u64,
    /// Every batch with its confirmed signature.
    pub batches: Vec<MintedBatch>,
    /// True if the epoch had been completely minted before this run (nothing was sent).
    pub already_complete: bool,
}

/// Mints `manifest` exactly once (or resumes an interrupted run): approval gate, circuit
/// breaker, durable plan, then every batch; finally reconciles against the chain.
pub async fn mint_epoch(
    ctx: &mut MintContext<'_>,
    manifest: &RewardManifest,
) -> Result<MintReport, MintError> {
    let manifest = MintableManifest::new(manifest)?;
    let epoch = manifest.epoch;
    let signers = authorise(ctx, &manifest).await?;
    let existing = ledger::plan(ctx.pool, epoch).await?;
    if let Some(plan) = &existing {
        check_plan_matches(plan, &manifest, &ctx.token)?;
    }
    let already_complete = existing.as_ref().is_some_and(|p| p.completed_ms.is_some());
    if !already_complete {
        check_breaker(ctx, &manifest, existing.is_some()).await?;
    }
    let authority = MintAuthority {
        fee_payer: ctx.fee_payer.pubkey(),
        mint: ctx.token.mint,
        multisig: ctx.token.multisig,
        signers: signers.iter().map(|s| s.pubkey()).collect(),
    };
    let plan = match existing {
        Some(plan) => plan,
        None => make_plan(ctx, &manifest, &authority).await?,
    };
    let batches = ledger::batches(ctx.pool, epoch).await?;
    check_batches_match(&plan, &batches, &manifest)?;
    if !already_complete {
        for batch in &batches {
            drive_batch(ctx, &plan, batch, &authority, &signers).await?;
        }
    }
    let batches = ledger::batches(ctx.pool, epoch).await?;
    let attempts = ledger::attempts(ctx.pool, epoch).await?;
    verify_against_chain(&*ctx.chain, &plan, &batches, &attempts)?;
    if !already_complete {
        ctx.hook.reached(epoch, Step::Verified)?;
        ledger::complete(ctx.pool, epoch, ctx.clock.now_ms()).await?;
        tracing::info!(
            epoch,
            total = plan.total,
            batches = batches.len(),
            "epoch minted and verified"
        );
    }
    let minted = batches
        .iter()
        .map(|b| {
            let signature = attempts
                .iter()
                .find(|a| a.batch == b.batch && a.attempt == b.attempt)
                .map(|a| a.transaction.signature())
                .unwrap_or_default();
            MintedBatch {
                batch: b.batch,
                amount: b.amount,
                owners: b.transfers.len(),
                signature,
            }
        })
        .collect();
    Ok(MintReport {
        epoch,
        manifest_hash: manifest.hash,
        owners: manifest
            .transfers
            .iter()
            .map(|t| (t.owner, t.amount))
            .collect(),
        total: manifest.total,
        batches: minted,
        already_complete,
    })
}

/// Checks the token on chain and the approvals; returns the M signers to use.
async fn authorise<'a>(
    ctx: &MintContext<'a>,
    manifest: &MintableManifest,
) -> Result<Vec<&'a dyn Signer>, MintError> {
    let mint = ctx.chain.mint_account(&ctx.token.mint)?;
    if mint.mint_authority != Some(ctx.token.multisig) {
        return Err(MintError::WrongAuthority {
            mint: ctx.token.mint,
            multisig: ctx.token.multisig,
            actual: mint
                .mint_authority
                .map_or_else(|| "none".to_string(), |a| a.to_string()),
        });
    }
    let multisig = ctx.chain.multisig_account(&ctx.token.multisig)?;
    let approvals = load_approvals(ctx.pool, manifest.epoch).await?;
    let given: Vec<Pubkey> = ctx.operators.iter().map(|s| s.pubkey()).collect();
    let chosen = gate(
        manifest.epoch,
        &manifest.hash,
        &ctx.token.multisig,
        &multisig,
        &approvals,
        &given,
    )?;
    Ok(chosen
        .iter()
        .filter_map(|key| ctx.operators.iter().find(|s| s.pubkey() == *key).copied())
        .collect())
}

async fn check_breaker(
    ctx: &MintContext<'_>,
    manifest: &MintableManifest,
    planned: bool,
) -> Result<(), MintError> {
    let epoch = manifest.epoch;
    let needed = if planned {
        ledger::batches(ctx.pool, epoch)
            .await?
            .iter()
            .filter(|b| b.state != BatchState::Confirmed)
            .map(|b| b.amount)
            .sum()
    } else {
        manifest.total
    };
    let parameters = db::parameters::in_force(ctx.pool, epoch).await?;
    let entries: Vec<WindowEntry> = ledger::window_entries(ctx.pool, epoch).await?;
    breaker::check(epoch, &parameters, ctx.clock.now_ms(), &entries, needed)
}

async fn make_plan(
    ctx: &MintContext<'_>,
    manifest: &MintableManifest,
    authority: &MintAuthority,
) -> Result<Plan, MintError> {
    let epoch = manifest.epoch;
    let tag = format!(
        "coverage-proof epoch {epoch} manifest {}",
        short_hex(&manifest.hash)
    );
    let batches = plan_batches(&manifest.transfers, authority, &tag)?;
    let plan = Plan {
        epoch,
        manifest_hash: manifest.hash,
        mint: authority.mint,
        multisig: authority.multisig,
        fee_payer: authority.fee_payer,
        signers: authority.signers.clone(),
        tag,
        total: manifest.total,
        batches: batches.len() as u64,
        planned_ms: ctx.clock.now_ms(),
        completed_ms: None,
    };
    ledger::insert_plan(ctx.pool, &plan, &batches).await?;
    tracing::info!(
        epoch,
        batches = batches.len(),
        total = plan.total,
        "mint plan recorded"
    );
    ctx.hook.reached(epoch, Step::Planned)?;
    Ok(plan)
}

fn check_plan_matches(
    plan: &Plan,
    manifest: &MintableManifest,
    token: &TokenAddresses,
) -> Result<(), MintError> {
    let what = if plan.manifest_hash != manifest.hash {
        format!(
            "manifest {}.. (minting {}..)",
            short_hex(&plan.manifest_hash),
            short_hex(&manifest.hash)
        )
    } else if plan.mint != token.mint {
        format!("mint {} (configured {})", plan.mint, token.mint)
    } else if plan.multisig != token.multisig {
        format!("multisig {} (configured {})", plan.multisig, token.multisig)
    } else {
        return Ok(());
    };
    Err(MintError::PlanMismatch {
        epoch: plan.epoch,
        what,
    })
}

/// The ledger's transfers must be the manifest's, exactly.
fn check_batches_match(
    plan: &Plan,
    batches: &[LedgerBatch],
    manifest: &MintableManifest,
) -> Result<(), MintError> {
    let mut transfers: Vec<_> = batches
        .iter()
        .flat_map(|b| b.transfers.iter().copied())
        .collect();
    transfers.sort_by_key(|t| t.owner);
    let sums_ok = batches
        .iter()
        .all(|b| b.transfers.iter().map(|t| t.amount).sum::<u64>() == b.amount);
    if transfers != manifest.transfers || batches.len() as u64 != plan.batches || !sums_ok {
        return Err(MintError::Ledger {
            epoch: plan.epoch,
            detail: "the planned transfers are not the manifest's owners and amounts".into(),
        });
    }
    Ok(())
}

/// What to do after one step of a batch.
enum Flow {
    Continue,
    Done,
}

/// A batch's position in the loop (mirrors its ledger row).
struct Cursor {
    state: BatchState,
    attempt: u64,
    current: Option<Attempt>,
}

async fn drive_batch(
    ctx: &mut MintContext<'_>,
    plan: &Plan,
    batch: &LedgerBatch,
    authority: &MintAuthority,
    signers: &[&dyn Signer],
) -> Result<(), MintError> {
    let mut cursor = Cursor {
        state: batch.state,
        attempt: batch.attempt,
        current: None,
    };
    if matches!(cursor.state, BatchState::Signed | BatchState::Sent) {
        cursor.current = Some(ledger::current_attempt(ctx.pool, plan.epoch, batch).await?);
    }
    let mut errors = 0u32;
    loop {
        match step(ctx, plan, batch, authority, signers, &mut cursor).await {
            Ok(Flow::Done) => return Ok(()),
            Ok(Flow::Continue) => errors = 0,
            Err(MintError::Chain(err @ ChainError::Rpc(_))) => {
                errors += 1;
                tracing::warn!(epoch = plan.epoch, batch = batch.batch, errors, error = %err, "chain error; retrying");
                if errors >= ctx.options.max_chain_errors {
                    return Err(MintError::ChainUnavailable {
                        epoch: plan.epoch,
                        attempts: errors,
                        last: err,
                    });
                }
                tokio::time::sleep(ctx.options.retry_delay).await;
            }
            Err(err) => return Err(err),
        }
    }
}

async fn step(
    ctx: &mut MintContext<'_>,
    plan: &Plan,
    batch: &LedgerBatch,
    authority: &MintAuthority,
    signers: &[&dyn Signer],
    cursor: &mut Cursor,
) -> Result<Flow, MintError> {
    let epoch = plan.epoch;
    let index = batch.batch;
    match (cursor.state, cursor.current.clone()) {
        (BatchState::Confirmed, _) => Ok(Flow::Done),
        (BatchState::Planned, _) => {
            let recent = ctx.chain.recent_blockhash()?;
            let position = usize::try_from(index).map_err(|_| MintError::Ledger {
                epoch,
                detail: format!("batch {index}"),
            })?;
            let instructions =
                batch_instructions(position, &batch.transfers, authority, &plan.tag)?;
            let transaction =
                SignedTransaction::new(&instructions, ctx.fee_payer, signers, recent.hash)?;
            let attempt = Attempt {
                batch: index,
                attempt: cursor.attempt + 1,
                transaction,
                last_valid_block_height: recent.last_valid_block_height,
                signed_ms: ctx.clock.now_ms(),
                sent_ms: None,
                outcome: Outcome::Pending,
                detail: None,
            };
            ledger::record_attempt(ctx.pool, epoch, &attempt).await?;
            tracing::info!(epoch, batch = index, attempt = attempt.attempt, signature = %attempt.transaction.signature(), "batch signed and recorded");
            cursor.state = BatchState::Signed;
            cursor.attempt = attempt.attempt;
            cursor.current = Some(attempt);
            ctx.hook.reached(epoch, Step::Signed { batch: index })?;
            Ok(Flow::Continue)
        }
        (BatchState::Signed | BatchState::Sent, Some(attempt)) => {
            settle_or_send(ctx, plan, index, cursor, attempt).await
        }
        (state, None) => Err(MintError::Ledger {
            epoch,
            detail: format!("batch {index} is {state:?} without an attempt"),
        }),
    }
}

/// Asks the chain about the current attempt: confirmed, failed, provably expired, or (still
/// able to land) send its same bytes again.
async fn settle_or_send(
    ctx: &mut MintContext<'_>,
    plan: &Plan,
    index: u64,
    cursor: &mut Cursor,
    attempt: Attempt,
) -> Result<Flow, MintError> {
    let epoch = plan.epoch;
    let signature = attempt.transaction.signature();
    // Height first: if it is already past the expiry and the status (read after) is unknown,
    // the transaction can never land.
    let height = ctx.chain.block_height()?;
    let status = ctx.chain.signature_status(&signature)?;
    let now = ctx.clock.now_ms();
    match status {
        Some(TxStatus::Succeeded) => {
            ledger::confirm(ctx.pool, epoch, index, attempt.attempt, now).await?;
            tracing::info!(epoch, batch = index, %signature, "batch confirmed");
            cursor.state = BatchState::Confirmed;
            ctx.hook.reached(epoch, Step::Confirmed { batch: index })?;
            Ok(Flow::Done)
        }
        Some(TxStatus::Failed(reason)) => {
            ledger::resolve_dead(
                ctx.pool,
                epoch,
                index,
                attempt.attempt,
                Outcome::Failed,
                Some(&reason),
                now,
            )
            .await?;
            cursor.state = BatchState::Planned;
            cursor.current = None;
            Err(MintError::BatchFailed {
                epoch,
                batch: index,
                signature,
                reason,
            })
        }
        None if height > attempt.last_valid_block_height => {
            ledger::resolve_dead(
                ctx.pool,
                epoch,
                index,
                attempt.attempt,
                Outcome::Expired,
                None,
                now,
            )
            .await?;
            tracing::info!(epoch, batch = index, %signature, height, last_valid = attempt.last_valid_block_height, "attempt expired without landing; signing again");
            cursor.state = BatchState::Planned;
            cursor.current = None;
            ctx.hook.reached(epoch, Step::Expired { batch: index })?;
            Ok(Flow::Continue)
        }
        None => {
            if cursor.state == BatchState::Signed {
                ledger::mark_sent(ctx.pool, epoch, index, attempt.attempt, now).await?;
                cursor.state = BatchState::Sent;
                ctx.hook
                    .reached(epoch, Step::SendRecorded { batch: index })?;
            }
            send(ctx, plan, index, &attempt).await
        }
    }
}

async fn send(
    ctx: &mut MintContext<'_>,
    plan: &Plan,
    index: u64,
    attempt: &Attempt,
) -> Result<Flow, MintError> {
    let epoch = plan.epoch;
    match ctx.chain.submit(&attempt.transaction) {
        Ok(_) => {
            ctx.hook.reached(epoch, Step::Submitted { batch: index })?;
            Ok(Flow::Continue)
        }
        Err(ChainError::Rejected { signature, reason }) => {
            ledger::note(ctx.pool, epoch, index, attempt.attempt, &reason).await?;
            if ctx.chain.signature_status(&signature)?.is_some() {
                // Already processed, or executed and failed: the next status read settles it.
                return Ok(Flow::Continue);
            }
            if reason.contains("BlockhashNotFound") {
                // Expired (the next read proves it) or a lagging node: ask again shortly.
                tokio::time::sleep(ctx.options.retry_delay).await;
                return Ok(Flow::Continue);
            }
            Err(MintError::BatchRejected {
                epoch,
                batch: index,
                signature,
                reason,
            })
        }
        Err(err) => Err(err.into()),
    }
}

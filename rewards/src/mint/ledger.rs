//! The mint ledger (`db/migrations/*/0005_mint_ledger.sql`): plans, transfers, batches and every
//! signed attempt. Each write is one database transaction, so a crash leaves either the state
//! before or after it.

use super::breaker::WindowEntry;
use super::error::MintError;
use crate::chain::plan::{Batch, Transfer};
use crate::chain::{Pubkey, SignedTransaction};
use sqlx::{AnyPool, Row};

/// A batch's state in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchState {
    /// No live attempt: sign one.
    Planned,
    /// An attempt is recorded (signature, wire bytes, expiry) but was never sent.
    Signed,
    /// The attempt was sent at least once; its outcome is not yet known.
    Sent,
    /// The chain says the current attempt succeeded.
    Confirmed,
}

impl BatchState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Planned => "planned",
            Self::Signed => "signed",
            Self::Sent => "sent",
            Self::Confirmed => "confirmed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "planned" => Self::Planned,
            "signed" => Self::Signed,
            "sent" => Self::Sent,
            "confirmed" => Self::Confirmed,
            _ => return None,
        })
    }
}

/// What became of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// May still land.
    Pending,
    /// The chain says it succeeded.
    Landed,
    /// Unknown to the chain after its last valid block height: it never landed and never will.
    Expired,
    /// Included but failed: none of its instructions took effect.
    Failed,
}

impl Outcome {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Landed => "landed",
            Self::Expired => "expired",
            Self::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "landed" => Self::Landed,
            "expired" => Self::Expired,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// An epoch's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The epoch.
    pub epoch: u64,
    /// The manifest it pays.
    pub manifest_hash: [u8; 32],
    /// The token mint.
    pub mint: Pubkey,
    /// The multisig mint authority.
    pub multisig: Pubkey,
    /// The fee payer the batches were sized for.
    pub fee_payer: Pubkey,
    /// The M signers the batches were sized for.
    pub signers: Vec<Pubkey>,
    /// Memo tag.
    pub tag: String,
    /// Sum of all transfers.
    pub total: u64,
    /// Number of batches.
    pub batches: u64,
    /// When it was planned.
    pub planned_ms: u64,
    /// When every batch was confirmed and verified.
    pub completed_ms: Option<u64>,
}

/// A batch as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerBatch {
    /// Index in the plan.
    pub batch: u64,
    /// Sum of its transfers.
    pub amount: u64,
    /// State.
    pub state: BatchState,
    /// The current attempt (0: none yet).
    pub attempt: u64,
    /// When the chain confirmed it.
    pub confirmed_ms: Option<u64>,
    /// Its transfers, by owner.
    pub transfers: Vec<Transfer>,
}

/// A signed transaction of a batch, recorded before it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The batch.
    pub batch: u64,
    /// 1, 2, ... within the batch.
    pub attempt: u64,
    /// The transaction as signed.
    pub transaction: SignedTransaction,
    /// Last block height at which it can land.
    pub last_valid_block_height: u64,
    /// When it was signed.
    pub signed_ms: u64,
    /// When it was first sent.
    pub sent_ms: Option<u64>,
    /// Its outcome so far.
    pub outcome: Outcome,
    /// The chain's last refusal or failure reason.
    pub detail: Option<String>,
}

pub(super) fn db_int(epoch: u64, value: u64, what: &str) -> Result<i64, MintError> {
    i64::try_from(value).map_err(|_| MintError::Ledger {
        epoch,
        detail: format!("{what} {value} does not fit a BIGINT"),
    })
}

fn uint(epoch: u64, value: i64, what: &str) -> Result<u64, MintError> {
    u64::try_from(value).map_err(|_| corrupt(epoch, format!("negative {what} {value}")))
}

fn corrupt(epoch: u64, detail: String) -> MintError {
    MintError::Ledger { epoch, detail }
}

fn key(epoch: u64, bytes: &[u8], what: &str) -> Result<Pubkey, MintError> {
    Pubkey::try_from(bytes).map_err(|_| corrupt(epoch, format!("{what} is {} bytes", bytes.len())))
}

/// The plan of `epoch`, if any.
pub async fn plan(pool: &AnyPool, epoch: u64) -> Result<Option<Plan>, MintError> {
    let row = sqlx::query(
        "SELECT manifest_hash, mint, multisig, fee_payer, signers, tag, total, batches, \
         planned_ms, completed_ms FROM mint_plans WHERE epoch = $1",
    )
    .bind(db_int(epoch, epoch, "epoch")?)
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let hash: Vec<u8> = row.try_get(0)?;
    let signers: Vec<u8> = row.try_get(4)?;
    if !signers.len().is_multiple_of(32) {
        return Err(corrupt(
            epoch,
            format!("signers column is {} bytes", signers.len()),
        ));
    }
    Ok(Some(Plan {
        epoch,
        manifest_hash: hash
            .as_slice()
            .try_into()
            .map_err(|_| corrupt(epoch, format!("manifest hash is {} bytes", hash.len())))?,
        mint: key(epoch, &row.try_get::<Vec<u8>, _>(1)?, "mint")?,
        multisig: key(epoch, &row.try_get::<Vec<u8>, _>(2)?, "multisig")?,
        fee_payer: key(epoch, &row.try_get::<Vec<u8>, _>(3)?, "fee payer")?,
        signers: signers
            .chunks(32)
            .map(|c| key(epoch, c, "signer"))
            .collect::<Result<_, _>>()?,
        tag: row.try_get(5)?,
        total: uint(epoch, row.try_get(6)?, "total")?,
        batches: uint(epoch, row.try_get(7)?, "batch count")?,
        planned_ms: uint(epoch, row.try_get(8)?, "planned_ms")?,
        completed_ms: row
            .try_get::<Option<i64>, _>(9)?
            .map(|v| uint(epoch, v, "completed_ms"))
            .transpose()?,
    }))
}

/// Records a plan with all its transfers and batches, atomically.
pub async fn insert_plan(pool: &AnyPool, plan: &Plan, batches: &[Batch]) -> Result<(), MintError> {
    let epoch = plan.epoch;
    let e = db_int(epoch, epoch, "epoch")?;
    let mut tx = pool.begin().await?;
    let signers: Vec<u8> = plan.signers.iter().flat_map(|k| k.to_bytes()).collect();
    sqlx::query(
        "INSERT INTO mint_plans (epoch, manifest_hash, mint, multisig, fee_payer, signers, tag, \
         total, batches, planned_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(e)
    .bind(plan.manifest_hash.to_vec())
    .bind(plan.mint.to_bytes().to_vec())
    .bind(plan.multisig.to_bytes().to_vec())
    .bind(plan.fee_payer.to_bytes().to_vec())
    .bind(signers)
    .bind(plan.tag.clone())
    .bind(db_int(epoch, plan.total, "total")?)
    .bind(db_int(epoch, plan.batches, "batch count")?)
    .bind(db_int(epoch, plan.planned_ms, "planned_ms")?)
    .execute(&mut *tx)
    .await?;
    for batch in batches {
        let index = db_int(epoch, batch.index as u64, "batch")?;
        let amount: u64 = batch.transfers.iter().map(|t| t.amount).sum();
        sqlx::query(
            "INSERT INTO mint_batches (epoch, batch, amount, state, attempt) \
             VALUES ($1, $2, $3, 'planned', 0)",
        )
        .bind(e)
        .bind(index)
        .bind(db_int(epoch, amount, "amount")?)
        .execute(&mut *tx)
        .await?;
        for transfer in &batch.transfers {
            sqlx::query(
                "INSERT INTO mint_transfers (epoch, owner_key, batch, amount) VALUES ($1, $2, $3, $4)",
            )
            .bind(e)
            .bind(transfer.owner.to_bytes().to_vec())
            .bind(index)
            .bind(db_int(epoch, transfer.amount, "amount")?)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Every batch of `epoch` with its transfers, in order.
pub async fn batches(pool: &AnyPool, epoch: u64) -> Result<Vec<LedgerBatch>, MintError> {
    let e = db_int(epoch, epoch, "epoch")?;
    let rows = sqlx::query(
        "SELECT batch, amount, state, attempt, confirmed_ms FROM mint_batches \
         WHERE epoch = $1 ORDER BY batch",
    )
    .bind(e)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let state: String = row.try_get(2)?;
        out.push(LedgerBatch {
            batch: uint(epoch, row.try_get(0)?, "batch")?,
            amount: uint(epoch, row.try_get(1)?, "amount")?,
            state: BatchState::parse(&state)
                .ok_or_else(|| corrupt(epoch, format!("batch state {state:?}")))?,
            attempt: uint(epoch, row.try_get(3)?, "attempt")?,
            confirmed_ms: row
                .try_get::<Option<i64>, _>(4)?
                .map(|v| uint(epoch, v, "confirmed_ms"))
                .transpose()?,
            transfers: Vec::new(),
        });
    }
    let rows = sqlx::query(
        "SELECT batch, owner_key, amount FROM mint_transfers WHERE epoch = $1 ORDER BY batch, owner_key",
    )
    .bind(e)
    .fetch_all(pool)
    .await?;
    for row in rows {
        let batch = uint(epoch, row.try_get(0)?, "batch")?;
        let transfer = Transfer {
            owner: key(epoch, &row.try_get::<Vec<u8>, _>(1)?, "owner")?,
            amount: uint(epoch, row.try_get(2)?, "amount")?,
        };
        let slot = usize::try_from(batch)
            .ok()
            .and_then(|i| out.get_mut(i))
            .filter(|b| b.batch == batch)
            .ok_or_else(|| corrupt(epoch, format!("transfer of unknown batch {batch}")))?;
        slot.transfers.push(transfer);
    }
    Ok(out)
}

/// Every attempt of `epoch`, by batch and attempt.
pub async fn attempts(pool: &AnyPool, epoch: u64) -> Result<Vec<Attempt>, MintError> {
    let rows = sqlx::query(
        "SELECT batch, attempt, wire, last_valid_block_height, signed_ms, sent_ms, outcome, detail \
         FROM mint_attempts WHERE epoch = $1 ORDER BY batch, attempt",
    )
    .bind(db_int(epoch, epoch, "epoch")?)
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let wire: Vec<u8> = row.try_get(2)?;
        let outcome: String = row.try_get(6)?;
        out.push(Attempt {
            batch: uint(epoch, row.try_get(0)?, "batch")?,
            attempt: uint(epoch, row.try_get(1)?, "attempt")?,
            transaction: SignedTransaction::from_wire(&wire)
                .map_err(|e| corrupt(epoch, format!("stored transaction: {e}")))?,
            last_valid_block_height: uint(epoch, row.try_get(3)?, "last valid block height")?,
            signed_ms: uint(epoch, row.try_get(4)?, "signed_ms")?,
            sent_ms: row
                .try_get::<Option<i64>, _>(5)?
                .map(|v| uint(epoch, v, "sent_ms"))
                .transpose()?,
            outcome: Outcome::parse(&outcome)
                .ok_or_else(|| corrupt(epoch, format!("attempt outcome {outcome:?}")))?,
            detail: row.try_get(7)?,
        });
    }
    Ok(out)
}

/// The current attempt of a batch.
pub async fn current_attempt(
    pool: &AnyPool,
    epoch: u64,
    batch: &LedgerBatch,
) -> Result<Attempt, MintError> {
    attempts(pool, epoch)
        .await?
        .into_iter()
        .find(|a| a.batch == batch.batch && a.attempt == batch.attempt)
        .ok_or_else(|| {
            corrupt(
                epoch,
                format!("batch {} has no attempt {}", batch.batch, batch.attempt),
            )
        })
}

/// Records a new signed attempt (before it is sent) and makes it the batch's current one.
pub async fn record_attempt(
    pool: &AnyPool,
    epoch: u64,
    attempt: &Attempt,
) -> Result<(), MintError> {
    let e = db_int(epoch, epoch, "epoch")?;
    let b = db_int(epoch, attempt.batch, "batch")?;
    let n = db_int(epoch, attempt.attempt, "attempt")?;
    let tx_bytes = &attempt.transaction;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO mint_attempts (epoch, batch, attempt, signature, wire, blockhash, \
         last_valid_block_height, signed_ms, outcome) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')",
    )
    .bind(e)
    .bind(b)
    .bind(n)
    .bind(tx_bytes.signature().as_ref().to_vec())
    .bind(tx_bytes.wire().to_vec())
    .bind(tx_bytes.blockhash().to_bytes().to_vec())
    .bind(db_int(epoch, attempt.last_valid_block_height, "last valid block height")?)
    .bind(db_int(epoch, attempt.signed_ms, "signed_ms")?)
    .execute(&mut *tx)
    .await?;
    let updated = sqlx::query(
        "UPDATE mint_batches SET state = 'signed', attempt = $3 \
         WHERE epoch = $1 AND batch = $2 AND state = 'planned' AND attempt = $3 - 1",
    )
    .bind(e)
    .bind(b)
    .bind(n)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(corrupt(
            epoch,
            format!(
                "batch {} is not awaiting attempt {}",
                attempt.batch, attempt.attempt
            ),
        ));
    }
    tx.commit().await?;
    Ok(())
}

/// Notes that the batch's current attempt is about to be sent (first time only).
pub async fn mark_sent(
    pool: &AnyPool,
    epoch: u64,
    batch: u64,
    attempt: u64,
    now_ms: u64,
) -> Result<(), MintError> {
    let e = db_int(epoch, epoch, "epoch")?;
    let b = db_int(epoch, batch, "batch")?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE mint_attempts SET sent_ms = $4 \
         WHERE epoch = $1 AND batch = $2 AND attempt = $3 AND sent_ms IS NULL",
    )
    .bind(e)
    .bind(b)
    .bind(db_int(epoch, attempt, "attempt")?)
    .bind(db_int(epoch, now_ms, "sent_ms")?)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE mint_batches SET state = 'sent' WHERE epoch = $1 AND batch = $2 AND state = 'signed'")
        .bind(e)
        .bind(b)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Records that the chain confirmed the batch's current attempt.
pub async fn confirm(
    pool: &AnyPool,
    epoch: u64,
    batch: u64,
    attempt: u64,
    now_ms: u64,
) -> Result<(), MintError> {
    let e = db_int(epoch, epoch, "epoch")?;
    let b = db_int(epoch, batch, "batch")?;
    let now = db_int(epoch, now_ms, "time")?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE mint_attempts SET outcome = 'landed', resolved_ms = $4 \
         WHERE epoch = $1 AND batch = $2 AND attempt = $3",
    )
    .bind(e)
    .bind(b)
    .bind(db_int(epoch, attempt, "attempt")?)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let updated = sqlx::query(
        "UPDATE mint_batches SET state = 'confirmed', confirmed_ms = $3 \
         WHERE epoch = $1 AND batch = $2 AND attempt = $4 AND state IN ('signed', 'sent')",
    )
    .bind(e)
    .bind(b)
    .bind(now)
    .bind(db_int(epoch, attempt, "attempt")?)
    .execute(&mut *tx)
    .await?;
    expect_one(epoch, batch, attempt, updated.rows_affected())?;
    tx.commit().await?;
    Ok(())
}

/// A guarded update touched no row: the batch moved on under this process.
fn expect_one(epoch: u64, batch: u64, attempt: u64, rows: u64) -> Result<(), MintError> {
    if rows == 1 {
        return Ok(());
    }
    Err(corrupt(
        epoch,
        format!(
            "batch {batch} attempt {attempt} is no longer the live attempt (is another `rewards mint` running for this epoch?)"
        ),
    ))
}

/// Closes the batch's current attempt as expired or failed (it will never take effect): the
/// batch goes back to `planned`, to be signed again.
pub async fn resolve_dead(
    pool: &AnyPool,
    epoch: u64,
    batch: u64,
    attempt: u64,
    outcome: Outcome,
    detail: Option<&str>,
    now_ms: u64,
) -> Result<(), MintError> {
    let e = db_int(epoch, epoch, "epoch")?;
    let b = db_int(epoch, batch, "batch")?;
    let mut tx = pool.begin().await?;
    sqlx::query(
        "UPDATE mint_attempts SET outcome = $4, resolved_ms = $5, detail = COALESCE($6, detail) \
         WHERE epoch = $1 AND batch = $2 AND attempt = $3",
    )
    .bind(e)
    .bind(b)
    .bind(db_int(epoch, attempt, "attempt")?)
    .bind(outcome.as_str())
    .bind(db_int(epoch, now_ms, "time")?)
    .bind(detail.map(str::to_string))
    .execute(&mut *tx)
    .await?;
    let updated = sqlx::query(
        "UPDATE mint_batches SET state = 'planned' \
         WHERE epoch = $1 AND batch = $2 AND attempt = $3 AND state IN ('signed', 'sent')",
    )
    .bind(e)
    .bind(b)
    .bind(db_int(epoch, attempt, "attempt")?)
    .execute(&mut *tx)
    .await?;
    expect_one(epoch, batch, attempt, updated.rows_affected())?;
    tx.commit().await?;
    Ok(())
}

/// Notes the chain's refusal of an attempt (it stays pending until it provably expired).
pub async fn note(
    pool: &AnyPool,
    epoch: u64,
    batch: u64,
    attempt: u64,
    detail: &str,
) -> Result<(), MintError> {
    sqlx::query(
        "UPDATE mint_attempts SET detail = $4 WHERE epoch = $1 AND batch = $2 AND attempt = $3",
    )
    .bind(db_int(epoch, epoch, "epoch")?)
    .bind(db_int(epoch, batch, "batch")?)
    .bind(db_int(epoch, attempt, "attempt")?)
    .bind(detail.to_string())
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks the plan of `epoch` complete.
pub async fn complete(pool: &AnyPool, epoch: u64, now_ms: u64) -> Result<(), MintError> {
    sqlx::query(
        "UPDATE mint_plans SET completed_ms = $2 WHERE epoch = $1 AND completed_ms IS NULL",
    )
    .bind(db_int(epoch, epoch, "epoch")?)
    .bind(db_int(epoch, now_ms, "time")?)
    .execute(pool)
    .await?;
    Ok(())
}

/// What the circuit breaker counts besides `epoch`'s unconfirmed remainder: every other
/// epoch's batches (confirmed with their time, or in flight) and `epoch`'s confirmed ones.
pub async fn window_entries(pool: &AnyPool, epoch: u64) -> Result<Vec<WindowEntry>, MintError> {
    let rows = sqlx::query("SELECT epoch, amount, state, confirmed_ms FROM mint_batches")
        .fetch_all(pool)
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    for row in rows {
        let batch_epoch = uint(epoch, row.try_get(0)?, "epoch")?;
        let state: String = row.try_get(2)?;
        let confirmed = state == BatchState::Confirmed.as_str();
        if batch_epoch == epoch && !confirmed {
            continue;
        }
        let confirmed_ms = if confirmed {
            let at: Option<i64> = row.try_get(3)?;
            Some(uint(epoch, at.unwrap_or_default(), "confirmed_ms")?)
        } else {
            None
        };
        entries.push(WindowEntry {
            amount: uint(epoch, row.try_get(1)?, "amount")?,
            confirmed_ms,
        });
    }
    Ok(entries)
}

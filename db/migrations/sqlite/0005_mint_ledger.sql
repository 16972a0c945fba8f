-- The mint ledger: every planned transfer of an epoch's reward manifest, every transaction
-- signed to pay it and what the chain said about it, so minting is exactly once across crashes.
-- Keep in step with the other backend's migration (only BLOB/BYTEA differ).
-- Amounts are base units of the token; times are Unix milliseconds.

-- One plan per epoch: the manifest it pays and the token/authority it was sized for.
CREATE TABLE mint_plans (
    epoch BIGINT PRIMARY KEY,
    manifest_hash BLOB NOT NULL,
    -- Token mint, multisig mint authority and fee payer (32-byte Solana addresses).
    mint BLOB NOT NULL,
    multisig BLOB NOT NULL,
    fee_payer BLOB NOT NULL,
    -- The M multisig members the batches were sized for (concatenated 32-byte keys).
    signers BLOB NOT NULL,
    -- Memo tag of the plan's transactions (each adds " batch N").
    tag TEXT NOT NULL,
    total BIGINT NOT NULL,
    batches BIGINT NOT NULL,
    planned_ms BIGINT NOT NULL,
    -- Set once every batch is confirmed and verified against the chain.
    completed_ms BIGINT
);

-- Every planned transfer: one per owner of the manifest.
CREATE TABLE mint_transfers (
    epoch BIGINT NOT NULL,
    owner_key BLOB NOT NULL,
    batch BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (epoch, owner_key)
);
CREATE INDEX mint_transfers_batch ON mint_transfers (epoch, batch);

-- One row per planned transaction. state: planned (no live attempt), signed (an attempt is
-- recorded, not yet sent), sent (sent at least once), confirmed (the chain says it succeeded).
CREATE TABLE mint_batches (
    epoch BIGINT NOT NULL,
    batch BIGINT NOT NULL,
    amount BIGINT NOT NULL,
    state TEXT NOT NULL,
    -- The current attempt (0 before the first signature).
    attempt BIGINT NOT NULL,
    confirmed_ms BIGINT,
    PRIMARY KEY (epoch, batch)
);

-- Every signed transaction of a batch, recorded before it is sent. outcome: pending (may still
-- land), landed, expired (provably never landed: unknown to the chain after its last valid block
-- height), failed (included but failed: nothing took effect).
CREATE TABLE mint_attempts (
    epoch BIGINT NOT NULL,
    batch BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    signature BLOB NOT NULL,
    wire BLOB NOT NULL,
    blockhash BLOB NOT NULL,
    last_valid_block_height BIGINT NOT NULL,
    signed_ms BIGINT NOT NULL,
    sent_ms BIGINT,
    outcome TEXT NOT NULL,
    resolved_ms BIGINT,
    -- The chain's last refusal or failure reason, if any.
    detail TEXT,
    PRIMARY KEY (epoch, batch, attempt)
);
CREATE UNIQUE INDEX mint_attempts_signature ON mint_attempts (signature);

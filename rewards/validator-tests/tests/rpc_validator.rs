//! The production path end to end: the `rewards` mint engine (approval gate, mint ledger on
//! SQLite, circuit breaker, reconciliation) minting a real manifest through the anchor-client
//! JSON-RPC backend against an in-process `solana-test-validator` on loopback, under a 2-of-3
//! SPL Token multisig: exact balances, a refusal with one approval (the gate) and with one
//! signature (the chain), and a crash after signing resumed by re-sending the same bytes.

use anchor_client::CommitmentConfig;
use rewards::chain::instructions::{
    DEFAULT_DECIMALS, create_associated_token_account, mint_to_owner,
};
use rewards::chain::ops::{TokenConfig, create_token};
use rewards::chain::{Chain, ChainError, Keypair, Pubkey, RpcChain, Signer, TxStatus};
use rewards::mint::ledger::{self, Outcome};
use rewards::mint::{
    CrashHook, MintContext, MintError, MintOptions, MintReport, NoCrash, Step, TokenAddresses,
    manifest_hash, mint_epoch,
};
use schemas::clock::SystemClock;
use schemas::parameters::ParameterSet;
use schemas::proto::{ManifestApproval, OwnerReward, RewardManifest};
use schemas::sign::SingleSigned;
use solana_rpc::rpc::JsonRpcConfig;
use solana_test_validator::TestValidatorGenesis;
use sqlx::AnyPool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Programs in genesis are usable only from slot 2 on ("Program is not deployed" before).
const FIRST_USABLE_SLOT: u64 = 2;
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const EPOCH: u64 = 1;

fn wait_for_slot(chain: &RpcChain, slot: u64) {
    let start = Instant::now();
    loop {
        match chain.slot() {
            Ok(current) if current >= slot => return,
            _ if start.elapsed() > STARTUP_TIMEOUT => {
                panic!("validator not at slot {slot} in time")
            }
            _ => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// An oracle operator: one ed25519 secret, as the `schemas` key that signs approvals and as the
/// Solana key that signs mint transactions.
struct Operator {
    schemas: schemas::Keypair,
    solana: Keypair,
}

impl Operator {
    fn new(seed: u8) -> Self {
        let schemas = schemas::Keypair::from_seed([seed; 32]);
        let solana = Keypair::new_from_array(schemas.secret_seed());
        Self { schemas, solana }
    }

    async fn approve(&self, pool: &AnyPool, manifest: &RewardManifest) {
        let mut approval = ManifestApproval {
            epoch: manifest.epoch,
            manifest_hash: manifest_hash(manifest).to_vec(),
            ..Default::default()
        };
        approval.sign_with(&self.schemas);
        sqlx::query(
            "INSERT INTO manifest_approvals (epoch, manifest_hash, signer_key, signature, signed_ms) \
             VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(approval.epoch as i64)
        .bind(approval.manifest_hash)
        .bind(approval.signer_key)
        .bind(approval.signature)
        .execute(pool)
        .await
        .expect("store approval");
    }
}

/// Parameters in force from epoch 0 with an emission from epoch 0, whatever the genesis defaults.
async fn apply_parameters(pool: &AnyPool) {
    let mut set = ParameterSet {
        version: 2,
        effective_epoch: 0,
        ..ParameterSet::default()
    };
    set.emission.per_epoch = 100_000_000_000;
    set.emission.genesis_epoch = 0;
    db::test_support::apply_parameters(pool, &set)
        .await
        .expect("apply parameters");
}

fn manifest(owners: usize) -> RewardManifest {
    let mut keys: Vec<Pubkey> = (0..owners).map(|_| Pubkey::new_unique()).collect();
    keys.sort();
    let owners: Vec<OwnerReward> = keys
        .iter()
        .enumerate()
        .map(|(i, key)| OwnerReward {
            owner_key: key.to_bytes().to_vec(),
            amount: 1_000_000 * (i as u64 + 1) + 3,
        })
        .collect();
    let total_paid = owners.iter().map(|o| o.amount).sum();
    RewardManifest {
        epoch: EPOCH,
        emission: total_paid,
        owners,
        total_paid,
        ..Default::default()
    }
}

/// Crashes once, right after batch 0 was signed and recorded (before it was sent).
struct CrashAfterFirstSignature;

impl CrashHook for CrashAfterFirstSignature {
    fn reached(&self, _epoch: u64, step: Step) -> Result<(), MintError> {
        match step {
            Step::Signed { batch: 0 } => Err(MintError::Crashed(step.to_string())),
            _ => Ok(()),
        }
    }
}

async fn mint(
    pool: &AnyPool,
    chain: &mut RpcChain,
    payer: &Keypair,
    operators: &[&Operator],
    token: TokenAddresses,
    hook: &dyn CrashHook,
    manifest: &RewardManifest,
) -> Result<MintReport, MintError> {
    let signers: Vec<&dyn Signer> = operators.iter().map(|o| &o.solana as &dyn Signer).collect();
    let mut ctx = MintContext {
        pool,
        chain,
        fee_payer: payer,
        operators: &signers,
        token,
        clock: &SystemClock,
        hook,
        options: MintOptions {
            max_chain_errors: 10,
            retry_delay: Duration::from_millis(500),
        },
    };
    mint_epoch(&mut ctx, manifest).await
}

#[test]
fn two_of_three_multisig_minting_of_a_manifest_through_anchor_client_against_a_test_validator() {
    // Transaction history on, like the production RPC nodes the mint engine needs: a signature
    // status older than the node's status cache is looked up there (without it the node answers
    // with an error, never with a misleading "unknown").
    let rpc_config = JsonRpcConfig {
        enable_rpc_transaction_history: true,
        ..JsonRpcConfig::default_for_test()
    };
    let (validator, faucet) = TestValidatorGenesis::default()
        .rpc_config(rpc_config)
        .start();
    let payer = Arc::new(faucet);
    let mut chain = RpcChain::connect(
        &validator.rpc_url(),
        payer.clone(),
        CommitmentConfig::confirmed(),
    )
    .expect("connect");
    wait_for_slot(&chain, FIRST_USABLE_SLOT);

    let (mint_key, multisig) = (Keypair::new(), Keypair::new());
    let operators = [Operator::new(21), Operator::new(22), Operator::new(23)];
    let config = TokenConfig {
        decimals: DEFAULT_DECIMALS,
        threshold: 2,
        operators: operators.iter().map(|o| o.solana.pubkey()).collect(),
    };
    create_token(&mut chain, &config, payer.as_ref(), &mint_key, &multisig).expect("create token");
    let token = TokenAddresses {
        mint: mint_key.pubkey(),
        multisig: multisig.pubkey(),
    };
    let manifest = manifest(9);
    let total = manifest.total_paid;

    // The blocking RPC client needs a multi-threaded runtime around async callers.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let db = db::test_support::sqlite().await.expect("sqlite");
        let pool = db.db.pool();
        apply_parameters(pool).await;
        let [op0, op1, op2] = &operators;

        // One approval: the gate refuses, nothing is planned or minted.
        op0.approve(pool, &manifest).await;
        let err = mint(
            pool,
            &mut chain,
            &payer,
            &[op0, op1],
            token,
            &NoCrash,
            &manifest,
        )
        .await
        .expect_err("one approval");
        assert!(
            matches!(
                err,
                MintError::NotEnoughApprovals {
                    approvals: 1,
                    required: 2,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(ledger::plan(pool, EPOCH).await.expect("plan").is_none());
        assert_eq!(chain.mint_supply(&token.mint).expect("supply"), 0);

        // Two approvals. Crash after the first transaction was signed and recorded, before it
        // was sent; the restarted run finds it unknown but still valid and sends the same bytes.
        op1.approve(pool, &manifest).await;
        let err = mint(
            pool,
            &mut chain,
            &payer,
            &[op0, op1],
            token,
            &CrashAfterFirstSignature,
            &manifest,
        )
        .await
        .expect_err("crash");
        assert!(matches!(err, MintError::Crashed(_)), "{err:?}");
        let report = mint(
            pool,
            &mut chain,
            &payer,
            &[op1, op0],
            token,
            &NoCrash,
            &manifest,
        )
        .await
        .expect("mint");
        assert!(
            report.batches.len() >= 2,
            "9 owners with 2 signers need two transactions"
        );
        assert_eq!(report.total, total);
        for batch in &report.batches {
            assert_eq!(
                chain.signature_status(&batch.signature).expect("status"),
                Some(TxStatus::Succeeded)
            );
        }
        let attempts = ledger::attempts(pool, EPOCH).await.expect("attempts");
        assert_eq!(
            attempts.len(),
            report.batches.len(),
            "nothing re-signed: {attempts:?}"
        );
        assert!(attempts.iter().all(|a| a.outcome == Outcome::Landed));
        for owner in &manifest.owners {
            let key = Pubkey::try_from(owner.owner_key.as_slice()).expect("key");
            assert_eq!(
                chain.token_balance(&key, &token.mint).expect("balance"),
                owner.amount
            );
        }
        assert_eq!(chain.mint_supply(&token.mint).expect("supply"), total);

        // Again: already complete, verified against the chain, nothing minted.
        let again = mint(
            pool,
            &mut chain,
            &payer,
            &[op0, op1],
            token,
            &NoCrash,
            &manifest,
        )
        .await
        .expect("again");
        assert!(again.already_complete);
        assert_eq!(chain.mint_supply(&token.mint).expect("supply"), total);

        // The chain itself refuses a MintTo carrying one operator's signature.
        let stranger = Pubkey::new_unique();
        let one = [op2.solana.pubkey()];
        let instructions = [
            create_associated_token_account(&payer.pubkey(), &stranger, &token.mint),
            mint_to_owner(&token.mint, &stranger, &token.multisig, &one, 500).expect("ix"),
        ];
        let err = chain
            .send(&instructions, &[&op2.solana], payer.as_ref())
            .expect_err("one of three operators is not enough");
        let ChainError::Rejected { reason, .. } = &err else {
            panic!("expected a rejection, got {err:?}");
        };
        assert!(reason.contains("MissingRequiredSignature"), "{reason}");
        assert_eq!(
            chain
                .token_balance(&stranger, &token.mint)
                .expect("balance"),
            0
        );
        assert_eq!(chain.mint_supply(&token.mint).expect("supply"), total);
    });
}
